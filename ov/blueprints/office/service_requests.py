"""Mis solicitudes y reclamos."""

from __future__ import annotations

from ov.blueprints.office.common import bp, office_context, page


@bp.get("/solicitudes")
def requests():
    return page("office/requests.html", "Mis solicitudes y reclamos", office=office_context())
