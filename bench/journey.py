"""The mixed journey under load: Locust's customers against two app processes.

    OV_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/ov_bench \\
    OV_REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python bench/journey.py [--customers 50] [--users 200] [--duration 60s]
        [--write]

1. Prepares ``--users`` portal users, ``benchcliente00001`` and on, each linked to an
   account of the demo data that had no user (never the seed guide's contract, never an
   account someone registered). Their password is hashed once and the hash given to all. A
   second run finds them and reuses them as they are; no other user is touched.
2. Starts gunicorn on 127.0.0.1: ``-k gthread -w 2 --threads 4`` (two app processes sharing
   the database and Redis named by OV_DATABASE_URL and OV_REDIS_URL; a fresh instance folder
   and secret key; every other setting, OV_SESSION_IDLE_MINUTES included, as the
   environment has it).
3. Runs bench/locustfile.py headless (FastHttpUser, no think time) with ``--customers``
   customers at once, all started within the first second, statistics reset once they all
   run, for ``--duration``; Locust is pinned with taskset to the last CPU (``--locust-cpu``),
   the server is not pinned. Then stops the server.
4. Prints requests/s, p50/p95/p99 per request and in total, and the failures, as Markdown;
   ``--write`` puts it in the ``journey`` section of docs/performance.md.

The target (issue 12) is ≥ 300 requests/s with p95 ≤ 100 ms and no failure on the 2-core
machine; the load generator shares it with the server, so the figure is that of both.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import resource
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PERFORMANCE = ROOT / "docs" / "performance.md"
PREFIX = "benchcliente"
#: The prepared users' password (they exist only in benchmark databases).
PASSWORD = "Bq4mZ8pLx2"
EMAIL_DOMAIN = "bench.oficinavirtual.example"
TARGET_RPS, TARGET_P95_MS = 300, 100

from harness import CLOCK_TICKS, cpu_seconds, descendants, free_port  # noqa: E402
from report import replace_section  # noqa: E402

# --- the bench users ------------------------------------------------------------------------

def username(number: int, prefix: str = PREFIX) -> str:
    return f"{prefix}{number:05d}"


def bench_email(name: str) -> str:
    return f"{name}@{EMAIL_DOMAIN}"


def prepare_users(app, count: int, prefix: str = PREFIX, password: str = PASSWORD) -> dict:
    """Make sure ``count`` bench users exist, each linked to an account of its own.

    Only users this function made are reused (their address is on the bench domain); an
    account is given to a new bench user only if no user holds it, it has invoices and it is
    not the seed guide's contract. Returns how many were found and how many made."""
    from sqlalchemy import exists, select

    from ov.extensions import db
    from ov.models import Account, Invoice, User, UserAccount, Zone
    from ov.models.common import utcnow
    from ov.services import demo_data, passwords

    wanted = [username(n, prefix) for n in range(1, count + 1)]
    with app.app_context():
        found = {user.username: user for user in db.session.scalars(
            select(User).where(User.username.in_(wanted)))}
        strangers = [name for name, user in found.items()
                     if user.email != bench_email(name)]
        if strangers:
            raise SystemExit(f"{strangers[0]} is a user this benchmark did not make: choose "
                             "another --prefix.")
        unlinked = [user for user in found.values() if not user.links]
        missing = [name for name in wanted if name not in found]
        needed = len(missing) + len(unlinked)
        if needed:
            seed = select(Account.id).join(Zone).where(
                Zone.code == demo_data.SEED_ZONE_CODE,
                Account.number == demo_data.SEED_ACCOUNT_NUMBER)
            free = list(db.session.scalars(
                select(Account.id)
                .where(~exists().where(UserAccount.account_id == Account.id),
                       exists().where(Invoice.account_id == Account.id),
                       Account.id.not_in(seed))
                .order_by(Account.id).limit(needed)))
            if len(free) < needed:
                raise SystemExit(f"Only {len(free)} accounts with invoices and no user are "
                                 f"left; {needed} are needed (fewer --users?).")
            accounts = iter(free)
            now = utcnow()
            password_hash = passwords.hash_password(password) if missing else None
            for name in missing:
                user = User(username=name, email=bench_email(name), password_hash=password_hash,
                            email_confirmed_at=now, password_changed_at=now,
                            legal_version_accepted=app.config["OV_LEGAL_VERSION"],
                            legal_accepted_at=now)
                db.session.add(user)
                unlinked.append(user)
            db.session.flush()
            for user in unlinked:
                db.session.add(UserAccount(user_id=user.id, account_id=next(accounts)))
            db.session.commit()
        return {"reused": len(found), "made": len(missing)}


