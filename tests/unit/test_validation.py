"""The guide's field rules (ov.services.validation), with properties over many inputs."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ov.services.validation import (
    FieldError,
    clean_account_number,
    clean_email,
    clean_invoice_number,
    clean_username,
    mask_email,
    same_invoice_number,
)

ASCII_DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=8)
ASCII_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def outcome(clean, value):
    try:
        return clean(value), None
    except FieldError as error:
        return None, str(error)


# --- account number -------------------------------------------------------------------------

@given(ASCII_DIGITS, st.text(alphabet=" \t", max_size=3), st.text(alphabet=" \t", max_size=3))
def test_account_numbers_of_1_to_8_digits_pass_with_spaces_around(digits, before, after):
    assert clean_account_number(before + digits + after) == digits


@given(st.text(max_size=30))
def test_anything_accepted_as_an_account_is_1_to_8_ascii_digits(value):
    cleaned, message = outcome(clean_account_number, value)
    if cleaned is not None:
        assert re.fullmatch(r"[0-9]{1,8}", cleaned)
    else:
        assert message and message[0].isupper() and message.endswith(".")


@given(ASCII_DIGITS, st.integers(0, 9))
def test_the_printed_form_gets_told_what_to_type(digits, check):
    _, message = outcome(clean_account_number, f"{digits}-{check}")
    assert message == (
        f"Escribe solo los números antes del guion: para {digits}-{check}, escribe solo {digits}."
    )


@pytest.mark.parametrize("value", ["٤٠٩٨٩٩١٧", "４０９８", "8295249\n", "82 95 249"])
def test_other_digits_and_inner_spaces_are_refused(value):
    cleaned, message = outcome(clean_account_number, value)
    if value == "8295249\n":  # white space around a value is ignored
        assert cleaned == "8295249"
    else:
        assert cleaned is None and message


# --- invoice number -------------------------------------------------------------------------

INVOICE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .-"


@given(st.text(alphabet=INVOICE_ALPHABET, min_size=10, max_size=10).filter(
    lambda v: v == v.strip()
))
def test_ten_printed_characters_pass_in_capitals(value):
    assert clean_invoice_number(value) == value.upper()


PRINTED_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"


@given(st.text(alphabet=PRINTED_ALPHABET, min_size=10, max_size=10),
       st.sets(st.integers(1, 9)), st.sampled_from([" ", "  ", "\u00a0"]))
def test_the_spaces_a_bill_prints_between_groups_may_be_typed_or_left_out(
    number, cuts, space
):
    parts = [number[i:j] for i, j in zip([0, *sorted(cuts)], [*sorted(cuts), 10], strict=True)]
    assert clean_invoice_number(space.join(parts)) == number
    assert clean_invoice_number(number.lower()) == number


@pytest.mark.parametrize("typed", ["ZE 4038 9382", "ZE40389382", "ze 4038 9382", " ZE4038 9382 ",
                                   "ZE\u00a04038\u00a09382"])
def test_the_seed_number_as_printed_and_as_typed_without_spaces(typed):
    assert clean_invoice_number(typed) == "ZE40389382"


@given(st.text(max_size=24))
def test_anything_accepted_as_an_invoice_is_ten_printed_characters(value):
    cleaned, message = outcome(clean_invoice_number, value)
    if cleaned is not None:
        assert len(cleaned) == 10 and re.fullmatch(r"[A-Z0-9 .\-]{10}", cleaned)
        assert cleaned == cleaned.strip()
    else:
        assert message


@given(st.text(alphabet="ABC0123456789", min_size=1, max_size=20).filter(lambda v: len(v) != 10))
def test_the_length_message_counts_characters(value):
    _, message = outcome(clean_invoice_number, value)
    assert message.startswith(f"Escribiste {len(value)} ") and "tiene 10" in message


def test_the_length_message_does_not_count_the_spaces():
    _, message = outcome(clean_invoice_number, "ZE 4038 938")
    assert message.startswith("Escribiste 9 caracteres sin contar los espacios; el número de "
                              "factura tiene 10.")
    assert "con o sin los espacios" in message


def test_an_invoice_number_matches_as_kept_or_without_its_spaces():
    assert same_invoice_number("ZE40389382", ["ZE40389382", "ZE12345678"])
    assert not same_invoice_number("ZE40389383", ["ZE40389382", "ZE12345678"])
    # A number kept with a space of its own: the space may sit elsewhere when it identifies
    # one invoice; between two that differ only in their spaces, only the exact spelling does.
    assert same_invoice_number("AB 1234567", ["AB 1234567"])
    assert same_invoice_number("AB1 234567", ["AB 1234567"])
    assert same_invoice_number("AB1 234567", ["AB 1234567", "AB1 234567"])
    assert not same_invoice_number("A B1234567", ["AB 1234567", "AB1 234567"])


# --- username -------------------------------------------------------------------------------

@given(st.text(alphabet=ASCII_ALNUM, min_size=6, max_size=25))
def test_usernames_of_6_to_25_letters_and_digits_pass(value):
    assert clean_username(value) == value


@given(st.text(max_size=40))
def test_anything_accepted_as_a_username_is_6_to_25_ascii_letters_and_digits(value):
    cleaned, _ = outcome(clean_username, value)
    if cleaned is not None:
        assert re.fullmatch(r"[A-Za-z0-9]{6,25}", cleaned, re.ASCII)
        assert "\n" not in cleaned


@pytest.mark.parametrize("value", ["usuario-1", "usuario_1", "usuário1", "usuario١٢", "usu 123"])
def test_usernames_with_other_characters_are_refused(value):
    assert outcome(clean_username, value)[0] is None


# --- email ----------------------------------------------------------------------------------

def test_emails_are_normalised_without_a_network_look_up():
    assert clean_email(" Correo@ELECTRONICO.es ") == "Correo@electronico.es"
    assert outcome(clean_email, "correo@")[0] is None
    assert outcome(clean_email, "dos@@arrobas.mx")[0] is None


def test_masked_email_keeps_first_letters_and_the_ending():
    assert mask_email("correo@electronico.es") == "c*****@e**********.es"
    assert mask_email("a@b.mx") == "a*@b*.mx"


@given(st.text(max_size=300).map(lambda v: v + "\x00"))
def test_control_characters_are_always_refused(value):
    for clean in (clean_account_number, clean_invoice_number, clean_username, clean_email):
        assert outcome(clean, value)[0] is None
