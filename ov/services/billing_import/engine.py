"""Loading an export: read and check everything, then write it all in one transaction.

1. The files are streamed into temporary staging tables (``import_<table>``), each row with
   its line number, after its values passed their column's rules.
2. What needs more than one row is checked in SQL on the staging tables and the portal's
   tables: keys repeated within a file, contracts and bills that exist nowhere, lines
   that do not add up, a bill that would move to another contract.
3. If anything is wrong, nothing is written: the problems are raised, with file and line.
4. Otherwise each table is upserted by its business key in dependency order (statements
   that run set-wise in the database, so memory does not grow with the files), counting
   the rows inserted, updated and unchanged; then the notices of new invoices and of
   payments newly applied are made; then the transaction commits.

Everything happens inside the session's transaction: a failure, or the process being
killed, before the commit leaves the data as it was. Two imports never interleave: the
second finds the lock taken and is refused.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from ov.extensions import db
from ov.models import ImportRun, Invoice, Payment, utcnow
from ov.services import notices
from ov.services.billing_import import cfdi
from ov.services.billing_import.fields import unscaled
from ov.services.billing_import.layout import (
    BY_NAME,
    CFDI_FOLDER,
    FILES,
    INVOICE_LINES,
    INVOICES,
    MANIFEST,
    Context,
    FileSpec,
)
from ov.services.billing_import.manifest import read_manifest
from ov.services.billing_import.reader import KEPT_PROBLEMS, Problems, read_file

#: Rows sent to SQLite per ``executemany``.
BATCH_ROWS = 5000
#: The PostgreSQL advisory lock that keeps imports one at a time (any fixed number).
LOCK_KEY = 7_301_202_611


class ImportFailed(Exception):
    """The export has problems; nothing was written."""

    def __init__(self, problems: Problems):
        super().__init__(f"{problems.count} problemas")
        self.problems = problems


class ImportBusy(Exception):
    """Another import holds the lock."""


BUSY_MESSAGE = ("Otra importación está en curso en esta base de datos: espera a que termine "
                "y vuelve a intentarlo. No se cargó nada.")


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


@dataclass
class Summary:
    counts: dict[str, Counts] = field(default_factory=dict)
    notices: int = 0
    mails: int = 0
    mail_ids: list[int] = field(default_factory=list)
    run_id: int | None = None

    def as_dict(self) -> dict:
        return {"counts": {name: vars(counts) for name, counts in self.counts.items()},
                "notices": self.notices, "mails": self.mails}


class Progress:
    """What the import tells while it works; the command line shows it as bars."""

    def bar(self, name: str, total: int | None) -> Bar:
        return Bar()

    def say(self, message: str) -> None:
        pass


class Bar:
    def update(self, rows: int) -> None:
        pass

    def close(self) -> None:
        pass


# --- the lock --------------------------------------------------------------------------------

@contextmanager
def _one_at_a_time(connection: Connection) -> Iterator[None]:
    """PostgreSQL: a transaction-level advisory lock. SQLite: an exclusive ``flock`` on a
    file beside the database (or in the instance folder)."""
    if connection.dialect.name == "postgresql":
        taken = connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                   {"key": LOCK_KEY}).scalar()
        if not taken:
            raise ImportBusy(BUSY_MESSAGE)
        yield
        return
    database = connection.engine.url.database
    from flask import current_app
    if database and database != ":memory:":
        lock_path = Path(f"{database}.import-lock")
    else:
        lock_path = Path(current_app.instance_path) / "billing-import.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ImportBusy(BUSY_MESSAGE) from None
        yield
    finally:
        os.close(handle)


# --- staging ---------------------------------------------------------------------------------

#: Columns staging tables have besides the file's: resolved ids and what merging learns.
EXTRA = {
    "zone": ("target_id",),
    "account": ("zone_id", "target_id"),
    "invoice": ("zone_id", "account_id", "target_id", "is_new", "cfdi_xml",
                "old_account_number"),
    "invoice_line": ("invoice_id", "target_id"),
    "reading": ("account_id", "target_id"),
    "payment": ("zone_id", "account_id", "invoice_id", "target_id", "was_applied"),
}
EXTRA_KIND = {"cfdi_xml": "text", "old_account_number": "text"}


def _sql_type(kind: str, dialect: str) -> str:
    if dialect == "postgresql":
        return {"text": "TEXT", "int": "BIGINT", "date": "DATE",
                "instant": "TIMESTAMPTZ"}[kind]
    return {"text": "TEXT", "int": "INTEGER", "date": "TEXT", "instant": "TEXT"}[kind]


def stage_name(spec: FileSpec) -> str:
    return f"import_{spec.table}"


class Staging:
    def __init__(self, connection: Connection):
        self.connection = connection
        self.dialect = connection.dialect.name

    def create(self, spec: FileSpec) -> None:
        name = stage_name(spec)
        columns = ["line INTEGER NOT NULL"]
        columns += [f"{column.name} {_sql_type(column.kind, self.dialect)}"
                    for column in spec.columns]
        columns += [f"{extra} {_sql_type(EXTRA_KIND.get(extra, 'int'), self.dialect)}"
                    for extra in EXTRA[spec.table]]
        self.execute(f"DROP TABLE IF EXISTS {name}")
        suffix = " ON COMMIT DROP" if self.dialect == "postgresql" else ""
        self.execute(f"CREATE TEMPORARY TABLE {name} ({', '.join(columns)}){suffix}")

    def columns(self, spec: FileSpec) -> list[str]:
        names = ["line", *spec.headers]
        if spec is INVOICES:
            names.append("cfdi_xml")
        return names

    def load(self, spec: FileSpec, good: Iterator[tuple[int, dict]]) -> int:
        names = self.columns(spec)
        kinds = {column.name: column.kind for column in spec.columns}
        instants = [name for name in names if kinds.get(name) == "instant"]
        dates = [name for name in names if kinds.get(name) == "date"]
        loaded = 0

        def tuples() -> Iterator[tuple]:
            nonlocal loaded
            for line, values in good:
                values["line"] = line
                if self.dialect == "sqlite":
                    for name in dates:
                        if values[name] is not None:
                            values[name] = values[name].isoformat()
                    for name in instants:
                        if values[name] is not None:
                            values[name] = (values[name].astimezone(UTC)
                                            .strftime("%Y-%m-%d %H:%M:%S.%f"))
                loaded += 1
                yield tuple(values.get(name) for name in names)

        table = stage_name(spec)
        if self.dialect == "postgresql":
            raw = self.connection.connection.driver_connection
            with raw.cursor() as cursor, cursor.copy(
                    f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                for row in tuples():
                    copy.write_row(row)
        else:
            cursor = self.connection.connection.driver_connection.cursor()
            sql = (f"INSERT INTO {table} ({', '.join(names)}) "
                   f"VALUES ({', '.join('?' for _ in names)})")
            batch: list[tuple] = []
            for row in tuples():
                batch.append(row)
                if len(batch) == BATCH_ROWS:
                    cursor.executemany(sql, batch)
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)
            cursor.close()
        keys = ", ".join(spec.key)
        self.execute(f"CREATE INDEX {table}_key ON {table} ({keys})")
        self.execute(f"ANALYZE {table}")
        return loaded

    def execute(self, sql: str, params: dict | None = None):
        return self.connection.execute(text(sql), params or {})


# --- the run ---------------------------------------------------------------------------------

def run_import(directory: Path | str, *, today: date | None = None,
               now: datetime | None = None, progress: Progress | None = None) -> Summary:
    """Load the export in ``directory``; raise :class:`ImportFailed` (nothing written) or
    :class:`ImportBusy`. Runs inside an app context; commits on success."""
    directory = Path(directory)
    progress = progress or Progress()
    started = utcnow()
    now = now or started
    ctx = Context(today=today or now.astimezone(notices.LOCAL_TIME).date(), now=now)
    problems = Problems()
    listed = read_manifest(directory, problems)
    if problems:
        raise ImportFailed(problems)
    session = db.session
    connection = session.connection()
    try:
        with _one_at_a_time(connection):
            summary = _load(connection, directory, listed, ctx, problems, progress)
            run = ImportRun(started_at=started, finished_at=utcnow(),
                            source=directory.resolve().name[:200],
                            summary=json.dumps(summary.as_dict(), ensure_ascii=False))
            session.add(run)
            session.flush()
            summary.run_id = run.id
            progress.say("Guardando…")
            session.commit()
    except BaseException:
        session.rollback()
        raise
    return summary


def _load(connection: Connection, directory: Path, listed: dict[str, int], ctx: Context,
          problems: Problems, progress: Progress) -> Summary:
    staging = Staging(connection)
    present = [spec for spec in FILES if spec.name in listed]
    for spec in present:
        staging.create(spec)
        bar = progress.bar(spec.name, listed[spec.name])
        reading = read_file(directory / spec.name, spec, ctx, problems, bar.update)
        good = reading.good
        if spec is INVOICES:
            good = _with_cfdi(good, directory, problems)
        staging.load(spec, good)
        bar.close()
        if reading.records != listed[spec.name]:
            problems.add(spec.name, reading.last_line or None,
                         f"tiene {reading.records:,} filas y {MANIFEST} dice "
                         f"{listed[spec.name]:,}: ¿está cortado o incompleto?")
    progress.say("Comprobando las referencias entre archivos…")
    checks = Checks(staging, {spec.name for spec in present}, problems)
    checks.run()
    if problems:
        raise ImportFailed(problems)
    progress.say("Escribiendo…")
    merge = Merge(staging, ctx)
    summary = Summary()
    for spec in present:
        progress.say(f"Escribiendo {spec.name}…")
        summary.counts[spec.name] = merge.run(spec)
    progress.say("Preparando los avisos…")
    _notify(staging, {spec.name for spec in present}, summary)
    return summary


def _with_cfdi(good: Iterator[tuple[int, dict]], directory: Path,
               problems: Problems) -> Iterator[tuple[int, dict]]:
    """Each invoice row with its CFDI's XML, once the file is read and matches the row."""
    folder = directory / CFDI_FOLDER
    for line, values in good:
        name = values.get("cfdi_file")
        values["cfdi_xml"] = None
        if name is not None:
            try:
                xml = cfdi.check(folder / name, uuid=values["cfdi_uuid"],
                                 total=unscaled(values["total"], 2))
            except cfdi.CfdiError as error:
                problems.add(INVOICES.name, line, f"{CFDI_FOLDER}/{name}: {error}",
                             "cfdi_file")
                continue
            values["cfdi_xml"] = xml
        yield line, values


