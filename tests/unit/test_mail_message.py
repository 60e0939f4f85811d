"""The MIME message of an email (`tasks.mail.message`): its boundaries are set from the email's
id, so they must never occur inside a part, whatever the texts and attachments hold, and a
reader must get back exactly the parts that were written."""

from __future__ import annotations

import email
from datetime import datetime
from email.message import Message
from pathlib import Path

from tasks.mail import MailSettings, message
from workflow.adapters.email_rendering import Rendered
from workflow.application.outbox import Attachment, Draft
from workflow.domain.clock import PARIS

SETTINGS = MailSettings(None, 25, "none", None, None, 30, "accompagnement@cd67.example", Path("outbox"))

# Texts that hold what the boundaries look like, and a line that begins like a boundary line.
TEXT = "Rappel – dossier AG-67-000001\n--=_alternative.7\n=_mixed.7 et =_alternative.7 écrits tels quels\n"
HTML = "<p>--=_alternative.7</p><p>=_mixed.7</p>"
CSV = "--=_mixed.7;=_alternative.7\nréférence;date\n"


def draft(attachments: list[Attachment]) -> Draft:
    rendered = Rendered("[Accompagnement global] Revue de portefeuille — Nord — avril 2026", TEXT, HTML)
    to = [("Claire Dupont", "claire@ft.example")]
    return Draft(7, "revue:7", to, rendered, 1, attachments, datetime(2026, 4, 2, 9, 30, tzinfo=PARIS))


def parts(msg: Message) -> list[tuple[str, object]]:
    return [(p.get_content_type(), p.get_payload(decode=True)) for p in msg.walk() if not p.is_multipart()]


def test_the_boundaries_never_occur_in_a_part_and_every_part_reads_back() -> None:
    data = b"PK\x03\x04 --=_mixed.7 =_alternative.7 \xff\x00"
    attachments = [Attachment("revue.xlsx", data, "application/octet-stream"),
                   Attachment("revue.csv", CSV.encode(), "text/csv")]  # fmt: skip
    written = message(draft(attachments), SETTINGS).as_bytes()

    read = email.message_from_bytes(written)
    assert read.get_content_type() == "multipart/mixed"
    assert parts(read) == [
        ("text/plain", TEXT.encode()),
        ("text/html", HTML.encode()),
        ("application/octet-stream", data),
        ("text/csv", CSV.encode()),
    ]
    lines = written.split(b"\n")
    for boundary in (b"=_mixed.7", b"=_alternative.7"):
        # Only the delimiter lines hold a boundary (and the Content-Type that declares it).
        holding = [line.rstrip(b"\r") for line in lines if boundary in line]
        declared = [line for line in holding if b"boundary=" in line]
        assert len(declared) == 1
        assert set(holding) - set(declared) <= {b"--" + boundary, b"--" + boundary + b"--"}


def test_an_email_without_attachment_is_one_alternative_and_the_same_bytes_at_each_attempt() -> None:
    first = message(draft([]), SETTINGS).as_bytes()
    read = email.message_from_bytes(first)
    assert read.get_content_type() == "multipart/alternative"
    assert parts(read) == [("text/plain", TEXT.encode()), ("text/html", HTML.encode())]
    assert message(draft([]), SETTINGS).as_bytes() == first  # a resend is the same message
