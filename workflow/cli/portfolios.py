"""`accompagnement portfolio` (the open cases at a day, from the log) and `forecast` (the
load and entry delay to come)."""

from __future__ import annotations

import argparse
from pathlib import Path

from workflow.application.queries.point_in_time import portfolio_at
from workflow.cli.common import EXIT_OK, Subparsers, command, connect, day_arg, print_table
from workflow.domain import labels
from workflow.domain.clock import today


def cmd_portfolio(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    day = args.at or today(rt.clock)
    with rt.uow() as uow:
        found = portfolio_at(
            uow.session,
            rt.ctx,
            day,
            agence=args.agency,
            conseiller=args.conseiller,
            departement=args.departement,
        )
    target = f" ; cible {found.target[0]} à {found.target[1]} par conseiller" if found.target else ""
    print(f"Portefeuille au {labels.day(day)} — {found.scope} (reconstitué depuis le journal){target}")
    states = " ; ".join(f"{labels.STATES[s]} {found.by_state[s]}" for s in found.by_state)
    print(f"dossiers en cours : {sum(found.by_state.values())}" + (f" ({states})" if states else ""))
    for problem in found.unreplayed:
        print(f"ATTENTION : {problem}")
    print_table(found.rows(), found.header())
    if args.csv:
        Path(args.csv).write_text(found.csv(), encoding="utf-8", newline="")
        print(f"fichier : {args.csv}")
    return EXIT_OK


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    folio = command(
        sub, "portfolio", cmd_portfolio,
        "the open cases of an agence, a conseiller or a département at a day, rebuilt from the log",
    )  # fmt: skip
    scope = folio.add_mutually_exclusive_group(required=True)
    scope.add_argument("--agency", help="the cases of this agence")
    scope.add_argument("--conseiller", metavar="ID", help="the cases whose conseiller this professional was")
    scope.add_argument("--departement", help="the cases of this convention (35, 67, 82…)")
    folio.add_argument("--at", type=day_arg, metavar="DATE", help="at the end of this day (default today)")
    folio.add_argument("--csv", metavar="FILE", help="also write the table for French Excel")
