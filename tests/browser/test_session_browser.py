"""The "¿Sigues ahí?" session warning in Mi oficina: it waits for the real warning time,
whatever the customer does with the tabs, plain links and the Back button.

The page's clock is Playwright's (``page.clock``): the test moves time instead of waiting.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ov.extensions import db
from ov.services import passwords
from tests.support.factories import make_customer
from tests.support.htmx_events import htmx_finished
from tests.support.journeys import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean_db")]

SECOND = 1000  # page.clock counts milliseconds


@pytest.fixture
def customer(app):
    with app.app_context():
        make_customer(password_hash=passwords.hash_password(PASSWORD))
        db.session.commit()


def sign_in(tab) -> None:
    tab.goto("/entrar")
    tab.fill("#usuario", "usuPDFactura1")
    tab.fill("#contrasena", PASSWORD)
    tab.get_by_role("button", name="Entrar", exact=True).click()
    tab.wait_for_url("**/mi-oficina")


def warning_after(app) -> int:
    """Milliseconds from a page's last request to the warning."""
    idle = app.config["OV_SESSION_IDLE_MINUTES"] * 60
    return (idle - app.config["OV_SESSION_WARNING_SECONDS"]) * SECOND


def shows_tab(tab, heading: str) -> None:
    expect(tab.locator("h1")).to_have_text(heading)


def htmx_back(tab, path: str, heading: str) -> None:
    """Back to an entry a tab pushed: htmx asks for the page again and swaps the body."""
    restore = tab.expect_request(lambda r: r.headers.get("hx-history-restore-request") == "true")
    with htmx_finished(tab, path), restore:
        tab.go_back()
    shows_tab(tab, heading)


def document_back(tab, heading: str) -> None:
    """Back across documents: the browser loads the previous page again (it is no-store)."""
    assert tab.go_back() is not None  # a document load, not a history restore by htmx
    shows_tab(tab, heading)


def test_back_in_mi_oficina_leaves_the_warning_closed_until_it_is_due(page, app, customer):
    page.clock.install()
    sign_in(page)
    dialog = page.locator("#aviso-sesion")
    tabs = page.get_by_role("navigation", name="Mi oficina")

    # htmx tabs: each swaps the panel and pushes its URL.
    tabs.get_by_role("link", name="Mis contratos", exact=True).click()
    shows_tab(page, "Mis contratos")
    tabs.get_by_role("link", name="Mis pagos", exact=True).click()
    shows_tab(page, "Mis pagos")
    htmx_back(page, "/mi-oficina/contratos", "Mis contratos")
    expect(dialog).to_be_hidden()

    # A plain link (a new document), then Back across the two documents.
    page.get_by_role("navigation", name="Principal").get_by_role("link", name="Mi oficina").click()
    page.wait_for_url("**/mi-oficina")
    shows_tab(page, "Mi oficina")
    document_back(page, "Mis contratos")
    expect(dialog).to_be_hidden()
    tabs.get_by_role("link", name="Mis pagos", exact=True).click()
    shows_tab(page, "Mis pagos")
    htmx_back(page, "/mi-oficina/contratos", "Mis contratos")
    expect(dialog).to_be_hidden()

    # The warning still comes, once, when it is due after the last request.
    page.clock.run_for(warning_after(app) - 5 * SECOND)
    expect(dialog).to_be_hidden()
    page.clock.run_for(10 * SECOND)
    expect(dialog).to_be_visible()
    assert page.locator("dialog[open]").count() == 1
    expect(dialog).to_contain_text("¿Sigues ahí?")
    with page.expect_response(lambda r: r.url.endswith("/sesion/seguir")) as answer:
        dialog.get_by_role("button", name="Seguir conectado").click()
    assert answer.value.status == 204
    expect(dialog).to_be_hidden()


def test_a_page_brought_back_from_the_browser_memory_is_asked_for_again(page, customer):
    """A back/forward-cache restore makes no request: the private page and its timers are
    stale, so the page loads itself again from the server."""
    sign_in(page)
    restore = "() => window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))"
    with page.expect_request(lambda r: r.is_navigation_request()) as again:
        page.evaluate(restore)
    assert again.value.url.endswith("/mi-oficina") and again.value.method == "GET"
    expect(page.locator("h1")).to_have_text("Mi oficina")
