"""A worker process is killed while it creates a user ("Enviar" at step 3).

The test holds a lock on the audit table, so the worker's transaction stops half-way (the
draft claimed, the user and its link inserted, the audit row waiting); it then kills the
worker with SIGKILL, as the kernel's out-of-memory killer or a crash would. Nothing of the
half-done work stays: no user, the draft still at step 3. The process manager starts a new
worker and the customer's second "Enviar" creates the user, once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy import func, select

from ov.extensions import db
from ov.models import AuditEvent, RegistrationDraft, User
from tests.support.journeys import Registration, hidden
from tests.support.servers import PATIENCE, free_port

USERNAME = "usuPDFactura1"  # what Registration.step2 registers


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{pid}\n" in status:
                found.append(int(entry.name))
    return found


def _eventually(check, what: str):
    deadline = time.monotonic() + PATIENCE
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {PATIENCE} s")
        time.sleep(0.05)


@pytest.fixture
def app_server(portal, own_postgres, own_redis, tmp_path):
    """The portal under gunicorn (one worker), on the same PostgreSQL, Redis and secret key
    as ``portal``, so a session started with the test client goes on there."""
    port = free_port()
    env = {**os.environ, "OV_DATABASE_URL": own_postgres.url, "OV_REDIS_URL": own_redis.url,
           "OV_SECRET_KEY": portal.config["SECRET_KEY"], "OV_INSTANCE_PATH": str(tmp_path),
           "OV_ENV": "testing", "OV_MAIL_BACKEND": "file"}
    master = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "-c", "python:ov.gunicorn_config", "-w", "1",
         "--threads", "2",
         "-b", f"127.0.0.1:{port}", "--graceful-timeout", "1", "ov:create_app()"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return requests.get(f"{url}/healthz", timeout=5).status_code == 200
        except requests.RequestException:  # not listening yet, or its worker still booting
            return False

    try:
        _eventually(answers, "gunicorn serving")
        yield url, master, answers
    finally:
        master.terminate()
        master.wait(timeout=PATIENCE)


def _pg(own_postgres):
    return psycopg.connect(host="127.0.0.1", port=own_postgres.port, user="postgres",
                           dbname="postgres", autocommit=True)


def test_a_worker_killed_mid_submit_leaves_no_half_created_user(portal, own_postgres,
                                                                 app_server):
    url, master, answers = app_server
    client = portal.test_client()
    registration = Registration(client, portal)
    assert registration.step1().status_code == 303
    assert registration.step2().status_code == 303
    browser = requests.Session()
    browser.cookies.set("ov", client.get_cookie("ov").value)
    page = browser.get(f"{url}/registro/paso-3", timeout=PATIENCE)
    assert page.status_code == 200
    form = {"csrf_token": hidden(page.text, "csrf_token"), "acepto": "y",
            "factura_electronica": "y"}

    holder, watcher = _pg(own_postgres), _pg(own_postgres)
    try:
        holder.autocommit = False
        holder.execute("LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE")
        outcome: dict = {}

        def submit() -> None:
            try:
                outcome["status"] = browser.post(f"{url}/registro/paso-3", data=form,
                                                 timeout=PATIENCE).status_code
            except requests.RequestException as exc:
                outcome["error"] = exc

        sender = threading.Thread(target=submit)
        sender.start()
        # The worker's transaction is waiting on the lock: the user row is inserted.
        waiting = _eventually(lambda: watcher.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND pid <> %s", (holder.info.backend_pid,)).fetchall(), "the worker waiting")
        [worker] = _children(master.pid)
        os.kill(worker, signal.SIGKILL)
        sender.join(timeout=PATIENCE)
        assert "error" in outcome, outcome  # the customer's browser saw the connection drop
        holder.rollback()  # the lock goes; the orphaned transaction finds its client gone
        backend = waiting[0][0]
        _eventually(lambda: not watcher.execute(
            "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (backend,)).fetchall(),
            "the dead worker's transaction ending")
    finally:
        holder.close()
        watcher.close()

    with portal.app_context():
        assert db.session.scalar(select(func.count()).select_from(User).where(
            User.username == USERNAME)) == 0
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.kind == "registration_completed")) == 0
        assert db.session.scalar(select(RegistrationDraft.step)) == 3
        db.session.remove()

    # A new worker serves; the customer presses "Enviar" again and is registered, once.
    _eventually(answers, "a new worker serving")
    page = browser.get(f"{url}/registro/paso-3", timeout=PATIENCE)
    form["csrf_token"] = hidden(page.text, "csrf_token")
    done = browser.post(f"{url}/registro/paso-3", data=form, timeout=PATIENCE,
                        allow_redirects=False)
    assert done.status_code == 303, done.text[:300]
    with portal.app_context():
        assert db.session.scalar(select(func.count()).select_from(User).where(
            User.username == USERNAME)) == 1
        db.session.remove()
