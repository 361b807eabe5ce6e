"""htmx on the server: one template serves the full page and its named blocks.

A request is *partial* only when htmx asks for a fragment: ``HX-Request: true`` and
``HX-Request-Type: partial``. Boosted requests, ``hx-select`` and history restores (the back
button sends no ``HX-Request`` in htmx 4) get the full page.
"""

from __future__ import annotations

from flask import Response, current_app, make_response, render_template, request
from jinja2_fragments.flask import render_block
from markupsafe import escape


def is_partial() -> bool:
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Request-Type") == "partial"
    )


def render(
    template: str,
    block: str | None = None,
    status: int = 200,
    *,
    title: bool = True,
    push: bool = False,
    **context,
) -> Response:
    """The full page, or only ``block`` when htmx asked for a fragment.

    A fragment starts with the page's ``<title>`` (htmx sets ``document.title`` from it), so a
    swap tells screen-reader users and the history list where they are; ``title=False`` leaves
    it out of fragments that are only a small part of the page (one field). ``push=True``
    puts this request's URL in the browser's history when the page arrives as a fragment
    (also after a redirect that fetch followed, whose final URL htmx would not know).
    """
    if not (block and is_partial()):
        return make_response(render_template(template, **context), status)
    body = render_block(template, block, **context)
    if title:
        # Both blocks come out of Jinja already escaped.
        page_title = render_block(template, "title", **context).strip()
        site = escape(current_app.config["OV_SITE_NAME"])
        body = f"<title>{page_title} · {site}</title>\n{body}"
    response = make_response(body, status)
    if push:
        push_url(response, request.full_path.rstrip("?"))
    return response


def push_url(response: Response, url: str) -> Response:
    response.headers["HX-Push-Url"] = url
    return response


def retarget(response: Response, selector: str, swap: str | None = None) -> Response:
    response.headers["HX-Retarget"] = selector
    if swap:
        response.headers["HX-Reswap"] = swap
    return response


def client_redirect(url: str) -> Response:
    """Ask htmx to load ``url`` as a full page (a plain client gets a 303 instead)."""
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    response = make_response("", 303)
    response.headers["Location"] = url
    return response


def add_vary(response: Response) -> Response:
    """Every response may differ by ``HX-Request`` (and the kind of htmx request): caches
    must keep them apart."""
    response.vary.add("HX-Request")
    response.vary.add("HX-Request-Type")
    return response