# --- checks across rows and files ------------------------------------------------------------

class Checks:
    """Problems only SQL over all the rows can see, each with the file and line."""

    def __init__(self, staging: Staging, present: set[str], problems: Problems):
        self.staging = staging
        self.present = present
        self.problems = problems

    def has(self, spec: FileSpec) -> bool:
        return spec.name in self.present

    def report(self, spec: FileSpec, sql: str, message: Callable[[dict], str],
               column: str | None = None) -> None:
        """Add a problem for each row ``sql`` selects (its ``line`` and other columns)."""
        result = self.staging.execute(sql + " ORDER BY line")
        for row in result.mappings():
            self.problems.add(spec.name, row["line"], message(dict(row)), column)
            if len(self.problems.kept) >= KEPT_PROBLEMS:
                rest = sum(1 for _ in result)
                self.problems.count += rest
                break

    def run(self) -> None:
        for spec in FILES:
            if self.has(spec):
                self.duplicates(spec)
        from ov.services.billing_import.layout import ACCOUNTS, PAYMENTS, READINGS
        if self.has(ACCOUNTS):
            self.unknown_zone(ACCOUNTS)
        for spec in (INVOICES, READINGS, PAYMENTS):
            if self.has(spec):
                self.unknown_account(spec)
        if self.has(INVOICES):
            self.invoices()
        if self.has(INVOICE_LINES) or self.has(INVOICES):
            self.lines()
        if self.has(PAYMENTS):
            self.payments()

    def duplicates(self, spec: FileSpec) -> None:
        table = stage_name(spec)
        same = " AND ".join(f"d.{key} = s.{key}" for key in spec.key)
        keys = ", ".join(spec.key)
        self.report(spec, (
            f"SELECT s.line AS line, d.first AS first, {', '.join(f's.{k} AS {k}' for k in spec.key)} "  # noqa: E501
            f"FROM {table} s JOIN (SELECT {keys}, min(line) AS first FROM {table} "
            f"GROUP BY {keys} HAVING count(*) > 1) d ON {same} WHERE s.line <> d.first"),
            lambda row: f"{spec.describe(row).capitalize()} ya está en la línea {row['first']}")

    def _zone_known(self, alias: str) -> str:
        staged = (f" OR EXISTS (SELECT 1 FROM import_zone z2 WHERE z2.code = {alias}.zone_code)"
                  if "zones.csv" in self.present else "")
        return f"(EXISTS (SELECT 1 FROM zone z WHERE z.code = {alias}.zone_code){staged})"

    def unknown_zone(self, spec: FileSpec) -> None:
        self.report(spec, (
            f"SELECT s.line AS line, s.zone_code AS zone_code FROM {stage_name(spec)} s "
            f"WHERE NOT {self._zone_known('s')}"),
            lambda row: f'"{row["zone_code"]}" no es una zona de zones.csv ni del portal',
            "zone_code")

    def _account_known(self, alias: str) -> str:
        staged = (" OR EXISTS (SELECT 1 FROM import_account a2 WHERE "
                  f"a2.zone_code = {alias}.zone_code AND a2.account_number = "
                  f"{alias}.account_number)") if "accounts.csv" in self.present else ""
        return ("(EXISTS (SELECT 1 FROM account a JOIN zone z ON z.id = a.zone_id WHERE "
                f"z.code = {alias}.zone_code AND a.number = {alias}.account_number){staged})")

    def unknown_account(self, spec: FileSpec) -> None:
        self.report(spec, (
            f"SELECT s.line AS line, s.zone_code AS zone_code, "
            f"s.account_number AS account_number FROM {stage_name(spec)} s "
            f"WHERE NOT {self._account_known('s')}"),
            lambda row: (f"el contrato {row['account_number']} de la zona {row['zone_code']} "
                         "no está en accounts.csv ni en el portal"),
            "account_number")

    def invoices(self) -> None:
        # A bill never moves to another contract: that would show it to someone else.
        self.report(INVOICES, (
            "SELECT s.line AS line, s.invoice_number AS invoice_number, "
            "s.account_number AS account_number, a.number AS old FROM import_invoice s "
            "JOIN zone z ON z.code = s.zone_code "
            "JOIN invoice i ON i.zone_id = z.id AND i.number = s.invoice_number "
            "JOIN account a ON a.id = i.account_id WHERE a.number <> s.account_number"),
            lambda row: (f"la factura {row['invoice_number']} ya es del contrato {row['old']} "
                         f"en el portal; no puede pasar al contrato {row['account_number']}"),
            "account_number")
        # A corrected bill names an estimated reading of its contract that exists.
        staged = (" OR EXISTS (SELECT 1 FROM import_reading r2 WHERE r2.zone_code = "
                  "s.zone_code AND r2.account_number = s.account_number AND r2.read_on = "
                  "s.replaces_reading_on AND r2.reading_type = 'estimated')"
                  ) if "readings.csv" in self.present else ""
        self.report(INVOICES, (
            "SELECT s.line AS line, s.replaces_reading_on AS day FROM import_invoice s "
            "WHERE s.replaces_reading_on IS NOT NULL AND NOT (EXISTS (SELECT 1 FROM reading r "
            "JOIN account a ON a.id = r.account_id JOIN zone z ON z.id = a.zone_id "
            "WHERE z.code = s.zone_code AND a.number = s.account_number "
            f"AND r.read_on = s.replaces_reading_on AND r.reading_type = 'estimated'){staged})"),
            lambda row: (f"{row['day']} no es el día de una lectura estimada de ese contrato "
                         "(en readings.csv ni en el portal)"),
            "replaces_reading_on")

    def lines(self) -> None:
        if not self.has(INVOICES):
            self.report(INVOICE_LINES, "SELECT line FROM import_invoice_line",
                        lambda _row: "invoices.csv falta: los conceptos llegan siempre con "
                                     "su factura")
            return
        if not self.has(INVOICE_LINES):
            self.report(INVOICES, "SELECT line FROM import_invoice",
                        lambda _row: "invoice_lines.csv falta: cada factura llega con sus "
                                     "conceptos")
            return
        self.report(INVOICE_LINES, (
            "SELECT l.line AS line, l.invoice_number AS invoice_number FROM "
            "import_invoice_line l WHERE NOT EXISTS (SELECT 1 FROM import_invoice s WHERE "
            "s.zone_code = l.zone_code AND s.invoice_number = l.invoice_number)"),
            lambda row: (f"la factura {row['invoice_number']} no está en invoices.csv: los "
                         "conceptos llegan siempre con su factura"),
            "invoice_number")
        self.report(INVOICES, (
            "SELECT s.line AS line, s.subtotal AS subtotal, t.amount AS amount, "
            "t.lines AS lines FROM import_invoice s LEFT JOIN (SELECT zone_code, "
            "invoice_number, sum(amount) AS amount, count(*) AS lines FROM "
            "import_invoice_line GROUP BY zone_code, invoice_number) t ON "
            "t.zone_code = s.zone_code AND t.invoice_number = s.invoice_number "
            "WHERE t.amount IS NULL OR t.amount <> s.subtotal"),
            lambda row: ("no tiene conceptos en invoice_lines.csv" if row["lines"] is None else
                         f"sus {row['lines']} conceptos de invoice_lines.csv suman "
                         f"{unscaled(row['amount'], 2)} y subtotal es "
                         f"{unscaled(row['subtotal'], 2)}"),
            "subtotal")

    def payments(self) -> None:
        staged = (" OR EXISTS (SELECT 1 FROM import_invoice s2 WHERE s2.zone_code = p.zone_code "
                  "AND s2.invoice_number = p.invoice_number AND s2.account_number = "
                  "p.account_number)") if "invoices.csv" in self.present else ""
        from ov.services.billing_import.layout import PAYMENTS
        self.report(PAYMENTS, (
            "SELECT p.line AS line, p.invoice_number AS invoice_number FROM import_payment p "
            "WHERE p.invoice_number IS NOT NULL AND NOT (EXISTS (SELECT 1 FROM invoice i "
            "JOIN zone z ON z.id = i.zone_id JOIN account a ON a.id = i.account_id "
            "WHERE z.code = p.zone_code AND i.number = p.invoice_number "
            f"AND a.number = p.account_number){staged})"),
            lambda row: (f"la factura {row['invoice_number']} no es de ese contrato (en "
                         "invoices.csv ni en el portal)"),
            "invoice_number")


