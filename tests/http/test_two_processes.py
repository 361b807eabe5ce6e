"""Two app processes sharing PostgreSQL and Redis, as production runs them: neither keeps
anything of its own. Each is a real gunicorn (ov.gunicorn_config) on its own port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from ov.extensions import db
from ov.services import passwords
from tests.conftest import RUN_ID, TEST_DATABASE_URL, TEST_REDIS_URL
from tests.support import app_servers as servers
from tests.support.factories import make_customer
from tests.support.journeys import PASSWORD, hidden

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.usefixtures("clean_db")]

USERNAME = "usuPDFactura1"


@pytest.fixture
def customer(app) -> None:
    with app.app_context():
        make_customer(username=USERNAME, password_hash=passwords.hash_password(PASSWORD))
        db.session.commit()


@pytest.fixture
def two_processes(app, customer, tmp_path) -> Iterator[tuple[str, str]]:
    # Both read the same instance settings: their own rate-limit prefix for this run, and a
    # small per-address allowance to reach.
    (tmp_path / "config.py").write_text(
        f'RATELIMIT_KEY_PREFIX = "ov-two-{RUN_ID}"\nOV_LOGIN_IP_LIMIT = "3 per 15 minutes"\n')
    env = servers.clean_environment(
        OV_INSTANCE_PATH=str(tmp_path), OV_DATABASE_URL=TEST_DATABASE_URL,
        OV_REDIS_URL=TEST_REDIS_URL, OV_MAIL_BACKEND="locmem", OV_WORKERS="1")
    with servers.gunicorn(env, tmp_path / "first.log") as first, \
            servers.gunicorn(env, tmp_path / "second.log") as second:
        yield first, second


def sign_in(browser: requests.Session, base: str) -> requests.Response:
    token = hidden(browser.get(base + "/entrar", timeout=30).text, "csrf_token")
    return browser.post(base + "/entrar", timeout=30, allow_redirects=False, data={
        "csrf_token": token, "usuario": USERNAME, "contrasena": PASSWORD})


def test_a_session_opened_on_one_process_is_served_and_ended_by_the_other(two_processes):
    first, second = two_processes
    with requests.Session() as browser:
        assert sign_in(browser, first).status_code == 303
        signed_in = browser.cookies.get("ov")
        home = browser.get(second + "/mi-oficina", timeout=30, allow_redirects=False)
        assert home.status_code == 200 and "Desconectar" in home.text
        token = hidden(home.text, "csrf_token")
        out = browser.post(second + "/salir", data={"csrf_token": token}, timeout=30,
                           allow_redirects=False)
        assert out.status_code == 303
    # The cookie the first process saw at sign-in no longer opens anything, there either.
    with requests.Session() as replay:
        replay.cookies.set("ov", signed_in, domain="127.0.0.1")
        again = replay.get(first + "/mi-oficina", timeout=30, allow_redirects=False)
    assert again.status_code in (302, 303)
    assert "/entrar" in again.headers["Location"]


def test_failed_logins_are_counted_across_both_processes(two_processes):
    first, second = two_processes
    codes = []
    for base in (first, second, first, second):
        with requests.Session() as browser:
            token = hidden(browser.get(base + "/entrar", timeout=30).text, "csrf_token")
            codes.append(browser.post(base + "/entrar", timeout=30, data={
                "csrf_token": token, "usuario": "usuNadie0001",
                "contrasena": "Equivocada1"}).status_code)
    assert codes == [422, 422, 422, 429]
