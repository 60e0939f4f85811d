"""The French wording of reminder emails, from Jinja2 templates (`workflow/adapters/templates/`).

An email names the kind of reminder, the case reference and the dates that make it due, and
links to the case: never a barrier, a health or social detail, nor the person's status (GDPR;
all seeds, article on déontologie). The case itself is read in the tool, behind its access
rules. One template serves both one reminder and a caseworker's daily digest.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from models import Revue
from workflow.domain import labels
from workflow.domain.vocabulary import ReminderKind

SUBJECT_PREFIX = "[Accompagnement global]"


@dataclass(frozen=True)
class ReminderLine:
    """One reminder as an email tells it: dates and references only."""

    kind: ReminderKind
    case_reference: str
    due: date
    orientation: date
    contract_start: date | None
    contract_end: date | None
    renewal_possible: bool
    figure: int | None  # the rule's number of days (convocation, entry, first appointments)

    @property
    def title(self) -> str:
        return labels.REMINDER_KINDS[self.kind]

    @property
    def link(self) -> str | None:
        """The case in the web console, when its address is configured."""
        base = os.environ.get("ACCOMPAGNEMENT_CONSOLE_URL", "").rstrip("/")
        return f"{base}/dossiers/{self.case_reference}" if base else None


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


_ENV = Environment(
    loader=PackageLoader("workflow.adapters", "templates"),
    autoescape=select_autoescape(["html.j2"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    auto_reload=False,  # the templates ship with the code: no stat of their files at each email
)
_ENV.filters["jour"] = labels.day


def reference(key: str) -> str:
    """An email's key as its reader may quote it to the operator: « rappel n° 1013 », « revue
    n° 12 », « récapitulatif du 02/03/2026 (C67) »; the key itself ends the Message-ID."""
    kind, _, rest = key.partition(":")
    if kind == "reminder":
        return f"rappel n° {rest}"
    if kind == "revue":
        return f"revue n° {rest}"
    if kind == "digest":
        day, _, person = rest.partition(":")
        return f"récapitulatif du {labels.day(day)} ({person.partition(':')[0]})"
    return key


def render(key: str, items: Sequence[ReminderLine], day: date) -> Rendered:
    """The subject, plain-text and HTML parts of one email carrying `items`."""
    if not items:
        raise ValueError(f"email {key} carries no reminder")
    if len(items) == 1:
        subject = f"{SUBJECT_PREFIX} {items[0].title} – dossier {items[0].case_reference}"
    else:
        subject = f"{SUBJECT_PREFIX} {len(items)} rappels du {labels.day(day)}"
    values = {"items": list(items), "day": day, "key": reference(key), "subject": subject}
    return Rendered(
        subject,
        _ENV.get_template("rappels.txt.j2").render(values),
        _ENV.get_template("rappels.html.j2").render(values),
    )


TURNS = {
    "conseiller": "le conseiller France Travail",
    "referent_social": "le travailleur social du Département",
}


def render_revue(revue: Revue) -> Rendered:
    """The email that carries an agency's revue: dates, whose turn the secretariat is (seed 004
    art. 5.2: « en alternance »), how many items each section holds; the tableau is attached."""
    month_name = labels.month(revue.month)
    subject = f"{SUBJECT_PREFIX} Revue de portefeuille — {revue.agence} — {month_name}"
    sections = ("entrees", "renouvellements", "sorties", "a_debattre")
    values = {
        "revue": revue, "month_name": month_name, "subject": subject, "key": reference(f"revue:{revue.id}"),
        "turn": TURNS.get(revue.secretariat, revue.secretariat),
        "counts": {name: len(revue.content.get(name, [])) for name in sections},
    }  # fmt: skip
    return Rendered(
        subject,
        _ENV.get_template("revue.txt.j2").render(values),
        _ENV.get_template("revue.html.j2").render(values),
    )
