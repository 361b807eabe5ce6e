"""The CAPTCHA adapter: one interface for the built-in check and three vendors.

``builtin`` (the default) asks nothing of the customer: a honeypot field that people and
assistive technology never see, and a signed, expiring, single-use form token. There is no
minimum age, so fast typists and password managers are never penalised. Rate limits are the
views' job (Flask-Limiter).

``recaptcha``, ``hcaptcha`` and ``turnstile`` show the vendor's widget and check its answer
server-side with the vendor's siteverify endpoint (the three share one request and answer
shape). When the vendor cannot be reached, or answers something we cannot read, the check
fails closed: ``Result.unavailable`` tells the view to answer 503 and offer a retry.

A view does::

    w = captcha.widget()                   # on every render of the form (also re-renders)
    result = captcha.verify(request.form, request.remote_addr)
    if not result.ok:                      # 503 if result.unavailable, else 422
        ... re-render with error=result.message and a fresh widget()
    db.session.commit()                    # also on the failure paths: records the spent token

``verify`` spends the token in the caller's session (inside a SAVEPOINT); the token stays
spent only once the caller commits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import requests
from flask import current_app, has_request_context
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from ov.extensions import db
from ov.models.common import utcnow
from ov.models.tokens import UsedNonce
from ov.security import allow_sources

log = logging.getLogger(__name__)

BUILTIN = "builtin"

#: Form field carrying the built-in signed token.
TOKEN_FIELD = "captcha_token"  # nosec B105  # noqa: S105 (a field name, not a secret)
#: The honeypot. A name no browser or password manager fills in (not name, email, phone,
#: address, url, company...), in the site's language like every other field.
HONEYPOT_FIELD = "comentarios"
#: The id of the (focusable) field group: the error summary links to ``#captcha``.
ERROR_TARGET = "captcha"

TOKEN_SALT = "ov.captcha.form-token"  # nosec B105  # noqa: S105 (a namespace, not a secret)
#: ``UsedNonce.purpose`` of a built-in form token.
PURPOSE_FORM = "captcha-form"
#: How long a spent vendor response is remembered. Vendors accept a response for two
#: (reCAPTCHA, hCaptcha) to five (Turnstile) minutes; after that they refuse it themselves.
VENDOR_TOKEN_MEMORY = timedelta(minutes=30)
#: Vendor responses are a few hundred to a few thousand characters; refuse absurd ones
#: without calling anyone.
MAX_RESPONSE_LENGTH = 8192
#: The siteverify answer is a small JSON object; read at most this much of it.
MAX_ANSWER_BYTES = 64 * 1024
#: About one insert in this many also deletes the expired rows of ``used_nonce``.
PURGE_EVERY = 100


@dataclass(frozen=True)
class Vendor:
    name: str
    verify_url: str
    script_url: str
    response_field: str
    widget_class: str
    #: CSP directive -> sources, as each vendor documents it.
    csp: Mapping[str, tuple[str, ...]]
    #: Extra ``data-*`` attributes for the widget's element (without the ``data-`` prefix).
    widget_data: Mapping[str, str]


_HCAPTCHA_HOSTS = ("https://hcaptcha.com", "https://*.hcaptcha.com")

VENDORS: dict[str, Vendor] = {
    # https://developers.google.com/recaptcha/docs/faq (CSP): script-src and frame-src.
    "recaptcha": Vendor(
        name="recaptcha",
        verify_url="https://www.google.com/recaptcha/api/siteverify",
        script_url="https://www.google.com/recaptcha/api.js?hl=es-419",
        response_field="g-recaptcha-response",
        widget_class="g-recaptcha",
        csp={
            "script-src": ("https://www.google.com/recaptcha/", "https://www.gstatic.com/recaptcha/"),
            "frame-src": ("https://www.google.com/recaptcha/", "https://recaptcha.google.com/recaptcha/"),
        },
        widget_data={},
    ),
    # https://docs.hcaptcha.com/#content-security-policy-settings: four directives, and no
    # hard-coded asset subdomains.
    "hcaptcha": Vendor(
        name="hcaptcha",
        verify_url="https://api.hcaptcha.com/siteverify",
        script_url="https://js.hcaptcha.com/1/api.js?hl=es",
        response_field="h-captcha-response",
        widget_class="h-captcha",
        csp={
            "script-src": _HCAPTCHA_HOSTS,
            "frame-src": _HCAPTCHA_HOSTS,
            "style-src": _HCAPTCHA_HOSTS,
            "connect-src": _HCAPTCHA_HOSTS,
        },
        widget_data={},
    ),
    # https://developers.cloudflare.com/turnstile/reference/content-security-policy/
    "turnstile": Vendor(
        name="turnstile",
        verify_url="https://challenges.cloudflare.com/turnstile/v0/siteverify",
        script_url="https://challenges.cloudflare.com/turnstile/v0/api.js",
        response_field="cf-turnstile-response",
        widget_class="cf-turnstile",
        csp={
            "script-src": ("https://challenges.cloudflare.com",),
            "frame-src": ("https://challenges.cloudflare.com",),
        },
        widget_data={"language": "es"},
    ),
}


# --- what the customer reads ---------------------------------------------------------------

MSG_NOT_HUMAN = "No pudimos comprobar que eres una persona. Vuelve a intentarlo."
MSG_FORM_EXPIRED = (
    "El formulario caducó o ya se había enviado. Revisa tus datos y envíalo de nuevo."
)
MSG_COMPLETE = "Completa la verificación «No soy un robot» antes de continuar."
MSG_EXPIRED_CHECK = (
    "La verificación «No soy un robot» caducó. Vuelve a completarla y envía el formulario."
)
MSG_UNAVAILABLE = (
    "En este momento no podemos hacer la verificación de seguridad. Tus datos no se "
    "perdieron: espera un momento y vuelve a intentarlo."
)

#: The customer did not complete the widget.
_CODES_MISSING = frozenset({"missing-input-response"})
#: The response is stale, spent or garbled: solving the widget again fixes it.
_CODES_STALE = frozenset(
    {
        "invalid-input-response",
        "timeout-or-duplicate",
        "expired-input-response",
        "already-seen-response",
        "invalid-or-already-seen-response",
    }
)
#: Our configuration is wrong, or the vendor failed: not the customer's fault.
_CODES_OURS = frozenset(
    {
        "missing-input-secret",
        "invalid-input-secret",
        "sitekey-secret-mismatch",
        "bad-request",
        "internal-error",
        "missing-remoteip",
        "invalid-remoteip",
        "not-using-dummy-passcode",
        "invalid-sitekey",
    }
)


@dataclass(frozen=True)
class Widget:
    """What a form template needs to render the configured check (see macros/captcha.html)."""

    provider: str
    site_key: str = ""
    #: The vendor's script (None for builtin).
    script_url: str | None = None
    #: The form field the vendor's script fills in (None for builtin).
    response_field: str | None = None
    #: The class of the element the vendor's script turns into the widget.
    widget_class: str | None = None
    widget_data: Mapping[str, str] | None = None
    #: builtin: a fresh signed single-use token, and the fields' names.
    token: str | None = None
    token_field: str = TOKEN_FIELD
    honeypot_name: str = HONEYPOT_FIELD
    error_target: str = ERROR_TARGET

    @property
    def is_builtin(self) -> bool:
        return self.provider == BUILTIN


@dataclass(frozen=True)
class Result:
    """The outcome of ``verify``.

    ``message`` is for the customer (Spanish), ``code`` for the audit trail and the logs
    (never a secret, never what the customer sent). When ``unavailable`` is true the check
    could not be made (vendor unreachable, slow, garbled, or our configuration is wrong):
    answer 503 and offer a retry.
    """

    ok: bool
    code: str
    message: str | None = None
    unavailable: bool = False


def _passed(code: str) -> Result:
    return Result(ok=True, code=code)


def _refused(code: str, message: str) -> Result:
    return Result(ok=False, code=code, message=message)


def _unavailable(code: str) -> Result:
    return Result(ok=False, code=code, message=MSG_UNAVAILABLE, unavailable=True)


def provider() -> str:
    return current_app.config["OV_CAPTCHA_PROVIDER"]


# --- the widget ----------------------------------------------------------------------------

def widget() -> Widget:
    """The check for the configured provider; for a vendor, also widens this response's CSP."""
    name = provider()
    if name == BUILTIN:
        return Widget(provider=BUILTIN, token=_serializer().dumps(secrets.token_urlsafe(24)))
    vendor = VENDORS[name]
    if has_request_context():
        for directive, sources in vendor.csp.items():
            allow_sources(directive, *sources)
    return Widget(
        provider=name,
        site_key=current_app.config["OV_CAPTCHA_SITE_KEY"],
        script_url=vendor.script_url,
        response_field=vendor.response_field,
        widget_class=vendor.widget_class,
        widget_data=dict(vendor.widget_data),
    )


