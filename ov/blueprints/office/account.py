"""Mis datos: the page that gathers every area of the user's own data, and the changes of the
access and contact data (email, phone, password) and of the sessions.

Each area is a module with its own pages and a ``summary`` for this one: the access and
contact data and the recent activity here, ``preferences``, ``privacy`` (ARCO rights).

Each change has its own page under ``/mi-oficina/datos/...``: a plain POST that answers 303
back to Mis datos without JavaScript, swapped in place with htmx, 422 with the answers kept
(never a password) and a Spanish message beside the field. The email and the password ask
for the current password (``reauth``): the email only when the session is not fresh, the
password always. The rules are in ``ov.services.profile``.
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_login import current_user
from wtforms import StringField
from wtforms.validators import ValidationError

from ov import auth_helpers
from ov.blueprints.auth import HINTS, check_new_password
from ov.blueprints.auth_forms import NewPasswordForm
from ov.blueprints.office import preferences, privacy, reauth
from ov.blueprints.office.common import bp, office_context, page
from ov.blueprints.registration import waiting_text
from ov.blueprints.registration_forms import Form, email_field
from ov.extensions import db
from ov.services import mail, passwords, profile
from ov.services.validation import FieldError

# Which reauthentication purpose each change asks for (names, not passwords).
PASSWORD_PURPOSE = {"email": "email_change", "password": "password_change"}  # nosec B105
#: The value the buttons that act with no other field send: an empty POST of their form
#: (a form posted back with only its hidden fields) then changes nothing.
CONFIRMED = "si"


def _errors(form, extra=()) -> list[tuple[str, str]]:
    return list(extra) + [(f.id, f.errors[0]) for f in form if f.errors]


def _form_page(template: str, heading: str, form, status: int = 200, **context):
    """One change's page: its form, with the error summary when refused."""
    response = page(template, heading, office=office_context(), user=current_user, form=form,
                    errors=_errors(form), **context)
    response.status_code = status
    return response


def _refused(response):
    """A 422 answer: commit what the refusal recorded (a wrong password counts), then send
    the lock mail it may have queued."""
    db.session.commit()
    mail.deliver_soon(reauth.pending_mails())
    return response


def _done(message: str):
    flash(message)
    return redirect(url_for("office.profile"), 303)


def profile_page(status: int = 200, errors=()):
    office = office_context()
    response = page(
        "office/profile.html", "Mis datos", office=office, user=current_user,
        phone=profile.format_phone(current_user.phone),
        sign_ins=profile.recent_sign_ins(current_user.id), confirmed=CONFIRMED,
        errors=list(errors),
        preferences=preferences.summary(office), privacy=privacy.summary(office),
    )
    response.status_code = status
    return response


@bp.get("/datos", endpoint="profile")
def profile_view():
    return profile_page()


# --- email ----------------------------------------------------------------------------------

class EmailForm(Form):
    correo = email_field("Correo electrónico nuevo")
    correo2 = email_field("Repite el correo electrónico nuevo")
    contrasena = reauth.password_field()


def _email_page(form: EmailForm, status: int = 200, ask_password: bool | None = None):
    ask = not reauth.is_fresh() if ask_password is None else ask_password
    return _form_page("office/datos/email.html", "Cambiar mi correo electrónico", form,
                      status, ask_password=ask)


def too_many_addresses(seconds: int) -> str:
    return (
        "Probaste muchos correos que ya estaban registrados en poco tiempo. Por seguridad, "
        f"espera {waiting_text(seconds)} y vuelve a intentarlo."
    )


@bp.route("/datos/correo", methods=["GET", "POST"])
def change_email():
    if request.method != "POST":
        return _email_page(EmailForm())
    user = current_user._get_current_object()
    form = EmailForm(request.form)
    form.validate()
    new, again = form.correo.data or "", form.correo2.data or ""
    ask_password = not reauth.is_fresh()
    if ask_password:
        # First the password: a stale session learns nothing about an address without it.
        wrong = reauth.check_password(user, form.contrasena.data,
                                      purpose=PASSWORD_PURPOSE["email"])
        if wrong:
            form.contrasena.errors = [wrong]
    if not form.correo.errors and new and not form.contrasena.errors:
        if new.casefold() == user.email.casefold():
            form.correo.errors.append(profile.SAME_EMAIL)
        else:
            wait = profile.email_check_wait(user.id)
            if not wait and profile.email_taken(new, except_user_id=user.id):
                wait = profile.take_taken_answer(user.id)
                if not wait:
                    form.correo.errors.append(profile.EMAIL_TAKEN)
            if wait:
                form.correo.errors.append(too_many_addresses(wait))
                response = _refused(_email_page(form, 429, ask_password=False))
                response.headers["Retry-After"] = str(wait)
                return response
    if (new and again and not form.correo.errors and not form.correo2.errors
            and new.casefold() != again.casefold()):
        form.correo2.errors.append("Los correos no coinciden. Revisa los dos.")
    if form.errors:
        return _refused(_email_page(form, 422, ask_password=bool(form.contrasena.errors)))
    mails = profile.ask_for_email(user, new, client_address=request.remote_addr)
    db.session.commit()
    mail.deliver_soon(mails)
    return _done(
        f"Te enviamos un enlace a {new} para confirmar tu correo nuevo. Hasta que lo abras "
        f"seguimos usando {user.email}, y a esa dirección le avisamos del cambio."
    )


