"""The console's templates, with the filters that write every date the French way in Paris
time and every code as its word (`workflow.domain.labels`)."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from workflow.domain import labels

HERE = Path(__file__).parent

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["paris"] = labels.instant
templates.env.filters["jour"] = labels.day
templates.env.filters["oui_non"] = labels.yes_no
templates.env.filters["cellule"] = lambda value, column: labels.cell(column, value)
for _name, _table in labels.TABLES.items():
    templates.env.filters[_name] = lambda code, table=_table: labels.word(table, code)
templates.env.filters["passage"] = labels.state_change
templates.env.filters["mois"] = labels.month
