"""Mis datos > Preferencias without HTTP: the paperless bill, notices by email per kind, and
the printed bill's format (a request to the utility: ``ov.services.service_requests``).

**From which bill a paperless change applies.** The utility prints a contract's bill some
days before it issues it, so a change reaches the *next* bill only when that bill is far
enough away. The rule, per contract, from its invoices:

1. The usual period is the median gap between its last issue dates (up to ``HISTORY``
   invoices). A gap close to a whole number of months (within ``MONTH_SLACK`` days) steps
   by calendar months (the 1st of each month stays the 1st); any other steps by its days.
   A contract with a single invoice is taken as monthly.
2. The next bill is the latest issued one plus one period (plus two, three... while it is
   not after today, when the billing mirror is late), always counted from that latest issue
   date, so a bill on the 31st stays on the 31st after February.
3. If that bill is issued in less than ``LEAD_DAYS`` days, it is already being printed: the
   change applies from the one after.

A contract with no invoice yet changes from its first bill (``None``). The same rule says
when the paper stops (turning it on) and when it comes back (turning it off). Callers commit.
"""

from __future__ import annotations

import calendar
import statistics
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select

from ov.extensions import db
from ov.models import AuditEvent, Invoice, User
from ov.services import audit

#: How many of a contract's latest invoices the usual period is read from.
HISTORY = 7
#: A bill issued within this many days of today is already in print.
LEAD_DAYS = 7
#: How far (in days) a gap may be from whole months and still step by calendar months.
MONTH_SLACK = 5
AVERAGE_MONTH = 30.4375

#: The four kinds of notice a user chooses to get by email (User columns), as the page says them.
NOTICE_KINDS = (
    ("notify_invoice", "Nueva factura"),
    ("notify_payment", "Pago aplicado"),
    ("notify_request", "Cambios en tus solicitudes"),
    ("notify_reading", "Periodo para dar tu lectura"),
)
NOTICE_COLUMNS = tuple(name for name, _label in NOTICE_KINDS)


# --- the paperless bill -----------------------------------------------------------------------

def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Period:
    """A contract's usual billing period: whole calendar months, or a number of days."""

    months: int = 0
    days: int = 0

    def after(self, day: date, times: int = 1) -> date:
        """``times`` periods after ``day``, always counted from ``day`` itself: bills on the
        31st come back to the 31st after February's 28th."""
        if self.months:
            return _add_months(day, self.months * times)
        return day + timedelta(days=self.days * times)


MONTHLY = Period(months=1)


def usual_period(issue_dates: list[date]) -> Period:
    """The period read from issue dates (any order): see the module's rule 1."""
    ordered = sorted(set(issue_dates))
    gaps = [(later - earlier).days for earlier, later in zip(ordered, ordered[1:], strict=False)]
    if not gaps:
        return MONTHLY
    gap = statistics.median(gaps)
    months = round(gap / AVERAGE_MONTH)
    if months >= 1 and abs(gap - months * AVERAGE_MONTH) <= MONTH_SLACK:
        return Period(months=months)
    return Period(days=max(1, round(gap)))


def next_changeable_bill(issue_dates: list[date], today: date) -> date | None:
    """The expected issue date of the first bill a change made ``today`` reaches (rules 2
    and 3); None when the contract has no invoice yet (its first bill)."""
    if not issue_dates:
        return None
    period, latest = usual_period(issue_dates), max(issue_dates)
    steps = 1
    while period.after(latest, steps) <= today:
        steps += 1
    if (period.after(latest, steps) - today).days < LEAD_DAYS:
        steps += 1
    return period.after(latest, steps)


def recent_issue_dates(account_ids: list[int]) -> dict[int, list[date]]:
    """The last ``HISTORY`` issue dates of each contract, newest first (one query)."""
    if not account_ids:
        return {}
    rank = func.row_number().over(partition_by=Invoice.account_id,
                                  order_by=(Invoice.issue_date.desc(), Invoice.id.desc()))
    ranked = (select(Invoice.account_id, Invoice.issue_date, rank.label("rank"))
              .where(Invoice.account_id.in_(account_ids)).subquery())
    found: dict[int, list[date]] = {account_id: [] for account_id in account_ids}
    for account_id, issued in db.session.execute(
        select(ranked.c.account_id, ranked.c.issue_date).where(ranked.c.rank <= HISTORY)
        .order_by(ranked.c.account_id, ranked.c.issue_date.desc())
    ):
        found[account_id].append(issued)
    return found