# --- the check -----------------------------------------------------------------------------

def verify(form: Mapping[str, str], remote_addr: str | None) -> Result:
    """Check a submitted form. Spends its token: call ``widget()`` again to re-render."""
    name = provider()
    if name == BUILTIN:
        return _verify_builtin(form)
    return _verify_vendor(VENDORS[name], form, remote_addr)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=TOKEN_SALT)


def _verify_builtin(form: Mapping[str, str]) -> Result:
    if (form.get(HONEYPOT_FIELD) or "").strip():
        return _refused("honeypot", MSG_NOT_HUMAN)
    token = form.get(TOKEN_FIELD) or ""
    if not token:
        return _refused("missing-token", MSG_FORM_EXPIRED)
    max_age = current_app.config["OV_CAPTCHA_TOKEN_MAX_AGE"]
    try:
        nonce, issued = _serializer().loads(token, max_age=max_age, return_timestamp=True)
    except SignatureExpired:
        return _refused("expired-token", MSG_FORM_EXPIRED)
    except BadSignature:
        return _refused("bad-token", MSG_NOT_HUMAN)
    if not isinstance(nonce, str) or not nonce:
        return _refused("bad-token", MSG_NOT_HUMAN)
    # Once the signature has expired the token is refused anyway: forget it then.
    expires_at = issued.astimezone(UTC) + timedelta(seconds=max_age)
    if not spend(PURPOSE_FORM, nonce, expires_at):
        return _refused("replay", MSG_FORM_EXPIRED)
    return _passed("passed")


