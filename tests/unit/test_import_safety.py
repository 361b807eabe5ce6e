"""The billing import never half-loads: a database failure in the middle of the load, the
process killed in the middle of it, and a second import started meanwhile all leave the
data as the previous import left it."""

from __future__ import annotations

import csv
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ov.extensions import db
from ov.services.billing_import import BUSY_MESSAGE, ImportBusy, run_import
from ov.services.billing_import.engine import _one_at_a_time
from ov.services.billing_import.export import export_billing

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("zone", "account", "invoice", "invoice_line", "reading", "payment", "import_run",
          "notice", "outbox_mail")
#: The advisory lock the PostgreSQL trigger below waits on while the test holds it.
STALL_KEY = 4242


def snapshot() -> dict[str, list[tuple]]:
    """Every row of the tables an import may touch, in id order."""
    return {table: [tuple(row) for row in db.session.execute(
        text(f"SELECT * FROM {table} ORDER BY id"))] for table in TABLES}  # noqa: S608


def _rewrite(path: Path, change) -> int:
    """Rewrite a CSV file of the export through ``change(rows)``; the new row count."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], change(rows[1:])
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body)
    return len(body)


def _set_manifest(folder: Path, name: str, count: int) -> None:
    _rewrite(folder / "manifest.csv",
             lambda rows: [[file, str(count) if file == name else n] for file, n in rows])


@pytest.fixture
def exports(app, billing, tmp_path):
    """The demo data as loaded (``before``) and a later export (``later``) that changes an
    address, which is written early in the load, and adds a payment, written last."""
    with app.app_context():
        export_billing(tmp_path / "before")
        db.session.remove()
    later = tmp_path / "later"
    shutil.copytree(tmp_path / "before", later)
    _rewrite(later / "accounts.csv",
             lambda rows: [[*row[:4], "Calle Nueva", *row[5:]] if i == 0 else row
                           for i, row in enumerate(rows)])

    def add_payment(rows):
        first = list(rows[0])
        first[3] = "9999999999"  # a reference no payment has
        return [*rows, first]
    _set_manifest(later, "payments.csv", _rewrite(later / "payments.csv", add_payment))
    return tmp_path / "before", later


def _stall_payment_inserts(dialect: str) -> None:
    """A trigger that holds every insert into ``payment``: on PostgreSQL until the test lets
    go of an advisory lock; on SQLite, a cross join long enough for the test to act."""
    if dialect == "postgresql":
        db.session.execute(text(
            "CREATE FUNCTION test_stall() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"PERFORM pg_advisory_xact_lock({STALL_KEY}); RETURN NEW; END $$"))
        db.session.execute(text("CREATE TRIGGER test_stall BEFORE INSERT ON payment "
                                "FOR EACH ROW EXECUTE FUNCTION test_stall()"))
    else:
        db.session.execute(text(
            "CREATE TRIGGER test_stall BEFORE INSERT ON payment BEGIN "
            "SELECT count(*) FROM invoice_line a, invoice_line b, invoice_line c; END"))
    db.session.commit()


def _fail_payment_inserts(dialect: str) -> None:
    if dialect == "postgresql":
        db.session.execute(text(
            "CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'disco lleno (simulado)'; END $$"))
        db.session.execute(text("CREATE TRIGGER test_fail BEFORE INSERT ON payment "
                                "FOR EACH ROW EXECUTE FUNCTION test_fail()"))
    else:
        db.session.execute(text(
            "CREATE TRIGGER test_fail BEFORE INSERT ON payment BEGIN "
            "SELECT RAISE(ABORT, 'disco lleno (simulado)'); END"))
    db.session.commit()


def _drop_trigger(name: str, dialect: str) -> None:
    if dialect == "postgresql":
        db.session.execute(text(f"DROP TRIGGER IF EXISTS {name} ON payment"))
        db.session.execute(text(f"DROP FUNCTION IF EXISTS {name}()"))
    else:
        db.session.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
    db.session.commit()


@contextmanager
def failing_payment_inserts() -> Iterator[None]:
    """The previous export loaded, and every insert into ``payment`` failing meanwhile."""
    dialect = db.engine.dialect.name
    _fail_payment_inserts(dialect)
    try:
        yield
    finally:
        db.session.remove()
        _drop_trigger("test_fail", dialect)


def test_a_database_failure_in_the_last_table_leaves_the_earlier_ones_unchanged(app, exports):
    before, later = exports
    with app.app_context():
        run_import(before)
        kept = snapshot()
        with failing_payment_inserts():
            with pytest.raises(DBAPIError, match="disco lleno"):
                run_import(later)
            db.session.remove()
            assert snapshot() == kept  # the address written before the failure is undone
        summary = run_import(later)
        assert summary.counts["accounts.csv"].updated == 1
        assert summary.counts["payments.csv"].inserted == 1


def test_a_second_import_is_refused_while_one_holds_the_lock(app, exports):
    before, later = exports
    with app.app_context():
        run_import(before)
        kept = snapshot()
        db.session.remove()
        with db.engine.connect() as other, other.begin(), _one_at_a_time(other):
            with pytest.raises(ImportBusy) as refused:
                run_import(later)
            assert str(refused.value) == BUSY_MESSAGE
        db.session.remove()
        assert snapshot() == kept
        assert run_import(later).counts["accounts.csv"].updated == 1


def test_the_command_says_another_import_is_running_and_exits_2(app, exports):
    _before, later = exports
    with app.app_context():
        kept = snapshot()
        db.session.remove()
        with db.engine.connect() as other, other.begin(), _one_at_a_time(other):
            result = app.test_cli_runner().invoke(args=["import-billing", str(later)])
        assert result.exit_code == 2
        assert "Otra importación está en curso" in result.output
        assert "Traceback" not in result.output
        db.session.remove()
        assert snapshot() == kept


def _read_until(fd: int, wanted: bytes, process: subprocess.Popen) -> bytes:
    """What the process writes to its terminal, up to ``wanted``; fails if it exits first."""
    seen = b""
    while wanted not in seen:
        ready, _, _ = select.select([fd], [], [], 300)
        assert ready, f"no output for 5 minutes; so far: {seen[-500:]!r}"
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the terminal closed: the process ended
            chunk = b""
        if not chunk:
            pytest.fail(f"the import ended (status {process.wait()}) before {wanted!r}: "
                        f"{seen[-2000:]!r}")
        seen += chunk
    return seen


def test_an_import_killed_while_writing_leaves_the_previous_data(app, exports):
    before, later = exports
    with app.app_context():
        dialect = db.engine.dialect.name
        run_import(before)
        kept = snapshot()
        _stall_payment_inserts(dialect)
        holder = None
        if dialect == "postgresql":
            holder = db.engine.connect()
            holder.execute(text(f"SELECT pg_advisory_lock({STALL_KEY})"))
            holder.commit()
        env = {**os.environ, "OV_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
               "OV_INSTANCE_PATH": app.instance_path, "COLUMNS": "100"}
        controller, terminal = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "ov", "import-billing", str(later)],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal)
        os.close(terminal)
        try:
            # On a terminal the import says which file it writes: payments are the last.
            _read_until(controller, b"Escribiendo payments.csv", process)
            process.send_signal(signal.SIGKILL)
            assert process.wait() == -signal.SIGKILL
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            os.close(controller)
            if holder is not None:
                # The killed client's server process still waits on the lock: end it.
                holder.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = "
                    "'advisory' AND NOT granted AND pid <> pg_backend_pid()"))
                holder.execute(text(f"SELECT pg_advisory_unlock({STALL_KEY})"))
                holder.commit()
                holder.close()
            db.session.remove()
            _drop_trigger("test_stall", dialect)
        assert snapshot() == kept
        summary = run_import(later)
        assert summary.counts["accounts.csv"].updated == 1
        assert summary.counts["payments.csv"].inserted == 1


def test_the_command_reports_a_database_failure_in_spanish_and_changes_nothing(app, exports):
    before, later = exports
    with app.app_context():
        run_import(before)
        kept = snapshot()
        with failing_payment_inserts():
            result = app.test_cli_runner().invoke(args=["import-billing", str(later)])
        assert result.exit_code == 1
        assert "La base de datos falló durante la carga (" in result.output
        assert "disco lleno (simulado)" in result.output
        assert "No se cargó nada" in result.output
        assert "Traceback" not in result.output
        assert snapshot() == kept
