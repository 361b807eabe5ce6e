"""Time the billing import and its peak memory, first and second run, on SQLite and
PostgreSQL.

    .venv/bin/python bench/import_benchmark.py --accounts 100000 \\
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/ov_import_bench] \\
        [--workdir /var/tmp/ov-import-bench]

1. The demo data of ``--accounts`` accounts (24 months) is loaded into a scratch SQLite
   database and written out with ``flask --app ov export-billing`` (kept in the workdir
   and reused by later runs with the same number of accounts).
2. For each database, an empty one is made and migrated, then ``flask --app ov
   import-billing`` runs twice on the export, each in its own process: the wall time
   (``time.perf_counter``) and the process's peak resident memory (``os.wait4``'s
   ``ru_maxrss``) of each run are printed as a Markdown table. With ``--postgres`` the
   database named in the URL is dropped and created again: never point it at data you
   keep.

Not part of ``make test``: at 100,000 accounts the export is about a gigabyte and the runs
take minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
FLASK = [sys.executable, "-m", "flask", "--app", "ov"]


def flask(args: list[str], env: dict[str, str], quiet: bool = True) -> tuple[float, int]:
    """Run one flask command; its wall time in seconds and peak RSS in MB."""
    started = time.perf_counter()
    process = subprocess.Popen([*FLASK, *args], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL if quiet else None,
                               stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    errors = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"flask {' '.join(args)} failed:\n{errors}")
    return seconds, usage.ru_maxrss // 1024


def environment(instance: Path, database_url: str | None) -> dict[str, str]:
    env = {**os.environ, "OV_INSTANCE_PATH": str(instance)}
    env.pop("OV_DATABASE_URL", None)
    if database_url:
        env["OV_DATABASE_URL"] = database_url
    return env


def make_export(workdir: Path, accounts: int) -> Path:
    export = workdir / f"export-{accounts}"
    if (export / "manifest.csv").is_file():
        print(f"reusing {export}")
        return export
    source = workdir / f"source-{accounts}"
    shutil.rmtree(source, ignore_errors=True)
    env = environment(source, None)
    flask(["init-db"], env)
    seconds, _ = flask(["demo-data", "--accounts", str(accounts), "--months", "24"], env)
    print(f"demo data: {seconds:.0f} s")
    seconds, _ = flask(["export-billing", str(export)], env)
    size = sum(path.stat().st_size for path in export.rglob("*") if path.is_file())
    print(f"export: {seconds:.0f} s, {size / 1e6:,.0f} MB")
    shutil.rmtree(source, ignore_errors=True)
    return export


def fresh_postgres(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}"'))
        connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def bench(name: str, export: Path, instance: Path, database_url: str | None) -> list[str]:
    shutil.rmtree(instance, ignore_errors=True)
    if database_url:
        fresh_postgres(database_url)
    env = environment(instance, database_url)
    flask(["init-db"], env)
    rows = []
    for run in ("first", "second"):
        seconds, peak = flask(["import-billing", str(export)], env)
        rows.append(f"| {name} | {run} | {seconds // 60:.0f} min {seconds % 60:.0f} s "
                    f"| {peak} MB |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--postgres", help="SQLAlchemy URL of a scratch PostgreSQL database")
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp/ov-import-bench"))
    parser.add_argument("--skip-sqlite", action="store_true")
    options = parser.parse_args()
    workdir = options.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    export = make_export(workdir, options.accounts)
    rows = ["| database | run | wall time | peak RSS (import process) |", "|---|---|---|---|"]
    if not options.skip_sqlite:
        rows += bench("SQLite", export, workdir / "sqlite", None)
    if options.postgres:
        rows += bench("PostgreSQL", export, workdir / "postgres", options.postgres)
    print(f"\n{options.accounts:,} accounts, 24 months:\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
