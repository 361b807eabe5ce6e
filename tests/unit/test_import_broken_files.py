"""Broken billing exports: each one is refused with its file, line and column, and the
database is left exactly as it was.

Every test starts from a good export of the demo data (five accounts, four months) written
by ``export_billing``, breaks one thing in it, and runs the import. The database differs
from the export in one bill (removed after the export, with its lines and payment) and one
holder's name, and one of its contracts has a registered user: an import that got through
would insert that bill, make its notice and change the name, so "nothing changed" is a
check that can fail.
"""

from __future__ import annotations

import csv
import hashlib
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from ov.extensions import db
from ov.models import Invoice, User, UserAccount, utcnow
from ov.services import demo_data
from ov.services.billing_import import ImportFailed, Problems, run_import
from ov.services.billing_import.export import export_billing
from ov.services.billing_import.fields import FUTURE_DAYS
from ov.services.billing_import.layout import BY_NAME, MANIFEST, PAYMENTS
from ov.services.billing_import.reader import KEPT_PROBLEMS, ExportDialect

TABLES = ("zone", "account", "invoice", "invoice_line", "reading", "payment", "import_run",
          "notice", "outbox_mail")
RENAMED_HOLDER = "Nombre anterior a la importación"
NUMBER = "ZE00000001"  # no demo bill has a number of this series


# --- the export, and tools to break it --------------------------------------------------------

class Export:
    """The folder of an export, edited file by file; lines are numbered as in the file
    (the header is line 1)."""

    def __init__(self, path: Path):
        self.path = path

    def file(self, name: str) -> Path:
        return self.path / name

    def records(self, name: str) -> list[list[str]]:
        with self.file(name).open(encoding="utf-8", newline="") as handle:
            return list(csv.reader(handle, ExportDialect))

    def write(self, name: str, records: list[list[str]]) -> None:
        with self.file(name).open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle, ExportDialect).writerows(records)

    def rows(self, name: str) -> list[dict]:
        """The data rows as dicts, each with its ``line``."""
        header, *data = self.records(name)
        return [{"line": number, **dict(zip(header, record, strict=True))}
                for number, record in enumerate(data, start=2)]

    def row(self, name: str, line: int) -> dict:
        return next(row for row in self.rows(name) if row["line"] == line)

    def set(self, name: str, line: int, /, **values: str) -> None:
        records = self.records(name)
        for column, value in values.items():
            records[line - 1][records[0].index(column)] = value
        self.write(name, records)

    def append(self, name: str, *rows: dict, recount: bool = True) -> int:
        """Add rows (dicts by column) at the end; the line of the first one."""
        records = self.records(name)
        first = len(records) + 1
        records += [[row.get(column, "") for column in records[0]] for row in rows]
        self.write(name, records)
        if recount:
            self.recount()
        return first

    def delete(self, name: str, lines: set[int]) -> None:
        records = self.records(name)
        self.write(name, [record for number, record in enumerate(records, start=1)
                          if number not in lines])
        self.recount()

    def recount(self) -> None:
        """The manifest saying each listed file's true number of data rows."""
        manifest = self.records(MANIFEST)
        for record in manifest[1:]:
            record[1] = str(len(self.records(record[0])) - 1)
        self.write(MANIFEST, manifest)

    def manifest(self) -> dict[str, int]:
        return {name: int(rows) for name, rows in self.records(MANIFEST)[1:]}

    def line_of(self, name: str, **match: str) -> int:
        return next(row["line"] for row in self.rows(name)
                    if all(row[key] == value for key, value in match.items()))


def snapshot() -> dict[str, tuple[int, str]]:
    """Each table's row count and a digest of all its rows, in id order."""
    found = {}
    for table in TABLES:
        rows = db.session.execute(text(f"SELECT * FROM {table} ORDER BY id")).all()
        digest = hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()
        found[table] = (len(rows), digest)
    return found


@pytest.fixture
def export(app: Flask, clean_db, tmp_path: Path) -> Export:
    with app.app_context():
        demo_data.load_demo_data(accounts=5, months=4)
        db.session.remove()
        export_billing(tmp_path / "export")
        # A new session: export_billing leaves its connection streaming (see the report).
        db.session.remove()
        newest = db.session.execute(
            text("SELECT id, account_id FROM invoice ORDER BY issue_date DESC, id DESC")).first()
        user = User(username="usuImporta1", password_hash="x", email="importa@ejemplo.mx")
        user.links.append(UserAccount(account_id=newest.account_id))
        db.session.add(user)
        for sql in ("DELETE FROM payment WHERE invoice_id = :id",
                    "DELETE FROM invoice_line WHERE invoice_id = :id",
                    "DELETE FROM invoice WHERE id = :id"):
            db.session.execute(text(sql), {"id": newest.id})
        db.session.execute(text("UPDATE account SET holder_name = :name WHERE id = "
                                "(SELECT min(id) FROM account)"), {"name": RENAMED_HOLDER})
        db.session.commit()
        db.session.remove()
    return Export(tmp_path / "export")


def today() -> date:
    return date.today()


def run(directory: Path):
    """The import of ``directory`` as the tests run it: today is the machine's day (the
    day the demo data was made for), whatever the hour in Mexico."""
    return run_import(directory, today=today(), now=utcnow())


