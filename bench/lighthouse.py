"""Lighthouse mobile scores of /entrar, registration step 1 and Mi oficina (signed in).

    (cd bench/tools && npm ci)      # Lighthouse, pinned in bench/tools/package-lock.json
    .venv/bin/python bench/lighthouse.py [--write] [--keep DIR]

Serves the portal with gunicorn (``-k gthread -w 2 --threads 4`` on 127.0.0.1) on a
temporary SQLite database with a little demo data (no Redis: sessions in the database),
signs a bench user in over HTTP and hands its session cookie to Lighthouse with
``--extra-headers``. Lighthouse runs its default mobile emulation (simulated slow 4G and a
4× slower CPU) on Debian's Chromium (``CHROME_PATH``, /usr/bin/chromium by default), one
page after another. Prints the four category scores and the main metrics as Markdown;
``--write`` puts them in the ``lighthouse`` section of docs/performance.md. The JSON
reports stay in a temporary folder (``--keep DIR`` keeps them there instead).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from journey import (  # noqa: E402
    PASSWORD,
    Server,
    git_commit,
    load_average,
    prepare_users,
    username,
)
from report import replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "bench" / "tools"
LIGHTHOUSE = TOOLS / "node_modules" / ".bin" / "lighthouse"
PERFORMANCE = ROOT / "docs" / "performance.md"
CHROME_FLAGS = ("--headless=new --no-sandbox --disable-gpu --disable-background-networking "
                "--disable-component-update --disable-sync --no-first-run")
ATTEMPTS = 3
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
PAGES = (("/entrar", False), ("/registro/paso-1", False), ("/mi-oficina", True))
METRICS = (("first-contentful-paint", "FCP", "ms"), ("largest-contentful-paint", "LCP", "ms"),
           ("total-blocking-time", "TBT", "ms"), ("cumulative-layout-shift", "CLS", ""),
           ("total-byte-weight", "total bytes", "B"))


def session_cookie(base: str, user: str, cookie_name: str) -> str:
    """Sign in through /entrar as a browser would; the session cookie's value."""
    browser = requests.Session()
    form = browser.get(f"{base}/entrar", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    signed_in = browser.post(f"{base}/entrar", data={"csrf_token": token, "usuario": user,
                                                     "contrasena": PASSWORD, "next": ""},
                             allow_redirects=False, timeout=30)
    if signed_in.status_code != 303 or not signed_in.headers["Location"].endswith(
            "/mi-oficina"):
        raise SystemExit(f"sign-in answered {signed_in.status_code}")
    return browser.cookies[cookie_name]


def lighthouse(url: str, report: Path, headers: dict[str, str] | None) -> dict:
    command = [str(LIGHTHOUSE), url, "--output=json", f"--output-path={report}", "--quiet",
               f"--only-categories={','.join(CATEGORIES)}", f"--chrome-flags={CHROME_FLAGS}"]
    if headers:
        command.append(f"--extra-headers={json.dumps(headers)}")
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    # On a busy machine Chromium's trace now and then misses its start (NO_NAVSTART): the
    # page is loaded again, up to ATTEMPTS times, and the retries are said in the report.
    for attempt in range(1, ATTEMPTS + 1):
        finished = subprocess.run(command, check=False, env=env, timeout=300)
        if finished.returncode == 0:
            result = json.loads(report.read_text())
            result["ov_attempts"] = attempt
            return result
    raise SystemExit(f"Lighthouse failed {ATTEMPTS} times on {url}")


def metric(result: dict, audit: str, unit: str) -> str:
    value = result["audits"][audit].get("numericValue")
    if value is None:
        return "—"
    if unit == "B":
        return f"{value:,.0f} B"
    if unit == "ms":
        return f"{value:,.0f} ms"
    return f"{value:.3f}"


def below_full(result: dict) -> list[str]:
    """The audits that cost points outside performance, for the note under the table."""
    lost = []
    for name in CATEGORIES[1:]:
        for ref in result["categories"][name]["auditRefs"]:
            audit = result["audits"][ref["id"]]
            if ref["weight"] and audit.get("score") is not None and audit["score"] < 1:
                lost.append(f"{name}: `{ref['id']}`")
    return lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true",
                        help="write the table into the lighthouse section of docs/performance.md")
    parser.add_argument("--keep", type=Path, help="keep the JSON reports in this folder")
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        sys.exit("Lighthouse is not installed: run `npm ci` in bench/tools first.")
    version = subprocess.run([str(LIGHTHOUSE), "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    chromium = subprocess.run([os.environ.get("CHROME_PATH", "/usr/bin/chromium"),
                               "--version"], capture_output=True, text=True,
                              check=False).stdout.strip()
    logging.disable(logging.CRITICAL)
    rows, notes, retries, warnings = [], [], [], set()
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="ov-lighthouse-") as scratch:
        reports = args.keep or Path(scratch) / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        database = f"sqlite:///{scratch}/bench.sqlite3"
        os.environ["OV_DATABASE_URL"] = database
        os.environ.pop("OV_REDIS_URL", None)  # sessions in the database of this run
        from flask_migrate import upgrade

        from ov import create_app
        from ov.services import demo_data

        app = create_app({"INSTANCE_PATH": f"{scratch}/prepare", "SECRET_KEY": "bench",
                          "OV_MAIL_BACKEND": "locmem"})
        with app.app_context():
            upgrade()
            demo_data.load_demo_data(accounts=20)
        prepare_users(app, 1)
        cookie_name = app.config["SESSION_COOKIE_NAME"]
        log = Path(scratch) / "gunicorn.log"
        with Server(f"{scratch}/instance", 2, 4, log) as server:
            cookie = session_cookie(server.url, username(1), cookie_name)
            for path, signed_in in PAGES:
                headers = {"Cookie": f"{cookie_name}={cookie}"} if signed_in else None
                name = path.strip("/").replace("/", "_") or "home"
                result = lighthouse(f"{server.url}{path}", reports / f"{name}.json", headers)
                final = result.get("finalDisplayedUrl") or result.get("finalUrl", "")
                if not final.endswith(path):
                    raise SystemExit(f"{path} ended at {final}: not the page asked for")
                scores = [round(result["categories"][c]["score"] * 100) for c in CATEGORIES]
                label = f"`{path}`" + (" (signed in)" if signed_in else "")
                rows.append(f"| {label} | " + " | ".join(map(str, scores)) + " | "
                            + " | ".join(metric(result, a, u) for a, _l, u in METRICS) + " |")
                notes += [f"`{path}` {lost}" for lost in below_full(result)]
                if result["ov_attempts"] > 1:
                    retries.append(f"`{path}` ({result['ov_attempts']} attempts)")
                warnings.update(result.get("runWarnings", []))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = shlex.join([".venv/bin/python", "bench/lighthouse.py", *sys.argv[1:]])
    lines = [
        "## Lighthouse (mobile)",
        "",
        f"- Command: `{command}`",
        f"- Date: {now}; commit `{git_commit()}`; Lighthouse {version} (bench/tools), "
        f"{chromium or 'Chromium'} with `{CHROME_FLAGS}`; load average (1, 5, 15 min) "
        f"{load_before} before the run, {load_average()} at its end (performance and TBT "
        "follow the machine's load; the other scores do not)",
        "- Server: `gunicorn -k gthread -w 2 --threads 4` on a temporary SQLite database "
        "with 20 demo accounts, sessions in the database; Mi oficina with a bench user's "
        "session cookie (`--extra-headers`)",
        "- Lighthouse's default mobile emulation: simulated slow 4G, 4× CPU slowdown",
        "",
        "| page | performance | accessibility | best practices | SEO | "
        + " | ".join(label for _a, label, _u in METRICS) + " |",
        "|---|" + "---:|" * (len(CATEGORIES) + len(METRICS)),
        *rows,
    ]
    if notes:
        lines += ["", "Audits below full marks outside performance: " + "; ".join(notes) + "."]
    if retries:
        lines += ["", "Loaded again after a failed trace: " + ", ".join(retries) + "."]
    lines += [f"\nLighthouse warned: {warning}" for warning in sorted(warnings)]
    markdown = "\n".join(lines) + "\n"
    print(markdown)
    if args.write:
        replace_section(PERFORMANCE, "lighthouse", markdown)
        print(f"written to {PERFORMANCE.relative_to(ROOT)} (section lighthouse)",
              file=sys.stderr)


if __name__ == "__main__":
    main()
