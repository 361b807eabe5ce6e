"""A 429 says how long its window really lasts: ``Retry-After`` is the time left until the
breached limit renews, not a fixed minute (a 15-minute login window said 60 s before)."""

from __future__ import annotations

import pytest

from tests.http.test_auth import customer, login_body  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("clean_db")


@pytest.mark.parametrize(("limit", "window"), [("3 per 15 minutes", 900), ("3 per hour", 3600)])
def test_the_login_limit_tells_the_time_left_in_its_window(app, client, customer,  # noqa: F811
                                                            monkeypatch, limit, window):
    monkeypatch.setitem(app.config, "OV_LOGIN_ACCOUNT_LIMIT", limit)
    codes = [login_body(client, "usuPDFactura1") for _ in range(4)]
    assert [answer.status_code for answer in codes] == [422, 422, 422, 429]
    wait = int(codes[-1].headers["Retry-After"])
    # Most of the window is left (the test took seconds of it, not minutes).
    assert window - 120 < wait <= window + 1  # (rounded up to the whole second)
