"""Headers every response carries: security policy, and ``Vary`` for htmx fragments."""

from __future__ import annotations

from flask import Flask, Response, g

from ov.htmx import add_vary

BASE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "frame-src": ["'none'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def allow_sources(directive: str, *sources: str) -> None:
    """Widen the policy of the current response only (e.g. a vendor CAPTCHA on one page)."""
    extra = g.setdefault("csp_extra", {})
    extra.setdefault(directive, []).extend(sources)


def content_security_policy(extra: dict[str, list[str]] | None = None) -> str:
    policy = {name: list(values) for name, values in BASE_CSP.items()}
    for name, values in (extra or {}).items():
        current = [v for v in policy.get(name, []) if v != "'none'"]
        policy[name] = current + [v for v in values if v not in current]
    return "; ".join(f"{name} {' '.join(values)}" for name, values in policy.items())


def init_app(app: Flask) -> None:
    production = app.config["OV_ENV"] == "production"
    base_policy = content_security_policy()  # the same text on nearly every response

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        extra = g.get("csp_extra")
        headers["Content-Security-Policy"] = (
            content_security_policy(extra) if extra else base_policy
        )
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if production:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        return add_vary(response)
