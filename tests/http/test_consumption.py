"""Mis consumos and "¿Por qué cambió mi factura?" through HTTP: the chart and the table, the
contract switch, other customers' contracts, pending readings, the invoice page's section,
query counts and the chart's compressed size."""

from __future__ import annotations

import gzip
import re
from datetime import date, timedelta
from decimal import Decimal

import brotli
import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import Account, Invoice, UserAccount
from ov.models.portal import ReadingSubmission
from ov.services import passwords
from tests.support.factories import make_customer, make_invoices
from tests.support.journeys import PASSWORD, sign_in
from tests.support.queries import counting_queries

pytestmark = pytest.mark.usefixtures("clean_db")

URL = "/mi-oficina/consumos"
SVG_BUDGET = 3 * 1024


def text(response) -> str:
    return response.get_data(as_text=True)


def customer(app, invoices: int = 6, username: str = "usuPDFactura1",
             number: str | None = None) -> dict:
    with app.app_context():
        user, account = make_customer(username=username, number=number,
                                      email=f"{username.lower()}@ejemplo.mx",
                                      password_hash=passwords.hash_password(PASSWORD))
        made = make_invoices(account, invoices)
        db.session.commit()
        return {"user_id": user.id, "account_id": account.id,
                "invoice_ids": [invoice.id for invoice in made]}


def add_contract(app, owner: dict, number: str, invoices: int) -> int:
    """Another account linked to the same user, with its own invoices."""
    with app.app_context():
        first = db.session.get(Account, owner["account_id"])
        second = Account(zone_id=first.zone_id, number=number, check_digit=1,
                         holder_name=first.holder_name, street="Hidalgo", street_number="5",
                         colonia="Centro", city="Nuevo Laredo", state="Tamaulipas",
                         postal_code="88000", meter_serial=f"IT{number}", tariff_code="RES")
        db.session.add(second)
        db.session.flush()
        db.session.add(UserAccount(user_id=owner["user_id"], account_id=second.id))
        make_invoices(second, invoices)
        db.session.commit()
        return second.id


def svgs(html: str) -> list[str]:
    return re.findall(r'<svg class="chart".*?</svg>', html, re.S)


def bars(svg: str) -> list[str]:
    return re.findall(r"<rect [^>]*>", svg.split('class="chart__bars"')[1].split("</g>")[0])


@pytest.fixture
def own(app):
    return customer(app)


@pytest.fixture
def signed_in(app, client, own):
    assert sign_in(client, "usuPDFactura1").status_code == 303
    return client


# --- the page --------------------------------------------------------------------------------

def test_the_chart_and_the_table_show_every_period(app, signed_in, own):
    html = text(signed_in.get(URL))
    with app.app_context():
        invoices = db.session.scalars(
            select(Invoice).where(Invoice.account_id == own["account_id"])
            .order_by(Invoice.issue_date)).all()
    [svg] = svgs(html)
    drawn = bars(svg)
    assert len(drawn) == len(invoices) == 6
    estimated = [i.reading_type == "estimated" for i in invoices]
    assert ['class="chart__est"' in bar for bar in drawn] == estimated
    assert any(estimated)
    # The chart is named and described; the description is the summary on the page.
    title_id = re.search(r'aria-labelledby="([^"]+)"', svg).group(1)
    summary_id = re.search(r'aria-describedby="([^"]+)"', svg).group(1)
    assert f'<title id="{title_id}">' in svg and 'role="img"' in svg
    summary = re.search(rf'<p id="{summary_id}"[^>]*>([^<]+)</p>', html).group(1)
    assert summary.startswith("Tu consumo de ")
    # The table: newest first, every column, the estimated one said in words.
    rows = re.findall(r"<tr><th scope=\"row\">(.*?)</tr>", html, re.S)
    assert len(rows) == 6
    newest = invoices[-1]
    assert f'/mi-oficina/facturas/{newest.id}"' in rows[0]
    for header in ("Periodo", "Lectura", "Tipo de lectura", "m³", "Días", "Promedio diario",
                   "Importe"):
        assert f">{header}</th>" in html
    assert sum("<strong>estimada</strong>" in row for row in rows) == sum(estimated)
    assert "Lectura estimada (rayada)" in html  # the legend


def test_the_latest_bill_says_why_it_changed(app, signed_in, own):
    html = text(signed_in.get(URL))
    section = html.split('id="por-que-c')[1]
    assert "¿Por qué cambió mi última factura?" in section
    assert "Frente a tu factura anterior" in section
    assert "El precio del gas natural subió" in section


