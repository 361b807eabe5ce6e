"""Autolectura's rules: what a reading may look like, when the customer is asked to confirm
it, and how it is kept (one pending per contract and day)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from ov.extensions import db
from ov.models import AuditEvent, Invoice, Photo, Reading, ReadingSubmission
from ov.services import photos, readings
from ov.services.readings import Basis, ReadingError, RealReading
from tests.support import images
from tests.support.factories import invoice_number, make_customer

TODAY = date(2026, 12, 1)


# --- what may be typed ----------------------------------------------------------------------

@pytest.mark.parametrize("typed, value", [
    ("1234", 1234), ("  1234 ", 1234), ("0", 0), ("00001234", 1234), ("99999999", 99999999),
])
def test_digits_are_a_reading(typed, value):
    assert readings.clean_value(typed) == value


@pytest.mark.parametrize("typed, message", [
    ("", readings.EMPTY), ("   ", readings.EMPTY), (None, readings.EMPTY),
    ("12 34", readings.SPACES), ("1\t234", readings.SPACES),
    ("-12", readings.NEGATIVE), ("−12", readings.NEGATIVE), ("-1.5", readings.NEGATIVE),
    ("1234.5", readings.DECIMALS), ("1,234", readings.DECIMALS), ("12.", readings.DECIMALS),
    ("12a4", readings.NOT_DIGITS), ("abc", readings.NOT_DIGITS), ("+12", readings.NOT_DIGITS),
    ("١٢٣", readings.NOT_DIGITS), ("１２３", readings.NOT_DIGITS), ("²", readings.NOT_DIGITS),
    ("123456789", readings.TOO_LONG), ("000000001", readings.TOO_LONG),
])
def test_anything_else_is_refused_with_a_message_that_says_what_to_type(typed, message):
    with pytest.raises(ReadingError) as refused:
        readings.clean_value(typed)
    assert str(refused.value) == message


@given(st.integers(min_value=0, max_value=10**readings.MAX_DIGITS - 1))
def test_every_register_value_round_trips(value):
    assert readings.clean_value(str(value)) == value


@given(st.text(min_size=1, max_size=12).filter(
    lambda t: any(not (c.isascii() and c.isdigit()) and not c.isspace() for c in t)))
def test_any_text_with_a_sign_other_than_digits_is_refused(typed):
    with pytest.raises(ReadingError):
        readings.clean_value(typed)


# --- when the customer is asked to confirm -------------------------------------------------

LAST = RealReading(1300, date(2026, 10, 15))
USUAL = Basis(LAST, Decimal("2"))  # 2 m³ a day


def test_a_lower_value_asks_to_confirm_and_says_why_with_the_last_real_reading():
    caution = readings.check(1234, USUAL, TODAY)
    assert caution.kind == readings.LOWER
    assert caution.message == (
        "Tu lectura (1,234) es menor que la última lectura real (1,300 del 15/10/2026). "
        "Revisa los números negros del medidor, sin los rojos. Si es correcta, confírmala.")


def test_a_jump_asks_to_confirm_with_the_figures():
    # 47 days since the last real reading; 3 × 2 m³ a day allows up to 282 m³.
    assert readings.check(1300 + 282, USUAL, TODAY) is None
    caution = readings.check(1300 + 470, USUAL, TODAY)
    assert caution.kind == readings.JUMP
    assert caution.message == (
        "Tu lectura (1,770) indica que usaste 470 m³ en 47 días desde la última lectura real "
        "(1,300 del 15/10/2026): unos 10 m³ al día, más de 3 veces lo que sueles usar (unos "
        "2 m³ al día). Revisa los números negros del medidor, sin los rojos. Si es correcta, "
        "confírmala.")


def test_a_customer_who_uses_almost_no_gas_is_not_asked_about_a_few_m3():
    tiny = Basis(LAST, Decimal("0.05"))
    assert readings.check(1300 + readings.JUMP_FLOOR_M3, tiny, TODAY) is None
    assert readings.check(1300 + readings.JUMP_FLOOR_M3 + 1, tiny, TODAY).kind == readings.JUMP
    none = Basis(LAST, Decimal("0"))
    assert "casi nada de gas" in readings.check(1400, none, TODAY).message


def test_nothing_to_compare_asks_nothing():
    assert readings.check(0, Basis(None, Decimal("2")), TODAY) is None
    assert readings.check(99999999, Basis(LAST, None), TODAY) is None
    # Without a usual use a lower value is still lower.
    assert readings.check(1, Basis(LAST, None), TODAY).kind == readings.LOWER


def test_a_reading_on_the_day_of_the_last_real_one_counts_one_day():
    same_day = Basis(RealReading(1300, TODAY), Decimal("2"))
    assert readings.check(1306, same_day, TODAY) is None
    assert "en 1 día " in readings.check(1330, same_day, TODAY).message


@given(last=st.integers(0, 10**8 - 1), value=st.integers(0, 10**8 - 1),
       usual=st.decimals(min_value=0, max_value=50, places=2),
       days=st.integers(0, 400))
def test_the_warning_follows_the_rule_for_any_value_and_last_reading(last, value, usual, days):
    known = Basis(RealReading(last, TODAY - timedelta(days=days)), usual)
    caution = readings.check(value, known, TODAY)
    added = value - last
    if value < last:
        assert caution.kind == readings.LOWER
        assert f"({readings.number(value)})" in caution.message
    elif added > readings.JUMP_FLOOR_M3 and added > readings.JUMP_FACTOR * usual * max(days, 1):
        assert caution.kind == readings.JUMP
        assert f"usaste {readings.number(added)} m³" in caution.message
    else:
        assert caution is None


# --- what a contract's reading is compared with -------------------------------------------

def invoice(account, index: int, *, kind: str = "real", consumption: int = 60,
            reading: int = 1000) -> Invoice:
    end = date(2026, 1, 1) + timedelta(days=30 * index)
    made = Invoice(account=account, zone_id=account.zone_id,
                   number=invoice_number(account.id, index), issue_date=end + timedelta(days=3),
                   period_start=end - timedelta(days=29), period_end=end,
                   due_date=end + timedelta(days=23), previous_reading=reading - consumption,
                   current_reading=reading, reading_type=kind, consumption_m3=consumption,
                   subtotal=Decimal("100"), tax=Decimal("16"), total=Decimal("116"))
    db.session.add(made)
    return made


@pytest.mark.usefixtures("clean_db")
def test_the_basis_is_the_newest_real_reading_and_the_recent_daily_use(app):
    with app.app_context():
        _, account = make_customer()
        for index in range(8):
            invoice(account, index, kind="estimated" if index == 7 else "real",
                    consumption=30 if index < 2 else 60, reading=1000 + 60 * index)
        db.session.flush()
        known = readings.basis(account.id)
        # Invoice 7 is estimated: the last real one is invoice 6's.
        assert known.last_real == RealReading(1360, date(2026, 1, 1) + timedelta(days=180))
        assert known.usual_daily == Decimal(60 * 6) / (30 * 6)  # the last six periods
        # A meter reader's reading after the last bill is newer still.
        db.session.add(Reading(account_id=account.id, read_on=date(2026, 11, 20), value=1500,
                               reading_type="real", source="meter_reader"))
        db.session.add(Reading(account_id=account.id, read_on=date(2026, 11, 25), value=1600,
                               reading_type="estimated", source="system"))
        db.session.flush()
        assert readings.basis(account.id).last_real == RealReading(1500, date(2026, 11, 20))
        db.session.rollback()


@pytest.mark.usefixtures("clean_db")
def test_a_contract_with_no_history_has_nothing_to_compare(app):
    with app.app_context():
        _, account = make_customer()
        assert readings.basis(account.id) == Basis(None, None)
        db.session.rollback()


# --- keeping it ------------------------------------------------------------------------------

def submissions(account_id: int) -> list[ReadingSubmission]:
    return list(db.session.scalars(select(ReadingSubmission).where(
        ReadingSubmission.account_id == account_id).order_by(ReadingSubmission.id)))


@pytest.mark.usefixtures("clean_db")
def test_a_submission_is_kept_as_received_with_its_photo_and_audited_without_typed_text(app):
    with app.app_context():
        user, account = make_customer()
        prepared = photos.prepare(BytesIO(images.photo(800, 600)))
        photo = photos.keep(prepared, user_id=user.id, account_id=account.id)
        stored = readings.submit(user_id=user.id, account_id=account.id, value=1234,
                                 read_on=TODAY, photo=photo, confirmed=readings.LOWER,
                                 client_address="203.0.113.9")
        db.session.commit()
        [row] = submissions(account.id)
        assert (row.user_id, row.value, row.read_on, row.status, row.confirmed) == (
            user.id, 1234, TODAY, "received", "lower")
        assert not stored.replaced and stored.dropped == []
        kept = db.session.get(Photo, row.photo_id)
        assert photos.path_of(kept).read_bytes() == prepared.jpeg
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "reading_submitted")).one()
        assert event.details == {"account_id": account.id, "submission_id": row.id,
                                 "photo": True, "confirmed": "lower"}
        assert "1234" not in str(event.details)


@pytest.mark.usefixtures("clean_db")
def test_a_second_reading_the_same_day_replaces_the_first_and_keeps_its_photo(app):
    def new_photo():
        return photos.keep(photos.prepare(BytesIO(images.photo(400, 300))),
                           user_id=user.id, account_id=account.id)

    with app.app_context():
        user, account = make_customer()
        first = readings.submit(user_id=user.id, account_id=account.id, value=1234,
                                read_on=TODAY, photo=new_photo())
        db.session.commit()
        old_photo = db.session.get(Photo, first.submission.photo_id)
        old_path = photos.path_of(old_photo)
        # A corrected value without a new file keeps the photo sent first.
        second = readings.submit(user_id=user.id, account_id=account.id, value=1243,
                                 read_on=TODAY)
        db.session.commit()
        assert second.replaced and second.dropped == []
        [row] = submissions(account.id)
        assert (row.value, row.photo_id, row.confirmed) == (1243, old_photo.id, None)
        assert old_path.exists()
        # A different photo replaces the old one, which goes.
        third = readings.submit(user_id=user.id, account_id=account.id, value=1244,
                                read_on=TODAY, photo=new_photo())
        db.session.commit()
        photos.discard(third.dropped)
        assert third.replaced and [p.stored_name for p in third.dropped] == [old_path.name]
        assert not old_path.exists()
        [row] = submissions(account.id)
        assert row.value == 1244 and row.photo_id not in (None, old_photo.id)
        assert db.session.scalar(select(func.count()).select_from(Photo)) == 1
        # Another day, or once the first is reviewed, a new one is kept beside it.
        readings.submit(user_id=user.id, account_id=account.id, value=1250,
                        read_on=TODAY + timedelta(days=1))
        row.status = "accepted"
        readings.submit(user_id=user.id, account_id=account.id, value=1251, read_on=TODAY)
        db.session.commit()
        assert [(r.read_on, r.value, r.status) for r in submissions(account.id)] == [
            (TODAY, 1244, "accepted"), (TODAY + timedelta(days=1), 1250, "received"),
            (TODAY, 1251, "received")]


@pytest.mark.usefixtures("clean_db")
def test_an_unknown_confirmation_is_a_programming_error(app):
    with app.app_context():
        user, account = make_customer()
        with pytest.raises(ValueError):
            readings.submit(user_id=user.id, account_id=account.id, value=1, read_on=TODAY,
                            confirmed="yes")
        db.session.rollback()


BACKENDS = [pytest.param("any", id="default"),
            pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)]


@pytest.mark.usefixtures("clean_db")
@pytest.mark.parametrize("backend", BACKENDS)
def test_two_readings_at_once_the_same_day_keep_one(app, backend):
    """A double tap on «Enviar»: both start together (a barrier, no clock); they take turns,
    and the second replaces the first."""
    import threading

    with app.app_context():
        user, account = make_customer()
        db.session.commit()
        user_id, account_id = user.id, account.id
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def send(value: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                readings.submit(user_id=user_id, account_id=account_id, value=value,
                                read_on=TODAY)
                db.session.commit()
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            with app.app_context():
                db.session.remove()

    threads = [threading.Thread(target=send, args=(value,)) for value in (1111, 2222)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    with app.app_context():
        [row] = submissions(account_id)
        assert row.value in (1111, 2222)
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "reading_submitted").order_by(AuditEvent.id)).all()
        assert [event.details.get("replaced") for event in events] == [None, True]
