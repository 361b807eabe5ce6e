"""Password rules (the seed's and the NIST-style preset) and argon2 hashing."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher, extract_parameters
from hypothesis import given, settings
from hypothesis import strategies as st

from ov.services import passwords
from ov.services.passwords import (
    HAS_EMAIL,
    HAS_PORTAL_NAME,
    HAS_USERNAME,
    NIST_TOO_LONG,
    NIST_TOO_SHORT,
    NIST_UNPRINTABLE,
    SEED_FORMAT,
    check,
)

ASCII_ALNUM = re.compile(r"[A-Za-z0-9]{8,12}")
ALNUM_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
COMMON = passwords.COMMON


# --- the seed's rule ----------------------------------------------------------------------

@pytest.mark.parametrize("password", ["Tq7mZ2pLx9", "h4Rd8pQz", "w9Kx2Lm7Pq4Z", "8vNq3Zt6"])
def test_seed_accepts_random_letters_and_digits(password):
    assert check(password, username="usuPDFactura1", email="cliente@ejemplo.mx") == []


@pytest.mark.parametrize(
    "password",
    [
        "",
        "Tq7mZ2p",  # 7
        "Tq7mZ2pLx9abc",  # 13
        "Tq7m-Z2pLx",
        "Tq7m Z2pLx",
        "Tq7mZ2pLx9\n",
        "\nTq7mZ2pLx9",
        "contraseña9Q",
        "Tq7mZ2pLxé",
        "١٢٣٤٥٦٧٨٩",  # Arabic-Indic digits: str.isdigit() says yes, the rule says no
        "Ｔｑ７ｍＺ２ｐＬ",  # full-width letters
        "Tq7mZ2pL!x",
    ],
)
def test_seed_refuses_anything_but_8_to_12_ascii_letters_and_digits(password):
    assert check(password, policy="seed")[0] == SEED_FORMAT


@pytest.mark.parametrize(
    "password", ["password1", "qwerty123", "12345678", "abc123456", "gatito2024", "Mexico123"]
)
def test_common_passwords_are_refused_with_advice(password):
    assert check(password, policy="seed") == [COMMON["seed"]]
    assert "Elige otra" in COMMON["seed"]


def test_the_username_the_email_and_the_portal_names_are_refused(app):
    with app.app_context():
        assert check("8usuPDF7Qz2", username="UsuPdf") == [HAS_USERNAME]
        assert check("juan8Qz7Xk2", email="juan@ejemplo.mx") == [HAS_EMAIL]
        assert check("Nunez8Qz7Xk2", email="jose.núñez@ejemplo.mx") == [HAS_EMAIL]
        portal = ["Oficina8Qz7", "8Qz7Virtual", "Noreste8Qz7", "GasNatural8Q", "Naturgy8Qz7"]
        for password in portal:
            assert check(password) == [HAS_PORTAL_NAME], password
        # Short bits of an email are not words: "jo@..." does not forbid every "jo".
        assert check("Tq7mjoZ2pLx9", email="jo@ejemplo.mx") == []


def test_each_message_says_what_to_do():
    for message in [SEED_FORMAT, NIST_TOO_SHORT, NIST_TOO_LONG, NIST_UNPRINTABLE,
                    HAS_USERNAME, HAS_EMAIL, HAS_PORTAL_NAME, *COMMON.values()]:
        assert re.search(r"\b(Elige|Escribe|Escríbela|Usa|No uses|debe|puede|sugerimos)\b",
                         message), message


def test_the_policy_comes_from_the_settings(app, monkeypatch):
    phrase = "mi perro come tacos al pastor"
    with app.app_context():
        assert check(phrase) == [SEED_FORMAT]
        monkeypatch.setitem(app.config, "OV_PASSWORD_POLICY", "nist")
        assert check(phrase) == []
    with pytest.raises(ValueError):
        check(phrase, policy="lax")


# --- the NIST-style preset ----------------------------------------------------------------

def test_nist_takes_long_phrases_with_spaces_and_any_characters():
    assert check("mi perro come tacos al pastor", policy="nist") == []
    assert check("Ñandú veloz: 3 kiwis y 1 café", policy="nist") == []
    assert check("x" * 14, policy="nist")[0] == NIST_TOO_SHORT
    assert check("k9 Lm3 qz " * 7, policy="nist") == [NIST_TOO_LONG]
    assert NIST_UNPRINTABLE in check("mi perro come\ttacos al pastor", policy="nist")
    assert NIST_UNPRINTABLE in check("mi perro come tacos\nal pastor", policy="nist")
    assert check("passwordpassword", policy="nist") == [COMMON["nist"]]


def test_nist_compares_the_nfkc_form():
    # Full-width letters and a no-break space are the same text after NFKC normalisation.
    assert passwords.normalize("ｍｉ\u00a0perro") == "mi perro"
    assert check("ｍｉ perro come tacos al pastor", policy="nist") == []
    assert check("ｏｆｉｃｉｎａ come tacos al pastor", policy="nist") == [HAS_PORTAL_NAME]


def test_zxcvbn_never_sees_more_than_64_characters(monkeypatch):
    """zxcvbn's work grows fast with the input's length: a huge input must reach it cut to
    64 characters, and one refused as too long must not reach it at all."""
    seen: list[str] = []
    real = passwords.zxcvbn

    def spy(password, user_inputs):
        seen.append(password)
        return real(password, user_inputs=user_inputs)

    monkeypatch.setattr(passwords, "zxcvbn", spy)
    passwords.is_common("Qz8 kiwi " * 10_000)
    assert check("a1" * 20_000, policy="nist") == [NIST_TOO_LONG]
    assert [len(password) for password in seen] == [64]


# --- properties of the seed's rule ---------------------------------------------------------

@settings(deadline=None, database=None, max_examples=300)
@given(st.text(max_size=20))
def test_any_string_outside_the_rule_is_refused(password):
    if not ASCII_ALNUM.fullmatch(password):
        assert SEED_FORMAT in check(password, policy="seed")


@settings(deadline=None, database=None, max_examples=300)
@given(st.one_of(st.text(max_size=20), st.text(alphabet=ALNUM_CHARS, min_size=6, max_size=14)))
def test_any_accepted_string_follows_the_rule(password):
    if check(password, policy="seed") == []:
        assert ASCII_ALNUM.fullmatch(password)
        assert len(password) in range(8, 13) and password.isascii() and password.isalnum()


@settings(deadline=None, database=None, max_examples=200)
@given(st.text(alphabet=ALNUM_CHARS, min_size=8, max_size=12))
def test_the_format_never_refuses_8_to_12_ascii_letters_and_digits(password):
    assert SEED_FORMAT not in check(password, policy="seed")


# --- hashing ------------------------------------------------------------------------------

def test_hash_and_verify(app):
    with app.app_context():
        hashed = passwords.hash_password("Tq7mZ2pLx9")
        assert hashed.startswith("$argon2id$")
        assert "m=8,t=1,p=1" in hashed  # OV_ARGON2_FAST in the test settings
        assert passwords.verify_password(hashed, "Tq7mZ2pLx9")
        assert not passwords.verify_password(hashed, "Tq7mZ2pLx8")
        assert not passwords.verify_password(hashed, "")
        assert not passwords.verify_password("scrypt:not-a-real-hash", "Tq7mZ2pLx9")
        assert not passwords.verify_password("", "Tq7mZ2pLx9")
        assert passwords.hash_password("Tq7mZ2pLx9") != hashed  # salted


def test_outside_the_tests_the_parameters_are_owasps():
    hashed = passwords.hash_password("Tq7mZ2pLx9")  # no app: the production parameters
    assert "m=19456,t=2,p=1" in hashed
    assert passwords.verify_password(hashed, "Tq7mZ2pLx9")
    assert not passwords.needs_rehash(hashed)


def test_hashes_with_other_parameters_need_a_rehash(app):
    older = PasswordHasher(time_cost=1, memory_cost=16, parallelism=1).hash("Tq7mZ2pLx9")
    with app.app_context():
        current = passwords.hash_password("Tq7mZ2pLx9")
        assert not passwords.needs_rehash(current)
        assert passwords.needs_rehash(older)
        assert passwords.verify_password(older, "Tq7mZ2pLx9")  # still verifies meanwhile
        assert passwords.needs_rehash("not a hash")


def test_a_phrase_verifies_whatever_keyboard_typed_it(app):
    with app.app_context():
        hashed = passwords.hash_password("ｍｉ perro come tacos")
        assert passwords.verify_password(hashed, "mi perro come tacos")


def test_the_dummy_verification_does_the_same_work_and_always_fails(app, monkeypatch):
    with app.app_context():
        assert passwords.verify_dummy("Tq7mZ2pLx9") is False
        assert passwords.verify_dummy("") is False
    for fast in (False, True):
        hasher = passwords._hasher_for(fast)
        dummy = passwords._dummy_hash(hasher)
        # Same parameters as a real hash, so verifying it costs what a real check costs.
        assert extract_parameters(dummy) == extract_parameters(hasher.hash("Tq7mZ2pLx9"))
    verified: list[str] = []
    real_verify = PasswordHasher.verify

    def spy(self, hash, password):
        verified.append(hash)
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    with app.app_context():
        passwords.verify_dummy("otra cosa")
        passwords.verify_password("scrypt:not-a-real-hash", "otra cosa")
    dummy = passwords._dummy_hash(passwords._hasher_for(True))
    assert verified == [dummy, "scrypt:not-a-real-hash", dummy]


def test_a_sign_in_rehashes_a_hash_made_with_other_parameters(app, client, clean_db):
    """A hash from other parameters (older settings) is replaced at the next successful
    sign-in, with the password just typed; a failed one leaves it alone. The session that
    sign-in opened stays valid (its stamp is taken from the new hash)."""
    from ov.extensions import db
    from ov.models import User
    from tests.support.factories import customer_with_invoices
    from tests.support.journeys import PASSWORD, sign_in

    made = customer_with_invoices(app, 1)
    older = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1).hash(PASSWORD)
    with app.app_context():
        db.session.get(User, made["user_id"]).password_hash = older
        db.session.commit()
    assert sign_in(client, "usuPDFactura1", "Equivocada1").status_code == 422
    with app.app_context():
        assert db.session.get(User, made["user_id"]).password_hash == older
    assert sign_in(client, "usuPDFactura1").status_code == 303
    with app.app_context():
        renewed = db.session.get(User, made["user_id"]).password_hash
        assert renewed != older
        assert extract_parameters(renewed) == extract_parameters(passwords.hash_password("x"))
        assert not passwords.needs_rehash(renewed)
        assert passwords.verify_password(renewed, PASSWORD)
    assert client.get("/mi-oficina").status_code == 200
