"""Mis datos > Preferencias: paperless bill, notices by email per kind, the printed bill's
format (a request to the utility, pending until it is done).

Three kinds of form on one page (``/mi-oficina/datos/preferencias``), each its own POST: a
plain POST answers 303 back to the page with the confirmation; with htmx the redirect is
followed and the panel swaps in place. Bad answers get 422 with the answers kept; a contract
that is not the user's 404 (``not_yours``); a second format request while one is open 409.
Every question is a pair of radio buttons rather than a checkbox, so a form posted empty is
a 422 asking to choose, never "everything off".
"""

from __future__ import annotations

from datetime import date

from flask import redirect, request, session, url_for
from flask_login import current_user
from wtforms import RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import StopValidation

from ov.blueprints.office import common
from ov.blueprints.office.common import Office, bp, not_yours, office_context, page, today
from ov.blueprints.registration_forms import Form
from ov.extensions import db
from ov.formatting import day
from ov.services import contracts
from ov.services import preferences as service
from ov.services import service_requests as requests_service

YES_NO = [SelectChoice("si", "Sí"), SelectChoice("no", "No")]
FORMATS = [SelectChoice(value, label.capitalize()) for value, label in service.BILL_FORMATS]


class Choice:
    """One of the offered values, or a Spanish message (WTForms' own is in English)."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.field_flags = {"required": True}

    def __call__(self, form, field) -> None:
        if field.data not in {choice.value for choice in field.choices}:
            field.data = None
            raise StopValidation(self.message)


def yes_no(label: str, message: str) -> RadioField:
    return RadioField(label, choices=YES_NO, validators=[Choice(message)],
                      validate_choice=False)


class PaperlessForm(Form):
    factura_electronica = yes_no("¿Quieres recibir tu factura solo por correo, sin papel?",
                                 "Elige «Sí» o «No» para tu factura electrónica.")


#: The notices form's fields, by the User column each sets.
NOTICE_FIELDS = {"notify_invoice": "aviso_factura", "notify_payment": "aviso_pago",
                 "notify_request": "aviso_solicitud", "notify_reading": "aviso_lectura"}


#: How the confirmation names each kind: «los avisos de nueva factura y de ...».
NOTICE_PHRASES = {"notify_invoice": "de nueva factura", "notify_payment": "de pago aplicado",
                  "notify_request": "de cambios en tus solicitudes",
                  "notify_reading": "del periodo para dar tu lectura"}


class NoticesForm(Form):
    aviso_factura = yes_no("Nueva factura", "Elige «Sí» o «No» para los avisos de nueva factura.")
    aviso_pago = yes_no("Pago aplicado", "Elige «Sí» o «No» para los avisos de pago aplicado.")
    aviso_solicitud = yes_no("Cambios en tus solicitudes",
                             "Elige «Sí» o «No» para los avisos de tus solicitudes.")
    aviso_lectura = yes_no("Periodo para dar tu lectura",
                           "Elige «Sí» o «No» para los avisos del periodo de lectura.")


class FormatForm(Form):
    formato = RadioField(
        "¿Cómo quieres tu factura impresa?", choices=FORMATS,
        validators=[Choice("Elige un formato: normal, letra grande o braille.")],
        validate_choice=False,
    )


def format_form(link, formdata=None) -> FormatForm:
    """One contract's format form; its prefix keeps every id on the page unique."""
    if formdata is not None:  # what was posted, or nothing: never the current format
        return FormatForm(formdata, prefix=f"contrato{link.account_id}")
    return FormatForm(None, prefix=f"contrato{link.account_id}",
                      data={"formato": link.bill_format or "normal"})


def _yes(value: bool) -> str:
    return "si" if value else "no"


# --- what the pages say -----------------------------------------------------------------------

def contract_name(office: Office, account) -> str:
    alias = office.scope.aliases.get(account.id)
    return f"{account.printed_number} ({alias})" if alias else account.printed_number


def from_which_bill(office: Office, from_bills: dict[int, date | None], *,
                    short: bool = False) -> str | None:
    """``a partir de la factura que emitiremos alrededor del 01/01/2027`` (per contract when
    there are several; ``desde la factura de alrededor del 01/01/2027`` when ``short``); None
    when none of those contracts is still linked."""
    def bill(day_: date | None) -> str:
        if day_ is None:
            return "su primera factura"
        return (f"la factura de alrededor del {day(day_)}" if short
                else f"la factura que emitiremos alrededor del {day(day_)}")

    start = "desde " if short else "a partir de "
    known = [account for account in office.accounts if account.id in from_bills]
    if not known:
        return None
    if len(known) == 1:
        return start + bill(from_bills[known[0].id])
    return start + "; y ".join(
        f"{bill(from_bills[account.id])} en el contrato {contract_name(office, account)}"
        for account in known)


