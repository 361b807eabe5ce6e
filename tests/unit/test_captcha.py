"""The CAPTCHA adapter: the built-in check, and the vendors against a real siteverify server.

The vendor path talks HTTP to ``tests/support/siteverify.py`` on 127.0.0.1 (success, refusal,
wrong host, slow, garbled, HTTP 500, nobody listening), never to a mock object.
"""

from __future__ import annotations

import html
import logging
import re
import time
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask, g, render_template_string
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ov.extensions import db
from ov.models import UsedNonce, Zone, utcnow
from ov.services import captcha
from tests.support.siteverify import SiteverifyServer, closed_port_url

pytestmark = pytest.mark.usefixtures("clean_db")

CLIENT_ADDRESS = "203.0.113.7"
SECRET = "vendor-secret-do-not-log"


@pytest.fixture
def ctx(app: Flask):
    """Inside a POST to step 1, as the registration view will be."""
    with app.test_request_context(
        "/registro/paso-1", method="POST", environ_base={"REMOTE_ADDR": CLIENT_ADDRESS}
    ):
        yield


def builtin_form(widget: captcha.Widget, **extra: str) -> dict[str, str]:
    return {widget.token_field: widget.token or "", widget.honeypot_name: "", **extra}


def nonce_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(UsedNonce))


# --- builtin: the token ---------------------------------------------------------------------

def test_builtin_is_the_default_and_asks_nothing_of_the_browser(app, ctx):
    w = captcha.widget()
    assert w.provider == "builtin" and w.is_builtin
    assert w.script_url is None and w.response_field is None
    assert w.token and w.honeypot_name == captcha.HONEYPOT_FIELD
    assert captcha.widget().token != w.token, "every render gets a fresh token"
    assert "csp_extra" not in g, "the builtin check loads nothing from elsewhere"


def test_a_fresh_token_passes_at_once_then_never_again(app, ctx):
    w = captcha.widget()
    first = captcha.verify(builtin_form(w), CLIENT_ADDRESS)
    assert first == captcha.Result(ok=True, code="passed")
    db.session.commit()

    again = captcha.verify(builtin_form(w), CLIENT_ADDRESS)
    assert not again.ok and not again.unavailable
    assert again.code == "replay"
    assert again.message == captcha.MSG_FORM_EXPIRED


def test_a_replay_is_refused_by_another_worker(app, ctx):
    w = captcha.widget()
    assert captcha.verify(builtin_form(w), None).ok
    db.session.commit()
    # A new application context has its own session and connection, as another worker would.
    with app.app_context():
        assert captcha.verify(builtin_form(w), None).code == "replay"
        db.session.remove()


def test_a_replay_leaves_the_callers_transaction_usable(app, ctx):
    w = captcha.widget()
    assert captcha.verify(builtin_form(w), None).ok
    db.session.commit()

    db.session.add(Zone(id=3, code="NLD", name="Nuevo Laredo", cities="Nuevo Laredo"))
    assert captcha.verify(builtin_form(w), None).code == "replay"
    db.session.commit()
    db.session.remove()
    assert db.session.get(Zone, 3) is not None


def test_the_spent_token_is_kept_only_as_a_digest_until_it_expires(app, ctx):
    w = captcha.widget()
    before = utcnow()
    assert captcha.verify(builtin_form(w), None).ok
    db.session.commit()
    row = db.session.scalars(select(UsedNonce)).one()
    assert len(row.digest) == 64 and row.digest not in w.token
    assert row.purpose == captcha.PURPOSE_FORM
    max_age = timedelta(seconds=app.config["OV_CAPTCHA_TOKEN_MAX_AGE"])
    assert before + max_age - timedelta(seconds=2) <= row.expires_at <= utcnow() + max_age


def flip(token: str, index: int) -> str:
    """Change one character (one carrying whole bits, not base64 padding bits)."""
    chars = list(token)
    chars[index] = "A" if chars[index] != "A" else "B"
    return "".join(chars)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda t: flip(t, -10), id="signature"),
        pytest.param(lambda t: flip(t, 2), id="payload"),
        pytest.param(lambda t: t + "x", id="appended"),
        pytest.param(lambda t: "not-a-token", id="junk"),
        pytest.param(lambda t: "a.b.c", id="dots"),
        pytest.param(lambda t: ".".join(t.split(".")[:2]), id="no-signature"),
    ],
)
def test_a_tampered_token_is_refused(app, ctx, tamper):
    w = captcha.widget()
    form = builtin_form(w)
    form[captcha.TOKEN_FIELD] = tamper(w.token)
    result = captcha.verify(form, None)
    assert not result.ok and not result.unavailable
    assert result.code == "bad-token"
    assert result.message == captcha.MSG_NOT_HUMAN
    assert nonce_rows() == 0


