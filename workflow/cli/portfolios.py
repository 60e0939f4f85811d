"""`accompagnement portfolio` (the open cases at a day, from the log) and `forecast` (the
load and entry delay to come)."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from workflow.application import forecast as projection
from workflow.application.queries.point_in_time import portfolio_at
from workflow.cli.common import EXIT_OK, Decimal, Subparsers, Whole, command, connect, day_arg, print_table
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


def cmd_forecast(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    start = args.since or today(rt.clock)
    search = args.conseillers is None or args.search
    with rt.uow() as uow:
        found = projection.forecast(
            uow.session, rt.ctx, args.departement, start, args.months, args.conseillers, args.inflow,
            search=search,
        )  # fmt: skip
    for line in _heading(args, found, start):
        print(line)
    print_table(found.rows(), projection.Forecast.HEADER)
    late = found.late_whatever_the_room()
    if late:
        months = ", ".join(labels.month(m) for m in late)
        print(f"délai au-delà de la cible même sans limite de places (le nombre de conseillers n'y peut "
              f"rien) : {months}")  # fmt: skip
    if found.smallest is not None:
        smallest = found.smallest.conseillers
        print(f"plus petit nombre de conseillers tenant les deux cibles chaque mois : {smallest}")
    elif search:
        print("aucun nombre de conseillers essayé ne tient les deux cibles chaque mois")
    if args.chart:
        Path(args.chart).write_bytes(projection.chart_png(found))
        print(f"graphique : {args.chart}")
    return EXIT_OK


def _heading(args: argparse.Namespace, found: projection.Forecast, start: date) -> list[str]:
    seen, terms = found.observed, found.terms
    renewals = f"{_pct(seen.renewal_share)} des premiers contrats renouvelés"
    if not seen.renewals_seen:
        renewals += " (aucune fin de premier contrat observée : part par défaut)"
    lines = [
        f"Prévision — département {args.departement}, {args.months} mois après le {labels.day(start)}",
        f"point de départ : {found.open_cases} dossiers en cours, dont {found.under_contract} sous contrat "
        "(reconstitués depuis le journal)",
        f"observé sur les {seen.days} jours précédents : {labels.decimal(seen.inflow_per_month)} "
        f"orientations par mois ; {_pct(seen.contract_share)} arrivent au contrat, en "
        f"{labels.decimal(_mean(seen.entry_delays))} jours en moyenne ; {renewals}",
    ]
    if args.inflow is not None:
        lines.append(f"flux retenu : {labels.decimal(args.inflow)} orientations par mois")
    lines.append(
        f"cibles : {terms.portfolio_min} à {terms.portfolio_max} dossiers par conseiller, entrée sous "
        f"{terms.entry_target_days} jours ; fourchette de {projection.RUNS} tirages"
    )
    lines.append(f"avec {found.projection.conseillers} conseillers :")
    return lines


def _pct(share: float) -> str:
    return f"{round(share * 100)} %"


def _mean(values: tuple[int, ...]) -> float:
    return sum(values) / len(values) if values else 0.0


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
    ahead = command(
        sub, "forecast", cmd_forecast,
        "load per conseiller and entry delay in the months to come, from today's open cases and the "
        "département's last 12 months",
    )  # fmt: skip
    ahead.add_argument("--departement", required=True, help="the convention (35, 67, 82…)")
    ahead.add_argument("--months", type=Whole(1, 120), default=12, help="months to project (default 12)")
    ahead.add_argument(
        "--conseillers", type=Whole(1, 10_000), help="conseillers to project with (default: active)"
    )
    ahead.add_argument(
        "--search", action="store_true", help="with --conseillers, also find the fewest keeping both targets"
    )
    ahead.add_argument(
        "--inflow", type=Decimal(0, 100_000), metavar="N", help="orientations per month (default: observed)"
    )
    ahead.add_argument(
        "--since",
        type=day_arg,
        metavar="DATE",
        help="start from the cases at the end of that day (default today)",
    )
    ahead.add_argument("--chart", metavar="FILE.png", help="write the chart (PNG)")
