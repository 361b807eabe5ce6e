"""Slow clients next to fast ones: does nginx keep 200 phones from slowing the rest? (not a test)

    OV_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/ov_bench \\
        .venv/bin/python bench/slow_clients.py [--duration 10] [--slow 200]

nginx (the documented site, deploy/nginx/oficina-virtual.conf without TLS, or
``--nginx-config``; it buffers answers) in front of
gunicorn ``-k gthread -w 2 --threads 4``. wrk (``--fast`` connections, pinned to CPU 1)
measures fast clients on Mi oficina home through nginx, three times:

1. alone;
2. while ``--slow`` slow clients fetch Mis facturas, a PDF duplicate and the htmx script
   through nginx, each reading at ``--rate`` bytes/s (50,000 B/s = 400 kbit/s) through a
   4 KB receive buffer, so a sender really waits for it;
3. the same slow clients straight to gunicorn, with no proxy to absorb their answers;
4. and 5. slow senders instead (``--upload-bytes``, 0 to skip): each POSTs a 60,000-byte form
   to /entrar at the same rate (the portal reads it and refuses it: no CSRF token), through
   nginx, which takes the whole body before it passes the request on, then straight to
   gunicorn, where a thread waits for the body.

The target: the fast clients' requests/s and p50/p99 with the slow clients through nginx not
more than 20 % worse than alone. The result is the ``slow-clients`` section of
docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, report  # noqa: E402

ENV_SHOWN = ("OV_DATABASE_URL", "OV_REDIS_URL")
#: A first visit on a phone: the script and stylesheet, then Mis facturas and a PDF.
SLOW_PATHS = ("/static/vendor/htmx/htmx-4.0.1.min.js", "/static/css/ov.css",
              "/mi-oficina/facturas", "/mi-oficina/facturas/<id>/duplicado.pdf")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds of each wrk run")
    parser.add_argument("--fast", type=int, default=4, help="wrk connections")
    parser.add_argument("--slow", type=int, default=200, help="slow clients")
    parser.add_argument("--rate", type=float, default=50_000, help="bytes/s per slow client")
    parser.add_argument("--think", type=float, default=10,
                        help="seconds a slow client waits after each answer (mean)")
    parser.add_argument("--slow-paths", default=",".join(SLOW_PATHS),
                        help="what slow clients fetch in turn (<id>: the newest invoice)")
    parser.add_argument("--upload-bytes", type=int, default=60_000,
                        help="also slow senders: each POSTs a form this large to /entrar at "
                        "--rate (0: skip; the portal refuses bodies over 64 KiB)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--gunicorn-args", default="", help="more gunicorn flags, e.g. a -c file")
    parser.add_argument("--nginx-config", default=harness.DEPLOYED,
                        help="'deploy' (the documented site, without TLS) or an nginx.conf "
                             "template with @PORT@, @UPSTREAM@, @TEMP@")
    parser.add_argument("--client-cpu", default="1")
    parser.add_argument("--no-direct", action="store_true",
                        help="skip the run with slow clients straight to gunicorn")
    parser.add_argument("--report", default=str(report.PERFORMANCE))
    parser.add_argument("--no-report", action="store_true")
    return parser.parse_args()


class SlowCrowd:
    """``count`` slow clients in a thread of their own, until ``stop()``."""

    def __init__(self, base_url: str, paths: list[str], count: int, rate: float,
                 cookie: str, think: float, body: bytes = b"") -> None:
        self.think = think
        host, port = base_url.removeprefix("http://").split(":")
        self.clients = [harness.Client(host, int(port), paths[i % len(paths)],
                                       {"Cookie": cookie}, rate, timeout=30, body=body)
                        for i in range(count)]
        self.outcomes: list[harness.Outcome] = []
        self.until = float("inf")
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def crowd() -> None:
            async def one(client: harness.Client) -> None:
                await asyncio.sleep(random.uniform(0, self.think))  # not all at once
                while time.monotonic() < self.until:
                    self.outcomes.append(await client.once())
                    await asyncio.sleep(random.uniform(0.5, 1.5) * self.think)
                client.close()

            await asyncio.gather(*(one(client) for client in self.clients))

        asyncio.run(crowd())

    def __enter__(self) -> SlowCrowd:
        self.thread.start()
        time.sleep(max(3, self.think))  # every slow client connected and reading
        self.started, self.before = time.monotonic(), len(self.outcomes)
        return self

    def __exit__(self, *exc) -> None:
        self.until = time.monotonic()
        self.seconds = self.until - self.started
        self.thread.join(180)
        self.outcomes = self.outcomes[self.before:]  # those that ended while wrk ran, or after


def main() -> None:
    args = parse()
    if not (os.environ.get("OV_DATABASE_URL") or os.environ.get("OV_INSTANCE_PATH")):
        sys.exit("Set OV_DATABASE_URL (the 100,000-account demo data), or OV_INSTANCE_PATH.")
    harness.raise_fd_limit()
    _user, invoice = harness.prepare_user()
    env = {"OV_TRUSTED_PROXIES": "1",
           "OV_SESSION_IDLE_MINUTES": os.environ.get("OV_SESSION_IDLE_MINUTES", "600")}
    slow_paths = [p.replace("<id>", str(invoice)) for p in args.slow_paths.split(",")]
    results = []
    with harness.Gunicorn("ov:create_app()", workers=args.workers, threads=args.threads,
                          extra=args.gunicorn_args, env=env) as app, \
            harness.Nginx(f"127.0.0.1:{app.port}",
                         template=harness.nginx_template(args.nginx_config)) as proxy:
        cookie = harness.sign_in(proxy.url)
        sizes = {path: harness.check_page(proxy.url, path, cookie) for path in slow_paths}

        def fast() -> dict:
            return harness.wrk(f"{proxy.url}/mi-oficina", connections=args.fast,
                               duration=args.duration, cpus=args.client_cpu,
                               headers={"Cookie": cookie}, count_statuses=True)

        fast()  # warm-up
        results.append(("fast clients alone", fast(), None))
        with SlowCrowd(proxy.url, slow_paths, args.slow, args.rate, cookie, args.think) as crowd:
            results.append((f"with {args.slow} slow clients through nginx", fast(), crowd))
        if not args.no_direct:
            harness.wait_quiet(3)
            with SlowCrowd(app.url, slow_paths, args.slow, args.rate, cookie, args.think) as crowd:
                results.append((f"with {args.slow} slow clients straight to gunicorn",
                                fast(), crowd))
        if args.upload_bytes:
            body = b"comentarios=" + b"x" * (args.upload_bytes - len(b"comentarios="))
            for label, base in (("through nginx", proxy.url), ("straight to gunicorn", app.url)):
                if base == app.url and args.no_direct:
                    continue
                harness.wait_quiet(3)
                with SlowCrowd(base, ["/entrar"], args.slow, args.rate, cookie, args.think,
                               body) as crowd:
                    results.append((f"with {args.slow} slow uploads {label}", fast(), crowd))
    table = summarize(results, args)
    print(table)
    if not args.no_report:
        listed = ", ".join(f"`{args.slow_paths.split(',')[i]}` ({sizes[p]:,} B)"
                           for i, p in enumerate(slow_paths))
        text = (report.run_header(report.command_line(), ENV_SHOWN)
                + f"- Settings: nginx (`{harness.nginx_label(args.nginx_config)}`) → "
                f"gunicorn `-k gthread "
                f"-w {args.workers} --threads {args.threads}"
                + (f" {args.gunicorn_args}" if args.gunicorn_args else "")
                + f"`; fast clients: wrk `-t1 -c{args.fast} -d{args.duration:g}s` on "
                f"`/mi-oficina` through nginx; slow clients: {args.slow} connections reading "
                f"{args.rate * 8 / 1000:,.0f} kbit/s each through a 4 KB receive buffer, "
                f"uncompressed, each waiting {args.think:g} s on average after an answer, "
                f"fetching in turn {listed}"
                + (f"; slow senders: the same, each POSTing {args.upload_bytes:,} B to "
                   "`/entrar` at that rate (answered 400: no CSRF token)"
                   if args.upload_bytes else "") + ".\n\n"
                + table)
        report.replace_section(args.report, "slow-clients", "## Slow clients\n\n" + text)


def summarize(results, args) -> str:
    alone = results[0][1]
    lines = ["| Run | Fast req/s | Change | Fast p50 (ms) | Fast p99 (ms) | p99 change "
             "| Fast non-2xx / errors | Slow answers/s | Slow answers by status |",
             "|---|--:|--:|--:|--:|--:|--:|--:|---|"]
    for label, run, crowd in results:
        fast = (f"| {label} | {run['rate']:,.1f} | {{change}} | {run['p50']:,.0f} "
                f"| {run['p99']:,.0f} | {{p99}} | {run['status']:,} / {run['errors']:,} ")
        if not crowd:
            lines.append(fast.format(change="–", p99="–") + "| – | – |")
            continue
        counts: dict[str, int] = {}
        for outcome in crowd.outcomes:
            name = {0: "timeout", -1: "error"}.get(outcome.status, str(outcome.status))
            counts[name] = counts.get(name, 0) + 1
        statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items()))
        lines.append(fast.format(change=f"{run['rate'] / alone['rate'] - 1:+.0%}",
                                 p99=f"{run['p99'] / alone['p99'] - 1:+.0%}")
                     + f"| {len(crowd.outcomes) / crowd.seconds:,.1f} | {statuses} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
