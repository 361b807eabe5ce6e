"""Mis datos' rules without HTTP: the phone, unique emails, the session stamp, the browser
family and the recent sign-ins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ov.extensions import db
from ov.services import audit, profile
from ov.services import auth as auth_service
from ov.services.validation import FieldError
from tests.support.factories import make_customer

# --- the phone ------------------------------------------------------------------------------

# A Mexican number: the area code never starts with 0 or 1.
numbers = st.from_regex(r"[2-9][0-9]{9}", fullmatch=True)


@pytest.mark.parametrize("typed", ["81 1234 5678", "(81) 1234-5678", "+52 81 1234 5678",
                                   "8112345678", " 81.1234.5678 ", "52 81 1234 5678",
                                   "+52 1 81 1234 5678", "+528112345678"])
def test_a_phone_is_read_as_people_type_it(typed):
    assert profile.clean_phone(typed) == "8112345678"


@given(numbers, st.sampled_from(["", "+52 ", "+52", "52 "]),
       st.lists(st.sampled_from(["", " ", "-", ".", "  "]), min_size=10, max_size=10),
       st.booleans())
def test_any_spelling_of_a_number_gives_its_ten_digits(digits, prefix, gaps, parenthesis):
    area = 2 if digits[:2] in profile.TWO_DIGIT_AREAS else 3
    head = f"({digits[:area]})" if parenthesis else digits[:area]
    rest = "".join(gap + digit for gap, digit in zip(gaps, digits[area:], strict=False))
    assert profile.clean_phone(prefix + head + rest) == digits


@given(numbers)
def test_the_shown_form_reads_back_as_the_same_number(digits):
    shown = profile.format_phone(digits)
    assert profile.clean_phone(shown) == digits
    assert shown.replace(" ", "") == digits
    groups = [len(part) for part in shown.split(" ")]
    assert groups == ([2, 4, 4] if digits[:2] in profile.TWO_DIGIT_AREAS else [3, 3, 4])


def test_two_digit_area_codes_show_as_2_4_4_and_the_others_as_3_3_4():
    assert profile.format_phone("8112345678") == "81 1234 5678"
    assert profile.format_phone("5512345678") == "55 1234 5678"
    assert profile.format_phone("3312345678") == "33 1234 5678"
    assert profile.format_phone("5612345678") == "56 1234 5678"  # Mexico City since 2019
    assert profile.format_phone("8671234567") == "867 123 4567"
    assert profile.format_phone(None) == ""


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_an_empty_phone_means_none(empty):
    assert profile.clean_phone(empty) is None


@pytest.mark.parametrize(("typed", "says"), [
    ("81 1234 567", "Le faltan dígitos"),
    ("81 1234 56789", "Tiene más de 10 dígitos"),
    ("+1 212 555 0100", "número de México"),
    ("01 81 1234 5678", "Tiene más de 10 dígitos"),
    ("0812345678", "no empieza con 0 ni con 1"),
    ("1812345678", "no empieza con 0 ni con 1"),
    ("81 1234 abcd", "Quita «a»"),
    ("８１１２３４５６７８", "Escribe solo números"),
    ("81 1234 5678 ext 2", "Escribe solo números"),
    ("8" * 31, "demasiado largo"),
])
def test_anything_else_gets_a_clear_reason(typed, says):
    with pytest.raises(FieldError, match=says):
        profile.clean_phone(typed)


@given(st.text(alphabet=st.characters(blacklist_categories=["Nd"], blacklist_characters=" -.()+"),
               min_size=1).filter(str.strip))
def test_text_that_is_not_a_number_is_refused(typed):
    with pytest.raises(FieldError):
        profile.clean_phone(typed)


# --- unique emails --------------------------------------------------------------------------

def two_users(email: str):
    """A customer with ``email`` and another one (a different address and contract)."""
    user, _ = make_customer(email=email)
    other, _ = make_customer(username="otraPersona2", email="otra@ejemplo.mx", number="5550001")
    return user, other


@pytest.mark.usefixtures("clean_db")
def test_an_email_is_taken_by_another_user_whatever_its_letter_case(app):
    with app.app_context():
        user, other = two_users("Ana.Perez@Ejemplo.mx")
        assert profile.email_taken("ana.perez@ejemplo.MX")
        assert profile.email_taken(" ana.perez@ejemplo.mx ", except_user_id=other.id)
        assert not profile.email_taken("ana.perez@ejemplo.mx", except_user_id=user.id)
        assert not profile.email_taken("nadie@ejemplo.mx")


@pytest.mark.usefixtures("clean_db")
def test_a_blocked_users_address_is_free_again(app):
    with app.app_context():
        user, _ = make_customer(email="ana@ejemplo.mx")
        user.blocked_at = datetime(2026, 12, 1, tzinfo=UTC)
        db.session.flush()
        assert not profile.email_taken("ana@ejemplo.mx")


# --- the session stamp ----------------------------------------------------------------------

@pytest.mark.usefixtures("clean_db")
def test_ending_the_other_sessions_changes_the_stamp(app):
    with app.app_context():
        user, _ = make_customer(password_hash="hash-1")
        before = auth_service.session_stamp(user)
        assert auth_service.stamp_matches(user, before)
        profile.end_other_sessions(user, client_address="192.0.2.1")
        after = auth_service.session_stamp(user)
        assert after != before and not auth_service.stamp_matches(user, before)
        db.session.flush()
        db.session.expire(user)  # read back from the database: the same stamp
        assert auth_service.session_stamp(user) == after
        user.sessions_ended_at += timedelta(seconds=1)
        assert auth_service.session_stamp(user) != after


@pytest.mark.usefixtures("clean_db")
def test_a_new_password_changes_the_stamp_too(app):
    with app.app_context():
        user, _ = make_customer(password_hash="hash-1")
        user.sessions_ended_at = datetime(2026, 12, 1, tzinfo=UTC)
        before = auth_service.session_stamp(user)
        user.password_hash = "hash-2"
        assert auth_service.session_stamp(user) != before


@pytest.mark.usefixtures("clean_db")
def test_ending_the_other_sessions_changes_the_device_stamp(app):
    with app.app_context():
        user, _ = make_customer(password_hash="hash-1")
        before = auth_service.device_stamp(user)
        assert before == auth_service.device_stamp(user)
        profile.end_other_sessions(user, client_address="192.0.2.1")
        assert auth_service.device_stamp(user) != before


@pytest.mark.usefixtures("clean_db")
def test_a_new_password_clears_the_pending_address(app):
    with app.app_context():
        user, _ = make_customer()
        user.pending_email = "nuevo@ejemplo.mx"
        user.pending_email_at = datetime(2026, 12, 1, tzinfo=UTC)
        auth_service.set_password(user, "Wd4kPq8sZr")
        assert user.pending_email is None and user.pending_email_at is None


@pytest.mark.usefixtures("clean_db")
def test_an_address_pending_for_another_user_is_taken_in_every_alphabet(app):
    with app.app_context():
        user, other = two_users("ana@ejemplo.mx")
        user.pending_email = "JOSÉ@ejemplo.mx"
        user.pending_email_at = datetime.now(UTC)
        db.session.flush()
        assert profile.email_taken("josé@ejemplo.mx")
        assert profile.email_taken("josé@ejemplo.mx", except_user_id=other.id)
        assert not profile.email_taken("josé@ejemplo.mx", except_user_id=user.id)
        # An expired link no longer holds the address.
        user.pending_email_at -= timedelta(seconds=app.config["OV_EMAIL_CONFIRM_MAX_AGE"] + 1)
        db.session.flush()
        assert not profile.email_taken("josé@ejemplo.mx")


@pytest.mark.usefixtures("clean_db")
def test_a_current_address_is_compared_in_every_alphabet(app):
    with app.app_context():
        make_customer(email="JOSÉ@ejemplo.mx")
        assert profile.email_taken("josé@ejemplo.mx")


# --- the browser family ---------------------------------------------------------------------

@pytest.mark.parametrize(("agent", "family"), [
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Mobile Safari/537.36", "Chrome"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0", "Edge"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
     "like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", "Safari"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", "Firefox"),
    ("Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like "
     "Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36", "Samsung Internet"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0", "Opera"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/156.0.0.0 Safari/537.36", "Chrome"),
])
def test_the_browser_family_is_the_name_people_know(agent, family):
    assert profile.browser_family(agent) == family


@pytest.mark.parametrize(("agent", "family"), [
    ("CURP-ABCD123456HDFXYZ09 Bot", "Otro"),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
     "Otro"),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Mobile Safari/537.36 OPR/79.0.0.0", "Opera"),
    ("Mozilla/5.0 (Linux; U; Android 8.1.0; es-MX; Nexus 6P Build/OPM7.181205.001) "
     "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/57.0.2987.108 "
     "UCBrowser/12.11.1.1197 Mobile Safari/537.36", "UC Browser"),
    ("Mozilla/5.0 (Linux; U; Android 4.0.3; es-mx; LG-L160L Build/IML74K) AppleWebKit/534.30 "
     "(KHTML, like Gecko) Version/4.0 Mobile Safari/534.30", "Navegador de Android"),
])
def test_only_known_browser_families_are_kept(agent, family):
    assert profile.browser_family(agent) == family


def test_the_browser_parser_is_ready_once_the_app_is_built(monkeypatch):
    import ua_parser

    from ov import create_app

    monkeypatch.delattr(ua_parser, "parser", raising=False)  # as in a fresh process
    assert "parser" not in vars(ua_parser)
    create_app({"TESTING": True, "SECRET_KEY": "x" * 32})
    assert "parser" in vars(ua_parser)


def test_every_family_kept_is_in_the_fixed_list():
    assert set(profile.FAMILIES.values()) <= set(profile.KNOWN_BROWSERS)


@pytest.mark.parametrize("agent", [None, "", "Werkzeug/3.1.9", "\x00\x01"])
def test_an_agent_that_names_no_browser_gives_none(agent):
    assert profile.browser_family(agent) is None


# --- the recent sign-ins --------------------------------------------------------------------

@pytest.mark.usefixtures("clean_db")
def test_the_last_ten_sign_ins_newest_first_with_old_events_unknown(app):
    with app.app_context():
        user, _ = make_customer()
        other, _ = make_customer(username="otraPersona2", email="otra@ejemplo.mx",
                                 number="5550001")
        start = datetime(2026, 11, 1, 18, 0, tzinfo=UTC)
        for day in range(12):
            event = audit.record("login_succeeded" if day % 3 else "login_failed",
                                 user_id=user.id, **({"browser": "Firefox"} if day else {}))
            event.at = start + timedelta(days=day)
        audit.record("login_succeeded", user_id=other.id, browser="Edge")
        audit.record("logout", user_id=user.id)
        db.session.flush()
        found = profile.recent_sign_ins(user.id)
        assert len(found) == 10
        assert [item.at.day for item in found] == list(range(12, 2, -1))
        assert all(item.browser == "Firefox" for item in found)
        assert [item.succeeded for item in found[:4]] == [True, True, False, True]
        assert found[0].when == "12/11/2026 12:00"  # Mexico City, UTC-6
        oldest = profile.recent_sign_ins(user.id, limit=12)[-1]
        assert oldest.browser == profile.UNKNOWN_BROWSER and not oldest.succeeded
