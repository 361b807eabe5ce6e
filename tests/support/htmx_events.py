"""Waiting for htmx in a Playwright page by its events, never by a fixed time.

    with htmx_finished(page, "/registro/validar/cuenta"):
        field.press("Tab")
    # here htmx has fired htmx:finally:request for that request: its swap (or its decision
    # not to swap) and every handler of it have run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import expect

MARK = "data-test-htmx-finished"
ARM = """([mark, path]) => {
    document.documentElement.removeAttribute(mark);
    document.addEventListener("htmx:finally:request", function finished(event) {
        var request = event.detail && event.detail.ctx && event.detail.ctx.request;
        if (String(request && request.action || "").indexOf(path) === -1) { return; }
        document.removeEventListener("htmx:finally:request", finished);
        document.documentElement.setAttribute(mark, path);
    });
}"""


@contextmanager
def htmx_finished(tab, path: str) -> Iterator[None]:
    """After the block, wait until htmx has finished a request to ``path`` started in it."""
    tab.evaluate(ARM, [MARK, path])
    yield
    expect(tab.locator("html")).to_have_attribute(MARK, path)
