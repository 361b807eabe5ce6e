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
from ov.models import Invoice, UserAccount
from ov.models.portal import ReadingSubmission
from tests.http.test_office import second_contract
from tests.support.factories import (
    customer_with_invoices,
    hold_seed_contract,
    make_invoices,
)
from tests.support.history import pin
from tests.support.journeys import sign_in
from tests.support.queries import counting_queries
from tests.support.weight import measure

pytestmark = pytest.mark.usefixtures("clean_db")

URL = "/mi-oficina/consumos"
SVG_BUDGET = 3 * 1024
SWAP_BUDGET = 2 * 1024  # DESIGN.md: a tab swap on the wire
DETAIL_BUDGET = 5 * 1024  # one contract's chart, 24-row table and bill change
#: The newest invoice's issue date in these tests (its period ends in October), whatever
#: the month the tests run in.
NEWEST = date(2026, 11, 1)
TAB_SWAP = {"HX-Request": "true", "HX-Request-Type": "partial", "HX-Target": "main#contenido"}


def detail_request(account_id: int) -> dict:
    """What htmx sends for the lazy load of one contract's detail block."""
    return {"HX-Request": "true", "HX-Request-Type": "partial",
            "HX-Target": f"div#consumo-detalle-{account_id}"}


def text(response) -> str:
    return response.get_data(as_text=True)


def customer(app, invoices: int = 6, username: str = "usuPDFactura1",
             number: str | None = None, newest: date = NEWEST) -> dict:
    return customer_with_invoices(app, invoices, username, number,
                                  adjust=lambda made: pin(made, newest))


def add_contract(app, owner: dict, number: str, invoices: int) -> int:
    """Another account linked to the same user, with its own invoices."""
    with app.app_context():
        _, second = second_contract(owner, number)
        pin(make_invoices(second, invoices), NEWEST)
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
    for periods, contracts in ((0, 1), (3, 1), (24, 1), (3, 2), (24, 2)):
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
        # The page really shows them all (none when no contract has bills).
        assert len(svgs(html)) == (contracts if periods else 0)
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

def test_every_invoice_page_says_why_it_changed_and_the_oldest_has_none_to_compare(
        app, signed_in, own):
    first, *rest = own["invoice_ids"]
    html = text(signed_in.get(f"/mi-oficina/facturas/{first}"))
    assert "¿Por qué cambió mi factura?" in html
    # Only the oldest bill online, not necessarily the contract's first.
    assert "No tenemos en línea una factura anterior con qué compararla." in html
    assert "primera factura" not in html
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
    with app.app_context():
        account = hold_seed_contract()
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


def test_an_estimated_bill_says_what_it_estimates_and_links_to_sending_a_reading(
        app, signed_in, own):
    with app.app_context():
        estimated = db.session.scalars(select(Invoice.id).where(
            Invoice.account_id == own["account_id"], Invoice.reading_type == "estimated")
            .order_by(Invoice.issue_date)).all()
        assert estimated and estimated[0] != own["invoice_ids"][0]
        # The estimate puts 5 m³ more than the bill before it (30 m³).
        bill = db.session.get(Invoice, estimated[0])
        gas = next(line for line in bill.lines if line.unit == "m³")
        gas.quantity, gas.amount = 35, (gas.unit_price * 35).quantize(Decimal("0.01"))
        bill.consumption_m3 = 35
        bill.subtotal = sum(line.amount for line in bill.lines)
        bill.tax = (bill.subtotal * Decimal("0.16")).quantize(Decimal("0.01"))
        bill.total = bill.subtotal + bill.tax
        db.session.commit()
    html = text(signed_in.get(f"/mi-oficina/facturas/{estimated[0]}"))
    section = html.split('id="por-que-factura"')[1].split("</section>")[0]
    assert "Esta factura estima 5\u00a0m³ más que en el periodo anterior" in section
    assert "Usaste" not in section
    link = f'href="/mi-oficina/consumos/lectura?factura={estimated[0]}">envía tu lectura</a>'
    assert link in section
    real = text(signed_in.get(f"/mi-oficina/facturas/{own['invoice_ids'][1]}"))
    assert "envía tu lectura" not in real.split('id="por-que-factura"')[1]


