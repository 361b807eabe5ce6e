"""Writing the billing tables out in the exchange format: the inverse of the import.

``flask --app ov export-billing DIR`` uses it to make an export of what a database holds
(the demo data, for instance): to try the import, to build the examples and the
benchmark's 100,000-account export, and to check that the two agree (a round trip changes
nothing). Rows are streamed; memory does not grow with the tables.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from defusedxml.ElementTree import fromstring
from sqlalchemy import text

from ov.extensions import db
from ov.services.billing_import.cfdi import NAMESPACES, STAMP
from ov.services.billing_import.layout import (
    ACCOUNTS,
    CFDI_FOLDER,
    FILES,
    INVOICE_LINES,
    INVOICES,
    MANIFEST,
    MANIFEST_COLUMNS,
    PAYMENTS,
    PRICE_PLACES,
    QUANTITY_PLACES,
    READINGS,
    ZONES,
    FileSpec,
)
from ov.services.billing_import.reader import ExportDialect

#: Rows fetched from the database at a time.
FETCH_ROWS = 5000

QUERIES = {
    ZONES.name: "SELECT z.code, z.name, z.cities FROM zone z ORDER BY z.code",
    ACCOUNTS.name: (
        "SELECT z.code, a.number, a.check_digit, a.holder_name, a.street, a.street_number, "
        "a.colonia, a.city, a.state, a.postal_code, a.meter_serial, a.tariff_code, a.status "
        "FROM account a JOIN zone z ON z.id = a.zone_id ORDER BY a.id"),
    INVOICES.name: (
        "SELECT z.code, i.number, a.number, i.issue_date, i.period_start, i.period_end, "
        "i.due_date, i.previous_reading, i.current_reading, i.reading_type, "
        "i.replaces_reading_on, i.consumption_m3, i.subtotal, i.tax, i.total, i.paid_at, "
        "i.cfdi_xml FROM invoice i JOIN account a ON a.id = i.account_id "
        "JOIN zone z ON z.id = i.zone_id ORDER BY i.id"),
    INVOICE_LINES.name: (
        "SELECT z.code, i.number, l.position, l.concept, l.quantity, l.unit, l.unit_price, "
        "l.amount FROM invoice_line l JOIN invoice i ON i.id = l.invoice_id "
        "JOIN zone z ON z.id = i.zone_id ORDER BY l.invoice_id, l.position"),
    READINGS.name: (
        "SELECT z.code, a.number, r.read_on, r.value, r.reading_type, r.source "
        "FROM reading r JOIN account a ON a.id = r.account_id "
        "JOIN zone z ON z.id = a.zone_id ORDER BY r.id"),
    PAYMENTS.name: (
        "SELECT z.code, a.number, p.channel, p.reference, p.paid_on, p.amount, "
        "p.channel_name, p.status, i.number FROM payment p "
        "JOIN account a ON a.id = p.account_id JOIN zone z ON z.id = a.zone_id "
        "LEFT JOIN invoice i ON i.id = p.invoice_id ORDER BY p.id"),
}


@dataclass
class Written:
    rows: dict[str, int] = field(default_factory=dict)
    cfdi_files: int = 0


def _decimal(places: int) -> Callable[[object], str]:
    quantum = Decimal(1).scaleb(-places)

    def write(value: object) -> str:
        return str(Decimal(str(value)).quantize(quantum))
    return write


def _day(value: object) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def _instant(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):  # SQLite: naive UTC text
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(value: object) -> str:
    return "" if value is None else str(value)


def _writers(spec: FileSpec) -> list[Callable[[object], str]]:
    by_kind = {"date": _day, "instant": _instant}
    writers = []
    for column in spec.columns:
        if column.places:
            writers.append(_decimal(column.places))
        else:
            writers.append(by_kind.get(column.kind, _plain))
    return writers


def cfdi_uuid(xml: str) -> str:
    """The UUID of the SAT stamp of a CFDI the portal holds."""
    root = fromstring(xml.encode("utf-8"))
    for namespace in NAMESPACES:
        stamp = root.find(f"{{{namespace}}}Complemento/{STAMP}")
        if stamp is not None:
            return stamp.get("UUID", "")
    return ""


def _rows(spec: FileSpec, directory: Path, written: Written) -> Iterator[list[str]]:
    writers = _writers(spec)
    # Streamed in batches; the option is given to this statement only, not to the session's
    # connection, which the caller may write with afterwards.
    result = db.session.connection().execute(text(QUERIES[spec.name]),
                                             execution_options={"yield_per": FETCH_ROWS})
    for row in result:
        values = list(row)
        if spec is INVOICES:
            xml = values.pop()
            uuid = file_name = ""
            if xml:
                uuid = cfdi_uuid(xml)
                file_name = f"{values[0]}-{values[1]}.xml"
                (directory / CFDI_FOLDER).mkdir(exist_ok=True)
                (directory / CFDI_FOLDER / file_name).write_text(xml, encoding="utf-8")
                written.cfdi_files += 1
            values += [uuid, file_name]
        yield [write(value) for write, value in zip(writers, values, strict=True)]


def export_billing(directory: Path | str) -> Written:
    """Write every billing table to ``directory`` (made if missing) with its manifest."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = Written()
    for spec in FILES:
        count = 0
        with (directory / spec.name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, ExportDialect)
            writer.writerow(spec.headers)
            for values in _rows(spec, directory, written):
                writer.writerow(values)
                count += 1
        written.rows[spec.name] = count
    with (directory / MANIFEST).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, ExportDialect)
        writer.writerow(MANIFEST_COLUMNS)
        for name, count in written.rows.items():
            writer.writerow([name, count])
    return written


__all__ = ["PRICE_PLACES", "QUANTITY_PLACES", "Written", "export_billing"]