# --- writing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """How one staging table becomes rows of its portal table."""

    #: Staging statements that fill the resolved ids, in order, before the merge.
    resolve: tuple[str, ...]
    #: The statement that finds each staged row's portal row (``target_id``); it runs
    #: again after the insert for the rows just made.
    find: str
    #: target column -> staging expression (``s.`` is the staging row).
    values: dict[str, str]
    #: target columns compared exactly and ``s`` expressions, for "has it changed".
    #: Scaled columns: (target column, staging column, places).
    scaled: tuple[tuple[str, str, int], ...] = ()
    #: Values only an insert sets (``created_at``).
    on_insert: dict[str, str] = field(default_factory=dict)
    #: Columns a row without a value leaves as they are (a CFDI sent once).
    keep_when_null: tuple[str, ...] = ()
    #: What to learn from the portal's row before it is changed.
    after_find: tuple[str, ...] = ()


def _zone_of(alias: str = "s") -> str:
    return f"(SELECT z.id FROM zone z WHERE z.code = {alias}.zone_code)"


def _account_of(alias: str = "s") -> str:
    return (f"(SELECT a.id FROM account a WHERE a.zone_id = {alias}.zone_id AND "
            f"a.number = {alias}.account_number)")


TARGETS: dict[str, Target] = {
    "zone": Target(
        resolve=(),
        find=("UPDATE import_zone SET target_id = (SELECT z.id FROM zone z WHERE "
              "z.code = import_zone.code)"),
        values={"code": "s.code", "name": "s.name", "cities": "COALESCE(s.cities, '')"},
    ),
    "account": Target(
        resolve=(f"UPDATE import_account SET zone_id = {_zone_of('import_account')}",),
        find=("UPDATE import_account SET target_id = (SELECT a.id FROM account a WHERE "
              "a.zone_id = import_account.zone_id AND "
              "a.number = import_account.account_number)"),
        values={"zone_id": "s.zone_id", "number": "s.account_number",
                "check_digit": "s.check_digit", "holder_name": "s.holder_name",
                "street": "s.street", "street_number": "s.street_number",
                "colonia": "s.colonia", "city": "s.city", "state": "s.state",
                "postal_code": "s.postal_code", "meter_serial": "s.meter_serial",
                "tariff_code": "s.tariff_code", "status": "s.status"},
        on_insert={"created_at": ":now"},
    ),
    "invoice": Target(
        resolve=(f"UPDATE import_invoice SET zone_id = {_zone_of('import_invoice')}",
                 f"UPDATE import_invoice SET account_id = {_account_of('import_invoice')}"),
        find=("UPDATE import_invoice SET target_id = (SELECT i.id FROM invoice i WHERE "
              "i.zone_id = import_invoice.zone_id AND "
              "i.number = import_invoice.invoice_number)"),
        values={"account_id": "s.account_id", "zone_id": "s.zone_id",
                "number": "s.invoice_number", "issue_date": "s.issue_date",
                "period_start": "s.period_start", "period_end": "s.period_end",
                "due_date": "s.due_date", "previous_reading": "s.previous_reading",
                "current_reading": "s.current_reading", "reading_type": "s.reading_type",
                "replaces_reading_on": "s.replaces_reading_on",
                "consumption_m3": "s.consumption_m3", "paid_at": "s.paid_at",
                "cfdi_xml": "s.cfdi_xml"},
        scaled=(("subtotal", "subtotal", 2), ("tax", "tax", 2), ("total", "total", 2)),
        keep_when_null=("cfdi_xml",),
    ),
    "invoice_line": Target(
        resolve=("UPDATE import_invoice_line SET invoice_id = (SELECT s.target_id FROM "
                 "import_invoice s WHERE s.zone_code = import_invoice_line.zone_code AND "
                 "s.invoice_number = import_invoice_line.invoice_number)",),
        find=("UPDATE import_invoice_line SET target_id = (SELECT l.id FROM invoice_line l "
              "WHERE l.invoice_id = import_invoice_line.invoice_id AND "
              "l.position = import_invoice_line.position)"),
        values={"invoice_id": "s.invoice_id", "position": "s.position",
                "concept": "s.concept", "unit": "s.unit"},
        scaled=(("quantity", "quantity", 3), ("unit_price", "unit_price", 4),
                ("amount", "amount", 2)),
    ),
    "reading": Target(
        resolve=("UPDATE import_reading SET account_id = (SELECT a.id FROM account a JOIN "
                 "zone z ON z.id = a.zone_id WHERE z.code = import_reading.zone_code AND "
                 "a.number = import_reading.account_number)",),
        find=("UPDATE import_reading SET target_id = (SELECT r.id FROM reading r WHERE "
              "r.account_id = import_reading.account_id AND "
              "r.read_on = import_reading.read_on)"),
        values={"account_id": "s.account_id", "read_on": "s.read_on", "value": "s.value",
                "reading_type": "s.reading_type", "source": "s.source"},
    ),
    "payment": Target(
        resolve=(f"UPDATE import_payment SET zone_id = {_zone_of('import_payment')}",
                 f"UPDATE import_payment SET account_id = {_account_of('import_payment')}",
                 "UPDATE import_payment SET invoice_id = (SELECT i.id FROM invoice i WHERE "
                 "i.zone_id = import_payment.zone_id AND "
                 "i.number = import_payment.invoice_number)"),
        find=("UPDATE import_payment SET target_id = (SELECT p.id FROM payment p WHERE "
              "p.account_id = import_payment.account_id AND "
              "p.channel = import_payment.channel AND "
              "p.reference = import_payment.reference)"),
        after_find=("UPDATE import_payment SET was_applied = (SELECT 1 FROM payment p WHERE "
                    "p.id = import_payment.target_id AND p.status = 'applied')",),
        values={"account_id": "s.account_id", "invoice_id": "s.invoice_id",
                "paid_on": "s.paid_on", "channel": "s.channel",
                "channel_name": "s.channel_name", "reference": "s.reference",
                "status": "s.status"},
        scaled=(("amount", "amount", 2),),
    ),
}


