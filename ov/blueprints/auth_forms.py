"""The forms of signing in and recovering access (field rules: ``ov.services.validation``)."""

from __future__ import annotations

from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import InputRequired

from ov.blueprints.registration_forms import Form, email_field


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
    correo = email_field("Correo electrónico")


class NewPasswordForm(Form):
    contrasena = PasswordField(
        "Contraseña nueva", render_kw={"autocomplete": "new-password", "maxlength": 64}
    )
    contrasena2 = PasswordField(
        "Repite la contraseña nueva", render_kw={"autocomplete": "new-password", "maxlength": 64}
    )


class NewAccessForm(NewPasswordForm):
    correo = email_field("Correo electrónico")
    correo2 = email_field("Repite el correo electrónico")
