"""Avisos in a phone-sized Chromium (360 px), with and without JavaScript: marking one and
all read, the count above the tabs, and the zone-wide service banners; axe on each state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from ov.extensions import db
from ov.models import Notice, ZoneNotice
from ov.services import notices, passwords
from tests.browser.test_office_browser import sign_in
from tests.support.factories import make_customer
from tests.support.journeys import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean_db")]

NOW = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)


@pytest.fixture
def customer_with_notices(app):
    """A confirmed customer with three unread notices and a service notice for the zone."""
    with app.app_context():
        user, account = make_customer(password_hash=passwords.hash_password(PASSWORD))
        user.email_confirmed_at = NOW
        db.session.add_all(
            [Notice(user_id=user.id, title=title, body=f"{title}: detalles del aviso.",
                    created_at=NOW - timedelta(days=3 - index))
             for index, title in enumerate(["Recordatorio de pago", "Lectura recibida",
                                            "Corte programado"])]
            + [ZoneNotice(zone_id=account.zone_id, title="Mantenimiento de la red",
                          body="Sin servicio en la colonia Madero de 9:00 a 18:00.",
                          starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(hours=8))])
        db.session.commit()


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(notices, "utcnow", lambda: NOW)


def count_link(tab):
    return tab.locator(".notices-link")


def test_marking_read_in_place_with_javascript(page, axe, customer_with_notices, frozen):
    sign_in(page)
    expect(page.locator(".service-notices")).to_contain_text("Mantenimiento de la red")
    axe(page)
    count_link(page).click()
    page.wait_for_url("**/mi-oficina/avisos")
    expect(count_link(page)).to_have_text("Avisos (3) sin leer")
    axe(page)
    page.evaluate("window.notReloaded = true")
    page.get_by_role("button", name="Marcar como leído el aviso «Lectura recibida»").click()
    expect(count_link(page)).to_have_text("Avisos (2) sin leer")
    marked = page.get_by_role("heading", name="Lectura recibida (marcado como leído)")
    expect(marked).to_be_focused()
    expect(page.locator("#avisos")).to_have_text("Lectura recibida (marcado como leído)")
    assert page.evaluate("window.notReloaded") is True  # swapped in place, no page load
    assert page.url.endswith("/mi-oficina/avisos")
    axe(page)
    page.get_by_role("button", name="Marcar todos como leídos").click()
    expect(count_link(page)).to_have_text("Avisos (0) sin leer")
    expect(page.get_by_role("status").filter(has_text="Marcaste tus 2 avisos")).to_be_focused()
    expect(page.get_by_text("Sin leer", exact=True)).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True
    axe(page)


def test_marking_read_without_javascript(page_nojs, customer_with_notices, frozen):
    tab = page_nojs
    sign_in(tab)
    expect(tab.locator(".service-notices")).to_contain_text("Mantenimiento de la red")
    tab.goto("/mi-oficina/avisos")
    tab.get_by_role("button", name="Marcar como leído el aviso «Lectura recibida»").click()
    tab.wait_for_url("**/mi-oficina/avisos#aviso-*")
    expect(tab.get_by_role("status")).to_have_text("Marcaste «Lectura recibida» como leído.")
    expect(count_link(tab)).to_have_text("Avisos (2) sin leer")
    tab.get_by_role("button", name="Marcar todos como leídos").click()
    expect(tab.get_by_role("status")).to_have_text("Marcaste tus 2 avisos como leídos.")
    expect(count_link(tab)).to_have_text("Avisos (0) sin leer")


def test_the_public_home_shows_the_banner_to_visitors(page, axe, customer_with_notices, frozen):
    page.goto("/")
    banner = page.get_by_role("region", name="Avisos de servicio")
    expect(banner.get_by_role("heading", name="Nuevo Laredo")).to_be_visible()
    expect(banner).to_contain_text("Del 02/12/2026 09:00 al 02/12/2026 18:00")
    axe(page)
