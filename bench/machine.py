"""Transitions per second: the table compiled from the machine (what the service runs,
`lifecycle.fire`) against the one shared Machine's own trigger, one Machine per case, and
`add_model` for every case (transitions issue #434: models live in a list, so each add scans
it and the total grows with the square of the number of cases).

No database: the same five triggers (binôme, diagnostic, contract, renewal, exit) run on
in-memory cases, so the figures isolate the state machine. Run:

    python -m bench.machine [--cases 1000 4000 16000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

from models import Case, Person
from workflow.adapters.convention_files import load_book
from workflow.domain.attempt import Actor, Attempt
from workflow.domain.lifecycle import (
    AFFECTER_BINOME,
    MACHINE,
    POSER_DIAGNOSTIC,
    RENOUVELER,
    SIGNER_CONTRAT,
    SORTIR,
    build_machine,
    fire,
    fire_on_machine,
)
from workflow.domain.vocabulary import DiagnosticKind, ExitReason, Opinion, RenewalDecidedBy, Role

TERMS = load_book().in_force("67", date(2026, 1, 1)).terms
STEPS = [
    (AFFECTER_BINOME, {"conseiller_id": "C", "referent_social_id": "R"}),
    (POSER_DIAGNOSTIC, {"diagnostic_kind": DiagnosticKind.PARTAGE,
                        "conseiller_opinion": Opinion.FAVORABLE, "referent_opinion": Opinion.FAVORABLE}),
    (SIGNER_CONTRAT, {"referent_social_id": "R"}),
    (RENOUVELER, {"renewal_by": RenewalDecidedBy.COMMISSION}),
    (SORTIR, {"exit_reason": ExitReason.EMPLOI}),
]  # fmt: skip
ATTEMPTS = {
    trigger: Attempt(
        actor=Actor("C", Role.CONSEILLER),
        occurred_at=datetime(2026, 2, 1, tzinfo=UTC),
        on=date(2026, 2, 1),
        terms=TERMS,
        convention_version_id=1,
        **fields,  # type: ignore[arg-type]
    )
    for trigger, fields in STEPS
}


def new_cases(n: int) -> list[Case]:
    person = Person(registered=True, status="BRSA")
    return [
        Case(reference=f"B{i}", state="reperage", person=person, barriers=["logement", "mobilite"],
             consent=True, other_barrier_agreed=False, renewal_count=0, conseiller_id="C",
             referent_social_id="R", orientation_date=date(2026, 1, 5))
        for i in range(n)
    ]  # fmt: skip


def compiled(cases: list[Case]) -> None:
    for case in cases:
        for trigger, _ in STEPS:
            fire(case, trigger, ATTEMPTS[trigger])


def shared(cases: list[Case]) -> None:
    for case in cases:
        for trigger, _ in STEPS:
            fire_on_machine(MACHINE, case, trigger, ATTEMPTS[trigger])
    assert not MACHINE.models


def machine_per_case(cases: list[Case]) -> None:
    for case in cases:
        machine = build_machine(case, initial=case.state)
        for trigger, _ in STEPS:
            machine.events[trigger].trigger(case, attempt=ATTEMPTS[trigger], details={})


def add_model_for_every_case(cases: list[Case]) -> None:
    machine = build_machine()
    for case in cases:
        machine.add_model(case, initial=case.state)
        for trigger, _ in STEPS:
            getattr(case, trigger)(attempt=ATTEMPTS[trigger], details={})
    assert len(machine.models) == len(cases)


def measure(strategy: Callable[[list[Case]], None], n: int, repeats: int) -> float:
    """Median transitions per CPU-second of this process over `repeats` runs on fresh cases:
    CPU time, not the wall clock, which other processes on the machine would move."""
    rates = []
    for _ in range(repeats):
        cases = new_cases(n)
        started = time.process_time()
        strategy(cases)
        elapsed = time.process_time() - started
        assert all(c.state == "sortie" for c in cases)
        rates.append(n * len(STEPS) / elapsed)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[1000, 4000, 16000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    header = f"{'cases':>7} {'compiled':>12} {'shared':>12} {'per case':>12} {'add_model':>12}"
    print(f"{header}   transitions per CPU-second (median of {args.repeats})")
    for n in args.cases:
        c = measure(compiled, n, args.repeats)
        s = measure(shared, n, args.repeats)
        p = measure(machine_per_case, n, args.repeats)
        a = measure(add_model_for_every_case, n, args.repeats)
        ratios = f"compiled is {c / s:.1f}x shared; shared is {s / p:.1f}x per-case, {s / a:.1f}x add_model"
        print(f"{n:>7} {c:>12,.0f} {s:>12,.0f} {p:>12,.0f} {a:>12,.0f}   {ratios}")


if __name__ == "__main__":
    main()
