"""CPU per request and requests/s of the portal's pages next to two references (not a test).

    OV_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/ov_bench \\
        .venv/bin/python bench/cpu_per_request.py [--duration 10] [--rounds 5]

Three gunicorn servers with the same settings (``-k gthread -w 1 --threads 4``, plus
``--gunicorn-args``, e.g. ``"-c python:ov.gunicorn_config"``), each pinned to CPU 0 with
taskset: a bare WSGI app (bench/apps/bare.py), a minimal Flask app rendering a Jinja page
as large as /entrar (bench/apps/minimal_flask.py), and the portal. wrk, pinned to CPU 1,
loads one target at a time with a fixed number of connections; after a warm-up of each, the
targets take turns (round-robin) for ``--rounds`` rounds. CPU per request is the utime +
stime the server's processes (master and workers, /proc/<pid>/stat) spent during a run,
divided by the requests wrk completed in it. The medians over the rounds are reported, with
each target's ratios to both references, and written into the ``cpu`` section of
docs/performance.md.

The signed-in pages use a benchmark user (bench/harness.py) signed in once over HTTP.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, report  # noqa: E402

ENV_SHOWN = ("OV_DATABASE_URL", "OV_REDIS_URL")
#: The least a signed-in page costs here (bench/apps/signed_floor.py): measured when both
#: PostgreSQL and Redis are named, as the portal's signed-in pages are.
FLOOR = "Signed-in floor (session, 2 Core statements, page)"


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per target")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--gunicorn-args", default="", help="more gunicorn flags, e.g. a -c file")
    parser.add_argument("--accept-encoding", default="",
                        help="send this Accept-Encoding (e.g. br) to every target; default none")
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--client-cpu", default="1")
    parser.add_argument("--report", default=str(report.PERFORMANCE),
                        help="the Markdown file whose `cpu` section is rewritten")
    parser.add_argument("--no-report", action="store_true", help="print only")
    parser.add_argument("--note", default="", help="a line added under the table")
    return parser.parse_args()


def measure(server: harness.Gunicorn, url: str, args, headers=None) -> dict:
    before = server.cpu()
    run = harness.wrk(url, connections=args.connections, duration=args.duration,
                      cpus=args.client_cpu, headers=headers)
    spent = server.cpu() - before
    if run["status"] or run["errors"]:
        raise SystemExit(f"{url}: {run['status']} non-2xx answers, {run['errors']} errors")
    run["cpu_ms"] = spent * 1000 / max(run["requests"], 1)
    return run


def main() -> None:
    args = parse()
    if not (os.environ.get("OV_DATABASE_URL") or os.environ.get("OV_INSTANCE_PATH")):
        sys.exit("Set OV_DATABASE_URL (the 100,000-account demo data), or OV_INSTANCE_PATH "
                 "to an instance folder whose SQLite database holds demo data.")
    user_id, invoice = harness.prepare_user()
    common = {"threads": args.threads, "cpus": args.server_cpu, "extra": args.gunicorn_args}
    portal_env = {"OV_SESSION_IDLE_MINUTES": os.environ.get("OV_SESSION_IDLE_MINUTES", "600")}
    with harness.Gunicorn("ov:create_app()", env=portal_env, **common) as portal:
        page_bytes = harness.check_page(portal.url, "/entrar")
        cookie = harness.sign_in(portal.url)
        plain = {"Accept-Encoding": args.accept_encoding} if args.accept_encoding else None
        signed = {"Cookie": cookie, **(plain or {})}
        refs = {"BENCH_PAGE_BYTES": str(page_bytes)}
        with contextlib.ExitStack() as servers:
            bare = servers.enter_context(
                harness.Gunicorn("bench.apps.bare:app", env=refs, **common))
            minimal = servers.enter_context(
                harness.Gunicorn("bench.apps.minimal_flask:create_app()", env=refs, **common))
            targets = [
                ("Bare WSGI app", bare, "/", plain),
                ("Minimal Flask + Jinja page", minimal, "/", plain),
            ]
            if os.environ.get("OV_DATABASE_URL") and os.environ.get("OV_REDIS_URL"):
                home_bytes = harness.check_page(portal.url, "/mi-oficina", cookie)
                floor = servers.enter_context(harness.Gunicorn(
                    "bench.apps.signed_floor:create_app()", **common,
                    env={"BENCH_PAGE_BYTES": str(home_bytes), "BENCH_USER_ID": str(user_id)}))
                targets.append((FLOOR, floor, "/", plain))
            targets += [
                ("`/entrar` (anonymous, no cookie)", portal, "/entrar", plain),
                ("Mi oficina home", portal, "/mi-oficina", signed),
                ("Mis facturas", portal, "/mi-oficina/facturas", signed),
                ("An invoice", portal, f"/mi-oficina/facturas/{invoice}", signed),
                ("Its PDF duplicate", portal, f"/mi-oficina/facturas/{invoice}/duplicado.pdf",
                 signed),
            ]
            sizes = {name: harness.check_page(server.url, path, (h or {}).get("Cookie"))
                     for name, server, path, h in targets}
            for _name, server, path, headers in targets:
                harness.wrk(server.url + path, connections=args.connections,
                            duration=args.warmup, cpus=args.client_cpu, headers=headers)
            runs: dict[str, list[dict]] = {name: [] for name, *_ in targets}
            for number in range(args.rounds):
                for name, server, path, headers in targets:
                    run = measure(server, server.url + path, args, headers)
                    runs[name].append(run)
                    print(f"round {number + 1} {name}: {run['rate']:.0f} req/s, "
                          f"{run['cpu_ms']:.2f} ms CPU/request", flush=True)
    table = summarize(targets, runs, sizes)
    print(table)
    if not args.no_report:
        text = (report.run_header(report.command_line(), ENV_SHOWN)
                + f"- Settings: gunicorn `-k gthread -w 1 --threads {args.threads}"
                + (f" {args.gunicorn_args}" if args.gunicorn_args else "")
                + f"` pinned to CPU {args.server_cpu}; wrk `-t1 -c{args.connections}"
                f" -d{args.duration:g}s` pinned to CPU {args.client_cpu}"
                + (f", `Accept-Encoding: {args.accept_encoding}`" if args.accept_encoding
                   else ", no `Accept-Encoding`")
                + f"; {args.warmup:g} s warm-up per target, then {args.rounds} round-robin"
                " rounds; medians.\n\n"
                + table + (FLOOR_NOTE if any(t[0] == FLOOR for t in targets) else "")
                + (f"\n{args.note}\n" if args.note else ""))
        report.replace_section(args.report, "cpu", "## CPU per request\n\n" + text)


FLOOR_NOTE = (
    "\nThe signed-in floor (`bench/apps/signed_floor.py`) does only what every signed-in page "
    "must: it reads the session from Redis, checks the user and reads the last three invoices "
    "with two Core statements on one pre-pinged connection, and renders a page as large as Mi "
    "oficina home. Its ratio to the minimal Flask page is the most a signed-in page of this "
    "stack can reach on this machine; the portal's pages add CSRF, headers, logs, metrics, "
    "menus, formatting, the ORM and their other statements on top.\n")


def summarize(targets, runs, sizes) -> str:
    med = {name: (harness.median([r["rate"] for r in runs[name]]),
                  harness.median([r["cpu_ms"] for r in runs[name]]),
                  harness.median([r["p99"] for r in runs[name]])) for name in runs}
    bare_rate, bare_cpu, _ = med["Bare WSGI app"]
    flask_rate, flask_cpu, _ = med["Minimal Flask + Jinja page"]
    lines = ["| Target | URL | Body (B) | req/s | CPU/request (ms) | CPU min–max | p99 (ms) "
             "| req/s ÷ bare | req/s ÷ minimal Flask | CPU ÷ bare | CPU ÷ minimal Flask |",
             "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for name, _server, path, _headers in targets:
        rate, cpu, p99 = med[name]
        cpus = [r["cpu_ms"] for r in runs[name]]
        shown = path if not path.startswith("/mi-oficina/facturas/") else (
            "/mi-oficina/facturas/<id>" + ("/duplicado.pdf" if path.endswith(".pdf") else ""))
        lines.append(
            f"| {name} | `{shown}` | {sizes[name]:,} | {rate:,.0f} | {cpu:.2f} "
            f"| {min(cpus):.2f}–{max(cpus):.2f} | {p99:.1f} | {rate / bare_rate:.3f} "
            f"| {rate / flask_rate:.3f} | {cpu / bare_cpu:.1f}× | {cpu / flask_cpu:.1f}× |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
