"""Mis facturas: the paged table, one invoice, its PDF duplicate and its CFDI."""

from __future__ import annotations

import re
from datetime import date

from flask import Response, abort, current_app, request
from flask_login import current_user

from ov.blueprints.office.common import (
    READING_LABELS,
    STATUS_LABELS,
    bp,
    int_arg,
    not_yours,
    office_context,
    page,
    today,
)
from ov.htmx import is_partial, render
from ov.services import consumption as usage
from ov.services import office as data
from ov.services import references

TABLE_ID = "tabla-facturas"


def coupon_for(invoice, day: date):
    """The bill's coupon; None when paid, or when its amount is too large for a reference
    (the page then sends the customer to a bank counter with the account number)."""
    try:
        return references.coupon_for(invoice.account, invoice, day)
    except ValueError:
        current_app.logger.warning("no payment reference for invoice %s", invoice.id)
        return None


def own_invoice(invoice_id: int, what: str):
    """One of the user's invoices; another customer's (or none) is a 404 left in the audit."""
    found = data.Scope.of(current_user.id).invoice(invoice_id)
    if found is None:
        not_yours(what, invoice_id)
    return found


def attachment(response: Response, invoice, prefix: str, extension: str) -> Response:
    """Download under ``factura-ZE40389382-2026-10-28.pdf``: the printed number (any sign
    in it as a hyphen) and the issue date, as the customer finds the bill again."""
    number = re.sub(r"[^A-Za-z0-9]+", "-", invoice.number).strip("-")
    name = f"{prefix}-{number}-{invoice.issue_date:%Y-%m-%d}.{extension}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/facturas")
def invoices():
    office = office_context()
    year = int_arg("anio", low=1900, high=2100)
    state = request.args.get("estado") or None
    invoices_page = office.scope.invoices_page(
        year=year, status=state, today=today(), number=int_arg("pagina", 1) or 1
    )
    context = {
        "office": office, "invoices_page": invoices_page, "year": year, "state_filter": state,
        "table_id": TABLE_ID,
        # Invoices an open claim puts "en aclaración" (one query for the page's invoices).
        "in_clarification": office.scope.open_claims([i.id for i in invoices_page.items]),
    }
    if is_partial() and request.headers.get("HX-Target", "").endswith(f"#{TABLE_ID}"):
        # The table alone: the lazy load of the tab, and the pages of the table.
        response = render("office/invoices.html", "table", title=False, today=today(),
                          status_labels=STATUS_LABELS, reading_labels=READING_LABELS, **context)
    else:
        response = page("office/invoices.html", "Mis facturas", lazy=is_partial(),
                        years=office.scope.invoice_years(), **context)
    response.vary.add("HX-Target")
    return response


@bp.get("/facturas/<int(max=2147483647):invoice_id>")
def invoice(invoice_id: int):
    found = own_invoice(invoice_id, "invoice")
    office = office_context()
    return page(
        "office/invoice.html",
        f"Factura {found.number}",
        office=office,
        invoice=found,
        account=found.account,
        coupon=coupon_for(found, today()),
        bill_changes=usage.invoice_changes(found),
        clarification=office.scope.open_claims([found.id]).get(found.id),
    )


@bp.get("/facturas/<int(max=2147483647):invoice_id>/duplicado.pdf")
def invoice_pdf(invoice_id: int):
    from ov.services import documents  # reportlab loads only when a PDF is asked for

    found = own_invoice(invoice_id, "invoice_pdf")
    day = today()
    coupon = coupon_for(found, day)
    body = documents.invoice_pdf(found, found.account, found.account.zone, coupon, today=day)
    return attachment(Response(body, mimetype="application/pdf"), found, "factura", "pdf")


@bp.get("/facturas/<int(max=2147483647):invoice_id>/cfdi.xml")
def invoice_cfdi(invoice_id: int):
    found = own_invoice(invoice_id, "invoice_cfdi")
    if not found.cfdi_xml:
        abort(404)
    return attachment(Response(found.cfdi_xml, mimetype="application/xml"), found, "cfdi",
                      "xml")
