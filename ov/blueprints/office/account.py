"""Mis datos: the page that gathers every area of the user's own data.

Each area is a module with its own pages and a ``summary`` for this one: the access and
contact data and the recent activity here, ``preferences``, ``privacy`` (ARCO rights).
"""

from __future__ import annotations

from flask_login import current_user

from ov.blueprints.office import preferences, privacy
from ov.blueprints.office.common import bp, office_context, page


@bp.get("/datos")
def profile():
    office = office_context()
    return page("office/profile.html", "Mis datos", office=office, user=current_user,
                preferences=preferences.summary(office), privacy=privacy.summary(office))
