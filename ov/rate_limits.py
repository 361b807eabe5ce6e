"""Rate limits beyond Flask-Limiter's decorators, kept in the same storage.

``refused`` decides what an answer costs against a decorator's limit
(``deduct_when=refused``). ``take`` and ``take_once`` count things a view does only sometimes (a
username checked, a draft created), with the limits library Flask-Limiter runs on, under the
same key prefix: memory in one process, Redis shared by every worker.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from flask import Response
from limits import parse, parse_many

from ov.extensions import limit_keys, limiter
from ov.outages import REDIS_ERRORS


def refused(response: Response) -> bool:
    """A refused answer (4xx: a wrong bill, a wrong CAPTCHA answer) counts against the limit.

    An outage (5xx: the CAPTCHA provider or the database is down) does not: the customer
    typed nothing wrong, and retrying once it is back must still work. Nor does another
    limit's 429: that is not a wrong answer either.
    """
    return 400 <= response.status_code < 500 and response.status_code != 429


@dataclass(frozen=True)
class Allowance:
    """A limit as the settings write it (``"10 per hour"``) and whose use it counts."""

    limit: str
    key: str


def _keys(key: str) -> list[str]:
    return limit_keys(key)


#: While the store is down, how often a count asks it whether it is back (a store that
#: hangs costs its timeout at each ask).
STORE_PROBE_SECONDS = 5.0
_probed_at = [0.0]


def _strategy():
    """The counting strategy on the configured store, or on memory while it is down (and
    back on the store once it answers again: asked at most every STORE_PROBE_SECONDS)."""
    if limiter._storage_dead:
        moment = time.monotonic()
        if moment - _probed_at[0] >= STORE_PROBE_SECONDS:
            _probed_at[0] = moment
            if limiter.storage.check():
                limiter.logger.info("rate limit store reachable again")
                limiter._storage_dead = False
    return limiter.limiter


def _store_down(exc: Exception) -> None:
    """Count in memory from now on, as Flask-Limiter's own decorators do when the store
    fails (``RATELIMIT_IN_MEMORY_FALLBACK_ENABLED``); its next request check finds the
    store again once it is back."""
    if not limiter._in_memory_fallback_enabled:  # no fallback configured: fail loudly
        raise exc
    limiter.logger.warning("rate limit store unreachable: counting in memory")
    limiter._storage_dead = True


def take(*allowances: Allowance) -> int:
    try:
        return _take(*allowances)
    except REDIS_ERRORS as exc:
        _store_down(exc)
        return _take(*allowances)


def _take(*allowances: Allowance) -> int:
    """Use one of every allowance; stop at the first that is used up.

    Returns 0 when taken; otherwise the seconds until the used-up one renews (at least 1).
    Each use is one atomic increment in the store (``hit``), so requests arriving at once
    never take more than the limit between them, in one process or across workers. An
    allowance counted before the used-up one stays counted: being refused costs a try.
    """
    strategy = _strategy()
    for allowance in allowances:
        keys = _keys(allowance.key)
        for item in parse_many(allowance.limit):
            if not strategy.hit(item, *keys):
                reset = strategy.get_window_stats(item, *keys).reset_time
                return max(1, math.ceil(reset - time.time()))
    return 0


def take_once(key: str, *allowances: Allowance, remember: str = "1 per day") -> int:
    """Like ``take``, but free for a ``key`` already taken for (within ``remember``)."""
    try:
        return _take_once(key, *allowances, remember=remember)
    except REDIS_ERRORS as exc:
        _store_down(exc)
        return _take_once(key, *allowances, remember=remember)


def _take_once(key: str, *allowances: Allowance, remember: str) -> int:
    strategy, item, keys = _strategy(), parse(remember), _keys(f"hecho:{key}")
    if not strategy.test(item, *keys):
        return 0
    wait = _take(*allowances)
    if not wait:
        strategy.hit(item, *keys)
    return wait
