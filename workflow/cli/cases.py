"""Commands that read cases and the audit log."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from workflow import audit
from workflow.cli.common import (
    EXIT_OK,
    EXIT_PROBLEM,
    Runtime,
    Subparsers,
    command,
    day_arg,
    group,
)
from workflow.lifecycle import TRIGGERS, mermaid
from workflow.views import case_view


def cmd_case_show(args: argparse.Namespace) -> int:
    rt = Runtime(args.database_url)
    with rt.uow() as uow:
        view = case_view(uow.session, rt.ctx, args.ref)
    if args.json:
        print(json.dumps(view, indent=2, ensure_ascii=False))
    else:
        _print_case(view)
    return EXIT_OK


def _print_case(v: dict[str, Any]) -> None:
    p, b, d = v["person"], v["binome"], v["dates"]
    print(f"Case {v['reference']}  —  state: {v['state']}")
    registered = "registered" if p["registered"] else "NOT registered"
    pinned = " (pinned at signature)" if v["convention"]["pinned"] else ""
    print(f"  person        {p['ft_identifier']} ({p['status']}, {registered}), agence {p['agence']}")
    print(f"  convention    {v['convention']['code']}{pinned}")
    print(
        f"  binôme        conseiller {b['conseiller'] or '—'}; référent social {b['referent_social'] or '—'}"
    )
    print(f"  orienteur     {v['orienteur']} via {v['origin']}; consent {'yes' if v['consent'] else 'no'}")
    print(f"  diagnostic    {v['diagnostic']['kind'] or '—'} {v['diagnostic']['date'] or ''}")
    print("  dates         " + ", ".join(f"{k} {val}" for k, val in d.items() if val))
    print(
        f"  renewals      {v['renewals']} (renewal still possible: {'yes' if v['can_still_renew'] else 'no'})"
    )
    if v["exit_reason"]:
        print(f"  exit reason   {v['exit_reason']}")
    if v["deadlines"]:
        print("  deadlines")
        for dl in v["deadlines"]:
            print(f"    {dl['name']:40} {dl['due']}  {dl['status']}")
    if v["appointments"]:
        print("  appointments")
        for a in v["appointments"]:
            print(f"    {a['planned_at']}  {a['kind']:10} {a['outcome']}")
    print(f"  history (audit chain {v['chain']})")
    for h in v["history"]:
        reason = f" reason={h['reason']}" if h["reason"] else ""
        move = f"{h['from'] or '∅'} → {h['to']}"
        by = f"by {h['actor']}{reason}"
        print(f"    {h['seq']:>3} {h['when']}  {h['trigger']:20} {move:28} {by}  [{h['event_id']}]")


def cmd_audit_verify(args: argparse.Namespace) -> int:
    rt = Runtime(args.database_url)
    with rt.uow() as uow:
        report = audit.verify_chains(uow.session)
    print(f"checked {report.rows} log row(s) in {report.cases} chain(s)")
    if report.ok:
        print("every chain is intact")
        return EXIT_OK
    print(f"{len(report.breaks)} broken chain(s); first bad row of each:")
    for brk in report.breaks:
        print(f"  {brk}")
    return EXIT_PROBLEM


def cmd_audit_export(args: argparse.Namespace) -> int:
    rt = Runtime(args.database_url)
    flt = audit.LogFilter(
        case_reference=args.case,
        actor_id=args.actor,
        trigger=args.trigger,
        since=args.since,
        until=args.until,
    )
    with rt.uow() as uow:
        rows = audit.export_rows(uow.session, flt)
        if args.output:
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                count = audit.write_export(rows, out, args.format)
            print(f"{count} row(s) written to {args.output}", file=sys.stderr)
        else:
            audit.write_export(rows, sys.stdout, args.format)
    return EXIT_OK


def cmd_lifecycle_diagram(args: argparse.Namespace) -> int:
    sys.stdout.write(mermaid())
    return EXIT_OK


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    case = group(sub, "case", "one case")
    show = command(case, "show", cmd_case_show, "a case's state, dates, deadlines, binôme and history")
    show.add_argument("ref", help="case reference or France Travail identifier")
    show.add_argument("--json", action="store_true")
    au = group(sub, "audit", "the transition log")
    command(au, "verify", cmd_audit_verify, "recompute every hash chain and name the first broken row")
    export = command(au, "export", cmd_audit_export, "export log rows as CSV or JSON Lines")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--case", help="case reference")
    export.add_argument("--actor", help="professional id")
    export.add_argument("--trigger", choices=("orienter", *TRIGGERS))
    export.add_argument("--since", type=day_arg, help="first day (inclusive), YYYY-MM-DD")
    export.add_argument("--until", type=day_arg, help="last day (inclusive), YYYY-MM-DD")
    export.add_argument("--output", "-o", help="file to write (default: standard output)")
    life = group(sub, "lifecycle", "the state machine")
    command(life, "diagram", cmd_lifecycle_diagram, "print the lifecycle as a mermaid diagram")
