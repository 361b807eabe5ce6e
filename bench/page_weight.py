"""Print the compressed weight of every page the portal serves (Markdown tables).

    .venv/bin/python bench/page_weight.py

Uses the same measurement as the tests (tests/support/weight.py): the app answers with
``Accept-Encoding: br, gzip``; "first visit" adds every stylesheet, script and icon the page
loads. A temporary SQLite database with a little demo data stands behind it. A second table
walks the registration (steps, swaps, inline validation) as htmx would ask for it; a third
registers the seed guide's contract, signs in and weighs every Mi oficina page and its tab
swap; a fourth weighs Mis consumos (page, tab swap and the lazy load of the contract's
detail), its chart (the SVG alone, compressed as the page is) and the "¿Por qué cambió mi
factura?" section of the seed's newest invoice, with each answer's SQL query count.
"""

from __future__ import annotations

import gzip
import logging
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import brotli  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select  # noqa: E402

from ov import create_app  # noqa: E402
from ov.extensions import db  # noqa: E402
from ov.models import Account, Invoice  # noqa: E402
from ov.services import demo_data  # noqa: E402
from tests.support.journeys import Registration, sign_in  # noqa: E402
from tests.support.pages import ERROR_PAGES, page_urls  # noqa: E402
from tests.support.queries import counting_queries  # noqa: E402
from tests.support.weight import decoded_text, measure  # noqa: E402

HTMX = {"HX-Request": "true", "HX-Request-Type": "partial"}
BR = {"Accept-Encoding": "br"}


def pages(app) -> None:
    client = app.test_client()
    print("| page | status | HTML (compressed) | fragment | first visit | JavaScript |")
    print("|---|---|---|---|---|---|")
    for url in page_urls(app) + ERROR_PAGES:
        full = measure(client, url)
        fragment = measure(client, url, HTMX)
        print(
            f"| `{url}` | {full.status} | {full.html_bytes:,} B ({full.encoding or 'none'}) "
            f"| {fragment.html_bytes:,} B | {full.first_visit_bytes:,} B "
            f"| {full.script_bytes:,} B |"
        )


def registration(app) -> None:
    client = app.test_client()
    journey = Registration(client, app)
    print()
    print("| registration | full page | htmx swap | swap / page |")
    print("|---|---|---|---|")

    def row(label: str, full: int, swap: int) -> None:
        print(f"| {label} | {full:,} B | {swap:,} B | {swap / full:.0%} |")

    def step(url: str) -> None:
        row(f"`{url}`", measure(client, url).html_bytes, measure(client, url, HTMX).html_bytes)

    step("/registro/paso-1")
    full = len(journey.step1(headers=BR, cuenta="40989917-7").get_data())
    swap = len(journey.step1(headers={**HTMX, **BR}, cuenta="40989917-7").get_data())
    row("paso 1, 422 (cuenta `40989917-7`)", full, swap)
    token = journey.token("/registro/paso-1")
    for field, value in (("cuenta", "40989917-7"), ("factura", "ZE4038"), ("usuario", "usu")):
        inline = client.post(f"/registro/validar/{field}", data={"csrf_token": token,
                             field: value}, headers={**HTMX, **BR})
        print(f"| inline validation `{field}` = `{value}` | | {len(inline.get_data()):,} B | |")
    journey.step1()
    step("/registro/paso-2")
    journey.step2()
    step("/registro/paso-3")


def office(app) -> None:
    client = app.test_client()
    assert Registration(client, app).complete().status_code == 303
    assert sign_in(client, "usuPDFactura1").status_code == 303
    print()
    print("| Mi oficina (signed in) | status | HTML (compressed) | tab swap | first visit |")
    print("|---|---|---|---|---|")
    for url in page_urls(app):
        if not url.startswith("/mi-oficina"):
            continue
        full = measure(client, url)
        fragment = measure(client, url, HTMX)
        print(f"| `{url}` | {full.status} | {full.html_bytes:,} B | {fragment.html_bytes:,} B "
              f"| {full.first_visit_bytes:,} B |")