class Merge:
    def __init__(self, staging: Staging, ctx: Context):
        self.staging = staging
        self.ctx = ctx
        self.sqlite = staging.dialect == "sqlite"

    def _differs(self, target: str, staged: str) -> str:
        return f"{target} IS NOT {staged}" if self.sqlite else \
            f"{target} IS DISTINCT FROM {staged}"

    def _scaled_target(self, column: str, places: int) -> str:
        """The portal's decimal as a whole count of its last decimal, exactly."""
        if self.sqlite:
            return f"CAST(ROUND(t.{column} * {10**places}) AS INTEGER)"
        return f"CAST(t.{column} * {10**places} AS BIGINT)"

    def _scaled_value(self, staged: str, places: int) -> str:
        if self.sqlite:
            return f"({staged} / {float(10**places)!r})"
        return f"(CAST({staged} AS NUMERIC) / {10**places})"

    def _now(self) -> object:
        """The import's moment as each database's driver takes it."""
        if self.sqlite:
            return self.ctx.now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return self.ctx.now

    def run(self, spec: FileSpec) -> Counts:
        target = TARGETS[spec.table]
        table = spec.table
        stage = stage_name(spec)
        execute = self.staging.execute
        for statement in (*target.resolve, target.find, *target.after_find):
            execute(statement)
        execute(f"CREATE INDEX {stage}_target ON {stage} (target_id)")
        counts = Counts()
        total = execute(f"SELECT count(*) FROM {stage}").scalar()
        counts.inserted = execute(
            f"SELECT count(*) FROM {stage} WHERE target_id IS NULL").scalar()
        if spec is INVOICES:
            execute("UPDATE import_invoice SET is_new = CASE WHEN target_id IS NULL THEN 1 "
                    "ELSE 0 END")

        values = dict(target.values)
        for column in target.keep_when_null:
            values[column] = f"COALESCE({values[column]}, t.{column})"
        changes = [self._differs(f"t.{column}", expression)
                   for column, expression in values.items()]
        changes += [f"{self._scaled_target(column, places)} <> s.{staged}"
                    for column, staged, places in target.scaled]
        assignments = [f"{column} = {expression}" for column, expression in values.items()]
        assignments += [f"{column} = {self._scaled_value(f's.{staged}', places)}"
                        for column, staged, places in target.scaled]
        counts.updated = execute(
            f"UPDATE {table} AS t SET {', '.join(assignments)} FROM {stage} s "
            f"WHERE s.target_id = t.id AND ({' OR '.join(changes)})").rowcount

        inserted = {column: expression for column, expression in target.values.items()}
        inserted.update({column: self._scaled_value(f"s.{staged}", places)
                         for column, staged, places in target.scaled})
        inserted.update(target.on_insert)
        if table == "zone":
            inserted["id"] = ("(SELECT COALESCE(max(id), 0) FROM zone) + "
                              "(SELECT count(*) FROM import_zone s2 WHERE s2.target_id IS NULL "
                              "AND s2.line <= s.line)")
        execute(f"INSERT INTO {table} ({', '.join(inserted)}) "
                f"SELECT {', '.join(inserted.values())} FROM {stage} s "
                "WHERE s.target_id IS NULL ORDER BY s.line", {"now": self._now()})
        if counts.inserted:
            execute(target.find + " WHERE target_id IS NULL")
        if spec is INVOICE_LINES:
            # The lines of bills already in the portal that the export no longer lists.
            counts.removed = execute(
                "DELETE FROM invoice_line WHERE invoice_id IN (SELECT target_id FROM "
                "import_invoice WHERE is_new = 0) AND id NOT IN (SELECT target_id FROM "
                "import_invoice_line WHERE target_id IS NOT NULL)").rowcount
        counts.unchanged = total - counts.inserted - counts.updated
        return counts