def test_a_token_signed_with_another_key_or_salt_is_refused(app, ctx):
    forged = [
        URLSafeTimedSerializer("another-key", salt=captcha.TOKEN_SALT).dumps("nonce"),
        URLSafeTimedSerializer(app.secret_key, salt="another-salt").dumps("nonce"),
        URLSafeTimedSerializer(app.secret_key, salt=captcha.TOKEN_SALT).dumps(["not", "str"]),
    ]
    for token in forged:
        result = captcha.verify({captcha.TOKEN_FIELD: token}, None)
        assert result.code == "bad-token", token


def issued_seconds_ago(monkeypatch, seconds: int) -> captcha.Widget:
    """A widget whose token was signed ``seconds`` ago (itsdangerous reads time.time())."""
    then = int(time.time()) - seconds
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: then)
        return captcha.widget()


def test_an_expired_token_says_the_form_expired(app, ctx, monkeypatch):
    w = issued_seconds_ago(monkeypatch, app.config["OV_CAPTCHA_TOKEN_MAX_AGE"] + 5)
    result = captcha.verify(builtin_form(w), None)
    assert not result.ok and result.code == "expired-token"
    assert result.message == captcha.MSG_FORM_EXPIRED
    assert "caducó" in result.message


def test_a_slow_customer_has_four_hours(app, ctx, monkeypatch):
    assert app.config["OV_CAPTCHA_TOKEN_MAX_AGE"] == 4 * 3600
    w = issued_seconds_ago(monkeypatch, 4 * 3600 - 60)
    assert captcha.verify(builtin_form(w), None).ok


def test_the_max_age_is_a_setting(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "OV_CAPTCHA_TOKEN_MAX_AGE", 60)
    assert captcha.verify(builtin_form(issued_seconds_ago(monkeypatch, 61)), None).code == (
        "expired-token"
    )
    assert captcha.verify(builtin_form(issued_seconds_ago(monkeypatch, 30)), None).ok


def test_a_filled_honeypot_is_refused_with_the_generic_message(app, ctx):
    w = captcha.widget()
    result = captcha.verify(builtin_form(w, **{w.honeypot_name: "https://spam.example"}), None)
    assert not result.ok and not result.unavailable
    assert result.code == "honeypot"
    assert result.message == captcha.MSG_NOT_HUMAN
    assert nonce_rows() == 0


@pytest.mark.parametrize("form", [{}, {captcha.TOKEN_FIELD: ""}], ids=["absent", "empty"])
def test_a_missing_token_says_the_form_expired(app, ctx, form):
    result = captcha.verify(form, None)
    assert not result.ok and result.code == "missing-token"
    assert result.message == captcha.MSG_FORM_EXPIRED


# --- builtin: housekeeping -----------------------------------------------------------------

def test_purge_expired_deletes_only_what_can_no_longer_be_accepted(app, ctx):
    now = utcnow()
    for letter, expires_at in (("a", now - timedelta(seconds=1)), ("b", now + timedelta(hours=1))):
        db.session.add(UsedNonce(digest=letter * 64, purpose="captcha-form", expires_at=expires_at))
    db.session.commit()
    assert captcha.purge_expired(now) == 1
    db.session.commit()
    assert db.session.scalars(select(UsedNonce.digest)).all() == ["b" * 64]


def test_spending_a_token_sometimes_purges_the_old_ones(app, ctx, monkeypatch):
    db.session.add(
        UsedNonce(digest="a" * 64, purpose="captcha-form", expires_at=utcnow() - timedelta(days=1))
    )
    db.session.commit()
    monkeypatch.setattr(captcha, "PURGE_EVERY", 1)  # every insert purges
    assert captcha.verify(builtin_form(captcha.widget()), None).ok
    db.session.commit()
    assert db.session.scalars(select(UsedNonce.digest)).all() != ["a" * 64]
    assert nonce_rows() == 1


def test_the_callers_own_errors_are_not_taken_for_a_replay(app, ctx):
    db.session.add(Zone(id=1, code="MTY", name="Monterrey", cities="Monterrey"))
    db.session.commit()
    db.session.add(Zone(id=2, code="MTY", name="Monterrey 2", cities="Monterrey"))
    with pytest.raises(IntegrityError, match="(?i)unique|duplicate"):
        captcha.verify(builtin_form(captcha.widget()), None)
    db.session.rollback()


