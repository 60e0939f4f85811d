"""The console's templates, with the filters that make every date Paris time and every
deadline French."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

from workflow.domain.clock import PARIS

HERE = Path(__file__).parent


def _paris(value: datetime | None) -> str:
    """Instants people read are in Europe/Paris."""
    return "—" if value is None else value.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")


# The console speaks French; the command line and `workflow.domain.deadlines` name deadlines in English.
DEADLINES_FR = {
    "convocation (first appointment planned)": "convocation (premier rendez-vous fixé)",
    "entry (contract signed)": "entrée (contrat signé)",
    "first social and emploi appointments": "premiers rendez-vous social et emploi",
    "contract end": "fin du contrat",
    "maximum duration": "durée maximale",
}


def _deadline_status(text: str) -> str:
    """'met', 'due today', 'in 3 day(s)', 'overdue by 2 day(s)' in French."""
    number = "".join(ch for ch in text if ch.isdigit())
    if text.startswith("overdue"):
        return f"dépassée de {number} jour(s)"
    if text.startswith("in "):
        return f"dans {number} jour(s)"
    return {"met": "tenue", "due today": "aujourd'hui"}.get(text, text)


templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["paris"] = _paris
templates.env.filters["deadline"] = lambda name: DEADLINES_FR.get(name, name)
templates.env.filters["deadline_status"] = _deadline_status
