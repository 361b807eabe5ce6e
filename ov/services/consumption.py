"""Mis consumos: each contract's last periods, their chart and summary, the customer's readings
waiting for review, and why the latest bill changed.

The chart is data here (bars, scale, labels) and SVG in ``office/_consumption_chart.html``;
its sentences are plain Spanish. The queries take the user's ``Scope``: contracts are only
ever the ones the user's links give, and each query serves every chosen contract at once, so
a page runs the same number of queries whatever the history length or the contracts shown.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Date, and_, bindparam, func, or_, select
from sqlalchemy.orm import selectinload

from ov.extensions import db
from ov.formatting import month_name
from ov.models import Invoice, InvoiceLine
from ov.models.portal import ReadingSubmission, ReadingSubmissionStatus
from ov.services import bill_change
from ov.services.bill_change import NBSP, Bill, Change, daily_average, days_between

PERIODS = 24
INITIALS = "EFMAMJJASOND"
#: How far from "a year before" a bill may end and still be "the same period last year".
YEAR_WINDOW = timedelta(days=20)


@dataclass(frozen=True)
class Period:
    """One billed period of a contract, as the table and the chart show it."""

    invoice_id: int
    period_start: date
    period_end: date
    reading: int
    reading_type: str
    m3: int
    amount: Decimal

    @property
    def days(self) -> int:
        return days_between(self.period_start, self.period_end)

    @property
    def daily(self) -> Decimal:
        return daily_average(self.m3, self.days)

    @property
    def estimated(self) -> bool:
        return self.reading_type == "estimated"

    @classmethod
    def of(cls, invoice: Invoice) -> Period:
        return cls(invoice.id, invoice.period_start, invoice.period_end,
                   invoice.current_reading, invoice.reading_type, invoice.consumption_m3,
                   invoice.total)


@dataclass(frozen=True)
class Pending:
    """A reading the customer sent that the utility has not reviewed yet."""

    read_on: date
    value: int
    # Since the last billed reading, when the meter moved forward.
    m3: int | None
    days: int | None

    @property
    def daily(self) -> Decimal | None:
        if self.m3 is None or not self.days:
            return None
        return daily_average(self.m3, self.days)


# --- the chart ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    estimated: bool
    label: str  # the month's initial
    center: float


@dataclass(frozen=True)
class Chart:
    """The drawing in its own units: 340 wide, text at ``FONT`` units (about 13 px on a
    360 px phone, where the drawing is some 328 px wide)."""

    bars: tuple[Bar, ...]
    top: int  # the value at the top of the scale
    grid: tuple[tuple[float, str], ...]  # (y, label) of each scale line, bottom first
    years: tuple[tuple[float, str], ...]  # (middle x, "2026") under each year's first bar
    width: int = 340
    height: int = 186
    left: int = 30  # room for the scale's labels (chart() sets it from the widest)
    top_margin: int = 28  # the unit, "m³", above the scale
    bottom_margin: int = 40  # months' initials, then years
    right: int = 4

    @property
    def plot_height(self) -> float:
        return self.height - self.top_margin - self.bottom_margin

    @property
    def baseline(self) -> float:
        return self.height - self.bottom_margin

    @property
    def month_y(self) -> float:
        return self.baseline + 15

    @property
    def year_y(self) -> float:
        return self.baseline + 34


#: The labels' size in drawing units (ov.css ``.chart text``) and a generous width of one
#: of its digits, to keep labels inside the drawing and apart.
FONT = 13
CHAR = 8.5
#: The least height of an estimated bar, so an estimate of 0 m³ still shows its mark.
MIN_ESTIMATE = 3


def _nice_top(peak: int) -> int:
    """The top of the scale: the smallest round value (10, 15, 20, 30, 40, 50, 60 or 80 times
    a power of ten) at or above ``peak``; 10 when nothing was used."""
    if peak <= 0:
        return 10
    power = 10 ** max(0, math.floor(math.log10(peak)) - 1)
    for step in (10, 15, 20, 30, 40, 50, 60, 80, 100):
        if step * power >= peak:
            return step * power
    return 100 * power  # a peak of 10**k: its own round value


def _r(value: float) -> float | int:
    """A coordinate to a tenth of a unit, written without ".0" (the SVG stays small)."""
    value = round(value, 1)
    return int(value) if value == int(value) else value


def chart(periods: list[Period]) -> Chart:
    """Bars for ``periods`` (oldest first) on a round scale, with the months' initials and
    each year's number under its first month (January, or the first bar)."""
    top = _nice_top(max((p.m3 for p in periods), default=0))
    # Room for the scale's widest label ("15,000") and a gap before the bars.
    left = max(26, 8 + math.ceil(CHAR * len(f"{top:,}")))
    frame = Chart((), top, (), (), left=left)
    count = len(periods)
    usable = frame.width - frame.left - frame.right
    slot = usable / max(count, 12)
    width = slot * 0.64
    bars = []
    for index, item in enumerate(periods):
        height = frame.plot_height * item.m3 / top
        if item.estimated:
            height = max(height, MIN_ESTIMATE)
        x = frame.left + index * slot + (slot - width) / 2
        bars.append(Bar(
            x=_r(x), y=_r(frame.baseline - height), width=_r(width), height=_r(height),
            estimated=item.estimated, label=INITIALS[item.period_end.month - 1],
            center=_r(x + width / 2),
        ))
    steps = (0, top // 2, top) if top % 2 == 0 else (0, top)
    grid = tuple((_r(frame.baseline - frame.plot_height * value / top), f"{value:,}")
                 for value in steps)
    return Chart(tuple(bars), top, grid, _years(periods, bars, frame), left=left)


def _years(periods: list[Period], bars: list[Bar], frame: Chart) -> tuple:
    """Each year's number, its middle on its first bar (each January's, and the first bar's
    unless a January's number would touch it), moved in so it never leaves the drawing."""
    half = CHAR * 4 / 2  # "2026"
    low, high = half + 1, frame.width - half - 1
    januaries = [bar.center for bar, item in zip(bars, periods, strict=True)
                 if item.period_end.month == 1]
    years = []
    for index, (bar, item) in enumerate(zip(bars, periods, strict=True)):
        middle = min(max(bar.center, low), high)
        first = index == 0 and not any(
            0 < abs(january - middle) < 2 * half + CHAR for january in januaries)
        if item.period_end.month == 1 or first:
            years.append((_r(middle), str(item.period_end.year)))
    return tuple(years)


# --- the summary ----------------------------------------------------------------------------

def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def year_ago(candidates, end: date):
    """Among ``candidates`` (anything with a ``period_end``), the one ending closest to a year
    before ``end``, within 20 days; None when there is none."""
    target = _year_before(end)
    near = [c for c in candidates if abs(c.period_end - target) <= YEAR_WINDOW]
    return min(near, key=lambda c: (abs(c.period_end - target), -c.period_end.toordinal()),
               default=None)


def _m3(value: int) -> str:
    return f"{value:,}{NBSP}m³"


def summary(periods: list[Period]) -> str:
    """One or two sentences on the latest period: against the same month last year, or the
    period before when there is none."""
    if not periods:
        return "Aún no hay consumos facturados para este contrato."
    latest = periods[-1]
    reference = year_ago(periods[:-1], latest.period_end)
    with_year = False
    if reference is not None:
        that = f"el de {month_name(reference.period_end, with_year=False)} del año pasado"
    elif len(periods) > 1:
        reference = periods[-2]
        with_year = reference.period_end.year != latest.period_end.year
        that = "el de " + month_name(reference.period_end, with_year=with_year)
    start = f"Tu consumo de {month_name(latest.period_end, with_year=with_year)} fue"
    if reference is None:
        text = f"{start} de {_m3(latest.m3)}: es tu primer periodo facturado."
    else:
        now, before = latest.m3, reference.m3
        versus = f"{_m3(now)} frente a {_m3(before)}."
        if now == before == 0:
            text = f"{start} de {_m3(0)}, igual que {that}."
        elif before == 0:
            text = f"{start} de {_m3(now)}; {that} fue de {_m3(0)}."
        elif now == before:
            text = f"{start} igual al{that[2:]}: {_m3(now)}."
        else:
            percent = (abs(Decimal(now - before)) * 100 / before).quantize(
                Decimal(1), ROUND_HALF_UP)
            if percent == 0:
                text = f"{start} casi igual al{that[2:]}: {versus}"
            else:
                word = "mayor" if now > before else "menor"
                text = f"{start} {percent}{NBSP}% {word} que {that}: {versus}"
    if latest.estimated:
        text += (f" La lectura de {month_name(latest.period_end, with_year=False)} fue "
                 "estimada: se ajusta cuando leamos tu medidor.")
    return text


# --- a contract's page section, from the database -------------------------------------------

@dataclass
class ContractUsage:
    """What Mis consumos shows for one contract."""

    account: object
    periods: list[Period] = field(default_factory=list)  # oldest first
    pending: list[Pending] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)  # why the latest bill changed

    @property
    def chart(self) -> Chart:
        return chart(self.periods)

    @property
    def summary(self) -> str:
        return summary(self.periods)

    @property
    def newest_first(self) -> list[Period]:
        return list(reversed(self.periods))