def test_the_chart_is_at_most_3_kb_compressed_with_24_periods(app, client):
    customer(app, invoices=24)
    sign_in(client, "usuPDFactura1")
    [svg] = svgs(text(client.get(URL)))
    assert len(bars(svg)) == 24
    raw = svg.encode()
    # As the app compresses pages (ov/compression.py: brotli 5, gzip 6), and at their best.
    for size in (len(brotli.compress(raw, quality=5)), len(brotli.compress(raw, quality=11)),
                 len(gzip.compress(raw, compresslevel=6, mtime=0)),
                 len(gzip.compress(raw, compresslevel=9, mtime=0))):
        assert size <= SVG_BUDGET, size


def test_several_contracts_get_a_section_each_and_the_switch_picks_one(app, signed_in, own):
    second = add_contract(app, own, "7654321", invoices=4)
    html = text(signed_in.get(URL))
    assert len(svgs(html)) == 2
    assert "Contrato 8295249-7" in html and "Contrato 7654321-1" in html
    assert [len(bars(svg)) for svg in svgs(html)] == [6, 4]
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # two charts, no id twice
    only = text(signed_in.get(f"{URL}?contrato={second}"))
    assert [len(bars(svg)) for svg in svgs(only)] == [4]
    assert "Contrato 7654321-1" in only and "Contrato 8295249-7" not in only


def test_another_customers_contract_in_the_query_shows_only_your_own(app, signed_in, own):
    other = customer(app, invoices=5, username="otraPersona2", number="5550001")
    html = text(signed_in.get(f"{URL}?contrato={other['account_id']}"))
    assert "5550001" not in html
    assert [len(bars(svg)) for svg in svgs(html)] == [6]
    for invoice_id in other["invoice_ids"]:
        assert f"/mi-oficina/facturas/{invoice_id}\"" not in html


def test_a_reading_sent_and_not_reviewed_shows_as_del_cliente_en_revision(app, signed_in, own):
    other = customer(app, invoices=2, username="otraPersona2", number="5550001")
    with app.app_context():
        last = db.session.scalars(select(Invoice).where(Invoice.account_id == own["account_id"])
                                  .order_by(Invoice.issue_date.desc())).first()
        read_on = last.period_end + timedelta(days=12)
        db.session.add_all([
            ReadingSubmission(account_id=own["account_id"], user_id=own["user_id"],
                              read_on=read_on, value=last.current_reading + 18),
            ReadingSubmission(account_id=own["account_id"], user_id=own["user_id"],
                              read_on=read_on - timedelta(days=40), value=1, status="accepted"),
            ReadingSubmission(account_id=other["account_id"], user_id=other["user_id"],
                              read_on=read_on, value=987654),
        ])
        db.session.commit()
    html = text(signed_in.get(URL))
    pending = re.findall(r'<tr class="usage__pending">(.*?)</tr>', html, re.S)
    assert len(pending) == 1
    assert "del cliente, en revisión" in pending[0]
    assert f"Lectura enviada el {read_on:%d/%m/%Y}" in pending[0]
    assert ">18<" in pending[0] and ">12<" in pending[0] and "1.5 m³" in pending[0]
    assert "987,654" not in html


def test_a_contract_without_bills_says_so(app, signed_in, own):
    add_contract(app, own, "7654321", invoices=0)
    html = text(signed_in.get(URL))
    assert "Aún no hay consumos facturados para este contrato." in html
    assert len(svgs(html)) == 1


# --- query counts ----------------------------------------------------------------------------

def count_queries(app, client, url: str) -> int:
    client.get(url)  # warm: the first request may load things once
    with counting_queries(app) as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def empty(app) -> None:
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())


def test_the_page_runs_the_same_queries_for_3_or_24_periods_and_1_or_2_contracts(app):
    counts = {}
    for periods, contracts in ((3, 1), (24, 1), (3, 2), (24, 2)):
        client = app.test_client()
        made = customer(app, invoices=periods)
        if contracts == 2:
            add_contract(app, made, "7654321", invoices=periods)
        with app.app_context():
            db.session.add(ReadingSubmission(account_id=made["account_id"],
                                             user_id=made["user_id"], read_on=date.today(),
                                             value=5000))
            db.session.commit()
        sign_in(client, "usuPDFactura1")
        html = text(client.get(URL))
        assert len(svgs(html)) == contracts  # the page really shows them all
        counts[(periods, contracts)] = count_queries(app, client, URL)
        empty(app)
    assert len(set(counts.values())) == 1, counts


