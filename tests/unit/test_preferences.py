"""The preferences service without HTTP: from which bill a paperless change applies (frozen
dates), the paperless and notice choices with their audit."""

from __future__ import annotations

from datetime import date

import pytest

from ov.extensions import db
from ov.services import preferences
from ov.services.preferences import Period, next_changeable_bill, usual_period
from tests.support.factories import make_customer, make_invoices
from tests.support.rows import events


def firsts(year: int, month: int, count: int) -> list[date]:
    """Issue dates on the 1st of ``count`` months ending at ``year``-``month``."""
    found = []
    for back in range(count - 1, -1, -1):
        y, m = divmod(year * 12 + month - 1 - back, 12)
        found.append(date(y, m + 1, 1))
    return found


# --- the usual period -----------------------------------------------------------------------

@pytest.mark.parametrize(("dates", "period"), [
    (firsts(2026, 11, 7), Period(months=1)),
    ([date(2026, 1, 3), date(2026, 2, 2), date(2026, 3, 5), date(2026, 4, 3)], Period(months=1)),
    ([date(2026, 1, 1), date(2026, 3, 1), date(2026, 5, 1), date(2026, 7, 2)], Period(months=2)),
    ([date(2026, 1, 1), date(2026, 1, 15), date(2026, 1, 29)], Period(days=14)),
    ([date(2026, 1, 1), date(2026, 2, 15), date(2026, 4, 1)], Period(days=45)),
    ([date(2026, 11, 1)], Period(months=1)),  # one bill: taken as monthly
])
def test_the_usual_period_comes_from_the_gaps_between_bills(dates, period):
    assert usual_period(dates) == period
    assert usual_period(list(reversed(dates))) == period  # whatever the order


def test_calendar_months_keep_the_day_or_the_months_last():
    assert Period(months=1).after(date(2026, 1, 31)) == date(2026, 2, 28)
    assert Period(months=1).after(date(2026, 12, 1)) == date(2027, 1, 1)
    assert Period(days=14).after(date(2026, 12, 25)) == date(2027, 1, 8)


# --- from which bill --------------------------------------------------------------------------

MONTHLY = firsts(2026, 11, 7)  # the latest issued on 01/11/2026


@pytest.mark.parametrize(("today", "expected"), [
    (date(2026, 11, 2), date(2026, 12, 1)),   # the next bill is far away
    (date(2026, 11, 24), date(2026, 12, 1)),  # 7 days before: still changeable
    (date(2026, 11, 25), date(2027, 1, 1)),   # 6 days before: in print, the one after
    (date(2026, 12, 1), date(2027, 1, 1)),    # its issue day, not yet in the mirror
    (date(2026, 12, 28), date(2027, 2, 1)),   # the mirror is late and January is close
])
def test_a_change_applies_from_the_next_bill_not_yet_in_print(today, expected):
    assert next_changeable_bill(MONTHLY, today) == expected


def month_ends(day_: int, year: int, month: int, count: int) -> list[date]:
    """Issue dates on ``day_`` (or the month's last day) of ``count`` months ending at
    ``year``-``month``, as a utility that bills on the 29th, 30th or 31st issues them."""
    import calendar

    found = []
    for back in range(count - 1, -1, -1):
        y, m = divmod(year * 12 + month - 1 - back, 12)
        found.append(date(y, m + 1, min(day_, calendar.monthrange(y, m + 1)[1])))
    return found


@pytest.mark.parametrize(("dates", "today", "expected"), [
    # Bills on the 31st: February's is on the 28th, March's back on the 31st.
    (month_ends(31, 2026, 1, 4), date(2026, 2, 20), date(2026, 2, 28)),
    (month_ends(31, 2026, 1, 4), date(2026, 2, 22), date(2026, 3, 31)),
    # On the 30th and the 29th (2027 is not a leap year): past February, the same day again.
    (month_ends(30, 2027, 1, 4), date(2027, 2, 25), date(2027, 3, 30)),
    (month_ends(29, 2027, 1, 4), date(2027, 2, 25), date(2027, 3, 29)),
    # The mirror is late (October's the latest on 05/12): November's 30th is gone, December's
    # 31st is next; a month later, January's 31st.
    (month_ends(31, 2026, 10, 4), date(2026, 12, 5), date(2026, 12, 31)),
    (month_ends(31, 2026, 10, 4), date(2026, 12, 27), date(2027, 1, 31)),
    (month_ends(31, 2026, 10, 4), date(2027, 3, 1), date(2027, 3, 31)),
])
def test_month_end_bills_keep_their_day_however_many_months_are_stepped(dates, today,
                                                                         expected):
    assert usual_period(dates) == Period(months=1)
    assert next_changeable_bill(dates, today) == expected


def test_a_contract_without_bills_changes_from_its_first():
    assert next_changeable_bill([], date(2026, 12, 1)) is None


