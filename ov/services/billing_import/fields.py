"""How each value of a billing export is read: one function per kind of column.

Every reader takes the field's text and gives the value as the staging tables hold it, or
raises :class:`FieldError` with what was expected, in Spanish, for the operator. Amounts,
quantities and prices are read into whole units of their last decimal (centavos,
thousandths, ten-thousandths) so that sums and comparisons in SQL are exact on every
database.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

#: Dates before this are not billing dates of this portal's data.
EARLIEST_DATE = date(2000, 1, 1)
#: How far ahead a date may be (a due date, a period) from the day of the import.
FUTURE_DAYS = 366


class FieldError(ValueError):
    """A value that is not what its column holds; the message says what was expected."""


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INTEGER = re.compile(r"0|[1-9][0-9]*")
# Line breaks, and the other control characters (Unicode's category Cc, all of it).
_BREAKS = re.compile("[\r\n\t\u2028\u2029]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# An ISO 8601 instant with seconds and an offset (Z or ±HH:MM), optional fraction.
_INSTANT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                      r"(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})")


#: Longer values are cut in messages (a field can hold 128 KiB).
SHOWN_CHARACTERS = 40


def quoted(value: str) -> str:
    """The value between quotes for a message; a long one cut, with its length."""
    if len(value) <= SHOWN_CHARACTERS:
        return f'"{value}"'
    return f'"{value[:SHOWN_CHARACTERS]}…" ({len(value):,} caracteres)'


def text(value: str, *, limit: int, required: bool = True) -> str | None:
    """Free text of at most ``limit`` characters, one line; empty means absent."""
    if value == "":
        if required:
            raise FieldError("está vacío y es obligatorio")
        return None
    if value != value.strip():
        raise FieldError(f'{quoted(value)} tiene espacios al principio o al final')
    if _BREAKS.search(value):
        raise FieldError("tiene saltos de línea o tabuladores; debe ser una sola línea")
    control = _CONTROL.search(value)
    if control is not None:
        # A NUL would also stop PostgreSQL's COPY mid-load instead of being reported.
        raise FieldError(f"tiene un carácter de control (U+{ord(control.group()):04X}); "
                         "solo se acepta texto")
    if len(value) > limit:
        raise FieldError(f"tiene {len(value)} caracteres; el máximo es {limit}")
    return value


def digits(value: str, *, low: int, high: int) -> str:
    """A number kept as text, like an account number: ``low``..``high`` ASCII digits."""
    if value == "":
        raise FieldError("está vacío y es obligatorio")
    if not (value.isascii() and value.isdigit()) or not low <= len(value) <= high:
        size = f"{low}" if low == high else f"{low} a {high}"
        raise FieldError(f'{quoted(value)} no es un número de {size} dígitos')
    return value


def integer(value: str, *, low: int, high: int) -> int:
    """A whole number between ``low`` and ``high``, written without sign or zeros in front."""
    if value == "":
        raise FieldError("está vacío y es obligatorio")
    if not _INTEGER.fullmatch(value):
        raise FieldError(f'{quoted(value)} no es un número entero (se esperan solo dígitos)')
    # Python refuses to read more than 4,300 digits; no column holds a tenth of that.
    number = int(value) if len(value) <= len(str(high)) else high + 1
    if not low <= number <= high:
        raise FieldError(f'{quoted(value)} está fuera de rango (de {low} a {high:,})')
    return number


def scaled(value: str, *, places: int, high: int, what: str = "un número") -> int:
    """A decimal written with a dot and at most ``places`` decimals, as a whole count of
    its last decimal: ``scaled("12.5", places=2)`` is 1250. ``high`` bounds the result."""
    if value == "":
        raise FieldError("está vacío y es obligatorio")
    whole, dot, fraction = value.partition(".")
    if "," in value:
        raise FieldError(f'{quoted(value)} no es {what}: usa punto decimal, sin comas '
                         "(p. ej. 1234.50)")
    if value.startswith("-"):
        raise FieldError(f'{quoted(value)} es negativo; no se aceptan cantidades negativas')
    if (not _INTEGER.fullmatch(whole) or (dot and not fraction)
            or not (fraction.isascii() and fraction.isdigit() or fraction == "")):
        raise FieldError(f'{quoted(value)} no es {what} (se espera p. ej. 1234.50)')
    if len(fraction) > places:
        raise FieldError(f'{quoted(value)} tiene más de {places} decimales')
    if len(whole) > len(str(high)):
        number = high + 1  # more digits than the limit has (and than Python reads)
    else:
        number = int(whole) * 10**places + int(fraction.ljust(places, "0") or "0")
    if number > high:
        raise FieldError(f'{quoted(value)} es demasiado grande (el máximo es '
                         f"{unscaled(high, places)})")
    return number


def unscaled(number: int | Decimal, places: int) -> str:
    """The text of a scaled whole: ``unscaled(1250, 2)`` is ``"12.50"``.

    A whole ``Decimal`` is taken too: PostgreSQL's ``sum()`` of a BIGINT is NUMERIC."""
    if number != int(number):
        raise ValueError(f"{number!r} is not a whole count of the last decimal")
    number = int(number)
    if places == 0:
        return str(number)
    whole, fraction = divmod(number, 10**places)
    return f"{whole}.{fraction:0{places}d}"


