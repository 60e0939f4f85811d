"""The event that opens a case: an orientation proposed for a person (seeds 000/001 art. 3.1)."""

from __future__ import annotations

from models import Case, Person
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.actors import event_actor
from workflow.application.deciding import open_case
from workflow.application.service_context import Context
from workflow.domain import labels
from workflow.domain.clock import paris_date
from workflow.domain.errors import EventRejected
from workflow.domain.events import OrientationProposed
from workflow.domain.lifecycle import ORIENTER, State


def orientation_proposed(uow: UnitOfWork, ctx: Context, ev: OrientationProposed) -> tuple[str, str]:
    if uow.cases.exists(ev.case_ref):
        raise EventRejected(f"le dossier {ev.case_ref} existe déjà")
    actor = event_actor(uow, ev.actor)
    code = ev.convention or ev.person.departement
    day = paris_date(ev.occurred_at)
    conv = ctx.book.in_force(code, day)  # raises ConfigurationError, a WorkflowError
    person = uow.people.get(ev.person.ft_identifier)
    if person is not None:
        open_now = uow.cases.open_of(person.id)
        if open_now is not None:
            raise EventRejected(
                f"la personne {person.ft_identifier} a déjà un dossier ouvert, {open_now.reference}"
            )

    def build() -> Case:
        now = ctx.clock.now()
        nonlocal person
        if person is None:
            person = Person(ft_identifier=ev.person.ft_identifier, created_at=now)
            uow.people.add(person)
        person.status = ev.person.status
        person.registered = ev.person.registered
        person.departement = ev.person.departement
        person.agence = ev.person.agence
        person.updated_at = now
        return Case(
            reference=ev.case_ref,
            person=person,
            convention_code=code,
            agence=ev.person.agence,
            state=State.REPERAGE.value,
            orienteur_id=actor.id,
            origin=ev.origin,
            consent=ev.consent,
            barriers=ev.barriers.codes(),
            other_barrier_agreed=ev.other_barrier_agreed,
            orientation_date=day,
            renewal_count=0,
            created_at=now,
            updated_at=now,
        )

    case = open_case(
        uow, ctx, actor=actor, occurred_at=ev.occurred_at, event_id=ev.event_id, convention=conv,
        details={"origin": str(ev.origin), "convention": f"{conv.code}/{conv.version}"}, build=build,
    )  # fmt: skip
    return (
        case.reference,
        f"{labels.word(labels.TRIGGERS, ORIENTER)} : dossier ouvert en {labels.STATES[State.REPERAGE]}",
    )
