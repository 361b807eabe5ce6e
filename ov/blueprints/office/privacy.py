"""Mis datos > Mis derechos ARCO: download my data, rectification and opposition requests,
and cancelling the user.

The rules are in ``ov.services.privacy``; here are the pages. Every form posts without
JavaScript (303 on success) and swaps in place with htmx (422 with the answers kept). The
cancellation always asks for the password, however fresh the session: it ends every session
at once, this one included, and lands on a public page that says what happened
(``/usuario-cancelado``, readable once signed out).
"""

from __future__ import annotations

import json
from datetime import date

from flask import (
    Response,
    current_app,
    flash,
    make_response,
    redirect,
    request,
    session,
    url_for,
)
from flask_login import current_user
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from ov.auth_helpers import end_session
from ov.blueprints.office import reauth
from ov.blueprints.office.common import Office, bp, not_yours, office_context, page
from ov.blueprints.registration_forms import Form
from ov.extensions import db, limiter
from ov.htmx import client_redirect, render
from ov.models import utcnow
from ov.services import account_changes, audit, mail
from ov.services import privacy as service
from ov.services.privacy import PrivacyRight
from ov.services.validation import FieldError

CANCELLED = "ov_cancelled"  # what the page after a cancellation shows (a signed-out session)
CHOOSE = ("", "Elige una opción")
LIMIT_HINT = f"Hasta {service.TEXT_LENGTH} caracteres."


def summary(office: Office) -> dict:
    """What the Mis datos page shows of the privacy rights (template office/datos/_privacy)."""
    return {"requests": service.requests_of(office.scope.user_id), **_labels()}


def _labels() -> dict:
    return {"right_labels": service.RIGHT_LABELS, "request_status": service.STATUS_LABELS}


# --- forms ----------------------------------------------------------------------------------

def _text(required: str | None):
    def check(form, field) -> None:
        try:
            field.data = service.clean_text(field.data, required=required)
        except FieldError as error:
            raise ValidationError(str(error)) from None
    return check


def _text_area(label: str, required: str | None) -> TextAreaField:
    """A request's free text (``required``: the message when it is left empty)."""
    return TextAreaField(label, validators=[_text(required)],
                         render_kw={"rows": 5, "maxlength": service.TEXT_LENGTH})


def _options(choices: tuple[tuple[str, str], ...]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in (CHOOSE, *choices)]


def _chosen(choices: tuple[tuple[str, str], ...], message: str):
    def check(form, field) -> None:
        if field.data not in dict(choices):
            raise ValidationError(message)
    return check


class RectificationForm(Form):
    dato = SelectField("¿Qué dato hay que corregir?", choices=_options(service.CORRECTABLE),
                       validate_choice=False,
                       validators=[_chosen(service.CORRECTABLE,
                                           "Elige qué dato hay que corregir.")])
    detalle = _text_area("¿Qué está mal y cómo debe quedar?",
                         "Escribe qué está mal y cómo debe quedar.")

    right = PrivacyRight.RECTIFICATION

    def body(self) -> str:
        return f"Dato: {dict(service.CORRECTABLE)[self.dato.data]}\n\n{self.detalle.data}"


class OppositionForm(Form):
    finalidad = SelectField("¿A qué finalidad te opones?", choices=_options(service.PURPOSES),
                            validate_choice=False,
                            validators=[_chosen(service.PURPOSES,
                                                "Elige la finalidad a la que te opones.")])
    motivo = _text_area("Cuéntanos más", None)

    right = PrivacyRight.OPPOSITION

    def validate_motivo(self, field) -> None:
        if self.finalidad.data == "otra" and not field.data:
            raise ValidationError("Describe la finalidad a la que te opones.")

    def body(self) -> str:
        purpose = dict(service.PURPOSES)[self.finalidad.data]
        text = "Finalidad: " + ("otra" if self.finalidad.data == "otra" else purpose)
        return f"{text}\n\n{self.motivo.data}" if self.motivo.data else text


class CancelForm(Form):
    contrasena = reauth.password_field()


FORMS = {PrivacyRight.RECTIFICATION: RectificationForm, PrivacyRight.OPPOSITION: OppositionForm}
HEADINGS = {PrivacyRight.RECTIFICATION: "Corregir mis datos (rectificación)",
            PrivacyRight.OPPOSITION: "Oponerme a un uso de mis datos (oposición)"}


def _errors(form) -> list[tuple[str, str]]:
    return [(f.id, f.errors[0]) for f in form if f.errors]


# --- access: the summary and the download ---------------------------------------------------

@bp.get("/datos/mis-datos")
def my_data():
    office = office_context()
    return page("office/datos/my_data.html", "Descargar mis datos", office=office,
                counts=service.counts(current_user.id))