# --- vendors --------------------------------------------------------------------------------

PROVIDERS = ["recaptcha", "hcaptcha", "turnstile"]


@pytest.fixture
def siteverify():
    server = SiteverifyServer()
    yield server
    server.close()


@pytest.fixture(params=PROVIDERS)
def vendor(request, app, ctx, siteverify, monkeypatch) -> captcha.Vendor:
    """The shared app switched to a vendor for one test (monkeypatch restores the config)."""
    name = request.param
    for key, value in {
        "OV_CAPTCHA_PROVIDER": name,
        "OV_CAPTCHA_SITE_KEY": f"site-key-{name}",
        "OV_CAPTCHA_SECRET": SECRET,
        "OV_CAPTCHA_VERIFY_URL": siteverify.url,
        "OV_CAPTCHA_CONNECT_TIMEOUT": 0.5,
        "OV_CAPTCHA_READ_TIMEOUT": 0.5,
    }.items():
        monkeypatch.setitem(app.config, key, value)
    return captcha.VENDORS[name]


def solved(vendor: captcha.Vendor, response: str = "vendor-response-token") -> dict[str, str]:
    return {vendor.response_field: response, "numero_cuenta": "8295249"}


OK = {"success": True, "hostname": "127.0.0.1", "challenge_ts": "2026-11-27T12:00:00Z"}


def test_a_vendor_widget_names_its_field_script_and_site_key(app, vendor):
    w = captcha.widget()
    assert w.provider == vendor.name and not w.is_builtin
    assert w.site_key == f"site-key-{vendor.name}"
    assert w.response_field == {
        "recaptcha": "g-recaptcha-response",
        "hcaptcha": "h-captcha-response",
        "turnstile": "cf-turnstile-response",
    }[vendor.name]
    assert w.script_url.startswith("https://")
    assert w.token is None


def csp_allows(source: str, url: str) -> bool:
    """Whether a CSP host-source (``https://*.example.com``, ``https://h/path/``) allows url."""
    wanted, got = urlsplit(source), urlsplit(url)
    if wanted.scheme != got.scheme:
        return False
    if wanted.hostname.startswith("*."):
        host_ok = got.hostname.endswith(wanted.hostname[1:])
    else:
        host_ok = got.hostname == wanted.hostname
    path = wanted.path
    path_ok = not path or (got.path.startswith(path) if path.endswith("/") else got.path == path)
    return host_ok and path_ok


def test_csp_allows_reads_sources_as_browsers_do():
    assert csp_allows("https://*.hcaptcha.com", "https://js.hcaptcha.com/1/api.js")
    assert not csp_allows("https://*.hcaptcha.com", "https://hcaptcha.com.evil/1/api.js")
    assert csp_allows("https://www.google.com/recaptcha/", "https://www.google.com/recaptcha/api.js")
    assert not csp_allows("https://www.google.com/recaptcha/", "https://www.google.com/maps.js")
    assert not csp_allows("https://challenges.cloudflare.com", "http://challenges.cloudflare.com/")


def test_a_vendor_widget_widens_the_csp_of_its_response_only(app, vendor):
    captcha.widget()
    policy = app.process_response(app.response_class("step 1")).headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
    script_origins = [s for s in directives["script-src"] if s != "'self'"]
    assert script_origins, policy
    assert any(csp_allows(s, vendor.script_url) for s in script_origins), policy
    assert "'none'" not in directives["frame-src"]
    for directive, sources in vendor.csp.items():
        assert set(sources) <= set(directives[directive]), directive
    assert directives["frame-ancestors"] == ["'none'"]
    # Another request (its own application context, hence its own ``g``) keeps the base policy.
    with app.app_context(), app.test_request_context("/otra-pagina"):
        other = app.process_response(app.response_class("x")).headers["Content-Security-Policy"]
    assert "script-src 'self';" in other and "frame-src 'none'" in other


def test_a_vendor_success_passes_and_sends_secret_response_and_address(app, vendor, siteverify):
    siteverify.answer(OK)
    result = captcha.verify(solved(vendor), CLIENT_ADDRESS)
    assert result == captcha.Result(ok=True, code="passed")
    assert siteverify.requests == [
        {"secret": SECRET, "response": "vendor-response-token", "remoteip": CLIENT_ADDRESS}
    ]