def test_a_fortnightly_contract_steps_by_its_days():
    dates = [date(2026, 11, 1), date(2026, 11, 15), date(2026, 11, 29)]
    assert next_changeable_bill(dates, date(2026, 11, 30)) == date(2026, 12, 13)
    assert next_changeable_bill(dates, date(2026, 12, 8)) == date(2026, 12, 27)


# --- with the database ----------------------------------------------------------------------

pytestmark_db = pytest.mark.usefixtures("clean_db")


@pytestmark_db
def test_the_latest_issue_dates_of_each_contract_in_one_query(app):
    from tests.support.queries import counting_queries

    with app.app_context():
        user, account = make_customer()
        _, other = make_customer(username="otraPersona2", email="otra@ejemplo.mx",
                                 number="5550001")
        made = make_invoices(account, 10)
        make_invoices(other, 2)
        newest = sorted((invoice.issue_date for invoice in made), reverse=True)
        ids = account.id, other.id
        db.session.commit()
        with counting_queries(app) as statements:
            found = preferences.recent_issue_dates([*ids, 999])
        assert len(statements) == 1
        assert found[ids[0]] == newest[:preferences.HISTORY]
        assert len(found[ids[1]]) == 2 and found[999] == []


@pytestmark_db
def test_turning_paperless_on_is_audited_with_the_bill_it_applies_from(app):
    with app.app_context():
        user, account = make_customer()
        for invoice, issued in zip(make_invoices(account, 3), firsts(2026, 11, 3), strict=True):
            invoice.issue_date = issued  # the latest on 01/11/2026, whatever today is
        db.session.flush()
        today = date(2026, 11, 10)
        account_id = account.id
        expected = date(2026, 12, 1)
        change = preferences.set_paperless(user, True, [account.id], today,
                                           client_address="203.0.113.9")
        db.session.commit()
        assert change.changed and change.paperless and user.paperless_bill
        assert change.from_bills == {account.id: expected}
        assert preferences.last_paperless_change(user.id) == (True, {account.id: expected})
        again = preferences.set_paperless(user, True, [account.id], today, client_address=None)
        db.session.commit()
        assert not again.changed
    [event] = events(app, "paperless_changed")
    assert event.details == {"paperless": True,
                             "from_bills": {str(account_id): expected.isoformat()}}
    assert event.client_address == "203.0.113.9"


@pytestmark_db
def test_no_change_of_paperless_leaves_no_trace(app):
    with app.app_context():
        user, account = make_customer()
        user.paperless_bill = False
        preferences.set_paperless(user, False, [account.id], date(2026, 12, 1),
                                  client_address=None)
        db.session.commit()
        assert preferences.last_paperless_change(user.id) is None
    assert events(app, "paperless_changed") == []


@pytestmark_db
def test_notice_choices_change_only_what_differs_and_are_audited(app):
    with app.app_context():
        user, _ = make_customer()
        db.session.flush()
        chosen = {"notify_invoice": True, "notify_payment": False, "notify_request": True,
                  "notify_reading": False}
        changed = preferences.set_notices(user, chosen, client_address=None)
        db.session.commit()
        assert changed == ["notify_payment", "notify_reading"]
        assert preferences.notices_by_mail(user) == ["Nueva factura",
                                                     "Cambios en tus solicitudes"]
        assert preferences.set_notices(user, chosen, client_address=None) == []
        db.session.commit()
    [event] = events(app, "notice_preferences_changed")
    assert event.details == {"notify_payment": False, "notify_reading": False}


def test_formats_are_said_as_customers_read_them():
    assert preferences.format_label("letra_grande") == "letra grande"
    assert preferences.format_phrase("braille") == "en braille"
    assert preferences.format_phrase("normal") == "en formato normal"
    assert preferences.format_phrase(None) == "en formato normal"


# --- what the page says of it ---------------------------------------------------------------

def office_with(*accounts):
    from types import SimpleNamespace

    return SimpleNamespace(accounts=accounts, scope=SimpleNamespace(aliases={}))


def test_from_which_bill_says_nothing_when_no_contract_it_named_is_still_linked():
    from types import SimpleNamespace

    from ov.blueprints.office.preferences import from_which_bill, paperless_message

    linked = SimpleNamespace(id=7, printed_number="8295249")
    assert from_which_bill(office_with(linked), {7: date(2027, 1, 1)}) == (
        "a partir de la factura que emitiremos alrededor del 01/01/2027")
    assert from_which_bill(office_with(linked), {8: date(2027, 1, 1)}) is None
    assert from_which_bill(office_with(), {}) is None
    change = preferences.PaperlessChange(paperless=True, changed=True, from_bills={})
    assert paperless_message(office_with(), change) == (
        "Listo: tu factura te llegará solo por correo, sin papel.")
