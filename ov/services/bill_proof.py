"""The proof of the bill: zone, account number and invoice number, behind the CAPTCHA.

The bill is the customer's key to registration, recovery by bill and anything else that
links a contract to a user. Only a bill a current occupant could hold counts: one of the
contract's ``OV_PROOF_RECENT_INVOICES`` newest invoices (by issue date). A bill from two
years ago, found in a drawer or a bin, proves nothing.

A wrong number, an old bill and another zone all get the same generic message and cost the
same single query, so the answer says nothing about which part was wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from sqlalchemy import select

from ov.extensions import db
from ov.models import Account, Invoice
from ov.services import audit, captcha
from ov.services.validation import same_invoice_number

NO_MATCH = (
    "Los datos no coinciden con ninguna factura de esa zona. Revisa la zona geográfica, el "
    "número de cuenta y el número de factura tal como aparecen en tu factura más reciente."
)


@dataclass
class Proof:
    """The outcome: the proved account, or what to say and with which HTTP status."""

    account: Account | None = None
    issued: date | None = None  # the proved invoice's issue date
    status: int = 422
    errors: list[tuple[str, str]] = field(default_factory=list)
    captcha_error: str | None = None


def recent_invoices() -> int:
    """How many of a contract's newest invoices prove it (``ov.config`` keeps it >= 1)."""
    return int(current_app.config["OV_PROOF_RECENT_INVOICES"])


def prove_ownership(
    zone_id: int, account_number: str, invoice_number: str
) -> tuple[Account, date] | None:
    """The account in that zone whose recent invoices include that number, and that
    invoice's issue date; or None.

    One query: the account with its newest invoice numbers (at most ``recent_invoices()``
    rows, read through the account/issue-date index), compared here.
    """
    rows = db.session.execute(
        select(Account, Invoice.number, Invoice.issue_date)
        .join(Invoice, Invoice.account_id == Account.id)
        .where(Account.zone_id == zone_id, Account.number == account_number)
        .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
        .limit(recent_invoices())
    ).all()
    numbers = [number for _account, number, _issued in rows]
    if not rows or not same_invoice_number(invoice_number, numbers):
        return None
    issued = [day for _account, number, day in rows if number == invoice_number] or [
        day for _account, number, day in rows if same_invoice_number(invoice_number, [number])]
    return rows[0][0], issued[0]


def prove(
    zone_id: int,
    account_number: str,
    invoice_number: str,
    *,
    answers: Mapping[str, str],
    client_address: str | None,
    purpose: str,
) -> Proof:
    """The CAPTCHA (``answers`` holds its form fields), then the bill.

    ``purpose`` names the journey in the audit trail (``<purpose>_proof_failed``). Values
    must already be cleaned by the field rules (``ov.services.validation``).
    """
    result = Proof()
    checked = captcha.verify(answers, client_address)
    if not checked.ok:
        audit.record("captcha_failed", client_address=client_address, code=checked.code)
        result.captcha_error = checked.message
        result.errors = [(captcha.ERROR_TARGET, checked.message)]
        result.status = 503 if checked.unavailable else 422
        return result
    proved = prove_ownership(zone_id, account_number, invoice_number)
    if proved is None:
        audit.record(f"{purpose}_proof_failed", client_address=client_address, zone_id=zone_id)
        result.errors = [("", NO_MATCH)]
        return result
    result.account, result.issued = proved
    return result
