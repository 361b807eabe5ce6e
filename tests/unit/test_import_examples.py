"""The example exports of docs/examples, loaded as docs/import-format.md says: into an empty
database, again (nothing changes), then the next month's export (updates, and the notices of
what is new, once), and back out with export-billing (the same files)."""

from __future__ import annotations

import csv
import io
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ov.extensions import db
from ov.models import (
    Account,
    ImportRun,
    Invoice,
    InvoiceLine,
    Notice,
    OutboxMail,
    Payment,
    Reading,
    User,
    UserAccount,
    Zone,
)
from ov.services import notices
from ov.services.billing_import import run_import
from ov.services.billing_import.export import export_billing
from ov.services.billing_import.layout import FILES

pytestmark = pytest.mark.usefixtures("clean_db")

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
OCTOBER = EXAMPLES / "billing-2026-10"
NOVEMBER = EXAMPLES / "billing-2026-11"
NAMES = [spec.name for spec in FILES]


def counts(summary) -> dict[str, tuple[int, int, int]]:
    return {name: (c.inserted, c.updated, c.unchanged) for name, c in summary.counts.items()}


def rows_of(directory: Path, name: str) -> list[dict]:
    with (directory / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load(app, directory: Path):
    with app.app_context():
        summary = run_import(directory)
        db.session.remove()
        return summary


def table_sizes(app) -> dict[str, int]:
    with app.app_context():
        return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
                for model in (Zone, Account, Invoice, InvoiceLine, Reading, Payment, Notice,
                              OutboxMail)}


def link(account_number: str, username: str, **choices) -> None:
    """A portal user holding the example contract, with their notice choices (committed)."""
    account = db.session.scalars(select(Account).where(Account.number == account_number)).one()
    user = User(username=username, password_hash="x", email=f"{username.lower()}@ejemplo.mx",
                **choices)
    user.links.append(UserAccount(account=account))
    db.session.add(user)
    db.session.commit()


def notices_by_user() -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for username, kind, key in db.session.execute(
            select(User.username, Notice.kind, Notice.key).join(Notice, Notice.user_id == User.id)
            .order_by(User.username, Notice.kind, Notice.key)):
        found.setdefault(username, []).append((kind, key))
    return found


# --- the examples themselves ------------------------------------------------------------------

def test_the_november_export_repeats_october_and_changes_what_the_format_says():
    october = {name: rows_of(OCTOBER, name) for name in NAMES}
    november = {name: rows_of(NOVEMBER, name) for name in NAMES}
    # Rows are never dropped from one month to the next: every October key is in November.
    for spec in FILES:
        keys = {tuple(row[key] for key in spec.key) for row in november[spec.name]}
        assert {tuple(row[key] for key in spec.key) for row in october[spec.name]} <= keys
    # The seed guide's contract and its bill, and a corrected estimate.
    invoices = {row["invoice_number"]: row for row in october["invoices.csv"]}
    assert invoices["ZE40389382"]["account_number"] == "8295249"
    assert invoices["ZE40389382"]["cfdi_file"] == "NLD-ZE40389382.xml"
    corrected = [row for row in october["invoices.csv"] if row["replaces_reading_on"]]
    [bill] = corrected
    estimated = [row for row in october["readings.csv"]
                 if (row["account_number"], row["read_on"], row["reading_type"])
                 == (bill["account_number"], bill["replaces_reading_on"], "estimated")]
    assert len(estimated) == 1 and bill["reading_type"] == "real"
    statuses = {row["status"] for row in october["payments.csv"]}
    assert statuses == {"applied", "in_process"}
    assert sum(1 for row in october["invoices.csv"] if row["cfdi_file"]) >= 1


# --- load, load again, load the next month -------------------------------------------------------