def compressed(text: str) -> str:
    raw = text.encode()
    # Brotli 5 and gzip 6 are what the app sends (ov/compression.py); 11 and 9 their best.
    return (f"{len(raw):,} B raw; brotli {len(brotli.compress(raw, quality=5)):,} B "
            f"(best {len(brotli.compress(raw, quality=11)):,} B); gzip "
            f"{len(gzip.compress(raw, compresslevel=6, mtime=0)):,} B "
            f"(best {len(gzip.compress(raw, compresslevel=9, mtime=0)):,} B)")


def queries(app, client, url: str, headers: dict | None = None) -> int:
    client.get(url, headers=headers)
    with counting_queries(app) as statements:
        client.get(url, headers=headers)
    return len(statements)


def consumption(app) -> None:
    """Mis consumos and the newest invoice's "¿Por qué cambió mi factura?" for the seed's
    contract (24 periods, three of them estimated), signed in as in ``office``."""
    client = app.test_client()
    assert sign_in(client, "usuPDFactura1").status_code == 303
    with app.app_context():
        account = db.session.scalars(select(Account).where(
            Account.number == demo_data.SEED_ACCOUNT_NUMBER)).one()
        newest = db.session.scalars(select(Invoice.id).where(Invoice.account_id == account.id)
                                    .order_by(Invoice.issue_date.desc())).first()
    invoice_url = f"/mi-oficina/facturas/{newest}"
    print()
    print("| consumption and bill change | size | SQL queries |")
    print("|---|---|---|")
    tab = {**HTMX, "HX-Target": "main#contenido"}
    for url in ("/mi-oficina/consumos", invoice_url):
        full = measure(client, url)
        fragment = measure(client, url, tab)
        print(f"| `{url}` page | {full.html_bytes:,} B ({full.encoding}), tab swap "
              f"{fragment.html_bytes:,} B | {queries(app, client, url)} page, "
              f"{queries(app, client, url, tab)} swap |")
    # After the tab swap, the contract's chart, table and bill change load by themselves.
    detail_url = f"/mi-oficina/consumos?contrato={account.id}"
    detail = {**HTMX, "HX-Target": f"div#consumo-detalle-{account.id}"}
    lazy = measure(client, detail_url, detail)
    print(f"| `{detail_url}` lazy detail (HX-Target `#consumo-detalle-{account.id}`) "
          f"| {lazy.html_bytes:,} B ({lazy.encoding}) "
          f"| {queries(app, client, detail_url, detail)} |")
    page = decoded_text(client.get("/mi-oficina/consumos", headers={"Accept-Encoding": "br"}))
    [svg] = re.findall(r'<svg class="chart".*?</svg>', page, re.S)
    bars = len(re.findall(r"<rect ", svg.split('class="chart__bars"')[1].split("</g>")[0]))
    print(f"| the chart's SVG ({bars} bars) | {compressed(svg)} | |")
    change = re.search(r'<section class="bill-change".*?</section>', page, re.S).group(0)
    print(f"| Mis consumos' \"¿Por qué cambió?\" | {compressed(change)} | |")
    invoice = decoded_text(client.get(invoice_url, headers={"Accept-Encoding": "br"}))
    change = re.search(r'<section class="bill-change".*?</section>', invoice, re.S).group(0)
    parts = change.count("<li>")
    print(f"| the invoice's \"¿Por qué cambió?\" ({parts} parts) | {compressed(change)} | |")


def main() -> None:
    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({
            "INSTANCE_PATH": instance, "SECRET_KEY": "bench", "OV_MAIL_BACKEND": "locmem",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/bench.sqlite3",
        })
        with app.app_context():
            upgrade()
            demo_data.load_demo_data(accounts=20)
        pages(app)
        registration(app)
        office(app)
        consumption(app)


if __name__ == "__main__":
    main()
