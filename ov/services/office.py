"""What "Mi oficina" shows, always reached through the user's own account links.

Every query is a method of the user's ``Scope``, built from the user's id: records are found
only through ``UserAccount``, so an id that belongs to another customer is simply not found.
Each runs a fixed number of queries, however long the account's history, and what every page
needs comes in as few statements as possible: the contracts with the unread notices count
(one), the home page's last invoices with its debt, overdue count, payments in process and
"has payments" (one), an invoice with its lines (one). tests/http/test_query_counts.py locks the
number each page sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property

from sqlalchemy import Date, bindparam, case, extract, func, literal, select
from sqlalchemy import over as window
from sqlalchemy.orm import joinedload, selectinload

from ov.extensions import db
from ov.models import (
    Account,
    Invoice,
    Notice,
    Payment,
    ServiceRequest,
    ServiceRequestCategory,
    ServiceRequestStatus,
    UserAccount,
)
from ov.models.billing import InvoiceStatus, PaymentStatus

#: Open claims of these types put the invoice they are about "en aclaración".
CLARIFYING = (ServiceRequestCategory.BILL_CLARIFICATION.value,
              ServiceRequestCategory.READING_REVIEW.value)
#: The statuses of a request still open (comments taken, the invoice "en aclaración").
OPEN_REQUEST = (ServiceRequestStatus.RECEIVED.value, ServiceRequestStatus.IN_PROGRESS.value)

#: Where a coupon is paid, as customers know the places: "¿Dónde pagar?" lists them, and
#: the demo payments (ov/services/demo_data.py) are made at them.
BANKS = ("Banamex", "BBVA Bancomer", "Banorte", "HSBC", "Santander")
STORES = ("OXXO", "7-Eleven", "Walmart")


@dataclass(frozen=True)
class Summary:
    """What Inicio says about money: the unpaid total, how many of those bills are overdue,
    the payments still being applied, and whether the contracts have any payment at all."""

    debt: Decimal
    overdue: int
    in_process: Decimal
    has_payments: bool


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


def links(user_id: int) -> list[UserAccount]:
    """The user's links, with their contracts and zones (one query)."""
    return list(
        db.session.scalars(
            select(UserAccount)
            .options(joinedload(UserAccount.account).joinedload(Account.zone))
            .where(UserAccount.user_id == user_id)
            .order_by(UserAccount.account_id)
        )
    )


# --- statements every page runs, built once ------------------------------------------------
# Building a statement costs more CPU than SQLite takes to run it: the ones every Mi oficina
# page (or the busiest ones) sends are built here once, with bound parameters, and reuse
# SQLAlchemy's compiled-statement cache without being rebuilt or re-keyed on each request.

_USER = bindparam("user_id")
_IDS = bindparam("ids", expanding=True)  # the chosen contracts' ids
_UNREAD = (select(func.count()).select_from(Notice)
           .where(Notice.user_id == _USER, Notice.read_at.is_(None)))