def refused(app: Flask, export: Export) -> Problems:
    """The problems of an import that must fail, once it is checked that it changed no
    row of any billing or notice table."""
    with app.app_context():
        before = snapshot()
        db.session.remove()
        with pytest.raises(ImportFailed) as caught:
            run(export.path)
        db.session.remove()
        assert snapshot() == before
        db.session.remove()
    problems = caught.value.problems
    assert problems.count == len(problems.kept) or len(problems.kept) == KEPT_PROBLEMS
    return problems


def said(problems: Problems) -> list[str]:
    return [str(problem) for problem in problems.kept]


# --- the good export, for comparison ----------------------------------------------------------

def test_a_good_export_loads_and_a_second_run_changes_nothing(app, export):
    with app.app_context():
        before = snapshot()
        db.session.remove()
        first = run(export.path)
        db.session.remove()
        loaded = snapshot()
        db.session.remove()
        second = run(export.path)
        db.session.remove()
        again = snapshot()
        holders = db.session.execute(text("SELECT holder_name FROM account")).scalars().all()
    assert first.counts["invoices.csv"].inserted == 1
    assert first.counts["accounts.csv"].updated == 1
    assert first.notices == 1
    changed = {table for table in TABLES if loaded[table] != before[table]}
    assert {"account", "invoice", "invoice_line", "import_run", "notice"} <= changed
    assert changed <= {"account", "invoice", "invoice_line", "import_run", "notice",
                       "payment", "outbox_mail"}
    assert RENAMED_HOLDER not in holders
    for name, counts in second.counts.items():
        assert (counts.inserted, counts.updated, counts.removed) == (0, 0, 0), name
        assert counts.unchanged == export.manifest()[name]
    assert second.notices == 0
    assert {table for table in TABLES if again[table] != loaded[table]} == {"import_run"}
    assert again["import_run"][0] == loaded["import_run"][0] + 1


def test_a_file_listed_with_no_rows_may_be_only_a_header(app, export):
    export.write("payments.csv", export.records("payments.csv")[:1])
    export.recount()
    with app.app_context():
        summary = run(export.path)
    assert vars(summary.counts["payments.csv"]) == {"inserted": 0, "updated": 0,
                                                    "unchanged": 0, "removed": 0}


# --- bytes and lines --------------------------------------------------------------------------

def test_latin_1_bytes_are_reported_on_each_line_that_has_them(app, export):
    lines = export.file("accounts.csv").read_text(encoding="utf-8").split("\n")
    export.file("accounts.csv").write_bytes("\n".join(lines).encode("latin-1"))
    expected = []
    for number, line in enumerate(lines, start=1):
        position = next((index for index, char in enumerate(line) if ord(char) > 127), None)
        if position is not None:
            byte = line[position].encode("latin-1")[0]
            expected.append(f"accounts.csv:{number}: el byte 0x{byte:02X} en la posición "
                            f"{position + 1} no es UTF-8 (¿se guardó en Latin-1 o "
                            "Windows-1252?): guárdalo como UTF-8")
    assert expected, "the demo's holders and streets have accents"
    assert said(refused(app, export)) == expected


def test_a_byte_order_mark(app, export):
    path = export.file("invoices.csv")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert said(refused(app, export)) == [
        "invoices.csv:1: empieza con una marca de orden de bytes (BOM): guárdalo como UTF-8 "
        "sin BOM"]


def test_windows_line_endings(app, export):
    path = export.file("payments.csv")
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    lines = export.manifest()["payments.csv"] + 1
    assert said(refused(app, export)) == [
        "payments.csv:1: termina en CRLF (fin de línea de Windows): las líneas deben terminar "
        "solo en LF (\\n)",
        f"payments.csv: {lines} líneas terminan en CRLF en total"]


def test_a_lone_carriage_return_keeps_the_line_numbers_right(app, export):
    path = export.file("readings.csv")
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b",", b"\r", 1)  # line 3
    lines[4] = lines[4].replace(b"real", b"rael")  # line 5, to see that lines still count
    path.write_bytes(b"\n".join(lines))
    assert said(refused(app, export)) == [
        "readings.csv:3: tiene un retorno de carro (\\r) suelto: las líneas terminan solo en "
        "LF (\\n) y los campos no llevan \\r",
        'readings.csv:5: reading_type "rael" no es uno de: real, estimated, customer']


def test_a_nul_in_a_text_is_a_field_problem_not_a_database_error(app, export):
    holder = export.row("accounts.csv", 3)["holder_name"]
    export.set("accounts.csv", 3, holder_name=holder[:4] + "\x00" + holder[4:])
    assert said(refused(app, export)) == [
        "accounts.csv:3: holder_name tiene un carácter de control (U+0000); solo se acepta "
        "texto"]


def test_an_empty_line_at_the_end(app, export):
    path = export.file("payments.csv")
    path.write_bytes(path.read_bytes() + b"\n")
    line = export.manifest()["payments.csv"] + 2
    # Only the empty line: it is not a row, so the manifest's count still holds.
    assert said(refused(app, export)) == [f"payments.csv:{line}: es una línea vacía"]


def test_an_empty_line_and_a_short_one(app, export):
    path = export.file("readings.csv")
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[3] = ""  # line 4
    lines[6] = ",".join(lines[6].split(",")[:4])  # line 7
    path.write_text("\n".join(lines), encoding="utf-8")
    rows = export.manifest()["readings.csv"]
    # The row that became an empty line is missing: the manifest's count says so too.
    assert said(refused(app, export)) == [
        "readings.csv:4: es una línea vacía", "readings.csv:7: tiene 4 columnas y la cabecera 6",
        f"readings.csv:{rows + 1}: tiene {rows - 1} filas y manifest.csv dice {rows}: ¿está "
        "cortado o incompleto?"]