def money(value: str) -> int:
    """Pesos with at most two decimals, as centavos; at most ten million pesos."""
    return scaled(value, places=2, high=10_000_000_00, what="un importe")


def day(value: str, *, today: date, required: bool = True) -> date | None:
    """A calendar date written ``AAAA-MM-DD``, between 2000 and a year from today."""
    if value == "":
        if required:
            raise FieldError("está vacío y es obligatorio")
        return None
    if not _DATE.fullmatch(value):
        raise FieldError(f'{quoted(value)} no es una fecha AAAA-MM-DD')
    try:
        found = date.fromisoformat(value)
    except ValueError:
        raise FieldError(f'{quoted(value)} no es una fecha que exista') from None
    latest = today + timedelta(days=FUTURE_DAYS)
    if not EARLIEST_DATE <= found <= latest:
        raise FieldError(f'{quoted(value)} está fuera de rango (del {EARLIEST_DATE.isoformat()} '
                         f"al {latest.isoformat()})")
    return found


def instant(value: str, *, now: datetime, required: bool = False) -> datetime | None:
    """A moment with its UTC offset (``2026-10-03T14:05:00-06:00``), given back in UTC.
    Not in the future: a day after ``now`` at most, a margin for the clocks of two systems."""
    if value == "":
        if required:
            raise FieldError("está vacío y es obligatorio")
        return None
    if not _INSTANT.fullmatch(value):
        raise FieldError(f'{quoted(value)} no es una fecha y hora AAAA-MM-DDTHH:MM:SS con su '
                         "diferencia horaria (p. ej. 2026-10-03T14:05:00-06:00)")
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        raise FieldError(f'{quoted(value)} no es una fecha y hora que exista') from None
    if not EARLIEST_DATE.year <= found.year <= 9998:  # UTC of year 1 or 9999 overflows
        raise FieldError(f'{quoted(value)} está fuera de rango (antes de {EARLIEST_DATE.year})'
                         if found.year < EARLIEST_DATE.year else
                         f'{quoted(value)} está en el futuro')
    found = found.astimezone(UTC)
    if found.date() < EARLIEST_DATE:
        raise FieldError(f'{quoted(value)} está fuera de rango (antes de {EARLIEST_DATE.year})')
    if found > now + timedelta(days=1):
        raise FieldError(f'{quoted(value)} está en el futuro')
    return found


def choice(value: str, values: type[StrEnum] | tuple[str, ...]) -> str:
    """One of a closed list of words."""
    allowed = [str(member) for member in values]
    if value == "":
        raise FieldError(f"está vacío y es obligatorio (uno de: {', '.join(allowed)})")
    if value not in allowed:
        raise FieldError(f'{quoted(value)} no es uno de: {", ".join(allowed)}')
    return value


Reader = Callable[[str], object]