_LINKS_AND_UNREAD = (
    select(UserAccount, _UNREAD.scalar_subquery())
    .options(joinedload(UserAccount.account).joinedload(Account.zone))
    .where(UserAccount.user_id == _USER)
    .order_by(UserAccount.account_id)
)
_LAST_INVOICES = (
    select(Invoice).where(Invoice.account_id.in_(_IDS))
    .order_by(Invoice.issue_date.desc(), Invoice.id.desc()).limit(bindparam("limit"))
)
_UNPAID = (Invoice.account_id.in_(_IDS), Invoice.paid_at.is_(None))
#: Inicio's four figures, as columns that depend on no row (each computed once by the
#: database, however many rows they ride on; never correlated with the rows' table).
_SUMMARY_COLUMNS = (
    select(func.coalesce(func.sum(Invoice.total), 0)).where(*_UNPAID)
    .correlate(None).scalar_subquery(),
    select(func.count()).select_from(Invoice)
    .where(*_UNPAID, Invoice.due_date < bindparam("today", type_=Date))
    .correlate(None).scalar_subquery(),
    select(func.coalesce(func.sum(Payment.amount), 0))
    .where(Payment.account_id.in_(_IDS), Payment.status == PaymentStatus.IN_PROCESS.value)
    .correlate(None).scalar_subquery(),
    select(literal(1)).where(Payment.account_id.in_(_IDS)).correlate(None).exists(),
)
_SUMMARY = select(*_SUMMARY_COLUMNS)
#: Inicio's last invoices, each row carrying the four figures: one statement for both.
_LAST_INVOICES_AND_SUMMARY = _LAST_INVOICES.add_columns(*_SUMMARY_COLUMNS)
_LINKED = select(UserAccount.account_id).where(UserAccount.user_id == _USER)
_INVOICE = (
    select(Invoice)
    .options(joinedload(Invoice.lines), joinedload(Invoice.account).joinedload(Account.zone))
    .where(Invoice.id == bindparam("invoice_id"), Invoice.account_id.in_(_LINKED))
)
_OPEN_CLAIMS = (
    select(ServiceRequest)
    .where(ServiceRequest.invoice_id.in_(bindparam("invoice_ids", expanding=True)),
           ServiceRequest.account_id.in_(_LINKED),
           ServiceRequest.category.in_(CLARIFYING),
           ServiceRequest.status.in_(OPEN_REQUEST))
    # The last row kept for an invoice wins: the user's own claim, if any, then the oldest.
    .order_by(case((ServiceRequest.user_id == _USER, 1), else_=0),
              ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
)


_invoice_year = extract("year", Invoice.issue_date)
_INVOICE_YEARS = (select(_invoice_year).where(Invoice.account_id.in_(_IDS)).group_by(_invoice_year)
                  .order_by(_invoice_year.desc()))
#: Mis facturas' count and rows, by (filtered by year, filtered by status): built once each.
_INVOICE_PAGES: dict[tuple[bool, bool], tuple] = {}


def _invoice_page_statements(by_year: bool, by_status: bool) -> tuple:
    key = (by_year, by_status)
    if key not in _INVOICE_PAGES:
        conditions = [Invoice.account_id.in_(_IDS)]
        if by_year:
            conditions.append(_invoice_year == bindparam("year"))
        if by_status:
            day = bindparam("today", type_=Date)
            conditions.append(Invoice.status_expression(day) == bindparam("status"))
        _INVOICE_PAGES[key] = (
            select(func.count()).select_from(Invoice).where(*conditions),
            select(Invoice).where(*conditions)
            .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
            .offset(bindparam("offset")).limit(bindparam("limit")),
        )
    return _INVOICE_PAGES[key]


def links_and_unread(user_id: int) -> tuple[list[UserAccount], int]:
    """The user's links (as ``links``) and their unread notices count, in one statement;
    a second one only for a user with no contract left."""
    rows = db.session.execute(_LINKS_AND_UNREAD, {"user_id": user_id}).all()
    if not rows:
        return [], db.session.scalar(_UNREAD, {"user_id": user_id}) or 0
    return [row[0] for row in rows], rows[0][1] or 0


def _summary(figures) -> Summary:
    debt, overdue, in_process, any_payment = figures
    return Summary(Decimal(debt or 0), int(overdue or 0), Decimal(in_process or 0),
                   bool(any_payment))


def choose(accounts_: list[Account], wanted: str | int | None) -> list[Account]:
    """The contracts a page shows: the one asked for, or all of them."""
    try:
        wanted_id = int(wanted) if wanted not in (None, "", "todos") else None
    except (TypeError, ValueError):
        wanted_id = None
    chosen = [a for a in accounts_ if a.id == wanted_id]
    return chosen or accounts_


class Scope:
    """What one user may see: every query of Mi oficina is a method of the user's scope.

    The contracts come from the user's own links, so a page cannot pass another customer's
    account id by mistake: ``chosen`` (the contracts the page shows) is always a subset of
    them, and records asked for by id are looked up through the links again. The contracts
    are loaded on first use (one query), so a page that needs only one record by id (a
    PDF duplicate) does not pay for them.
    """

    def __init__(self, user_id: int, wanted: str | int | None = None) -> None:
        self.user_id = user_id
        self._wanted = wanted

    @classmethod
    def of(cls, user_id: int, wanted: str | int | None = None) -> Scope:
        """The user's scope, showing the contract ``wanted`` or all of them."""
        return cls(user_id, wanted)

    @cached_property
    def _links_and_unread(self) -> tuple[tuple[UserAccount, ...], int]:
        found, unread = links_and_unread(self.user_id)
        return tuple(found), unread

    @property
    def links(self) -> tuple[UserAccount, ...]:
        return self._links_and_unread[0]

    @property
    def accounts(self) -> tuple[Account, ...]:
        return tuple(link.account for link in self.links)

    @cached_property
    def aliases(self) -> dict[int, str]:
        """The names the user gave their contracts, by account id."""
        return {link.account_id: link.alias for link in self.links if link.alias}

    @cached_property
    def chosen(self) -> tuple[Account, ...]:
        return tuple(choose(list(self.accounts), self._wanted))

    @property
    def chosen_ids(self) -> list[int]:
        return [account.id for account in self.chosen]

    def _in_chosen(self, column):
        return column.in_(self.chosen_ids)

    def last_invoices(self, limit: int = 3) -> list[Invoice]:
        return list(db.session.scalars(_LAST_INVOICES,
                                       {"ids": self.chosen_ids, "limit": limit}))

    def unpaid_invoices(self) -> list[Invoice]:
        return list(
            db.session.scalars(
                select(Invoice)
                .where(self._in_chosen(Invoice.account_id), Invoice.paid_at.is_(None))
                .order_by(Invoice.due_date)
            )
        )

    def invoice_years(self) -> list[int]:
        return [int(value) for value in
                db.session.scalars(_INVOICE_YEARS, {"ids": self.chosen_ids})]

    def invoices_page(
        self, *, year: int | None, status: str | None, today: date, number: int,
        per_page: int = 12,
    ) -> Page:
        """One page of invoices, newest first (two queries: the count and the rows)."""
        by_status = status in {s.value for s in InvoiceStatus}
        count, rows = _invoice_page_statements(bool(year), by_status)
        params = {"ids": self.chosen_ids, "year": year, "status": status, "today": today}
        total = db.session.scalar(count, params) or 0
        number = min(max(number, 1), max(1, -(-total // per_page)))
        params.update(offset=(number - 1) * per_page, limit=per_page)
        return Page(list(db.session.scalars(rows, params)), number, per_page, total)

    def invoice(self, invoice_id: int) -> Invoice | None:
        """One of the user's invoices (any contract of theirs) with its lines, account and
        zone (one query); None for another customer's."""
        return db.session.scalars(
            _INVOICE, {"invoice_id": invoice_id, "user_id": self.user_id}
        ).unique().first()

    def payments_page(self, *, number: int, per_page: int = 12) -> Page:
        query = (select(Payment).options(joinedload(Payment.invoice))
                 .order_by(Payment.paid_on.desc(), Payment.id.desc()))
        return _page(query, [self._in_chosen(Payment.account_id)], number, per_page)

    def has_payments(self) -> bool:
        return db.session.scalar(
            select(Payment.id).where(self._in_chosen(Payment.account_id)).limit(1)
        ) is not None

    def summary(self, today: date) -> Summary:
        """Inicio's figures in one statement (``unpaid_invoices``, ``payments_in_process``
        and ``has_payments`` would be three)."""
        return _summary(db.session.execute(
            _SUMMARY, {"ids": self.chosen_ids, "today": today}).one())

    def last_invoices_and_summary(self, today: date,
                                  limit: int = 3) -> tuple[list[Invoice], Summary]:
        """``last_invoices(limit)`` and ``summary(today)`` in one statement (two only for
        contracts with no invoice yet)."""
        rows = db.session.execute(_LAST_INVOICES_AND_SUMMARY, {
            "ids": self.chosen_ids, "today": today, "limit": limit}).all()
        if not rows:
            return [], self.summary(today)
        return [row[0] for row in rows], _summary(rows[0][1:])

    def payments_in_process(self) -> Decimal:
        amount = db.session.scalar(
            select(func.coalesce(func.sum(Payment.amount), 0)).where(
                self._in_chosen(Payment.account_id),
                Payment.status == PaymentStatus.IN_PROCESS.value,
            )
        )
        return Decimal(amount or 0)

    def unread_notices(self) -> int:
        """How many of the user's notices are unread (loaded with the contracts: one
        statement for both, once per scope)."""
        return self._links_and_unread[1]

    def notices(self, limit: int = 50) -> list[Notice]:
        return list(
            db.session.scalars(
                select(Notice).where(Notice.user_id == self.user_id)
                .order_by(Notice.created_at.desc(), Notice.id.desc()).limit(limit)
            )
        )

    def notice(self, notice_id: int) -> Notice | None:
        """One of the user's notices; None for another customer's (one query)."""
        return db.session.scalars(
            select(Notice).where(Notice.id == notice_id, Notice.user_id == self.user_id)
        ).first()

    def open_claims(self, invoice_ids: list[int]) -> dict[int, ServiceRequest]:
        """The open claims that put these invoices of the user's "en aclaración", by
        invoice id (whoever filed it, by phone too; the user's own claim first, so the
        invoice leads to it, else the oldest): one query, none for no ids."""
        if not invoice_ids:
            return {}
        rows = db.session.scalars(
            _OPEN_CLAIMS, {"invoice_ids": list(invoice_ids), "user_id": self.user_id}
        )
        return {row.invoice_id: row for row in rows}

    def service_request(self, request_id: int) -> tuple[ServiceRequest, Invoice | None] | None:
        """One of the user's requests, on a contract still theirs, with its timeline and
        the invoice it is about (two queries); None for another customer's."""
        row = db.session.execute(
            select(ServiceRequest, Invoice)
            .outerjoin(Invoice, Invoice.id == ServiceRequest.invoice_id)
            .options(selectinload(ServiceRequest.events))
            .where(ServiceRequest.id == request_id, ServiceRequest.user_id == self.user_id,
                   ServiceRequest.account_id.in_(_linked(self.user_id)))
        ).first()
        return None if row is None else (row[0], row[1])

    def recent_invoices(self, per_contract: int = 12) -> dict[int, list[Invoice]]:
        """The last ``per_contract`` invoices of each of the user's contracts, newest first,
        by account id (one query)."""
        rank = window(func.row_number(), partition_by=Invoice.account_id,
                      order_by=(Invoice.issue_date.desc(), Invoice.id.desc())).label("rank")
        ranked = (select(Invoice.id, rank)
                  .where(Invoice.account_id.in_(_linked(self.user_id))).subquery())
        found: dict[int, list[Invoice]] = {}
        for invoice in db.session.scalars(
            select(Invoice).join(ranked, ranked.c.id == Invoice.id)
            .where(ranked.c.rank <= per_contract)
            .order_by(Invoice.account_id, Invoice.issue_date.desc(), Invoice.id.desc())
        ):
            found.setdefault(invoice.account_id, []).append(invoice)
        return found


def _page(query, conditions: list, number: int, per_page: int) -> Page:
    """Rows ``query`` finds under ``conditions``, one page of them (two queries: the count
    and the rows); a page number past the end shows the last page."""
    model = query.column_descriptions[0]["entity"]
    total = db.session.scalar(select(func.count()).select_from(model).where(*conditions))
    pages = max(1, -(-total // per_page))
    number = min(max(number, 1), pages)
    items = list(db.session.scalars(
        query.where(*conditions).offset((number - 1) * per_page).limit(per_page)
    ))
    return Page(items, number, per_page, total)