def test_the_invoice_page_runs_the_same_queries_with_3_or_30_invoices(app):
    counts = []
    for invoices in (3, 30):
        client = app.test_client()
        made = customer(app, invoices=invoices)
        sign_in(client, "usuPDFactura1")
        url = f"/mi-oficina/facturas/{made['invoice_ids'][-1]}"
        html = text(client.get(url))
        assert ("Frente al mismo periodo del año pasado" in html) == (invoices > 12)
        counts.append(count_queries(app, client, url))
        empty(app)
    assert counts[0] == counts[1], counts


# --- the invoice page ------------------------------------------------------------------------

def test_every_invoice_page_says_why_it_changed_and_the_first_says_it_is_first(app, signed_in,
                                                                              own):
    first, *rest = own["invoice_ids"]
    html = text(signed_in.get(f"/mi-oficina/facturas/{first}"))
    assert "¿Por qué cambió mi factura?" in html
    assert "Es la primera factura de este contrato" in html
    for invoice_id in rest:
        html = text(signed_in.get(f"/mi-oficina/facturas/{invoice_id}"))
        section = html.split('id="por-que-factura"')[1].split("</section>")[0]
        assert "Frente a tu factura anterior" in section
        assert re.search(r"<p>Tu factura de \w+ es de \$[\d,.]+: \$[\d,.]+ más que la de", section)


def signed_amounts(sentences: list[str]) -> Decimal:
    total = Decimal(0)
    for sentence in sentences:
        amount, word = re.search(r"\$([\d,]+\.\d\d) (más|menos)\.$", sentence).groups()
        value = Decimal(amount.replace(",", ""))
        total += value if word == "más" else -value
    return total


@pytest.fixture
def seed_holder(app, client, billing):
    """The seed guide's contract (demo data) linked to a signed-in user; its invoices."""
    from ov.models import User

    with app.app_context():
        account = db.session.scalars(select(Account).where(Account.number == "8295249")).one()
        user = User(username="usuPDFactura1", email="cliente@ejemplo.mx",
                    password_hash=passwords.hash_password(PASSWORD))
        user.links.append(UserAccount(account=account))
        db.session.add(user)
        db.session.commit()
        rows = db.session.scalars(select(Invoice).where(Invoice.account_id == account.id)
                                  .order_by(Invoice.issue_date)).all()
        found = [(row.id, row.total, row.reading_type) for row in rows]
    assert sign_in(client, "usuPDFactura1").status_code == 303
    return found


def test_on_the_seed_contract_every_bills_parts_add_up_to_its_difference(client, seed_holder):
    """Every invoice of the seed guide's contract, as shown: the amounts said in the
    sentences add up to the difference between the totals shown."""
    for (_, before, _), (invoice_id, now, _) in zip(seed_holder, seed_holder[1:],
                                                     strict=False):
        html = text(client.get(f"/mi-oficina/facturas/{invoice_id}"))
        section = html.split('id="por-que-factura"')[1].split("</section>")[0]
        previous = section.split("<h3>")[1].split("<h3>")[0]
        sentences = re.findall(r"<li>(.*?)</li>", previous)
        assert signed_amounts(sentences) == now - before, (invoice_id, sentences)


def test_the_seed_contract_shows_24_periods_and_its_estimates(client, seed_holder):
    html = text(client.get(URL))
    [svg] = svgs(html)
    drawn = bars(svg)
    assert len(drawn) == 24
    assert sum('class="chart__est"' in bar for bar in drawn) == sum(
        kind == "estimated" for _, _, kind in seed_holder[-24:])
    correction = [sentence for sentence in re.findall(r"<li>(.*?)</li>", html)
                  if "lectura estimada" in sentence]
    assert all(s.startswith("Tu factura anterior tenía una lectura estimada") for s in correction)


def test_the_tab_swap_brings_the_chart_without_the_page_around_it(signed_in):
    response = signed_in.get(URL, headers={"HX-Request": "true", "HX-Request-Type": "partial",
                                           "HX-Target": "main#contenido"})
    html = text(response)
    assert response.status_code == 200 and "<html" not in html
    assert html.startswith("<title>Mis consumos")
    assert len(svgs(html)) == 1 and "¿Por qué cambió mi última factura?" in html


def test_a_user_without_contracts_is_told_where_to_add_one(app, signed_in, own):
    with app.app_context():
        db.session.query(UserAccount).filter_by(user_id=own["user_id"]).delete()
        db.session.commit()
    html = text(signed_in.get(URL))
    assert "Aún no tienes contratos en tu oficina" in html and not svgs(html)
