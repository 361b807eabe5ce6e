"""The staging tables: each file's rows, as read, in a temporary table of the import's own
transaction (``import_<table>``), with the line each came from and room for the ids the
merge resolves. PostgreSQL receives them with ``COPY``, SQLite in batches."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC

from sqlalchemy import text
from sqlalchemy.engine import Connection

from ov.services.billing_import.layout import INVOICES, FileSpec

#: Rows sent to SQLite per ``executemany``.
BATCH_ROWS = 5000

#: Columns staging tables have besides the file's: resolved ids and what merging learns.
#: ``rejected`` marks a row refused by its own rules, kept only for its key.
EXTRA = {
    "zone": ("target_id",),
    "account": ("zone_id", "target_id"),
    "invoice": ("zone_id", "account_id", "target_id", "cfdi_xml"),
    "invoice_line": ("invoice_id", "target_id"),
    "reading": ("account_id", "target_id"),
    "payment": ("zone_id", "account_id", "invoice_id", "target_id", "was_applied"),
}
EXTRA_KIND = {"cfdi_xml": "text"}


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
        self.tables: list[str] = []

    def create(self, spec: FileSpec) -> None:
        name = stage_name(spec)
        columns = ["line INTEGER NOT NULL", "rejected SMALLINT"]
        columns += [f"{column.name} {_sql_type(column.kind, self.dialect)}"
                    for column in spec.columns]
        columns += [f"{extra} {_sql_type(EXTRA_KIND.get(extra, 'int'), self.dialect)}"
                    for extra in EXTRA[spec.table]]
        self.execute(f"DROP TABLE IF EXISTS {name}")
        suffix = " ON COMMIT DROP" if self.dialect == "postgresql" else ""
        self.execute(f"CREATE TEMPORARY TABLE {name} ({', '.join(columns)}){suffix}")
        self.tables.append(name)

    def columns(self, spec: FileSpec) -> list[str]:
        names = ["line", "rejected", *spec.headers]
        if spec is INVOICES:
            names.append("cfdi_xml")
        return names

    def load(self, spec: FileSpec, rows: Iterator[tuple[int, dict]]) -> int:
        """Stage ``(line, values)`` rows; a refused row's values hold ``rejected`` and the
        key values that could be read."""
        names = self.columns(spec)
        kinds = {column.name: column.kind for column in spec.columns}
        instants = [name for name in names if kinds.get(name) == "instant"]
        dates = [name for name in names if kinds.get(name) == "date"]
        loaded = 0

        def tuples() -> Iterator[tuple]:
            nonlocal loaded
            for line, values in rows:
                values["line"] = line
                if self.dialect == "sqlite":
                    for name in dates:
                        if values.get(name) is not None:
                            values[name] = values[name].isoformat()
                    for name in instants:
                        if values.get(name) is not None:
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
            sql = (f"INSERT INTO {table} ({', '.join(names)}) "  # nosec B608  # the format's own names; values are bound
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

    def drop(self) -> None:
        """SQLite keeps temporary tables until the connection closes: drop them (PostgreSQL
        drops them at commit)."""
        if self.dialect == "sqlite":
            for name in self.tables:
                self.execute(f"DROP TABLE IF EXISTS temp.{name}")

    def execute(self, sql: str, params: dict | None = None):
        return self.connection.execute(text(sql), params or {})
