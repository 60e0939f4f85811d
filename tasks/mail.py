"""Delivering one rendered email: SMTP when a server is configured, else a `.eml` file.

Settings (environment):
    ACCOMPAGNEMENT_SMTP_HOST       the server; unset: emails are written to the outbox folder
    ACCOMPAGNEMENT_SMTP_PORT       default 587 (starttls), 465 (ssl), 25 (none)
    ACCOMPAGNEMENT_SMTP_SECURITY   starttls (default), ssl, or none (a relay on loopback)
    ACCOMPAGNEMENT_SMTP_USER, ACCOMPAGNEMENT_SMTP_PASSWORD   login, if the server wants one
    ACCOMPAGNEMENT_SMTP_TIMEOUT    seconds, default 30
    ACCOMPAGNEMENT_MAIL_FROM       default accompagnement-global@localhost
    ACCOMPAGNEMENT_OUTBOX_DIR      the `.eml` folder, default ./outbox
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from pathlib import Path

from workflow.application.outbox import Draft

_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


@dataclass(frozen=True)
class MailSettings:
    host: str | None
    port: int
    security: str
    user: str | None
    password: str | None
    timeout: float
    sender: str
    outbox: Path

    @classmethod
    def from_env(cls) -> MailSettings:
        env = os.environ
        security = env.get("ACCOMPAGNEMENT_SMTP_SECURITY", "starttls")
        if security not in _DEFAULT_PORTS:
            raise ValueError(
                f"ACCOMPAGNEMENT_SMTP_SECURITY must be one of {', '.join(_DEFAULT_PORTS)} (got {security!r})"
            )
        port = env.get("ACCOMPAGNEMENT_SMTP_PORT")
        return cls(
            host=env.get("ACCOMPAGNEMENT_SMTP_HOST") or None,
            port=int(port) if port else _DEFAULT_PORTS[security],
            security=security,
            user=env.get("ACCOMPAGNEMENT_SMTP_USER") or None,
            password=env.get("ACCOMPAGNEMENT_SMTP_PASSWORD") or None,
            timeout=float(env.get("ACCOMPAGNEMENT_SMTP_TIMEOUT", "30")),
            sender=env.get("ACCOMPAGNEMENT_MAIL_FROM", "accompagnement-global@localhost"),
            outbox=Path(env.get("ACCOMPAGNEMENT_OUTBOX_DIR", "outbox")),
        )


def message(draft: Draft, settings: MailSettings) -> EmailMessage:
    """The MIME message: plain text with an HTML alternative, and a Message-ID that stays the
    same for every attempt at the same email, so a receiving system can tell a resend."""
    msg = EmailMessage()
    msg["Subject"] = draft.rendered.subject
    msg["From"] = formataddr(("Accompagnement global", settings.sender))
    msg["To"] = ", ".join(formataddr((name, address)) for name, address in draft.to)
    msg["Date"] = formatdate(usegmt=True)
    domain = settings.sender.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = f"<{draft.key.replace(':', '.')}.{draft.email_id}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    msg.set_content(draft.rendered.text)
    msg.add_alternative(draft.rendered.html, subtype="html")
    for attachment in draft.attachments:
        maintype, subtype = attachment.mimetype.split("/", 1)
        msg.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return msg


def deliver(draft: Draft, settings: MailSettings) -> str:
    """Send (or write) the email; raises smtplib.SMTPException or OSError on failure.
    Returns where it went, for the logs."""
    msg = message(draft, settings)
    if settings.host is None:
        settings.outbox.mkdir(parents=True, exist_ok=True)
        path = settings.outbox / f"{draft.key.replace(':', '_')}.eml"
        temporary = path.with_suffix(".eml.tmp")
        temporary.write_bytes(bytes(msg))
        temporary.replace(path)  # a reader never sees half a message
        return str(path)
    smtp: smtplib.SMTP
    if settings.security == "ssl":
        smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                context=ssl.create_default_context())  # fmt: skip
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with smtp:
        if settings.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if settings.user:
            smtp.login(settings.user, settings.password or "")
        smtp.send_message(msg)
    return f"smtp://{settings.host}:{settings.port}"
