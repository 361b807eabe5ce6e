"""The billing mirror: zones, accounts (supply points), invoices, readings and payments.

These tables copy what the utility's billing system knows. The portal reads them and
never invents billing facts; they are filled by the demo-data command or by an import.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    case,
    literal,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from ov.extensions import db
from ov.models.common import Money, UTCDateTime, utcnow


def _in(column: str, values: type[StrEnum]) -> str:
    """SQL for a CHECK that keeps ``column`` inside an enumeration's values."""
    quoted = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({quoted})"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class ReadingType(StrEnum):
    REAL = "real"
    ESTIMATED = "estimated"
    CUSTOMER = "customer"


class InvoiceStatus(StrEnum):
    PAID = "paid"
    PENDING = "pending"
    OVERDUE = "overdue"


class PaymentChannel(StrEnum):
    BANK = "bank"
    STORE = "store"
    TRANSFER = "transfer"


class PaymentStatus(StrEnum):
    APPLIED = "applied"
    IN_PROCESS = "in_process"


class Zone(db.Model):
    """A geographic zone (the seed's "Zona geográfica" / "Empresa filial")."""

    __tablename__ = "zone"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    # The cities the zone serves, comma-separated, as the registration form lists them.
    cities: Mapped[str] = mapped_column(Text, default="")

    def __repr__(self) -> str:
        return f"<Zone {self.code} {self.name!r}>"