def paperless_message(office: Office, change: service.PaperlessChange) -> str:
    if not change.changed:
        return ("No cambió nada: ya recibías tu factura solo por correo." if change.paperless
                else "No cambió nada: ya recibías tu factura en papel.")
    when = from_which_bill(office, change.from_bills)
    if change.paperless:
        if change.cancelled and not change.from_bills:
            return ("Listo: seguirás recibiendo tu factura solo por correo, como hasta ahora: "
                    "aún no volvíamos a imprimirla.")
        if when is None:
            return "Listo: tu factura te llegará solo por correo, sin papel."
        return (f"Listo: tu factura te llegará solo por correo. Dejarás de recibirla en papel "
                f"{when}; hasta entonces te llega también en papel.")
    if change.cancelled and not change.from_bills:
        return ("Listo: seguirás recibiendo tu factura en papel, como hasta ahora: aún no "
                "habíamos dejado de imprimirla.")
    if when is None:
        return "Listo: volverás a recibir tu factura en papel."
    return f"Listo: volverás a recibir tu factura en papel {when}."


def paperless_ahead(office: Office, user, on: date) -> dict[int, date] | None:
    """The bills the last change still waits for (by account id); None once it applies."""
    last = service.last_paperless_change(user.id)
    if last is None or last[0] != bool(user.paperless_bill):
        return None
    ahead = {key: value for key, value in last[1].items() if value and value >= on
             and any(account.id == key for account in office.accounts)}
    return ahead or None


def paperless_now(office: Office, user, on: date, *, short: bool = False) -> str:
    """How the bill arrives today and, while a change is still to come, from which bill it
    changes: the Preferencias page's sentence, or the Mis datos summary's (``short``)."""
    ahead = paperless_ahead(office, user, on)
    paperless = bool(user.paperless_bill)
    if ahead is None:
        if short:
            return ("Sí: la recibes por correo, sin papel" if paperless
                    else "No: la recibes en papel")
        return ("Hoy recibes tu factura solo por correo, sin papel." if paperless
                else "Hoy recibes tu factura en papel.")
    if short:
        when = from_which_bill(office, ahead, short=True)
        return (f"Sí, {when}; hasta entonces te llega también en papel" if paperless
                else f"No, {when}; hasta entonces la recibes solo por correo")
    when = from_which_bill(office, ahead)
    if paperless:
        return (f"Elegiste recibir tu factura solo por correo. El papel deja de llegar {when}; "
                "hasta entonces te llega también en papel.")
    return (f"Elegiste volver a recibir tu factura en papel. El papel vuelve a llegar {when}; "
            "hasta entonces la recibes solo por correo.")


def summary(office: Office) -> dict:
    """What the Mis datos page shows of the preferences (template office/datos/_preferences)."""
    user = current_user
    pending = requests_service.open_bill_format_requests(user.id)
    return {
        "paperless": paperless_now(office, user, today(), short=True),
        "by_mail": service.notices_by_mail(user),
        "formats": [(link, contract_name(office, link.account),
                     service.format_label(link.bill_format),
                     requests_service.line(pending[link.account_id])
                     if link.account_id in pending else None)
                    for link in office.scope.links],
    }


# --- the page and its forms -------------------------------------------------------------------

def preferences_page(status: int = 200, *, paperless=None, notices=None, refused=None,
                     errors=(), heading="Preferencias", summary_heading=None, done=None):
    office = office_context()
    user = current_user
    pending = requests_service.open_bill_format_requests(user.id)
    paperless = paperless or PaperlessForm(None, data={
        "factura_electronica": _yes(user.paperless_bill)})
    notices = notices or NoticesForm(None, data={
        field: _yes(getattr(user, column)) for column, field in NOTICE_FIELDS.items()})
    formats = {link.account_id: format_form(link) for link in office.scope.links}
    if refused is not None:
        formats[refused[0]] = refused[1]
    forms = (paperless, notices, *formats.values())
    errors = list(errors) + [(f"{f.id}-1", f.errors[0]) for form in forms for f in form
                             if f.errors]
    response = page(
        "office/datos/preferences.html", heading, office=office, user=user,
        paperless=paperless, notices=notices, formats=formats, errors=errors,
        summary_heading=summary_heading, done=done,
        pending={key: requests_service.line(value) for key, value in pending.items()},
        paperless_now=paperless_now(office, user, today()),
        next_bills=service.bills_changed([a.id for a in office.accounts], today()),
        format_label=service.format_label, contract_name=lambda a: contract_name(office, a),
    )
    response.status_code = status
    return response


