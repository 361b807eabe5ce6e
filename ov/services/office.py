"""What "Mi oficina" shows, always reached through the user's own account links.

Every function takes the user's id and finds records only through ``UserAccount``: an id
that belongs to another customer is simply not found. Each runs a fixed number of queries,
however long the account's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import extract, func, select
from sqlalchemy.orm import joinedload, selectinload

from ov.extensions import db
from ov.models import Account, Invoice, Notice, Payment, UserAccount
from ov.models.billing import InvoiceStatus, PaymentStatus

#: Where a coupon is paid, as customers know the places: "¿Dónde pagar?" lists them, and
#: the demo payments (ov/services/demo_data.py) are made at them.
BANKS = ("Banamex", "BBVA Bancomer", "Banorte", "HSBC", "Santander")
STORES = ("OXXO", "7-Eleven", "Walmart")


@dataclass(frozen=True)
class Page:
    items: list
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def _linked(user_id: int):
    return select(UserAccount.account_id).where(UserAccount.user_id == user_id)


def accounts(user_id: int) -> list[Account]:
    """The user's contracts, with their zones (one query)."""
    return list(
        db.session.scalars(
            select(Account)
            .options(joinedload(Account.zone))
            .where(Account.id.in_(_linked(user_id)))
            .order_by(Account.id)
        )
    )


def choose(accounts_: list[Account], wanted: str | int | None) -> list[Account]:
    """The contracts a page shows: the one asked for, or all of them."""
    try:
        wanted_id = int(wanted) if wanted not in (None, "", "todos") else None
    except (TypeError, ValueError):
        wanted_id = None
    chosen = [a for a in accounts_ if a.id == wanted_id]
    return chosen or accounts_


def last_invoices(account_ids: list[int], limit: int = 3) -> list[Invoice]:
    return list(
        db.session.scalars(
            select(Invoice)
            .where(Invoice.account_id.in_(account_ids))
            .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
            .limit(limit)
        )
    )


def unpaid_invoices(account_ids: list[int]) -> list[Invoice]:
    return list(
        db.session.scalars(
            select(Invoice)
            .where(Invoice.account_id.in_(account_ids), Invoice.paid_at.is_(None))
            .order_by(Invoice.due_date)
        )
    )


def invoice_years(account_ids: list[int]) -> list[int]:
    year = extract("year", Invoice.issue_date)
    return [
        int(value)
        for value in db.session.scalars(
            select(year).where(Invoice.account_id.in_(account_ids)).group_by(year)
            .order_by(year.desc())
        )
    ]


def invoices_page(
    account_ids: list[int], *, year: int | None, status: str | None, today: date,
    number: int, per_page: int = 12,
) -> Page:
    """One page of invoices, newest first (two queries: the count and the rows)."""
    conditions = [Invoice.account_id.in_(account_ids)]
    if year:
        conditions.append(extract("year", Invoice.issue_date) == year)
    if status in {s.value for s in InvoiceStatus}:
        conditions.append(Invoice.status_expression(today) == status)
    total = db.session.scalar(select(func.count()).select_from(Invoice).where(*conditions))
    pages = max(1, -(-total // per_page))
    number = min(max(number, 1), pages)
    items = list(
        db.session.scalars(
            select(Invoice)
            .where(*conditions)
            .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
            .offset((number - 1) * per_page)
            .limit(per_page)
        )
    )
    return Page(items, number, per_page, total)


def invoice(user_id: int, invoice_id: int) -> Invoice | None:
    """One of the user's invoices with its lines, account and zone (two queries)."""
    return db.session.scalars(
        select(Invoice)
        .options(
            selectinload(Invoice.lines),
            joinedload(Invoice.account).joinedload(Account.zone),
        )
        .where(Invoice.id == invoice_id, Invoice.account_id.in_(_linked(user_id)))
    ).first()


def payments_page(account_ids: list[int], *, number: int, per_page: int = 12) -> Page:
    conditions = [Payment.account_id.in_(account_ids)]
    total = db.session.scalar(select(func.count()).select_from(Payment).where(*conditions))
    pages = max(1, -(-total // per_page))
    number = min(max(number, 1), pages)
    items = list(
        db.session.scalars(
            select(Payment)
            .options(joinedload(Payment.invoice))
            .where(*conditions)
            .order_by(Payment.paid_on.desc(), Payment.id.desc())
            .offset((number - 1) * per_page)
            .limit(per_page)
        )
    )
    return Page(items, number, per_page, total)


def has_payments(account_ids: list[int]) -> bool:
    return db.session.scalar(
        select(Payment.id).where(Payment.account_id.in_(account_ids)).limit(1)
    ) is not None


def payments_in_process(account_ids: list[int]) -> Decimal:
    amount = db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.account_id.in_(account_ids),
            Payment.status == PaymentStatus.IN_PROCESS.value,
        )
    )
    return Decimal(amount or 0)


def consumption(account_ids: list[int], months: int = 24) -> list[Invoice]:
    """The last ``months`` invoices per the chosen contracts, oldest first (one query)."""
    rows = list(
        db.session.scalars(
            select(Invoice)
            .where(Invoice.account_id.in_(account_ids))
            .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
            .limit(months * max(len(account_ids), 1))
        )
    )
    return list(reversed(rows))


def unread_notices(user_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Notice).where(
            Notice.user_id == user_id, Notice.read_at.is_(None)
        )
    ) or 0


def notices(user_id: int, limit: int = 50) -> list[Notice]:
    return list(
        db.session.scalars(
            select(Notice).where(Notice.user_id == user_id)
            .order_by(Notice.created_at.desc()).limit(limit)
        )
    )