# --- headers ----------------------------------------------------------------------------------

# Headers are broken in files no other file refers to: a broken header of invoices.csv
# also has every line of invoice_lines.csv reported as a line of no bill (see the report).

def test_a_missing_column(app, export):
    records = export.records("payments.csv")
    drop = records[0].index("channel_name")
    export.write("payments.csv", [record[:drop] + record[drop + 1:] for record in records])
    # Only the header: its rows are still counted, so the file does not look cut.
    assert said(refused(app, export)) == [
        "payments.csv:1: faltan columnas en la cabecera: channel_name"]


def test_an_extra_column(app, export):
    records = export.records("readings.csv")
    export.write("readings.csv", [[*record, "nota" if number else "notes"]
                                  for number, record in enumerate(records)])
    expected = ",".join(BY_NAME["readings.csv"].headers)
    assert said(refused(app, export)) == [
        "readings.csv:1: la cabecera tiene columnas que no conocemos: notes (se esperan "
        f"{expected})"]


def test_a_column_named_twice(app, export):
    records = export.records("accounts.csv")
    status = records[0].index("status")
    export.write("accounts.csv", [[*record, record[status]] for record in records])
    assert said(refused(app, export)) == ["accounts.csv:1: la cabecera repite columnas: status"]


def test_a_column_renamed_to_another(app, export):
    records = export.records("readings.csv")
    records[0][records[0].index("source")] = "value"
    export.write("readings.csv", records)
    assert said(refused(app, export)) == ["readings.csv:1: la cabecera repite columnas: value",
                                          "readings.csv:1: faltan columnas en la cabecera: "
                                          "source"]


# --- keys repeated within a file --------------------------------------------------------------

@pytest.mark.parametrize("name", ["zones.csv", "accounts.csv", "invoices.csv",
                                  "invoice_lines.csv", "readings.csv", "payments.csv"])
def test_a_key_twice_in_one_file(app, export, name):
    spec = BY_NAME[name]
    first = export.rows(name)[0]
    copy = dict(first)
    if name == "invoice_lines.csv":
        copy["amount"] = "0.00"  # the bill's lines still add up: only the key is wrong
    line = export.append(name, copy)
    problems = refused(app, export)
    assert [(p.file, p.line, p.column) for p in problems.kept] == [(name, line, None)]
    described = spec.describe({key: first[key] for key in spec.key})
    # Compared without case: the engine's str.capitalize() also lowers the zone code and
    # the bill's number ("de nld"); see the report.
    assert problems.kept[0].message.lower() == f"{described} ya está en la línea 2".lower()


# --- quoting and cut files --------------------------------------------------------------------

def test_a_quote_inside_a_quoted_field(app, export):
    path = export.file("accounts.csv")
    lines = path.read_text(encoding="utf-8").split("\n")
    fields = lines[2].split(",")
    fields[3] = f'"{fields[3]} "El Güero""'
    lines[2] = ",".join(fields)
    path.write_text("\n".join(lines), encoding="utf-8")
    assert said(refused(app, export)) == [
        'accounts.csv:3: comillas mal puestas: un campo con comillas va entero entre ellas, '
        'seguido de una coma o del fin de línea, y una comilla dentro de él se escribe '
        'doble ("")']


def test_a_quote_never_closed_runs_to_the_end_of_the_file(app, export):
    path = export.file("invoice_lines.csv")
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[3] = lines[3].replace(",Cargo", ',"Cargo', 1)  # line 4
    path.write_text("\n".join(lines), encoding="utf-8")
    problems = said(refused(app, export))
    assert problems[:2] == [
        "invoice_lines.csv:4: el archivo termina dentro de un campo entre comillas: ¿está "
        "cortado o falta cerrar unas comillas?",
        f"invoice_lines.csv:3: tiene 3 filas y manifest.csv dice "
        f"{export.manifest()['invoice_lines.csv']:,}: ¿está cortado o incompleto?"]


def test_a_quote_never_closed_in_a_large_file(app, export):
    path = export.file("invoice_lines.csv")
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[3] = lines[3].replace(",Cargo", ',"Cargo', 1)  # line 4
    path.write_text("\n".join(lines), encoding="utf-8")
    limit = csv.field_size_limit(1000)  # as if the file went on for 128 KiB
    try:
        problems = said(refused(app, export))
    finally:
        csv.field_size_limit(limit)
    assert problems[0] == ("invoice_lines.csv:4: tiene un campo de más de 1,000 caracteres: "
                           "¿faltan por cerrar unas comillas?")


def test_a_file_cut_after_whole_rows(app, export):
    rows = export.manifest()["readings.csv"]
    path = export.file("readings.csv")
    lines = path.read_text(encoding="utf-8").split("\n")
    path.write_text("\n".join(lines[:-3]) + "\n", encoding="utf-8")  # the last two rows
    assert said(refused(app, export)) == [
        f"readings.csv:{rows - 1}: tiene {rows - 2:,} filas y manifest.csv dice {rows:,}: "
        "¿está cortado o incompleto?"]


def test_a_file_cut_in_the_middle_of_a_line(app, export):
    rows = export.manifest()["readings.csv"]
    path = export.file("readings.csv")
    data = path.read_bytes().rstrip(b"\n")
    last = data.rindex(b"\n")
    cut = data[:last + 1 + data[last + 1:].index(b",", 8)]  # inside the third field
    path.write_bytes(cut)
    assert said(refused(app, export)) == [f"readings.csv:{rows + 1}: {NO_LAST_LF}"]


