"""``make bench``: run the gunicorn benchmarks in order and write docs/performance.md.

    OV_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/ov_bench \\
        .venv/bin/python bench/run_all.py [--only cpu,overload,slow-clients] [--duration 10]

Each benchmark rewrites its own section (bench/report.py) with the exact command it ran, the
date, the commit and the machine: ``cpu`` (bench/cpu_per_request.py), ``overload``
(bench/overload.py) and ``slow-clients`` (bench/slow_clients.py). They run one after another,
never at once: each needs the machine's cores to itself. ``--quick`` makes short runs for
trying the harness; such figures are not measurements.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import report  # noqa: E402

HERE = Path(__file__).resolve().parent
SCRIPTS = {"cpu": ["cpu_per_request.py"], "overload": ["overload.py"],
           "slow-clients": ["slow_clients.py"], "journey": ["journey.py", "--write"],
           "weight": ["page_weight.py", "--write"], "lighthouse": ["lighthouse.py", "--write"]}
#: The benchmarks that take --duration in seconds and --gunicorn-args.
TIMED = {"cpu", "overload", "slow-clients"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(SCRIPTS),
                        help="which benchmarks, comma-separated: " + ", ".join(SCRIPTS))
    parser.add_argument("--duration", type=float, default=None, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of the CPU benchmark")
    parser.add_argument("--quick", action="store_true",
                        help="2-second runs, 2 rounds, a small surge: to try the harness")
    parser.add_argument("--gunicorn-args", default="", help="passed to every benchmark")
    parser.add_argument("--nginx-config", default="", help="passed to overload, slow-clients")
    parser.add_argument("--report", default=str(report.PERFORMANCE))
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SCRIPTS]
    if unknown:
        sys.exit(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(SCRIPTS)}")
    failed = []
    for name in chosen:
        script, *extra = SCRIPTS[name]
        command = [sys.executable, str(HERE / script), *extra]
        if name in TIMED and Path(args.report).resolve() != report.PERFORMANCE:
            command += ["--report", args.report]
        duration = args.duration or (2 if args.quick else None)
        if duration and name in TIMED:
            command += ["--duration", f"{duration:g}"]
        if duration and name == "journey":
            command += ["--duration", f"{duration:g}s"]
        if name == "cpu":
            rounds = args.rounds or (2 if args.quick else None)
            if rounds:
                command += ["--rounds", str(rounds)]
            if args.quick:
                command += ["--warmup", "1"]
        if name == "overload" and args.quick:
            command += ["--levels", "1,4,16", "--surge", "256"]
        if name == "slow-clients" and args.quick:
            command += ["--slow", "50"]
        if args.gunicorn_args and name in TIMED:
            command += ["--gunicorn-args", args.gunicorn_args]
        if args.nginx_config and name != "cpu":
            command += ["--nginx-config", args.nginx_config]
        print(f"== {name}: {' '.join(command)}", flush=True)
        if subprocess.run(command, check=False).returncode:
            failed.append(name)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