def _verify_vendor(vendor: Vendor, form: Mapping[str, str], remote_addr: str | None) -> Result:
    config = current_app.config
    response = (form.get(vendor.response_field) or "").strip()
    if not response:
        return _refused("missing-input-response", MSG_COMPLETE)
    if len(response) > MAX_RESPONSE_LENGTH:
        return _refused("oversized-response", MSG_EXPIRED_CHECK)
    payload = {"secret": config["OV_CAPTCHA_SECRET"], "response": response}
    if remote_addr:
        payload["remoteip"] = remote_addr
    url = config["OV_CAPTCHA_VERIFY_URL"] or vendor.verify_url
    timeout = (
        float(config["OV_CAPTCHA_CONNECT_TIMEOUT"]),
        float(config["OV_CAPTCHA_READ_TIMEOUT"]),
    )

    answer = _siteverify(vendor.name, url, payload, timeout)
    if isinstance(answer, Result):
        return answer

    codes = [str(c) for c in answer.get("error-codes") or [] if isinstance(c, str)]
    if answer["success"] is not True:
        return _failure(vendor.name, codes)
    expected = _expected_hostname()
    reported = answer.get("hostname")
    if not isinstance(reported, str) or reported.strip().lower() != expected:
        log.warning(
            "captcha %s: solved on host %r, expected %r: refused", vendor.name, reported, expected
        )
        return _refused("hostname-mismatch", MSG_NOT_HUMAN)
    # The vendors refuse a second verification themselves; this holds even if one does not
    # (test keys, a vendor-side bug) and costs no call when a response is replayed later.
    if not spend(vendor.name, response, utcnow() + VENDOR_TOKEN_MEMORY):
        return _refused("replay", MSG_EXPIRED_CHECK)
    return _passed("passed")


