"""What every Mi oficina page shares: the blueprint, the signed-in rule, private headers,
the tabs around the panel, and the user's ``Scope``.

Every record is fetched through the user's own account links (``ov.services.office.Scope``):
another customer's invoice, PDF or fragment answers 404 and leaves an audit event.
Pages are private: ``Cache-Control: no-store``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask import Blueprint, Response, abort, request
from flask_login import current_user, login_required

from ov.extensions import db
from ov.formatting import LOCAL_TIME
from ov.htmx import render
from ov.models.billing import InvoiceStatus
from ov.services import audit
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
    """What every Mi oficina page shows around its panel, and the scope its queries use."""

    scope: data.Scope
    unread: int
    tabs: tuple = TABS

    @property
    def accounts(self) -> tuple:
        return self.scope.accounts

    @property
    def chosen(self) -> tuple:
        return self.scope.chosen

    @property
    def keep(self) -> dict[str, int]:
        """The query that keeps one chosen contract from tab to tab (empty for all)."""
        if len(self.accounts) > 1 and len(self.chosen) == 1:
            return {"contrato": self.chosen[0].id}
        return {}


def now() -> datetime:
    """The moment a request is handled at (tests set it)."""
    return datetime.now(UTC)


def today() -> date:
    return now().astimezone(LOCAL_TIME).date()


def office_context() -> Office:
    scope = data.Scope.of(current_user.id, request.args.get("contrato"))
    return Office(scope=scope, unread=scope.unread_notices())


def page(template: str, heading: str, **context) -> Response:
    # Only a page's own address goes into the history: never the URL a form was posted to.
    return render(
        template, "content", push=request.method == "GET", heading=heading, today=today(),
        status_labels=STATUS_LABELS, reading_labels=READING_LABELS, banks=data.BANKS,
        stores=data.STORES, **context,
    )


def int_arg(name: str, default: int | None = None, *, low: int = 1,
            high: int = 100_000) -> int | None:
    """A whole number from the query string, or ``default`` when absent, odd or out of range."""
    value = digits(request.args.get(name, ""))
    if value is None:
        return default
    return value if low <= value <= high else default


def digits(raw) -> int | None:
    """An id as a form or a link sends it: plain ASCII digits, at most 9 (spaces at either
    end allowed), else None."""
    text = "" if raw is None else str(raw).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        return None
    return int(text)


def not_yours(kind: str, record_id: int):
    """Another customer's record (or none at all): the same 404, and a note in the audit."""
    audit.record("access_denied", user_id=current_user.id, client_address=request.remote_addr,
                 record=kind, record_id=record_id)
    db.session.commit()
    abort(404)
