"""The `accompagnement` command as people use it: a real process, real files, real database."""

from __future__ import annotations

import email
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select, text

from tests.factories import PROFESSIONALS_CSV, Story
from tests.words import bare_codes
from tests.workers import answering
from workflow.domain.clock import paris_date
from workflow.domain.working_days import is_working_day

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, url: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONUTF8": "1"}
    return subprocess.run(
        [sys.executable, "-m", "workflow", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def emails_to_files(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """The command's emails go, in its own process, to `.eml` files in `folder`."""
    for name in ("CELERY_BROKER_URL", "ACCOMPAGNEMENT_SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACCOMPAGNEMENT_OUTBOX_DIR", str(folder))


@pytest.fixture
def loaded(db: Engine, database_url: str, tmp_path: Path) -> tuple[str, Story, Path]:
    """A database with the directory imported and one case signed, through the CLI."""
    assert run("db", "upgrade", url=database_url).returncode == 0
    (tmp_path / "pros.csv").write_text(PROFESSIONALS_CSV, encoding="utf-8")
    assert run("professionals", "import", str(tmp_path / "pros.csv"), url=database_url).returncode == 0
    story = Story()
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in story.until_contract()) + "\n", encoding="utf-8")
    result = run("events", "ingest", str(events), url=database_url)
    assert result.returncode == 0, result.stderr
    assert "4 appliqué(s)" in result.stdout
    return database_url, story, tmp_path


def test_ingest_reports_bad_lines_by_number_and_exits_1(loaded: tuple[str, Story, Path]) -> None:
    url, story, tmp = loaded
    bad = tmp / "bad.jsonl"
    bad.write_text(
        json.dumps(story.renewal(days=100)) + "\n{oops\n" + json.dumps(story.contract()) + "\n",
        encoding="utf-8",
    )
    result = run("events", "ingest", str(bad), url=url)
    assert result.returncode == 1
    assert "1 appliqué(s)" in result.stdout and "2 rejeté(s)" in result.stdout
    assert "bad.jsonl:2 : JSON mal formé" in result.stdout
    assert (
        "bad.jsonl:3 [" in result.stdout
        and "refus de « Signature du contrat » dans l'état « Renouvellement »" in result.stdout
    )
    listing = run("events", "rejected", url=url)
    assert "bad.jsonl:2" in listing.stdout
    assert "2 affiché(s) sur 2 événement(s) rejeté(s) non résolu(s)" in listing.stdout


def test_a_line_that_is_not_utf8_is_rejected_alone(loaded: tuple[str, Story, Path]) -> None:
    url, story, tmp = loaded
    mixed = tmp / "latin1.jsonl"
    mixed.write_bytes(
        b'{"type": "exit_decided", "reason": "\xe9"}\n' + json.dumps(story.renewal(days=100)).encode()
    )
    result = run("events", "ingest", str(mixed), url=url)
    assert result.returncode == 1
    assert "latin1.jsonl:1 : pas de l'UTF-8 valide (octet 37 de la ligne)" in result.stdout
    assert "1 appliqué(s)" in result.stdout


def test_case_show_gives_state_dates_deadlines_and_history(loaded: tuple[str, Story, Path]) -> None:
    url, story, _ = loaded
    shown = run("case", "show", story.ref, url=url)
    assert shown.returncode == 0, shown.stderr
    for expected in ("—  Contrat", "Claire Conseillère (C67)", "fin du contrat", "Signature du contrat",
                     "chaîne du journal intacte", "durée maximale", "12/09/2026",
                     "inscrit à France Travail"):  # fmt: skip
        assert expected in shown.stdout
    # Words, not codes: no snake_case identifier, no English label, no empty event shown as [None].
    assert not re.findall(r"\b[a-z]+_[a-z_]+\b", shown.stdout), shown.stdout
    for english in ("state", "deadline", "history", "[None]", "registered", "yes", "contract"):
        assert english not in shown.stdout
    as_json = json.loads(run("case", "show", story.ft, "--json", url=url).stdout)
    assert as_json["reference"] == story.ref
    assert as_json["dates"]["contract_end"] == "2026-09-12"
    assert [h["trigger"] for h in as_json["history"]][-1] == "signer_contrat"
    missing = run("case", "show", "AG-NOPE", url=url)
    assert missing.returncode == 1 and "aucun dossier de référence" in missing.stderr


def test_audit_verify_names_the_tampered_row(loaded: tuple[str, Story, Path], db: Engine) -> None:
    url, story, _ = loaded
    ok = run("audit", "verify", url=url)
    assert ok.returncode == 0 and "chaque chaîne est intacte" in ok.stdout
    with db.begin() as conn:
        if db.dialect.name == "postgresql":  # a superuser switching the append-only triggers off
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        row_id = conn.scalar(text("SELECT id FROM transition_log WHERE seq = 3"))
        conn.execute(text("UPDATE transition_log SET reason = 'emploi' WHERE id = :id"), {"id": row_id})
    broken = run("audit", "verify", url=url)
    assert broken.returncode == 1
    assert f"row {row_id} (case {story.ref}, seq 3): content does not match its hash" in broken.stdout


def test_audit_export_writes_filtered_csv_and_json(loaded: tuple[str, Story, Path]) -> None:
    url, story, tmp = loaded
    out = tmp / "audit.csv"
    result = run(
        "audit", "export", "--case", story.ref, "--trigger", "signer_contrat", "-o", str(out), url=url
    )
    assert result.returncode == 0 and "1 ligne(s) écrite(s)" in result.stderr
    assert out.read_text(encoding="utf-8").splitlines()[0].startswith("id,case_reference,seq,trigger")
    lines = run("audit", "export", "--format", "json", "--actor", "C67", url=url).stdout.splitlines()
    assert len(lines) == 4 and json.loads(lines[0])["trigger"] == "orienter"


def test_a_bad_directory_is_refused_whole_with_file_and_line(
    db: Engine, database_url: str, tmp_path: Path
) -> None:
    run("db", "upgrade", url=database_url)
    csv = tmp_path / "pros.csv"
    csv.write_text(PROFESSIONALS_CSV + "X1,chef,Nom,x@y.example,67,,,true\n", encoding="utf-8")
    result = run("professionals", "import", str(csv), url=database_url)
    assert result.returncode == 2
    bad_line = len(PROFESSIONALS_CSV.splitlines()) + 1
    assert f"{csv}:{bad_line} : le champ 'role' vaut l'un de" in result.stderr
    assert "C67" not in run("professionals", "list", url=database_url).stdout


def test_commands_need_an_upgraded_database_and_leave_no_file_behind(tmp_path: Path) -> None:
    result = run("case", "show", "X", url=f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.returncode == 2 and "`accompagnement db upgrade` la crée" in result.stderr
    assert not (tmp_path / "empty.db").exists()  # only `db upgrade` (and the demo) make a database
    assert run("status", url=f"sqlite:///{tmp_path / 'empty.db'}").returncode == 2
    assert list(tmp_path.iterdir()) == []
    made = run("db", "upgrade", url=f"sqlite:///{tmp_path / 'empty.db'}")
    assert made.returncode == 0 and (tmp_path / "empty.db").exists()
    assert run("case", "show", "X", url=f"sqlite:///{tmp_path / 'empty.db'}").returncode == 1  # unknown case


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("notaurl", "l'URL de base de données 'notaurl' n'est pas une URL (par exemple sqlite:///"),
        ("postgres://u@127.0.0.1/test", "pilote inconnu 'postgres' (PostgreSQL: postgresql+psycopg://"),
        ("mysql://u@127.0.0.1/db", "le service fonctionne sur SQLite ou PostgreSQL"),
        ("sqlite:////no/such/folder/x.db", "le dossier /no/such/folder n'existe pas"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/test", "base de données injoignable"),
    ],
)
def test_a_bad_database_url_is_one_line_naming_the_problem_and_exit_2(url: str, said: str) -> None:
    result = run("--database-url", url, "case", "show", "X", url="sqlite://")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and said in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_conventions_list_marks_defaults() -> None:
    result = run("conventions", "list", url="sqlite://")
    assert result.returncode == 0
    assert "82 / 2021" in result.stdout and "(défaut)" in result.stdout


def test_the_committed_json_schema_is_current() -> None:
    result = run("events", "schema", url="sqlite://")
    assert result.stdout == (ROOT / "docs" / "events.schema.json").read_text(encoding="utf-8")


def test_the_documented_lifecycle_diagram_is_generated_from_the_machine() -> None:
    diagram = run("lifecycle", "diagram", url="sqlite://").stdout
    rules = (ROOT / "docs" / "business-rules.md").read_text(encoding="utf-8")
    assert f"```mermaid\n{diagram}```" in rules


def test_the_demo_runs_a_small_year(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACCOMPAGNEMENT_CONSOLE_URL", raising=False)
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = run(
        "demo", "--months", "2", "--agences", "1", "--conseillers", "1", "--database-url", url,
        "--output-dir", str(tmp_path / "out"), url=url, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # Not a terminal: no progress bar frames; no broker: no kombu warning. Nothing on stderr.
    assert result.stderr == ""
    assert "=== Année simulée du 01/01/2026 au 28/02/2026" in result.stdout
    assert "chaînes, intacts" in result.stdout
    assert not re.search(r"\d{4}-\d{2}-\d{2}", result.stdout.split("Explorer :")[0])  # dates read dd/mm/yyyy
    assert "duree_maximale" not in result.stdout and "Durée maximale atteinte" in result.stdout
    assert (tmp_path / "out" / "events.jsonl").stat().st_size > 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["entries"] > 0 and summary["exits"] > 0
    # People act on working days of the Bas-Rhin: no weekend, no holiday (26 December included).
    events = [json.loads(line) for line in (tmp_path / "out" / "events.jsonl").open(encoding="utf-8")]
    instants = [e["occurred_at"] for e in events] + [e["planned_at"] for e in events if "planned_at" in e]
    days = {paris_date(datetime.fromisoformat(at)) for at in instants}
    assert date(2025, 12, 24) in days and not [d for d in days if not is_working_day(d, "67")]
    # The hints run as printed, from where the demo ran, without an activated venv.
    hints = [line.removeprefix("Explorer :").strip()
             for line in result.stdout.splitlines()
             if line.startswith(("Explorer :", "           "))]  # fmt: skip
    shown = [h for h in hints if " web serve" not in h and not h.startswith("puis ouvrir")]
    assert len(shown) == 6, result.stdout
    for hint in shown:
        done = subprocess.run(hint, shell=True, cwd=tmp_path, capture_output=True, text=True, check=False)
        assert done.returncode == 0, (hint, done.stderr)
    # The console: its start command, and the demo's superviseur signs in with the printed password.
    assert "web serve" in result.stdout
    password = re.search(r"se connecter comme SUP67, mot de passe « (.+) »", result.stdout)
    assert password is not None, result.stdout
    monkeypatch.setenv("ACCOMPAGNEMENT_WEB_SECRET", "s" * 40)
    from fastapi.testclient import TestClient

    from web.app import create_app

    with TestClient(create_app(url), base_url="https://testserver") as client:
        form = client.get("/connexion").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        answer = client.post(
            "/connexion",
            data={"identifiant": "SUP67", "mot_de_passe": password.group(1), "csrf": csrf.group(1)},
            follow_redirects=False,
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/dossiers"
        assert "AG-67-" in client.get("/dossiers").text
    # Its emails link to that console and are dated on their simulated day.
    reminders = [p.read_text(encoding="utf-8") for p in (tmp_path / "out" / "outbox").glob("reminder*.eml")]
    assert reminders and all("http://localhost:8000/dossiers/AG-67-" in body for body in reminders)
    for body in reminders:
        sent = email.message_from_string(body)
        assert parsedate_to_datetime(sent["Date"]).year in (2025, 2026), sent["Date"]


def test_the_log_answers_for_past_days_replays_and_forecasts(tmp_path: Path) -> None:
    """On a demo's database: a case at a past day, portfolios at a day (table and CSV), the
    replay check, and a forecast with its chart; every word in French, dates dd/mm/yyyy."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    made = run("demo", "--months", "3", "--agences", "1", "--conseillers", "2", "--database-url", url,
               "--output-dir", str(tmp_path / "out"), url=url, cwd=tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stderr
    ref = re.search(r"case show (AG-67-\d+)", made.stdout)
    assert ref is not None
    then = run("case", "show", ref.group(1), "--at", "15/02/2026", url=url)
    assert then.returncode == 0, then.stderr
    assert "(au 15/02/2026, reconstitué depuis le journal)" in then.stdout
    far = run("case", "show", ref.group(1), "--at", "9999-12-31", url=url)
    assert (
        far.returncode == 2
        and "« 9999-12-31 » n'est pas une date : hors des années permises (attendu 31/03/2026" in far.stderr
    )
    folio = run(
        "portfolio", "--departement", "67", "--at", "2026-02-28", "--csv", str(tmp_path / "p.csv"), url=url
    )
    assert folio.returncode == 0, folio.stderr
    assert "Portefeuille au 28/02/2026 — département 67" in folio.stdout and "dans la cible" in folio.stdout
    sheet = (tmp_path / "p.csv").read_text(encoding="utf-8-sig")
    assert sheet.startswith("Date;Périmètre;Conseiller;") and "28/02/2026;département 67;C67-11;" in sheet
    mine = run("portfolio", "--conseiller", "C67-11", "--at", "2026-02-28", url=url)
    assert "conseiller C67-11" in mine.stdout and "C67-12" not in mine.stdout
    replayed = run("audit", "replay", url=url)
    assert replayed.returncode == 0, replayed.stderr
    assert (
        "0 dossier(s) en écart" in replayed.stdout
        and "chaque dossier est celui que son journal donne" in replayed.stdout
    )
    with sqlite3.connect(tmp_path / "demo.db") as raw:  # a row changed behind the log's back
        raw.execute("UPDATE case_file SET contract_end = '2027-12-31' WHERE reference = ?", (ref.group(1),))
    found = run("audit", "replay", url=url)
    assert found.returncode == 1, found.stderr
    assert (
        f"dossier {ref.group(1)}\n  fin du contrat : enregistré 31/12/2027, selon le journal" in found.stdout
    )
    assert "1 dossier(s) en écart" in found.stdout and bare_codes(found.stdout) == []
    ahead = run("forecast", "--departement", "67", "--months", "3", "--since", "2026-02-28",
                "--chart", str(tmp_path / "f.png"), url=url)  # fmt: skip
    assert ahead.returncode == 0, ahead.stderr
    for expected in ("Prévision — département 67, 3 mois après le 28/02/2026", "mars 2026", "mai 2026",
                     "plus petit nombre de conseillers tenant les deux cibles", "graphique :"):  # fmt: skip
        assert expected in ahead.stdout, ahead.stdout
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")
    for said in (then.stdout, folio.stdout, sheet, mine.stdout, replayed.stdout, ahead.stdout):
        assert bare_codes(said) == [], said
    refused = run("portfolio", "--agency", "A", "--departement", "67", url=url)
    assert refused.returncode == 2 and "not allowed with argument" in refused.stderr


def test_ingest_via_celery_with_the_worker_command_and_status(
    loaded: tuple[str, Story, Path], broker_url: str
) -> None:
    from tests.workers import flush

    url, story, tmp = loaded
    flush(broker_url)
    env = {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": broker_url}
    log = (tmp / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "workflow", "worker", "--concurrency", "1"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        other = Story()
        events = tmp / "flux.jsonl"
        lines = [json.dumps(e) for e in [*other.until_contract(), story.renewal(days=100)]]
        events.write_text("\n".join([*lines, "{oops"]) + "\n", encoding="utf-8")
        command = ["events", "ingest", str(events), "--via", "celery", "--no-progress", "--wait"]
        queued = subprocess.run(
            [sys.executable, "-m", "workflow", *command],
            env=env, capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        assert queued.returncode == 1, queued.stderr
        assert "5 événement(s) enregistré(s) et confié(s) aux workers" in queued.stdout
        assert "rejeté flux.jsonl:6 : JSON mal formé" in queued.stdout
        assert "les 6 événement(s) sont réglés : 5 appliqué(s), 0 doublon(s), 1 rejeté(s)" in queued.stdout
        assert "—  Contrat" in run("case", "show", other.ref, url=url).stdout
        status = subprocess.run(
            [sys.executable, "-m", "workflow", "status"], env=env, capture_output=True, text=True, check=False
        )
        assert status.returncode == 0, status.stderr
        assert "file            0 message(s) en attente, 0 en cours, 0 orphelin(s)" in status.stdout
        assert "boîte d'entrée  0 événement(s) accepté(s), pas encore appliqué(s)" in status.stdout
        assert "redis sur disque " in status.stdout  # what it says depends on how Redis was started
        assert "9 événement(s) appliqué(s), 1 refusé(s)" in status.stdout
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        flush(broker_url)


def test_via_celery_without_a_broker_says_what_to_set(loaded: tuple[str, Story, Path]) -> None:
    url, _, tmp = loaded
    env_less = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "workflow", "events", "ingest", str(tmp / "events.jsonl"), "--via", "celery"],
        env={**env_less, "DATABASE_URL": url}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "demande CELERY_BROKER_URL" in result.stderr


def test_events_retry_resolves_a_rejection_after_the_fix(loaded: tuple[str, Story, Path]) -> None:
    url, _, tmp = loaded
    late = Story()
    orientation, binome, diagnostic, contract = late.until_contract()
    early = tmp / "early.jsonl"
    early.write_text(
        "\n".join(json.dumps(e) for e in (orientation, binome, contract)) + "\n", encoding="utf-8"
    )
    assert run("events", "ingest", str(early), url=url).returncode == 1
    listing = run("events", "rejected", url=url).stdout
    rejected_id = listing.splitlines()[2].split()[0]
    still = run("events", "retry", rejected_id, url=url)
    assert (
        still.returncode == 1
        and "est toujours refusé : refus de « Signature du contrat » dans l'état « Repérage »" in still.stderr
    )
    fix = tmp / "fix.jsonl"
    fix.write_text(json.dumps(diagnostic) + "\n", encoding="utf-8")
    assert run("events", "ingest", str(fix), url=url).returncode == 0
    retried = run("events", "retry", rejected_id, url=url)
    assert (
        retried.returncode == 0
        and "appliqué, Signature du contrat : Diagnostic partagé → Contrat" in retried.stdout
    )
    assert (
        "0 affiché(s) sur 0 événement(s) rejeté(s) non résolu(s)" in run("events", "rejected", url=url).stdout
    )
    assert "appliqué à la relance" in run("events", "rejected", "--all", url=url).stdout
    again = run("events", "retry", rejected_id, url=url)
    assert again.returncode == 2 and "a déjà été résolu" in again.stderr


def test_the_database_url_option_is_accepted_after_the_command_too(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'here.db'}"
    assert (
        run("db", "upgrade", "--database-url", url, url="sqlite:///elsewhere.db", cwd=tmp_path).returncode
        == 0
    )
    assert (tmp_path / "here.db").exists() and not (tmp_path / "elsewhere.db").exists()


def test_reminders_run_writes_eml_files_without_smtp_and_list_shows_them(
    loaded: tuple[str, Story, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, story, tmp = loaded
    emails_to_files(monkeypatch, tmp / "outbox")
    due = (story.day + timedelta(days=31)).isoformat()  # the first appointments, seed 004 art. 2 e
    before = run("reminders", "run", "--date", (story.day + timedelta(days=30)).isoformat(), url=url)
    assert before.returncode == 0, before.stderr
    assert "0 rappel(s) dû(s)" in before.stdout
    result = run("reminders", "run", "--date", due, url=url)
    assert result.returncode == 0, result.stderr
    assert "1 rappel(s) dû(s), 1 envoyé(s) en 1 email(s)" in result.stdout
    assert "Premiers rendez-vous à tenir" in result.stdout
    (eml,) = (tmp / "outbox").glob("*.eml")
    assert "Premiers rendez-vous" in eml.read_text(encoding="utf-8", errors="replace")
    again = run("reminders", "run", "--date", due, url=url)
    assert "0 rappel(s) dû(s)" in again.stdout
    listing = run("reminders", "list", "--case", story.ref, url=url)
    assert "Premiers rendez-vous à tenir" in listing.stdout and "envoyé" in listing.stdout
    failed = run("reminders", "list", "--failed", url=url)
    assert failed.returncode == 0 and "n°" in failed.stdout
    assert "emails          0 à envoyer, 0 en échec" in run("status", url=url).stdout


def test_a_second_scheduler_stands_by_while_one_leads(db: Engine, database_url: str) -> None:
    from scheduler.leader import LeaderLock

    assert run("db", "upgrade", url=database_url).returncode == 0
    leader = LeaderLock(database_url)
    assert leader.try_acquire()
    try:
        result = run("scheduler", "--once", url=database_url)
    finally:
        leader.release()
    assert result.returncode == 1
    assert "un autre planificateur mène sur cette base" in result.stdout
    after = run("scheduler", "--once", url=database_url)
    assert after.returncode == 0, after.stderr
    assert "rattrapé :" in after.stdout


def test_revue_run_writes_the_files_once_and_refuses_a_bad_month(
    loaded: tuple[str, Story, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _, tmp = loaded
    emails_to_files(monkeypatch, tmp / "outbox")
    args = (
        "revue",
        "run",
        "--agency",
        "Strasbourg-Nord",
        "--month",
        "2026-04",
        "--output-dir",
        str(tmp / "rv"),
    )
    first = run(*args, url=url)
    assert first.returncode == 0, first.stderr
    assert "avril 2026 : produite" in first.stdout
    assert "No hostname" not in first.stderr  # no broker configured: no kombu warning either
    helped = " ".join(run("revue", "run", "--help", url=url).stdout.split())
    assert "the revue held in that month" in helped
    assert "secrétariat : le conseiller France Travail" in first.stdout
    assert "tenue le 01/04/2026, couvre depuis la revue du" in first.stdout
    assert "Entrées à acter        1 ligne(s)" in first.stdout
    assert {p.name for p in (tmp / "rv").iterdir()} == {"revue-Strasbourg-Nord-2026-04.xlsx",
                                                       "revue-Strasbourg-Nord-2026-04.csv"}  # fmt: skip
    (eml,) = (tmp / "outbox").glob("revue_*.eml")
    assert "revue-Strasbourg-Nord-2026-04.xlsx" in eml.read_text(encoding="utf-8", errors="replace")
    again = run(*args, url=url)
    assert "déjà produite le" in again.stdout
    listed = run("revue", "list", url=url).stdout
    assert "avril 2026" in listed and "01/04/2026" in listed and "Conseiller France Travail" in listed
    bad = run("revue", "run", "--agency", "Strasbourg-Nord", "--month", "2026-13", url=url)
    assert bad.returncode == 2 and "le mois '2026-13' ne s'écrit pas comme 2026-11" in bad.stderr
    unknown = run("revue", "run", "--agency", "Nulle-Part", "--month", "2026-04", url=url)
    assert unknown.returncode == 1 and "aucun dossier dans l'agence 'Nulle-Part'" in unknown.stderr


def test_revue_act_records_the_formality_then_a_tableau_sent_back(
    loaded: tuple[str, Story, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, story, tmp = loaded
    emails_to_files(monkeypatch, tmp / "outbox")
    produced = run("revue", "run", "--agency", "Strasbourg-Nord", "--month", "2026-04",
                   "--output-dir", str(tmp / "rv"), url=url)  # fmt: skip
    revue_id = produced.stdout.split(",")[0].removeprefix("revue ")
    dry = run("revue", "act", "--revue", revue_id, "--by", "C67", "--dry-run", url=url)
    assert dry.returncode == 0, dry.stderr
    assert "1 à appliquer" in dry.stdout and "Entrée actée en revue : Contrat → Contrat" in dry.stdout
    acted = run("revue", "act", "--revue", revue_id, "--by", "C67", url=url)
    assert acted.returncode == 0 and "1 appliquée" in acted.stdout
    shown = run("revue", "show", "--revue", revue_id, url=url).stdout
    assert re.search(rf"{story.ref}\s+Diagnostic partagé\s+Acter\s+C67\s+\d\d/\d\d/2026", shown), shown
    timeline = run("case", "show", story.ref, url=url).stdout
    assert "Entrée actée en revue" in timeline

    sent_back = tmp / "rv" / "revue-Strasbourg-Nord-2026-04.csv"
    lines = sent_back.read_text(encoding="utf-8-sig").splitlines()
    assert lines[1].startswith(f"Entrées à acter;{story.ref};")
    lines[1] = lines[1][:-1] + "Sortie — Emploi;C67"
    sent_back.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = run("revue", "act", "--revue", revue_id, "--file", str(sent_back), url=url)
    assert bad.returncode == 2
    assert (
        "revue-Strasbourg-Nord-2026-04.csv, ligne 2 : colonne « Décision » : "
        "'sortie:emploi' n'est pas une décision" in bad.stderr
    )
    missing = run("revue", "act", "--revue", "999", "--by", "C67", url=url)
    assert missing.returncode == 1 and "aucune revue n° 999" in missing.stderr


def test_indicators_prints_the_table_and_writes_csv_and_png(loaded: tuple[str, Story, Path]) -> None:
    url, _, tmp = loaded
    args = ("indicators", "--quarter", "2026-Q1", "--departement", "67", "--output-dir", str(tmp / "ind"))
    result = run(*args, url=url)
    assert result.returncode == 0, result.stderr
    assert "Indicateurs T1 2026 — département 67" in result.stdout
    assert "entrées du trimestre" in result.stdout
    files = sorted(p.name for p in (tmp / "ind").iterdir())
    assert files == ["indicateurs-2026-Q1-67.csv", "indicateurs-2026-Q1-67.png"]
    bad = run("indicators", "--quarter", "2026-Q7", url=url)
    assert (
        bad.returncode == 2
        and "le trimestre '2026-Q7' ne s'écrit pas comme T3 2026 (ou 2026-Q3)" in bad.stderr
    )


def _as_if_recorded_the_day_before(db: Engine) -> None:
    """Move the log one day back, its chains hashed again: only a complete day is sealed, and
    the command line runs on the real clock."""
    from sqlalchemy.orm import Session

    from models import TransitionLog
    from workflow.application.audit.chain import GENESIS, row_hash

    with Session(db) as session, session.begin():
        if db.dialect.name == "postgresql":
            session.execute(text("SET LOCAL session_replication_role = replica"))  # the append-only triggers
        prev, case = GENESIS, None
        for row in session.scalars(select(TransitionLog).order_by(TransitionLog.case_id, TransitionLog.seq)):
            prev = GENESIS if row.case_id != case else prev
            case = row.case_id
            row.recorded_at -= timedelta(days=1)
            row.prev_hash = prev
            row.hash = prev = row_hash(row)


def test_audit_search_timeline_scope_seals_and_refusals(
    loaded: tuple[str, Story, Path], db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, story, _ = loaded
    table = run("audit", "search", "--role", "conseiller", "--departement", "67", url=url)
    assert table.returncode == 0, table.stderr
    assert "Signature du contrat" in table.stdout and "Diagnostic partagé → Contrat" in table.stdout
    # The same row as `case show` and the console: Paris time, one date format.
    assert table.stdout.startswith("quand (Paris)") and re.search(r"\d\d/\d\d/2026 \d\d:\d\d", table.stdout)
    assert not re.search(r"\d{4}-\d\d-\d\d", table.stdout)
    exported = run(
        "audit", "export", "--format", "json", "--trigger", "orienter", "--agency", "Strasbourg-Nord", url=url
    )
    assert [json.loads(line)["trigger"] for line in exported.stdout.splitlines()] == ["orienter"]
    assert "AG-" in run("audit", "timeline", story.ref, "--as", "C67", url=url).stdout
    refused = run("audit", "timeline", story.ref, "--as", "C67B", url=url)
    assert refused.returncode == 1
    assert (
        "erreur : accès refusé à C67B (Conseiller France Travail) : "
        f"le dossier {story.ref} n'est pas l'un des siens" in refused.stderr
    )
    assert run("case", "show", story.ref, "--as", "S35", url=url).returncode == 1
    refusals = run("audit", "refusals", url=url).stdout
    assert refusals.count("Lecture") == 2 and "C67B" in refusals and "S35" in refusals
    delay = run("audit", "delay", "--from", "reperage", "--to", "contrat", url=url)
    assert "Repérage → Contrat : 1 dossier(s) ; médiane 11 jours" in delay.stdout

    monkeypatch.delenv("ACCOMPAGNEMENT_AUDIT_KEY", raising=False)
    assert "ACCOMPAGNEMENT_AUDIT_KEY doit contenir" in run("audit", "seal", url=url).stderr
    monkeypatch.setenv("ACCOMPAGNEMENT_AUDIT_KEY", "operator-sealing-key-for-tests")
    today = datetime.now(UTC).date().isoformat()  # the log rows were recorded today
    for running in ("2099-12-31", today):
        refused = run("audit", "seal", "--through", running, url=url)
        assert refused.returncode != 0 and "seul un jour terminé (UTC) se scelle" in refused.stderr
    _as_if_recorded_the_day_before(db)
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    sealed = run("audit", "seal", "--through", yesterday, url=url)
    assert sealed.returncode == 0 and "1 jour(s) scellé(s)" in sealed.stdout
    head = sealed.stdout.split("tête à garder ailleurs (audit verify --expect) : ")[1].strip()
    verified = run("audit", "verify", "--expect", head, url=url)
    assert (
        "et 1 sceau(x) quotidien(s)" in verified.stdout
        and "finit chaque jour scellé sur sa tête scellée" in verified.stdout
    ), verified.stdout + verified.stderr
    assert run("audit", "verify", "--expect", f"{yesterday}:{'0' * 64}", url=url).returncode == 1
    monkeypatch.setenv("ACCOMPAGNEMENT_AUDIT_KEY", "another-operator-key-entirely")
    assert run("audit", "verify", url=url).returncode == 1


def test_person_export_retention_and_json_logs_without_personal_details(
    loaded: tuple[str, Story, Path],
) -> None:
    url, story, tmp = loaded
    exported = run("person", "export", story.ft, "--output", str(tmp / "person.json"), url=url)
    assert exported.returncode == 0, exported.stderr
    data = json.loads((tmp / "person.json").read_text(encoding="utf-8"))
    assert data["person"][0]["ft_identifier"] == story.ft and len(data["transition_log"]) == 4
    dry = run("retention", "run", "--months", "24", "--dry-run", url=url)
    assert "0 personne(s) seraient pseudonymisé(s)" in dry.stdout  # the case is open
    assert run("retention", "run", "--months", "zero", url=url).returncode == 2

    again = tmp / "again.jsonl"  # the same person oriented twice: refused, the reason names them
    twin = Story(ref="AG-67-99999")
    twin.ft = story.ft
    again.write_text(json.dumps(twin.orientation()) + "\n", encoding="utf-8")
    logged = run("--log-format", "json", "-v", "events", "ingest", str(again), url=url)
    assert "1 rejeté(s)" in logged.stdout and story.ft in logged.stdout  # told to the operator
    lines = [json.loads(line) for line in logged.stderr.splitlines() if line.startswith("{")]
    assert any("rejeté" in line["message"] for line in lines)
    assert story.ft not in logged.stderr  # but never written to the logs


def test_web_serve_with_two_processes_takes_events_on_one_port(
    loaded: tuple[str, Story, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`web serve --workers 2`: each uvicorn process makes its own app from the command's
    settings; events posted to the port are stored (applied in-process: no broker here)."""
    url, story, _ = loaded
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    issued = run("web", "token", "sid-e2e", "--partenaire", "france_travail", url=url)
    token = issued.stdout.strip()
    assert issued.returncode == 0 and issued.stdout == token + "\n" and len(token) >= 40  # the token alone
    assert "affiché une seule fois" in issued.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "ACCOMPAGNEMENT_WEB_SECRET": "e2e-" + "s" * 40, "PYTHONUTF8": "1"}
    env.pop("DATABASE_URL", None)  # the command's --database-url must reach the processes
    server = subprocess.Popen(
        [sys.executable, "-m", "workflow", "--database-url", url, "web", "serve", "--port", str(port),
         "--workers", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        answering(f"http://127.0.0.1:{port}/api/openapi.json", server)
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
        ) as c:
            answers = [c.post("/api/events", json=Story().orientation()).status_code for _ in range(6)]
            renewal = c.post("/api/events", json=story.renewal(days=100))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        out = server.communicate(timeout=30)[0].decode(errors="replace")
    assert answers == [202] * 6, out
    assert renewal.status_code == 202, renewal.text
    show = run("case", "show", story.ref, url=url)
    assert "Renouvellement" in show.stdout, show.stdout
    refused = run("web", "serve", "--workers", "0", url=url)
    assert (
        refused.returncode == 2 and "option --workers : 0 est hors des bornes : de 1 à 256" in refused.stderr
    )
