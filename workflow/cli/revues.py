"""Commands on the monthly revue de portefeuille (seed 004 art. 5.2)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Revue, RevueDecision
from workflow.adapters import revue_files
from workflow.adapters.email_rendering import TURNS
from workflow.application.queries import operator_lists
from workflow.application.revue import acting
from workflow.application.revue.acting import DecisionOutcome
from workflow.application.revue.production import SECTIONS, find, parse_month, produce
from workflow.cli.common import EXIT_OK, EXIT_PROBLEM, Subparsers, Whole, command, connect, group, print_table
from workflow.domain import labels
from workflow.domain.errors import NotFound, WorkflowError
from workflow.domain.revue_wording import VERBS, decision_word

TURN = {
    "conseiller": "le conseiller France Travail",
    "referent_social": "le travailleur social du Département",
}


def cmd_revue_run(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    parse_month(args.month)  # a bad month is refused before anything is read
    revue = produce(rt.uow(), rt.ctx, args.agency, args.month, by="accompagnement revue run")
    fresh = revue is not None
    if revue is None:
        with rt.uow() as uow:
            revue = find(uow.session, args.agency, args.month)
            assert revue is not None  # produce() found it taken
            uow.session.expunge(revue)  # read after the unit of work ends
    xlsx, table = revue_files.write(revue, Path(args.output_dir))
    state = (
        "produite" if fresh else f"déjà produite le {labels.instant(revue.created_at)} (fichiers réécrits)"
    )
    print(f"revue {revue.id}, agence {revue.agence}, {labels.month(revue.month)} : {state}")
    print(f"tenue le {labels.day(revue.held_on)}, couvre depuis la revue du {labels.day(revue.since)} ; "
          f"prochaine revue le {labels.day(revue.next_on)}")  # fmt: skip
    print(f"secrétariat : {TURNS.get(revue.secretariat, revue.secretariat)}")
    for section in SECTIONS:
        print(f"    {labels.RUBRIQUES[section]:18} {len(revue.content.get(section, [])):5} ligne(s)")
    print(f"fichiers : {xlsx}, {table}")
    return EXIT_OK


def cmd_revue_list(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    with rt.uow() as uow:
        rows = [
            (r.id, r.agence, labels.month(r.month), labels.day(r.held_on),
             labels.word(labels.ROLES, r.secretariat), len(r.content.get("entrees", [])),
             len(r.content.get("sorties", [])), r.created_by)
            for r in operator_lists.revues(uow.session, args.month)
        ]  # fmt: skip
    print_table(
        rows, ("n°", "agence", "revue de", "tenue le", "secrétariat", "entrées", "sorties", "produite par")
    )
    return EXIT_OK


def _revue(session: Session, revue_id: int) -> Revue:
    revue = session.get(Revue, revue_id)
    if revue is None:
        raise NotFound(f"aucune revue n° {revue_id} (voir `accompagnement revue list`)")
    return revue


def cmd_revue_act(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    with rt.uow() as uow:
        revue = _revue(uow.session, args.revue)
        uow.session.expunge(revue)
    if args.file:
        lines = revue_files.read_back(Path(args.file), revue)
        decisions = acting.from_lines(revue, lines, args.by)
    elif args.by:
        decisions = acting.formality(revue, args.by)
    else:
        raise WorkflowError(
            "nommez l'acteur avec --by (le secrétariat), ou donnez le tableau retourné avec --file"
        )
    results = acting.apply(rt.uow(), rt.ctx, revue.id, decisions, dry_run=args.dry_run)
    print(
        f"revue {revue.id}, agence {revue.agence}, {labels.month(revue.month)} : {len(decisions)} décision(s)"
    )
    rows = [
        (
            r.decision.case_reference,
            labels.word(labels.RUBRIQUES, r.decision.rubrique),
            r.decision.text,
            r.decision.actor_id,
        )
        for r in results
    ]
    print_table(
        [(*row, r.outcome, r.message) for row, r in zip(rows, results, strict=True)],
        ("dossier", "rubrique", "décision", "acteur", "résultat", "détail"),
    )
    counts = {outcome: sum(r.outcome == outcome for r in results) for outcome in DecisionOutcome}
    print(", ".join(f"{n} {outcome}" for outcome, n in counts.items() if n) or "rien à appliquer")
    return EXIT_PROBLEM if counts[DecisionOutcome.REFUSED] else EXIT_OK


def cmd_revue_show(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    with rt.uow() as uow:
        revue = _revue(uow.session, args.revue)
        decided = {
            (d.rubrique, d.case_reference): d
            for d in uow.session.scalars(select(RevueDecision).where(RevueDecision.revue_id == revue.id))
        }
        print(f"revue {revue.id}, agence {revue.agence}, {labels.month(revue.month)}, "
              f"tenue le {labels.day(revue.held_on)}")  # fmt: skip
        for section in VERBS:
            rows = []
            for row in revue.content.get(section, []):
                column = next((c for c in ("sujet", "motif", "diagnostic") if row.get(c)), "")
                what = labels.cell(column, row.get(column)) if column else ""
                d = decided.get((section, row["dossier"]))
                taken = (
                    (decision_word(d.decision), d.actor_id, labels.instant(d.applied_at))
                    if d
                    else ("—", "", "")
                )
                rows.append((row["dossier"], what, *taken))
            print(f"\n{labels.RUBRIQUES[section]} ({len(rows)})")
            print_table(rows, ("dossier", "objet", "décision", "acteur", "le"))
    return EXIT_OK


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    rev = group(sub, "revue", "the monthly revue de portefeuille of an agency")
    run = command(
        rev, "run", cmd_revue_run, "produce the revue an agency holds in a month (once) and write its files"
    )
    run.add_argument("--agency", required=True, help="the agence, as the cases name it")
    run.add_argument(
        "--month",
        required=True,
        help="YYYY-MM: the revue held in that month (on the convention's day), covering what "
        "happened since the previous revue",
    )
    run.add_argument(
        "--output-dir", default=os.environ.get("ACCOMPAGNEMENT_REVUE_DIR", "revues"),
        help="where the XLSX and CSV go (default $ACCOMPAGNEMENT_REVUE_DIR or ./revues)",
    )  # fmt: skip
    act = command(
        rev, "act", cmd_revue_act,
        "apply a revue's decisions: the tableau sent back (--file), or by default the formality of "
        "acting every jointly diagnosed entry and every exit (seed 004 art. 5.2)",
    )  # fmt: skip
    act.add_argument("--revue", type=Whole(1, 2**31 - 1), required=True, help="the revue's id (`revue list`)")
    act.add_argument("--file", help="the tableau sent back, .xlsx or .csv, its decision column filled")
    act.add_argument("--by", help="the professional recording the decisions (default actor of the rows)")
    act.add_argument("--dry-run", action="store_true", help="check and show, change nothing")
    show = command(rev, "show", cmd_revue_show, "a revue's rubriques and the decisions applied")
    show.add_argument("--revue", type=Whole(1, 2**31 - 1), required=True, help="the revue's id")
    listing = command(rev, "list", cmd_revue_list, "the revues produced, newest month first")
    listing.add_argument("--month", help="YYYY-MM")
