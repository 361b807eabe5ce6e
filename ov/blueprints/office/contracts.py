"""Mis contratos: the user's contracts, and adding one with its bill.

"Añadir contrato" asks for the bill exactly as registration step 1 does (the same form, the
same proof, the same limits per address and per contract, counted apart from
registration's), so a bill that cannot register a contract cannot add it either.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_login import current_user

from ov.blueprints.already_registered import already_registered
from ov.blueprints.office.common import bp, office_context, page
from ov.blueprints.registration import HINTS
from ov.blueprints.registration_forms import Step1Form, bill_key
from ov.extensions import db, limiter
from ov.htmx import render
from ov.rate_limits import refused
from ov.services import captcha, contracts, registration

ALREADY_YOURS = (
    "Ese contrato ya está vinculado a tu usuario: lo encuentras en Mis contratos. Si "
    "quieres añadir otro, escribe los datos de su factura."
)


@bp.get("/contratos", endpoint="contracts")
def contracts_page():
    return page("office/contracts.html", "Mis contratos", office=office_context())


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
        case contracts.TakenBy(account=account, owner=owner):
            return already_registered(
                account, owner, event="contract_already_registered",
                template="office/contract_taken.html", office=office_context(),
                heading="Este contrato ya está registrado",
            )
