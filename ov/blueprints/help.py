"""Public pages: home, customer service and the legal and accessibility statements."""

from __future__ import annotations

from flask import Blueprint, current_app, request
from sqlalchemy.exc import InterfaceError, OperationalError

from ov.extensions import db
from ov.htmx import is_partial, render
from ov.services import notices
from ov.services.office import BANKS, STORES

bp = Blueprint("help", __name__)


@bp.get("/")
def home():
    return render("help/home.html", "content", service_notices_by_zone=_service_notices())


def _service_notices() -> list:
    """A visitor's zone is not known: every current notice, under its zone's name (those
    for all zones first), so each finds theirs at a glance without signing in. The page
    needs the database for nothing else: without it, it shows no banner rather than fail."""
    try:
        return notices.by_zone(notices.current_zone_notices())
    except (OperationalError, InterfaceError) as exc:
        db.session.rollback()
        current_app.logger.warning("home page without service notices: %s",
                                   type(exc.orig).__name__)
        return []


@bp.get("/atencion-al-cliente")
def customer_service():
    return render("help/customer_service.html", "content")


@bp.get("/aviso-legal")
def legal_notice():
    return render("help/legal_notice.html", "content")


@bp.get("/aviso-de-privacidad")
def privacy_notice():
    return render("help/privacy_notice.html", "content")


@bp.get("/accesibilidad")
def accessibility():
    return render("help/accessibility.html", "content")


@bp.get("/ayuda/factura")
def invoice_help():
    """The "Instructivo": a page, or with JavaScript the <dialog> opened over step 1."""
    if is_partial() and request.args.get("vista") == "dialogo":
        return render("help/invoice.html", "dialog", title=False)
    back = request.args.get("desde") == "registro"
    return render("help/invoice.html", "content", back_to_registration=back)


@bp.get("/donde-pagar")
def where_to_pay():
    return render("help/where_to_pay.html", "content", banks=BANKS, stores=STORES)


@bp.get("/conoce-tu-factura")
def know_your_bill():
    return render("help/know_your_bill.html", "content")
