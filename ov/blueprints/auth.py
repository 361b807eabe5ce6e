"""Signing in and out, and recovering access ("No recuerdo mi usuario y/o contraseña")."""

from __future__ import annotations

from flask import Blueprint, request

from ov.htmx import render

bp = Blueprint("auth", __name__)


@bp.get("/entrar")
def login():
    return render("auth/login.html", "content", username=request.args.get("usuario", "")[:25])


@bp.get("/recuperar")
def recover():
    return render("auth/recover.html", "content")
