"""WTForms' HTML attributes, written without ``Markup.format``.

Every input a form draws goes through ``wtforms.widgets.core.html_params``, which formats each
attribute with ``Markup('{k}="{v}"').format(...)``: Python's ``string.Formatter`` with
escaping, about a quarter of the CPU of the login page. ``html_params`` below gives the same
text (``tests/unit/test_widgets.py`` compares the two on any attributes) with plain string
work, and ``install()`` (run when the forms are defined) makes WTForms use it.
"""

from __future__ import annotations

import wtforms.widgets
from markupsafe import Markup, escape
from wtforms.widgets import core

#: WTForms' own, kept for the test that compares the two.
ORIGINAL = core.html_params


def html_params(**kwargs) -> Markup:
    """The attributes as WTForms writes them: sorted by name, ``class_``/``for_`` without
    the underscore, ``data_``/``aria_`` names with hyphens, ``True`` as a bare name,
    ``False`` left out, every value escaped and its quotes as ``&quot;``."""
    params = []
    for key, value in sorted(kwargs.items()):
        name = core.clean_key(key)
        if value is True:
            params.append(str(escape(name)))
        elif value is not False:
            text = str(escape(value)).replace('"', "&quot;")
            params.append(f'{escape(name)}="{text}"')
    return Markup(" ".join(params))  # nosec B704  # noqa: S704 (all escaped above)


def install() -> None:
    """Every place WTForms looks the function up: its module (selects, options, text areas),
    the package (labels), and the ``Input`` and ``Button`` widgets' own attribute."""
    core.html_params = html_params
    wtforms.widgets.html_params = html_params
    core.Input.html_params = staticmethod(html_params)
    core.Button.html_params = staticmethod(html_params)
