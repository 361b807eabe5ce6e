"""Mis solicitudes y reclamos."""

from __future__ import annotations

from flask_login import current_user

from ov.blueprints.office.common import bp, office_context, page
from ov.services import service_requests as service


@bp.get("/solicitudes")
def requests():
    return page("office/requests.html", "Mis solicitudes y reclamos", office=office_context(),
                filed=service.requests_of(current_user.id), line=service.line)
