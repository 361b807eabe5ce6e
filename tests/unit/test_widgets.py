"""Our HTML attributes for WTForms' widgets are WTForms' own, character for character."""

from __future__ import annotations

import wtforms.widgets
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup
from wtforms import Form, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import core

from ov import widgets

NAMES = st.one_of(
    st.sampled_from(["id", "name", "type", "value", "class_", "for_", "data_hx_post",
                     "aria_describedby", "aria-invalid", "maxlength", "required", "x__"]),
    st.text(min_size=1, max_size=12),
)
VALUES = st.one_of(
    st.booleans(), st.none(), st.integers(), st.text(max_size=20),
    st.text(max_size=20).map(Markup),  # already safe: kept as it is, quotes and all
)


@given(st.dictionaries(NAMES, VALUES, max_size=6))
def test_the_attributes_are_wtforms_own(attributes):
    ours = widgets.html_params(**attributes)
    assert isinstance(ours, Markup)
    assert ours == widgets.ORIGINAL(**attributes)


def test_installed_everywhere_wtforms_looks_it_up():
    widgets.install()
    assert core.html_params is widgets.html_params
    assert core.Input.html_params is widgets.html_params
    assert core.Button.html_params is widgets.html_params


class Sample(Form):
    nombre = StringField("Nombre <tuyo>", render_kw={"maxlength": 25, "spellcheck": "false"})
    clave = PasswordField("Clave")
    zona = SelectField("Zona", choices=[SelectChoice("1", 'Uno "1"'),
                                         SelectChoice("2", "Dos & tres")])
    texto = TextAreaField("Texto")


def test_a_form_draws_the_same_with_either():
    form = Sample(data={"nombre": 'Ana "<b>"', "zona": "2", "texto": "a < b"})

    def drawn() -> str:
        return "".join(f"{field.label}{field(**{'aria-invalid': 'true', 'data_x': 1})}"
                       for field in form)

    widgets.install()
    ours = drawn()
    core.html_params = wtforms.widgets.html_params = widgets.ORIGINAL
    core.Input.html_params = core.Button.html_params = staticmethod(widgets.ORIGINAL)
    try:
        original = drawn()
    finally:
        widgets.install()
    assert ours == original
    assert 'value="Ana &#34;&lt;b&gt;&#34;"' in ours and "selected" in ours
