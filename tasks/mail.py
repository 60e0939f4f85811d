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
from email.charset import QP, Charset
from email.encoders import encode_base64
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formataddr, formatdate
from pathlib import Path

from workflow.application.outbox import Attachment, Draft

_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}

# UTF-8 bodies in quoted-printable: 7-bit safe for any relay, and still readable as text.
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


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


def message(draft: Draft, settings: MailSettings) -> Message:
    """The MIME message: plain text with an HTML alternative (and the attachments), and a
    Message-ID that stays the same for every attempt at the same email, so a receiving system
    can tell a resend. Built with the `email.mime` classes: `EmailMessage`'s header registry
    parses every header it is given again, four times slower for the same bytes.

    The boundaries are set here, from the email's id: they begin with "=_", which neither
    quoted-printable nor base64 can write, so they cannot occur in a part. Left unset, the
    generator draws a random one and compiles a regular expression to search every part
    for it, a tenth of the message's cost."""
    body = MIMEMultipart("alternative", boundary=f"=_alternative.{draft.email_id}")
    for text, subtype in ((draft.rendered.text, "plain"), (draft.rendered.html, "html")):
        part = MIMENonMultipart("text", subtype)
        part.set_payload(text, _UTF8_QP)
        body.attach(part)
    msg: Message = body
    if draft.attachments:
        msg = MIMEMultipart("mixed", boundary=f"=_mixed.{draft.email_id}")
        msg.attach(body)
        for attachment in draft.attachments:
            msg.attach(_attachment(attachment))
    msg["Subject"] = Header(draft.rendered.subject, "utf-8", header_name="Subject").encode()
    msg["From"] = formataddr(("Accompagnement global", settings.sender))
    msg["To"] = ", ".join(formataddr((name, address)) for name, address in draft.to)
    msg["Date"] = formatdate(draft.written_at.timestamp() if draft.written_at else None, usegmt=True)
    domain = settings.sender.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = f"<{draft.key.replace(':', '.')}.{draft.email_id}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    return msg


def _attachment(attachment: Attachment) -> MIMEBase:
    maintype, subtype = attachment.mimetype.split("/", 1)
    part = MIMEBase(maintype, subtype)
    if maintype == "text":
        part.set_param("charset", "utf-8")  # our text files are UTF-8
    part.set_payload(attachment.data)
    encode_base64(part)
    name = attachment.filename
    filename: str | tuple[str, str, str] = name if name.isascii() else ("utf-8", "", name)
    part.add_header("Content-Disposition", "attachment", filename=filename)
    return part


class Mailer:
    """Delivers a group of emails over one SMTP connection (opened at the first email, opened
    again after a failure), or writes them as `.eml` files when no server is configured.

    Use as a context manager: the connection is closed at the end of the group."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def deliver(self, draft: Draft) -> str:
        """Send (or write) the email; raises smtplib.SMTPException or OSError on failure.
        Returns where it went, for the logs."""
        settings = self.settings
        msg = message(draft, settings)
        if settings.host is None:
            settings.outbox.mkdir(parents=True, exist_ok=True)
            path = settings.outbox / f"{draft.key.replace(':', '_')}.eml"
            temporary = path.with_suffix(".eml.tmp")
            temporary.write_bytes(msg.as_bytes())
            temporary.replace(path)  # a reader never sees half a message
            return str(path)
        try:
            self._connection().send_message(msg)
        except (smtplib.SMTPException, OSError):
            self._close()  # the next email starts from a fresh connection
            raise
        return f"smtp://{settings.host}:{settings.port}"

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        settings = self.settings
        assert settings.host is not None
        smtp: smtplib.SMTP
        if settings.security == "ssl":
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                    context=ssl.create_default_context())  # fmt: skip
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        try:
            if settings.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.user:
                smtp.login(settings.user, settings.password or "")
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def _close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
