"""Commands that set things up: the schema, the conventions, the directory, the demo."""

from __future__ import annotations

import argparse
import json
import os
import shutil
from datetime import date, datetime
from pathlib import Path

from workflow.adapters import db_roles
from workflow.adapters import migrations as database
from workflow.adapters.convention_files import load_book
from workflow.application import directory
from workflow.application.queries import operator_lists
from workflow.bootstrap import Runtime
from workflow.cli.common import (
    EXIT_OK,
    Subparsers,
    Whole,
    command,
    connect,
    day_arg,
    group,
    invoked_as,
    print_table,
    show_progress,
)
from workflow.domain import labels
from workflow.domain.errors import WorkflowError


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    rt = connect(args.database_url, check_schema=False)
    database.upgrade(rt.engine)
    rt.ctx  # records the conventions, so a bad conventions file shows up now  # noqa: B018
    print(f"la base {rt.url} est au dernier schéma ; conventions enregistrées")
    runtime = args.runtime_role or os.environ.get(db_roles.RUNTIME_ENV, "")
    if runtime and rt.engine.dialect.name == "postgresql":
        db_roles.grant_runtime(rt.engine, runtime)
        rights = "lecture et ajout sur les tables du journal, écriture sur les autres"
        print(f"rôle d'exécution {runtime} : {rights}")
    return EXIT_OK


def cmd_db_roles(args: argparse.Namespace) -> int:
    rt = connect(args.database_url, check_schema=False)
    if rt.engine.dialect.name != "postgresql":
        raise WorkflowError("les rôles sont ceux de PostgreSQL : SQLite n'en a pas")
    for line in db_roles.create_roles(rt.engine, args.owner, args.runtime):
        print(line)
    print(f"ensuite : `accompagnement --database-url <URL de {args.owner}> db upgrade --runtime-role "
          f"{args.runtime}`, puis le service avec l'URL de {args.runtime}")  # fmt: skip
    return EXIT_OK


def cmd_conventions_list(args: argparse.Namespace) -> int:
    book = load_book()
    if args.json:
        data = [
            {
                "code": c.code,
                "version": c.version,
                "name": c.name,
                "effective_from": c.effective_from.isoformat(),
                "seeds": list(c.seeds),
                "figures": c.figures(),
                "defaulted": list(c.defaulted),
                "revue": {"working_day": c.revue.working_day, "time": c.revue.at.strftime("%H:%M")},
            }
            for c in book.all()
        ]
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return EXIT_OK
    for conv in book.all():
        print(f"{conv.code} / {conv.version} : {conv.name}")
        print(f"    en vigueur depuis le {labels.day(conv.effective_from)} ; textes {', '.join(conv.seeds)}")
        for name, value in conv.figures().items():
            if value is None:
                continue
            mark = "  (défaut)" if name in conv.defaulted else ""
            print(f"    {name:32} {value}{mark}")
        print(f"    {'revue de portefeuille':32} {conv.revue.working_day}e jour ouvré du mois, "
              f"{conv.revue.at:%H:%M} (Paris)")  # fmt: skip
    print("\n(défaut) : la convention ne donne pas ce chiffre ; la valeur de [defaults] s'applique.")
    return EXIT_OK


def cmd_professionals_import(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    path = Path(args.file)
    with path.open(encoding="utf-8", newline="") as fh:
        report = directory.import_file(rt.uow(), fh, str(path))
    print(f"{path} : {report.added} ajouté(s), {report.updated} mis à jour, {report.unchanged} inchangé(s)")
    return EXIT_OK


def cmd_professionals_list(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    with rt.uow() as uow:
        pros = operator_lists.professionals(uow.session)
        rows = [
            (p.id, labels.word(labels.ROLES, p.role), p.name, p.agence, p.territory, labels.yes_no(p.active))
            for p in pros
        ]
    print_table(rows, ("id", "rôle", "nom", "agence", "territoire", "actif"))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from workflow.demo.run import DemoSettings, Explore, demo_database_url, run_demo

    settings = DemoSettings(
        departement=args.departement,
        agences=args.agences,
        conseillers_per_agence=args.conseillers,
        start=args.start,
        months=args.months,
        seed=args.seed,
        output_dir=Path(args.output_dir),
    )
    # The demo's emails go to files beside its database, never to a real server: its
    # caseworkers are invented. They are written in this process, whatever the broker.
    os.environ.pop("ACCOMPAGNEMENT_SMTP_HOST", None)
    os.environ["ACCOMPAGNEMENT_OUTBOX_DIR"] = str(settings.output_dir / "outbox")
    shutil.rmtree(settings.output_dir / "outbox", ignore_errors=True)
    from tasks.emails import send_now

    url = args.database_url or demo_database_url(settings)
    os.environ["DATABASE_URL"] = url  # for the sending task, which runs here
    # Its emails link to the console the last lines say how to start.
    console = os.environ.setdefault("ACCOMPAGNEMENT_CONSOLE_URL", "http://localhost:8000")
    explore = Explore(invoked_as(), console, DEMO_PASSWORD, _set_console_password)
    return run_demo(settings, url, show_progress(args.no_progress), send_now, explore)


def _set_console_password(rt: Runtime, who: str, password: str, at: datetime) -> None:
    """The demo's superviseur's password, hashed as the console hashes it."""
    from web.auth import set_password

    with rt.uow() as uow:
        set_password(uow.session, who, password, at)
        uow.commit()


# The demo's superviseur signs in to the console with it; the demo's people are invented.
DEMO_PASSWORD = "demonstration-ag"


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    db = group(sub, "db", "database schema")
    upgrade = command(
        db, "upgrade", cmd_db_upgrade, "create or migrate the schema (Alembic) and record the conventions"
    )
    upgrade.add_argument(
        "--runtime-role", default="", metavar="ROLE",
        help=f"PostgreSQL: the role the service runs as, given its rights (default ${db_roles.RUNTIME_ENV})",
    )  # fmt: skip
    roles = command(db, "roles", cmd_db_roles, "PostgreSQL: create the owner and the runtime roles")
    roles.add_argument("--owner", default="accompagnement_owner", help="the role that runs db upgrade")
    roles.add_argument("--runtime", default="accompagnement", help="the role the service runs as")
    conv = group(sub, "conventions", "the conventions' figures")
    listing = command(conv, "list", cmd_conventions_list, "list every convention version and its figures")
    listing.add_argument("--json", action="store_true")
    pro = group(sub, "professionals", "the directory of professionals")
    command(
        pro, "import", cmd_professionals_import, "import or update professionals from a CSV file"
    ).add_argument("file")
    command(pro, "list", cmd_professionals_list, "list the directory")
    demo = command(
        sub, "demo", cmd_demo, "simulate a year of a synthetic département through the real ingestion"
    )
    demo.add_argument("--departement", default="67", help="convention to simulate: 35, 67 or 82 (default 67)")
    demo.add_argument("--agences", type=Whole(1, 50), default=3)
    demo.add_argument("--conseillers", type=Whole(1, 50), default=2, help="dedicated conseillers per agence")
    demo.add_argument(
        "--start", type=day_arg, default=date(2026, 1, 1), help="first day of the simulated year"
    )
    demo.add_argument("--months", type=Whole(1, 60), default=12)
    demo.add_argument("--seed", type=Whole(0, 2**32 - 1), default=2026)
    demo.add_argument("--output-dir", default="demo-output", help="where the generated files go")
    demo.add_argument("--no-progress", action="store_true")
