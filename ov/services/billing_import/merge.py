"""Writing the staged rows into the portal's tables, by business key, in dependency order.

For each table: the staged rows learn their parents' ids and their own row in the portal
(``target_id``) with ``UPDATE ... FROM`` joins; the rows that differ are updated, the new
ones inserted, all in set-wise statements, so memory does not grow with the files. What
changed is counted: inserted, updated, unchanged (and, for invoice lines, removed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC

from ov.services.billing_import.layout import INVOICE_LINES, INVOICES, Context, FileSpec
from ov.services.billing_import.staging import Staging, stage_name


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


@dataclass(frozen=True)
class Target:
    """How one staging table (``s``) becomes rows of its portal table (``t``)."""

    #: ``UPDATE`` statements that fill the parents' ids, in order.
    resolve: tuple[str, ...]
    #: ``FROM ... WHERE ...`` that joins each staged row ``s`` to its portal row ``found``.
    find: str
    #: target column -> staging expression.
    values: dict[str, str]
    #: Decimals staged as whole units of their last decimal: (column, places).
    scaled: tuple[tuple[str, int], ...] = ()
    #: Values only an insert sets (``created_at``).
    on_insert: dict[str, str] = field(default_factory=dict)
    #: Columns a row without a value leaves as they are (a CFDI sent once).
    keep_when_null: tuple[str, ...] = ()
    #: What to learn from the portal's row before it changes, as ``SET`` assignments.
    remember: str = ""


def _parents(stage: str) -> str:
    """The zone's and the contract's ids of a staged row that names both."""
    return (f"UPDATE {stage} AS s SET zone_id = a.zone_id, account_id = a.id FROM account a "  # nosec B608  # the format's own names; values are bound
            "JOIN zone z ON z.id = a.zone_id WHERE z.code = s.zone_code "
            "AND a.number = s.account_number")


TARGETS: dict[str, Target] = {
    "zone": Target(
        resolve=(),
        find="FROM zone found WHERE found.code = s.code",
        values={"code": "s.code", "name": "s.name", "cities": "COALESCE(s.cities, '')"},
    ),
    "account": Target(
        resolve=("UPDATE import_account AS s SET zone_id = z.id FROM zone z "
                 "WHERE z.code = s.zone_code",),
        find=("FROM account found WHERE found.zone_id = s.zone_id "
              "AND found.number = s.account_number"),
        values={"zone_id": "s.zone_id", "number": "s.account_number",
                "check_digit": "s.check_digit", "holder_name": "s.holder_name",
                "street": "s.street", "street_number": "s.street_number",
                "colonia": "s.colonia", "city": "s.city", "state": "s.state",
                "postal_code": "s.postal_code", "meter_serial": "s.meter_serial",
                "tariff_code": "s.tariff_code", "status": "s.status"},
        on_insert={"created_at": ":now"},
    ),
    "invoice": Target(
        resolve=(_parents("import_invoice"),),
        find=("FROM invoice found WHERE found.zone_id = s.zone_id "
              "AND found.number = s.invoice_number"),
        values={"account_id": "s.account_id", "zone_id": "s.zone_id",
                "number": "s.invoice_number", "issue_date": "s.issue_date",
                "period_start": "s.period_start", "period_end": "s.period_end",
                "due_date": "s.due_date", "previous_reading": "s.previous_reading",
                "current_reading": "s.current_reading", "reading_type": "s.reading_type",
                "replaces_reading_on": "s.replaces_reading_on",
                "consumption_m3": "s.consumption_m3", "paid_at": "s.paid_at",
                "cfdi_xml": "s.cfdi_xml"},
        scaled=(("subtotal", 2), ("tax", 2), ("total", 2)),
        keep_when_null=("cfdi_xml",),
    ),
    "invoice_line": Target(
        resolve=("UPDATE import_invoice_line AS s SET invoice_id = i.target_id FROM "
                 "import_invoice i WHERE i.zone_code = s.zone_code "
                 "AND i.invoice_number = s.invoice_number",),
        find=("FROM invoice_line found WHERE found.invoice_id = s.invoice_id "
              "AND found.position = s.position"),
        values={"invoice_id": "s.invoice_id", "position": "s.position",
                "concept": "s.concept", "unit": "s.unit"},
        scaled=(("quantity", 3), ("unit_price", 4), ("amount", 2)),
    ),
    "reading": Target(
        resolve=("UPDATE import_reading AS s SET account_id = a.id FROM account a "
                 "JOIN zone z ON z.id = a.zone_id WHERE z.code = s.zone_code "
                 "AND a.number = s.account_number",),
        find=("FROM reading found WHERE found.account_id = s.account_id "
              "AND found.read_on = s.read_on"),
        values={"account_id": "s.account_id", "read_on": "s.read_on", "value": "s.value",
                "reading_type": "s.reading_type", "source": "s.source"},
    ),
    "payment": Target(
        resolve=(_parents("import_payment"),
                 "UPDATE import_payment AS s SET invoice_id = i.id FROM invoice i "
                 "WHERE i.zone_id = s.zone_id AND i.number = s.invoice_number"),
        find=("FROM payment found WHERE found.account_id = s.account_id "
              "AND found.channel = s.channel AND found.reference = s.reference"),
        values={"account_id": "s.account_id", "invoice_id": "s.invoice_id",
                "paid_on": "s.paid_on", "channel": "s.channel",
                "channel_name": "s.channel_name", "reference": "s.reference",
                "status": "s.status"},
        scaled=(("amount", 2),),
        # A payment applied before this import is not "newly applied".
        remember="was_applied = CASE WHEN found.status = 'applied' THEN 1 END",
    ),
}


class Merge:
    def __init__(self, staging: Staging, ctx: Context):
        self.staging = staging
        self.ctx = ctx
        self.sqlite = staging.dialect == "sqlite"
        #: The largest id of each table before its new rows: the rows above it are new.
        self.before: dict[str, int] = {}

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

    def analyze(self, stage: str) -> None:
        """Statistics of the staged rows as they are now: taken when the rows were staged,
        they would tell the planner that no row has a ``target_id`` yet, and PostgreSQL
        would then pick nested loops over millions of rows for the statements that join
        on it."""
        self.staging.execute(f"ANALYZE {stage}")

    def run(self, spec: FileSpec) -> Counts:
        target = TARGETS[spec.table]
        table = spec.table
        stage = stage_name(spec)
        execute = self.staging.execute
        for statement in target.resolve:
            execute(statement)
        found = f", {target.remember}" if target.remember else ""
        execute(f"UPDATE {stage} AS s SET target_id = found.id{found} {target.find}")  # nosec B608  # the format's own names; values are bound
        execute(f"CREATE INDEX {stage}_target ON {stage} (target_id)")
        self.analyze(stage)
        counts = Counts()
        total = execute(f"SELECT count(*) FROM {stage}").scalar()  # nosec B608  # the format's own names; values are bound
        counts.inserted = execute(
            f"SELECT count(*) FROM {stage} WHERE target_id IS NULL").scalar()  # nosec B608  # the format's own names; values are bound
        self.before[table] = execute(f"SELECT COALESCE(max(id), 0) FROM {table}").scalar()  # nosec B608  # the format's own names; values are bound

        values = dict(target.values)
        for column in target.keep_when_null:
            values[column] = f"COALESCE({values[column]}, t.{column})"
        changes = [self._differs(f"t.{column}", expression)
                   for column, expression in values.items()]
        changes += [f"{self._scaled_target(column, places)} <> s.{column}"
                    for column, places in target.scaled]
        assignments = [f"{column} = {expression}" for column, expression in values.items()]
        assignments += [f"{column} = {self._scaled_value(f's.{column}', places)}"
                        for column, places in target.scaled]
        counts.updated = execute(
            f"UPDATE {table} AS t SET {', '.join(assignments)} FROM {stage} s "  # nosec B608  # the format's own names; values are bound
            f"WHERE s.target_id = t.id AND ({' OR '.join(changes)})").rowcount

        if counts.inserted:
            inserted = dict(target.values)
            inserted.update({column: self._scaled_value(f"s.{column}", places)
                             for column, places in target.scaled})
            inserted.update(target.on_insert)
            if table == "zone":  # zone ids are small and given, not drawn from a sequence
                inserted["id"] = (f"{self.before[table]} + (SELECT count(*) FROM import_zone "  # nosec B608  # the format's own names; values are bound
                                  "s2 WHERE s2.target_id IS NULL AND s2.line <= s.line)")
            execute(f"INSERT INTO {table} ({', '.join(inserted)}) "  # nosec B608  # the format's own names; values are bound
                    f"SELECT {', '.join(inserted.values())} FROM {stage} s "
                    "WHERE s.target_id IS NULL ORDER BY s.line", {"now": self._now()})
            execute(f"UPDATE {stage} AS s SET target_id = found.id {target.find} "  # nosec B608  # the format's own names; values are bound
                    "AND s.target_id IS NULL")
            self.analyze(stage)
        if spec is INVOICE_LINES:
            # The lines of bills already in the portal that the export no longer lists.
            # NOT EXISTS on the staged lines' target_id index: linear whatever the planner
            # guesses of a staging table analyzed before its ids were known.
            counts.removed = execute(
                "DELETE FROM invoice_line WHERE invoice_id IN (SELECT target_id FROM "
                "import_invoice WHERE target_id <= :before) AND NOT EXISTS (SELECT 1 FROM "
                "import_invoice_line s WHERE s.target_id = invoice_line.id)",
                {"before": self.before[INVOICES.table]}).rowcount
        counts.unchanged = total - counts.inserted - counts.updated
        return counts
