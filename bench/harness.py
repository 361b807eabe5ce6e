"""What the gunicorn benchmarks share: servers, nginx, wrk, the benchmark user, an HTTP client.

Not part of the test suite. Servers listen on free ports of 127.0.0.1 and are stopped when
their ``with`` block ends; nothing here touches a customer's data (the benchmark user links
itself to a contract no one has registered, see ``bench_user``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
USERNAME = "benchUsuario1"
PASSWORD = "Tq7mZ2pLx9"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# wrk prints one JSON line when it is done: counts, errors, latency percentiles (µs) and,
# when statuses are counted, how many responses of each status.
WRK_LUA = r"""
local threads = {}
local counting = os.getenv("BENCH_COUNT_STATUS") == "1"
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
if counting then
  function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
  end
end
function done(summary, latency, requests)
  local counts = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s then for k, v in pairs(s) do counts[tostring(k)] = (counts[tostring(k)] or 0) + v end end
  end
  local parts = {}
  for k, v in pairs(counts) do table.insert(parts, string.format('"%s":%d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,' ..
    '"mean":%f,"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, table.concat(parts, ",")))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (gunicorn's master and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes and of their ended children, /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, and the children's it waited for (fields 14 to 17): a PostgreSQL
        # backend that ended during the run counts in the postmaster's.
        total += sum(int(value) for value in fields[11:15])
    return total / CLOCK_TICKS


@dataclass
class Gunicorn:
    """``gunicorn -k gthread -w N --threads T -b 127.0.0.1:PORT [extra] APP``, optionally pinned
    to CPUs with taskset. ``extra`` may name a config file (``-c python:ov.gunicorn_config``):
    the flags given here override it."""

    app: str
    workers: int = 1
    threads: int = 4
    cpus: str | None = None
    extra: str = ""
    env: dict = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen | None = None
    ready_path: str = "/healthz"

    def command(self) -> list[str]:
        pin = ["taskset", "-c", self.cpus] if self.cpus else []
        return [*pin, str(BIN / "gunicorn"), *shlex.split(self.extra), "-k", "gthread",
                "-w", str(self.workers), "--threads", str(self.threads),
                "-b", f"127.0.0.1:{self.port}", "--log-level", "warning", self.app]

    def __enter__(self) -> Gunicorn:
        self.port = self.port or free_port()
        env = {**os.environ, **self.env, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(self.command(), cwd=ROOT, env=env)
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ready(self) -> None:
        wait_for_port(self.port, self.process, 60)
        # Workers boot after the master binds: wait until each answers.
        deadline = time.monotonic() + 60
        while len(descendants(self.process.pid)) < self.workers + 1:
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn workers did not start")
            time.sleep(0.1)
        # Each worker loads the app after it forks: wait until answers come quickly.
        import requests

        quick = 0
        while quick < 3 * self.workers:
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer quickly within 60 s")
            started = time.monotonic()
            try:
                requests.get(f"{self.url}{self.ready_path}", timeout=10)
            except requests.RequestException:
                time.sleep(0.2)
                continue
            quick = quick + 1 if time.monotonic() - started < 1 else 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        return descendants(self.process.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pids())

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


NGINX_TEMPLATE = Path(__file__).resolve().parent / "nginx" / "bench.conf.template"
#: The documented site (docs/deploy.md), which ``deployed_site_template`` turns into a template.
DEPLOYED_SITE = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "oficina-virtual.conf"
#: ``--nginx-config deploy``: the documented site instead of a template file.
DEPLOYED = "deploy"
_MAIN_CONFIG = """# Made by bench/harness.py from deploy/nginx/oficina-virtual.conf (without TLS).
worker_processes 1;
worker_rlimit_nofile 16384;
pid @TEMP@/nginx.pid;
error_log @TEMP@/error.log warn;
events {
    worker_connections 4096;
}
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path @TEMP@/client_body;
    proxy_temp_path @TEMP@/proxy;
    fastcgi_temp_path @TEMP@/fastcgi;
    uwsgi_temp_path @TEMP@/uwsgi;
    scgi_temp_path @TEMP@/scgi;
"""


def deployed_site_template(site: Path = DEPLOYED_SITE) -> str:
    """The documented nginx site as a benchmark template: every setting as written there
    (buffers, timeouts, headers, compression off, the upstream's keep-alive), but listening
    for plain HTTP on ``@PORT@`` (the load generators speak no TLS), without the port-80
    redirect, logging into ``@TEMP@``, and answering its own 502 and 504 as such. Each
    change must find its line, so a reshaped site fails here rather than being benchmarked
    half-changed."""
    text = site.read_text()
    redirect = re.search(r"\nserver \{\n(?:(?!\n\}).)*return 301 [^\n]*\n\}\n", text, re.S)
    if redirect is None:
        raise SystemExit(f"{site}: no port-80 redirect server found")
    text = text[:redirect.start()] + "\n" + text[redirect.end():]
    changes = [
        (r"server 127\.0\.0\.1:8000 ", "server @UPSTREAM@ "),
        (r"listen 443 ssl http2;", "listen 127.0.0.1:@PORT@ backlog=4096;"),
        (r"\n\s*listen \[::\]:443 ssl http2;", ""),
        (r"\n\s*ssl_[a-z_]+ [^\n]*;", ""),
        (r"/var/log/nginx/", "@TEMP@/"),
        # nginx's own 502 and 504 (no answer from gunicorn) would become its 503 page with
        # Retry-After, which the overload figures could not tell from the app's bounded
        # queue: the benchmarks see them as they are.
        (r"\n\s*error_page 502 503 504 =503 @no_disponible;", ""),
    ]
    for pattern, replacement in changes:
        text, count = re.subn(pattern, replacement, text)
        if not count:
            raise SystemExit(f"{site}: {pattern!r} not found")
    return _MAIN_CONFIG + text + "}\n"


def nginx_label(choice: str) -> str:
    """How a report names the nginx configuration it ran."""
    if choice == DEPLOYED:
        return "deploy/nginx/oficina-virtual.conf, without TLS"
    return Path(choice).name


def nginx_template(choice: str) -> Path:
    """The template file for ``--nginx-config``: ``deploy`` (the documented site, written
    to a temporary file) or a path."""
    if choice != DEPLOYED:
        return Path(choice)
    with tempfile.NamedTemporaryFile("w", prefix="ov-deployed-site-", suffix=".conf",
                                     delete=False) as handle:
        handle.write(deployed_site_template())
    return Path(handle.name)


@dataclass
class Nginx:
    """nginx in the foreground, from a template (``bench/nginx/bench.conf.template`` or one
    given by ``--nginx-config``) in which ``@PORT@``, ``@UPSTREAM@`` and ``@TEMP@`` are filled
    in: where nginx listens, the gunicorn address, and a temporary directory."""

    upstream: str
    template: Path = NGINX_TEMPLATE
    port: int = 0
    process: subprocess.Popen | None = None
    temp: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> Nginx:
        self.port = self.port or free_port()
        self.temp = tempfile.TemporaryDirectory(prefix="ov-bench-nginx-")
        os.chmod(self.temp.name, 0o755)
        text = (Path(self.template).read_text().replace("@PORT@", str(self.port))
                .replace("@UPSTREAM@", self.upstream).replace("@TEMP@", self.temp.name))
        config = Path(self.temp.name) / "nginx.conf"
        config.write_text(text)
        self.process = subprocess.Popen(
            ["nginx", "-p", self.temp.name, "-c", str(config), "-g", "daemon off;"],
            stderr=subprocess.DEVNULL)
        try:
            wait_for_port(self.port, self.process, 15)
        except BaseException:
            self.__exit__()
            raise
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.temp:
            self.temp.cleanup()


def wrk(url: str, *, connections: int, duration: float, cpus: str | None = "1",
        headers: dict | None = None, threads: int = 1, timeout: float = 5,
        count_statuses: bool = False) -> dict:
    """One wrk run; its summary as a dict (latencies in ms, ``rate`` in requests/s)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_LUA)
    pin = ["taskset", "-c", cpus] if cpus else []
    command = [*pin, "wrk", "-t", str(threads), "-c", str(connections),
               "-d", f"{max(1, round(duration))}s", "--timeout", f"{timeout}s", "-s", script.name]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    env = {**os.environ, "BENCH_COUNT_STATUS": "1" if count_statuses else "0"}
    try:
        done = subprocess.run([*command, url], capture_output=True, text=True, env=env,
                              timeout=duration + 60)
    finally:
        os.unlink(script.name)
    if done.returncode:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    out = done.stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH-JSON "))
    result = json.loads(line.removeprefix("BENCH-JSON "))
    for key in ("p50", "p90", "p99", "max", "mean"):
        result[key] = result[key] / 1000
    result["rate"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "timeout"))
    return result


# --- The benchmark user ------------------------------------------------------------------

def bench_user(app) -> int:
    """Create or refresh the benchmark user and return its id. It is linked to the seed
    guide's contract if nobody registered that one, otherwise to the first contract that has
    no user; an existing customer's user, links and password are never touched."""
    from sqlalchemy import exists, select

    from ov.extensions import db
    from ov.models import Account, User, UserAccount, Zone
    from ov.services import passwords

    with app.app_context():
        user = db.session.scalars(select(User).where(User.username == USERNAME)).first()
        if user is None:
            unlinked = ~exists().where(UserAccount.account_id == Account.id)
            account = db.session.scalars(
                select(Account).join(Zone).where(Zone.name == "Nuevo Laredo",
                                                 Account.number == "8295249", unlinked)
            ).first() or db.session.scalars(
                select(Account).where(unlinked).order_by(Account.id).limit(1)).first()
            if account is None:
                raise SystemExit("Every contract has a user: no contract for the bench user.")
            user = User(username=USERNAME, email="bench@ejemplo.mx",
                        password_hash=passwords.hash_password(PASSWORD))
            db.session.add(user)
            db.session.flush()
            db.session.add(UserAccount(user_id=user.id, account_id=account.id))
        elif not passwords.verify_password(user.password_hash, PASSWORD):
            user.password_hash = passwords.hash_password(PASSWORD)
        user.failed_logins, user.locked_until = 0, None
        db.session.commit()
        return user.id


def newest_invoice(app, user_id: int) -> int:
    from ov.services import office

    with app.app_context():
        return office.Scope.of(user_id).last_invoices(1)[0].id


def prepare_user() -> tuple[int, int]:
    """The benchmark user's id and its newest invoice, on OV_DATABASE_URL."""
    from ov import create_app

    with tempfile.TemporaryDirectory() as instance:
        settings = {"SECRET_KEY": "bench"}
        if not os.environ.get("OV_INSTANCE_PATH"):
            settings["INSTANCE_PATH"] = instance
        app = create_app(settings)
        user_id = bench_user(app)
        return user_id, newest_invoice(app, user_id)


def sign_in(base_url: str) -> str:
    """Sign the benchmark user in through /entrar over HTTP; the ``Cookie`` header value of
    the session it got."""
    import requests

    with requests.Session() as http:
        page = http.get(f"{base_url}/entrar", timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]*)"', page.text).group(1)
        answer = http.post(f"{base_url}/entrar", allow_redirects=False, timeout=30,
                           data={"csrf_token": token, "usuario": USERNAME,
                                 "contrasena": PASSWORD})
        if answer.status_code != 303:
            raise SystemExit(f"sign-in answered {answer.status_code}, not 303")
        return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def check_page(base_url: str, path: str, cookie: str | None = None) -> int:
    """GET ``path`` once: the body's size; anything but a 200 stops the benchmark."""
    import requests

    headers = {"Accept-Encoding": "identity", **({"Cookie": cookie} if cookie else {})}
    answer = requests.get(f"{base_url}{path}", headers=headers,
                          allow_redirects=False, timeout=30)
    if answer.status_code != 200:
        raise SystemExit(f"GET {path} answered {answer.status_code}")
    return len(answer.content)


# --- A small asyncio HTTP/1.1 client (latency per status, slow readers) ----------------

class BodyCut(OSError):
    """The connection ended in the middle of a response body."""


@dataclass
class Outcome:
    status: int  # 0: timed out; -1: connection error
    seconds: float
    size: int = 0
    retry_after: str | None = None


async def _read_response(reader: asyncio.StreamReader, rate: float | None
                         ) -> tuple[int, int, str | None]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    size = 0
    started = time.monotonic()

    async def take(count: int) -> None:
        nonlocal size
        while count > 0:
            chunk = await reader.read(min(count, 4096))
            if not chunk:
                raise BodyCut("connection closed mid-body")
            count -= len(chunk)
            size += len(chunk)
            if rate:  # read no faster than `rate` bytes per second
                ahead = size / rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)

    if "content-length" in headers:
        await take(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            length = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if length == 0:
                await reader.readuntil(b"\r\n")
                break
            await take(length)
            await reader.readexactly(2)
    if headers.get("connection", "").lower() == "close":
        raise EOFError(status, size, headers.get("retry-after"))
    return status, size, headers.get("retry-after")


class Client:
    """One keep-alive connection that GETs a path again and again. ``rate`` (bytes/s) makes
    it a slow reader: a small receive buffer and reads paced to that rate, so the sender
    really has to wait for it, as for a phone on a weak network."""

    def __init__(self, host: str, port: int, path: str, headers: dict | None = None,
                 rate: float | None = None, timeout: float = 10, body: bytes = b"") -> None:
        self.host, self.port, self.path, self.rate, self.timeout = host, port, path, rate, timeout
        self.body = body
        headers = dict(headers or {})
        if body:  # a form sent at `rate` too: the slow upload of a phone
            headers.update({"Content-Type": "application/x-www-form-urlencoded",
                            "Content-Length": str(len(body))})
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        method = "POST" if body else "GET"
        self.request = (f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n"
                        ).encode()
        self.reader = self.writer = None

    async def _send_body(self) -> None:
        started, sent = time.monotonic(), 0
        while sent < len(self.body):
            chunk = self.body[sent:sent + 4096]
            self.writer.write(chunk)
            await self.writer.drain()
            sent += len(chunk)
            if self.rate:
                ahead = sent / self.rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)

    async def _connect(self) -> None:
        sock = socket.socket()
        if self.rate:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (self.host, self.port))
        self.reader, self.writer = await asyncio.open_connection(
            sock=sock, limit=4096 if self.rate else 2 ** 16)

    def close(self) -> None:
        if self.writer:
            self.writer.close()
        self.reader = self.writer = None

    async def once(self) -> Outcome:
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                reused = self.writer is not None
                if not reused:
                    await self._connect()
                self.writer.write(self.request)
                if self.body:
                    reused = False  # an upload is not sent twice
                    await self._send_body()
                try:
                    status, size, retry = await _read_response(self.reader, self.rate)
                except (asyncio.IncompleteReadError, ConnectionError) as lost:
                    partial = getattr(lost, "partial", b"")
                    if not reused or partial:
                        raise
                    # The server closed the idle keep-alive connection, as it may: a
                    # browser sends the request again on a new one, and so do we.
                    self.close()
                    await self._connect()
                    self.writer.write(self.request)
                    status, size, retry = await _read_response(self.reader, self.rate)
        except TimeoutError:
            self.close()
            return Outcome(0, time.monotonic() - started)
        except EOFError as closed:
            self.close()
            return Outcome(closed.args[0], time.monotonic() - started, *closed.args[1:])
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            self.close()
            return Outcome(-1, time.monotonic() - started)
        return Outcome(status, time.monotonic() - started, size, retry)

    async def loop(self, until: float, outcomes: list[Outcome]) -> None:
        while time.monotonic() < until:
            outcomes.append(await self.once())
        self.close()