def _changes(latest: Invoice, previous: Invoice | None, last_year: Invoice | None,
             lines: dict[int, list] | None = None) -> list[Change]:
    """The comparisons a bill is shown with: the previous bill (or "the first one") and, when
    there is another one, the same period last year. ``lines`` by invoice id, or each
    invoice's own."""
    def bill(invoice: Invoice) -> Bill:
        return Bill.from_invoice(invoice, None if lines is None else lines[invoice.id])

    if previous is None:
        return [bill_change.first_bill(bill(latest))]
    found = [bill_change.compare(bill(latest), bill(previous))]
    if last_year is not None and last_year.id != previous.id:
        found.append(bill_change.compare(bill(latest), bill(last_year), reference="year"))
    return found


def usage(scope, months: int = PERIODS) -> list[ContractUsage]:
    """The chosen contracts' last ``months`` periods, pending readings and latest bill's
    change, one section per contract (three queries, however many periods or contracts)."""
    accounts = list(scope.chosen)
    ids = [account.id for account in accounts]
    if not ids:
        return []
    rank = func.row_number().over(
        partition_by=Invoice.account_id,
        order_by=(Invoice.issue_date.desc(), Invoice.id.desc()),
    ).label("rank")
    ranked = select(Invoice.id, rank).where(Invoice.account_id.in_(ids)).subquery()
    invoices = db.session.scalars(
        select(Invoice).join(ranked, ranked.c.id == Invoice.id)
        .where(ranked.c.rank <= months)
        .order_by(Invoice.account_id, Invoice.issue_date, Invoice.id)
    ).all()
    by_account: dict[int, list[Invoice]] = defaultdict(list)
    for invoice in invoices:
        by_account[invoice.account_id].append(invoice)

    # The latest bill of each contract, the one before it and last year's: their lines.
    wanted: dict[int, tuple] = {}
    for account_id, rows in by_account.items():
        latest = rows[-1]
        previous = rows[-2] if len(rows) > 1 else None
        last_year = year_ago(rows[:-1], latest.period_end)
        wanted[account_id] = (latest, previous, last_year)
    line_ids = {row.id for trio in wanted.values() for row in trio if row is not None}
    lines: dict[int, list[InvoiceLine]] = defaultdict(list)
    # Asked even when no contract has bills (an empty IN): the same queries every time.
    for line in db.session.scalars(
        select(InvoiceLine).where(InvoiceLine.invoice_id.in_(line_ids))
        .order_by(InvoiceLine.invoice_id, InvoiceLine.position)
    ):
        lines[line.invoice_id].append(line)

    # Only the readings this user sent: a contract's previous holder's stay theirs.
    submissions = db.session.scalars(
        select(ReadingSubmission).where(
            ReadingSubmission.account_id.in_(ids),
            ReadingSubmission.user_id == scope.user_id,
            ReadingSubmission.status == ReadingSubmissionStatus.RECEIVED.value,
        ).order_by(ReadingSubmission.account_id, ReadingSubmission.read_on.desc(),
                   ReadingSubmission.id.desc())
    ).all()

    sections = []
    for account in accounts:
        rows = by_account.get(account.id, [])
        section = ContractUsage(account, [Period.of(row) for row in rows])
        if rows:
            section.changes = _changes(*wanted[account.id], lines=lines)
        last = rows[-1] if rows else None
        for submission in submissions:
            if submission.account_id != account.id:
                continue
            m3 = days = None
            # m³ and days since the last bill only for a reading taken after it.
            if (last is not None and submission.read_on > last.period_end
                    and submission.value >= last.current_reading):
                m3 = submission.value - last.current_reading
                days = (submission.read_on - last.period_end).days
            section.pending.append(Pending(submission.read_on, submission.value, m3, days))
        sections.append(section)
    return sections


