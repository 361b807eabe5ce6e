"""`make scan`: a short wapiti3 scan of the portal as it is deployed (docs/security.md).

The portal runs as docs/deploy.md says production does: gunicorn with ov.gunicorn_config and
the environment of deploy/oficina-virtual.env (OV_ENV=production), behind nginx with
deploy/nginx/oficina-virtual.conf and TLS (a self-signed certificate made for the run), on a
fresh SQLite instance in a temporary folder, migrated, with the demo data and one portal user
linked to a demo contract (tests/support/deployment.py builds the stack). Production matters:
only there are the cookies `Secure` and `__Host-` prefixed and HSTS sent, so a scan of a
development instance would report what production does not do.

wapiti runs twice over HTTPS, on free ports of 127.0.0.1: once anonymous from `/`, once
signed in through the login form, from `/mi-oficina`. Its JSON reports are read here: any
vulnerability or anomaly not listed in scripts/security_scan_accepted.json (each entry with
its reason) makes the exit status 1; "additionals" are printed for information only.

Run with the portal's interpreter, wapiti from its own virtual environment:

    .venv/bin/python scripts/security_scan.py [--wapiti .venv-scan/bin/wapiti] [--keep DIR]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import PASSWORD, USERNAME, bench_user  # noqa: E402
from tests.support import app_servers as servers  # noqa: E402
from tests.support import deployment  # noqa: E402

ACCEPTED = Path(__file__).with_name("security_scan_accepted.json")
WAPITI = ROOT / ".venv-scan" / "bin" / "wapiti"
LOGIN = Path(__file__).with_name("wapiti_login.py")

#: wapiti 3.2's default modules, less the two below.
MODULES = ("cookieflags", "csp", "exec", "file", "http_headers", "permanentxss", "redirect",
           "sql", "upload", "xss")
#: Default modules left out, and why.
LEFT_OUT = {
    "ssrf": "needs wapiti's public endpoint (wapiti3.ovh) to see the portal call it back, "
            "and CI reaches nothing on the internet but package registries",
    "ssl": "judges the certificate and TLS set-up of a real host; here the certificate is a "
           "self-signed one made for the run, and TLS is nginx's (docs/deploy.md)",
}
#: Limits that keep the scan short: seconds of crawling per run and of each attack module.
CRAWL_SECONDS = 45
ATTACK_SECONDS = 10
#: Concurrent crawl requests signed in: the instance has one process of four threads, and a
#: request that waits over OV_QUEUE_LIMIT_MS for a thread is refused with a 503 by design.
TASKS = 4
#: Signed in, wapiti must reach at least this many pages of Mi oficina, or it did not get in.
OFFICE_PAGES_MIN = 5


@dataclass
class Run:
    name: str
    start: str
    extra: list[str] = field(default_factory=list)
    tasks: int = TASKS
    report: dict = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)  # of the answers nginx logged
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def folder_name(self) -> str:
        return self.name.replace(" ", "-")

    def crawled(self) -> list[dict]:
        return self.report.get("infos", {}).get("crawled_pages") or []

    def pages(self) -> int:
        return int(self.report.get("infos", {}).get("crawled_pages_nbr") or 0)

    def office_pages(self) -> set[str]:
        """Distinct Mi oficina addresses wapiti read as a page (status 200)."""
        found = set()
        for page in self.crawled():
            request = page.get("request", {})
            path = re.sub(r"^https?://[^/]+", "", request.get("url", ""))
            if path.startswith("/mi-oficina") and request.get("status_code") == 200:
                found.add(path.split("?")[0])
        return found


@dataclass
class Finding:
    run: str
    kind: str  # "vulnerability" or "anomaly"
    category: str
    module: str
    method: str
    path: str
    parameter: str
    info: str
    reason: str | None = None  # why it is accepted, when it is

    def line(self) -> str:
        where = f"{self.method} {self.path}" + (f" [{self.parameter}]" if self.parameter else "")
        return f"{self.run}: {self.category} ({self.module}) {where}: {self.info}"


def load_accepted(path: Path = ACCEPTED) -> list[dict]:
    entries = json.loads(path.read_text())["accepted"]
    for entry in entries:
        if not entry.get("category") or not entry.get("reason"):
            raise SystemExit(f"{path.name}: every entry needs a category and a reason: {entry}")
    return entries


def accepted_reason(finding: Finding, accepted: list[dict]) -> str | None:
    """The reason of the first entry that matches: same category, the path matching the
    entry's pattern (shell-style, ``*`` by default), and the module and parameter when named."""
    for entry in accepted:
        if entry["category"] != finding.category:
            continue
        if entry.get("module") not in (None, finding.module):
            continue
        if not fnmatch.fnmatchcase(finding.path, entry.get("path", "*")):
            continue
        if entry.get("parameter") not in (None, finding.parameter):
            continue
        return entry["reason"]
    return None


