"""Mis contratos: the user's contracts, and adding one with its bill.

"Añadir contrato" asks for the bill exactly as registration step 1 does (the same form, the
same proof, the same limits per address and per contract, counted apart from
registration's), so a bill that cannot register a contract cannot add it either.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_login import current_user
from wtforms import StringField

from ov.blueprints.already_registered import already_registered
from ov.blueprints.office.common import bp, not_yours, office_context
from ov.blueprints.registration import HINTS
from ov.blueprints.registration_forms import Cleaned, Form, Step1Form, bill_key
from ov.extensions import db, limiter
from ov.htmx import client_redirect, render
from ov.rate_limits import refused
from ov.services import captcha, contracts, registration

ALREADY_YOURS = (
    "Ese contrato ya está vinculado a tu usuario: lo encuentras en Mis contratos. Si "
    "quieres añadir otro, escribe los datos de su factura."
)


class AliasForm(Form):
    alias = StringField(
        "Nombre del contrato",
        validators=[Cleaned(contracts.clean_alias)],
        render_kw={"maxlength": contracts.ALIAS_LENGTH, "autocomplete": "off"},
    )


def alias_form(account_id: int, formdata=None, alias: str | None = None) -> AliasForm:
    """One contract's alias form; its prefix keeps every field id on the page unique."""
    return AliasForm(formdata, prefix=f"contrato{account_id}", data={"alias": alias})


def contracts_list(status: int = 200, refused: AliasForm | None = None, refused_id=None):
    office = office_context()
    forms = {account.id: alias_form(account.id, alias=office.scope.aliases.get(account.id))
             for account in office.accounts}
    errors = []
    if refused is not None:
        forms[refused_id] = refused
        errors = [(f.id, f.errors[0]) for f in refused if f.errors]
    return render("office/contracts.html", "content", status, push=request.method == "GET",
                  heading="Mis contratos", office=office, alias_forms=forms, errors=errors)


@bp.get("/contratos", endpoint="contracts")
def contracts_page():
    return contracts_list()


@bp.route("/contratos/<int(max=2147483647):account_id>/nombre", methods=["GET", "POST"])
def name_contract(account_id: int):
    if request.method == "GET":  # a reload of a refused name, or «Reenviar el correo»
        return redirect(url_for("office.contracts"), 303)
    link = contracts.link_of(current_user.id, account_id)
    if link is None:
        not_yours("contract", account_id)
    form = alias_form(account_id, request.form)
    if not form.validate():
        response = contracts_list(422, form, account_id)
        db.session.commit()
        return response
    contracts.set_alias(link, form.alias.data, client_address=request.remote_addr)
    db.session.commit()
    flash(f"Guardamos el nombre «{form.alias.data}» del contrato "
          f"{link.account.printed_number}.")
    return redirect(url_for("office.contracts"), 303)


def add_form(form: Step1Form, status: int = 200, errors=(), proof=None):
    errors = list(errors) + [(f.id, f.errors[0]) for f in form if f.errors]
    return render(
        "office/contract_new.html", "content", status, push=request.method == "GET",
        heading="Añadir contrato", office=office_context(), form=form, errors=errors,
        hints=HINTS, widget=captcha.widget(),
        captcha_error=proof.captcha_error if proof else None,
        unavailable=bool(proof and proof.status == 503),
    )


@bp.route("/contratos/nuevo", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["OV_REGISTRATION_IP_LIMIT"], methods=["POST"],
               deduct_when=refused)
@limiter.limit(lambda: current_app.config["OV_REGISTRATION_ACCOUNT_LIMIT"],
               key_func=lambda: bill_key("contrato-nuevo", request.form), methods=["POST"],
               deduct_when=refused)
def add_contract():
    zones = registration.zones()
    if request.method != "POST":
        form = Step1Form(zones)
        response = add_form(form)
        db.session.commit()
        return response
    form = Step1Form(zones, request.form)
    proof = form.prove(request.form, request.remote_addr, "contract")
    if proof.account is None:
        response = add_form(form, proof.status, proof.errors, proof)
        db.session.commit()
        return response
    outcome = contracts.add(current_user.id, proof.account, client_address=request.remote_addr)
    match outcome:
        case contracts.Added(account=account):
            db.session.commit()
            flash(f"Añadimos el contrato {account.printed_number} de {account.zone.name} a tu "
                  "usuario. Ya puedes ver sus facturas, consumos y pagos.")
            return redirect(url_for("office.contracts"), 303)
        case contracts.AlreadyYours():
            response = add_form(form, 409, [("", ALREADY_YOURS)])
            db.session.commit()
            return response
        case contracts.Blocked():  # cancelled in another tab meanwhile
            db.session.rollback()
            return client_redirect(url_for("auth.login"))
        case contracts.TakenBy(account=account, owner=owner):
            return already_registered(
                account, owner, event="contract_already_registered",
                template="office/contract_taken.html", office=office_context(),
                heading="Este contrato ya está registrado",
            )


def removal_page(link, status: int = 200, *, alone: bool | None = None):
    """The confirmation, or (``alone``: the user's only contract) why it stays."""
    office = office_context()
    alone = len(office.accounts) == 1 if alone is None else alone
    account = link.account
    name = link.alias or account.printed_number
    heading = "No puedes quitar tu único contrato" if alone else f"¿Quitar el contrato {name}?"
    return render("office/contract_remove.html", "content", status,
                  push=request.method == "GET", heading=heading, office=office,
                  account=account, alias=link.alias, alone=alone, refused=status >= 400)


@bp.route("/contratos/<int(max=2147483647):account_id>/quitar", methods=["GET", "POST"])
def remove_contract(account_id: int):
    """GET asks first (or says why the last contract stays); POST unlinks."""
    link = contracts.link_of(current_user.id, account_id)
    if link is None:
        not_yours("contract", account_id)
    if request.method != "POST":
        response = removal_page(link)
        db.session.commit()
        return response
    printed = link.account.printed_number
    outcome = contracts.remove(current_user.id, account_id, client_address=request.remote_addr)
    if outcome is contracts.Removal.NOT_FOUND:  # removed in another tab meanwhile
        not_yours("contract", account_id)
    if outcome is contracts.Removal.LAST:
        db.session.commit()
        return removal_page(link, 409, alone=True)
    db.session.commit()
    flash(f"Quitamos el contrato {printed} de tu usuario. Sus facturas y pagos siguen en "
          "nuestros registros; si lo necesitas de nuevo, añádelo con su factura.")
    return redirect(url_for("office.contracts"), 303)
