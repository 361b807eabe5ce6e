"""Mis consumos: each chosen contract's last 24 periods as a chart and a table, the readings
the customer sent that wait for review, and why the latest bill changed."""

from __future__ import annotations

from ov.blueprints.office.common import bp, office_context, page
from ov.services import consumption as usage


@bp.get("/consumos")
def consumption():
    office = office_context()
    return page("office/consumption.html", "Mis consumos", office=office,
                sections=usage.usage(office.scope))
