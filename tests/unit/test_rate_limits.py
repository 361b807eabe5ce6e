"""Counts views take themselves (ov/rate_limits.py): never more than the limit, even at once."""

from __future__ import annotations

import threading

import pytest

from ov.extensions import limiter
from ov.rate_limits import Allowance, take, take_once

pytestmark = pytest.mark.usefixtures("clean_db")


def test_forty_requests_at_once_take_exactly_the_limit(app):
    allowance = Allowance("10 per hour", "prueba:a-la-vez")
    start = threading.Barrier(40)
    waits: list[int] = []

    def one() -> None:
        with app.app_context():
            start.wait()
            waits.append(take(allowance))

    threads = [threading.Thread(target=one) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert waits.count(0) == 10
    assert all(wait > 0 for wait in waits if wait)


def test_a_used_up_allowance_says_how_long_to_wait(app):
    with app.app_context():
        allowance = Allowance("2 per hour", "prueba:espera")
        assert [take(allowance), take(allowance)] == [0, 0]
        assert 3500 < take(allowance) <= 3600


def test_the_same_key_again_is_free(app):
    with app.app_context():
        allowance = Allowance("2 per hour", "prueba:nombres")
        assert [take_once(name, allowance) for name in ("ana", "ana", "ana", "beto")] == [0] * 4
        assert take_once("carla", allowance) > 0
        assert take_once("ana", allowance) == 0  # asked before: still free


def test_counts_live_under_the_configured_prefix(app):
    with app.app_context():
        take(Allowance("5 per hour", "prueba:prefijo"))
        stats = limiter.limiter.get_window_stats(
            __import__("limits").parse("5 per hour"), app.config["RATELIMIT_KEY_PREFIX"],
            "prueba:prefijo")
        assert stats.remaining == 4


@pytest.mark.parametrize("address, key", [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 client seen through an IPv6 socket
    ("no es una dirección", "?"),  # never a key of its own (ov/addresses.py)
    (None, "?"),
])
def test_an_address_counts_as_its_ipv6_network(address, key):
    from ov.addresses import address_key

    assert address_key(address) == key


def test_one_ipv6_network_shares_the_per_address_allowance(app, monkeypatch):
    """A client holds a whole /64: changing the last bits must not give it a new allowance."""
    from tests.support.journeys import Registration

    monkeypatch.setitem(app.config, "OV_REGISTRATION_DRAFT_IP_LIMIT", "2 per hour")
    codes = []
    with app.app_context():
        from ov.services import demo_data

        demo_data.load_demo_data(accounts=3)
    for host in range(3):
        browser = app.test_client()
        browser.environ_base["REMOTE_ADDR"] = f"2001:db8:7:7::{host + 1}"
        codes.append(Registration(browser, app).step1().status_code)
    assert codes == [303, 303, 429]


def test_every_rate_limit_of_the_portal_counts_form_posts_only(app):
    """A page only looked at skips the limiter (ov/extensions.py): a limit on a GET would
    never count, so none may exist."""
    from flask_limiter.util import get_qualified_name

    counted = []
    with app.test_request_context("/", method="POST"):
        for endpoint, view in app.view_functions.items():
            route_methods = set().union(*(rule.methods or set() for rule in
                                          app.url_map.iter_rules(endpoint)))
            for limit in limiter.limit_manager.decorated_limits(get_qualified_name(view)):
                counted.append(endpoint)
                # A limit names its methods, or its route takes posts only.
                methods = {m.upper() for m in limit.methods or route_methods - {"OPTIONS"}}
                assert methods == {"POST"}, (endpoint, methods)
    assert len(set(counted)) >= 8, counted  # login, recovery, registration, contracts...