def bills_changed(account_ids: list[int], today: date) -> dict[int, date | None]:
    """For each contract, the expected issue date of the first bill a change reaches."""
    return {account_id: next_changeable_bill(dates, today)
            for account_id, dates in recent_issue_dates(account_ids).items()}


@dataclass(frozen=True)
class PaperlessChange:
    """What a paperless choice did: ``changed`` False when it already was so; ``from_bills``
    by account id (None: from the contract's first bill); ``cancelled``, the contracts where
    the previous change had not reached a bill yet, so this one only takes it back and
    nothing changes on their bills."""

    paperless: bool
    changed: bool
    from_bills: dict[int, date | None]
    cancelled: frozenset[int] = frozenset()


def _not_applied_yet(user: User, from_bills: dict[int, date | None],
                     today: date) -> frozenset[int]:
    """The contracts on which the user's last paperless change has not reached a bill."""
    last = last_paperless_change(user.id)
    if last is None or last[0] != bool(user.paperless_bill):
        return frozenset()
    return frozenset(
        account_id for account_id, day in last[1].items() if account_id in from_bills
        and (day >= today if day is not None else from_bills[account_id] is None))


def set_paperless(user: User, paperless: bool, account_ids: list[int], today: date, *,
                  client_address: str | None) -> PaperlessChange:
    """Turn the paperless bill on or off for all the user's contracts, audited with the bill
    it applies from on each (the Mis datos summary reads it back); a contract where the
    previous change had not applied yet keeps its bills as they were."""
    from_bills = bills_changed(account_ids, today)
    if bool(user.paperless_bill) == paperless:
        return PaperlessChange(paperless, False, from_bills)
    cancelled = _not_applied_yet(user, from_bills, today)
    from_bills = {key: value for key, value in from_bills.items() if key not in cancelled}
    user.paperless_bill = paperless
    audit.record("paperless_changed", user_id=user.id, client_address=client_address,
                 paperless=paperless,
                 from_bills={str(account_id): (day.isoformat() if day else None)
                             for account_id, day in from_bills.items()},
                 **({"cancelled": sorted(cancelled)} if cancelled else {}))
    return PaperlessChange(paperless, True, from_bills, cancelled)


def last_paperless_change(user_id: int) -> tuple[bool, dict[int, date | None]] | None:
    """The latest paperless change of the user (the choice and the bill it applies from, by
    account id), as audited; None if it never changed here (one query)."""
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.user_id == user_id,
                                 AuditEvent.kind == "paperless_changed")
        .order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    if event is None:
        return None
    bills = {int(key): (date.fromisoformat(value) if value else None)
             for key, value in (event.details.get("from_bills") or {}).items()}
    return bool(event.details.get("paperless")), bills


# --- notices by email -------------------------------------------------------------------------

def set_notices(user: User, chosen: dict[str, bool], *,
                client_address: str | None) -> list[str]:
    """Set which notices arrive by email (``chosen``: a value for each of NOTICE_KINDS),
    audited; the names of the columns that changed."""
    changed = [name for name, _label in NOTICE_KINDS
               if bool(getattr(user, name)) != bool(chosen[name])]
    for name in changed:
        setattr(user, name, bool(chosen[name]))
    if changed:
        audit.record("notice_preferences_changed", user_id=user.id,
                     client_address=client_address,
                     **{name: bool(chosen[name]) for name in changed})
    return changed


def notices_by_mail(user: User) -> list[str]:
    """The labels of the notices the user gets by email, in the page's order."""
    return [label for name, label in NOTICE_KINDS if getattr(user, name)]


# --- the printed bill's format ----------------------------------------------------------------

BILL_FORMATS = (("normal", "normal"), ("letra_grande", "letra grande"), ("braille", "braille"))
FORMAT_LABELS = dict(BILL_FORMATS)


def format_label(value: str | None) -> str:
    return FORMAT_LABELS.get(value or "normal", value or "normal")



def format_phrase(value: str | None) -> str:
    """``en braille``, ``en letra grande``, ``en formato normal``: how a sentence says it."""
    if (value or "normal") == "normal":
        return "en formato normal"
    return f"en {format_label(value)}"
