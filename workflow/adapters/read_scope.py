"""A reader's scope (`workflow.domain.permissions.read_scope`) as a condition on `case_file`:
the one translation of the permission table's "who reads which case" into SQL."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, true

from models import Case
from workflow.domain.permissions import ReadScope, read_scope
from workflow.domain.records import ProfessionalFields


def readable(reader: ProfessionalFields | None) -> ColumnElement[bool]:
    """The cases `reader` may see, as a condition on `Case` (None: the operator's own tools)."""
    return condition(read_scope(reader))


def condition(scope: ReadScope) -> ColumnElement[bool]:
    if scope.everything:
        return true()
    if scope.departement is not None:
        return Case.convention_code == scope.departement
    if scope.professional is not None:
        who = scope.professional
        return or_(Case.conseiller_id == who, Case.referent_social_id == who, Case.orienteur_id == who)
    return false()
