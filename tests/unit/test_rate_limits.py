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