NO_LAST_LF = ("la última línea no termina en salto de línea (LF): ¿el archivo está cortado? "
              "Cada línea, también la última, termina en \\n")


def test_a_file_cut_inside_the_last_field_with_every_column_there(app, export):
    # Cut after the third comma of the last payment: its columns could all be there, the
    # last ones empty, and an invoice_number left empty would unlink a payment.
    rows = export.manifest()["payments.csv"]
    path = export.file("payments.csv")
    data = path.read_bytes()
    path.write_bytes(data[:data.rindex(b",")])
    assert said(refused(app, export)) == [f"payments.csv:{rows + 1}: {NO_LAST_LF}"]


def test_a_manifest_cut_at_the_end(app, export):
    path = export.file(MANIFEST)
    path.write_bytes(path.read_bytes()[:-2])  # "…,7\n" becomes "…,"
    problems = said(refused(app, export))
    assert problems[0] == f"manifest.csv:7: {NO_LAST_LF}"


def test_a_file_cut_inside_quotes(app, export):
    path = export.file("zones.csv")
    data = path.read_bytes().rstrip(b"\n")
    assert data.endswith(b'"'), "the last zone lists its cities between quotes"
    path.write_bytes(data[:-6])
    rows = export.manifest()["zones.csv"]
    assert said(refused(app, export)) == [f"zones.csv:{rows + 1}: {NO_LAST_LF}"]


def test_an_empty_file(app, export):
    export.file("payments.csv").write_bytes(b"")
    rows = export.manifest()["payments.csv"]
    headers = ",".join(PAYMENTS.headers)
    assert said(refused(app, export)) == [
        f"payments.csv:1: está vacío: falta la cabecera ({headers})",
        f"payments.csv: tiene 0 filas y manifest.csv dice {rows:,}: ¿está cortado o "
        "incompleto?"]


def test_only_a_header_where_the_manifest_counts_rows(app, export):
    export.write("payments.csv", export.records("payments.csv")[:1])
    rows = export.manifest()["payments.csv"]
    assert said(refused(app, export)) == [
        f"payments.csv: tiene 0 filas y manifest.csv dice {rows:,}: ¿está cortado o "
        "incompleto?"]


# --- the manifest -----------------------------------------------------------------------------

def test_a_folder_that_is_not_there(app, export):
    missing = export.path.parent / "no-existe"
    assert said(refused(app, Export(missing))) == [f"{missing}: no es una carpeta"]


def test_no_manifest(app, export):
    export.file(MANIFEST).unlink()
    assert said(refused(app, export)) == [
        "manifest.csv: falta: la exportación lleva un manifest.csv con cada archivo y su "
        "número de filas (file,rows)"]


def test_a_file_the_manifest_does_not_list(app, export):
    export.write(MANIFEST, [record for record in export.records(MANIFEST)
                            if record[0] != "payments.csv"])
    assert said(refused(app, export)) == [
        "payments.csv: no está en manifest.csv: añádelo con su número de filas"]


def test_a_file_the_manifest_lists_but_is_not_there(app, export):
    line = export.line_of(MANIFEST, file="readings.csv")
    export.file("readings.csv").unlink()
    assert said(refused(app, export)) == [
        f"manifest.csv:{line}: file readings.csv no está en la carpeta"]


def test_a_manifest_listing_a_file_twice(app, export):
    line = export.append(MANIFEST, {"file": "zones.csv", "rows": "7"}, recount=False)
    assert said(refused(app, export)) == [f"manifest.csv:{line}: file zones.csv aparece dos veces"]


def test_a_manifest_whose_count_is_not_a_number(app, export):
    line = export.line_of(MANIFEST, file="zones.csv")
    export.set(MANIFEST, line, rows="siete")
    assert said(refused(app, export)) == [
        f'manifest.csv:{line}: rows "siete" no es un número entero (se esperan solo dígitos)']


def test_a_manifest_naming_an_unknown_file(app, export):
    line = export.append(MANIFEST, {"file": "facturas.csv", "rows": "3"}, recount=False)
    problems = said(refused(app, export))
    assert len(problems) == 1
    assert problems[0].startswith(f'manifest.csv:{line}: file "facturas.csv" no es un archivo '
                                  "del formato (se esperan: zones.csv, accounts.csv,")


# --- values -----------------------------------------------------------------------------------

def test_a_comma_in_an_amount(app, export):
    export.set("invoices.csv", 3, total="12,5O")
    # Only the row's problem: its lines and payment still find their bill.
    assert said(refused(app, export)) == [
        'invoices.csv:3: total "12,5O" no es un importe: usa punto decimal, sin comas '
        "(p. ej. 1234.50)"]


def test_a_refused_line_does_not_make_its_bill_not_add_up(app, export):
    export.set("invoice_lines.csv", 2, amount="abc")
    assert said(refused(app, export)) == [
        'invoice_lines.csv:2: amount "abc" no es un importe (se espera p. ej. 1234.50)']


def test_a_broken_header_of_bills_does_not_refuse_every_line(app, export):
    records = export.records("invoices.csv")
    records[0][records[0].index("tax")] = "iva"
    export.write("invoices.csv", records)
    assert said(refused(app, export)) == [
        "invoices.csv:1: faltan columnas en la cabecera: tax",
        "invoices.csv:1: la cabecera tiene columnas que no conocemos: iva (se esperan "
        + ",".join(BY_NAME["invoices.csv"].headers) + ")"]