def database_summary(app) -> str:
    from sqlalchemy import func, select

    from ov.extensions import db
    from ov.models import Account

    with app.app_context():
        accounts = db.session.scalar(select(func.count()).select_from(Account))
        kind = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}.get(
            db.engine.dialect.name, db.engine.dialect.name)
        version = db.session.connection().dialect.server_version_info or ()
    return f"{kind} {'.'.join(map(str, version[:2]))}, {accounts:,} accounts"


def bench_app(instance: str):
    from ov import create_app

    return create_app({"INSTANCE_PATH": instance, "SECRET_KEY": "bench-prepare",
                       "OV_MAIL_BACKEND": "locmem"})


# --- the server -----------------------------------------------------------------------------

def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 (local URL)
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


class Server:
    """gunicorn serving the portal on 127.0.0.1 (stopped, and waited for, on exit)."""

    def __init__(self, instance: str, workers: int, threads: int, log: Path,
                 cpus: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [str(BIN / "gunicorn"), "-k", "gthread", "-w", str(workers),
                        "--threads", str(threads), "-b", f"127.0.0.1:{self.port}",
                        "ov:create_app()"]
        env = {**os.environ, "OV_INSTANCE_PATH": instance,
               "OV_SECRET_KEY": secrets.token_urlsafe(32)}
        self.log = log
        pin = ["taskset", "-c", cpus] if cpus else []
        with open(log, "w") as output:
            self.process = subprocess.Popen(pin + self.command, cwd=ROOT, env=env,
                                            stdout=output, stderr=subprocess.STDOUT)

    def __enter__(self) -> Server:
        try:
            wait_until_up(f"{self.url}/healthz", self.process)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- Locust and its figures -----------------------------------------------------------------

def run_locust(host: str, customers: int, users: int, duration: str, prefix: str,
               csv_prefix: Path, cpu: str | None) -> tuple[list[str], int]:
    command = [str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
               "-u", str(customers), "-r", str(customers), "-t", duration, "--host", host,
               "--reset-stats", "--only-summary", "--csv", str(csv_prefix),
               "--bench-users", str(users), "--bench-prefix", prefix,
               "--loglevel", "WARNING"]
    pin = ["taskset", "-c", cpu] if cpu else []
    env = {**os.environ, "OV_BENCH_PASSWORD": PASSWORD}
    finished = subprocess.run(pin + command, cwd=ROOT, env=env, check=False)
    return pin + command, finished.returncode


def read_stats(csv_prefix: Path) -> list[dict]:
    with open(f"{csv_prefix}_stats.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def read_failures(csv_prefix: Path) -> list[dict]:
    path = Path(f"{csv_prefix}_failures.csv")
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


ORDER = ["GET /entrar", "POST /entrar", "GET /mi-oficina", "GET /mi-oficina/facturas",
         "GET /mi-oficina/facturas/[id]", "GET /mi-oficina/facturas/[id]/duplicado.pdf",
         "POST /salir"]


def _ms(value: str) -> str:
    return f"{float(value):,.0f} ms" if value not in ("", "N/A") else "—"


def table(rows: list[dict]) -> str:
    def key(row: dict) -> tuple:
        name = f"{row['Type']} {row['Name']}".strip()
        return (row["Name"] == "Aggregated", ORDER.index(name) if name in ORDER else 99, name)

    lines = ["| request | requests | failures | requests/s | p50 | p95 | p99 | max |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in sorted(rows, key=key):
        name = "**total**" if row["Name"] == "Aggregated" else f"`{row['Type']} {row['Name']}`"
        lines.append(
            f"| {name} | {int(row['Request Count']):,} | {int(row['Failure Count']):,} "
            f"| {float(row['Requests/s']):,.1f} | {_ms(row['50%'])} | {_ms(row['95%'])} "
            f"| {_ms(row['99%'])} | {_ms(row['Max Response Time'])} |")
    return "\n".join(lines)


#: Who used the machine during the run, by process name (/proc/<pid>/comm).
SERVICES = {"postgres": "PostgreSQL", "redis-server": "Redis"}


def service_pids() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {label: [] for label in SERVICES.values()}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if name in SERVICES:
                found[SERVICES[name]].append(int(entry.name))
    return found


def machine_busy_seconds() -> float:
    """CPU time every core spent not idle, from /proc/stat (all processes)."""
    user, nice, system, _idle, _iowait, irq, softirq = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8])
    # Not idle, iowait nor steal (another machine's time on this host's cores).
    return (user + nice + system + irq + softirq) / CLOCK_TICKS


class CpuUse:
    """CPU seconds used during a block by the app server, the database, Redis, Locust (a
    child process run inside the block) and the whole machine."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def _sample(self) -> dict[str, float]:
        sample = {label: cpu_seconds(pids) for label, pids in service_pids().items()}
        sample["gunicorn"] = cpu_seconds(descendants(self.server_pid))
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        sample["Locust"] = children.ru_utime + children.ru_stime
        sample["machine"] = machine_busy_seconds()
        return sample

    def __enter__(self) -> CpuUse:
        self.started, self.before = time.monotonic(), self._sample()
        return self

    def __exit__(self, *_exc) -> None:
        after = self._sample()
        self.wall = time.monotonic() - self.started
        self.used = {key: after[key] - self.before[key] for key in after}

    def markdown(self, requests_per_second: float) -> str:
        """Cores used by each part, and its CPU per request at the run's rate."""
        shown = ["gunicorn", "PostgreSQL", "Redis", "Locust"]
        other = self.used["machine"] - sum(self.used[key] for key in shown)
        lines = ["| part | cores used | CPU per request |", "|---|---:|---:|"]
        for key, seconds in [*((k, self.used[k]) for k in shown), ("other", other),
                             ("**the machine**", self.used["machine"])]:
            cores = seconds / self.wall
            per_request = cores * 1000 / requests_per_second if requests_per_second else 0
            lines.append(f"| {key} | {cores:.2f} | {per_request:.2f} ms |")
        return "\n".join(lines)


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                "ov"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
    return f"{head}+changes" if dirty else head


def redacted(url: str) -> str:
    import re

    return re.sub(r"(//[^/:@]+):[^/@]+@", r"\1:***@", url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", "-u", type=int, default=50,
                        help="simulated customers at once (default 50)")
    parser.add_argument("--users", type=int, default=200,
                        help="bench users to prepare and sign in as, in turn (default 200)")
    parser.add_argument("--duration", "-t", default="60s",
                        help="measured time after all customers started (Locust's -t)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per process")
    parser.add_argument("--prefix", default=PREFIX, help="the bench users' usernames' start")
    cpus = os.cpu_count() or 1
    parser.add_argument("--locust-cpu", default=str(cpus - 1) if cpus > 1 else "none",
                        help="CPU list for taskset to pin Locust to ('none': not pinned)")
    parser.add_argument("--server-cpus", default="none",
                        help="CPU list for taskset to pin gunicorn to ('none': not pinned)")
    parser.add_argument("--prepare-only", action="store_true",
                        help="prepare the bench users and stop")
    parser.add_argument("--write", action="store_true",
                        help="write the table into the journey section of docs/performance.md")
    args = parser.parse_args()
    if args.customers > args.users:
        parser.error("--customers must not exceed --users: each customer signs in as a user "
                     "of its own")
    if not os.environ.get("OV_DATABASE_URL"):
        sys.exit("Set OV_DATABASE_URL to the database with the demo data (the benchmark is "
                 "meant for the 100,000 accounts on PostgreSQL) and OV_REDIS_URL to Redis.")
    locust_cpu = None if args.locust_cpu == "none" else args.locust_cpu
    server_cpus = None if args.server_cpus == "none" else args.server_cpus
    if (locust_cpu or server_cpus) and not shutil.which("taskset"):
        sys.exit("taskset is not installed: pass --locust-cpu none --server-cpus none")

    with tempfile.TemporaryDirectory(prefix="ov-journey-") as scratch:
        app = bench_app(str(Path(scratch) / "prepare"))
        started = time.monotonic()
        prepared = prepare_users(app, args.users, args.prefix)
        print(f"bench users: {prepared['reused']} reused, {prepared['made']} made "
              f"({time.monotonic() - started:.1f} s)", file=sys.stderr)
        database = database_summary(app)
        if args.prepare_only:
            return
        load_before = load_average()
        log = Path(scratch) / "gunicorn.log"
        csv_prefix = Path(scratch) / "journey"
        with Server(str(Path(scratch) / "instance"), args.workers, args.threads, log,
                    server_cpus) as server, CpuUse(server.process.pid) as cpu:
            locust_command, code = run_locust(server.url, args.customers, args.users,
                                              args.duration, args.prefix, csv_prefix,
                                              locust_cpu)
        load_after = load_average()
        rows = read_stats(csv_prefix)
        failures = read_failures(csv_prefix)
        if code not in (0, 1) or not rows:
            sys.stdout.write(log.read_text()[-4000:])
            sys.exit(f"Locust exited with {code}")
        server_log = log.read_text()

    total = next(row for row in rows if row["Name"] == "Aggregated")
    rps, p95 = float(total["Requests/s"]), float(total["95%"] or 0)
    failed = int(total["Failure Count"])
    met = rps >= TARGET_RPS and p95 <= TARGET_P95_MS and failed == 0
    invocation = shlex.join([".venv/bin/python", "bench/journey.py", *sys.argv[1:]])
    settings = " ".join(f"{name}={shlex.quote(redacted(os.environ[name]))}"
                        for name in ("OV_DATABASE_URL", "OV_REDIS_URL") if os.environ.get(name))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    server = (f"`gunicorn -k gthread -w {args.workers} --threads {args.threads}`"
              + (f" pinned to CPU {server_cpus}" if server_cpus else " (not pinned)"))
    lines = [
        "## Mixed journey (Locust)",
        "",
        f"- Command: `{settings} {invocation}`",
        f"- Date: {now}; commit `{git_commit()}`; {os.cpu_count()} CPUs; load average "
        f"(1, 5, 15 min) {load_before} before the run, {load_after} at its end",
        f"- Server: {server}, {args.workers} app processes sharing {database}"
        + (" and Redis" if os.environ.get("OV_REDIS_URL") else " (no Redis: sessions in the "
           "database)"),
        f"- Load: Locust FastHttpUser, {args.customers} customers at once, no think time, "
        f"{args.duration} measured after all started (`--reset-stats`); each journey signs "
        f"in as one of {args.users} bench users, taken in turn; Locust "
        + (f"pinned to CPU {locust_cpu}" if locust_cpu else "not pinned"),
        "- Journey (bench/locustfile.py), each one without cookies at first: `GET /entrar`, "
        "`POST /entrar` (its CSRF token), `GET /mi-oficina`, `GET /mi-oficina/facturas`, "
        "the first invoice listed (the newest), its PDF duplicate, `POST /salir`",
        f"- Locust: `{shlex.join(locust_command).replace(str(ROOT) + '/', '')}`; the figures "
        "are its CSV (`_stats.csv`, written each second: the last second may be missing); "
        "percentiles as Locust rounds them",
        "",
        table(rows),
        "",
        f"Where the CPU went during the whole Locust run ({cpu.wall:.0f} s, ramp-up "
        f"included; CPU per request at {rps:,.1f} requests/s; `other` is every other "
        "process, the kernel's network work among them):",
        "",
        cpu.markdown(rps),
        "",
        f"Total: **{rps:,.1f} requests/s**, p95 {_ms(total['95%'])}, {failed:,} failures. "
        f"Target ≥ {TARGET_RPS} requests/s with p95 ≤ {TARGET_P95_MS} ms and no failure: "
        + ("**met**." if met else "**not met**."),
    ]
    if failures:
        lines += ["", "| failure | occurrences |", "|---|---:|"]
        lines += [f"| `{row['Method']} {row['Name']}`: {row['Error']} | {row['Occurrences']} |"
                  for row in failures]
    markdown = "\n".join(lines) + "\n"
    print(markdown)
    if "Traceback" in server_log:
        print("The server logged a traceback:\n" + server_log[-3000:], file=sys.stderr)
    if args.write:
        replace_section(PERFORMANCE, "journey", markdown)
        print(f"written to {PERFORMANCE.relative_to(ROOT)} (section journey)", file=sys.stderr)
    sys.exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main()