# --- the tab swap and the lazy detail ----------------------------------------------------------

@pytest.fixture
def two_long_contracts(app, client):
    made = customer(app, invoices=24)
    second = add_contract(app, made, "7654321", invoices=24)
    sign_in(client, "usuPDFactura1")
    return {**made, "second": second}


def test_the_tab_swap_is_within_2_kb_with_24_periods_and_2_contracts(client,
                                                                     two_long_contracts):
    weight = measure(client, URL, TAB_SWAP)
    assert weight.status == 200 and weight.encoding in ("br", "gzip")
    assert weight.html_bytes <= SWAP_BUDGET, weight.html_bytes
    response = client.get(URL, headers=TAB_SWAP)
    assert "HX-Target" in response.headers["Vary"]
    html = text(response)
    assert html.startswith("<title>Mis consumos") and "<html" not in html
    # Each contract: its heading, its summary and the link to send a reading, then a block
    # that loads the chart, the table and the bill change from its own URL.
    assert not svgs(html) and "<table" not in html and "por-que-" not in html
    for account_id in (two_long_contracts["account_id"], two_long_contracts["second"]):
        assert f'id="consumo-{account_id}"' in html
        assert f'id="consumo-resumen-{account_id}"' in html
        assert f'/mi-oficina/consumos/lectura?contrato={account_id}"' in html
        lazy = re.search(rf'<div id="consumo-detalle-{account_id}"[^>]*>(.*?)</div>',
                         html, re.S)
        tag = lazy.group(0).split(">")[0]
        url = f"/mi-oficina/consumos?contrato={account_id}"
        assert f'data-hx-get="{url}"' in tag and 'data-hx-trigger="load"' in tag
        assert 'data-hx-target="this"' in tag and 'data-hx-swap="outerHTML"' in tag
        assert "data-focus" not in lazy.group(0)  # a lazy load never moves the focus
        assert f'<a href="{url}">Ver la gráfica, la tabla y por qué cambió tu factura</a>' in (
            lazy.group(1))


def test_the_lazy_answer_is_one_contracts_detail_only(client, two_long_contracts):
    second = two_long_contracts["second"]
    url = f"{URL}?contrato={second}"
    weight = measure(client, url, detail_request(second))
    assert weight.status == 200 and weight.html_bytes <= DETAIL_BUDGET, weight.html_bytes
    response = client.get(url, headers=detail_request(second))
    html = text(response)
    assert "HX-Target" in response.headers["Vary"]
    assert "HX-Push-Url" not in response.headers  # the address bar stays on the tab
    assert html.startswith(f'<div id="consumo-detalle-{second}">')
    assert "<title>Mis consumos" not in html and "<h1" not in html and "<h2" not in html
    [svg] = svgs(html)
    assert len(bars(svg)) == 24 and "¿Por qué cambió mi última factura?" in html
    assert "contrato 7654321-1" in html and "8295249" not in html
    assert "data-focus" not in html and 'data-hx-trigger="load"' not in html


def test_a_detail_request_for_another_customers_contract_never_shows_their_data(
        app, client, two_long_contracts):
    other = customer(app, invoices=5, username="otraPersona2", number="5550001")
    response = client.get(f"{URL}?contrato={other['account_id']}",
                          headers=detail_request(other["account_id"]))
    html = text(response)
    assert response.status_code == 200
    assert "5550001" not in html
    for invoice_id in other["invoice_ids"]:
        assert f"/mi-oficina/facturas/{invoice_id}\"" not in html
    # The scope's rule: an id not yours shows your own contracts, as the tab does.
    assert html.startswith("<title>Mis consumos")
    assert f'id="consumo-detalle-{two_long_contracts["account_id"]}"' in html
    assert f'id="consumo-detalle-{other["account_id"]}"' not in html


