"""The three registration forms. Field rules live in ``ov.services.validation``."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, ValidationError

from ov import widgets
from ov.services import bill_proof
from ov.services.validation import (
    FieldError,
    clean_account_number,
    clean_email,
    clean_invoice_number,
    clean_username,
)


class Cleaned:
    """Run one of the guide's rules; the field keeps the cleaned value."""

    def __init__(self, clean: Callable[[str | None], str]) -> None:
        self.clean = clean
        self.field_flags = {"required": True}

    def __call__(self, form, field) -> None:
        try:
            field.data = self.clean(field.data)
        except FieldError as error:
            raise ValidationError(str(error)) from None


def email_field(label: str) -> StringField:
    """An email question; made per form so each form keeps its own field order."""
    return StringField(
        label,
        validators=[Cleaned(clean_email)],
        render_kw={"type": "email", "autocomplete": "email", "maxlength": 254,
                   "spellcheck": "false"},
    )


widgets.install()


class Form(FlaskForm):
    class Meta:
        csrf = False  # CSRFProtect checks every POST before the view runs


def zone_id(value) -> int | None:
    """A zone id as the select sends it: plain ASCII digits only (``03``, ``+3`` and ``٣``
    are not ids), so one zone has one spelling for rate limits."""
    text = "" if value is None else str(value)
    if not (text.isascii() and text.isdigit() and len(text) <= 6) or text != str(int(text)):
        return None
    return int(text)


def bill_key(prefix: str, answers: Mapping[str, str]) -> str:
    """A rate-limit key for attempts on one contract (``answers`` as posted), whatever
    address they come from; ``prefix`` keeps each journey's count apart."""
    raw = answers.get("cuenta", "")
    try:
        number = clean_account_number(raw)
    except FieldError:
        number = raw.strip()[:20]
    return f"{prefix}:{zone_id(answers.get('zona'))}:{number}"


class Step1Form(Form):
    zona = SelectField(
        "Zona Geográfica",
        coerce=zone_id,
        validators=[InputRequired("Elige la zona geográfica de tu servicio.")],
        validate_choice=False,  # validate_zona says it in Spanish
    )
    cuenta = StringField(
        "Número de cuenta",
        validators=[Cleaned(clean_account_number)],
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 20,
                   "spellcheck": "false"},
    )
    factura = StringField(
        "Número de factura",
        validators=[Cleaned(clean_invoice_number)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "maxlength": 20,
                   "spellcheck": "false"},
    )

    def __init__(self, zones, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.zona.choices = [("", "Elige tu zona")] + [(z.id, z.name) for z in zones]
        self.zone_ids = {z.id for z in zones}

    def validate_zona(self, field) -> None:
        if field.data not in self.zone_ids:
            raise ValidationError("Elige la zona geográfica de tu servicio.")

    def prove(
        self, answers: Mapping[str, str], client_address: str | None, purpose: str
    ) -> bill_proof.Proof:
        """The field rules, then the proof of the bill (CAPTCHA fields read from
        ``answers``); ``purpose`` names the journey in the audit trail."""
        if not self.validate():
            return bill_proof.Proof()
        return bill_proof.prove(
            self.zona.data, self.cuenta.data, self.factura.data,
            answers=answers, client_address=client_address, purpose=purpose,
        )


class Step2Form(Form):
    usuario = StringField(
        "Usuario",
        validators=[Cleaned(clean_username)],
        render_kw={"autocomplete": "username", "maxlength": 25, "autocapitalize": "none",
                   "spellcheck": "false"},
    )
    contrasena = PasswordField(
        "Contraseña", render_kw={"autocomplete": "new-password", "maxlength": 64}
    )
    contrasena2 = PasswordField(
        "Repite la contraseña", render_kw={"autocomplete": "new-password", "maxlength": 64}
    )
    correo = email_field("Correo electrónico")
    correo2 = email_field("Repite el correo electrónico")
    # The password rules need the username and email as context: checked in the view.


class Step3Form(Form):
    factura_electronica = BooleanField("Quiero recibir mi factura por correo electrónico")
    # Its own id: "avisos" is the page's live region (base.html).
    avisos = BooleanField("Quiero recibir avisos por correo electrónico", id="avisos-correo")
    acepto = BooleanField(
        "He leído y acepto el Aviso legal",
        # DataRequired: a posted "false" is present (InputRequired) but not an acceptance.
        validators=[
            DataRequired("Para registrarte, marca que has leído y aceptas el Aviso legal.")
        ],
    )
