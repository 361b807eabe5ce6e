"""Mis consumos: the consumption of the last periods."""

from __future__ import annotations

from ov.blueprints.office.common import bp, office_context, page


@bp.get("/consumos")
def consumption():
    office = office_context()
    periods = office.scope.consumption()
    peak = max((invoice.consumption_m3 for invoice in periods), default=0)
    return page("office/consumption.html", "Mis consumos", office=office, periods=periods,
                peak=peak)
