"""Inicio: last invoices, total debt, payments in process and the ways to pay."""

from __future__ import annotations

from flask import current_app

from ov.blueprints.office.common import bp, office_context, page, today
from ov.models.billing import InvoiceStatus


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
    )
