"""What only all the rows together can show, checked in SQL on the staging tables and the
portal's: keys repeated within a file, zones and contracts that exist nowhere, lines that
do not add up, a bill that would move to another contract.

A row refused by its own rules is staged too, with ``rejected = 1`` and the key values
that could be read: it still counts as present for the rows that refer to it, so that one
bad total is reported once, not again for each of its bill's lines and payments. A file
whose header could not be used stages nothing, and the checks that refer to it are left
out for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable

from ov.services.billing_import.fields import unscaled
from ov.services.billing_import.layout import (
    ACCOUNTS,
    FILES,
    INVOICE_LINES,
    INVOICES,
    PAYMENTS,
    READINGS,
    ZONES,
    FileSpec,
)
from ov.services.billing_import.reader import KEPT_PROBLEMS, Problems
from ov.services.billing_import.staging import Staging, stage_name

GOOD = "rejected IS NULL"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


class Checks:
    """Problems only SQL over all the rows can see, each with the file and line."""

    def __init__(self, staging: Staging, present: set[str], unreadable: set[str],
                 problems: Problems):
        self.staging = staging
        self.present = present
        self.unreadable = unreadable
        self.problems = problems

    def has(self, spec: FileSpec) -> bool:
        return spec.name in self.present

    def usable(self, *specs: FileSpec) -> bool:
        """Whether the files a check refers to could be read (or are not in the export)."""
        return not any(spec.name in self.unreadable for spec in specs)

    def report(self, spec: FileSpec, sql: str, message: Callable[[dict], str],
               column: str | None = None) -> None:
        """Add a problem for each row ``sql`` selects (its ``line`` and other columns)."""
        result = self.staging.execute(sql + " ORDER BY line")
        for row in result.mappings():
            self.problems.add(spec.name, row["line"], message(dict(row)), column)
            if len(self.problems.kept) >= KEPT_PROBLEMS:
                self.problems.count += sum(1 for _ in result)
                break

    def run(self) -> None:
        for spec in FILES:
            if self.has(spec):
                self.duplicates(spec)
        if self.has(ZONES):
            self.zone_names()
        if self.has(ACCOUNTS) and self.usable(ZONES):
            self.unknown_zone(ACCOUNTS)
        for spec in (INVOICES, READINGS, PAYMENTS):
            if self.has(spec) and self.usable(ACCOUNTS):
                self.unknown_account(spec)
        if self.has(INVOICES):
            self.invoices()
        if (self.has(INVOICE_LINES) or self.has(INVOICES)) \
                and self.usable(INVOICES, INVOICE_LINES):
            self.lines()
        if self.has(PAYMENTS) and self.usable(INVOICES):
            self.payments()

    def duplicates(self, spec: FileSpec) -> None:
        table = stage_name(spec)
        same = " AND ".join(f"d.{key} = s.{key}" for key in spec.key)
        keys = ", ".join(spec.key)
        shown = ", ".join(f"s.{key} AS {key}" for key in spec.key)
        self.report(spec, (
            f"SELECT s.line AS line, d.first AS first, {shown} "  # nosec B608  # the format's own names; values are bound
            f"FROM {table} s JOIN (SELECT {keys}, min(line) AS first FROM {table} "
            f"GROUP BY {keys} HAVING count(*) > 1) d ON {same} WHERE s.line <> d.first"),
            lambda row: f"{_sentence(spec.describe(row))} ya está en la línea {row['first']}")

    def zone_names(self) -> None:
        """``zone.name`` is unique: a name given to two codes in the file, or another zone's
        name in the portal (a code twice is reported as a repeated key). Two zones swapping
        names in one export are refused too: rename one in an export of its own first."""
        self.report(ZONES, (
            "SELECT s.line AS line, s.name AS name, d.first AS first FROM import_zone s "
            "JOIN (SELECT name, min(line) AS first FROM import_zone GROUP BY name "
            "HAVING count(DISTINCT code) > 1) d ON d.name = s.name WHERE s.line <> d.first"),
            lambda row: f'"{row["name"]}" ya es el nombre de la zona de la línea '
                        f"{row['first']}", "name")
        self.report(ZONES, (
            "SELECT s.line AS line, s.name AS name, z.code AS code FROM import_zone s "
            "JOIN zone z ON z.name = s.name AND z.code <> s.code"),
            lambda row: f'"{row["name"]}" ya es el nombre de la zona {row["code"]} del portal',
            "name")

    def _zone_known(self, alias: str) -> str:
        staged = (f" OR EXISTS (SELECT 1 FROM import_zone z2 WHERE z2.code = {alias}.zone_code)"  # nosec B608  # the format's own names; values are bound
                  if self.has(ZONES) else "")
        return f"(EXISTS (SELECT 1 FROM zone z WHERE z.code = {alias}.zone_code){staged})"  # nosec B608  # the format's own names; values are bound

    def unknown_zone(self, spec: FileSpec) -> None:
        self.report(spec, (
            f"SELECT s.line AS line, s.zone_code AS zone_code FROM {stage_name(spec)} s "  # nosec B608  # the format's own names; values are bound
            f"WHERE s.{GOOD} AND NOT {self._zone_known('s')}"),
            lambda row: f'"{row["zone_code"]}" no es una zona de zones.csv ni del portal',
            "zone_code")

    def _account_known(self, alias: str) -> str:
        staged = (" OR EXISTS (SELECT 1 FROM import_account a2 WHERE "  # nosec B608  # the format's own names; values are bound
                  f"a2.zone_code = {alias}.zone_code AND a2.account_number = "
                  f"{alias}.account_number)") if self.has(ACCOUNTS) else ""
        return ("(EXISTS (SELECT 1 FROM account a JOIN zone z ON z.id = a.zone_id WHERE "  # nosec B608  # the format's own names; values are bound
                f"z.code = {alias}.zone_code AND a.number = {alias}.account_number){staged})")

    def unknown_account(self, spec: FileSpec) -> None:
        self.report(spec, (
            f"SELECT s.line AS line, s.zone_code AS zone_code, "  # nosec B608  # the format's own names; values are bound
            f"s.account_number AS account_number FROM {stage_name(spec)} s "
            f"WHERE s.{GOOD} AND NOT {self._account_known('s')}"),
            lambda row: (f"el contrato {row['account_number']} de la zona {row['zone_code']} "
                         "no está en accounts.csv ni en el portal"),
            "account_number")

    def invoices(self) -> None:
        # A bill never moves to another contract: that would show it to someone else.
        self.report(INVOICES, (
            "SELECT s.line AS line, s.invoice_number AS invoice_number, "  # nosec B608  # the format's own names; values are bound
            "s.account_number AS account_number, a.number AS old FROM import_invoice s "
            "JOIN zone z ON z.code = s.zone_code "
            "JOIN invoice i ON i.zone_id = z.id AND i.number = s.invoice_number "
            f"JOIN account a ON a.id = i.account_id WHERE s.{GOOD} "
            "AND a.number <> s.account_number"),
            lambda row: (f"la factura {row['invoice_number']} ya es del contrato {row['old']} "
                         f"en el portal; no puede pasar al contrato {row['account_number']}"),
            "account_number")
        if not self.usable(READINGS):
            return
        # A corrected bill names an estimated reading of its contract that exists.
        staged = (" OR EXISTS (SELECT 1 FROM import_reading r2 WHERE r2.zone_code = "
                  "s.zone_code AND r2.account_number = s.account_number AND r2.read_on = "
                  "s.replaces_reading_on AND (r2.reading_type = 'estimated' "
                  "OR r2.rejected = 1))") if self.has(READINGS) else ""
        self.report(INVOICES, (
            "SELECT s.line AS line, s.replaces_reading_on AS day FROM import_invoice s "  # nosec B608  # the format's own names; values are bound
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
            "SELECT l.line AS line, l.invoice_number AS invoice_number FROM "  # nosec B608  # the format's own names; values are bound
            f"import_invoice_line l WHERE l.{GOOD} AND NOT EXISTS (SELECT 1 FROM "
            "import_invoice s WHERE s.zone_code = l.zone_code AND "
            "s.invoice_number = l.invoice_number)"),
            lambda row: (f"la factura {row['invoice_number']} no está en invoices.csv: los "
                         "conceptos llegan siempre con su factura"),
            "invoice_number")
        # A bill with a refused line cannot be added up: the refused line was reported.
        self.report(INVOICES, (
            "SELECT s.line AS line, s.subtotal AS subtotal, t.amount AS amount, "  # nosec B608  # the format's own names; values are bound
            "t.lines AS lines FROM import_invoice s LEFT JOIN (SELECT zone_code, "
            "invoice_number, sum(amount) AS amount, count(*) AS lines, max(rejected) AS "
            "refused FROM import_invoice_line GROUP BY zone_code, invoice_number) t ON "
            "t.zone_code = s.zone_code AND t.invoice_number = s.invoice_number "
            f"WHERE s.{GOOD} AND t.refused IS NULL "
            "AND (t.amount IS NULL OR t.amount <> s.subtotal)"),
            lambda row: ("no tiene conceptos en invoice_lines.csv" if row["lines"] is None else
                         f"sus {row['lines']} conceptos de invoice_lines.csv suman "
                         f"{unscaled(int(row['amount']), 2)} y subtotal es "
                         f"{unscaled(int(row['subtotal']), 2)}"),
            "subtotal")

    def payments(self) -> None:
        staged = (" OR EXISTS (SELECT 1 FROM import_invoice s2 WHERE s2.zone_code = p.zone_code "
                  "AND s2.invoice_number = p.invoice_number AND (s2.account_number = "
                  "p.account_number OR s2.rejected = 1))") if self.has(INVOICES) else ""
        self.report(PAYMENTS, (
            "SELECT p.line AS line, p.invoice_number AS invoice_number FROM import_payment p "  # nosec B608  # the format's own names; values are bound
            f"WHERE p.{GOOD} AND p.invoice_number IS NOT NULL AND NOT (EXISTS (SELECT 1 "
            "FROM invoice i JOIN zone z ON z.id = i.zone_id JOIN account a ON "
            "a.id = i.account_id WHERE z.code = p.zone_code AND i.number = p.invoice_number "
            f"AND a.number = p.account_number){staged})"),
            lambda row: (f"la factura {row['invoice_number']} no es de ese contrato (en "
                         "invoices.csv ni en el portal)"),
            "invoice_number")