def test_a_zone_name_another_zone_has(app, export):
    first, second = export.rows("zones.csv")[:2]
    export.set("zones.csv", second["line"], **{"name": first["name"]})
    assert said(refused(app, export)) == [
        f'zones.csv:{second["line"]}: name "{first["name"]}" ya es el nombre de la zona de '
        f"la línea {first['line']}",
        f'zones.csv:{second["line"]}: name "{first["name"]}" ya es el nombre de la zona '
        f"{first['code']} del portal"]


def test_a_negative_amount(app, export):
    amount = export.row("payments.csv", 2)["amount"]
    export.set("payments.csv", 2, amount=f"-{amount}")
    assert said(refused(app, export)) == [
        f'payments.csv:2: amount "-{amount}" es negativo; no se aceptan cantidades negativas']


def test_an_absurd_amount(app, export):
    export.set("payments.csv", 3, amount="99999999999.00")
    assert said(refused(app, export)) == [
        'payments.csv:3: amount "99999999999.00" es demasiado grande (el máximo es '
        "10000000.00)"]


def test_a_number_longer_than_python_reads(app, export):
    export.set("readings.csv", 2, value="9" * 5000)
    assert said(refused(app, export)) == [
        f'readings.csv:2: value "{"9" * 40}…" (5,000 caracteres) está fuera de rango (de 0 a '
        "99,999,999)"]


def test_a_quantity_beyond_what_the_database_column_holds(app, export):
    # NUMERIC(12, 3) holds 999999999.999 at most: more would stop the load on PostgreSQL.
    export.set("invoice_lines.csv", 2, quantity="1000000000.000")
    # Then the bill's other lines do not add up to its subtotal: that follows.
    assert said(refused(app, export))[0] == (
        'invoice_lines.csv:2: quantity "1000000000.000" es demasiado grande (el máximo es '
        "999999999.999)")


def test_a_date_out_of_range(app, export):
    export.set("readings.csv", 2, read_on="1999-12-31")
    latest = today() + timedelta(days=FUTURE_DAYS)
    assert said(refused(app, export)) == [
        f'readings.csv:2: read_on "1999-12-31" está fuera de rango (del 2000-01-01 al '
        f"{latest.isoformat()})"]


def test_an_impossible_date(app, export):
    export.set("payments.csv", 4, paid_on="2025-02-30")
    assert said(refused(app, export)) == [
        'payments.csv:4: paid_on "2025-02-30" no es una fecha que exista']


def test_a_reading_in_the_future(app, export):
    tomorrow = (today() + timedelta(days=1)).isoformat()
    export.set("readings.csv", 2, read_on=tomorrow)
    assert said(refused(app, export)) == [f"readings.csv:2: read_on {tomorrow} está en el futuro"]


def test_a_payment_instant_without_its_offset(app, export):
    line = next(row["line"] for row in export.rows("invoices.csv") if row["paid_at"])
    naive = export.row("invoices.csv", line)["paid_at"].removesuffix("Z")
    export.set("invoices.csv", line, paid_at=naive)
    problems = said(refused(app, export))
    assert problems[0] == (
        f'invoices.csv:{line}: paid_at "{naive}" no es una fecha y hora AAAA-MM-DDTHH:MM:SS '
        "con su diferencia horaria (p. ej. 2026-10-03T14:05:00-06:00)")


# --- sums -------------------------------------------------------------------------------------

def cents(amount: str) -> int:
    whole, _, fraction = amount.partition(".")
    return int(whole) * 100 + int(fraction)


def money(centavos: int) -> str:
    return f"{centavos // 100}.{centavos % 100:02d}"


def test_lines_that_do_not_add_up_to_the_subtotal(app, export):
    line = export.rows("invoice_lines.csv")[1]
    export.set("invoice_lines.csv", line["line"], amount=money(cents(line["amount"]) + 1))
    invoice = export.line_of("invoices.csv", zone_code=line["zone_code"],
                             invoice_number=line["invoice_number"])
    subtotal = cents(export.row("invoices.csv", invoice)["subtotal"])
    count = sum(1 for row in export.rows("invoice_lines.csv")
                if row["invoice_number"] == line["invoice_number"])
    assert said(refused(app, export)) == [
        f"invoices.csv:{invoice}: subtotal sus {count} conceptos de invoice_lines.csv suman "
        f"{money(subtotal + 1)} y subtotal es {money(subtotal)}"]


def test_subtotal_and_tax_that_do_not_make_the_total(app, export):
    row = export.row("invoices.csv", 3)
    export.set("invoices.csv", 3, total=money(cents(row["total"]) + 1))
    problems = said(refused(app, export))
    assert problems[0] == (f"invoices.csv:3: total {money(cents(row['total']) + 1)} no es "
                           f"subtotal + tax ({row['total']})")


def test_lines_of_a_bill_that_is_not_in_invoices_csv(app, export):
    line = export.append("invoice_lines.csv", {
        "zone_code": "NLD", "invoice_number": NUMBER, "position": "1", "concept": "Cargo fijo",
        "quantity": "1.000", "unit": "servicio", "unit_price": "62.5000", "amount": "62.50"})
    assert said(refused(app, export)) == [
        f"invoice_lines.csv:{line}: invoice_number la factura {NUMBER} no está en "
        "invoices.csv: los conceptos llegan siempre con su factura"]


