"""The shell in a real phone-sized Chromium, with JavaScript on and off."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.pages import ERROR_PAGES, page_urls
from tests.support.reflow import WIDTHS, check_reflow
from tests.support.settle import finished_requests, without_cache
from tests.support.weight import FIRST_VISIT_BUDGET

pytestmark = pytest.mark.browser


def all_pages(app) -> list[str]:
    return page_urls(app) + ERROR_PAGES


@pytest.fixture(scope="module")
def urls(app):
    return all_pages(app)


def test_axe_finds_nothing_on_any_page(page, axe, urls):
    for url in urls:
        page.goto(url)
        axe(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_pages_fit_a_360px_screen_without_sideways_scrolling(page, urls, width):
    """And a 320-px one (a 1280-px screen at 400 %, or 640 px at 200 %): WCAG 1.4.10."""
    page.set_viewport_size({"width": width, "height": 740})
    for url in urls:
        page.goto(url)
        check_reflow(page, url)


def test_first_visit_transfers_within_budget(browser, live_server, urls):
    """What a phone downloads on a first visit (empty cache, no cookies), as Chromium
    counts it: one tab whose cache is bypassed, its cookies cleared before
    each page."""
    from tests.conftest import PHONE

    context = browser.new_context(base_url=live_server, **PHONE)
    tab = context.new_page()
    without_cache(context, tab)
    for url in urls:
        context.clear_cookies()
        sizes = finished_requests(tab, url)
        assert len(sizes) >= 4, sizes  # the page, its stylesheet, two scripts, the icon
        # A file served from the cache would count as a negative size: none may be.
        assert all(size > 0 for size in sizes.values()), (url, sizes)
        assert sum(sizes.values()) <= FIRST_VISIT_BUDGET, f"{url}: {sum(sizes.values())} B"
    context.close()


def test_skip_link_takes_the_keyboard_to_the_content(page):
    page.goto("/atencion-al-cliente")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert skip.evaluate("element => element === document.activeElement")
    assert skip.is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenido"


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_navigation_works_with_and_without_javascript(request, javascript):
    tab = request.getfixturevalue("page" if javascript else "page_nojs")
    tab.goto("/")
    tab.get_by_role("navigation", name="Principal").get_by_role(
        "link", name="Atención al cliente"
    ).click()
    tab.wait_for_url("**/atencion-al-cliente")
    assert tab.get_by_role("heading", level=1).inner_text() == "Atención al cliente"
    legal = tab.get_by_role("navigation", name="Legal")
    legal.get_by_role("link", name="Aviso de privacidad").click()
    tab.wait_for_url("**/aviso-de-privacidad")
    assert "privacidad" in tab.title().lower()


def test_htmx_swaps_a_fragment_sets_the_title_and_moves_focus(page):
    page.goto("/")
    assert page.evaluate("typeof htmx") == "object"
    page.evaluate("htmx.ajax('GET', '/accesibilidad', {target: '#contenido'})")
    heading = page.locator("#contenido h1")
    heading.wait_for()
    assert "ccesibilidad" in heading.inner_text()
    expect(page.locator("#contenido h1")).to_be_focused()
    expected = page.request.get("/accesibilidad").text().split("<title>")[1].split("</title>")[0]
    assert page.title() == expected
    assert page.locator("#contenido header, #contenido footer").count() == 0


@pytest.mark.parametrize("failure", ["server", "network"])
def test_a_failed_swap_is_announced_not_silent(page, failure):
    def fail(route):
        if failure == "server":
            route.fulfill(status=500, body="fallo", content_type="text/html")
        else:
            route.abort()

    page.goto("/")
    page.route("**/accesibilidad", fail)
    before = page.locator("#contenido").inner_html()
    page.evaluate("htmx.ajax('GET', '/accesibilidad', {target: '#contenido'}).catch(() => null)")
    alert = page.locator("#fallo-conexion[role=alert]")
    alert.wait_for()
    assert "inténtalo" in alert.inner_text().lower()
    assert page.locator("#contenido h1").inner_text() in before
    page.problems[:] = [p for p in page.problems if not p.startswith("htmx: htmx:error")]