def findings_of(run: Run, accepted: list[dict]) -> tuple[list[Finding], list[str]]:
    """The run's vulnerabilities and anomalies, and its additionals as lines."""
    found = []
    for kind, key in (("vulnerability", "vulnerabilities"), ("anomaly", "anomalies")):
        for category, items in (run.report.get(key) or {}).items():
            for item in items:
                finding = Finding(run.name, kind, category, item.get("module", "?"),
                                  item.get("method", ""), item.get("path", ""),
                                  item.get("parameter", "") or "", item.get("info", ""))
                finding.reason = accepted_reason(finding, accepted)
                found.append(finding)
    extra = [f"{run.name}: {category} ({item.get('module', '?')}) {item.get('path', '')}: "
             f"{item.get('info', '')}"
             for category, items in (run.report.get("additionals") or {}).items()
             for item in items]
    return found, extra


# --- the instance -----------------------------------------------------------------------------

@contextmanager
def environment(env: dict[str, str]):
    """This process's environment replaced by ``env`` for the block (create_app reads it)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def load_data(env: dict[str, str]) -> None:
    """The demo data, then the scan's portal user linked to one of its contracts."""
    done = subprocess.run([str(servers.BIN / "flask"), "--app", "ov", "demo-data"],  # noqa: S603 (our own command)
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"demo-data failed:\n{done.stdout}{done.stderr}")
    from ov import create_app

    with environment(env):
        bench_user(create_app())


def access_log(stack: deployment.Stack) -> list[str]:
    """nginx's access log of the site: one line a request, the status fifth."""
    log = stack.folder / "oficina-virtual.access.log"
    return log.read_text(errors="replace").splitlines() if log.exists() else []


# --- wapiti -----------------------------------------------------------------------------------

def wapiti_command(wapiti: Path, stack: deployment.Stack, run: Run, folder: Path,
                   limits: tuple[float, float]) -> list[str]:
    out = folder / run.folder_name
    out.mkdir()
    crawl, attack = limits
    return [
        str(wapiti), "-u", stack.https + run.start, "--scope", "folder",
        "-m", ",".join(MODULES), "--verify-ssl", "0", "-t", "10",
        "--max-scan-time", str(crawl), "--max-attack-time", str(attack),
        # A changed CSRF or CAPTCHA token is refused before the form is read (400, 422):
        # payloads go to the fields the portal reads instead.
        "--skip", "csrf_token", "--skip", "captcha_token",
        "--tasks", str(run.tasks),
        "--flush-session", "--no-bugreport", "-dr", "1",
        "--store-session", str(out / "session"), "--store-config", str(out / "config"),
        "-f", "json", "-o", str(out / "report.json"), "--log", str(out / "wapiti.log"),
        "-v", "1", *run.extra,
    ]


def scan(wapiti: Path, stack: deployment.Stack, run: Run, folder: Path,
         limits: tuple[float, float]) -> None:
    command = wapiti_command(wapiti, stack, run, folder, limits)
    # wapiti keeps a few files under $HOME whatever it is told: give it the run's folder.
    env = servers.clean_environment(HOME=str(folder / run.folder_name))
    before, started = len(access_log(stack)), time.monotonic()
    print(f"== wapiti, {run.name}: {run.start}", flush=True)
    done = subprocess.run(command, env=env, cwd=folder, stdout=subprocess.PIPE,  # noqa: S603 (wapiti with our arguments)
                          stderr=subprocess.STDOUT, text=True, timeout=900)
    run.seconds = time.monotonic() - started
    run.statuses = Counter(line.split()[4] for line in access_log(stack)[before:])
    report = folder / run.folder_name / "report.json"
    if done.returncode != 0 or not report.exists():
        print(done.stdout[-4000:])
        raise SystemExit(f"wapiti ({run.name}) ended with status {done.returncode}")
    run.report = json.loads(report.read_text())