def test_a_bill_without_lines(app, export):
    bill = export.row("invoices.csv", 2)
    export.delete("invoice_lines.csv", {
        row["line"] for row in export.rows("invoice_lines.csv")
        if (row["zone_code"], row["invoice_number"]) == (bill["zone_code"],
                                                         bill["invoice_number"])})
    assert said(refused(app, export)) == [
        "invoices.csv:2: subtotal no tiene conceptos en invoice_lines.csv"]


# --- references -------------------------------------------------------------------------------

def test_an_account_in_an_unknown_zone(app, export):
    export.set("accounts.csv", 2, zone_code="XYZ")
    assert said(refused(app, export)) == [
        'accounts.csv:2: zone_code "XYZ" no es una zona de zones.csv ni del portal']


@pytest.mark.parametrize("name", ["readings.csv", "payments.csv"])
def test_rows_of_an_unknown_account(app, export, name):
    row = dict(export.rows(name)[0], account_number="99999999")
    row.pop("line")
    if name == "payments.csv":
        row["invoice_number"] = ""
    line = export.append(name, row)
    assert said(refused(app, export)) == [
        f"{name}:{line}: account_number el contrato 99999999 de la zona {row['zone_code']} no "
        "está en accounts.csv ni en el portal"]


def test_a_bill_of_an_unknown_account(app, export):
    bill = export.row("invoices.csv", 2)
    lines = [dict(row, invoice_number=NUMBER) for row in export.rows("invoice_lines.csv")
             if row["invoice_number"] == bill["invoice_number"]]
    line = export.append("invoices.csv", dict(bill, invoice_number=NUMBER,
                                              account_number="99999999", paid_at=""))
    export.append("invoice_lines.csv", *lines)
    assert said(refused(app, export)) == [
        f"invoices.csv:{line}: account_number el contrato 99999999 de la zona "
        f"{bill['zone_code']} no está en accounts.csv ni en el portal"]


def test_a_payment_of_another_accounts_bill(app, export):
    payment = export.rows("payments.csv")[0]
    other = next(row for row in export.rows("invoices.csv")
                 if row["account_number"] != payment["account_number"])
    export.set("payments.csv", payment["line"], invoice_number=other["invoice_number"])
    assert said(refused(app, export)) == [
        f"payments.csv:{payment['line']}: invoice_number la factura "
        f"{other['invoice_number']} no es de ese contrato (en invoices.csv ni en el portal)"]


def test_a_corrected_bill_that_names_no_estimated_reading(app, export):
    bill = next(row for row in export.rows("invoices.csv") if row["reading_type"] == "real")
    export.set("invoices.csv", bill["line"], replaces_reading_on=bill["period_start"])
    assert said(refused(app, export)) == [
        f"invoices.csv:{bill['line']}: replaces_reading_on {bill['period_start']} no es el día "
        "de una lectura estimada de ese contrato (en readings.csv ni en el portal)"]


def test_a_corrected_bill_that_names_its_estimated_reading_loads(app, export):
    bill = [row for row in export.rows("invoices.csv") if row["reading_type"] == "real"][1]
    earlier = next(row for row in export.rows("readings.csv")
                   if (row["zone_code"], row["account_number"]) ==
                   (bill["zone_code"], bill["account_number"])
                   and row["read_on"] < bill["period_end"])
    export.set("readings.csv", earlier["line"], reading_type="estimated", source="system")
    export.set("invoices.csv", bill["line"], replaces_reading_on=earlier["read_on"])
    with app.app_context():
        run(export.path)
        stored = db.session.execute(text(
            "SELECT i.replaces_reading_on FROM invoice i JOIN zone z ON z.id = i.zone_id "
            "WHERE z.code = :zone AND i.number = :number"),
            {"zone": bill["zone_code"], "number": bill["invoice_number"]}).scalar()
    assert str(stored)[:10] == earlier["read_on"]


# --- CFDI files -------------------------------------------------------------------------------

UUID = "5FB2822E-396D-4725-8521-CDC4BDD20CCF"


def cfdi_xml(*, uuid: str = UUID, total: str = "605.58", subtotal: str = "522.05",
             doctype: str = "") -> str:
    """A small CFDI 4.0 stamped by the SAT (fictitious issuer, receiver and seals)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>{doctype}
<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4"
    xmlns:tfd="http://www.sat.gob.mx/TimbreFiscalDigital"
    Version="4.0" Serie="ZE" Folio="00000001" Fecha="2025-01-03T10:00:00"
    SubTotal="{subtotal}" Moneda="MXN" Total="{total}" TipoDeComprobante="I"
    Exportacion="01" MetodoPago="PUE" LugarExpedicion="88000">
  <cfdi:Emisor Rfc="GNE990101AB1" Nombre="GAS NATURAL DEL EJEMPLO" RegimenFiscal="601"/>
  <cfdi:Receptor Rfc="XAXX010101000" Nombre="PUBLICO EN GENERAL" DomicilioFiscalReceptor="88000"
      RegimenFiscalReceptor="616" UsoCFDI="S01"/>
  <cfdi:Conceptos>
    <cfdi:Concepto ClaveProdServ="15111510" Cantidad="1" ClaveUnidad="E48"
        Descripcion="Suministro de gas natural" ValorUnitario="{subtotal}"
        Importe="{subtotal}" ObjetoImp="02"/>
  </cfdi:Conceptos>
  <cfdi:Complemento>
    <tfd:TimbreFiscalDigital Version="1.1" UUID="{uuid}" FechaTimbrado="2025-01-03T10:01:00"
        RfcProvCertif="SAT970701NN3" SelloCFD="c2VsbG8=" NoCertificadoSAT="00001000000000000000"
        SelloSAT="c2VsbG8="/>
  </cfdi:Complemento>
</cfdi:Comprobante>
"""


