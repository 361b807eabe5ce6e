"""Waiting for a page to be complete by what it does, not by an idle timer.

Playwright's ``networkidle`` waits until no request has run for 500 ms: half a second lost on
every page, and no promise about what arrived. A page of ours is complete once it has loaded
and htmx has swapped in its lazy parts (the placeholders with ``data-hx-trigger="load"``,
replaced by what they fetch).
"""

from __future__ import annotations

LAZY = '[data-hx-trigger="load"]'


def settle(tab) -> None:
    """Return once ``tab`` has loaded and no lazy placeholder is left (JavaScript on)."""
    tab.wait_for_load_state("load")
    tab.wait_for_function("selector => !document.querySelector(selector)", arg=LAZY)


def without_cache(context, tab):
    """Make every visit in ``tab`` fetch every file again, as a first visit does: Chromium's
    cache is bypassed for the tab. Cheaper than a new browser context per page. Returns the
    DevTools session."""
    chromium = context.new_cdp_session(tab)
    chromium.send("Network.enable")
    chromium.send("Network.setCacheDisabled", {"cacheDisabled": True})
    return chromium


def finished_requests(tab, url: str) -> dict[str, int]:
    """Open ``url`` in ``tab`` and return the body size of every request the visit made, by
    URL, as Chromium counts it, once the page has settled and each request it started has
    finished (or failed). A file served from Chromium's cache counts as a negative size
    (``without_cache`` prevents that)."""
    finished: list = []
    pending: set = set()

    # A handler must not call Playwright itself (``request.sizes()`` would): such a call lets
    # this function's own wait go on before the handler has finished, so a request could
    # leave ``pending`` before its size is known. The handlers only take note; the sizes are
    # asked for once every request has finished.
    def started(request) -> None:
        pending.add(request)

    def done(request) -> None:
        pending.discard(request)
        finished.append(request)

    def failed(request) -> None:
        pending.discard(request)

    tab.on("request", started)
    tab.on("requestfinished", done)
    tab.on("requestfailed", failed)
    try:
        tab.goto(url)
        settle(tab)
        # Events reach these handlers only inside a Playwright call, so nothing can finish
        # between the check and the wait: each wait ends at a real event. (A request that
        # fails instead leaves the wait to time out: the test errors, loudly.)
        while pending:
            tab.wait_for_event("requestfinished", predicate=lambda r: True)
    finally:
        tab.remove_listener("request", started)
        tab.remove_listener("requestfinished", done)
        tab.remove_listener("requestfailed", failed)
    return {request.url: request.sizes()["responseBodySize"] for request in finished}
