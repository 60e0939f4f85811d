"""The person's rights: `person export` (access) and `retention run` (pseudonymisation)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from workflow.application.audit.personal_data import DEFAULT_RETENTION_MONTHS, export, find_person, retention
from workflow.cli.common import EXIT_OK, Subparsers, Whole, command, connect, group
from workflow.domain import labels
from workflow.domain.errors import ConfigurationError

RETENTION_ENV = "ACCOMPAGNEMENT_RETENTION_MONTHS"


def cmd_person_export(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    with rt.uow() as uow:
        data = export(uow.session, find_person(uow.session, args.ref))
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
        counts = ", ".join(f"{name} {len(rows)}" for name, rows in data.items() if rows)
        print(f"écrit dans {args.output} : {counts}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


RETENTION_MONTHS = Whole(1, 1_200)


def _months(given: int | None) -> int:
    """The option's months, else the environment's (checked the same way), else the default."""
    if given is not None:
        return given
    value = os.environ.get(RETENTION_ENV, str(DEFAULT_RETENTION_MONTHS))
    try:
        return RETENTION_MONTHS(value)
    except argparse.ArgumentTypeError as exc:
        raise ConfigurationError(f"{RETENTION_ENV} : {exc}") from None


def cmd_retention_run(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    months = _months(args.months)
    report = retention(rt.uow(), rt.ctx, months, dry_run=args.dry_run)
    verb = "seraient pseudonymisé(s)" if args.dry_run else "pseudonymisé(s)"
    print(f"conservation {months} mois : dossiers clos avant le {labels.day(report.cutoff)}")
    print(f"{report.persons} personne(s) {verb} : {report.cases} dossier(s) sans freins, ", end="")
    print(
        f"{report.appointments} identifiant(s) de rendez-vous, "
        f"{report.payloads} contenu(s) conservé(s) (événements rejetés ou reçus)"
    )
    return EXIT_OK


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    person = group(sub, "person", "a person's data (RGPD)")
    exp = command(person, "export", cmd_person_export, "everything stored about a person, as JSON")
    exp.add_argument("ref", help="France Travail identifier, person id, or one of their case references")
    exp.add_argument("--output", "-o", help="file to write (default: standard output)")
    ret = group(sub, "retention", "the retention of personal data")
    run = command(
        ret, "run", cmd_retention_run,
        "pseudonymise the persons whose every case closed longer ago than the retention (log untouched)",
    )  # fmt: skip
    run.add_argument(
        "--months", type=RETENTION_MONTHS,
        help=f"retention in months (default ${RETENTION_ENV} or {DEFAULT_RETENTION_MONTHS})",
    )  # fmt: skip
    run.add_argument("--dry-run", action="store_true", help="count, change nothing")
