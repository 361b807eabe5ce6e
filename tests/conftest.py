"""Fixtures shared by the three layers: unit, HTTP (test client) and browser (Playwright).

The database is SQLite in a temporary folder, or PostgreSQL when ``OV_TEST_DATABASE_URL`` is
set (CI's second pass); Redis is used when ``OV_TEST_REDIS_URL`` is set. Tests marked
``postgres`` or ``redis`` are deselected (not skipped) when their server is not named, and
under ``CI=true`` a skipped test fails the run.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import settings
from sqlalchemy import text
from werkzeug.serving import make_server

from ov import create_app
from ov.extensions import db, limiter

CI = os.environ.get("CI", "").lower() == "true"

# Hypothesis would fail an example that takes longer than 200 ms: a wall-clock limit that a
# busy machine breaks for no reason. Properties here are about results, never durations.
settings.register_profile("ov", deadline=None, database=None)
settings.load_profile("ov")
#: Under ``pytest -n N`` (``make test`` runs two workers) each worker is ``gw0``, ``gw1``...
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def worker_database_url(url: str, worker: str = WORKER) -> str:
    """The PostgreSQL database of this worker: ``.../test`` for a lone run, ``.../test_gw1``
    for worker gw1 (created, empty, the first time): workers never share tables."""
    if not url or not worker:
        return url
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                       {"name": name}).first()
            if found is None:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def worker_redis_url(url: str, worker: str = WORKER) -> str:
    """This worker's Redis database: the one named for worker gw0 (or a lone run), the
    one below it for gw1, and so on (``/15``, ``/14``...)."""
    if not url or not worker:
        return url
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0) - int(worker.removeprefix("gw"))
    if number < 0:
        raise pytest.UsageError(f"Not enough Redis databases below {url} for {worker}")
    return urlunsplit(parts._replace(path=f"/{number}"))


TEST_DATABASE_URL = worker_database_url(os.environ.get("OV_TEST_DATABASE_URL", ""))
TEST_REDIS_URL = worker_redis_url(os.environ.get("OV_TEST_REDIS_URL", ""))
CHROMIUM = os.environ.get("OV_CHROMIUM", "/usr/bin/chromium")
RUN_ID = secrets.token_hex(4)


# --- selection and the no-skip rule -------------------------------------------------------

def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = set()
    if not TEST_DATABASE_URL:
        missing.add("postgres")
    if not TEST_REDIS_URL:
        missing.add("redis")
    keep, drop = [], []
    for item in items:
        (drop if missing & {m.name for m in item.iter_markers()} else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if CI and _skipped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line(
                f"CI=true: {len(_skipped)} skipped test(s) fail the run: {', '.join(_skipped)}",
                red=True,
            )


# --- the application ----------------------------------------------------------------------

def settings_for(instance: Path) -> dict:
    return {
        "INSTANCE_PATH": str(instance),
        "TESTING": True,
        "OV_ENV": "testing",
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL or f"sqlite:///{instance / 'test.sqlite3'}",
        "OV_REDIS_URL": TEST_REDIS_URL,
        "RATELIMIT_STORAGE_URI": TEST_REDIS_URL or "memory://",
        # Redis keeps counts between runs: each run counts under its own prefix.
        "RATELIMIT_KEY_PREFIX": f"ov-test-{RUN_ID}",
        "OV_MAIL_BACKEND": "locmem",
        "OV_PUBLIC_URL": "http://127.0.0.1:5000",  # whatever PORT the shell has
        "OV_ARGON2_FAST": True,
    }


def production_settings(instance: Path) -> dict:
    """``settings_for`` with ``OV_ENV=production`` and the settings production insists on."""
    from ov import config

    settings = {**settings_for(instance), "OV_ENV": "production",
                "OV_PUBLIC_URL": "https://oficina.example",
                "OV_SPEI_CLABE": "002180700000000008",  # not the demonstration one
                "MAIL_DEFAULT_SENDER": "Portal <no-responder@gas.example.mx>"}
    for key in config.UTILITY_SETTINGS:
        settings[key] = "Real " + key
    return settings


def reset_schema(app: Flask) -> None:
    """Drop everything and build the schema with the migrations, as production does."""
    from flask_migrate import upgrade

    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()


_SESSION_APPS: list[Flask] = []


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    instance = tmp_path_factory.mktemp("instance")
    application = create_app(settings_for(instance))
    _SESSION_APPS.append(application)
    reset_schema(application)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _close_other_apps_connections() -> Iterator[None]:
    """Tests that build apps of their own leave pooled connections behind; close them when
    the test ends, so no connection is garbage-collected open during a later test."""
    yield
    for other, engines in list(db._app_engines.items()):  # a WeakKeyDictionary of apps
        if all(other is not kept for kept in _SESSION_APPS):
            for engine in engines.values():
                engine.dispose()


@pytest.fixture
def clean_db(app: Flask) -> Iterator[None]:
    """Empties every table (and the rate-limit counts) after the test, so each test starts
    from the migrated schema with no history."""
    yield
    with app.app_context():
        limiter.reset()
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())


@pytest.fixture
def client(app: Flask):
    return app.test_client()


@pytest.fixture
def htmx_headers() -> dict[str, str]:
    """What htmx 4 sends with hx-get / hx-post."""
    return {"HX-Request": "true", "HX-Request-Type": "partial", "HX-Target": "main#contenido"}


@pytest.fixture
def frozen_clock(monkeypatch):
    """The clock signed links read (itsdangerous), frozen; tests move it by hand."""
    import time

    from itsdangerous.timed import TimestampSigner

    clock = [int(time.time())]
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: clock[0])
    return clock


# --- a live server and a real browser -----------------------------------------------------

@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        message = (
            f"Chromium is not at {CHROMIUM}. Install Debian's package: "
            "`sudo apt-get install chromium` (or set OV_CHROMIUM to its path)."
        )
        if CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


ASSET_TYPES = {"stylesheet", "script", "image", "font", "media", "manifest"}
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "es-MX", "timezone_id": "America/Mexico_City"}


def _watch(context, live_server: str) -> list[str]:
    """Record what should never happen: third-party requests, failed assets, script errors."""
    problems: list[str] = []

    def route(route):
        if route.request.url.startswith(live_server + "/"):
            route.continue_()
        else:
            problems.append(f"third-party request: {route.request.url}")
            route.abort()

    def response(resp):
        if resp.status >= 400 and resp.request.resource_type in ASSET_TYPES:
            problems.append(f"{resp.status} for {resp.url}")

    def console(message):
        # A 4xx/5xx document (our error pages) is logged as a failed load: not a fault.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    context.route("**/*", route)
    context.on("response", response)
    context.on("console", console)
    context.on("weberror", lambda error: problems.append(str(error.error)))
    return problems


@pytest.fixture
def page(browser, live_server):
    """A phone-sized page with JavaScript on; console errors and CSP violations fail the test."""
    context = browser.new_context(base_url=live_server, **PHONE)
    problems = _watch(context, live_server)
    tab = context.new_page()
    tab.problems = problems  # a test that provokes a fault on purpose removes what it expects
    yield tab
    context.close()
    assert not problems, f"the browser saw problems: {problems}"


@pytest.fixture
def page_nojs(browser, live_server):
    """A phone-sized page with JavaScript off: every journey must still complete."""
    context = browser.new_context(base_url=live_server, java_script_enabled=False, **PHONE)
    problems = _watch(context, live_server)
    yield context.new_page()
    context.close()
    assert not problems, f"the browser saw problems: {problems}"


@pytest.fixture
def axe():
    """``axe(page)`` fails on any WCAG 2.2 A/AA violation (run it with JavaScript on)."""
    from tests.support.a11y import check_page

    return check_page


# --- data -----------------------------------------------------------------------------------

@pytest.fixture
def billing(app: Flask, clean_db) -> None:
    """A small billing mirror (20 accounts, 24 months) with the seed guide's contract."""
    from ov.services import demo_data

    with app.app_context():
        demo_data.load_demo_data(accounts=20)
        db.session.remove()
