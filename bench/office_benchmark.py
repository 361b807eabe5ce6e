"""Server time of the Mi oficina pages on a large database (not part of the test suite).

    OV_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/ov_bench \\
        .venv/bin/python bench/office_benchmark.py [--requests 300]

The database must hold the 100,000-account demo data (`make demo-100k`). The script signs in
as a benchmark user of its own (``benchUsuario1``), then times each page through the WSGI app
in-process: the time the server spends, without network. It prints the median and 95th
percentile per page and the SQL statements each request runs.

The first run creates that user and links it to the seed guide's contract, or, when a
customer has registered that contract already (one user per contract), to the first contract
of the same zone nobody holds. Later runs reuse it as it is: its password is hashed again
only if it no longer matches, and no other user is ever read for writing or changed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import case, event, exists, select  # noqa: E402

from ov import create_app  # noqa: E402
from ov.extensions import db  # noqa: E402
from ov.models import Account, User, UserAccount, Zone, username_key  # noqa: E402
from ov.services import passwords  # noqa: E402
from tests.support.journeys import sign_in  # noqa: E402

USERNAME = "benchUsuario1"
PASSWORD = "Tq7mZ2pLx9"


SEED_ZONE, SEED_ACCOUNT = "Nuevo Laredo", "8295249"


def free_account() -> Account:
    """The seed guide's contract if nobody holds it, else the first contract nobody holds,
    of its zone first (the demo data gives them all the same 24 months)."""
    unheld = ~exists().where(UserAccount.account_id == Account.id)
    seed_first = case((Account.number == SEED_ACCOUNT, 0), else_=1)
    found = db.session.scalars(
        select(Account).join(Zone).where(unheld)
        .order_by(case((Zone.name == SEED_ZONE, 0), else_=1), seed_first, Account.id).limit(1)
    ).first()
    if found is None:
        sys.exit("Every contract has a user: none is free for the benchmark user.")
    return found


def bench_user(app) -> int:
    """The benchmark user's id: created with a contract of its own the first time, reused
    afterwards (its password hashed again only when it no longer matches)."""
    with app.app_context():
        user = db.session.scalars(
            select(User).where(User.username_key == username_key(USERNAME))
        ).first()
        if user is None:
            user = User(username=USERNAME, email="bench@ejemplo.mx",
                        password_hash=passwords.hash_password(PASSWORD))
            user.links.append(UserAccount(account=free_account()))
            db.session.add(user)
        elif not passwords.verify_password(user.password_hash, PASSWORD):
            user.password_hash = passwords.hash_password(PASSWORD)
        user.failed_logins, user.locked_until, user.blocked_at = 0, None, None
        db.session.commit()
        return user.id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    if not os.environ.get("OV_DATABASE_URL"):
        sys.exit("Set OV_DATABASE_URL to the database with the 100,000-account demo data.")
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"INSTANCE_PATH": instance, "SECRET_KEY": "bench"})
        user_id = bench_user(app)
        client = app.test_client()
        response = sign_in(client, USERNAME, PASSWORD)
        assert response.status_code == 303, response.status_code
        with app.app_context():
            from ov.services import office

            newest = office.Scope.of(user_id).last_invoices(1)[0].id
        pages = ["/mi-oficina", "/mi-oficina/facturas", f"/mi-oficina/facturas/{newest}",
                 "/mi-oficina/pagos", "/mi-oficina/consumos"]
        with app.app_context():
            engine = db.engine
        statements: list[str] = []
        event.listen(engine, "before_cursor_execute",
                     lambda *a: statements.append(a[2]))
        print(f"| page | median | p95 | SQL statements | HTML (br) | tab swap (br) |"
              f"  ({args.requests} requests each)")
        print("|---|---|---|---|---|---|")
        swap = {"HX-Request": "true", "HX-Request-Type": "partial", "Accept-Encoding": "br"}
        for url in pages:
            for _ in range(20):
                client.get(url)
            times = []
            for _ in range(args.requests):
                statements.clear()
                start = time.perf_counter()
                assert client.get(url).status_code == 200
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            queries = len(statements)  # those of the last timed request
            full = len(client.get(url, headers={"Accept-Encoding": "br"}).get_data())
            fragment = len(client.get(url, headers=swap).get_data())
            print(f"| `{url}` | {statistics.median(times):.1f} ms | {p95:.1f} ms "
                  f"| {queries} | {full:,} B | {fragment:,} B |")


if __name__ == "__main__":
    main()