def test_the_examples_load_in_order_and_again_without_change(app):
    assert table_sizes(app)["account"] == 0  # an empty database

    first = load(app, OCTOBER)
    expected = {name: (len(rows_of(OCTOBER, name)), 0, 0) for name in NAMES}
    assert counts(first) == expected
    assert (first.notices, first.mails) == (0, 0)  # nobody registered yet
    loaded = table_sizes(app)
    assert loaded["invoice"] == 16 and loaded["invoice_line"] == 49 and loaded["payment"] == 14

    again = load(app, OCTOBER)
    assert counts(again) == {name: (0, 0, inserted) for name, (inserted, _, _) in expected.items()}
    assert (again.notices, again.mails) == (0, 0)
    assert table_sizes(app) == loaded

    with app.app_context():
        # The seed guide's contract, mailed every notice; a shop that only chose the
        # paperless bill: its new bills come by mail, its payments only as notices.
        link("8295249", "usuPDFactura1", notify_invoice=True, notify_payment=True,
             paperless_bill=False, email_notices=True)
        link("5512034", "panaderia1", notify_invoice=False, notify_payment=False,
             paperless_bill=True, email_notices=False)

    november = load(app, NOVEMBER)
    assert counts(november) == {
        "zones.csv": (0, 0, 2),
        "accounts.csv": (0, 1, 3),       # 5520981 moved within its street
        "invoices.csv": (4, 2, 14),      # November's bills; two October bills now paid
        "invoice_lines.csv": (12, 0, 49),
        "readings.csv": (4, 0, 16),
        "payments.csv": (3, 1, 13),      # the store payment in process is now applied
    }
    assert november.counts["invoice_lines.csv"].removed == 0
    with app.app_context():
        applied = {reference: db.session.scalar(
            select(Payment.id).where(Payment.reference == reference))
            for reference in ("730570118953", "MBAN20261103004421840266")}
        zone_of = dict(db.session.execute(select(Zone.code, Zone.id)).all())
        assert notices_by_user() == {
            "panaderia1": [("new_invoice", f"{zone_of['SAL']}:SL20417305"),
                           ("payment_applied", f"payment:{applied['MBAN20261103004421840266']}")],
            "usuPDFactura1": [("new_invoice", f"{zone_of['NLD']}:ZE40389383"),
                              ("payment_applied", f"payment:{applied['730570118953']}")],
        }
        mails = db.session.execute(select(OutboxMail.to_address, OutboxMail.subject)
                                   .order_by(OutboxMail.id)).all()
        assert sorted(mails) == sorted([
            ("panaderia1@ejemplo.mx", "Aviso: Tienes una nueva factura del contrato 5512034-0"),
            ("usupdfactura1@ejemplo.mx",
             "Aviso: Tienes una nueva factura del contrato 8295249-7"),
            ("usupdfactura1@ejemplo.mx", "Aviso: Aplicamos tu pago de $591.91"),
        ])
        assert (november.notices, november.mails) == (4, 3)
        assert sorted(november.mail_ids) == sorted(db.session.scalars(select(OutboxMail.id)))

        # What changed is what November says.
        moved = db.session.scalars(select(Account).where(Account.number == "5520981")).one()
        assert (moved.street_number, moved.colonia) == ("417 Int. 2", "Zona Centro")
        paid = db.session.scalars(select(Invoice).where(Invoice.number == "SL20417304")).one()
        assert paid.paid_at is not None and paid.cfdi_xml is not None
        corrected = db.session.scalars(select(Invoice).where(
            Invoice.replaces_reading_on.is_not(None))).one()
        assert (corrected.number, corrected.replaces_reading_on.isoformat()) == (
            "ZE40391103", "2026-07-31")
        assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 3
        db.session.remove()

    settled = table_sizes(app)
    repeated = load(app, NOVEMBER)
    assert all(inserted == updated == 0 for inserted, updated, _ in counts(repeated).values())
    assert (repeated.notices, repeated.mails) == (0, 0)
    assert table_sizes(app) == settled


def test_a_new_bill_is_mailed_to_who_chose_the_paperless_bill_alone(app):
    user = User(username="x", password_hash="x", email="x@ejemplo.mx", notify_invoice=False,
                paperless_bill=True)
    assert notices.NEW_INVOICE.by_mail(user)
    assert not notices.PAYMENT_APPLIED.by_mail(User(username="y", password_hash="x",
                                                    email="y@ejemplo.mx",
                                                    notify_payment=False, paperless_bill=True))
    user.paperless_bill = False
    assert not notices.NEW_INVOICE.by_mail(user)


def test_a_later_row_without_its_cfdi_keeps_the_one_loaded(app, tmp_path):
    load(app, OCTOBER)
    later = tmp_path / "sin-cfdi"
    shutil.copytree(NOVEMBER, later)
    (later / "cfdi" / "NLD-ZE40389382.xml").unlink()
    path = later / "invoices.csv"
    text = path.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("NLD,ZE40389382,"))
    assert row.endswith(",NLD-ZE40389382.xml")
    bare = ",".join(row.split(",")[:-2]) + ",,"
    path.write_text(text.replace(row, bare), encoding="utf-8")
    summary = load(app, later)
    assert summary.counts["invoices.csv"].inserted == 4
    with app.app_context():
        invoice = db.session.scalars(select(Invoice).where(Invoice.number == "ZE40389382")).one()
        assert invoice.cfdi_xml == (OCTOBER / "cfdi" / "NLD-ZE40389382.xml").read_text(
            encoding="utf-8")