async def _load(clients: list[Client], duration: float) -> list[Outcome]:
    outcomes: list[Outcome] = []
    until = time.monotonic() + duration
    await asyncio.gather(*(client.loop(until, outcomes) for client in clients))
    return outcomes


def load(base_url: str, path: str, *, connections: int, duration: float,
         headers: dict | None = None, timeout: float = 10, rate: float | None = None
         ) -> list[Outcome]:
    """``connections`` clients, each GETting ``path`` back to back for ``duration`` s."""
    host, port = base_url.removeprefix("http://").split(":")
    clients = [Client(host, int(port), path, headers, rate, timeout) for _ in range(connections)]
    return asyncio.run(_load(clients, duration))


def summary(outcomes: list[Outcome], duration: float) -> dict:
    """Counts by status, and latencies (ms) of the 200s and of the 503s."""
    by: dict[int, list[float]] = {}
    for outcome in outcomes:
        by.setdefault(outcome.status, []).append(outcome.seconds * 1000)
    ok, refused = by.get(200, []), by.get(503, [])
    return {
        "requests": len(outcomes), "rate": len(outcomes) / duration,
        "ok_rate": len(ok) / duration, "ok": len(ok), "refused": len(refused),
        "refused_share": len(refused) / max(len(outcomes), 1),
        "refused_with_retry": sum(1 for o in outcomes if o.status == 503 and o.retry_after),
        "timeouts": len(by.get(0, [])), "errors": len(by.get(-1, [])),
        "server_errors": sum(len(v) for k, v in by.items() if k >= 500 and k != 503),
        "other": sum(len(v) for k, v in by.items() if k not in (0, -1, 200, 503)
                     and k < 500),
        "ok_p50": percentile(ok, 0.5), "ok_p99": percentile(ok, 0.99),
        "refused_p50": percentile(refused, 0.5), "refused_p99": percentile(refused, 0.99),
        "statuses": {k: len(v) for k, v in sorted(by.items())},
    }


def raise_fd_limit() -> None:
    """As many open files as allowed: a thousand connections need more than 1,024."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def wait_quiet(seconds: float = 1.0) -> None:
    """A pause between runs, so one run's tail does not spill into the next."""
    with contextlib.suppress(KeyboardInterrupt):
        time.sleep(seconds)
