"""Every HTML page the portal serves, derived from the URL map so a new page is never missed."""

from __future__ import annotations

from flask import Flask

# Endpoints that answer something other than an HTML page.
NOT_PAGES = {"static", "ops.healthz", "ops.readyz", "office.invoice_pdf", "office.invoice_cfdi",
             "office.photo",  # an image, not a page
             "office.my_data_json",
             # forms' addresses, reached by GET: a redirect to their page
             "office.set_paperless", "office.set_notices", "office.set_bill_format",
             "office.name_contract", "office.mark_read", "office.mark_all_read"}
# Mi oficina pages that need a signed-in customer's own record: visited signed in, with
# the same axe and weight checks, by tests/browser/test_office_browser.py (invoices) and
# tests/browser/test_contracts_browser.py (removing a contract) and
# tests/browser/test_privacy_browser.py (a privacy request) and
# tests/browser/test_readings_browser.py (a reading received) and
# tests/browser/test_requests_browser.py (a request or claim; its HTML is checked by
# tests/http/test_office_requests.py).
SIGNED_IN_PAGES = {"office.invoice", "office.remove_contract", "office.privacy_request",
                   "office.reading_received", "office.request"}
# Rules with arguments need an example URL; add one here when such a page is added.
EXAMPLES: dict[str, list[str]] = {}
# Pages that need a valid signed token in the URL: no example URL can stay valid, so each
# has its own browser test that makes a token and runs the same axe checks.
TOKEN_PAGES = {"account.confirm_email", "account.undo_change", "auth.reset_link"}
# Error pages are pages too: visited by the same axe and weight checks.
ERROR_PAGES = ["/no-existe-esta-pagina"]


def page_urls(app: Flask) -> list[str]:
    urls: list[str] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in NOT_PAGES or "GET" not in (rule.methods or ()):
            continue
        if rule.arguments:
            urls.extend(EXAMPLES.get(rule.endpoint, []))
        else:
            urls.append(rule.rule)
    return urls


def uncovered_rules(app: Flask) -> list[str]:
    """GET rules with arguments that have no example URL (a page nobody would check)."""
    return [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.arguments
        and rule.endpoint not in NOT_PAGES
        and rule.endpoint not in TOKEN_PAGES
        and rule.endpoint not in SIGNED_IN_PAGES
        and "GET" in (rule.methods or ())
        and not EXAMPLES.get(rule.endpoint)
    ]