def edited_copy(source: Path, target: Path, **edits) -> Path:
    """A copy of an example export with some files' rows changed (``invoices_csv=function``
    of the list of row dicts), and its manifest counting them again."""
    from ov.services.billing_import.reader import ExportDialect

    shutil.copytree(source, target)
    for spec in FILES:
        edit = edits.get(spec.name.replace(".", "_"))
        if edit is None:
            continue
        rows = edit(rows_of(source, spec.name))
        with (target / spec.name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, spec.headers, dialect=ExportDialect)
            writer.writeheader()
            writer.writerows(rows)
    with (target / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, ExportDialect)
        writer.writerow(["file", "rows"])
        writer.writerows([name, len(rows_of(target, name))] for name in NAMES)
    return target


def test_rows_an_export_leaves_out_are_kept(app, tmp_path):
    load(app, OCTOBER)
    load(app, NOVEMBER)
    before = table_sizes(app)

    def without(rows):
        return [row for row in rows if row.get("account_number") != "5520981"
                and not row["invoice_number"].startswith("SL2041880")]
    partial = edited_copy(NOVEMBER, tmp_path / "sin-5520981",
                          accounts_csv=lambda rows: [row for row in rows
                                                     if row["account_number"] != "5520981"],
                          invoices_csv=without, invoice_lines_csv=without,
                          readings_csv=lambda rows: [row for row in rows
                                                     if row["account_number"] != "5520981"],
                          payments_csv=without)
    assert len(rows_of(partial, "invoices.csv")) == 15
    summary = load(app, partial)
    assert all(inserted == updated == 0 for inserted, updated, _ in counts(summary).values())
    assert summary.counts["invoice_lines.csv"].removed == 0
    assert table_sizes(app) == before
    with app.app_context():
        kept = db.session.scalars(select(Account).where(Account.number == "5520981")).one()
        assert db.session.scalar(select(func.count()).select_from(Invoice).where(
            Invoice.account_id == kept.id)) == 5


def test_an_invoice_sent_again_has_exactly_its_new_lines(app, tmp_path):
    load(app, OCTOBER)
    load(app, NOVEMBER)

    def two_lines(rows):
        return [row for row in rows
                if (row["invoice_number"], row["position"]) != ("ZE40391105", "3")]

    def fixed_total(rows):
        subtotal = sum(Decimal(line["amount"]) for line in two_lines(
            rows_of(NOVEMBER, "invoice_lines.csv")) if line["invoice_number"] == "ZE40391105")
        tax = (subtotal * Decimal("0.16")).quantize(Decimal("0.01"))
        for row in rows:
            if row["invoice_number"] == "ZE40391105":
                row.update(subtotal=str(subtotal), tax=str(tax), total=str(subtotal + tax))
        return rows
    changed = edited_copy(NOVEMBER, tmp_path / "dos-conceptos",
                          invoices_csv=fixed_total, invoice_lines_csv=two_lines)
    summary = load(app, changed)
    assert counts(summary)["invoices.csv"] == (0, 1, 19)
    assert summary.counts["invoice_lines.csv"].removed == 1
    with app.app_context():
        invoice = db.session.scalars(select(Invoice).where(
            Invoice.number == "ZE40391105")).one()
        assert [line.concept for line in invoice.lines] == ["Cargo fijo", "Gas natural"]
        assert invoice.subtotal == sum(line.amount for line in invoice.lines)


# --- the round trip ------------------------------------------------------------------------------