def _siteverify(
    name: str, url: str, payload: dict[str, str], timeout: tuple[float, float]
) -> dict | Result:
    """POST to siteverify; the decoded answer, or a fail-closed Result when there is none."""
    try:
        with requests.post(
            url, data=payload, timeout=timeout, allow_redirects=False, stream=True
        ) as reply:
            status = reply.status_code
            body = b""
            for chunk in reply.iter_content(chunk_size=8192):
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    break
    except requests.Timeout:
        log.error("captcha %s: siteverify timed out (%s s)", name, timeout)
        return _unavailable("provider-timeout")
    except requests.RequestException as exc:
        log.error("captcha %s: siteverify unreachable: %s", name, type(exc).__name__)
        return _unavailable("provider-unreachable")
    if status != 200:
        log.error("captcha %s: siteverify answered HTTP %s", name, status)
        return _unavailable("provider-http-error")
    if len(body) > MAX_ANSWER_BYTES:
        log.error("captcha %s: siteverify answer too large", name)
        return _unavailable("provider-bad-answer")
    try:
        answer = json.loads(body)
    except ValueError:
        log.error("captcha %s: siteverify answer is not JSON", name)
        return _unavailable("provider-bad-answer")
    if not isinstance(answer, dict) or not isinstance(answer.get("success"), bool):
        log.error("captcha %s: siteverify answer has no boolean 'success'", name)
        return _unavailable("provider-bad-answer")
    return answer


def _failure(name: str, codes: list[str]) -> Result:
    """Map the vendor's error codes: what the customer can fix, and what they cannot."""
    known = set(codes)
    if known & _CODES_OURS:
        # A wrong secret or site key is our configuration; the customer can only wait.
        log.error("captcha %s: siteverify refused our request: %s", name, ", ".join(sorted(known)))
        return _unavailable("provider-config:" + ",".join(sorted(known & _CODES_OURS)))
    if known & _CODES_MISSING:
        return _refused("missing-input-response", MSG_COMPLETE)
    if known & _CODES_STALE:
        return _refused(sorted(known & _CODES_STALE)[0], MSG_EXPIRED_CHECK)
    if codes:
        log.warning("captcha %s: unknown error codes %s", name, ", ".join(sorted(known)))
    return _refused("failed", MSG_NOT_HUMAN)


def _expected_hostname() -> str:
    config = current_app.config
    host = config["OV_CAPTCHA_HOSTNAME"] or urlsplit(config["OV_PUBLIC_URL"]).hostname or ""
    return host.strip().lower()


# --- spent values --------------------------------------------------------------------------

def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def spend(purpose: str, value: str, expires_at: datetime) -> bool:
    """Record ``value`` as used; False if it already was (a replay, from any worker).

    Runs in a SAVEPOINT of the current session: a replay rolls back only the savepoint,
    and the caller's own changes stay. The row is kept once the caller commits.
    """
    # Flush the caller's pending changes first, so their errors are theirs, not a replay.
    db.session.flush()
    try:
        with db.session.begin_nested():
            db.session.add(UsedNonce(digest=digest(value), purpose=purpose, expires_at=expires_at))
    except IntegrityError:
        return False
    if secrets.randbelow(PURGE_EVERY) == 0:
        purge_expired()
    return True


def purge_expired(now: datetime | None = None) -> int:
    """Delete the rows of values that could no longer be accepted anyway; how many."""
    result = db.session.execute(
        delete(UsedNonce).where(UsedNonce.expires_at < (now or utcnow()))
    )
    return result.rowcount or 0
