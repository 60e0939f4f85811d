"""`accompagnement indicators`: the quarterly figures, as a table, a CSV and a PNG chart."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from workflow.application.indicators import Quarter, compute, write_files
from workflow.cli.common import EXIT_OK, Subparsers, command, connect, print_table


def cmd_indicators(args: argparse.Namespace) -> int:
    quarter = Quarter.parse(args.quarter)
    rt = connect(args.database_url)
    with rt.uow() as uow:
        figures = compute(uow.session, rt.ctx.book, quarter, args.departement)
    scope = f"département {args.departement}" if args.departement else "tous départements"
    print(f"Indicateurs {quarter.label} — {scope}")
    print_table([(name, detail, "—" if value is None else value) for name, detail, value in figures.rows()],
                ("indicateur", "détail", "valeur"))  # fmt: skip
    table, chart = write_files(figures, Path(args.output_dir))
    print(f"fichiers : {table}, {chart}")
    return EXIT_OK


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    ind = command(sub, "indicators", cmd_indicators, "the quarterly indicators (seeds 000/001/002/004)")
    ind.add_argument("--quarter", required=True, help="like 2026-Q3")
    ind.add_argument("--departement", help="only this convention's cases (35, 67, 82…)")
    ind.add_argument(
        "--output-dir", default=os.environ.get("ACCOMPAGNEMENT_INDICATORS_DIR", "indicateurs"),
        help="where the CSV and PNG go (default $ACCOMPAGNEMENT_INDICATORS_DIR or ./indicateurs)",
    )  # fmt: skip
