"""Inicio: last invoices, total debt, payments in process and the ways to pay."""

from __future__ import annotations

from flask import current_app

from ov.blueprints.office.common import bp, office_context, page, today
from ov.models.billing import InvoiceStatus
from ov.services import notices


@bp.get("")
def home():
    office = office_context()
    scope = office.scope
    unpaid = scope.unpaid_invoices()
    day = today()
    return page(
        "office/home.html",
        "Mi oficina",
        office=office,
        last_invoices=scope.last_invoices(),
        debt=sum((invoice.total for invoice in unpaid), start=0),
        overdue=sum(1 for invoice in unpaid if invoice.status_on(day) == InvoiceStatus.OVERDUE),
        in_process=scope.payments_in_process(),
        has_payments=scope.has_payments(),
        store_url=current_app.config["OV_STORE_URL"],
        # Every contract of the user's, whichever the page shows: an outage is news for each.
        service_notices_by_zone=notices.by_zone(notices.current_zone_notices(
            zone_ids={account.zone_id for account in scope.accounts})),
    )
