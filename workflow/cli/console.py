"""`accompagnement web`: the console and the HTTP door for events (the `web/` package, imported
here lazily like the scheduler: the CLI is the one place that starts every entry point)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Any

from workflow.cli.common import EXIT_OK, Subparsers, Whole, command, connect, group
from workflow.domain.errors import WorkflowError
from workflow.domain.vocabulary import Partner


def cmd_web_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.workers > 1:
        from workflow.adapters.metrics_folder import prepare

        prepare("porte")  # before the app imports the metrics: /metrics adds up every process's counts
    from web.app import create_app

    app = create_app(args.database_url)  # the settings checked here, before any process starts
    print(f"console sur http://{args.host}:{args.port}/ (OpenAPI : /api/openapi.json)")
    # A client's address is the peer's unless a trusted proxy forwards it: with no proxy named,
    # X-Forwarded-For is ignored (anyone could write one, and aim the sign-in lock-outs).
    proxies = args.forwarded_allow_ips.strip()
    options: dict[str, Any] = {"host": args.host, "port": args.port, "proxy_headers": bool(proxies),
                               "forwarded_allow_ips": proxies or None,
                               "log_level": "info" if args.verbose else "warning"}  # fmt: skip
    if args.workers == 1:
        uvicorn.run(app, **options)
        return EXIT_OK
    # Several processes: each makes its own app (and database pool) after uvicorn starts it.
    app.state.web.runtime.engine.dispose()
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    uvicorn.run("web.app:create_app", factory=True, workers=args.workers, **options)
    return EXIT_OK


def cmd_web_password(args: argparse.Namespace) -> int:
    from web.auth import set_password

    password = (
        sys.stdin.readline().rstrip("\n")
        if args.stdin
        else getpass.getpass(f"mot de passe pour {args.id} : ")
    )
    if not args.stdin and getpass.getpass("encore une fois : ") != password:
        raise WorkflowError("les deux mots de passe diffèrent")
    rt = connect(args.database_url)
    with rt.uow() as uow:
        set_password(uow.session, args.id, password, rt.clock.now())
        uow.commit()
    print(f"mot de passe enregistré pour {args.id} ; le compte est déverrouillé")
    return EXIT_OK


def cmd_web_token(args: argparse.Namespace) -> int:
    from web.auth import create_token

    rt = connect(args.database_url)
    with rt.uow() as uow:
        token = create_token(uow.session, args.system, rt.clock.now(), Partner(args.partenaire))
        uow.commit()
    # The token alone on stdout, so that `TOKEN=$(accompagnement web token si)` holds just it.
    print(
        f"jeton de {args.system}, affiché une seule fois ; le précédent cesse de marcher sous 5 s",
        file=sys.stderr,
    )
    print(token)
    return EXIT_OK


def cmd_web_openapi(args: argparse.Namespace) -> int:
    from web.app import openapi_document

    print(json.dumps(openapi_document(), indent=2, ensure_ascii=False))
    return EXIT_OK


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    web = group(sub, "web", "the web console and the HTTP door for events")
    serve = command(web, "serve", cmd_web_serve, "run the console with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=Whole(1, 65_535), default=8000)
    serve.add_argument(
        "--workers", type=Whole(1, 256), default=1,
        help="processes serving the port (the HTTP door is bound by its CPU: one per core)",
    )  # fmt: skip
    serve.add_argument(
        "--forwarded-allow-ips", default="", metavar="ADRESSES",
        help="the reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or "
        "networks, e.g. 10.0.0.5); default: none, the peer's address counts",
    )  # fmt: skip
    password = command(web, "password", cmd_web_password, "set a professional's console password")
    password.add_argument("id", help="the professional's id in the directory")
    password.add_argument("--stdin", action="store_true", help="read the password from standard input")
    token = command(web, "token", cmd_web_token, "create (or replace) the API token of a calling system")
    token.add_argument("system", help="the calling system's name, e.g. sid-ft")
    token.add_argument(
        "--partenaire", required=True, choices=[str(p) for p in Partner],
        help="whom the system speaks for: its events may only name that partner's actors",
    )  # fmt: skip
    command(web, "openapi", cmd_web_openapi, "print the API's OpenAPI document (docs/openapi.json)")
