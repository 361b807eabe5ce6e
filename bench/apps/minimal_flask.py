"""The yardstick: a minimal Flask app rendering a Jinja page as large as the portal's /entrar.

    BENCH_PAGE_BYTES=8000 gunicorn -k gthread -w 1 --threads 4 -b 127.0.0.1:8102 \\
        'bench.apps.minimal_flask:create_app()'

The page extends a base template, loops over a table and escapes its values, as a real page
does, without sessions, forms or a database; its size is padded to exactly
``BENCH_PAGE_BYTES`` bytes (default 8,000) once, when the app is created.
"""

from __future__ import annotations

import os

from flask import Flask, render_template
from jinja2 import DictLoader

TEMPLATES = {
    "base.html": (
        "<!doctype html>\n<html lang=\"es-MX\">\n<head><meta charset=\"utf-8\">\n"
        "<title>{% block title %}{% endblock %}</title></head>\n<body>\n"
        "<main id=\"contenido\">{% block content %}{% endblock %}</main>\n</body>\n</html>\n"
    ),
    "page.html": (
        "{% extends \"base.html\" %}{% block title %}{{ title }}{% endblock %}"
        "{% block content %}<h1>{{ title }}</h1>\n<table>\n"
        "{% for row in rows %}<tr><td>{{ row.name }}</td><td>{{ row.amount }}</td>"
        "<td>{{ row.note|e }}</td></tr>\n{% endfor %}</table>\n"
        "<p>{{ padding }}</p>{% endblock %}"
    ),
}
ROWS = [{"name": f"Concepto {i}", "amount": f"${i * 13.5:,.2f}", "note": "Cargo <fijo> & más"}
        for i in range(20)]


def create_app() -> Flask:
    app = Flask(__name__)
    app.jinja_loader = DictLoader(TEMPLATES)
    size = int(os.environ.get("BENCH_PAGE_BYTES", "8000"))
    context = {"title": "Página de referencia", "rows": ROWS}
    with app.app_context():
        bare = len(render_template("page.html", padding="", **context).encode())
    padding = "x" * max(0, size - bare)

    @app.get("/")
    def page():
        return render_template("page.html", padding=padding, **context)

    return app
