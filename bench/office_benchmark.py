"""Server time of the Mi oficina pages on a large database (not part of the test suite).

    OV_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/ov_bench \\
        .venv/bin/python bench/office_benchmark.py [--requests 300]

The database must hold the 100,000-account demo data (`make demo-100k`). The script links a
benchmark user to the seed guide's contract (creating it the first time), signs in through
/entrar, then times each page through the WSGI app in-process: the time the server spends,
without network. It prints the median and 95th percentile per page and the SQL statements
each request runs.
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

from sqlalchemy import event, select  # noqa: E402

from ov import create_app  # noqa: E402
from ov.extensions import db  # noqa: E402
from ov.models import Account, User, UserAccount, Zone  # noqa: E402
from ov.services import passwords  # noqa: E402
from tests.support.journeys import sign_in  # noqa: E402

USERNAME = "benchUsuario1"
PASSWORD = "Tq7mZ2pLx9"


def bench_user(app) -> None:
    with app.app_context():
        account = db.session.scalars(
            select(Account).join(Zone).where(Zone.name == "Nuevo Laredo",
                                             Account.number == "8295249")
        ).one()
        user = db.session.scalars(select(User).where(User.username == USERNAME)).first()
        if user is None:
            user = User(username=USERNAME, email="bench@ejemplo.mx",
                        password_hash=passwords.hash_password(PASSWORD))
            db.session.add(user)
            db.session.flush()
            db.session.add(UserAccount(user_id=user.id, account_id=account.id))
        user.password_hash = passwords.hash_password(PASSWORD)
        user.failed_logins, user.locked_until = 0, None
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    if not os.environ.get("OV_DATABASE_URL"):
        sys.exit("Set OV_DATABASE_URL to the database with the 100,000-account demo data.")
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"INSTANCE_PATH": instance, "SECRET_KEY": "bench"})
        bench_user(app)
        client = app.test_client()
        response = sign_in(client, USERNAME, PASSWORD)
        assert response.status_code == 303, response.status_code
        with app.app_context():
            from ov.services import office

            user_id = db.session.scalar(select(User.id).where(User.username == USERNAME))
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
