"""Each column reader of the billing import (fields.py, layout.py): what it takes, what it
refuses and the Spanish words it says why; properties for money, quantities and dates."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ov.services.billing_import import fields as f
from ov.services.billing_import import layout
from ov.services.billing_import.layout import Context
from ov.services.billing_import.manifest import MANIFEST_SPEC

TODAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
CTX = Context(today=TODAY, now=NOW)
LATEST = TODAY + timedelta(days=f.FUTURE_DAYS)


def refused(read, value: str, *args, **kwargs) -> str:
    with pytest.raises(f.FieldError) as caught:
        read(value, *args, **kwargs)
    return str(caught.value)


def column(spec, name: str):
    return lambda value: spec.column(name).read(value, CTX)


# --- text, digits, integers, choices ---------------------------------------------------------

def test_text_takes_one_line_up_to_its_limit():
    assert f.text("Calle 5 de Mayo", limit=15) == "Calle 5 de Mayo"
    assert f.text("Ylarrañaga", limit=10) == "Ylarrañaga"  # characters, not bytes
    assert f.text("", limit=5, required=False) is None


@pytest.mark.parametrize(("value", "message"), [
    ("", "está vacío y es obligatorio"),
    (" Juárez", '" Juárez" tiene espacios al principio o al final'),
    ("Juárez ", '"Juárez " tiene espacios al principio o al final'),
    ("a\nb", "tiene saltos de línea o tabuladores; debe ser una sola línea"),
    ("a\tb", "tiene saltos de línea o tabuladores; debe ser una sola línea"),
    ("a\rb", "tiene saltos de línea o tabuladores; debe ser una sola línea"),
    ("a\u2028b", "tiene saltos de línea o tabuladores; debe ser una sola línea"),
    ("a\x00b", "tiene un carácter de control (U+0000); solo se acepta texto"),
    ("a\x1bb", "tiene un carácter de control (U+001B); solo se acepta texto"),
    ("abcdef", "tiene 6 caracteres; el máximo es 5"),
])
def test_text_refuses(value, message):
    assert refused(f.text, value, limit=5) == message


@given(st.text(alphabet=st.characters(categories=("L", "M", "N", "P", "S", "Zs"),
                                     exclude_characters="\u2028\u2029"), max_size=30),
       st.characters(categories=("Cc",)))
def test_every_control_character_is_refused_and_the_rest_kept(words, control):
    words = words.strip() or "x"
    assert f.text(words, limit=30) == words
    message = refused(f.text, f"a{control}b", limit=30)
    assert message in ("tiene saltos de línea o tabuladores; debe ser una sola línea",
                       f"tiene un carácter de control (U+{ord(control):04X}); solo se acepta "
                       "texto")


def test_digits_keep_the_number_as_written():
    assert f.digits("00042", low=5, high=5) == "00042"
    assert f.digits("7", low=1, high=8) == "7"


@pytest.mark.parametrize(("value", "low", "high", "message"), [
    ("", 1, 8, "está vacío y es obligatorio"),
    ("123456789", 1, 8, '"123456789" no es un número de 1 a 8 dígitos'),
    ("12a4", 1, 8, '"12a4" no es un número de 1 a 8 dígitos'),
    ("-12", 1, 8, '"-12" no es un número de 1 a 8 dígitos'),
    ("١٢٣", 1, 8, '"١٢٣" no es un número de 1 a 8 dígitos'),  # digits, but not ASCII
    ("8802", 5, 5, '"8802" no es un número de 5 dígitos'),
])
def test_digits_refuse(value, low, high, message):
    assert refused(f.digits, value, low=low, high=high) == message


def test_integer_reads_whole_numbers_in_range():
    assert f.integer("0", low=0, high=9) == 0
    assert f.integer("99999999", low=0, high=layout.MAX_REGISTER) == 99_999_999


@pytest.mark.parametrize(("value", "message"), [
    ("", "está vacío y es obligatorio"),
    ("07", '"07" no es un número entero (se esperan solo dígitos)'),
    ("+7", '"+7" no es un número entero (se esperan solo dígitos)'),
    ("-7", '"-7" no es un número entero (se esperan solo dígitos)'),
    ("7.0", '"7.0" no es un número entero (se esperan solo dígitos)'),
    ("1,000", '"1,000" no es un número entero (se esperan solo dígitos)'),
    ("siete", '"siete" no es un número entero (se esperan solo dígitos)'),
    ("10000", '"10000" está fuera de rango (de 1 a 9,999)'),
])
def test_integer_refuses(value, message):
    assert refused(f.integer, value, low=1, high=9999) == message


def test_numbers_longer_than_python_reads_are_out_of_range():
    digits = "1" * 5000
    assert refused(f.integer, digits, low=0, high=9) == \
        f'"{"1" * 40}…" (5,000 caracteres) está fuera de rango (de 0 a 9)'
    assert refused(f.money, digits + ".50") == \
        f'"{"1" * 40}…" (5,003 caracteres) es demasiado grande (el máximo es 10000000.00)'


def test_long_values_are_cut_in_messages():
    assert f.quoted("a" * 40) == f'"{"a" * 40}"'
    assert f.quoted("a" * 41) == f'"{"a" * 40}…" (41 caracteres)'


def test_choice():
    assert f.choice("estimated", layout.ReadingType) == "estimated"
    assert f.choice("system", layout.READING_SOURCES) == "system"
    assert refused(f.choice, "Estimated", layout.ReadingType) == \
        '"Estimated" no es uno de: real, estimated, customer'
    assert refused(f.choice, "", layout.ReadingType) == \
        "está vacío y es obligatorio (uno de: real, estimated, customer)"


# --- money and scaled decimals ---------------------------------------------------------------

@pytest.mark.parametrize(("value", "centavos"), [
    ("0", 0), ("0.5", 50), ("12.5", 1250), ("12.50", 1250), ("605.58", 60558),
    ("10000000.00", 10_000_000_00),
])
def test_money_reads_centavos(value, centavos):
    assert f.money(value) == centavos


@pytest.mark.parametrize(("value", "message"), [
    ("", "está vacío y es obligatorio"),
    ("12,5O", '"12,5O" no es un importe: usa punto decimal, sin comas (p. ej. 1234.50)'),
    ("1,234.50", '"1,234.50" no es un importe: usa punto decimal, sin comas (p. ej. 1234.50)'),
    ("-5.00", '"-5.00" es negativo; no se aceptan cantidades negativas'),
    ("12.5O", '"12.5O" no es un importe (se espera p. ej. 1234.50)'),
    ("$12.50", '"$12.50" no es un importe (se espera p. ej. 1234.50)'),
    ("12.", '"12." no es un importe (se espera p. ej. 1234.50)'),
    (".5", '".5" no es un importe (se espera p. ej. 1234.50)'),
    ("012.50", '"012.50" no es un importe (se espera p. ej. 1234.50)'),
    ("1.2.3", '"1.2.3" no es un importe (se espera p. ej. 1234.50)'),
    ("1e3", '"1e3" no es un importe (se espera p. ej. 1234.50)'),
    (" 12.50", '" 12.50" no es un importe (se espera p. ej. 1234.50)'),
    ("12.505", '"12.505" tiene más de 2 decimales'),
    ("10000000.01", '"10000000.01" es demasiado grande (el máximo es 10000000.00)'),
    ("99999999999.00", '"99999999999.00" es demasiado grande (el máximo es 10000000.00)'),
])
def test_money_refuses(value, message):
    assert refused(f.money, value) == message


def test_unscaled_writes_every_decimal():
    assert f.unscaled(1250, 2) == "12.50"
    assert f.unscaled(5, 4) == "0.0005"
    assert f.unscaled(7, 0) == "7"
    # PostgreSQL sums BIGINT columns as NUMERIC: the engine's sums arrive as Decimal.
    assert f.unscaled(Decimal("52206"), 2) == "522.06"
    with pytest.raises(ValueError):
        f.unscaled(Decimal("522.5"), 2)


PLACES = st.sampled_from([0, 2, 3, 4])


@st.composite
def within_limit(draw):
    """``(places, high, decimal)``: a non-negative decimal of at most ``places`` decimals
    whose scaled value is at most ``high``."""
    places = draw(PLACES)
    high = draw(st.integers(min_value=0, max_value=10**13))
    number = draw(st.integers(min_value=0, max_value=high))
    # Written with fewer decimals when the trailing ones are zeros (12.5 for 12.50).
    shown = draw(st.integers(min_value=0, max_value=places))
    drop = places - shown
    assume(number % 10**drop == 0)
    return places, high, Decimal(number).scaleb(-places).quantize(Decimal(1).scaleb(-shown))


@given(within_limit())
def test_a_decimal_with_a_dot_reads_back_exactly(case):
    places, high, value = case
    written = format(value, "f")
    number = f.scaled(written, places=places, high=high)
    assert number == int(value * 10**places)
    assert Decimal(f.unscaled(number, places)) == value
    assert f.scaled(f.unscaled(number, places), places=places, high=high) == number


@given(st.integers(min_value=0, max_value=10**13), PLACES)
def test_unscaled_is_what_scaled_reads(number, places):
    assert f.scaled(f.unscaled(number, places), places=places, high=10**13) == number


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=1, max_value=10**6),
       PLACES)
def test_above_the_limit_is_refused(high, excess, places):
    message = refused(f.scaled, f.unscaled(high + excess, places), places=places, high=high)
    assert "es demasiado grande" in message


@given(st.decimals(min_value=0, max_value=10**6, allow_nan=False, allow_infinity=False,
                   places=4), st.integers(min_value=0, max_value=3))
def test_a_comma_is_refused_wherever_it_is(value, cut):
    written = format(value, "f")
    cut = min(cut, len(written))
    for text in (written.replace(".", ","), written[:cut] + "," + written[cut:]):
        message = refused(f.scaled, text, places=4, high=10**13)
        assert "usa punto decimal, sin comas" in message


@given(st.decimals(min_value=0, max_value=10**6, allow_nan=False, allow_infinity=False,
                   places=2))
def test_a_minus_is_refused(value):
    written = format(value, "f")
    assert refused(f.money, "-" + written) == \
        f'"-{written}" es negativo; no se aceptan cantidades negativas'
    assert "no es un importe" in refused(f.money, written + "-")


@given(st.integers(min_value=0, max_value=10**8), PLACES,
       st.integers(min_value=1, max_value=4), st.integers(min_value=1, max_value=9))
def test_more_decimals_are_refused(number, places, extra, last):
    # The extra decimals end in a non-zero digit: 1.2345 is not 1.23 for a money column.
    written = f.unscaled(number, places) + ("." if places == 0 else "") + "0" * (extra - 1) \
        + str(last)
    assert refused(f.scaled, written, places=places, high=10**13) == \
        f'"{written}" tiene más de {places} decimales'


@given(st.integers(min_value=0, max_value=10**8),
       st.text(alphabet=st.characters(categories=("L", "Zs", "S")), min_size=1, max_size=3),
       st.integers(min_value=0, max_value=12))
def test_letters_or_symbols_are_refused(number, letters, at):
    written = f.unscaled(number, 2)
    at = min(at, len(written))
    text = written[:at] + letters + written[at:]
    assume("," not in text and not text.startswith("-"))
    assert refused(f.money, text) == f'"{text}" no es un importe (se espera p. ej. 1234.50)'


# --- dates and instants ----------------------------------------------------------------------

def test_day_reads_iso_dates_in_range():
    assert f.day("2000-01-01", today=TODAY) == date(2000, 1, 1)
    assert f.day("2028-02-29", today=date(2027, 12, 1)) == date(2028, 2, 29)
    assert f.day(LATEST.isoformat(), today=TODAY) == LATEST
    assert f.day("", today=TODAY, required=False) is None


@pytest.mark.parametrize(("value", "message"), [
    ("", "está vacío y es obligatorio"),
    ("2026-02-30", '"2026-02-30" no es una fecha que exista'),
    ("2025-02-29", '"2025-02-29" no es una fecha que exista'),
    ("2026-13-01", '"2026-13-01" no es una fecha que exista'),
    ("2026-00-10", '"2026-00-10" no es una fecha que exista'),
    ("0000-01-01", '"0000-01-01" no es una fecha que exista'),
    ("30/11/2026", '"30/11/2026" no es una fecha AAAA-MM-DD'),
    ("2026-1-5", '"2026-1-5" no es una fecha AAAA-MM-DD'),
    ("20261130", '"20261130" no es una fecha AAAA-MM-DD'),
    ("2026-11-30T00:00:00", '"2026-11-30T00:00:00" no es una fecha AAAA-MM-DD'),
    ("1999-12-31", f'"1999-12-31" está fuera de rango (del 2000-01-01 al {LATEST})'),
    ((LATEST + timedelta(days=1)).isoformat(),
     f'"{LATEST + timedelta(days=1)}" está fuera de rango (del 2000-01-01 al {LATEST})'),
])
def test_day_refuses(value, message):
    assert refused(f.day, value, today=TODAY) == message


@given(st.dates(min_value=f.EARLIEST_DATE, max_value=LATEST))
def test_every_date_in_range_reads_back(day):
    assert f.day(day.isoformat(), today=TODAY) == day


@given(st.dates(max_value=f.EARLIEST_DATE - timedelta(days=1))
       | st.dates(min_value=LATEST + timedelta(days=1)))
def test_every_date_out_of_range_is_refused(day):
    assume(day.year >= 1000)  # four digits, as the format writes a year
    assert "está fuera de rango" in refused(f.day, day.isoformat(), today=TODAY)


@st.composite
def impossible_dates(draw) -> str:
    """``AAAA-MM-DD`` text of a day no calendar has: 2026-02-30, 2025-02-29, 2026-13-01..."""
    year = draw(st.integers(min_value=2000, max_value=2027))
    month = draw(st.integers(min_value=1, max_value=12))
    last = calendar.monthrange(year, month)[1]
    month, day_of_month = draw(st.one_of(
        st.tuples(st.just(month), st.integers(min_value=last + 1, max_value=99)),
        st.tuples(st.just(month), st.just(0)),
        st.tuples(st.sampled_from([0, *range(13, 100)]), st.integers(min_value=1, max_value=28)),
    ))
    return f"{year}-{month:02d}-{day_of_month:02d}"


@given(impossible_dates())
def test_impossible_dates_are_refused(text):
    assert refused(f.day, text, today=TODAY) == f'"{text}" no es una fecha que exista'


def test_instant_normalises_to_utc():
    assert f.instant("2026-10-03T14:05:00-06:00", now=NOW) == \
        datetime(2026, 10, 3, 20, 5, tzinfo=UTC)
    assert f.instant("2026-10-03T20:05:00Z", now=NOW) == \
        datetime(2026, 10, 3, 20, 5, tzinfo=UTC)
    assert f.instant("2026-10-03T20:05:00.25+00:00", now=NOW) == \
        datetime(2026, 10, 3, 20, 5, 0, 250000, tzinfo=UTC)
    assert f.instant("", now=NOW) is None


INSTANT_SHAPE = ('no es una fecha y hora AAAA-MM-DDTHH:MM:SS con su diferencia horaria '
                 '(p. ej. 2026-10-03T14:05:00-06:00)')


@pytest.mark.parametrize(("value", "message"), [
    ("2026-10-03T14:05:00", f'"2026-10-03T14:05:00" {INSTANT_SHAPE}'),
    ("2026-10-03 14:05:00-06:00", f'"2026-10-03 14:05:00-06:00" {INSTANT_SHAPE}'),
    ("2026-10-03T14:05-06:00", f'"2026-10-03T14:05-06:00" {INSTANT_SHAPE}'),
    ("2026-10-03", f'"2026-10-03" {INSTANT_SHAPE}'),
    ("2026-10-03T14:05:00-0600", f'"2026-10-03T14:05:00-0600" {INSTANT_SHAPE}'),
    ("2026-02-30T14:05:00Z", '"2026-02-30T14:05:00Z" no es una fecha y hora que exista'),
    ("2026-10-03T25:05:00Z", '"2026-10-03T25:05:00Z" no es una fecha y hora que exista'),
    ("2026-10-03T14:05:00+24:00",
     '"2026-10-03T14:05:00+24:00" no es una fecha y hora que exista'),
    ("1999-12-31T17:00:00-06:00",
     '"1999-12-31T17:00:00-06:00" está fuera de rango (antes de 2000)'),
    ("2026-12-02T18:00:01Z", '"2026-12-02T18:00:01Z" está en el futuro'),
    # At the ends of the calendar, UTC would overflow: out of range, not a crash.
    ("0001-01-01T00:00:00+01:00",
     '"0001-01-01T00:00:00+01:00" está fuera de rango (antes de 2000)'),
    ("9999-12-31T23:59:59-01:00", '"9999-12-31T23:59:59-01:00" está en el futuro'),
])
def test_instant_refuses(value, message):
    assert refused(f.instant, value, now=NOW) == message


def test_instant_required():
    assert refused(f.instant, "", now=NOW, required=True) == "está vacío y es obligatorio"


@given(st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2026, 11, 29)),
       st.integers(min_value=-12 * 60, max_value=14 * 60))
def test_instants_with_an_offset_read_as_the_same_moment_in_utc(moment, minutes):
    zone = timezone(timedelta(minutes=minutes))
    local = moment.replace(tzinfo=zone)
    written = local.isoformat()
    read = f.instant(written, now=NOW)
    assert read == local
    assert read.utcoffset() == timedelta(0)


@given(st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2030, 1, 1)))
def test_naive_instants_are_refused(moment):
    written = moment.replace(microsecond=0).isoformat()
    assert refused(f.instant, written, now=NOW) == f'"{written}" {INSTANT_SHAPE}'


@given(st.timedeltas(min_value=timedelta(days=1, microseconds=1),
                     max_value=timedelta(days=3000)))
def test_future_instants_are_refused(ahead):
    written = (NOW + ahead).isoformat()
    assert refused(f.instant, written, now=NOW) == f'"{written}" está en el futuro'


def test_an_instant_within_a_day_of_now_is_taken_for_clock_drift():
    assert f.instant("2026-12-01T17:59:59Z", now=NOW) == \
        datetime(2026, 12, 1, 17, 59, 59, tzinfo=UTC)


# --- the columns of layout.py ----------------------------------------------------------------

@pytest.mark.parametrize("value", ["ZE40389382", "A000000001", "0123456789"])
def test_invoice_number_takes_ten_capitals_and_digits(value):
    assert column(layout.INVOICES, "invoice_number")(value) == value


@pytest.mark.parametrize("value", ["", "ze40389382", "ZE4038938", "ZE403893820", "ZE-0389382",
                                   "ZÉ40389382", "ZE4038938 "])
def test_invoice_number_refuses(value):
    assert refused(column(layout.INVOICES, "invoice_number"), value) == (
        f'"{value}" no es un número de factura de 10 letras mayúsculas y dígitos '
        "(p. ej. ZE40389382)")


def test_payments_invoice_number_is_optional_but_checked():
    read = column(layout.PAYMENTS, "invoice_number")
    assert read("") is None
    assert read("ZE40389382") == "ZE40389382"
    assert "no es un número de factura" in refused(read, "ze40389382")


@pytest.mark.parametrize("value", ["NLD", "CDMX", "Z1", "A", "ABCDEFGH"])
def test_zone_code_takes_up_to_eight_capitals(value):
    assert column(layout.ACCOUNTS, "zone_code")(value) == value


@pytest.mark.parametrize("value", ["", "nld", "ABCDEFGHI", "N-L", "NLÑ", " NLD"])
def test_zone_code_refuses(value):
    assert refused(column(layout.ZONES, "code"), value) == (
        f'"{value}" no es un código de zona (de 1 a 8 letras mayúsculas o dígitos, p. ej. NLD)')


def test_cfdi_uuid_is_optional_and_read_in_capitals():
    read = column(layout.INVOICES, "cfdi_uuid")
    assert read("") is None
    assert read("5fb2822e-396d-4725-8521-cdc4bdd20ccf") == \
        "5FB2822E-396D-4725-8521-CDC4BDD20CCF"


@pytest.mark.parametrize("value", [
    "5FB2822E396D47258521CDC4BDD20CCF", "5FB2822E-396D-4725-8521-CDC4BDD20CCG",
    "5FB2822E-396D-4725-85210-CDC4BDD20CC", "{5FB2822E-396D-4725-8521-CDC4BDD20CC}",
    "5FB2822E-396D-4725-8521-CDC4BDD20CC"])
def test_cfdi_uuid_refuses(value):
    assert refused(column(layout.INVOICES, "cfdi_uuid"), value) == (
        f'"{value}" no es un UUID de CFDI (8-4-4-4-12 dígitos hexadecimales)')


def test_cfdi_file_is_a_plain_xml_name():
    read = column(layout.INVOICES, "cfdi_file")
    assert read("") is None
    assert read("NLD-ZE40389382.xml") == "NLD-ZE40389382.xml"
    assert read("NLD-ZE40389382.XML") == "NLD-ZE40389382.XML"


@pytest.mark.parametrize("value", ["../secret.xml", "sub/a.xml", "sub\\a.xml", ".hidden.xml",
                                   "a.txt", "a\x00.xml", "a" * 117 + ".xml"])
def test_cfdi_file_refuses(value):
    assert refused(column(layout.INVOICES, "cfdi_file"), value) == (
        f'{f.quoted(value)} no es un nombre de archivo .xml de la carpeta cfdi/ (sin rutas)')


def test_every_column_refuses_what_is_not_its_kind():
    """Each declared column goes through a reader that refuses something; required columns
    refuse an empty value."""
    for spec in (*layout.FILES, MANIFEST_SPEC):
        for col in spec.columns:
            if col.required:
                with pytest.raises(f.FieldError):
                    col.read("", CTX)
            with pytest.raises(f.FieldError):
                col.read(" x\x00", CTX)


def test_scaled_columns_of_lines():
    quantity = column(layout.INVOICE_LINES, "quantity")
    price = column(layout.INVOICE_LINES, "unit_price")
    assert quantity("47.000") == 47_000
    assert quantity("1") == 1000
    assert price("6.3566") == 63_566
    assert refused(quantity, "1.0005") == '"1.0005" tiene más de 3 decimales'
    assert refused(price, "6,3566") == \
        '"6,3566" no es un precio: usa punto decimal, sin comas (p. ej. 1234.50)'
    assert refused(price, "x") == '"x" no es un precio (se espera p. ej. 1234.50)'
    assert quantity("999999999.999") == 10**12 - 1
    assert refused(quantity, "1000000000.000") == \
        '"1000000000.000" es demasiado grande (el máximo es 999999999.999)'
    assert price("10000000.0000") == 10**11
    assert refused(price, "10000000.0001") == \
        '"10000000.0001" es demasiado grande (el máximo es 10000000.0000)'


def test_paid_at_column_reads_an_instant_against_the_import_moment():
    read = column(layout.INVOICES, "paid_at")
    assert read("") is None
    assert read("2026-11-30T11:00:00-06:00") == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    assert refused(read, "2026-11-30T11:00:00") == f'"2026-11-30T11:00:00" {INSTANT_SHAPE}'


def test_manifest_columns():
    name = MANIFEST_SPEC.column("file")
    rows = MANIFEST_SPEC.column("rows")
    assert name.read("invoices.csv", CTX) == "invoices.csv"
    assert rows.read("0", CTX) == 0
    assert refused(lambda v: name.read(v, CTX), "facturas.csv").startswith(
        '"facturas.csv" no es un archivo del formato (se esperan: zones.csv, accounts.csv,')
    assert refused(lambda v: rows.read(v, CTX), "-1") == \
        '"-1" no es un número entero (se esperan solo dígitos)'


# --- rules across one row ---------------------------------------------------------------------

def invoice_row(**changes) -> dict:
    row = {"issue_date": date(2026, 10, 28), "period_start": date(2026, 9, 28),
           "period_end": date(2026, 10, 27), "due_date": date(2026, 11, 17),
           "reading_type": "real", "replaces_reading_on": None, "subtotal": 52205,
           "tax": 8353, "total": 60558, "cfdi_uuid": None, "cfdi_file": None}
    row.update(changes)
    return row


def test_a_consistent_invoice_breaks_no_rule():
    assert layout.INVOICES.row_rules(invoice_row(), CTX) == []
    assert layout.INVOICES.row_rules(invoice_row(
        replaces_reading_on=date(2026, 9, 27), cfdi_uuid="X", cfdi_file="x.xml"), CTX) == []


@pytest.mark.parametrize(("changes", "broken"), [
    ({"period_end": date(2026, 9, 27)}, [("period_end", "es anterior a period_start")]),
    ({"due_date": date(2026, 10, 27)}, [("due_date", "es anterior a issue_date")]),
    ({"issue_date": date(2026, 9, 27), "due_date": date(2026, 9, 30)},
     [("issue_date", "es anterior al inicio del periodo (period_start)")]),
    ({"total": 60559}, [("total", "605.59 no es subtotal + tax (605.58)")]),
    ({"reading_type": "estimated", "replaces_reading_on": date(2026, 8, 27)},
     [("replaces_reading_on", "una factura estimada no corrige otra lectura estimada")]),
    ({"replaces_reading_on": date(2026, 10, 27)},
     [("replaces_reading_on", "no es anterior al fin del periodo")]),
    ({"cfdi_uuid": "X"}, [("cfdi_file", "cfdi_uuid y cfdi_file van juntos: los dos o ninguno")]),
    ({"cfdi_file": "x.xml"},
     [("cfdi_file", "cfdi_uuid y cfdi_file van juntos: los dos o ninguno")]),
])
def test_invoice_rules(changes, broken):
    assert layout.INVOICES.row_rules(invoice_row(**changes), CTX) == broken


def test_readings_and_payments_are_not_dated_after_today():
    assert layout.READINGS.row_rules({"read_on": TODAY}, CTX) == []
    assert layout.READINGS.row_rules({"read_on": TODAY + timedelta(days=1)}, CTX) == \
        [("read_on", "2026-12-01 está en el futuro")]
    assert layout.PAYMENTS.row_rules({"paid_on": TODAY + timedelta(days=3)}, CTX) == \
        [("paid_on", "2026-12-03 está en el futuro")]
