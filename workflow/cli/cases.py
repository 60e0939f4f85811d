"""Commands that read cases and the audit log."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, date
from statistics import median
from typing import Any

from sqlalchemy import func, select

from models import AuditSeal, Case, Professional
from workflow.adapters import db_roles
from workflow.application import access
from workflow.application.audit import chain, replay, seals
from workflow.application.audit import export as log_export
from workflow.application.queries import operator_lists
from workflow.application.queries.case_view import case_view
from workflow.bootstrap import Runtime
from workflow.cli.common import (
    EXIT_OK,
    EXIT_PROBLEM,
    LIMIT,
    Subparsers,
    command,
    connect,
    day_arg,
    group,
    print_table,
)
from workflow.domain import labels, permissions
from workflow.domain.clock import paris_date
from workflow.domain.errors import Forbidden
from workflow.domain.lifecycle import TRIGGERS, State, mermaid
from workflow.domain.vocabulary import Role


def cmd_case_show(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    with rt.uow() as uow:
        view = case_view(uow.session, rt.ctx, args.ref, at=args.at)
    _reader(rt, args.reader, view["reference"])  # refused (and recorded) outside the reader's cases
    if args.json:
        print(json.dumps(view, indent=2, ensure_ascii=False))
    else:
        _print_case(view)
    return EXIT_OK


def _print_case(v: dict[str, Any]) -> None:
    """The case as a supervisor reads it: French words, French dates, Paris time."""
    p, b, d = v["person"], v["binome"], v["dates"]
    at = f"  (au {labels.day(v['at'])}, reconstitué depuis le journal)" if v["at"] else ""
    print(f"Dossier {v['reference']}  —  {labels.word(labels.STATES, v['state'])}{at}")
    for problem in v["replay_problems"]:
        print(f"  ATTENTION : {problem}")
    pinned = " (figée à la signature)" if v["convention"]["pinned"] else ""
    status = labels.word(labels.PERSON_STATUSES, p["status"])
    if p["registered"] is None:  # at a past day: the log holds nothing of the person
        print(f"  personne        {p['ft_identifier']} ({status} aujourd'hui)")
    else:
        registered = "inscrit" if p["registered"] else "NON inscrit"
        print(f"  personne        {p['ft_identifier']} ({status}, {registered} à France Travail)")
    print(f"  agence          {p['agence']}")
    print(f"  convention      {v['convention']['code']}{pinned}")
    print(f"  binôme          conseiller {b['conseiller'] or '—'}")
    print(f"                  référent social {b['referent_social'] or '—'}")
    origin = labels.word(labels.ORIGINS, v["origin"])
    print(
        f"  orienteur       {v['orienteur'] or '—'}, via {origin} ; adhésion : {labels.yes_no(v['consent'])}"
    )
    kind = labels.word(labels.DIAGNOSTIC_KINDS, v["diagnostic"]["kind"])
    print(
        f"  diagnostic      {kind}"
        + (f" le {labels.day(v['diagnostic']['date'])}" if v["diagnostic"]["date"] else "")
    )
    print(
        "  dates           " + " ; ".join(f"{DATE_NAMES[k]} {labels.day(val)}" for k, val in d.items() if val)
    )
    renew = labels.yes_no(v["can_still_renew"])
    print(f"  renouvellements {v['renewals']} (encore possible : {renew})")
    if v["exit_reason"]:
        print(f"  motif de sortie {labels.word(labels.EXIT_REASONS, v['exit_reason'])}")
    if v["deadlines"]:
        print("  échéances")
        for dl in v["deadlines"]:
            print(f"    {dl['name']:40} {labels.day(dl['due'])}  {dl['status']}")
    if v["pending_reminders"]:
        print("  rappels à venir")
        for r in v["pending_reminders"]:
            print(f"    {labels.word(labels.REMINDER_KINDS, r['kind']):40} {labels.day(r['due'])}")
    if v["appointments"]:
        print("  rendez-vous")
        for a in v["appointments"]:
            when = labels.instant(a["planned_at"])
            kind = labels.word(labels.APPOINTMENT_KINDS, a["kind"])
            print(f"    {when}  {kind:12} {labels.word(labels.APPOINTMENT_OUTCOMES, a['outcome'])}")
    chain = "intacte" if v["chain"] == "intact" else f"ROMPUE ({v['chain']})"
    print(f"  historique (heure de Paris ; chaîne du journal {chain})")
    for h in v["history"]:
        reason = f" ; motif : {labels.word(labels.EXIT_REASONS, h['reason'])}" if h["reason"] else ""
        move = labels.state_change(h["from"], h["to"])
        event = f"  [événement {h['event_id']}]" if h["event_id"] else ""
        when = labels.instant(h["when"])
        trigger = labels.word(labels.TRIGGERS, h["trigger"])
        print(f"    {h['seq']:>3} {when}  {trigger:26} {move:36} par {h['actor']}{reason}{event}")


# The dates of `case_view`, named for people.
DATE_NAMES = {
    "orientation": "orientation", "contract_start": "début du contrat", "contract_end": "fin du contrat",
    "maximum_end": "fin maximale", "renewal": "renouvellement", "exit": "sortie",
    "entry_acted": "entrée actée", "exit_acted": "sortie actée",
}  # fmt: skip


def cmd_audit_verify(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    with rt.uow() as uow:
        report = chain.verify_chains(uow.session)
        sealed = uow.session.scalar(select(func.count()).select_from(AuditSeal)) or 0
        seal_problems: list[seals.SealProblem] = []
        if sealed or args.expect or os.environ.get(seals.KEY_ENV):
            today = rt.clock.now().astimezone(UTC).date()
            _, seal_problems = seals.verify(uow.session, seals.operator_key(), today, args.expect)
    role = db_roles.check_role(rt.engine)
    if role is not None and role.warning:
        print(role.warning)
    checked = f"{report.rows} ligne(s) du journal dans {report.cases} chaîne(s)"
    print(f"vérifié : {checked}, et {sealed} sceau(x) quotidien(s)")
    if report.ok and not seal_problems:
        print(
            "chaque chaîne est intacte"
            + (" et finit chaque jour scellé sur sa tête scellée" if sealed else "")
        )
        return EXIT_OK
    if report.unlogged:
        print(f"{report.unlogged} dossier(s) sans aucune ligne de journal (leur chaîne a été supprimée) : "
              + ", ".join(report.unlogged_examples) + (" …" if report.unlogged > 5 else ""))  # fmt: skip
    if report.breaks:
        print(f"{len(report.breaks)} chaîne(s) rompue(s) ; la première ligne fautive de chacune :")
        for brk in report.breaks:
            print(f"  {brk}")
    if seal_problems:
        print(f"{len(seal_problems)} problème(s) face aux sceaux quotidiens :")
        for problem in seal_problems:
            print(f"  {problem}")
    return EXIT_PROBLEM


def cmd_audit_seal(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    made = seals.seal(rt.uow(), rt.ctx, seals.operator_key(), args.through)
    for row in made:
        day = labels.day(row.day)
        print(f"scellé le {day} : {row.rows} ligne(s) dans {row.chains} chaîne(s), clé {row.key_id}")
    print(f"{len(made)} jour(s) scellé(s)" if made else "rien à sceller (chaque jour terminé l'est déjà)")
    with rt.uow() as uow:
        latest = uow.session.scalar(select(AuditSeal).order_by(AuditSeal.day.desc()).limit(1))
        if latest is not None:
            print(f"tête à garder ailleurs (audit verify --expect) : {seals.head(latest)}")
    return EXIT_OK


def _filter(args: argparse.Namespace, reader: Professional | None) -> log_export.LogFilter:
    return log_export.LogFilter(
        case_reference=getattr(args, "case", None), actor_id=getattr(args, "actor", None),
        actor_role=getattr(args, "role", None), trigger=getattr(args, "trigger", None),
        reason=getattr(args, "reason", None), departement=args.departement, agence=args.agency,
        since=args.since, until=args.until, reader=reader,
    )  # fmt: skip


def _reader(rt: Runtime, pid: str | None, case_reference: str | None = None) -> Professional | None:
    """The professional of `--as`, who must be allowed to read the case named, if any; a refusal
    is recorded before it is raised."""
    with rt.uow() as uow:
        try:
            reader = access.reader(uow.session, pid)
            if case_reference is not None and reader is not None:
                case = uow.session.scalar(select(Case).where(Case.reference == case_reference))
                if case is not None and not permissions.may_read(reader, case):
                    raise Forbidden(
                        reader.id,
                        reader.role,
                        "read",
                        f"le dossier {case_reference} n'est pas l'un des siens",
                    )
        except Forbidden as refusal:
            access.record(uow.session, refusal, rt.clock.now(), case_reference)
            uow.commit()
            raise
        if reader is not None:
            uow.session.expunge(reader)
        return reader


def cmd_audit_search(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    flt = _filter(args, _reader(rt, args.reader, args.case))
    with rt.uow() as uow:
        rows = log_export.export_rows(uow.session, flt)
        if args.format == "table":
            shown = [
                (labels.instant(r["occurred_at"]), r["case_reference"], r["seq"],
                 labels.word(labels.TRIGGERS, r["trigger"]),
                 labels.state_change(r["from_state"], r["to_state"]),
                 f"{r['actor_id']} ({labels.word(labels.ROLES, r['actor_role'])})",
                 labels.word(labels.EXIT_REASONS, r["reason"]) if r["reason"] else "", r["event_id"] or "")
                for r in rows
            ]  # fmt: skip
            print_table(
                shown,
                ("quand (Paris)", "dossier", "n°", "transition", "mouvement", "acteur", "motif", "événement"),
            )
            print(f"{len(shown)} ligne(s)", file=sys.stderr)
        elif args.output:
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                count = log_export.write_export(rows, out, args.format)
            print(f"{count} ligne(s) écrite(s) dans {args.output}", file=sys.stderr)
        else:
            log_export.write_export(rows, sys.stdout, args.format)
    return EXIT_OK


def cmd_audit_timeline(args: argparse.Namespace) -> int:
    args.case = args.ref
    args.format, args.output = "table", None
    for name in ("actor", "role", "trigger", "reason", "departement", "agency", "since", "until"):
        setattr(args, name, None)
    return cmd_audit_search(args)


def cmd_audit_delay(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    flt = _filter(args, _reader(rt, args.reader))
    with rt.uow() as uow:
        found = log_export.delays(uow.session, flt, args.from_state, args.to_state)
    start_name, end_name = (
        labels.word(labels.STATES, args.from_state),
        labels.word(labels.STATES, args.to_state),
    )
    if args.per_case:
        print_table([(d.case_reference, labels.day(paris_date(d.start)), labels.day(paris_date(d.end)),
                      str(d.days).replace(".", ",")) for d in found],
                    ("dossier", start_name, end_name, "jours"))  # fmt: skip
    days = sorted(d.days for d in found)
    if not days:
        print(f"aucun dossier n'est passé de « {start_name} » à « {end_name} » dans ce périmètre")
        return EXIT_OK
    mean = round(sum(days) / len(days), 1)

    def fr(value: float) -> str:
        return f"{value:g}".replace(".", ",")

    print(f"{start_name} → {end_name} : {len(days)} dossier(s) ; médiane {fr(median(days))} jours, "
          f"moyenne {fr(mean)}, min {fr(days[0])}, max {fr(days[-1])}")  # fmt: skip
    return EXIT_OK


def cmd_audit_refusals(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    with rt.uow() as uow:
        rows = [
            (
                labels.instant(d.occurred_at),
                d.actor_id,
                labels.word(labels.ROLES, d.actor_role),
                labels.word(labels.ACCESS_ACTIONS, d.action),
                d.case_reference,
                d.reason,
            )
            for d in operator_lists.access_denials(uow.session, args.actor, args.limit)
        ]
    print_table(rows, ("quand (Paris)", "acteur", "rôle", "action", "dossier", "motif"))
    return EXIT_OK


def cmd_audit_replay(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)

    def show(finding: replay.CaseFinding) -> None:
        print(f"dossier {finding.reference}")
        for diff in finding.differences:
            name = labels.word(labels.CASE_FIELDS, diff.field)
            print(f"  {name} : enregistré {_value(diff.stored)}, selon le journal {_value(diff.rebuilt)}")
        for problem in finding.problems:
            print(f"  {problem}")

    with rt.uow() as uow:
        report = replay.replay(uow.session, rt.ctx, show, args.case)
    print(f"{report.cases} dossier(s) rejoué(s) depuis {report.rows} ligne(s) du journal ; "
          f"{report.findings} dossier(s) en écart")  # fmt: skip
    for name, count in sorted(report.fields.items()):
        print(f"  {labels.word(labels.CASE_FIELDS, name)} : {count}")
    if report.ok:
        print("chaque dossier est celui que son journal donne")
    return EXIT_OK if report.ok else EXIT_PROBLEM


def _value(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, date):
        return labels.day(value)
    if isinstance(value, bool):
        return labels.yes_no(value)
    return str(value)


def cmd_lifecycle_diagram(args: argparse.Namespace) -> int:
    sys.stdout.write(mermaid())
    return EXIT_OK


def _scope(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--departement", help="the cases of this convention (35, 67, 82…)")
    parser.add_argument("--agency", help="the cases of this agence")
    parser.add_argument("--since", type=day_arg, help="first day (inclusive), YYYY-MM-DD")
    parser.add_argument("--until", type=day_arg, help="last day (inclusive), YYYY-MM-DD")
    parser.add_argument("--as", dest="reader", metavar="ID", help="read as this professional (their scope)")


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    case = group(sub, "case", "one case")
    show = command(case, "show", cmd_case_show, "a case's state, dates, deadlines, binôme and history")
    show.add_argument("ref", help="case reference or France Travail identifier")
    show.add_argument("--json", action="store_true")
    show.add_argument(
        "--at", type=day_arg, metavar="DATE",
        help="the case as it stood at the end of that day, rebuilt from the log (2026-03-31 or 31/03/2026)",
    )  # fmt: skip
    show.add_argument("--as", dest="reader", metavar="ID", help="read as this professional (their scope)")
    au = group(sub, "audit", "the transition log")
    verify = command(
        au,
        "verify",
        cmd_audit_verify,
        "recompute every hash chain and check the daily seals (chained, one a day); name the first bad row",
    )
    verify.add_argument(
        "--expect", metavar="HEAD", help="the seal head kept elsewhere (DAY:HMAC, as `audit seal` prints it)"
    )
    seal = command(
        au, "seal", cmd_audit_seal, "seal each complete day's chain heads with $ACCOMPAGNEMENT_AUDIT_KEY"
    )
    seal.add_argument("--through", type=day_arg, help="last day to seal (default yesterday, UTC)")
    search = command(
        au, "search", cmd_audit_search, "log rows by case, actor, role, transition, reason, place, dates"
    )
    export = command(au, "export", cmd_audit_search, "the same as search, CSV by default")
    for parser, default in ((search, "table"), (export, "csv")):
        parser.add_argument(
            "--format",
            choices=("table", "csv", "excel", "json"),
            default=default,
            help="excel: the CSV French Excel opens (semicolons, UTF-8 with a BOM)",
        )
        parser.add_argument("--case", help="case reference")
        parser.add_argument("--actor", help="professional id")
        parser.add_argument("--role", choices=[r.value for r in Role], help="the actor's role")
        parser.add_argument("--trigger", choices=("orienter", *TRIGGERS))
        parser.add_argument("--reason", help="exit reason (sortir)")
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")
        _scope(parser)
    timeline = command(au, "timeline", cmd_audit_timeline, "every log row of one case, in order")
    timeline.add_argument("ref", help="case reference")
    timeline.add_argument("--as", dest="reader", metavar="ID", help="read as this professional (their scope)")
    timeline.set_defaults(departement=None, agency=None)
    delay = command(au, "delay", cmd_audit_delay, "the time cases took from one state to another")
    delay.add_argument("--from", dest="from_state", required=True, choices=[s.value for s in State])
    delay.add_argument("--to", dest="to_state", required=True, choices=[s.value for s in State])
    delay.add_argument("--per-case", action="store_true", help="one line per case, then the summary")
    _scope(delay)
    replayed = command(
        au, "replay", cmd_audit_replay,
        "rebuild every case from its log alone and compare it, field by field, with its stored row",
    )  # fmt: skip
    replayed.add_argument("--case", help="only this case reference")
    refusals = command(au, "refusals", cmd_audit_refusals, "refused actions and reads, newest first")
    refusals.add_argument("--actor", help="professional id")
    refusals.add_argument("--limit", type=LIMIT, default=50)
    life = group(sub, "lifecycle", "the state machine")
    command(life, "diagram", cmd_lifecycle_diagram, "print the lifecycle as a mermaid diagram")
