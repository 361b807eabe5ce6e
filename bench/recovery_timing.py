"""How long recovery by email takes to answer, for a known and an unknown address, when the
mail server is slow (not part of the test suite: the tests show the same by events).

    .venv/bin/python bench/recovery_timing.py [--requests 20] [--smtp-delay 0.6]

A scratch SQLite database, one customer, the app on a real HTTP server on 127.0.0.1 and an
SMTP server (aiosmtpd) that waits ``--smtp-delay`` seconds before accepting each mail. Each
answer is timed from the POST to the page it redirects to, one at a time (on SQLite the mail
being handed over holds the write lock, so each request waits until the previous mail is
sent). Prints the median and 95th percentile per address.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from ov import create_app  # noqa: E402
from ov.extensions import db  # noqa: E402
from ov.services import mail  # noqa: E402
from tests.conftest import reset_schema, settings_for  # noqa: E402
from tests.support.factories import make_customer  # noqa: E402
from tests.support.journeys import hidden  # noqa: E402
from tests.support.smtp import BackgroundMail, free_port  # noqa: E402

KNOWN, UNKNOWN = "cliente@ejemplo.mx", "nadie@ejemplo.mx"


class SlowServer:
    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--smtp-delay", type=float, default=0.6)
    args = parser.parse_args()
    port = free_port()
    smtp = Controller(SlowServer(args.smtp_delay), hostname="127.0.0.1", port=port)
    smtp.start()
    with tempfile.TemporaryDirectory() as instance:
        app = create_app(settings_for(Path(instance)) | {
            "OV_MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port,
            "OV_RECOVERY_IP_LIMIT": "10000 per hour", "OV_RECOVERY_EMAIL_LIMIT": "10000 per hour",
        })
        reset_schema(app)
        with app.app_context():
            make_customer()
            db.session.commit()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        browser = requests.Session()
        spent: dict[str, list[float]] = {KNOWN: [], UNKNOWN: []}
        sender = BackgroundMail()
        mail._background = lambda: sender  # so the script can wait for each mail
        for _ in range(args.requests):
            for address, times in spent.items():
                token = hidden(browser.get(base + "/recuperar").text, "csrf_token")
                started = time.perf_counter()
                answer = browser.post(base + "/recuperar",
                                      data={"csrf_token": token, "correo": address})
                times.append(time.perf_counter() - started)
                assert answer.url == base + "/recuperar/enviado", answer.url
                if address == KNOWN:
                    sender.wait()  # the next answer is not measured behind this mail
        server.shutdown()
        sender.close()
        with app.app_context():
            db.engine.dispose()
    smtp.stop()
    print(f"SMTP server delay {args.smtp_delay:.2f} s, {args.requests} requests per address")
    print("| address | median | p95 |")
    print("|---|---:|---:|")
    for address, times in spent.items():
        p95 = statistics.quantiles(times, n=20)[-1]
        print(f"| {address} | {statistics.median(times) * 1000:.1f} ms | {p95 * 1000:.1f} ms |")


if __name__ == "__main__":
    main()
