"""The whole story of a newcomer with the seed guide's bill, end to end through HTTP:
register, sign in, see the last invoices and the debt, open the newest invoice, download
its duplicate, and read the coupon's barcode back to the reference the page printed."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import Invoice
from tests.support.barcodes import scan
from tests.support.journeys import SEED, Registration, sign_in

pytestmark = pytest.mark.usefixtures("billing")


def test_a_newcomer_with_the_seed_bill(app, client, tmp_path):
    registration = Registration(client, app)
    assert registration.complete().location == "/registro/listo"
    assert sign_in(client, "usuPDFactura1").location == "/mi-oficina"

    home = client.get("/mi-oficina").get_data(as_text=True)
    assert "Miguel Granados Ylarrañaga" in home  # the holder, in the "Última conexión" line
    assert len(re.findall(r'<tr><td><a href="/mi-oficina/facturas/\d+"', home)) == 3
    debt = re.search(r'<p class="debt__amount">(\$[\d,]+\.\d\d)</p>', home).group(1)
    assert debt != "$0.00"  # the seed contract has unpaid bills

    with app.app_context():
        newest = db.session.scalars(
            select(Invoice).where(Invoice.number == SEED["invoice"])
        ).one().id
    assert f'href="/mi-oficina/facturas/{newest}"' in home
    page = client.get(f"/mi-oficina/facturas/{newest}").get_data(as_text=True)
    assert SEED["invoice"] in page and "8295249-7" in page
    reference = re.search(r'id="referencia"[^>]*data-copiar="(\d+)"', page).group(1)

    pdf = client.get(f"/mi-oficina/facturas/{newest}/duplicado.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    decoded = scan(pdf.get_data(), tmp_path)
    assert decoded.returncode == 0, decoded.stderr
    assert decoded.stdout.strip() == reference
