"""Public pages: home, customer service and the legal and accessibility statements."""

from __future__ import annotations

from flask import Blueprint

from ov.htmx import render

bp = Blueprint("help", __name__)


@bp.get("/")
def home():
    return render("help/home.html", "content")


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
