"""The seed guide's field rules, as pure functions: a value in, a clean value or a message out.

Each ``clean_*`` returns the value as the portal stores and compares it, or raises
``FieldError`` with a Spanish message that tells the customer exactly what to type.
"""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

ACCOUNT_DIGITS = re.compile(r"[0-9]{1,8}", re.ASCII)
PRINTED_ACCOUNT = re.compile(r"([0-9]{1,8})\s*-\s*[0-9]", re.ASCII)
INVOICE_CHARACTERS = re.compile(r"[A-Z0-9 .\-]+", re.ASCII)
INVOICE_LENGTH = 10
USERNAME = re.compile(r"[A-Za-z0-9]{6,25}", re.ASCII)
MAX_INPUT = 254  # nothing a customer types here is longer; longer input is refused early


class FieldError(ValueError):
    """A value the customer must correct; ``str(error)`` is the message to show."""


def _plain(value: str | None) -> str:
    """Trim surrounding white space; refuse control characters and over-long input."""
    text = (value or "").strip()
    if len(text) > MAX_INPUT:
        raise FieldError("Es demasiado largo. Revisa lo que escribiste.")
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cs"} for ch in text):
        raise FieldError(
            "Tiene caracteres que no se pueden escribir con el teclado. Escríbelo de nuevo."
        )
    return text


def clean_account_number(value: str | None) -> str:
    """1 to 8 digits. The bill prints ``40989917-7``: the digit after the hyphen is not typed."""
    text = _plain(value)
    if not text:
        raise FieldError("Escribe el número de cuenta.")
    if ACCOUNT_DIGITS.fullmatch(text):
        return text
    printed = PRINTED_ACCOUNT.fullmatch(text)
    if printed:
        raise FieldError(
            f"Escribe solo los números antes del guion: para {text}, "
            f"escribe solo {printed.group(1)}."
        )
    if re.fullmatch(r"[0-9.,\s]+", text):
        digits = re.sub(r"[^0-9]", "", text)
        if len(digits) > 8:
            raise FieldError("El número de cuenta tiene como máximo 8 números.")
        raise FieldError(
            f"Escribe el número sin puntos, comas ni espacios: escribe solo {digits}."
        )
    if text.isdigit():  # digits of another script (full-width, Arabic-Indic...)
        raise FieldError("Escribe el número con los números del teclado (0 a 9).")
    raise FieldError(
        "El número de cuenta solo lleva números (entre 1 y 8), sin letras, puntos ni guiones."
    )


def clean_invoice_number(value: str | None) -> str:
    """The "No." under "Control": 10 capitals, digits, hyphens and dots.

    Bills print the number in groups, ``DE 4043 2503`` for ``DE40432503``: typed with those
    spaces or without them, the number is the same 10 characters (spaces of any width count
    as a space). A number that only makes 10 characters with its spaces is kept as typed,
    spaces included, for the billing system to recognise.
    """
    text = _plain(value)
    if not text:
        raise FieldError("Escribe el número de factura.")
    # Check before upper-casing: "ı".upper() is "I" and "ſ".upper() is "S".
    text = text.upper() if text.isascii() else text
    text = re.sub(r"\s", " ", text)  # a no-break space copied from a PDF is a space
    if not INVOICE_CHARACTERS.fullmatch(text):
        raise FieldError(
            "El número de factura solo lleva letras, números, espacios, guiones y puntos, "
            "tal como aparece en tu factura."
        )
    compact = text.replace(" ", "")
    if len(compact) == INVOICE_LENGTH:
        return compact
    if len(text) == INVOICE_LENGTH:
        return text
    count = len(compact)
    noun = "carácter" if count == 1 else "caracteres"
    spaces = " sin contar los espacios" if " " in text else ""
    raise FieldError(
        f"Escribiste {count} {noun}{spaces}; el número de factura tiene {INVOICE_LENGTH}. "
        "Cópialo tal como aparece junto a «No.», debajo de «Control»: con o sin los espacios, "
        "y con sus guiones y puntos."
    )


def same_invoice_number(typed: str, numbers: list[str]) -> bool:
    """Whether a cleaned invoice number identifies one of ``numbers`` (as the billing system
    keeps them): spelled exactly the same, or the same once spaces are left out on both
    sides and only one of them reads that way."""
    if typed in numbers:
        return True
    key = typed.replace(" ", "")
    return sum(number.replace(" ", "") == key for number in numbers) == 1


def clean_username(value: str | None) -> str:
    """6 to 25 letters and digits (ASCII), nothing else."""
    text = _plain(value)
    if not text:
        raise FieldError("Escribe un usuario.")
    if USERNAME.fullmatch(text):
        return text
    if not re.fullmatch(r"[A-Za-z0-9]*", text, re.ASCII):
        raise FieldError(
            "El usuario solo puede llevar letras sin acentos y números: sin espacios, guiones, "
            "puntos, ñ ni caracteres especiales."
        )
    raise FieldError(f"El usuario debe tener entre 6 y 25 caracteres; tiene {len(text)}.")


def clean_email(value: str | None) -> str:
    """A valid address (no network look-up), normalised so two spellings compare equal."""
    text = _plain(value)
    if not text:
        raise FieldError("Escribe tu correo electrónico.")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise FieldError(
            "Escribe un correo electrónico válido, por ejemplo nombre@ejemplo.com."
        ) from None
    return result.normalized


def mask_email(address: str) -> str:
    """``correo@electronico.es`` → ``c*****@e**********.es``: enough to recognise, not to read."""
    local, _, domain = address.partition("@")
    name, dot, tld = domain.rpartition(".")
    if not dot:
        name, tld = domain, ""

    def hide(part: str) -> str:
        return part[:1] + "*" * max(len(part) - 1, 1)

    return f"{hide(local)}@{hide(name)}{dot}{tld}"
