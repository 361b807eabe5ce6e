"""Mi oficina: the signed-in customer's home, invoices, payments, consumption and data.

Every record is fetched through the user's own account links (``ov.services.office``):
another customer's invoice, PDF or fragment answers 404 and leaves an audit event.
Pages are private: ``Cache-Control: no-store``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from flask import Blueprint, Response, abort, current_app, request
from flask_login import current_user, login_required

from ov.extensions import db
from ov.formatting import LOCAL_TIME
from ov.htmx import is_partial, render
from ov.models.billing import InvoiceStatus
from ov.services import audit, references
from ov.services import office as data

bp = Blueprint("office", __name__, url_prefix="/mi-oficina")

TABS = (
    ("office.profile", "Mis datos"),
    ("office.contracts", "Mis contratos"),
    ("office.invoices", "Mis facturas"),
    ("office.consumption", "Mis consumos"),
    ("office.requests", "Mis solicitudes y reclamos"),
    ("office.payments", "Mis pagos"),
)
STATUS_LABELS = {
    InvoiceStatus.PAID: "pagada",
    InvoiceStatus.PENDING: "pendiente",
    InvoiceStatus.OVERDUE: "vencida",
}
READING_LABELS = {"real": "real", "estimated": "estimada", "customer": "del cliente"}
TABLE_ID = "tabla-facturas"


@bp.before_request
@login_required
def signed_in_only() -> None:
    """Every page here needs a signed-in customer (Flask-Login sends others to /entrar)."""


@bp.after_request
def private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@dataclass(frozen=True)
class Office:
    """What every Mi oficina page shows around its panel."""

    accounts: list
    chosen: list
    unread: int
    tabs: tuple = TABS

    @property
    def chosen_ids(self) -> list[int]:
        return [account.id for account in self.chosen]

    @property
    def keep(self) -> dict[str, int]:
        """The query that keeps one chosen contract from tab to tab (empty for all)."""
        if len(self.accounts) > 1 and len(self.chosen) == 1:
            return {"contrato": self.chosen[0].id}
        return {}


def today() -> date:
    return datetime.now(LOCAL_TIME).date()


def office_context() -> Office:
    accounts = data.accounts(current_user.id)
    return Office(
        accounts=accounts,
        chosen=data.choose(accounts, request.args.get("contrato")),
        unread=data.unread_notices(current_user.id),
    )


def page(template: str, heading: str, **context) -> Response:
    return render(
        template, "content", push=True, heading=heading, today=today(),
        status_labels=STATUS_LABELS, reading_labels=READING_LABELS, banks=data.BANKS,
        stores=data.STORES, **context,
    )


def int_arg(name: str, default: int | None = None, *, low: int = 1,
            high: int = 100_000) -> int | None:
    """A whole number from the query string, or ``default`` when absent, odd or out of range."""
    raw = request.args.get(name, "")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        return default
    value = int(raw)
    return value if low <= value <= high else default


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
    found = data.invoice(current_user.id, invoice_id)
    if found is None:
        not_yours(what, invoice_id)
    return found


def not_yours(kind: str, record_id: int):
    """Another customer's record (or none at all): the same 404, and a note in the audit."""
    audit.record("access_denied", user_id=current_user.id, client_address=request.remote_addr,
                 record=kind, record_id=record_id)
    db.session.commit()
    abort(404)


def attachment(response: Response, invoice, prefix: str, extension: str) -> Response:
    """Download under ``factura-ZE40389382-2026-10-28.pdf``: the printed number (any sign
    in it as a hyphen) and the issue date, as the customer finds the bill again."""
    number = re.sub(r"[^A-Za-z0-9]+", "-", invoice.number).strip("-")
    name = f"{prefix}-{number}-{invoice.issue_date:%Y-%m-%d}.{extension}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("")
def home():
    office = office_context()
    ids = office.chosen_ids
    unpaid = data.unpaid_invoices(ids)
    day = today()
    return page(
        "office/home.html",
        "Mi oficina",
        office=office,
        last_invoices=data.last_invoices(ids),
        debt=sum((invoice.total for invoice in unpaid), start=0),
        overdue=sum(1 for invoice in unpaid if invoice.status_on(day) == InvoiceStatus.OVERDUE),
        in_process=data.payments_in_process(ids),
        has_payments=data.has_payments(ids),
        store_url=current_app.config["OV_STORE_URL"],
    )


@bp.get("/facturas")
def invoices():
    office = office_context()
    ids = office.chosen_ids
    year = int_arg("anio", low=1900, high=2100)
    state = request.args.get("estado") or None
    invoices_page = data.invoices_page(
        ids, year=year, status=state, today=today(), number=int_arg("pagina", 1) or 1
    )
    context = {
        "office": office, "invoices_page": invoices_page, "years": data.invoice_years(ids),
        "year": year, "state_filter": state, "table_id": TABLE_ID,
    }
    if is_partial() and request.headers.get("HX-Target", "").endswith(f"#{TABLE_ID}"):
        # The table alone: the lazy load of the tab, and the pages of the table.
        response = render("office/invoices.html", "table", title=False, today=today(),
                          status_labels=STATUS_LABELS, reading_labels=READING_LABELS, **context)
    else:
        response = page("office/invoices.html", "Mis facturas", lazy=is_partial(), **context)
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


@bp.get("/datos")
def profile():
    return page("office/profile.html", "Mis datos", office=office_context(), user=current_user)


@bp.get("/contratos")
def contracts():
    return page("office/contracts.html", "Mis contratos", office=office_context())


@bp.get("/consumos")
def consumption():
    office = office_context()
    periods = data.consumption(office.chosen_ids)
    peak = max((invoice.consumption_m3 for invoice in periods), default=0)
    return page("office/consumption.html", "Mis consumos", office=office, periods=periods,
                peak=peak)


@bp.get("/solicitudes")
def requests():
    return page("office/requests.html", "Mis solicitudes y reclamos", office=office_context())


@bp.get("/pagos")
def payments():
    office = office_context()
    ids = office.chosen_ids
    unpaid = data.unpaid_invoices(ids)
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
        payments_page=data.payments_page(ids, number=int_arg("pagina", 1) or 1),
        balances=balances,
        in_process=data.payments_in_process(ids),
    )


@bp.get("/avisos")
def notices():
    return page("office/notices.html", "Avisos", office=office_context(),
                notices=data.notices(current_user.id))
