"""The page shell as an HTTP client sees it: full pages, fragments, headers, compression."""

from __future__ import annotations

import re

import pytest

from tests.support.pages import ERROR_PAGES, page_urls, uncovered_rules
from tests.support.weight import (
    FIRST_VISIT_BUDGET,
    PAGE_BUDGET,
    SCRIPT_BUDGET,
    decoded_text,
    measure,
)

PAGES = ["/", "/atencion-al-cliente", "/aviso-legal", "/aviso-de-privacidad", "/accesibilidad"]


def test_the_page_list_covers_every_route(app):
    assert set(PAGES) <= set(page_urls(app))
    assert uncovered_rules(app) == []


@pytest.mark.parametrize("url", PAGES)
def test_a_full_page_has_the_shell(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert html.startswith("<!doctype html>")
    assert '<html lang="es-MX">' in html
    assert 'href="#contenido"' in html and '<main id="contenido"' in html
    assert "<header" in html and "<footer" in html and 'aria-label="Principal"' in html
    assert re.search(r'<div id="avisos"[^>]*aria-live="polite"[^>]*></div>', html)
    assert html.count("<h1") == 1
    assert re.search(r"<title>[^<]+ · Oficina Virtual</title>", html)


@pytest.mark.parametrize("url", PAGES)
def test_htmx_gets_only_the_content_block_with_its_title(client, htmx_headers, url):
    full = client.get(url).get_data(as_text=True)
    response = client.get(url, headers=htmx_headers)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in fragment and "<header" not in fragment
    title = re.search(r"<title>(.*?)</title>", full).group(1)
    assert fragment.startswith(f"<title>{title}</title>")
    h1 = re.search(r"<h1[^>]*>.*?</h1>", full, re.S).group(0)
    assert h1 in fragment
    assert len(fragment) < len(full)


@pytest.mark.parametrize(
    "headers",
    [
        {"HX-Request": "true", "HX-Request-Type": "full", "HX-Boosted": "true"},
        {"HX-History-Restore-Request": "true", "HX-Request-Type": "full"},
        {"HX-Request-Type": "partial"},
    ],
    ids=["boosted", "history-restore", "no-hx-request"],
)
def test_boosts_and_history_restores_get_the_full_page(client, headers):
    html = client.get("/aviso-legal", headers=headers).get_data(as_text=True)
    assert html.startswith("<!doctype html>")


@pytest.mark.parametrize(
    "url", ["/", "/healthz", "/no-existe", "/static/css/ov.css", "/aviso-legal"]
)
def test_every_response_varies_on_hx_request(client, url):
    assert "HX-Request" in client.get(url).headers["Vary"]


def test_security_headers(client):
    headers = client.get("/").headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in headers  # only in production, over HTTPS


@pytest.mark.parametrize("url", PAGES + ERROR_PAGES)
def test_no_inline_script_style_or_event_handler(client, url):
    html = client.get(url).get_data(as_text=True)
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, tag
    assert re.search(r"<script\b[^>]*>\s*[^<\s]", html) is None
    assert "<style" not in html
    assert re.search(r'\sstyle="', html) is None
    assert re.search(r"\s(on[a-z]+|hx-on[:\w-]*)=", html) is None


def test_htmx_is_vendored_with_its_license_and_a_safe_config(client):
    html = client.get("/").get_data(as_text=True)
    src = re.search(r'<script src="(/static/vendor/htmx/htmx-4\.0\.\d+\.min\.js\?v=\w+)"', html)
    assert src, "htmx 4.0.x is loaded from our own static folder"
    assert client.get(src.group(1)).status_code == 200
    assert client.get("/static/vendor/htmx/LICENSE").status_code == 200
    config = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", html).group(1)
    assert '"mode":"same-origin"' in config and '"5xx"' in config


@pytest.mark.parametrize(
    ("accept", "expected"), [("br, gzip", "br"), ("gzip", "gzip"), ("identity", None)]
)
def test_pages_are_compressed(client, accept, expected):
    response = client.get("/aviso-de-privacidad", headers={"Accept-Encoding": accept})
    assert response.headers.get("Content-Encoding") == expected
    assert "Accept-Encoding" in response.headers["Vary"]
    assert "Aviso de privacidad" in decoded_text(response)


def test_static_files_are_precompressed_and_cached_by_version(client):
    html = client.get("/").get_data(as_text=True)
    href = re.search(r'href="(/static/css/ov\.css\?v=(\w+))"', html).group(1)
    versioned = client.get(href, headers={"Accept-Encoding": "br"})
    assert versioned.headers["Content-Encoding"] == "br"
    assert "immutable" in versioned.headers["Cache-Control"]
    assert "max-age=31536000" in versioned.headers["Cache-Control"]
    etag = versioned.headers["ETag"]
    again = client.get(href, headers={"Accept-Encoding": "br", "If-None-Match": etag})
    assert again.status_code == 304
    unversioned = client.get("/static/css/ov.css")
    assert unversioned.headers.get("Content-Encoding") is None
    assert "no-cache" in unversioned.headers["Cache-Control"]
    assert client.get("/static/../pyproject.toml").status_code == 404
    assert client.get("/static/css/nada.css").status_code == 404


@pytest.mark.parametrize("url", PAGES + ERROR_PAGES)
def test_page_weight_within_budget(client, url, record_property):
    weight = measure(client, url)
    record_property("html_bytes", weight.html_bytes)
    record_property("first_visit_bytes", weight.first_visit_bytes)
    assert weight.html_bytes <= PAGE_BUDGET, f"{url}: {weight.html_bytes} B compressed"
    assert weight.first_visit_bytes <= FIRST_VISIT_BUDGET, weight.assets
    assert weight.script_bytes <= SCRIPT_BUDGET, weight.assets
    assert weight.assets, "the shell loads its stylesheet, scripts and icon"


def test_a_fragment_is_a_fraction_of_its_page(client, htmx_headers):
    for url in PAGES:
        full = measure(client, url).html_bytes
        fragment = measure(client, url, htmx_headers).html_bytes
        assert fragment < full, url


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["database"] == "ok"


def test_a_redirect_says_where_to_go_in_spanish(client):
    """Its page only shows when a browser does not follow the redirect by itself."""
    from tests.support.journeys import hidden

    token = hidden(client.get("/registro/paso-1").get_data(as_text=True), "csrf_token")
    response = client.post("/registro/paso-1", data={"accion": "instructivo",
                                                     "csrf_token": token})
    assert response.status_code == 303
    html = response.get_data(as_text=True)
    assert 'lang="es-MX"' in html and "Continúa en" in html and "Redirecting" not in html
    assert 'href="/ayuda/factura?desde=registro"' in html