def test_a_vendor_response_is_single_use_on_our_side_too(app, vendor, siteverify):
    siteverify.answer(OK)  # a vendor (or its test keys) that would accept it twice
    assert captcha.verify(solved(vendor), CLIENT_ADDRESS).ok
    db.session.commit()
    again = captcha.verify(solved(vendor), CLIENT_ADDRESS)
    assert not again.ok and again.code == "replay" and not again.unavailable
    assert again.message == captcha.MSG_EXPIRED_CHECK
    row = db.session.scalars(select(UsedNonce)).one()
    assert row.purpose == vendor.name and row.digest == captcha.digest("vendor-response-token")


@pytest.mark.parametrize(
    ("codes", "code", "message"),
    [
        (["missing-input-response"], "missing-input-response", captcha.MSG_COMPLETE),
        (["invalid-input-response"], "invalid-input-response", captcha.MSG_EXPIRED_CHECK),
        (["timeout-or-duplicate"], "timeout-or-duplicate", captcha.MSG_EXPIRED_CHECK),
        (["invalid-or-already-seen-response"], "invalid-or-already-seen-response",
         captcha.MSG_EXPIRED_CHECK),
        ([], "failed", captcha.MSG_NOT_HUMAN),
        (["something-new"], "failed", captcha.MSG_NOT_HUMAN),
    ],
)
def test_a_vendor_refusal_tells_the_customer_what_to_do(app, vendor, siteverify, codes, code,
                                                       message):
    siteverify.answer({"success": False, "error-codes": codes})
    result = captcha.verify(solved(vendor), CLIENT_ADDRESS)
    assert result == captcha.Result(ok=False, code=code, message=message, unavailable=False)
    assert nonce_rows() == 0


@pytest.fixture
def captcha_log():
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger(captcha.__name__)
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@pytest.mark.parametrize(
    "codes", [["invalid-input-secret"], ["missing-input-secret"], ["sitekey-secret-mismatch"],
              ["bad-request"], ["internal-error"]],
)
def test_our_misconfiguration_is_logged_and_the_customer_asked_to_retry(
    app, vendor, siteverify, captcha_log, codes
):
    siteverify.answer({"success": False, "error-codes": codes})
    result = captcha.verify(solved(vendor), CLIENT_ADDRESS)
    assert not result.ok and result.unavailable
    assert result.code == f"provider-config:{codes[0]}"
    assert result.message == captcha.MSG_UNAVAILABLE
    logged = [r.getMessage() for r in captcha_log if r.levelno >= logging.ERROR]
    assert logged and codes[0] in logged[0]
    everything = " ".join(r.getMessage() for r in captcha_log)
    assert SECRET not in everything and "vendor-response-token" not in everything


def test_a_response_solved_on_another_site_is_refused(app, vendor, siteverify):
    siteverify.answer({"success": True, "hostname": "evil.example"})
    result = captcha.verify(solved(vendor), CLIENT_ADDRESS)
    assert not result.ok and not result.unavailable and result.code == "hostname-mismatch"
    assert result.message == captcha.MSG_NOT_HUMAN
    siteverify.answer({"success": True})
    assert captcha.verify(solved(vendor, "other"), None).code == "hostname-mismatch"


def test_the_expected_hostname_follows_the_settings(app, vendor, siteverify, monkeypatch):
    siteverify.answer({"success": True, "hostname": "oficinavirtual.example"})
    monkeypatch.setitem(app.config, "OV_PUBLIC_URL", "https://OficinaVirtual.example/")
    assert captcha.verify(solved(vendor, "one"), None).ok
    monkeypatch.setitem(app.config, "OV_CAPTCHA_HOSTNAME", "portal.example")
    assert captcha.verify(solved(vendor, "two"), None).code == "hostname-mismatch"


@pytest.fixture
def posted_timeouts(monkeypatch) -> list:
    """The ``timeout`` of every siteverify call; a call without one fails the test at once
    (it would wait as long as the vendor likes)."""
    seen: list = []
    real_post = captcha.requests.post

    def post(url, **kwargs):
        seen.append(kwargs.get("timeout"))
        assert kwargs.get("timeout") is not None, "siteverify called without a timeout"
        return real_post(url, **kwargs)

    monkeypatch.setattr(captcha.requests, "post", post)
    return seen