def runs(stack: deployment.Stack) -> list[Run]:
    base = stack.https
    signed_in = Run("signed in", "/mi-oficina", [
        "--form-url", f"{base}/entrar", "--form-user", USERNAME, "--form-password", PASSWORD,
        "--form-script", str(LOGIN),
        # Signing out, cancelling the user and ending the other sessions would end the scan's
        # own session (or the user); they are tested in tests/, not attacked here.
        "-x", f"{base}/salir*", "-x", f"{base}/mi-oficina/datos/cancelar*",
        "-x", f"{base}/mi-oficina/datos/cerrar-sesiones*",
    ])
    # Signed in first: the anonymous run's attacks on /entrar use up the address's login
    # allowance (OV_LOGIN_IP_LIMIT), after which signing in would be refused. Anonymous, one
    # request at a time: the crawl's first pages, asked for at once without a cookie, would
    # each get a CSRF token of their own, and only the last one's cookie is kept, so the
    # attacks on the other forms would all be refused (400) before reaching the form.
    return [signed_in, Run("anonymous", "/", ["-x", f"{base}/salir*"], tasks=1)]


# --- the summary ------------------------------------------------------------------------------

def summary(all_runs: list[Run], found: list[Finding], additionals: list[str],
            seconds: float) -> int:
    print()
    print(f"wapiti modules: {', '.join(MODULES)}")
    for name, why in LEFT_OUT.items():
        print(f"  left out {name}: {why}")
    for run in all_runs:
        office = run.office_pages()
        print(f"{run.name}: {run.pages()} pages crawled ({len(office)} of Mi oficina), "
              f"{run.requests} requests, {run.seconds:.0f} s; answers: "
              + ", ".join(f"{code} {n}" for code, n in sorted(run.statuses.items())))
    by_module = Counter((f.module, f.reason is not None) for f in found)
    modules = sorted({module for module, _ in by_module})
    print("findings by module (accepted / new): "
          + (", ".join(f"{m} {by_module[(m, True)]}/{by_module[(m, False)]}" for m in modules)
             or "none"))
    new = [f for f in found if f.reason is None]
    accepted = [f for f in found if f.reason is not None]
    for finding in accepted:
        print(f"  accepted: {finding.line()}\n    reason: {finding.reason}")
    for line in additionals:
        print(f"  for information: {line}")
    for finding in new:
        print(f"  NEW {finding.kind}: {finding.line()}")
    print(f"{len(found)} findings: {len(accepted)} accepted, {len(new)} new; "
          f"{sum(r.requests for r in all_runs)} requests in all; {seconds:.0f} s in all")
    return 1 if new else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wapiti", type=Path, default=WAPITI)
    parser.add_argument("--keep", type=Path, help="a new folder to leave the reports and logs in")
    parser.add_argument("--crawl-seconds", type=float, default=CRAWL_SECONDS,
                        help=f"crawl time of each run (default {CRAWL_SECONDS})")
    parser.add_argument("--attack-seconds", type=float, default=ATTACK_SECONDS,
                        help=f"time of each attack module in each run (default {ATTACK_SECONDS})")
    args = parser.parse_args()
    if not args.wapiti.exists():
        raise SystemExit(f"{args.wapiti} is missing: `make scan` installs it")
    wapiti = args.wapiti.resolve()  # wapiti runs in the temporary folder
    if args.keep and args.keep.exists():
        raise SystemExit(f"--keep {args.keep}: the folder exists already")
    accepted = load_accepted()
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="ov-scan-"))
    (folder / "stack").mkdir()
    try:
        with deployment.running(folder / "stack", prepare=load_data, keep_port=True) as stack:
            all_runs = runs(stack)
            for run in all_runs:
                scan(wapiti, stack, run, folder, (args.crawl_seconds, args.attack_seconds))
        found, additionals = [], []
        for run in all_runs:
            more, extra = findings_of(run, accepted)
            found += more
            additionals += extra
        status = summary(all_runs, found, additionals, time.monotonic() - started)
        office = all_runs[0].office_pages()
        if len(office) < OFFICE_PAGES_MIN:
            print(f"signed in, wapiti read only {len(office)} pages of Mi oficina: "
                  "it did not get in (see its log)")
            status = 1
        return status
    finally:
        try:
            if args.keep:
                shutil.copytree(folder, args.keep, ignore=shutil.ignore_patterns("*.sqlite3*"))
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
