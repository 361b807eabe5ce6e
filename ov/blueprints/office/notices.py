"""Avisos: the user's notices, newest first."""

from __future__ import annotations

from ov.blueprints.office.common import bp, office_context, page


@bp.get("/avisos")
def notices():
    office = office_context()
    return page("office/notices.html", "Avisos", office=office, notices=office.scope.notices())
