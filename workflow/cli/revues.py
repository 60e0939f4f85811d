"""Commands on the monthly revue de portefeuille (seed 004 art. 5.2)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sqlalchemy import select

from models import Revue
from workflow import revue_files
from workflow.cli.common import EXIT_OK, Runtime, Subparsers, command, group, print_table
from workflow.messages import TURNS
from workflow.revue import SECTIONS, find, parse_month, produce

TURN = {
    "conseiller": "le conseiller France Travail",
    "referent_social": "le travailleur social du Département",
}


def cmd_revue_run(args: argparse.Namespace) -> int:
    rt = Runtime(args.database_url)
    parse_month(args.month)  # a bad month is refused before anything is read
    revue = produce(rt.uow(), rt.ctx, args.agency, args.month, by="accompagnement revue run")
    fresh = revue is not None
    if revue is None:
        with rt.uow() as uow:
            revue = find(uow.session, args.agency, args.month)
            assert revue is not None  # produce() found it taken
            uow.session.expunge(revue)  # read after the unit of work ends
    xlsx, table = revue_files.write(revue, Path(args.output_dir))
    state = "produced" if fresh else f"already produced on {revue.created_at:%Y-%m-%d} (files written again)"
    print(f"revue {revue.id}, agence {revue.agence}, {revue.month}: {state}")
    print(f"held on {revue.held_on}, covering since {revue.since}; next revue {revue.next_on}")
    print(f"secrétariat: {TURNS.get(revue.secretariat, revue.secretariat)}")
    for section in SECTIONS:
        print(f"    {section:18} {len(revue.content.get(section, [])):5} row(s)")
    print(f"files: {xlsx}, {table}")
    return EXIT_OK


def cmd_revue_list(args: argparse.Namespace) -> int:
    rt = Runtime(args.database_url)
    with rt.uow() as uow:
        query = select(Revue).order_by(Revue.month.desc(), Revue.agence)
        if args.month:
            query = query.where(Revue.month == args.month)
        rows = [
            (r.id, r.agence, r.month, r.held_on, r.secretariat, len(r.content.get("entrees", [])),
             len(r.content.get("sorties", [])), r.created_by)
            for r in uow.session.scalars(query)
        ]  # fmt: skip
    print_table(rows, ("id", "agence", "month", "held on", "secrétariat", "entries", "exits", "produced by"))
    return EXIT_OK


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    rev = group(sub, "revue", "the monthly revue de portefeuille of an agency")
    run = command(
        rev, "run", cmd_revue_run, "produce an agency's revue for a month (once) and write its files"
    )
    run.add_argument("--agency", required=True, help="the agence, as the cases name it")
    run.add_argument("--month", required=True, help="YYYY-MM")
    run.add_argument(
        "--output-dir", default=os.environ.get("ACCOMPAGNEMENT_REVUE_DIR", "revues"),
        help="where the XLSX and CSV go (default $ACCOMPAGNEMENT_REVUE_DIR or ./revues)",
    )  # fmt: skip
    listing = command(rev, "list", cmd_revue_list, "the revues produced, newest month first")
    listing.add_argument("--month", help="YYYY-MM")
