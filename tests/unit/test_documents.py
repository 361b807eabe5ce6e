"""The invoice duplicate (PDF): its content, size, determinism and a barcode that scans.

The barcode is read the way a store's scanner would see a print: the page is rasterised
with poppler's ``pdftoppm`` at 200 dpi and decoded with ZBar's ``zbarimg``.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from reportlab.graphics.barcode.code128 import Code128
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ov.extensions import db
from ov.formatting import day, money
from ov.models import Account, Invoice, InvoiceStatus, Zone
from ov.services import documents, references
from ov.services.demo_data import SEED_ACCOUNT_NUMBER, SEED_HOLDER, SEED_INVOICE_NUMBER
from tests.support.barcodes import ZBAR_NOTHING_FOUND, scan

MAX_BYTES = 50 * 1024
START_C = 105  # the Code128 start symbol of set C (two digits per symbol)


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


@dataclass
class Seed:
    account: Account
    zone: Zone
    bills: list[Invoice]
    today: date

    def bill(self, status: InvoiceStatus) -> Invoice:
        return next(bill for bill in self.bills if bill.status_on(self.today) is status)

    def pdf(self, bill: Invoice) -> tuple[bytes, references.Coupon | None]:
        coupon = references.coupon_for(self.account, bill, self.today)
        pdf = documents.invoice_pdf(bill, self.account, self.zone, coupon, today=self.today)
        return pdf, coupon


@pytest.fixture
def seed(app, billing):
    """The seed guide's contract, looked up as the office will: zone, account, invoices."""
    with app.app_context():
        zone = db.session.scalars(select(Zone).where(Zone.name == "Nuevo Laredo")).one()
        account = db.session.scalars(
            select(Account).where(Account.zone_id == zone.id,
                                  Account.number == SEED_ACCOUNT_NUMBER)
        ).one()
        bills = db.session.scalars(
            select(Invoice).where(Invoice.account_id == account.id)
            .options(selectinload(Invoice.lines)).order_by(Invoice.issue_date.desc())
        ).all()
        yield Seed(account, zone, list(bills), date.today())
        db.session.remove()


def test_the_newest_bill_duplicate_reads_right(seed):
    bill = seed.bills[0]
    assert bill.number == SEED_INVOICE_NUMBER
    pdf, coupon = seed.pdf(bill)
    assert coupon is not None
    text = text_of(pdf)
    for expected in (
        "DUPLICADO",
        SEED_INVOICE_NUMBER,
        SEED_HOLDER,
        "8295249-7",
        "Nuevo Laredo",
        seed.account.meter_serial,
        f"{day(bill.period_start)} al {day(bill.period_end)}",
        f"Fecha de vencimiento\n{day(bill.due_date)}",
        "IVA 16 %",
        f"Total\n{money(bill.total)}",
        f"{bill.consumption_m3} m³",
        f"Pagar antes de {day(coupon.due)}",
        references.format_for_people(coupon.reference),
    ):
        assert expected in text, expected
    for line in bill.lines:
        assert f"{line.concept}\n" in text and money(line.amount) in text
    assert re.search(r"\$\d{1,3}(,\d{3})*\.\d{2}", money(bill.total))

    info = PdfReader(io.BytesIO(pdf)).metadata
    assert info.title == f"Duplicado de factura {SEED_INVOICE_NUMBER}"
    assert info.author == "Gas Natural del Noreste"
    assert "/" not in (info.creator or "") and "/" not in (info.producer or "")


def test_the_duplicate_is_small_deterministic_and_uses_only_standard_fonts(seed):
    pdf, _ = seed.pdf(seed.bills[0])
    assert pdf.startswith(b"%PDF-") and len(pdf) <= MAX_BYTES
    assert seed.pdf(seed.bills[0])[0] == pdf
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == (612, 792)  # Letter
    fonts = page["/Resources"]["/Font"]
    names = {fonts[key].get_object()["/BaseFont"] for key in fonts}
    assert names <= {"/Helvetica", "/Helvetica-Bold"}
    assert all("/FontFile" not in fonts[key].get_object() for key in fonts)


def test_the_coupon_barcode_scans_as_the_payment_reference(seed, tmp_path):
    pdf, coupon = seed.pdf(seed.bills[0])
    assert coupon is not None
    result = scan(pdf, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == coupon.reference
    assert references.parse(result.stdout.strip()).invoice_id == seed.bills[0].id
    # 36 digits: Code128 set C from the start symbol on, two digits per symbol.
    barcode = Code128(coupon.reference, humanReadable=False)
    barcode.validate()
    symbols = barcode.encode()
    assert symbols[0] == START_C
    assert len(symbols) == 1 + references.LENGTH // 2 + 2  # start, digit pairs, check, stop


def test_an_overdue_bill_gets_a_current_coupon_that_scans(seed, tmp_path):
    bill = seed.bill(InvoiceStatus.OVERDUE)
    pdf, coupon = seed.pdf(bill)
    assert coupon is not None and coupon.due == seed.today + timedelta(days=3)
    text = text_of(pdf)
    assert f"Vencida desde el {day(bill.due_date)}" in text
    assert f"Pagar antes de {day(coupon.due)}" in text
    assert f"Factura vencida el {day(bill.due_date)}" in text
    result = scan(pdf, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == coupon.reference


def test_a_paid_bill_has_no_coupon_and_says_it_is_paid(seed, tmp_path):
    bill = seed.bill(InvoiceStatus.PAID)
    pdf, coupon = seed.pdf(bill)
    assert coupon is None
    text = text_of(pdf)
    assert f"Factura pagada el {day(bill.paid_at)} — sin cupón de pago" in text
    assert f"Pagada el {day(bill.paid_at)}" in text
    assert "Pagar antes de" not in text
    result = scan(pdf, tmp_path)
    assert result.returncode == ZBAR_NOTHING_FOUND and result.stdout == ""


def test_a_coupon_for_another_bill_is_refused(seed):
    pending, overdue = seed.bill(InvoiceStatus.PENDING), seed.bill(InvoiceStatus.OVERDUE)
    coupon = references.coupon_for(seed.account, overdue, seed.today)
    with pytest.raises(ValueError, match="does not pay"):
        documents.invoice_pdf(pending, seed.account, seed.zone, coupon, today=seed.today)


def test_reportlab_runs_with_its_c_accelerator():
    """Without rl_accel, reportlab falls back to pure Python for number formatting and
    ASCII85 (the same bytes, about three times the CPU per duplicate)."""
    from reportlab.lib import rl_accel

    assert not rl_accel.fp_str.__name__.startswith("_py_")
    assert not rl_accel.asciiBase85Encode.__name__.startswith("_py_")