@bp.post("/datos/correo/cancelar")
def cancel_email_change():
    if request.form.get("confirmar") != CONFIRMED or not current_user.pending_email:
        return profile_page(422, [("", "No hay un cambio de correo que cancelar.")
                                  if not current_user.pending_email else
                                  ("", "Para cancelar el cambio de correo, usa el botón "
                                       "«Cancelar el cambio».")])
    pending = current_user.pending_email
    profile.cancel_pending_email(current_user, client_address=request.remote_addr)
    db.session.commit()
    return _done(f"Cancelamos el cambio a {pending}: su enlace ya no sirve y seguimos usando "
                 f"{current_user.email}.")


# --- phone ----------------------------------------------------------------------------------

def _clean_phone(form, field) -> None:
    """The phone's rule; an empty one (no phone) is kept as "". Optional: no ``required``."""
    try:
        field.data = profile.clean_phone(field.data) or ""
    except FieldError as error:
        raise ValidationError(str(error)) from None


class PhoneForm(Form):
    telefono = StringField(
        "Teléfono",
        validators=[_clean_phone],
        render_kw={"type": "tel", "inputmode": "tel", "autocomplete": "tel",
                   "maxlength": 30},
    )


def _phone_page(form: PhoneForm, status: int = 200):
    return _form_page("office/datos/phone.html", "Cambiar mi teléfono", form, status)


@bp.route("/datos/telefono", methods=["GET", "POST"])
def change_phone():
    if request.method != "POST":
        return _phone_page(PhoneForm(data={"telefono": profile.format_phone(current_user.phone)}))
    form = PhoneForm(request.form)
    if "telefono" not in request.form:
        form.validate()
        form.telefono.errors = ["Escribe tu teléfono, o déjalo en blanco y guarda para "
                                "quitarlo."]
        return _phone_page(form, 422)
    if not form.validate():
        return _phone_page(form, 422)
    digits = form.telefono.data or None
    profile.set_phone(current_user, digits, client_address=request.remote_addr)
    db.session.commit()
    if digits is None:
        return _done("Quitamos tu teléfono de tus datos.")
    return _done(f"Guardamos tu teléfono {profile.format_phone(digits)}.")


# --- password -------------------------------------------------------------------------------

NOT_THE_CURRENT_ONE = "Elige una contraseña distinta de la actual."


class PasswordForm(NewPasswordForm):
    actual = reauth.password_field()


def _password_page(form: PasswordForm, status: int = 200):
    return _form_page("office/datos/password.html", "Cambiar mi contraseña", form, status,
                      hints=HINTS)


@bp.route("/datos/contrasena", methods=["GET", "POST"])
def change_password():
    if request.method != "POST":
        return _password_page(PasswordForm())
    user = current_user._get_current_object()
    form = PasswordForm(request.form)
    check_new_password(form, user.username, user.email)
    wrong = reauth.check_password(user, form.actual.data, purpose=PASSWORD_PURPOSE["password"])
    if wrong:
        form.actual.errors = [wrong]
    elif (form.contrasena.data and not form.contrasena.errors
          and passwords.verify_password(user.password_hash, form.contrasena.data)):
        form.contrasena.errors = [NOT_THE_CURRENT_ONE]
    if form.errors:
        return _refused(_password_page(form, 422))
    mails = profile.change_password(user, form.contrasena.data,
                                    client_address=request.remote_addr)
    auth_helpers.restamp(user)  # this session and browser stay; the others end
    db.session.commit()
    mail.deliver_soon(mails)
    return _done("Cambiamos tu contraseña. Cerramos tus sesiones en otros dispositivos y te "
                 "lo avisamos por correo.")


# --- other sessions -------------------------------------------------------------------------

@bp.post("/datos/cerrar-sesiones")
def end_other_sessions():
    if request.form.get("confirmar") != CONFIRMED:
        return profile_page(422, [("", "Para cerrar tus otras sesiones, usa el botón "
                                       "«Cerrar mis otras sesiones».")])
    user = current_user._get_current_object()
    profile.end_other_sessions(user, client_address=request.remote_addr)
    auth_helpers.restamp(user)
    db.session.commit()
    return _done("Cerramos tus sesiones en otros navegadores y dispositivos. Esta sigue "
                 "abierta.")