def files_of(directory: Path) -> dict[str, bytes]:
    return {str(path.relative_to(directory)): path.read_bytes()
            for path in sorted(directory.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("months", [(OCTOBER,), (OCTOBER, NOVEMBER)],
                         ids=["october", "october-then-november"])
def test_export_billing_writes_back_the_example_it_loaded(app, tmp_path, months):
    for directory in months:
        load(app, directory)
    with app.app_context():
        written = export_billing(tmp_path / "out")
        db.session.remove()
    assert written.cfdi_files == len(list((months[-1] / "cfdi").iterdir()))
    assert files_of(tmp_path / "out") == files_of(months[-1])


# --- the command ---------------------------------------------------------------------------------

SUMMARY_LINE = re.compile(r"^  (\S+\.csv) +(\d+) nuevas +(\d+) cambiadas +(\d+) sin cambios$")


def summary_lines(output: str) -> dict[str, tuple[int, int, int]]:
    found = {}
    for line in output.splitlines():
        match = SUMMARY_LINE.match(line)
        if match:
            found[match.group(1)] = tuple(int(group) for group in match.groups()[1:])
    return found


def test_the_command_says_what_changed_per_file_and_draws_no_bar_off_a_terminal(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import-billing", str(OCTOBER)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Importación ")
    assert summary_lines(result.stdout) == {
        name: (len(rows_of(OCTOBER, name)), 0, 0) for name in NAMES}
    assert "avisos: 0, correos en cola: 0" in result.stdout
    # Not a terminal (a pipe, cron): no bar, no progress messages, nothing on stderr.
    assert result.stderr == ""

    result = runner.invoke(args=["import-billing", str(NOVEMBER)])
    assert result.exit_code == 0, result.output
    lines = summary_lines(result.stdout)
    assert list(lines) == NAMES
    assert lines["invoices.csv"] == (4, 2, 14) and lines["payments.csv"] == (3, 1, 13)
    assert result.stderr == ""


def test_the_command_refuses_a_second_import_with_status_2(app):
    """While another import holds the lock, the command loads nothing and exits with 2."""
    import fcntl
    import os

    from sqlalchemy import text

    from ov.services.billing_import import BUSY_MESSAGE
    from ov.services.billing_import.engine import LOCK_KEY

    with app.app_context():
        engine = db.engine
        holder = engine.connect()
        handle = None
        try:
            if engine.dialect.name == "postgresql":
                holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
            else:
                handle = os.open(f"{engine.url.database}.import-lock", os.O_RDWR | os.O_CREAT)
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            result = app.test_cli_runner().invoke(args=["import-billing", str(OCTOBER)])
        finally:
            if handle is not None:
                os.close(handle)
            if engine.dialect.name == "postgresql":
                holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
            holder.close()
    assert result.exit_code == 2
    assert BUSY_MESSAGE in result.stderr and result.stdout == ""
    assert table_sizes(app)["account"] == 0
    assert load(app, OCTOBER).counts["accounts.csv"].inserted == 4  # free again


# --- the documentation ---------------------------------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "import-format.md"


def doc_section(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n### {name}\n")
    end = text.find("\n### ", start + 1)
    return text[start:end if end != -1 else None]


@pytest.mark.parametrize("spec", FILES, ids=[spec.name for spec in FILES])
def test_the_format_page_lists_each_files_columns_and_key_as_the_import_reads_them(spec):
    section = doc_section(spec.name)
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| (yes|no) \|", section, flags=re.MULTILINE)
    assert [name for name, _ in rows] == list(spec.headers)
    assert [required == "yes" for _, required in rows] == [c.required for c in spec.columns]
    assert f"Key: {' + '.join(f'`{key}`' for key in spec.key)}" in " ".join(section.split())


def test_the_notices_tell_the_imported_values_even_of_rows_the_session_held(app, tmp_path):
    """The merge writes with SQL; a payment the caller's session loaded before the import must
    not lend its old amount to the notice of its application."""
    load(app, OCTOBER)
    later = tmp_path / "pago-corregido"
    shutil.copytree(NOVEMBER, later)
    path = later / "payments.csv"
    text = path.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if ",730570118953," in line)
    path.write_text(text.replace(row, row.replace(",591.91,", ",500.00,")), encoding="utf-8")
    with app.app_context():
        link("8295249", "usuPDFactura1", notify_payment=True)
        held = db.session.scalars(select(Payment).where(
            Payment.reference == "730570118953")).one()
        assert (held.status, str(held.amount)) == ("in_process", "591.91")
        run_import(later)
        titles = set(db.session.scalars(select(Notice.title)))
        assert "Aplicamos tu pago de $500.00" in titles
        db.session.remove()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("total", "shown"), [(20, "20/20"), (120_000, "120k/120k")])
def test_on_a_terminal_each_file_gets_a_bar_of_its_rows(monkeypatch, total, shown):
    from ov import cli_import

    terminal = Terminal()
    monkeypatch.setattr(cli_import.sys, "stderr", terminal)
    bar = cli_import.TerminalProgress().bar("invoices.csv", total)
    bar.update(total)
    bar.close()
    drawn = terminal.getvalue()
    assert "invoices.csv: 100%" in drawn and f"{shown} [" in drawn and " filas/s]" in drawn
