"""Loading an export: read and check everything, then write it all in one transaction.

1. The files are streamed into temporary staging tables (``import_<table>``, see
   ``staging.py``), each row with its line number once its values passed their column's
   rules (a refused row is staged with its key only, marked ``rejected``).
2. What needs more than one row is checked in SQL (``checks.py``) on the staging tables and
   the portal's tables: keys repeated within a file, contracts and bills that exist nowhere, lines
   that do not add up, a bill that would move to another contract.
3. If anything is wrong, nothing is written: the problems are raised, with file and line.
4. Otherwise each table is upserted by its business key in dependency order (``merge.py``:
   statements that run set-wise in the database, so memory does not grow with the files),
   counting the rows inserted, updated and unchanged; then the notices of new invoices and
   of payments newly applied are made; then the transaction commits.

Everything happens inside the session's transaction: a failure, or the process being
killed, before the commit leaves the data as it was. Two imports never interleave: the
second finds the lock taken and is refused.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from ov.extensions import db
from ov.models import ImportRun, Invoice, Payment, utcnow
from ov.services import notices
from ov.services.billing_import import cfdi
from ov.services.billing_import.checks import Checks
from ov.services.billing_import.fields import unscaled
from ov.services.billing_import.layout import CFDI_FOLDER, FILES, INVOICES, MANIFEST, Context
from ov.services.billing_import.manifest import read_manifest
from ov.services.billing_import.merge import Counts, Merge
from ov.services.billing_import.reader import Problems, read_file
from ov.services.billing_import.staging import Staging

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
            staging = Staging(connection)
            summary = _load(staging, directory, listed, ctx, problems, progress)
            run = ImportRun(started_at=started, finished_at=utcnow(),
                            source=directory.resolve().name[:200],
                            summary=json.dumps(summary.as_dict(), ensure_ascii=False))
            session.add(run)
            session.flush()
            summary.run_id = run.id
            staging.drop()
            progress.say("Guardando…")
            session.commit()
    except BaseException:
        session.rollback()
        raise
    return summary


def _load(staging: Staging, directory: Path, listed: dict[str, int], ctx: Context,
          problems: Problems, progress: Progress) -> Summary:
    present = [spec for spec in FILES if spec.name in listed]
    unreadable = set()
    for spec in present:
        staging.create(spec)
        bar = progress.bar(spec.name, listed[spec.name])
        reading = read_file(directory / spec.name, spec, ctx, problems, bar.update,
                            keep_rejected=True)
        rows = reading.good
        if spec is INVOICES:
            rows = _with_cfdi(rows, directory, problems)
        staging.load(spec, rows)
        bar.close()
        if not reading.header_ok:
            unreadable.add(spec.name)
        if reading.records != listed[spec.name]:
            problems.add(spec.name, reading.last_line or None,
                         f"tiene {reading.records:,} filas y {MANIFEST} dice "
                         f"{listed[spec.name]:,}: ¿está cortado o incompleto?")
    progress.say("Comprobando las referencias entre archivos…")
    Checks(staging, {spec.name for spec in present}, unreadable, problems).run()
    if problems:
        raise ImportFailed(problems)
    progress.say("Escribiendo…")
    merge = Merge(staging, ctx)
    summary = Summary()
    for spec in present:
        progress.say(f"Escribiendo {spec.name}…")
        summary.counts[spec.name] = merge.run(spec)
    progress.say("Preparando los avisos…")
    _notify(staging, merge, {spec.name for spec in present}, summary)
    return summary


def _with_cfdi(good: Iterator[tuple[int, dict]], directory: Path,
               problems: Problems) -> Iterator[tuple[int, dict]]:
    """Each invoice row with its CFDI's XML, once the file is read and matches the row."""
    folder = directory / CFDI_FOLDER
    for line, values in good:
        name = values.get("cfdi_file")
        values["cfdi_xml"] = None
        if name is not None and not values.get("rejected"):
            try:
                values["cfdi_xml"] = cfdi.check(folder / name, uuid=values["cfdi_uuid"],
                                                total=unscaled(values["total"], 2))
            except cfdi.CfdiError as error:
                problems.add(INVOICES.name, line, f"{CFDI_FOLDER}/{name}: {error}",
                             "cfdi_file")
                values["rejected"] = 1  # staged for its key: its lines are not refused too
        yield line, values


# --- notices ---------------------------------------------------------------------------------

def _notify(staging: Staging, merge: Merge, present: set[str], summary: Summary) -> None:
    """A notice (and a mail, if chosen) for each new invoice and each payment newly applied
    on a contract someone registered; ``notices.notify`` makes each at most once."""
    session = db.session
    # The merge wrote with SQL behind the ORM's back: objects the session already holds
    # (a payment, its contract) would tell the customer their values from before the import.
    session.expire_all()
    made = []
    if INVOICES.name in present:
        ids = staging.execute(
            "SELECT target_id FROM import_invoice WHERE target_id > :before AND account_id IN "
            "(SELECT account_id FROM user_account) ORDER BY line",
            {"before": merge.before[INVOICES.table]}).scalars().all()
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


__all__ = ["Counts", "ImportBusy", "ImportFailed", "Progress", "Summary", "run_import"]