@bp.get("/datos/mis-datos.json")
def my_data_json() -> Response:
    now = utcnow()
    data = service.export(current_user, now=now)
    audit.record("personal_data_downloaded", user_id=current_user.id,
                 client_address=request.remote_addr)
    db.session.commit()
    response = make_response(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    response.mimetype = "application/json"
    dated = service.local_day(now).isoformat()  # the day in Mexico City
    response.headers["Content-Disposition"] = (
        f'attachment; filename="mis-datos-oficina-virtual-{dated}.json"')
    return response


# --- rectification and opposition -----------------------------------------------------------

def _request_form(right: PrivacyRight, form, status: int = 200):
    return render("office/datos/privacy_form.html", "content", status,
                  push=request.method == "GET", heading=HEADINGS[right],
                  office=office_context(), form=form, right=right.value,
                  errors=_errors(form), limit_hint=LIMIT_HINT,
                  answer_days=current_app.config["OV_ARCO_ANSWER_DAYS"],
                  carry_out_days=current_app.config["OV_ARCO_CARRY_OUT_DAYS"])


def _file(right: PrivacyRight):
    form_class = FORMS[right]
    if request.method != "POST":
        return _request_form(right, form_class())
    form = form_class(request.form)
    if not form.validate():
        return _request_form(right, form, 422)
    filed = service.file_request(current_user, right, form.body(),
                                 client_address=request.remote_addr)
    db.session.commit()
    mail.deliver_soon(filed.mails)
    flash(f"Registramos tu solicitud con el folio {filed.request.folio}. Te enviamos un correo "
          "con el folio y las fechas.")
    return redirect(url_for("office.privacy_request", request_id=filed.request.id), 303)


# Only requests filed count (a 303), not answers to correct.
filing_limit = limiter.shared_limit(
    f"{service.DAILY_REQUESTS} per day", scope="arco-requests",
    key_func=lambda: f"arco:{current_user.id}", methods=["POST"],
    deduct_when=lambda response: response.status_code == 303,
)


@bp.route("/datos/derechos/rectificacion", methods=["GET", "POST"])
@filing_limit
def rectification():
    return _file(PrivacyRight.RECTIFICATION)


@bp.route("/datos/derechos/oposicion", methods=["GET", "POST"])
@filing_limit
def opposition():
    return _file(PrivacyRight.OPPOSITION)


@bp.get("/datos/derechos/<int(max=2147483647):request_id>")
def privacy_request(request_id: int):
    row = service.request_of(current_user.id, request_id)
    if row is None:
        not_yours("privacy_request", request_id)
    return page("office/datos/privacy_request.html", f"Solicitud {row.folio}",
                office=office_context(), row=row, **_labels())


# --- cancellation ---------------------------------------------------------------------------

def _cancel_page(form: CancelForm, status: int = 200):
    return render("office/datos/cancel.html", "content", status, push=request.method == "GET",
                  heading="Cancelar mi usuario", office=office_context(), form=form,
                  errors=_errors(form), days=current_app.config["OV_CANCEL_BLOCK_DAYS"])


def _change_open(until) -> Response:
    """Refused while an account change can still be undone (409, GET and POST alike)."""
    return render("office/datos/cancel_refused.html", "content", 409,
                  push=request.method == "GET", heading="Aún no puedes cancelar tu usuario",
                  office=office_context(), until=mail.local_datetime(until))


def _farewell(user, request_row) -> dict:
    return {"folio": request_row.folio, "username": user.username,
            "delete_on": service.local_day(user.delete_after).isoformat()}


@bp.route("/datos/cancelar", methods=["GET", "POST"])
def cancel_user():
    user = current_user._get_current_object()
    until = account_changes.recovery_open_until(user.id)
    if until is not None:
        return _change_open(until)
    if request.method != "POST":
        return _cancel_page(CancelForm())
    form = CancelForm(request.form)
    problem = reauth.check_password(user, form.contrasena.data, purpose="cancel_user")
    if problem:
        form.contrasena.errors = [problem]
        response = _cancel_page(form, 422)
        db.session.commit()
        mail.deliver_soon(reauth.pending_mails())
        return response
    done = service.cancel(user, client_address=request.remote_addr)
    if isinstance(done, service.ChangeOpen):  # changed a moment ago
        db.session.rollback()
        return _change_open(done.until)
    if done is None:  # cancelled a moment ago (another tab, a double click): nothing new
        db.session.rollback()
        db.session.refresh(user)
        farewell = _farewell(user, service.latest_cancellation(user.id))
    else:
        db.session.commit()
        mail.deliver_soon(done.mails)
        farewell = _farewell(user, done.request)
    end_session()
    session[CANCELLED] = farewell
    return client_redirect(url_for("account_cancelled"))


def cancelled():
    """After "Cancelar mi usuario", signed out: what happened, and what happens next."""
    farewell = session.get(CANCELLED)
    if not isinstance(farewell, dict) or current_user.is_authenticated:
        return redirect(url_for("help.home"))
    return render("office/datos/cancelled.html", "content", push=True, farewell=farewell,
                  delete_on=date.fromisoformat(farewell["delete_on"]))


@bp.record_once
def _public_page(state) -> None:
    # Outside the blueprint: its pages need a signed-in user, and this one comes after.
    state.app.add_url_rule("/usuario-cancelado", "account_cancelled", cancelled)
