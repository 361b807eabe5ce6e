"""Overload of Mi oficina home through nginx: fast 503s, no timeouts, recovery (not a test).

    OV_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/ov_bench \\
        .venv/bin/python bench/overload.py [--duration 10]

nginx (the documented site, deploy/nginx/oficina-virtual.conf without TLS, or
``--nginx-config``) in front of gunicorn
``-k gthread -w 2 --threads 4`` with ``OV_TRUSTED_PROXIES=1``, so the bounded queue
(ov/overload.py, ``OV_QUEUE_LIMIT_MS``) reads nginx's ``X-Request-Start``. A benchmark user
signs in once; closed-loop clients (each one connection, one request after another, with a
``--timeout``) then GET /mi-oficina:

1. at growing concurrency (``--levels``): the saturating concurrency is the smallest one
   whose 200s per second reach 90 % of the best level's;
2. at twice that concurrency, and at ``--surge`` connections (a billing-day crowd): the share
   of 503s and their latency, p50/p99 of the 200s, timeouts and 500s (both must be 0), and
   whether every 503 says ``Retry-After``;
3. after the surge and a pause of ``Retry-After`` seconds, a normal run (the busiest level
   below saturation that got no 503): all 200 (recovery).

The result is the ``overload`` section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, report  # noqa: E402

ENV_SHOWN = ("OV_DATABASE_URL", "OV_REDIS_URL", "OV_QUEUE_LIMIT_MS")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per run")
    parser.add_argument("--step-duration", type=float, default=None,
                        help="seconds per saturation step (default: --duration)")
    parser.add_argument("--levels", default="1,2,4,8,16,32,64")
    parser.add_argument("--surge", type=int, default=1024, help="connections of the surge run")
    parser.add_argument("--timeout", type=float, default=5, help="client timeout, seconds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--gunicorn-args", default="", help="more gunicorn flags, e.g. a -c file")
    parser.add_argument("--nginx-config", default=harness.DEPLOYED,
                        help="'deploy' (the documented site, without TLS) or an nginx.conf "
                             "template with @PORT@, @UPSTREAM@, @TEMP@")
    parser.add_argument("--path", default="/mi-oficina")
    parser.add_argument("--report", default=str(report.PERFORMANCE))
    parser.add_argument("--no-report", action="store_true")
    return parser.parse_args()


def row(label: str, connections: int, s: dict) -> str:
    def ms(value: float) -> str:
        return "–" if value != value else f"{value:,.0f}"

    retry = ("–" if not s["refused"] else
             "all" if s["refused_with_retry"] == s["refused"] else
             f"{s['refused_with_retry']:,} of {s['refused']:,}")
    return (f"| {label} | {connections:,} | {s['requests']:,} | {s['ok_rate']:,.0f} "
            f"| {ms(s['ok_p50'])} | {ms(s['ok_p99'])} | {s['refused']:,} "
            f"({s['refused_share']:.0%}) | {ms(s['refused_p50'])} | {ms(s['refused_p99'])} "
            f"| {retry} | {s['timeouts']:,} | {s['server_errors']:,} "
            f"| {s['errors'] + s['other']:,} |")


HEAD = ("| Run | Connections | Answers | 200/s | 200 p50 (ms) | 200 p99 (ms) | 503s (share) "
        "| 503 p50 (ms) | 503 p99 (ms) | 503 with Retry-After | Timeouts | 500s "
        "| Other |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")


def main() -> None:
    args = parse()
    if not (os.environ.get("OV_DATABASE_URL") or os.environ.get("OV_INSTANCE_PATH")):
        sys.exit("Set OV_DATABASE_URL (the 100,000-account demo data), or OV_INSTANCE_PATH.")
    harness.raise_fd_limit()
    step = args.step_duration or args.duration
    levels = [int(x) for x in args.levels.split(",")]
    harness.prepare_user()
    env = {"OV_TRUSTED_PROXIES": "1",
           "OV_SESSION_IDLE_MINUTES": os.environ.get("OV_SESSION_IDLE_MINUTES", "600")}
    rows, steps = [], []
    with harness.Gunicorn("ov:create_app()", workers=args.workers, threads=args.threads,
                          extra=args.gunicorn_args, env=env) as app, \
            harness.Nginx(f"127.0.0.1:{app.port}",
                         template=harness.nginx_template(args.nginx_config)) as proxy:
        cookie = {"Cookie": harness.sign_in(proxy.url)}
        harness.check_page(proxy.url, args.path, cookie["Cookie"])

        def run(connections: int, seconds: float) -> dict:
            outcomes = harness.load(proxy.url, args.path, connections=connections,
                                    duration=seconds, headers=cookie, timeout=args.timeout)
            result = harness.summary(outcomes, seconds)
            print(f"{connections} connections: {result['statuses']}, "
                  f"200 p99 {result['ok_p99']:.0f} ms", flush=True)
            return result

        run(levels[0], min(step, 3))  # warm-up
        for level in levels:
            steps.append((level, run(level, step)))
            harness.wait_quiet()
        best = max(s["ok_rate"] for _, s in steps)
        saturating = next(level for level, s in steps if s["ok_rate"] >= 0.9 * best)
        for level, s in steps:
            rows.append(row("growing" + (" (saturating)" if level == saturating else ""),
                            level, s))
        rows.append(row("**twice the saturating concurrency**", 2 * saturating,
                        run(2 * saturating, args.duration)))
        harness.wait_quiet()
        rows.append(row("**surge**", args.surge, run(args.surge, args.duration)))
        time.sleep(5)  # the 503's Retry-After
        # A normal load: the busiest level below saturation that needed no 503 at all.
        normal = max([level for level, s in steps if level < saturating and not s["refused"]
                      and not s["timeouts"]] or [1])
        recovery = run(normal, args.duration)
        rows.append(row("recovery, right after the surge", normal, recovery))
    table = HEAD + "\n" + "\n".join(rows) + "\n"
    print(table)
    if not args.no_report:
        text = (report.run_header(report.command_line(), ENV_SHOWN)
                + f"- Settings: nginx (`{harness.nginx_label(args.nginx_config)}`) → "
                f"gunicorn `-k gthread "
                f"-w {args.workers} --threads {args.threads}"
                + (f" {args.gunicorn_args}" if args.gunicorn_args else "")
                + f"`, `OV_TRUSTED_PROXIES=1`; closed-loop clients on `{args.path}` (signed in),"
                f" {args.duration:g} s per run ({step:g} s per growing step), client timeout "
                f"{args.timeout:g} s. Saturating concurrency: {saturating} (first level with "
                f"≥ 90 % of the best 200/s, {best:,.0f}).\n\n" + table)
        report.replace_section(args.report, "overload", "## Overload\n\n" + text)
    if recovery["ok"] != recovery["requests"]:
        sys.exit("recovery: not every answer was 200")


if __name__ == "__main__":
    main()
