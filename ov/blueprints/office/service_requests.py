"""Mis solicitudes y reclamos: the list, the new request or claim, one request's page with its
timeline, and the customer's comments on it.

A request is filed on one of the user's contracts, optionally about one of that contract's
invoices (``?factura=<id>`` arrives prefilled as "Aclaración de factura"). A gas leak is not
a form: choosing "Fuga de gas", or a description that tells of one, answers with the
emergency notice instead of filing (the customer may still send it, ticking that it is not a
leak). "Factura en formato accesible" is accepted here for what Preferencias cannot do (an
accessible digital bill, another format); the form points to Preferencias, where choosing
braille, large print or audio files the request that also sets the format when done.

Every record goes through the user's ``Scope``: another customer's request, invoice or
contract answers 404 (``not_yours``). Plain POSTs answer 303 to the request's page; with
htmx the redirect is followed and the panel swaps in place; refusals are 422 with the answers
kept (409 for a comment on a resolved or closed request).
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_login import current_user
from wtforms import BooleanField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice

from ov.blueprints.office.common import (
    Office,
    bp,
    digits,
    not_yours,
    office_context,
    page,
)
from ov.blueprints.office.photo_field import (
    KeptPhotoField,
    PhotoField,
    photo_form_limit,
    take_photo,
)
from ov.blueprints.registration_forms import Form
from ov.extensions import db
from ov.formatting import day
from ov.models import ServiceRequestCategory
from ov.services import service_requests as service
from ov.uploads import accepts_photo

#: The choice that is no request: a leak is an emergency, told on the spot.
LEAK = "fuga"
BILL_CLARIFICATION = ServiceRequestCategory.BILL_CLARIFICATION.value
#: How many requests the list shows, the newest.
LISTED = 50
#: How many of each contract's invoices the form offers (the one asked for is added).
INVOICES_OFFERED = 12
#: The error a description telling of a leak answers with, beside the emergency notice.
LEAK_TOLD = ("Tu descripción habla de una fuga de gas: si hueles a gas, sal del lugar y llama "
             "ya a la línea de emergencias. Si no es una fuga, marca «No es una fuga de gas» y "
             "envíala de nuevo.")


#: The types offered, a leak first (it is answered with the emergency notice).
TYPES = [SelectChoice(LEAK, "Fuga de gas u olor a gas"),
         *(SelectChoice(value, label) for value, label in service.CATEGORY_LABELS.items())]


def _choice(value) -> str:
    return "" if value is None else str(value)


class RequestForm(Form):
    tipo = RadioField("¿Qué necesitas?", choices=TYPES, validate_choice=False)
    contrato = SelectField("Contrato", coerce=_choice, validate_choice=False)
    factura = SelectField("Factura", coerce=_choice, validate_choice=False)
    descripcion = TextAreaField("Describe tu solicitud o reclamo",
                                render_kw={"rows": 6, "spellcheck": "true"})
    foto = PhotoField("Foto")
    foto_guardada = KeptPhotoField()
    no_es_fuga = BooleanField("No es una fuga de gas: enviar de todos modos")


class CommentForm(Form):
    comentario = TextAreaField("Tu comentario", render_kw={"rows": 4})
    no_es_fuga = BooleanField("No es una fuga de gas: enviar de todos modos")


#: The same, for a comment on a request already filed.
LEAK_TOLD_IN_COMMENT = LEAK_TOLD.replace("Tu descripción", "Tu comentario").replace(
    "envíala", "envíalo")


def _errors(form) -> list[tuple[str, str]]:
    found = []
    for f in form:
        if f.errors:
            target = f"{f.id}-1" if f.name == "tipo" else f.id
            found.append((target, f.errors[0]))
    return found


@bp.get("/solicitudes")
def requests():
    office = office_context()
    filed = service.requests_of(current_user.id, limit=LISTED + 1)
    return page("office/requests.html", "Mis solicitudes y reclamos", office=office,
                filed=filed[:LISTED], more=len(filed) > LISTED, listed=LISTED,
                accounts={a.id: a for a in office.accounts},
                type_label=service.type_label, status_word=service.status_word,
                kind_words=service.KIND_WORDS)


def _form_page(office: Office, form: RequestForm, status: int = 200, *, leak: bool = False,
               extra_errors=(), asked_invoice=None):
    recent = office.scope.recent_invoices(INVOICES_OFFERED)
    if asked_invoice is not None:
        offered = recent.setdefault(asked_invoice.account_id, [])
        if all(invoice.id != asked_invoice.id for invoice in offered):
            offered.append(asked_invoice)
    errors = list(extra_errors) + _errors(form)
    response = page("office/request_new.html", "Nueva solicitud o reclamo", office=office,
                    form=form, errors=errors, leak=leak, invoices=recent,
                    labels=service.CATEGORY_LABELS,
                    leak_choice=LEAK, description_limits=(service.DESCRIPTION_MIN,
                                                          service.DESCRIPTION_MAX))
    response.status_code = status
    return response


def _leak_page(office: Office):
    return page("office/request_leak.html", "Fuga de gas: qué hacer ahora", office=office)


@bp.route("/solicitudes/nueva", methods=["GET", "POST"], endpoint="request_new")
@photo_form_limit
@accepts_photo
def request_new():
    office = office_context()
    if request.method != "POST":
        return _new_form(office)
    form = RequestForm()  # the form and its file
    if form.tipo.data == LEAK:
        return _leak_page(office)
    accounts = {account.id: account for account in office.accounts}
    category = form.tipo.data if form.tipo.data in service.CATEGORY_LABELS else None
    if category is None:
        form.tipo.data = None
        form.tipo.errors = ["Elige el tipo de solicitud o reclamo."]
    account_id = digits(form.contrato.data)
    if account_id is not None and account_id not in accounts:
        not_yours("contract", account_id)  # another customer's: not a choice offered
    if account_id is None:
        form.contrato.errors = ["Elige uno de tus contratos."]
    invoice = None
    invoice_id = digits(form.factura.data)
    if form.factura.data and invoice_id is None:
        form.factura.errors = ["Elige una de las facturas de la lista, o «Ninguna»."]
    elif invoice_id is not None:
        invoice = office.scope.invoice(invoice_id)
        if invoice is None:
            not_yours("service_request_invoice", invoice_id)
        if account_id is not None and invoice.account_id != account_id:
            form.factura.errors = [
                f"La factura {invoice.number} es de otro de tus contratos. Elige una "
                "factura de este contrato, o «Ninguna»."]
    if category == BILL_CLARIFICATION and not form.factura.errors and invoice is None:
        form.factura.errors = ["Elige la factura que quieres aclarar."]
    try:
        description = service.clean_description(form.descripcion.data)
    except service.TextError as error:
        form.descripcion.errors = [str(error)]
        description = None
    # A good photo is kept at once (on the contract chosen, or the user's first until one
    # is), so that a refused answer elsewhere does not make the customer choose it again.
    holder = account_id or next((account.id for account in office.accounts), None)
    photo = (take_photo(form, user_id=current_user.id, account_id=holder)
             if holder is not None else None)
    # A leak told in the description is an emergency whatever else was refused: the notice
    # comes with the other errors, read from the text as typed.
    leak = service.mentions_leak(form.descripcion.data) and not form.no_es_fuga.data
    leak_errors = [("no_es_fuga", LEAK_TOLD)] if leak else []
    if leak or any(f.errors for f in form):
        db.session.commit()  # the photo kept for the next try
        return _form_page(office, form, 422, leak=leak, asked_invoice=invoice,
                          extra_errors=leak_errors)
    earlier = service.same_request(current_user.id, account_id, category, description,
                                   invoice_id=invoice.id if invoice else None)
    if earlier is not None:  # sent twice: the first one stands
        db.session.commit()
        return redirect(url_for("office.request", request_id=earlier.id), 303)
    filed = service.file_request(current_user.id, account_id, category, description,
                                 invoice_id=invoice.id if invoice else None,
                                 photo_id=photo.id if photo else None,
                                 client_address=request.remote_addr)
    db.session.commit()
    what = service.KIND_WORDS[filed.kind]
    flash(f"Recibimos tu {what}. Tu folio es {filed.folio}; te responderemos a más tardar el "
          f"{day(filed.answer_due_on)}.")
    return redirect(url_for("office.request", request_id=filed.id), 303)


def _new_form(office: Office):
    """The empty form, prefilled from ``?factura=`` (a claim about that invoice), ``?tipo=``
    and ``?contrato=``; ``?tipo=fuga`` is the emergency notice."""
    asked_type = request.args.get("tipo", "")
    if asked_type == LEAK:
        return _leak_page(office)
    data = {"tipo": asked_type if asked_type in service.CATEGORY_LABELS else None}
    accounts = office.accounts
    asked_contract = request.args.get("contrato", "")
    if asked_contract not in ("", "todos"):
        account_id = digits(asked_contract)
        if account_id is None or account_id not in {account.id for account in accounts}:
            not_yours("contract", account_id or 0)
        data["contrato"] = str(account_id)
    elif len(office.chosen) == 1:
        data["contrato"] = str(office.chosen[0].id)
    elif len(accounts) == 1:
        data["contrato"] = str(accounts[0].id)
    invoice = None
    if "factura" in request.args:
        invoice_id = digits(request.args["factura"])
        invoice = office.scope.invoice(invoice_id) if invoice_id is not None else None
        if invoice is None:
            not_yours("service_request_invoice", invoice_id or 0)
        data.update(tipo=data["tipo"] or BILL_CLARIFICATION, contrato=str(invoice.account_id),
                    factura=str(invoice.id))
    return _form_page(office, RequestForm(formdata=None, data=data), asked_invoice=invoice)


# --- one request -----------------------------------------------------------------------------

def _own(office: Office, request_id: int):
    found = office.scope.service_request(request_id)
    if found is None:
        not_yours("service_request", request_id)
    return found


def _request_page(office: Office, found, comment: CommentForm | None = None, status: int = 200,
                  errors=(), leak: bool = False):
    filed, invoice = found
    accounts = {account.id: account for account in office.accounts}
    comment = comment or CommentForm()
    response = page(
        "office/request.html", f"{service.type_label(filed)}: folio {filed.folio}",
        office=office, filed=filed, invoice=invoice, account=accounts.get(filed.account_id),
        comment=comment, errors=list(errors) + _errors(comment), leak=leak,
        can_comment=service.is_open(filed), status_agreed=service.status_agreed(filed),
        type_label=service.type_label(filed),
        status_word=service.status_word, kind_word=service.KIND_WORDS[filed.kind],
        author_word=service.author_word, comment_limits=(service.COMMENT_MIN,
                                                         service.COMMENT_MAX))
    response.status_code = status
    return response


@bp.get("/solicitudes/<int(max=2147483647):request_id>", endpoint="request")
def request_page(request_id: int):
    office = office_context()
    return _request_page(office, _own(office, request_id))


@bp.post("/solicitudes/<int(max=2147483647):request_id>/comentario", endpoint="request_comment")
def request_comment(request_id: int):
    office = office_context()
    found = _own(office, request_id)
    filed = found[0]
    form = CommentForm(request.form)
    if not service.is_open(filed):
        return _request_page(office, found, form, 409, errors=[
            ("", f"Tu {service.KIND_WORDS[filed.kind]} {filed.folio} ya está "
                 f"{service.status_agreed(filed)}: no admite más comentarios. Si necesitas algo "
                 "más, abre una nueva solicitud.")])
    try:
        text = service.clean_comment(form.comentario.data)
    except service.TextError as error:
        form.comentario.errors = [str(error)]
        return _request_page(office, found, form, 422)
    if service.mentions_leak(text) and not form.no_es_fuga.data:
        return _request_page(office, found, form, 422, leak=True, errors=[
            ("no_es_fuga", LEAK_TOLD_IN_COMMENT)])
    try:
        service.add_comment(filed, text, client_address=request.remote_addr)
    except service.RequestError as error:  # resolved in the meantime
        db.session.rollback()
        return _request_page(office, found, form, 409, errors=[("", str(error))])
    db.session.commit()
    flash("Agregamos tu comentario a la solicitud.")
    return redirect(url_for("office.request", request_id=filed.id, _anchor="seguimiento"), 303)