def test_a_detail_request_naming_another_block_gets_the_tab(client, two_long_contracts):
    first, second = two_long_contracts["account_id"], two_long_contracts["second"]
    html = text(client.get(f"{URL}?contrato={second}", headers=detail_request(first)))
    assert html.startswith("<title>Mis consumos") and f'id="consumo-{second}"' in html
    assert f'id="consumo-{first}"' not in html


def test_without_javascript_the_full_page_shows_every_detail_inline(client,
                                                                    two_long_contracts):
    response = client.get(URL)
    html = text(response)
    assert html.startswith("<!DOCTYPE html>") or "<html" in html
    assert [len(bars(svg)) for svg in svgs(html)] == [24, 24]
    assert 'data-hx-trigger="load"' not in html
    assert html.count("¿Por qué cambió mi última factura?") == 2
    assert len(re.findall(r'<table class="usage stack">', html)) == 2
    page = measure(client, URL)
    assert page.html_bytes <= 14 * 1024, page.html_bytes  # DESIGN.md: a full page


# --- pending readings and who sent them --------------------------------------------------------

def test_a_reading_the_previous_holder_sent_is_not_shown_to_the_new_one(app, client, own):
    """User A sends a reading, leaves the contract; user B links it: B does not see A's
    reading (it is A's, and A's own Mis consumos no longer shows the contract)."""
    with app.app_context():
        last = db.session.scalars(select(Invoice).where(Invoice.account_id == own["account_id"])
                                  .order_by(Invoice.issue_date.desc())).first()
        db.session.add(ReadingSubmission(account_id=own["account_id"], user_id=own["user_id"],
                                         read_on=last.period_end + timedelta(days=5),
                                         value=last.current_reading + 7))
        db.session.commit()
    assert sign_in(client, "usuPDFactura1").status_code == 303
    assert "del cliente, en revisión" in text(client.get(URL))
    newcomer = customer(app, invoices=0, username="nuevoTitular3", number="5550002")
    with app.app_context():
        db.session.query(UserAccount).filter_by(user_id=own["user_id"]).delete()
        db.session.query(UserAccount).filter_by(user_id=newcomer["user_id"]).delete()
        db.session.add(UserAccount(user_id=newcomer["user_id"], account_id=own["account_id"]))
        db.session.commit()
    other = app.test_client()
    assert sign_in(other, "nuevoTitular3").status_code == 303
    html = text(other.get(URL))
    assert "Contrato 8295249-7" in html and len(svgs(html)) == 1
    assert "usage__pending" not in html and "del cliente, en revisión" not in html


def test_a_reading_dated_before_the_last_bills_end_has_no_m3_or_days(app, signed_in, own):
    with app.app_context():
        last = db.session.scalars(select(Invoice).where(Invoice.account_id == own["account_id"])
                                  .order_by(Invoice.issue_date.desc())).first()
        db.session.add(ReadingSubmission(account_id=own["account_id"], user_id=own["user_id"],
                                         read_on=last.period_end, value=last.current_reading + 9))
        db.session.commit()
    [row] = re.findall(r'<tr class="usage__pending">(.*?)</tr>', text(signed_in.get(URL)), re.S)
    cells = re.findall(r'<td class="num" data-label="([^"]+)">([^<]*)</td>', row)
    assert dict(cells)["m³"] == dict(cells)["Días"] == "—"
    assert ">9<" not in row


def test_a_user_without_contracts_is_told_where_to_add_one(app, signed_in, own):
    with app.app_context():
        db.session.query(UserAccount).filter_by(user_id=own["user_id"]).delete()
        db.session.commit()
    html = text(signed_in.get(URL))
    assert "Aún no tienes contratos en tu oficina" in html and not svgs(html)
