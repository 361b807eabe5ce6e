"""Print the weight of every page a customer can open (Markdown tables).

    .venv/bin/python bench/page_weight.py [--write]

Uses the same measurement as the tests (tests/support/weight.py), through the app itself. The
first table has, for every page a customer can open (public pages, sign-in and recovery, the
registration's three steps walked through, and every Mi oficina page signed in): the HTML as
the app renders it, as the app sends it to ``Accept-Encoding: br`` and to ``gzip``, and the
first visit: the brotli HTML plus every stylesheet, script, icon and image it loads, as the
app sends them. A temporary SQLite database with a little demo data stands behind it. The
next table
walks the registration (steps, swaps, inline validation) as htmx would ask for it; a third
registers the seed guide's contract, signs in and weighs every Mi oficina page and its tab
swap; a fourth weighs Mis consumos (page, tab swap and the lazy load of the contract's
detail), its chart (the SVG alone, compressed as the page is) and the "¿Por qué cambió mi
factura?" section of the seed's newest invoice, with each answer's SQL query count.
``--write`` puts all of it in the ``weight`` section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gzip
import io
import logging
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import brotli  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from report import replace_section  # noqa: E402
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
GZIP = {"Accept-Encoding": "gzip"}
ROOT = Path(__file__).resolve().parent.parent
PERFORMANCE = ROOT / "docs" / "performance.md"
SIGNED_IN_USER = "usuPDFactura1"  # the seed guide's registration (tests/support/journeys.py)


def weigh_row(client, url: str, label: str | None = None) -> str:
    """One row: status, the HTML as rendered, as sent for br and for gzip, the first visit."""
    full = measure(client, url, BR)
    raw = len(decoded_text(client.get(url, headers=BR)).encode())
    zipped = client.get(url, headers=GZIP)
    return (f"| {label or f'`{url}`'} | {full.status} | {raw:,} B "
            f"| {full.html_bytes:,} B ({full.encoding or 'none'}) "
            f"| {len(zipped.get_data()):,} B ({zipped.headers.get('Content-Encoding') or 'none'}) "
            f"| {full.first_visit_bytes:,} B |")


def customer_pages(app) -> None:
    """Every page a customer can open, in the order they meet them; the registration is
    walked through with the seed guide's contract, whose user then signs in."""
    print("| page | status | HTML | sent for `br` | sent for `gzip` | first visit (br) |")
    print("|---|---|---|---|---|---|")
    anonymous = app.test_client()
    redirected = []
    for url in page_urls(app) + ERROR_PAGES:
        if url.startswith("/mi-oficina"):
            continue
        response = anonymous.get(url)
        if response.status_code != 200 and url not in ERROR_PAGES:
            redirected.append(url)  # needs a step before it: measured below, or listed
            continue
        print(weigh_row(anonymous, url))
    client = app.test_client()
    journey = Registration(client, app)
    assert journey.step1().status_code == 303
    print(weigh_row(client, "/registro/paso-2", "`/registro/paso-2` (after step 1)"))
    assert journey.step2().status_code == 303
    print(weigh_row(client, "/registro/paso-3", "`/registro/paso-3` (after step 2)"))
    done = journey.step3()
    assert done.status_code == 303, done.status_code
    print(weigh_row(client, "/registro/listo", "`/registro/listo` (registered)"))
    signed_in = app.test_client()
    assert sign_in(signed_in, SIGNED_IN_USER).status_code == 303
    with app.app_context():
        account = db.session.scalars(select(Account).where(
            Account.number == demo_data.SEED_ACCOUNT_NUMBER)).one()
        newest = db.session.scalars(select(Invoice.id).where(Invoice.account_id == account.id)
                                    .order_by(Invoice.issue_date.desc())).first()
    office_pages = [url for url in page_urls(app) if url.startswith("/mi-oficina")]
    office_pages += [f"/mi-oficina/facturas/{newest}",
                     f"/mi-oficina/contratos/{account.id}/quitar"]
    for url in office_pages:
        print(weigh_row(signed_in, url, f"`{url}` (signed in)"))
    measured = {"/registro/paso-2", "/registro/paso-3", "/registro/listo"}
    others = [url for url in redirected if url not in measured]
    print()
    print("HTML: the page as rendered; \"sent for\": the bytes on the wire for that "
          "`Accept-Encoding`; first visit: the brotli HTML plus every stylesheet, script, "
          "icon and image it loads (brotli), with an empty cache. Pages that answer only "
          f"after a step before them (otherwise a redirect or a 400) and are not walked here: "
          f"{', '.join(f'`{url}`' for url in others) or 'none'}; pages reached by a link "
          "with a token, and Mi oficina pages of a record the demo data does not give the "
          "seed's contract (a reading sent, a request, a privacy request), are weighed by "
          "their browser tests.")


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
    """Signed in as the seed guide's user, registered by ``customer_pages``."""
    client = app.test_client()
    assert sign_in(client, SIGNED_IN_USER).status_code == 303
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
    assert sign_in(client, SIGNED_IN_USER).status_code == 303
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


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true",
                        help="write the tables into the weight section of docs/performance.md")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    output, steps = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({
            "INSTANCE_PATH": instance, "SECRET_KEY": "bench", "OV_MAIL_BACKEND": "locmem",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/bench.sqlite3",
        })
        with app.app_context():
            upgrade()
            demo_data.load_demo_data(accounts=20)
        # The registration's swaps first: customer_pages registers the seed's contract.
        with contextlib.redirect_stdout(steps):
            registration(app)
        with contextlib.redirect_stdout(output):
            customer_pages(app)
            print(steps.getvalue(), end="")
            office(app)
            consumption(app)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = shlex.join([".venv/bin/python", "bench/page_weight.py", *sys.argv[1:]])
    markdown = (f"## Page weight\n\n- Command: `{command}`\n- Date: {now}; commit "
                f"`{git_commit()}`; the app in-process on a temporary SQLite database with "
                f"20 demo accounts (sizes do not depend on the machine)\n\n"
                f"{output.getvalue()}")
    print(markdown)
    if args.write:
        replace_section(PERFORMANCE, "weight", markdown)
        print(f"written to {PERFORMANCE.relative_to(ROOT)} (section weight)", file=sys.stderr)


if __name__ == "__main__":
    main()
