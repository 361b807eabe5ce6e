"""The exchange format: which files an export holds, their columns, keys and rules.

``docs/import-format.md`` explains the same to the people who write the exports; a test
keeps the two in step. Each file is one entity; its key (the business key of the
billing system, never the portal's ids) says which row of the portal it updates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from ov.models import AccountStatus, PaymentChannel, PaymentStatus, ReadingType
from ov.services.billing_import import fields as f

#: The file that lists the others and how many data rows each holds.
MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ("file", "rows")
#: The folder, inside the export, of the CFDI XML files invoices name.
CFDI_FOLDER = "cfdi"

READING_SOURCES = ("meter_reader", "system", "customer_web", "customer_phone")
#: Largest meter register and consumption of one period, in m³.
MAX_REGISTER = 99_999_999
MAX_M3 = 10_000_000
#: Quantities (m³, services) have three decimals, unit prices four.
QUANTITY_PLACES = 3
PRICE_PLACES = 4
#: The largest quantity and unit price, scaled: within invoice_line's NUMERIC(12, 3) and
#: NUMERIC(12, 4), or PostgreSQL would stop the load with an overflow instead of a report.
MAX_QUANTITY = 10**12 - 1
MAX_PRICE = 10**11


@dataclass(frozen=True)
class Context:
    """What the rules compare with: the day and moment of the import."""

    today: date
    now: datetime


@dataclass(frozen=True)
class Column:
    """One column: its header, how its text is read, and the SQL kind it is staged as
    (``text``, ``int``, ``date`` or ``instant``)."""

    name: str
    kind: str
    read: Callable[[str, Context], object]
    required: bool = True
    #: For amounts and quantities read as whole units of their last decimal.
    places: int = 0


def _text(limit: int, required: bool = True) -> Callable[[str, Context], object]:
    return lambda value, _ctx: f.text(value, limit=limit, required=required)


def _digits(low: int, high: int) -> Callable[[str, Context], object]:
    return lambda value, _ctx: f.digits(value, low=low, high=high)


def _integer(low: int, high: int) -> Callable[[str, Context], object]:
    return lambda value, _ctx: f.integer(value, low=low, high=high)


def _choice(values) -> Callable[[str, Context], object]:
    return lambda value, _ctx: f.choice(value, values)


def _day(required: bool = True) -> Callable[[str, Context], object]:
    return lambda value, ctx: f.day(value, today=ctx.today, required=required)


def _money(value: str, _ctx: Context) -> object:
    return f.money(value)


def _invoice_number(value: str, _ctx: Context) -> object:
    if len(value) != 10 or not value.isascii() or not value.isalnum() or value != value.upper():
        raise f.FieldError(f'{f.quoted(value)} no es un número de factura de 10 letras mayúsculas '
                           "y dígitos (p. ej. ZE40389382)")
    return value


def _zone_code(value: str, _ctx: Context) -> object:
    if not 1 <= len(value) <= 8 or not value.isascii() or not value.isalnum() \
            or value != value.upper():
        raise f.FieldError(f'{f.quoted(value)} no es un código de zona (de 1 a 8 letras mayúsculas '
                           "o dígitos, p. ej. NLD)")
    return value


def _optional_uuid(value: str, _ctx: Context) -> object:
    if value == "":
        return None
    hexes = value.replace("-", "")
    if (len(value) != 36 or [len(part) for part in value.split("-")] != [8, 4, 4, 4, 12]
            or not all(char in "0123456789ABCDEFabcdef" for char in hexes)):
        raise f.FieldError(f'{f.quoted(value)} no es un UUID de CFDI '
                           "(8-4-4-4-12 dígitos hexadecimales)")
    return value.upper()


def _optional_file(value: str, _ctx: Context) -> object:
    if value == "":
        return None
    if ("/" in value or "\\" in value or value.startswith(".") or len(value) > 120
            or not value.isprintable() or not value.lower().endswith(".xml")):
        raise f.FieldError(f'{f.quoted(value)} no es un nombre de archivo .xml de la carpeta '
                           f"{CFDI_FOLDER}/ (sin rutas)")
    return value


@dataclass(frozen=True)
class FileSpec:
    """One file of the export."""

    name: str
    #: The portal table the rows end up in.
    table: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    #: Words for one row, for messages: ``la factura ZE40389382 de NLD``.
    describe: Callable[[dict], str]
    #: Checks across one row's values: (column, message) for each problem.
    row_rules: Callable[[dict, Context], list[tuple[str, str]]] = field(
        default=lambda _row, _ctx: [])

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)


def _invoice_rules(row: dict, _ctx: Context) -> list[tuple[str, str]]:
    problems = []
    if row["period_end"] < row["period_start"]:
        problems.append(("period_end", "es anterior a period_start"))
    if row["due_date"] < row["issue_date"]:
        problems.append(("due_date", "es anterior a issue_date"))
    if row["issue_date"] < row["period_start"]:
        problems.append(("issue_date", "es anterior al inicio del periodo (period_start)"))
    if row["subtotal"] + row["tax"] != row["total"]:
        problems.append(("total", f"{f.unscaled(row['total'], 2)} no es subtotal + tax "
                                  f"({f.unscaled(row['subtotal'] + row['tax'], 2)})"))
    replaced = row["replaces_reading_on"]
    if replaced is not None:
        if row["reading_type"] == ReadingType.ESTIMATED:
            problems.append(("replaces_reading_on",
                             "una factura estimada no corrige otra lectura estimada"))
        elif replaced >= row["period_end"]:
            problems.append(("replaces_reading_on", "no es anterior al fin del periodo"))
    if (row["cfdi_uuid"] is None) != (row["cfdi_file"] is None):
        problems.append(("cfdi_file", "cfdi_uuid y cfdi_file van juntos: los dos o ninguno"))
    return problems


def _not_after_today(column: str) -> Callable[[dict, Context], list[tuple[str, str]]]:
    def rules(row: dict, ctx: Context) -> list[tuple[str, str]]:
        if row[column] > ctx.today:
            return [(column, f"{row[column].isoformat()} está en el futuro")]
        return []
    return rules


ZONES = FileSpec(
    name="zones.csv", table="zone",
    columns=(
        Column("code", "text", _zone_code),
        Column("name", "text", _text(60)),
        Column("cities", "text", _text(2000, required=False), required=False),
    ),
    key=("code",),
    describe=lambda row: f"la zona {row['code']}",
)

ACCOUNTS = FileSpec(
    name="accounts.csv", table="account",
    columns=(
        Column("zone_code", "text", _zone_code),
        Column("account_number", "text", _digits(1, 8)),
        Column("check_digit", "int", _integer(0, 9)),
        Column("holder_name", "text", _text(120)),
        Column("street", "text", _text(120)),
        Column("street_number", "text", _text(20)),
        Column("colonia", "text", _text(80)),
        Column("city", "text", _text(80)),
        Column("state", "text", _text(60)),
        Column("postal_code", "text", _digits(5, 5)),
        Column("meter_serial", "text", _text(20)),
        Column("tariff_code", "text", _text(10)),
        Column("status", "text", _choice(AccountStatus)),
    ),
    key=("zone_code", "account_number"),
    describe=lambda row: f"el contrato {row['account_number']} de {row['zone_code']}",
)

INVOICES = FileSpec(
    name="invoices.csv", table="invoice",
    columns=(
        Column("zone_code", "text", _zone_code),
        Column("invoice_number", "text", _invoice_number),
        Column("account_number", "text", _digits(1, 8)),
        Column("issue_date", "date", _day()),
        Column("period_start", "date", _day()),
        Column("period_end", "date", _day()),
        Column("due_date", "date", _day()),
        Column("previous_reading", "int", _integer(0, MAX_REGISTER)),
        Column("current_reading", "int", _integer(0, MAX_REGISTER)),
        Column("reading_type", "text", _choice(ReadingType)),
        Column("replaces_reading_on", "date", _day(required=False), required=False),
        Column("consumption_m3", "int", _integer(0, MAX_M3)),
        Column("subtotal", "int", _money, places=2),
        Column("tax", "int", _money, places=2),
        Column("total", "int", _money, places=2),
        Column("paid_at", "instant", lambda value, ctx: f.instant(value, now=ctx.now),
               required=False),
        Column("cfdi_uuid", "text", _optional_uuid, required=False),
        Column("cfdi_file", "text", _optional_file, required=False),
    ),
    key=("zone_code", "invoice_number"),
    describe=lambda row: f"la factura {row['invoice_number']} de {row['zone_code']}",
    row_rules=_invoice_rules,
)

INVOICE_LINES = FileSpec(
    name="invoice_lines.csv", table="invoice_line",
    columns=(
        Column("zone_code", "text", _zone_code),
        Column("invoice_number", "text", _invoice_number),
        Column("position", "int", _integer(1, 99)),
        Column("concept", "text", _text(120)),
        Column("quantity", "int",
               lambda value, _ctx: f.scaled(value, places=QUANTITY_PLACES,
                                            high=MAX_QUANTITY),
               places=QUANTITY_PLACES),
        Column("unit", "text", _text(12)),
        Column("unit_price", "int",
               lambda value, _ctx: f.scaled(value, places=PRICE_PLACES, high=MAX_PRICE,
                                            what="un precio"),
               places=PRICE_PLACES),
        Column("amount", "int", _money, places=2),
    ),
    key=("zone_code", "invoice_number", "position"),
    describe=lambda row: (f"el concepto {row['position']} de la factura "
                          f"{row['invoice_number']} de {row['zone_code']}"),
)

READINGS = FileSpec(
    name="readings.csv", table="reading",
    columns=(
        Column("zone_code", "text", _zone_code),
        Column("account_number", "text", _digits(1, 8)),
        Column("read_on", "date", _day()),
        Column("value", "int", _integer(0, MAX_REGISTER)),
        Column("reading_type", "text", _choice(ReadingType)),
        Column("source", "text", _choice(READING_SOURCES)),
    ),
    key=("zone_code", "account_number", "read_on"),
    describe=lambda row: (f"la lectura del {row['read_on']} del contrato "
                          f"{row['account_number']} de {row['zone_code']}"),
    row_rules=_not_after_today("read_on"),
)

PAYMENTS = FileSpec(
    name="payments.csv", table="payment",
    columns=(
        Column("zone_code", "text", _zone_code),
        Column("account_number", "text", _digits(1, 8)),
        Column("channel", "text", _choice(PaymentChannel)),
        Column("reference", "text", _text(30)),
        Column("paid_on", "date", _day()),
        Column("amount", "int", _money, places=2),
        Column("channel_name", "text", _text(40)),
        Column("status", "text", _choice(PaymentStatus)),
        Column("invoice_number", "text",
               lambda value, ctx: None if value == "" else _invoice_number(value, ctx),
               required=False),
    ),
    key=("zone_code", "account_number", "channel", "reference"),
    describe=lambda row: (f"el pago {row['reference']} ({row['channel']}) del contrato "
                          f"{row['account_number']} de {row['zone_code']}"),
    row_rules=_not_after_today("paid_on"),
)

#: In the order they are checked and loaded: each file's rows only refer to earlier ones.
FILES: tuple[FileSpec, ...] = (ZONES, ACCOUNTS, INVOICES, INVOICE_LINES, READINGS, PAYMENTS)
BY_NAME = {spec.name: spec for spec in FILES}
