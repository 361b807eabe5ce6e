"""The forms of signing in and recovering access (field rules: ``ov.services.validation``)."""

from __future__ import annotations

from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import InputRequired

from ov.blueprints.registration_forms import Cleaned, Form
from ov.services.validation import clean_email


class LoginForm(Form):
    usuario = StringField(
        "Usuario",
        validators=[InputRequired("Escribe tu usuario.")],
        render_kw={"autocomplete": "username", "maxlength": 25, "autocapitalize": "none",
                   "spellcheck": "false"},
    )
    contrasena = PasswordField(
        "Contraseña",
        validators=[InputRequired("Escribe tu contraseña.")],
        render_kw={"autocomplete": "current-password", "maxlength": 64},
    )
    next = HiddenField()


class RecoverForm(Form):
    correo = StringField(
        "Correo electrónico",
        validators=[Cleaned(clean_email)],
        render_kw={"type": "email", "autocomplete": "email", "maxlength": 254,
                   "spellcheck": "false"},
    )


class NewPasswordForm(Form):
    contrasena = PasswordField(
        "Contraseña nueva", render_kw={"autocomplete": "new-password", "maxlength": 64}
    )
    contrasena2 = PasswordField(
        "Repite la contraseña nueva", render_kw={"autocomplete": "new-password", "maxlength": 64}
    )


class NewAccessForm(NewPasswordForm):
    correo = StringField(
        "Correo electrónico",
        validators=[Cleaned(clean_email)],
        render_kw={"type": "email", "autocomplete": "email", "maxlength": 254,
                   "spellcheck": "false"},
    )
    correo2 = StringField(
        "Repite el correo electrónico",
        validators=[Cleaned(clean_email)],
        render_kw={"type": "email", "autocomplete": "email", "maxlength": 254,
                   "spellcheck": "false"},
    )
