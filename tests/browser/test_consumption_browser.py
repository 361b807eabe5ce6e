"""Mis consumos on a phone-sized Chromium, signed in: axe, no sideways scroll, the chart's
labels apart from each other, with and without JavaScript, and in forced colours."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from ov.extensions import db
from ov.models import Account, Invoice, UserAccount
from ov.models.portal import ReadingSubmission
from ov.services import passwords
from tests.support.factories import make_customer, make_invoices
from tests.support.history import pin
from tests.support.journeys import PASSWORD
from tests.support.reflow import WIDTHS, check_reflow

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean_db")]

URL = "/mi-oficina/consumos"

# The chart's labels that overlap another label or stick out of the drawing.
_LABELS_OVERLAPPING = """
() => {
  const found = [];
  for (const chart of document.querySelectorAll("svg.chart")) {
    const frame = chart.getBoundingClientRect();
    const boxes = [...chart.querySelectorAll("text")]
      .map((t) => [t.textContent, t.getBoundingClientRect()]);
    for (const [label, box] of boxes) {
      if (box.left < frame.left || box.right > frame.right || box.top < frame.top
          || box.bottom > frame.bottom) { found.push(`${label} outside the chart`); }
    }
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, p] = boxes[i], [b, q] = boxes[j];
        if (p.left < q.right && q.left < p.right && p.top < q.bottom && q.top < p.bottom) {
          found.push(`${a} / ${b}`);
        }
      }
    }
  }
  return found;
}
"""


#: The newest bills' issue dates: their periods end in October (the usual case) and in
#: January (the year's number under the last bar, at the drawing's right edge), whatever
#: the month the tests run in.
OCTOBER, JANUARY = date(2026, 11, 1), date(2026, 2, 1)


@pytest.fixture(params=[OCTOBER], ids=["octubre"])
def newest(request):
    return request.param


@pytest.fixture
def history(app, newest):
    """The customer of the seed guide's number with 24 months (some estimated), a second
    contract with 5, and a reading sent from the portal waiting for review."""
    with app.app_context():
        user, account = make_customer(password_hash=passwords.hash_password(PASSWORD))
        made = pin(make_invoices(account, 24), newest)
        second = Account(zone_id=account.zone_id, number="7654321", check_digit=1,
                         holder_name=account.holder_name, street="Hidalgo", street_number="5",
                         colonia="Centro", city="Nuevo Laredo", state="Tamaulipas",
                         postal_code="88000", meter_serial="IT7654321", tariff_code="RES")
        db.session.add(second)
        db.session.flush()
        db.session.add(UserAccount(user_id=user.id, account_id=second.id, alias="Local"))
        for invoice in pin(make_invoices(second, 5), newest):
            invoice.consumption_m3 = 12_480  # a business: the scale reaches "15,000"
        last = made[-1]
        db.session.add(ReadingSubmission(account_id=account.id, user_id=user.id,
                                         read_on=last.period_end + timedelta(days=9),
                                         value=last.current_reading + 11))
        db.session.commit()
        estimated = db.session.scalars(select(Invoice.id).where(
            Invoice.account_id == account.id, Invoice.reading_type == "estimated")).all()
        return {"second": second.id, "estimated": len(estimated)}


def sign_in(tab) -> None:
    tab.goto("/entrar")
    tab.fill("#usuario", "usuPDFactura1")
    tab.fill("#contrasena", PASSWORD)
    tab.get_by_role("button", name="Entrar", exact=True).click()
    tab.wait_for_url("**/mi-oficina")


@pytest.mark.parametrize("newest", [OCTOBER, JANUARY], ids=["octubre", "enero"],
                         indirect=True)
@pytest.mark.parametrize("width", WIDTHS)
def test_mis_consumos_passes_axe_and_fits_a_phone(page, axe, history, width):
    page.set_viewport_size({"width": width, "height": 740})
    sign_in(page)
    page.goto(URL)
    charts = page.get_by_role("img", name="Gráfica de barras de tu consumo en m³, últimos 24 "
                                         "periodos")
    expect(charts).to_have_count(1)
    assert page.locator("svg.chart").count() == 2  # 24 periods and 5 periods
    axe(page)
    check_reflow(page, URL)
    assert page.evaluate(_LABELS_OVERLAPPING) == []
    box = page.locator("svg.chart").first.bounding_box()
    assert box["width"] <= width and box["height"] > 100
    # The labels read well on a phone: their size on screen (the font size in drawing units
    # times the drawing's scale) is about 13 px at 360 px, 11 px at 320 px.
    size = page.evaluate("""() => {
      const chart = document.querySelector("svg.chart");
      const units = parseFloat(getComputedStyle(chart.querySelector("text")).fontSize);
      return units * chart.getBoundingClientRect().width / chart.viewBox.baseVal.width;
    }""")
    assert size >= (12.5 if width >= 360 else 10.9), size


def test_without_javascript_the_chart_and_table_show_and_fit_360_px(page_nojs, history):
    sign_in(page_nojs)
    page_nojs.goto(URL)
    svg = page_nojs.locator("svg.chart").first
    expect(svg).to_be_visible()
    assert svg.locator(".chart__bars rect").count() == 24
    assert svg.locator(".chart__est").count() == history["estimated"] > 0
    check_reflow(page_nojs, URL)
    assert page_nojs.evaluate(_LABELS_OVERLAPPING) == []
    pending = page_nojs.locator("tr.usage__pending")
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text("del cliente, en revisión")
    # The contract switch is a plain form: it works without JavaScript too.
    page_nojs.select_option("#contrato", str(history["second"]))
    page_nojs.get_by_role("button", name="Ver").click()
    page_nojs.wait_for_url(f"**{URL}?contrato={history['second']}")
    expect(page_nojs.locator("svg.chart")).to_have_count(1)
    expect(page_nojs.locator("svg.chart .chart__bars rect")).to_have_count(5)


def test_with_javascript_the_tab_and_the_switch_swap_in_place(page, axe, history):
    sign_in(page)
    tabs = page.get_by_role("navigation", name="Mi oficina")
    tabs.get_by_role("link", name="Mis consumos", exact=True).click()
    page.wait_for_url(f"**{URL}")
    # The tab swap brings the headings and summaries; each contract's chart, table and
    # bill change then load in place of their link.
    expect(page.locator("svg.chart")).to_have_count(2)
    expect(page.locator("[data-hx-trigger=load]")).to_have_count(0)
    expect(page.locator("tr.usage__pending")).to_have_count(1)
    expect(page.get_by_role("heading", name="¿Por qué cambió mi última factura?")).to_have_count(2)
    expect(page.locator("h1")).to_have_text("Mis consumos")
    expect(page.locator("h1")).to_be_focused()  # the lazy parts did not take the focus
    assert page.url.endswith(URL)  # nor the address bar
    page.select_option("#contrato", str(history["second"]))
    page.get_by_role("button", name="Ver").click()
    page.wait_for_url(f"**{URL}?contrato={history['second']}")
    expect(page.locator("svg.chart")).to_have_count(1)
    expect(page.get_by_role("heading", name="Contrato 7654321-1 · Local")).to_be_visible()
    axe(page)


def test_in_forced_colours_the_chart_follows_the_system_colours(browser, live_server, history):
    from tests.conftest import PHONE

    context = browser.new_context(base_url=live_server, forced_colors="active",
                                  color_scheme="dark", **PHONE)
    tab = context.new_page()
    sign_in(tab)
    tab.goto(URL)
    seen = tab.evaluate("""() => {
      const chart = document.querySelector("svg.chart");
      const style = (el) => getComputedStyle(el);
      const text = style(document.body).color;
      return {text, label: style(chart.querySelector("text")).fill,
              bar: style(chart.querySelector(".chart__bars rect:not(.chart__est)")).color,
              estimatedStroke: style(chart.querySelector(".chart__est")).stroke,
              estimatedFill: chart.querySelector(".chart__est").getAttribute("fill"),
              forced: matchMedia("(forced-colors: active)").matches};
    }""")
    context.close()
    assert seen["forced"]
    # Labels, bars and the estimated bars' outline all take the system's text colour.
    assert seen["label"] == seen["text"] == seen["bar"] == seen["estimatedStroke"], seen
    assert seen["estimatedFill"].startswith("url(#trama-")