def with_cfdi(export: Export, content: str | bytes | None, line: int = 2) -> tuple[int, str]:
    """Invoice ``line`` naming a CFDI file (written with ``content`` unless None)."""
    bill = export.row("invoices.csv", line)
    name = f"{bill['zone_code']}-{bill['invoice_number']}.xml"
    export.set("invoices.csv", line, cfdi_uuid=UUID.lower(), cfdi_file=name)
    if content is not None:
        folder = export.path / "cfdi"
        folder.mkdir(exist_ok=True)
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return line, name


def bill_row(export: Export, line: int = 2) -> dict:
    return export.row("invoices.csv", line)


def test_a_bill_with_its_cfdi_loads(app, export):
    bill = bill_row(export)
    xml = cfdi_xml(total=bill["total"], subtotal=bill["subtotal"])
    with_cfdi(export, xml)
    with app.app_context():
        run(export.path)
        stored = db.session.execute(
            db.select(Invoice.cfdi_xml).where(Invoice.number == bill["invoice_number"])
        ).scalar()
    assert stored == xml


def cfdi_problem(app, export) -> str:
    problems = refused(app, export).kept
    assert (problems[0].file, problems[0].line, problems[0].column) == \
        ("invoices.csv", 2, "cfdi_file")
    return str(problems[0])


def test_a_cfdi_file_that_is_missing(app, export):
    _line, name = with_cfdi(export, None)
    assert cfdi_problem(app, export) == \
        f"invoices.csv:2: cfdi_file cfdi/{name}: no existe en la exportación"


def test_a_cfdi_file_that_is_not_xml(app, export):
    _line, name = with_cfdi(export, "Factura ZE: 605.58\n")
    assert cfdi_problem(app, export) == \
        f"invoices.csv:2: cfdi_file cfdi/{name}: no es XML válido (error en la línea 1, " \
        "columna 1)"


def test_a_cfdi_file_cut_short(app, export):
    bill = bill_row(export)
    _line, name = with_cfdi(export, cfdi_xml(total=bill["total"])[:400])
    assert cfdi_problem(app, export).startswith(
        f"invoices.csv:2: cfdi_file cfdi/{name}: no es XML válido (error en la línea ")


def test_a_cfdi_of_another_uuid(app, export):
    bill = bill_row(export)
    other = "0A0B0C0D-396D-4725-8521-CDC4BDD20CCF"
    _line, name = with_cfdi(export, cfdi_xml(uuid=other, total=bill["total"]))
    assert cfdi_problem(app, export) == \
        f"invoices.csv:2: cfdi_file cfdi/{name}: su UUID es {other} y cfdi_uuid dice {UUID}"


def test_a_cfdi_of_another_total(app, export):
    bill = bill_row(export)
    _line, name = with_cfdi(export, cfdi_xml(total="1.00"))
    assert cfdi_problem(app, export) == \
        f"invoices.csv:2: cfdi_file cfdi/{name}: su Total es 1.00 y la factura dice " \
        f"{bill['total']}"


@pytest.mark.parametrize("encoding", ["Shift_JIS", "big5", "foo-bar", "ISO-8859-1"])
def test_a_cfdi_declaring_another_encoding(app, export, encoding):
    xml = cfdi_xml(total=bill_row(export)["total"]).replace('encoding="UTF-8"',
                                                            f'encoding="{encoding}"')
    _line, name = with_cfdi(export, xml)
    assert cfdi_problem(app, export) == \
        f'invoices.csv:2: cfdi_file cfdi/{name}: declara la codificación "{encoding}": un ' \
        "CFDI se guarda en UTF-8"


def test_a_cfdi_whose_total_is_not_a_number(app, export):
    _line, name = with_cfdi(export, cfdi_xml(total="sNaN"))
    assert cfdi_problem(app, export) == \
        f'invoices.csv:2: cfdi_file cfdi/{name}: su Total "sNaN" no es un importe'


def test_two_zones_swapping_names_are_refused_not_a_database_error(app, export):
    first, second = export.rows("zones.csv")[:2]
    export.set("zones.csv", first["line"], **{"name": second["name"]})
    export.set("zones.csv", second["line"], **{"name": first["name"]})
    assert said(refused(app, export)) == [
        f'zones.csv:{first["line"]}: name "{second["name"]}" ya es el nombre de la zona '
        f"{second['code']} del portal",
        f'zones.csv:{second["line"]}: name "{first["name"]}" ya es el nombre de la zona '
        f"{first['code']} del portal"]


def test_an_xml_that_is_not_a_cfdi(app, export):
    _line, name = with_cfdi(export, '<?xml version="1.0"?><factura total="605.58"/>')
    assert cfdi_problem(app, export) == \
        f"invoices.csv:2: cfdi_file cfdi/{name}: no es un CFDI: su elemento raíz no es " \
        "cfdi:Comprobante"


def test_a_cfdi_whose_version_is_not_its_namespaces(app, export):
    bill = bill_row(export)
    _line, name = with_cfdi(export, cfdi_xml(total=bill["total"]).replace(
        'Version="4.0"', 'Version="3.3"'))
    assert cfdi_problem(app, export) == (
        f'invoices.csv:2: cfdi_file cfdi/{name}: su Version "3.3" no es la de su espacio de '
        "nombres (http://www.sat.gob.mx/cfd/4: 4.0)")


