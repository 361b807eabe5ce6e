"""Autolectura: the customer gives the reading of their gas meter, from Mis consumos or from
an estimated invoice ("Corrige esta lectura estimada con tu lectura").

``/mi-oficina/consumos/lectura`` is one form (the contract, the digits, an optional photo of
the meter): a plain POST without JavaScript, swapped in place with htmx. Bad digits answer
422 with the answers kept; a value that looks odd (lower than the last real reading, or a
jump far above the usual use: ``ov.services.readings``) comes back with the reason and a
hidden ``confirmar`` holding the warning and the value it is about, so a second submit of the
same value confirms it; a changed value is checked again. A kept reading answers 303 to its
own page, which says it will be reviewed.

``?contrato=`` preselects one of the user's contracts; ``?factura=`` one of their estimated
invoices, whose contract is then the one read. Another customer's contract, invoice or
reading answers 404; an invoice of theirs that was read for real says it needs no correction.
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import ValidationError

from ov.blueprints.office.common import (
    bp,
    digits,
    int_arg,
    not_yours,
    office_context,
    page,
    today,
)
from ov.blueprints.office.photo_field import (
    KeptPhotoField,
    PhotoField,
    photo_form_limit,
    take_photo,
)
from ov.blueprints.registration_forms import Form
from ov.extensions import db
from ov.models import Invoice, ReadingSubmission, ReadingSubmissionStatus, UserAccount
from ov.services import office as data
from ov.services import photos, readings
from ov.uploads import accepts_photo

NO_CONTRACT = "Elige el contrato del medidor que leíste."
NOT_ESTIMATED = ("La factura {number} se hizo con una lectura real de tu medidor: no hace falta "
                 "corregirla. Si quieres, danos la lectura de hoy.")


class ReadingForm(Form):
    contrato = SelectField("Contrato", coerce=digits, validate_choice=False)
    lectura = StringField(
        "Lectura del medidor",
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 20,
                   "spellcheck": "false", "pattern": "[0-9]*"},
    )
    confirmar = HiddenField()
    foto = PhotoField()
    foto_guardada = KeptPhotoField()

    def validate_lectura(self, field) -> None:
        try:
            field.data = readings.clean_value(field.raw_data[0] if field.raw_data else None)
        except readings.ReadingError as exc:
            raise ValidationError(str(exc)) from None

    def validate_contrato(self, field) -> None:
        if field.data is None:
            raise ValidationError(NO_CONTRACT)


def contract_label(office, account) -> str:
    alias = office.scope.aliases.get(account.id)
    where = f"{account.street} {account.street_number}, {account.city}"
    return f"{alias + ' · ' if alias else ''}{account.printed_number} · {where}"


def wanted_contract(office) -> int | None:
    """``?contrato=``: one of the user's contracts (another customer's is a 404)."""
    raw = request.args.get("contrato", "")
    if raw in ("", "todos"):
        return None
    wanted = digits(raw)
    if wanted is None:
        return None
    if wanted not in {account.id for account in office.accounts}:
        not_yours("contract", wanted)
    return wanted


def wanted_invoice() -> Invoice | None:
    """``?factura=``: one of the user's invoices (another customer's, or none, is a 404)."""
    if "factura" not in request.args:
        return None
    invoice_id = int_arg("factura", high=2_147_483_647)
    found = data.Scope.of(current_user.id).invoice(invoice_id) if invoice_id else None
    if found is None:
        not_yours("invoice", invoice_id or 0)
    return found


def make_form(office, formdata, preselected: int | None, files=None) -> ReadingForm:
    if formdata is not None and files:
        formdata = formdata.copy()
        formdata.update(files)
    form = ReadingForm(formdata, data={"contrato": preselected})
    form.contrato.choices = [(account.id, contract_label(office, account))
                             for account in office.accounts]
    if len(office.accounts) > 1:  # nothing chosen for the customer: they say which
        form.contrato.choices.insert(0, ("", "Elige el contrato"))
    return form


def form_page(form: ReadingForm, office, invoice, *, status: int = 200, caution=None,
              refused_invoice: str | None = None):
    errors = [(f.id, f.errors[0]) for f in form if f.errors]
    action = url_for("office.reading_new", **({"factura": invoice.id} if invoice else {}))
    response = page(
        "office/reading_new.html", "Envía la lectura de tu medidor", office=office, form=form,
        invoice=invoice, errors=errors, caution=caution, action=action,
        refused_invoice=refused_invoice,
        confirm_token=f"{caution.kind}:{form.lectura.data}" if caution else "",
        contract_label=lambda account: contract_label(office, account),
    )
    response.status_code = status
    return response


@bp.route("/consumos/lectura", methods=["GET", "POST"])
@photo_form_limit
@accepts_photo
def reading_new():
    office = office_context()
    invoice = wanted_invoice()
    preselected = invoice.account_id if invoice else wanted_contract(office)
    if preselected is None and len(office.accounts) == 1:
        preselected = office.accounts[0].id
    refused_invoice = None
    if invoice is not None and not readings.corrects(invoice):
        refused_invoice = NOT_ESTIMATED.format(number=invoice.number)
    if refused_invoice:
        # Nothing is read for a bill that was read for real: the form without the bill.
        response = form_page(make_form(office, None, invoice.account_id), office, None,
                             status=409, refused_invoice=refused_invoice)
        db.session.commit()
        return response
    form = make_form(office, request.form if request.method == "POST" else None, preselected,
                     request.files if request.method == "POST" else None)
    if request.method != "POST":
        return form_page(form, office, invoice)

    if invoice is not None:
        form.contrato.data = invoice.account_id  # the bill's contract is the one read
    valid = form.validate()
    account_id = form.contrato.data
    if account_id is not None and account_id not in {a.id for a in office.accounts}:
        not_yours("contract", account_id)
    # A good photo is kept as soon as it arrives, so a refused or questioned answer does not
    # make the customer choose it again (the form carries its id); a bad one keeps nothing.
    # No contract chosen yet: it is kept on the user's first until one is.
    holder = account_id or next((account.id for account in office.accounts), None)
    photo = (take_photo(form, user_id=current_user.id, account_id=holder)
             if holder is not None else None)
    if not valid or form.foto.errors:
        response = form_page(form, office, invoice, status=422)
        db.session.commit()
        return response

    value = form.lectura.data
    caution = readings.check(value, readings.basis(account_id), today())
    if caution is not None and form.confirmar.data != f"{caution.kind}:{value}":
        response = form_page(form, office, invoice, caution=caution)
        db.session.commit()
        return response

    stored = readings.submit(
        user_id=current_user.id, account_id=account_id, value=value, read_on=today(),
        invoice_id=invoice.id if invoice else None, photo=photo,
        confirmed=caution.kind if caution else None, client_address=request.remote_addr,
    )
    db.session.commit()
    photos.discard(stored.dropped)
    if stored.replaced:
        flash("Cambiamos la lectura que nos diste antes hoy para este contrato por esta.")
    return redirect(url_for("office.reading_received", submission_id=stored.submission.id),
                    303)


def own_submission(submission_id: int) -> ReadingSubmission | None:
    """One of the user's readings, on a contract still linked to them (one query)."""
    return db.session.scalars(
        select(ReadingSubmission)
        .join(UserAccount, (UserAccount.account_id == ReadingSubmission.account_id)
              & (UserAccount.user_id == current_user.id))
        .where(ReadingSubmission.id == submission_id,
               ReadingSubmission.user_id == current_user.id)
    ).first()


@bp.get("/consumos/lectura/<int(max=2147483647):submission_id>")
def reading_received(submission_id: int):
    found = own_submission(submission_id)
    if found is None:
        not_yours("reading", submission_id)
    office = office_context()
    account = next(a for a in office.accounts if a.id == found.account_id)
    invoice = db.session.get(Invoice, found.invoice_id) if found.invoice_id else None
    heading = ("Recibimos tu lectura" if found.status == ReadingSubmissionStatus.RECEIVED.value
               else "Revisamos tu lectura")
    return page("office/reading_received.html", heading, office=office, page_title=heading,
                submission=found, account=account, invoice=invoice,
                status_label=readings.STATUS_LABELS[found.status],
                contract=contract_label(office, account))
