"""Inicio: last invoices, total debt, payments in process and the ways to pay."""

from __future__ import annotations

from flask import current_app

from ov.blueprints.office.common import bp, office_context, page, today
from ov.services import notices


@bp.get("")
def home():
    office = office_context()
    scope = office.scope
    # The last invoices with the debt, overdue, in process and "any payment": one query.
    last_invoices, summary = scope.last_invoices_and_summary(today())
    return page(
        "office/home.html",
        "Mi oficina",
        office=office,
        last_invoices=last_invoices,
        debt=summary.debt,
        overdue=summary.overdue,
        in_process=summary.in_process,
        has_payments=summary.has_payments,
        store_url=current_app.config["OV_STORE_URL"],
        # Every contract of the user's, whichever the page shows: an outage is news for each.
        service_notices_by_zone=notices.by_zone(notices.current_zone_notices(
            zone_ids={account.zone_id for account in scope.accounts})),
    )
