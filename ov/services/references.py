"""Payment references: the digits a bank or a store types (or scans) to take a payment.

Format — 36 digits, no letters, so a cashier can type it and Code128 encodes it in set C
(two digits per symbol)::

    ZZ AAAAAAAA IIIIIIIIII MMMMMMMM YYMMDD CC
    │  │        │          │        │      └ check pair: ISO 7064 MOD 97-10 over all 36
    │  │        │          │        └ pay before this date (20YY), inclusive
    │  │        │          └ amount in centavos, zero-padded (at most $999,999.99)
    │  │        └ the invoice: ``Invoice.id`` of the billing mirror, zero-padded;
    │  │          ``0000000000`` for the account's whole current balance
    │  └ the account number ("póliza", 1-8 digits), zero-padded; its printed check digit
    │    (the one after the hyphen) is not part of it
    └ the zone: ``Zone.id``

The invoice is identified by its id, not by its printed number: the number is ten
characters "as printed" and may hold letters or other signs, so it has no faithful short
numeric form; the id is a number, unique, and never changes for the life of the record.

The check pair makes the whole 36-digit number ≡ 1 (mod 97), as an IBAN does. Every single
wrong digit and every swap of two neighbouring digits (and of two digits one apart) changes
the remainder, so the reference is refused before it reaches the billing system; a missing
or extra digit changes the length.

Which coupon a bill gets (:func:`coupon_for`):

* paid: none;
* pending (not yet due): its total, payable until its due date;
* overdue: its total plus the late fee (setting ``OV_COUPON_LATE_FEE``, IVA included,
  ``0`` when the billing system charges it on the next bill), payable until today +
  ``OV_COUPON_VALID_DAYS`` days, since banks and stores refuse an expired coupon.

:func:`balance_reference` makes one coupon for every unpaid bill of an account together
("pagar mi saldo"). ``docs/payment-reference.md`` describes the format for the banks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from flask import current_app, has_app_context

from ov.models.billing import Account, Invoice, InvoiceStatus

ZONE_DIGITS = 2
ACCOUNT_DIGITS = 8
INVOICE_DIGITS = 10
AMOUNT_DIGITS = 8
DATE_DIGITS = 6
CHECK_DIGITS = 2
PAYLOAD_LENGTH = ZONE_DIGITS + ACCOUNT_DIGITS + INVOICE_DIGITS + AMOUNT_DIGITS + DATE_DIGITS
LENGTH = PAYLOAD_LENGTH + CHECK_DIGITS

#: The invoice field of a reference for the whole balance.
BALANCE_INVOICE = 0
DEFAULT_VALID_DAYS = 3
MAX_AMOUNT = Decimal(10**AMOUNT_DIGITS - 1) / 100
CENT = Decimal("0.01")

# What people put between groups when they copy a reference: spaces, hyphens, dots.
_SEPARATORS = re.compile(r"[\s\-.]+")
_DIGITS = re.compile(r"[0-9]+")


class InvalidReference(ValueError):
    """A reference that cannot be right; the message is Spanish, for the customer."""


@dataclass(frozen=True)
class ParsedReference:
    """What a valid reference says."""

    reference: str
    zone_id: int
    #: Without the zero padding: compare with ``Account.number`` as integers if the
    #: billing system keeps leading zeros.
    account_number: str
    #: ``Invoice.id``, or ``None`` for the account's whole balance.
    invoice_id: int | None
    amount: Decimal
    due: date

    @property
    def is_balance(self) -> bool:
        return self.invoice_id is None


@dataclass(frozen=True)
class Coupon:
    """What to pay, until when, and the reference that says it."""

    reference: str
    amount: Decimal
    due: date
    #: The bills it pays: one, or every unpaid bill for a balance coupon.
    invoices: tuple[Invoice, ...] = field(default=())
    #: Late fees included in ``amount`` (zero when none).
    late_fee: Decimal = Decimal("0.00")
    #: True when ``due`` is a new date because a bill in it is overdue.
    renewed: bool = False

    @property
    def for_people(self) -> str:
        return format_for_people(self.reference)


# --- the check pair ------------------------------------------------------------------------

def _check_pair(payload: str) -> str:
    """ISO 7064 MOD 97-10: the two digits that make ``payload + pair`` ≡ 1 (mod 97)."""
    return f"{98 - int(payload) * 100 % 97:02d}"


# --- build and read --------------------------------------------------------------------------

def _field(value: int, width: int, what: str) -> str:
    if value < 0 or value >= 10**width:
        raise ValueError(f"{what} {value} does not fit in {width} digits")
    return f"{value:0{width}d}"


def _cents(amount: Decimal) -> int:
    amount = Decimal(amount)
    if amount != amount.quantize(CENT):
        raise ValueError(f"amount {amount} has fractions of a centavo")
    if amount <= 0:
        raise ValueError(f"amount {amount} must be positive")
    if amount > MAX_AMOUNT:
        raise ValueError(f"amount {amount} exceeds {MAX_AMOUNT}")
    return int(amount * 100)


def build(account: Account, invoice_or_balance: Invoice | None, amount: Decimal,
          due: date) -> str:
    """The 36 digits for paying ``amount`` by ``due``.

    ``invoice_or_balance`` is the bill paid, or ``None`` for the account's whole balance.
    Raises ``ValueError`` for data that cannot be encoded (a programming or data fault,
    not a customer's mistake).
    """
    if not account.number.isascii() or not account.number.isdigit():
        raise ValueError(f"account number {account.number!r} is not digits")
    invoice_id = BALANCE_INVOICE
    if invoice_or_balance is not None:
        if invoice_or_balance.account_id != account.id:
            raise ValueError(f"{invoice_or_balance!r} is not a bill of {account!r}")
        invoice_id = invoice_or_balance.id
        if invoice_id <= BALANCE_INVOICE:
            raise ValueError(f"{invoice_or_balance!r} has no id yet")
    if not 2000 <= due.year <= 2099:
        raise ValueError(f"due date {due} is outside 2000-2099")
    payload = "".join((
        _field(account.zone_id, ZONE_DIGITS, "zone"),
        _field(int(account.number), ACCOUNT_DIGITS, "account"),
        _field(invoice_id, INVOICE_DIGITS, "invoice id"),
        _field(_cents(amount), AMOUNT_DIGITS, "amount"),
        due.strftime("%y%m%d"),
    ))
    return payload + _check_pair(payload)


def _clean(reference: str) -> str:
    return _SEPARATORS.sub("", reference or "")


def parse(reference: str) -> ParsedReference:
    """Read a reference as typed (spaces and hyphens between groups are fine).

    Raises :class:`InvalidReference`, with a Spanish message, for a mistyped one.
    """
    digits = _clean(reference)
    if not digits:
        raise InvalidReference("Escribe la referencia de pago: son 36 números.")
    if not _DIGITS.fullmatch(digits):
        raise InvalidReference(
            "La referencia de pago solo lleva números (del 0 al 9), sin letras ni otros signos."
        )
    if len(digits) != LENGTH:
        raise InvalidReference(
            f"La referencia de pago tiene {LENGTH} números y escribiste {len(digits)}. "
            "Revisa que no falte ni sobre ninguno."
        )
    if int(digits) % 97 != 1:
        raise InvalidReference(
            "La referencia de pago no es correcta: revisa que cada número esté bien copiado "
            "del cupón."
        )
    position = 0

    def take(width: int) -> str:
        nonlocal position
        part = digits[position:position + width]
        position += width
        return part

    zone_id = int(take(ZONE_DIGITS))
    account_number = str(int(take(ACCOUNT_DIGITS)))
    invoice_id = int(take(INVOICE_DIGITS))
    cents = int(take(AMOUNT_DIGITS))
    yymmdd = take(DATE_DIGITS)
    try:
        due = date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:]))
    except ValueError:
        due = None
    if zone_id == 0 or cents == 0 or due is None:
        # The check pair matches, so it was made that way: not a coupon we issue.
        raise InvalidReference("La referencia de pago no corresponde a un cupón válido.")
    return ParsedReference(
        reference=digits,
        zone_id=zone_id,
        account_number=account_number,
        invoice_id=invoice_id or None,
        amount=Decimal(cents) / 100,
        due=due,
    )


def is_valid(reference: str) -> bool:
    """True when :func:`parse` accepts ``reference``."""
    try:
        parse(reference)
    except InvalidReference:
        return False
    return True


def format_for_people(reference: str) -> str:
    """Groups of four digits: ``0308 2952 4900 ...`` (the last group may be shorter)."""
    digits = _clean(reference)
    return " ".join(digits[i:i + 4] for i in range(0, len(digits), 4))


# --- which coupon ----------------------------------------------------------------------------

def _valid_days(valid_days: int | None) -> int:
    if valid_days is not None:
        return valid_days
    if has_app_context():
        return int(current_app.config.get("OV_COUPON_VALID_DAYS", DEFAULT_VALID_DAYS))
    return DEFAULT_VALID_DAYS


def _late_fee(late_fee: Decimal | None) -> Decimal:
    if late_fee is None:
        late_fee = Decimal("0")
        if has_app_context():
            late_fee = Decimal(str(current_app.config.get("OV_COUPON_LATE_FEE", "0")))
    return Decimal(late_fee).quantize(CENT)


def _terms(invoice: Invoice, today: date, valid_days: int,
           late_fee: Decimal) -> tuple[Decimal, Decimal, date, bool] | None:
    """(amount, fee, pay-before date, renewed) for one unpaid bill; None when paid."""
    status = invoice.status_on(today)
    if status is InvoiceStatus.PAID:
        return None
    if status is InvoiceStatus.OVERDUE:
        return invoice.total + late_fee, late_fee, today + timedelta(days=valid_days), True
    return invoice.total, Decimal("0.00"), invoice.due_date, False


def coupon_for(account: Account, invoice: Invoice, today: date, *,
               valid_days: int | None = None, late_fee: Decimal | None = None) -> Coupon | None:
    """The coupon printed on a bill's duplicate and offered on its page; None when paid.

    ``today`` is the customer's date (Mexico City). ``valid_days`` and ``late_fee`` default
    to the settings ``OV_COUPON_VALID_DAYS`` and ``OV_COUPON_LATE_FEE``.
    """
    terms = _terms(invoice, today, _valid_days(valid_days), _late_fee(late_fee))
    if terms is None:
        return None
    amount, fee, due, renewed = terms
    if amount <= 0:
        return None
    return Coupon(
        reference=build(account, invoice, amount, due),
        amount=amount,
        due=due,
        invoices=(invoice,),
        late_fee=fee,
        renewed=renewed,
    )


def balance_reference(account: Account, invoices: Iterable[Invoice], today: date, *,
                      valid_days: int | None = None,
                      late_fee: Decimal | None = None) -> Coupon | None:
    """One coupon for the account's current balance: every unpaid bill among ``invoices``.

    The amount is what each bill's own coupon would ask (overdue ones with their late fee);
    it is payable until the earliest of their pay-before dates, so the coupon expires
    before its amount goes stale. None when nothing is owed.
    """
    days, fee = _valid_days(valid_days), _late_fee(late_fee)
    unpaid: list[Invoice] = []
    amount = fees = Decimal("0.00")
    due: date | None = None
    renewed = False
    for invoice in invoices:
        if invoice.account_id != account.id:
            raise ValueError(f"{invoice!r} is not a bill of {account!r}")
        terms = _terms(invoice, today, days, fee)
        if terms is None:
            continue
        unpaid.append(invoice)
        amount += terms[0]
        fees += terms[1]
        due = terms[2] if due is None else min(due, terms[2])
        renewed = renewed or terms[3]
    if not unpaid or amount <= 0 or due is None:
        return None
    return Coupon(
        reference=build(account, None, amount, due),
        amount=amount,
        due=due,
        invoices=tuple(unpaid),
        late_fee=fees,
        renewed=renewed,
    )