class Account(db.Model):
    """A contract / supply point, identified by its number within a zone."""

    __tablename__ = "account"
    __table_args__ = (
        UniqueConstraint("zone_id", "number"),
        CheckConstraint("length(number) BETWEEN 1 AND 8", name="number_length"),
        CheckConstraint("check_digit BETWEEN 0 AND 9", name="check_digit_range"),
        CheckConstraint(_in("status", AccountStatus), name="status_values"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id"))
    # The "Número de cuenta (póliza)": 1-8 digits, kept as text so it is never re-formatted.
    number: Mapped[str] = mapped_column(String(8))
    # The digit printed after the hyphen on the bill (40989917-7); never typed by customers.
    check_digit: Mapped[int] = mapped_column(SmallInteger)
    holder_name: Mapped[str] = mapped_column(String(120))
    street: Mapped[str] = mapped_column(String(120))
    street_number: Mapped[str] = mapped_column(String(20))
    colonia: Mapped[str] = mapped_column(String(80))
    city: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(60))
    postal_code: Mapped[str] = mapped_column(String(5))
    meter_serial: Mapped[str] = mapped_column(String(20))
    tariff_code: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default=AccountStatus.ACTIVE.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    zone: Mapped[Zone] = relationship(lazy="joined")

    @property
    def printed_number(self) -> str:
        """The number as the bill prints it: ``40989917-7``."""
        return f"{self.number}-{self.check_digit}"

    def __repr__(self) -> str:
        return f"<Account {self.zone_id}/{self.printed_number}>"


class Invoice(db.Model):
    """A bill ("factura"). Its number is unique within its zone."""

    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("zone_id", "number"),
        CheckConstraint("length(number) = 10", name="number_length"),
        CheckConstraint(_in("reading_type", ReadingType), name="reading_type_values"),
        CheckConstraint("period_end >= period_start", name="period_order"),
        CheckConstraint("consumption_m3 >= 0", name="consumption_not_negative"),
        CheckConstraint("subtotal >= 0 AND tax >= 0 AND total >= 0", name="amounts_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    # Copied from the account so UNIQUE(zone_id, number) can be declared.
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id"))
    # The "No." under "Control" on the bill: 10 characters, kept exactly as printed.
    number: Mapped[str] = mapped_column(String(10))
    issue_date: Mapped[date] = mapped_column(Date)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    previous_reading: Mapped[int] = mapped_column(Integer)
    current_reading: Mapped[int] = mapped_column(Integer)
    reading_type: Mapped[str] = mapped_column(String(10))
    consumption_m3: Mapped[int] = mapped_column(Integer)
    subtotal: Mapped[Decimal] = mapped_column(Money)
    tax: Mapped[Decimal] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cfdi_xml: Mapped[str | None] = mapped_column(Text)
    # A corrected bill: the day of the estimated reading this bill's real one replaces.
    replaces_reading_on: Mapped[date | None] = mapped_column(Date)

    account: Mapped[Account] = relationship()
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position"
    )

    #: Value-added tax (IVA) rate applied to the subtotal.
    TAX_RATE = Decimal("0.16")

    def status_on(self, day: date) -> InvoiceStatus:
        """Paid, pending (not yet due on ``day``) or overdue (due date passed, unpaid)."""
        if self.paid_at is not None:
            return InvoiceStatus.PAID
        if day > self.due_date:
            return InvoiceStatus.OVERDUE
        return InvoiceStatus.PENDING

    @classmethod
    def status_expression(cls, day: date) -> ColumnElement[str]:
        """The same rule as :meth:`status_on`, as SQL, for filtering and counting."""
        return case(
            (cls.paid_at.is_not(None), literal(InvoiceStatus.PAID.value)),
            (cls.due_date < day, literal(InvoiceStatus.OVERDUE.value)),
            else_=literal(InvoiceStatus.PENDING.value),
        )

    def __repr__(self) -> str:
        return f"<Invoice {self.number} {self.issue_date}>"


# The office lists an account's invoices newest first.
Index("ix_invoice_account_issue", Invoice.account_id, Invoice.issue_date.desc())


class InvoiceLine(db.Model):
    """One concept charged on an invoice (fixed charge, gas, distribution...)."""

    __tablename__ = "invoice_line"
    __table_args__ = (
        UniqueConstraint("invoice_id", "position"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger)
    concept: Mapped[str] = mapped_column(String(120))
    quantity: Mapped[Decimal] = mapped_column(db.Numeric(12, 3))
    unit: Mapped[str] = mapped_column(String(12))
    unit_price: Mapped[Decimal] = mapped_column(db.Numeric(12, 4))
    amount: Mapped[Decimal] = mapped_column(Money)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class Reading(db.Model):
    """A meter reading: taken by the meter reader, estimated, or given by the customer."""

    __tablename__ = "reading"
    __table_args__ = (
        CheckConstraint(_in("reading_type", ReadingType), name="reading_type_values"),
        CheckConstraint("value >= 0", name="value_not_negative"),
        # One reading per contract and day: the key a billing export is matched by.
        UniqueConstraint("account_id", "read_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    read_on: Mapped[date] = mapped_column(Date)
    # The meter's register in whole cubic metres.
    value: Mapped[int] = mapped_column(Integer)
    reading_type: Mapped[str] = mapped_column(String(10))
    # Where it came from: meter_reader, system (estimate), customer_web, customer_phone.
    source: Mapped[str] = mapped_column(String(20))


class Payment(db.Model):
    """A payment received through a bank, a store or a transfer (SPEI)."""

    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint(_in("channel", PaymentChannel), name="channel_values"),
        CheckConstraint(_in("status", PaymentStatus), name="status_values"),
        Index("ix_payment_account_paid_on", "account_id", "paid_on"),
        # The bank's, store's or SPEI reference identifies a payment within its contract.
        UniqueConstraint("account_id", "channel", "reference"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    paid_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    channel: Mapped[str] = mapped_column(String(10))
    # As the customer knows it: "BBVA Bancomer", "OXXO", "SPEI"...
    channel_name: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(12), default=PaymentStatus.APPLIED.value)

    invoice: Mapped[Invoice | None] = relationship()


class ImportRun(db.Model):
    """One billing export loaded by ``flask --app ov import-billing``: when, from which
    folder (its name only), and what it changed (JSON: inserted, updated, unchanged per
    entity)."""

    __tablename__ = "import_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