def test_a_vendor_that_never_answers_is_refused_not_accepted(app, vendor, siteverify,
                                                             monkeypatch, posted_timeouts):
    """The configured timeouts reach the HTTP call, and a siteverify that holds the request
    without answering ends in "try again" (503), never in a pass. The read timeout is tiny so
    the test is quick; what is checked is the outcome, not the clock."""
    monkeypatch.setitem(app.config, "OV_CAPTCHA_CONNECT_TIMEOUT", 0.7)
    monkeypatch.setitem(app.config, "OV_CAPTCHA_READ_TIMEOUT", 0.01)
    siteverify.answer(OK, delay=3600)  # the stand-in answers only when it is closed
    result = captcha.verify(solved(vendor), CLIENT_ADDRESS)
    assert result == captcha.Result(
        ok=False, code="provider-timeout", message=captcha.MSG_UNAVAILABLE, unavailable=True
    )
    assert posted_timeouts == [(0.7, 0.01)]
    assert siteverify.wait_for_requests(1)  # it was asked, and gave no answer
    assert len(siteverify.requests) == 1
    assert nonce_rows() == 0

    zone = Zone(id=3, code="NLD", name="Nuevo Laredo", cities="Nuevo Laredo")
    db.session.add(zone)
    db.session.commit()
    client = app.test_client()
    page = client.get("/registro/paso-1").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]*)"', page).group(1)
    step1 = client.post("/registro/paso-1", data={
        "csrf_token": csrf, "zona": "3", "cuenta": "8295249", "factura": "ZE40389382",
        vendor.response_field: "vendor-response-token"})
    assert step1.status_code == 503
    assert html.escape(captcha.MSG_UNAVAILABLE, quote=False) in step1.get_data(as_text=True)
    assert posted_timeouts == [(0.7, 0.01)] * 2


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Service Unavailable</body></html>",
        b'{"success": true',
        b"[]",
        b"{}",
        b'{"success": "true", "hostname": "127.0.0.1"}',
        b'{"success": 1, "hostname": "127.0.0.1"}',
        b"",
        b'{"success": true, "pad": "' + b"x" * (captcha.MAX_ANSWER_BYTES + 10) + b'"}',
    ],
    ids=["html", "truncated", "array", "empty-object", "string-true", "int-true", "empty",
         "oversized"],
)
def test_a_garbled_answer_is_refused_not_accepted(app, vendor, siteverify, body):
    siteverify.answer_raw(body)
    result = captcha.verify(solved(vendor), CLIENT_ADDRESS)
    assert not result.ok and result.unavailable
    assert result.code == "provider-bad-answer"
    assert nonce_rows() == 0


@pytest.mark.parametrize("status", [500, 503, 302, 404])
def test_an_http_error_is_refused_not_accepted(app, vendor, siteverify, status):
    siteverify.answer(OK, status=status)
    result = captcha.verify(solved(vendor), CLIENT_ADDRESS)
    assert not result.ok and result.unavailable and result.code == "provider-http-error"


@pytest.mark.parametrize("status", [302, 307, 308])
def test_a_redirect_is_not_followed(app, vendor, siteverify, status):
    siteverify.answer({}, status=status, headers={"Location": siteverify.url + "?elsewhere"})
    siteverify.answer(OK)
    result = captcha.verify(solved(vendor), CLIENT_ADDRESS)
    assert not result.ok and result.unavailable and result.code == "provider-http-error"
    assert siteverify.paths == ["/siteverify"]


def test_an_unreachable_vendor_is_refused_not_accepted(app, vendor, monkeypatch):
    monkeypatch.setitem(app.config, "OV_CAPTCHA_VERIFY_URL", closed_port_url())
    result = captcha.verify(solved(vendor), CLIENT_ADDRESS)
    assert result == captcha.Result(
        ok=False, code="provider-unreachable", message=captcha.MSG_UNAVAILABLE, unavailable=True
    )


@pytest.mark.parametrize("response", ["", "   ", "x" * (captcha.MAX_RESPONSE_LENGTH + 1)])
def test_an_unsolved_widget_is_refused_without_calling_the_vendor(app, vendor, siteverify,
                                                                  response):
    siteverify.answer(OK)
    result = captcha.verify(solved(vendor, response), CLIENT_ADDRESS)
    assert not result.ok and not result.unavailable
    assert siteverify.requests == []
    if response.strip():
        assert result.message == captcha.MSG_EXPIRED_CHECK
    else:
        assert result.message == captcha.MSG_COMPLETE


def test_every_vendor_has_a_https_siteverify_default():
    assert {name: v.verify_url for name, v in captcha.VENDORS.items()} == {
        "recaptcha": "https://www.google.com/recaptcha/api/siteverify",
        "hcaptcha": "https://api.hcaptcha.com/siteverify",
        "turnstile": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
    }


