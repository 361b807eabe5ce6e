"""Time the invoice duplicate (PDF) and print its size.

    .venv/bin/python bench/pdf_benchmark.py [--runs 200]

Loads the demo data into a throw-away SQLite database, takes the seed contract's newest
invoice (Nuevo Laredo, account 8295249, ``ZE40389382``) and an overdue and a paid one of the
same account, builds each one's coupon, then generates each PDF ``--runs`` times. Only the
PDF generation is timed (``time.perf_counter()``), with the rows already loaded.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import selectinload  # noqa: E402

from ov import create_app  # noqa: E402
from ov.extensions import db  # noqa: E402
from ov.models import Account, Invoice, InvoiceStatus  # noqa: E402
from ov.services import demo_data, documents, references  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    runs = parser.parse_args().runs
    today = date.today()
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({
            "INSTANCE_PATH": instance,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/bench.sqlite3",
        })
        with app.app_context():
            upgrade()
            demo_data.load_demo_data(accounts=20, today=today)
            account = db.session.scalars(
                select(Account).where(Account.number == demo_data.SEED_ACCOUNT_NUMBER)
            ).one()
            invoices = db.session.scalars(
                select(Invoice)
                .where(Invoice.account_id == account.id)
                .options(selectinload(Invoice.lines))
                .order_by(Invoice.issue_date.desc())
            ).all()
            wanted = {"newest": invoices[0]}
            for invoice in invoices:
                status = invoice.status_on(today)
                if status is InvoiceStatus.OVERDUE:
                    wanted.setdefault("overdue", invoice)
                elif status is InvoiceStatus.PAID:
                    wanted.setdefault("paid", invoice)

            print(f"{runs} runs each, {today:%d/%m/%Y}, Python {sys.version.split()[0]}")
            print("| invoice | status | size | median | p95 | max |")
            print("|---|---|---|---|---|---|")
            for label, invoice in wanted.items():
                coupon = references.coupon_for(account, invoice, today)
                pdf = documents.invoice_pdf(invoice, account, account.zone, coupon, today=today)
                timings = []
                for _ in range(runs):
                    started = time.perf_counter()
                    documents.invoice_pdf(invoice, account, account.zone, coupon, today=today)
                    timings.append((time.perf_counter() - started) * 1000)
                print(
                    f"| {label} `{invoice.number}` | {invoice.status_on(today).value} "
                    f"| {len(pdf):,} B | {statistics.median(timings):.1f} ms "
                    f"| {percentile(timings, 0.95):.1f} ms | {max(timings):.1f} ms |"
                )
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
