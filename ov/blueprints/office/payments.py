"""Mis pagos: the balance coupon per contract and the payments history."""

from __future__ import annotations

from ov.blueprints.office.common import bp, int_arg, office_context, page, today
from ov.services import references


@bp.get("/pagos")
def payments():
    office = office_context()
    scope = office.scope
    unpaid = scope.unpaid_invoices()
    day = today()
    balances = []
    for account in office.chosen:
        owed = [invoice for invoice in unpaid if invoice.account_id == account.id]
        try:
            coupon = references.balance_reference(account, owed, day)
        except ValueError:  # too large for a reference: the invoices' page says what to do
            coupon = None
        if coupon:
            balances.append((account, coupon))
    return page(
        "office/payments.html",
        "Mis pagos",
        office=office,
        payments_page=scope.payments_page(number=int_arg("pagina", 1) or 1),
        balances=balances,
        in_process=scope.payments_in_process(),
    )