# --- notices ---------------------------------------------------------------------------------

def _notify(staging: Staging, present: set[str], summary: Summary) -> None:
    """A notice (and a mail, if chosen) for each new invoice and each payment newly applied
    on a contract someone registered; ``notices.notify`` makes each at most once."""
    session = db.session
    # The merge wrote with SQL behind the ORM's back: objects the session already holds
    # (a payment, its contract) would tell the customer their values from before the import.
    session.expire_all()
    made = []
    if INVOICES.name in present:
        ids = staging.execute(
            "SELECT target_id FROM import_invoice WHERE is_new = 1 AND account_id IN "
            "(SELECT account_id FROM user_account) ORDER BY line").scalars().all()
        for invoice_id in ids:
            made.append(notices.new_invoice(session.get(Invoice, invoice_id)))
    if "payments.csv" in present:
        ids = staging.execute(
            "SELECT target_id FROM import_payment WHERE status = 'applied' AND "
            "was_applied IS NULL AND account_id IN (SELECT account_id FROM user_account) "
            "ORDER BY line").scalars().all()
        for payment_id in ids:
            made.append(notices.payment_applied(session.get(Payment, payment_id)))
    session.flush()
    for notified in made:
        if notified is None:
            continue
        summary.notices += 1
        if notified.mail is not None:
            summary.mails += 1
            summary.mail_ids.append(notified.mail.id)


__all__ = ["BY_NAME", "ImportBusy", "ImportFailed", "Progress", "Summary", "run_import"]
