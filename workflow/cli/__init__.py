"""The `accompagnement` command: parse, call `workflow`, print.

Exit codes: 0 success; 1 the command ran but found a problem (rejected events, a broken
audit chain); 2 bad usage, configuration or input that could not be read; 3 the run itself
failed (the database went away, an unforeseen fault): what was committed before stays, and
running the command again is safe (applied events come back as duplicates).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
from collections.abc import Sequence

from models import database_url
from workflow.bootstrap import tune_garbage_collector
from workflow.cli import (
    cases,
    console,
    events,
    indicators,
    logs,
    portfolios,
    privacy,
    reminders,
    revues,
    scheduling,
    setup,
)
from workflow.cli.common import (
    DATABASE_URL_HELP,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_USAGE,
    FrenchParser,
)
from workflow.domain import labels
from workflow.domain.errors import Forbidden, NotFound, WorkflowError

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = FrenchParser(
        prog="accompagnement",
        description="Accompagnement global: cases, events and audit log (France Travail + Département).",
    )
    parser.add_argument("--database-url", help=DATABASE_URL_HELP)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (to stderr)")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        help=f"log lines as text or JSON (default ${logs.FORMAT_ENV} or text)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = (setup, events, cases, reminders, revues, scheduling, indicators, portfolios, privacy, console)
    for module in modules:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(args.verbose, args.log_format)
    if args.command != "demo":
        args.database_url = args.database_url or database_url()
        # Tasks run in this process when no broker is configured (sending emails after a
        # commit): they must work on the same database as the command.
        os.environ["DATABASE_URL"] = args.database_url
    if args.command == "demo" or getattr(args, "action", None) == "ingest":
        tune_garbage_collector()
    try:
        result: int = args.func(args)
        return result
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (silence the flush at exit)
        return EXIT_OK
    except Forbidden as exc:  # said to the person: their role's label, then the reason
        role = labels.ROLES.get(exc.actor_role)
        who = f"{exc.actor_id} ({role})" if role else exc.actor_id
        print(f"erreur : accès refusé à {who} : {exc.reason}", file=sys.stderr)
        return EXIT_PROBLEM
    except NotFound as exc:
        print(f"erreur : {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    except (WorkflowError, OSError) as exc:
        print(f"erreur : {file_problem(exc) if isinstance(exc, OSError) else exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        log.debug("la commande a échoué", exc_info=True)
        print(f"erreur : la commande a échoué ({type(exc).__name__} : {str(exc)[:300]})", file=sys.stderr)
        print("ce qui était enregistré avant reste ; relancer la commande est sans risque", file=sys.stderr)
        return EXIT_FAILED


_FILE_PROBLEMS = {
    errno.ENOENT: "fichier ou dossier introuvable",
    errno.EACCES: "accès refusé",
    errno.EPERM: "opération non permise",
    errno.EISDIR: "c'est un dossier, pas un fichier",
    errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
    errno.ENOSPC: "plus de place sur le disque",
    errno.EROFS: "système de fichiers en lecture seule",
    errno.EEXIST: "existe déjà",
}


def file_problem(exc: OSError) -> str:
    """A file the command could not read or write, in one French line naming it (the system's
    own words, "[Errno 2] No such file or directory", are English)."""
    what = _FILE_PROBLEMS.get(exc.errno or 0, f"erreur du système ({exc.strerror or type(exc).__name__})")
    where = exc.filename if exc.filename is not None else ""
    return f"{what} : {where}" if where else what