# --- the template macro ---------------------------------------------------------------------

class Elements(HTMLParser):
    """Every element with its attributes, and the text, of a rendered fragment."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        if data.strip():
            self.text.append(data.strip())

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a for t, a in self.elements
            if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]


def render(widget: captcha.Widget, error: str | None = None) -> str:
    return render_template_string(
        '{% from "macros/captcha.html" import captcha %}{{ captcha(widget, error) }}',
        widget=widget, error=error,
    )


def test_the_builtin_fields_are_invisible_to_people_and_assistive_technology(app, ctx):
    w = captcha.widget()
    page = Elements(render(w))
    (token,) = page.find("input", type="hidden")
    assert token["name"] == captcha.TOKEN_FIELD and token["value"] == w.token
    (wrapper,) = page.find("div", **{"class": "hp-field"})
    assert wrapper["aria-hidden"] == "true"
    (trap,) = page.find("input", type="text")
    assert trap["name"] == w.honeypot_name and trap["value"] == ""
    assert trap["tabindex"] == "-1" and trap["autocomplete"] == "off"
    (label,) = page.find("label")
    assert label["for"] == trap["id"]
    assert "vacío" in " ".join(page.text)
    autofilled = ("name", "nombre", "mail", "correo", "phone", "tel", "url", "web", "user",
                  "address", "direccion", "company", "empresa")
    assert not any(word in trap["name"].lower() for word in autofilled)
    assert not page.find("script")
    # Nothing else shows: the only elements are the two inputs, the wrapper and its label.
    assert [t for t, _ in page.elements] == ["input", "div", "label", "input"]


def test_the_honeypot_is_moved_off_screen_by_the_stylesheet():
    css = (Path(captcha.__file__).parents[1] / "static" / "css" / "ov.css").read_text()
    rule = css[css.index(".hp-field {"):]
    rule = rule[: rule.index("}")]
    assert "position: absolute" in rule and "-10000px" in rule
    assert "display: none" not in rule


def test_a_builtin_error_is_shown_where_the_summary_links(app, ctx):
    page = Elements(render(captcha.widget(), captcha.MSG_FORM_EXPIRED))
    (group,) = page.find("div", id=captcha.ERROR_TARGET)
    assert group["tabindex"] == "-1"
    assert page.find("span", id="captcha-error")
    assert "Error:" in page.text and captcha.MSG_FORM_EXPIRED in page.text


@pytest.mark.parametrize("error", [None, captcha.MSG_EXPIRED_CHECK])
def test_the_vendor_widget_renders_without_inline_javascript(app, vendor, error):
    page = Elements(render(captcha.widget(), error))
    assert "Captcha:" in page.text and "(*)" in page.text
    (box,) = page.find("div", **{"class": vendor.widget_class})
    assert box["data-sitekey"] == f"site-key-{vendor.name}"
    assert not any(k in box for k in ("data-callback", "onload", "onclick"))
    scripts = page.find("script")
    assert scripts == [{"src": vendor.script_url, "async": None, "defer": None}]
    noscript = " ".join(page.text)
    assert "JavaScript" in noscript and app.config["OV_CUSTOMER_PHONE"] in noscript
    assert page.find("a", href="tel:" + app.config["OV_CUSTOMER_PHONE"].replace(" ", ""))
    (group,) = page.find("div", id=captcha.ERROR_TARGET)
    assert group["role"] == "group" and group["aria-labelledby"] == "captcha-etiqueta"
    assert page.find("p", id="captcha-etiqueta")
    if error:
        assert group["aria-describedby"] == "captcha-error"
        assert page.find("span", id="captcha-error") and error in page.text
    else:
        assert "aria-describedby" not in group and not page.find("span", id="captcha-error")


def test_the_captcha_settings_are_read_from_the_environment():
    from ov.config import from_environment

    settings = from_environment(
        {
            "OV_CAPTCHA_TOKEN_MAX_AGE": "600",
            "OV_CAPTCHA_HOSTNAME": "oficinavirtual.example",
            "OV_CAPTCHA_CONNECT_TIMEOUT": "1.5",
            "OV_CAPTCHA_READ_TIMEOUT": "2",
        }
    )
    assert settings == {
        "OV_CAPTCHA_TOKEN_MAX_AGE": 600,
        "OV_CAPTCHA_HOSTNAME": "oficinavirtual.example",
        "OV_CAPTCHA_CONNECT_TIMEOUT": 1.5,
        "OV_CAPTCHA_READ_TIMEOUT": 2.0,
    }
