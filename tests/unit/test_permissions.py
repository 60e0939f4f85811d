"""The permission table, role × trigger, written out here by hand: a change to the table in
`workflow.domain.permissions` that this matrix does not also say fails."""

from __future__ import annotations

import re

import pytest

from models import Case, Professional
from workflow.domain import labels
from workflow.domain.attempt import Actor
from workflow.domain.errors import Forbidden
from workflow.domain.lifecycle import ORIENTER, TRIGGERS
from workflow.domain.permissions import check_trigger, may_read
from workflow.domain.vocabulary import ExitReason, Role

C, R, ORI, AG, S, OP, SYS = (
    "conseiller",
    "referent_social",
    "orienteur",
    "referent_ag",
    "superviseur",
    "operateur",
    "systeme",
)
ALLOWED: dict[str, set[str]] = {
    ORIENTER: {C, R, ORI},
    "affecter_binome": {C, R},
    "recueillir_adhesion": {C, R},
    "poser_diagnostic": {C, R},
    "signer_contrat": {C},  # the France Travail contract: never the social worker for the conseiller
    "renouveler": {C, R},
    "sortir": {C, R, SYS},
    "acter_entree": {C, R},
    "acter_sortie": {C, R},
    "signaler_echu": {SYS},  # the daily scan flags a contract that ran out
}
PAIRS = [(role, trigger) for role in Role for trigger in (ORIENTER, *TRIGGERS)]


def test_the_matrix_names_every_trigger() -> None:
    assert set(ALLOWED) == {ORIENTER, *TRIGGERS}


@pytest.mark.parametrize(("role", "trigger"), PAIRS, ids=[f"{r}-{t}" for r, t in PAIRS])
def test_each_role_may_fire_exactly_its_triggers(role: Role, trigger: str) -> None:
    actor = Actor("X1", role)
    reason = ExitReason.RADIATION if role == Role.SYSTEME else ExitReason.EMPLOI
    if role.value in ALLOWED[trigger]:
        check_trigger(actor, trigger, reason)
    else:
        said = f"interdit : X1 ({labels.ROLES[role]}) ne peut pas faire « {labels.TRIGGERS[trigger]} » : "
        with pytest.raises(Forbidden, match="^" + re.escape(f"{said}{trigger} revient à : ")):
            check_trigger(actor, trigger, reason)


def test_the_system_actor_closes_a_case_only_when_the_person_left_the_registers() -> None:
    system = Actor("systeme", Role.SYSTEME)
    check_trigger(system, "sortir", ExitReason.FIN_INSCRIPTION)
    with pytest.raises(Forbidden, match="que lorsque la personne a quitté les listes"):
        check_trigger(system, "sortir", ExitReason.EMPLOI)


CASE = Case(conseiller_id="C1", referent_social_id="R1", orienteur_id="O1", convention_code="67")


@pytest.mark.parametrize(
    ("pid", "role", "departement", "sees"),
    [
        ("C1", C, "67", True), ("R1", R, "67", True), ("O1", ORI, "67", True),
        ("C2", C, "67", False), ("R2", R, "67", False),  # another binôme of the same agency
        ("S67", S, "67", True), ("S35", S, "35", False), ("AG67", AG, "67", False), ("OP", OP, "35", True),
    ],
)  # fmt: skip
def test_who_reads_a_case(pid: str, role: str, departement: str, sees: bool) -> None:
    reader = Professional(id=pid, role=role, departement=departement, active=True)
    assert may_read(reader, CASE) is sees
    assert may_read(None, CASE)  # the operator's own command line
