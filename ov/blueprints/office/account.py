"""Mis datos."""

from __future__ import annotations

from flask_login import current_user

from ov.blueprints.office.common import bp, office_context, page


@bp.get("/datos")
def profile():
    return page("office/profile.html", "Mis datos", office=office_context(), user=current_user)
