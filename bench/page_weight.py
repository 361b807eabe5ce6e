"""Print the compressed weight of every page the portal serves (Markdown tables).

    .venv/bin/python bench/page_weight.py

Uses the same measurement as the tests (tests/support/weight.py): the app answers with
``Accept-Encoding: br, gzip``; "first visit" adds every stylesheet, script and icon the page
loads. A temporary SQLite database with a little demo data stands behind it. A second table
walks the registration (steps, swaps, inline validation) as htmx would ask for it; a third
registers the seed guide's contract, signs in and weighs every Mi oficina page and its tab
swap.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from ov import create_app  # noqa: E402
from ov.services import demo_data  # noqa: E402
from tests.support.journeys import Registration, sign_in  # noqa: E402
from tests.support.pages import ERROR_PAGES, page_urls  # noqa: E402
from tests.support.weight import measure  # noqa: E402

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


if __name__ == "__main__":
    main()