#: The bills an invoice is compared with, built once (every invoice page runs it): the one
#: just before it, and those whose period ends near the same day a year earlier.
_BEFORE = or_(
    Invoice.issue_date < bindparam("issue_date", type_=Date),
    and_(Invoice.issue_date == bindparam("issue_date", type_=Date),
         Invoice.id < bindparam("invoice_id")),
)
_COMPARED = (
    select(Invoice).options(selectinload(Invoice.lines)).where(
        Invoice.account_id == bindparam("account_id"), Invoice.id != bindparam("invoice_id"),
        _BEFORE,
        or_(Invoice.id == (
                select(Invoice.id).where(Invoice.account_id == bindparam("account_id"), _BEFORE)
                .order_by(Invoice.issue_date.desc(), Invoice.id.desc()).limit(1)
                .scalar_subquery()),
            Invoice.period_end.between(bindparam("year_from", type_=Date),
                                       bindparam("year_to", type_=Date))),
    ).order_by(Invoice.issue_date, Invoice.id)
)


def invoice_changes(invoice: Invoice) -> list[Change]:
    """Why ``invoice`` (already fetched through the user's scope, with its lines) differs from
    the bill before it and from the same period last year (two queries: the two bills, then
    their lines)."""
    target = _year_before(invoice.period_end)
    rows = db.session.scalars(_COMPARED, {
        "account_id": invoice.account_id, "invoice_id": invoice.id,
        "issue_date": invoice.issue_date, "year_from": target - YEAR_WINDOW,
        "year_to": target + YEAR_WINDOW,
    }).all()
    return _changes(invoice, rows[-1] if rows else None, year_ago(rows, invoice.period_end))
