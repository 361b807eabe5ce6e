"""A billing history on fixed dates, so a test does not depend on the month it runs in.

``make_invoices`` (tests/support/factories.py) dates its invoices back from today; ``pin``
moves them so the newest is issued on a date the test chooses, one month apart as before.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


def months_before(day: date, count: int) -> date:
    """The first of the month ``count`` months before ``day``'s."""
    year, month = divmod(day.year * 12 + day.month - 1 - count, 12)
    return date(year, month + 1, 1)


def pin(invoices: list, newest_issue: date) -> list:
    """``invoices`` (oldest first, as ``make_invoices`` returns them) re-dated: the newest
    issued on ``newest_issue`` (a first of the month), each period the month before its
    issue. The session must be flushed afterwards (or committed) by the caller."""
    count = len(invoices)
    for index, invoice in enumerate(invoices):
        issued = months_before(newest_issue, count - 1 - index)
        invoice.issue_date = issued
        invoice.period_start = issued - timedelta(days=30)
        invoice.period_end = issued - timedelta(days=1)
        invoice.due_date = issued + timedelta(days=20)
        if invoice.paid_at is not None:
            invoice.paid_at = datetime(issued.year, issued.month, 15, 17, tzinfo=UTC)
    return invoices