def _refused(status: int = 422, **forms):
    response = preferences_page(status, **forms)
    db.session.commit()  # (the audit of a refused id, if any)
    return response


def _form_reached_by_get():
    """A form's address reached by GET (a reload of its refused answer, or «Reenviar el
    correo» sent back to it): the page itself, never a 405. (One rule for both methods: with
    two, Werkzeug answers an out-of-range id with 405 instead of 404.)"""
    return redirect(url_for("office.preferences"), 303)


def _still_open(link, still_open):
    return _refused(409, summary_heading="Ya pediste un formato para este contrato", errors=[(
        "", f"Ya tienes una solicitud abierta para el formato de la factura del contrato "
            f"{link.account.printed_number}: {requests_service.describe(still_open)} "
            f"(folio {still_open.folio}). Cuando la terminemos podrás pedir otro formato; "
            "si necesitas cambiarla antes, llama a Atención al cliente.")])


#: Where a saved form leaves its confirmation for the page it redirects to (read once).
DONE_KEY = "ov_preferencias_hecho"


def _done(message: str):
    """Back to the page with the confirmation, which the page shows marked ``data-focus``:
    after an htmx swap the focus lands on it (and it is read out), not on the heading."""
    session[DONE_KEY] = message
    return redirect(url_for("office.preferences"), 303)


@bp.get("/datos/preferencias")
def preferences():
    return preferences_page(done=session.pop(DONE_KEY, None))


@bp.route("/datos/preferencias/factura-electronica", methods=["GET", "POST"])
def set_paperless():
    if request.method == "GET":
        return _form_reached_by_get()
    form = PaperlessForm(request.form)
    if not form.validate():
        return _refused(paperless=form)
    office = office_context()
    change = service.set_paperless(
        current_user, form.factura_electronica.data == "si", [a.id for a in office.accounts],
        today(), client_address=request.remote_addr)
    db.session.commit()
    return _done(paperless_message(office, change))


@bp.route("/datos/preferencias/avisos", methods=["GET", "POST"])
def set_notices():
    if request.method == "GET":
        return _form_reached_by_get()
    form = NoticesForm(request.form)
    if not form.validate():
        return _refused(notices=form)
    chosen = {column: getattr(form, field).data == "si"
              for column, field in NOTICE_FIELDS.items()}
    changed = service.set_notices(current_user, chosen, client_address=request.remote_addr)
    db.session.commit()
    by_mail = service.notices_by_mail(current_user)
    if not changed:
        return _done("No cambió nada en tus avisos por correo.")
    if not by_mail:
        return _done("Listo: ya no te enviaremos avisos por correo; los verás en Avisos, "
                     "en Mi oficina.")
    said = [NOTICE_PHRASES[column] for column in service.NOTICE_COLUMNS
            if getattr(current_user, column)]
    listed = said[0] if len(said) == 1 else ", ".join(said[:-1]) + " y " + said[-1]
    return _done(f"Listo: te enviaremos por correo los avisos {listed}. Los demás los ves en "
                 "Avisos, en Mi oficina.")


@bp.route("/datos/preferencias/formato/<int(max=2147483647):account_id>",
          methods=["GET", "POST"])
def set_bill_format(account_id: int):
    if request.method == "GET":
        return _form_reached_by_get()
    link = contracts.link_of(current_user.id, account_id)
    if link is None:
        not_yours("contract", account_id)
    # A page left open while a request was filed: whatever it sends, the open one answers.
    still_open = requests_service.open_bill_format_requests(current_user.id).get(account_id)
    if still_open is not None:
        return _still_open(link, still_open)
    form = format_form(link, request.form)
    if not form.validate():
        return _refused(refused=(account_id, form))
    outcome = requests_service.ask_bill_format(link, form.formato.data,
                                               client_address=request.remote_addr,
                                               now=common.now())
    match outcome:
        case requests_service.Unlinked():
            db.session.rollback()
            not_yours("contract", account_id)
        case requests_service.StillOpen(request=still_open):
            return _still_open(link, still_open)
        case requests_service.SameFormat(value=value):
            form.formato.errors = [f"Tu factura ya se imprime {service.format_phrase(value)}. "
                                   "Elige otro formato para pedir el cambio."]
            return _refused(refused=(account_id, form))
        case requests_service.Asked(request=asked):
            db.session.commit()
            return _done(
                f"Listo: pediste tu factura del contrato {link.account.printed_number} "
                f"{service.format_phrase(asked.detail)}, folio {asked.folio}. Verás la "
                "solicitud pendiente aquí y en Mis solicitudes hasta que la atendamos; te "
                "avisaremos.")