def test_a_cfdi_without_its_stamp(app, export):
    bill = bill_row(export)
    xml = cfdi_xml(total=bill["total"])
    start, end = xml.index("<cfdi:Complemento>"), xml.index("</cfdi:Complemento>")
    _line, name = with_cfdi(export, xml[:start] + xml[end + len("</cfdi:Complemento>"):])
    assert cfdi_problem(app, export) == (
        f"invoices.csv:2: cfdi_file cfdi/{name}: no tiene el timbre fiscal "
        "(tfd:TimbreFiscalDigital con su UUID)")


LAUGHS = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))


@pytest.mark.parametrize("doctype", [
    f'\n<!DOCTYPE cfdi:Comprobante [<!ENTITY lol0 "lol">{LAUGHS}]>',
    '\n<!DOCTYPE cfdi:Comprobante [<!ENTITY file SYSTEM "file:///etc/hostname">]>',
], ids=["billion-laughs", "external-entity"])
def test_a_cfdi_with_entities_is_refused_unread(app, export, doctype):
    bill = bill_row(export)
    xml = cfdi_xml(total=bill["total"], doctype=doctype).replace(
        "Suministro de gas natural", "&lol9;" if "lol9" in doctype else "&file;")
    _line, name = with_cfdi(export, xml)
    assert cfdi_problem(app, export) == (
        f"invoices.csv:2: cfdi_file cfdi/{name}: declara entidades o una DTD externa, que un "
        "CFDI no lleva y no se aceptan (podrían agotar la memoria o leer otros archivos)")


# --- many problems ----------------------------------------------------------------------------

def test_every_problem_of_every_file_is_reported(app, export):
    export.set("accounts.csv", 2, zone_code="XYZ")
    export.set("payments.csv", 2, amount="-1.00")
    export.set("payments.csv", 5, paid_on="2025-02-30", channel="cheque")
    export.set("readings.csv", 4, value="mil")
    assert said(refused(app, export)) == [
        'readings.csv:4: value "mil" no es un número entero (se esperan solo dígitos)',
        'payments.csv:2: amount "-1.00" es negativo; no se aceptan cantidades negativas',
        'payments.csv:5: channel "cheque" no es uno de: bank, store, transfer',
        'payments.csv:5: paid_on "2025-02-30" no es una fecha que exista',
        'accounts.csv:2: zone_code "XYZ" no es una zona de zones.csv ni del portal',
    ]


def bad_readings(export: Export, count: int, **changes: str) -> int:
    base = dict(export.rows("readings.csv")[0])
    base.pop("line")
    start = date(2001, 1, 1)
    rows = [dict(base, read_on=(start + timedelta(days=n)).isoformat(), **changes)
            for n in range(count)]
    return export.append("readings.csv", *rows)


def test_problems_beyond_those_kept_are_counted(app, export):
    first = bad_readings(export, KEPT_PROBLEMS + 50, value="x")
    problems = refused(app, export)
    assert problems.count == KEPT_PROBLEMS + 50
    assert len(problems.kept) == KEPT_PROBLEMS
    assert [problem.line for problem in problems.kept] == \
        list(range(first, first + KEPT_PROBLEMS))


def test_problems_found_across_files_beyond_those_kept_are_counted(app, export):
    first = bad_readings(export, KEPT_PROBLEMS + 30, account_number="99999999")
    problems = refused(app, export)
    assert problems.count == KEPT_PROBLEMS + 30
    assert len(problems.kept) == KEPT_PROBLEMS
    assert problems.kept[-1].line == first + KEPT_PROBLEMS - 1


# --- the command ------------------------------------------------------------------------------

def test_the_command_prints_the_problems_and_fails(app, export):
    export.set("payments.csv", 2, amount="-1.00")
    export.set("readings.csv", 3, read_on="2025-02-30")
    with app.app_context():
        before = snapshot()
        db.session.remove()
    result = app.test_cli_runner().invoke(args=["import-billing", str(export.path)])
    with app.app_context():
        assert snapshot() == before
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        'readings.csv:3: read_on "2025-02-30" no es una fecha que exista',
        'payments.csv:2: amount "-1.00" es negativo; no se aceptan cantidades negativas',
        "No se cargó nada: 2 problemas en la exportación."]


def test_the_command_says_how_many_problems_it_does_not_show(app, export):
    bad_readings(export, KEPT_PROBLEMS + 5, value="x")
    result = app.test_cli_runner().invoke(args=["import-billing", str(export.path)])
    lines = result.stderr.splitlines()
    assert result.exit_code == 1
    assert len(lines) == KEPT_PROBLEMS + 2
    assert lines[-2:] == ["… y 5 problemas más.",
                          f"No se cargó nada: {KEPT_PROBLEMS + 5} problemas en la exportación."]


def test_the_command_on_a_good_export_loads_it(app, export):
    result = app.test_cli_runner().invoke(args=["import-billing", str(export.path)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Importación ")
    with app.app_context():
        assert RENAMED_HOLDER not in db.session.execute(
            text("SELECT holder_name FROM account")).scalars().all()


def test_problems_print_file_line_column_message():
    problems = Problems()
    problems.add("invoices.csv", 3, 'no es un importe', "total")
    problems.add("manifest.csv", None, "falta")
    assert said(problems) == ['invoices.csv:3: total no es un importe', "manifest.csv: falta"]
