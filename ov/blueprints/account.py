"""The customer's account outside "Mi oficina": confirming the email address.

The link in the mail opens a page with a button; only the POST confirms. Mail scanners and
link previews fetch links with GET, and they must not confirm an address for the customer.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import update

from ov.auth_helpers import private, safe_next
from ov.extensions import db, limiter
from ov.htmx import client_redirect, render
from ov.models import User, utcnow
from ov.services import audit, mail, tokens
from ov.services.mail import validity_text

bp = Blueprint("account", __name__)


def _private(response: Response) -> Response:
    """Pages reached with a token: never stored by the browser or a proxy."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _invalid_link() -> Response:
    return _private(
        render(
            "account/confirm_email_invalid.html",
            "content",
            status=400,
            validity=validity_text(tokens.email_confirmation_max_age()),
        )
    )


@bp.route("/confirmar-correo/<token>", methods=["GET", "POST"])
def confirm_email(token: str):
    user = tokens.confirm_email_token(token)
    if user is None:
        return _invalid_link()
    if request.method == "POST":
        # Conditional update: two clicks at once confirm (and audit) only once.
        confirmed = db.session.execute(
            update(User)
            .where(User.id == user.id, User.email_confirmed_at.is_(None))
            .values(email_confirmed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if confirmed.rowcount:
            audit.record("email_confirmed", user_id=user.id, client_address=request.remote_addr)
        db.session.commit()
        return redirect(url_for("account.email_confirmed"), code=303)
    return _private(
        render(
            "account/confirm_email.html",
            "content",
            token=token,
            email=user.email,
            already_confirmed=user.email_confirmed_at is not None,
        )
    )


@bp.get("/correo-confirmado")
def email_confirmed():
    return render("account/email_confirmed.html", "content")


@bp.post("/mi-oficina/reenviar-confirmacion")
@private
@limiter.limit(
    lambda: current_app.config["OV_CONFIRM_RESEND_LIMIT"],
    key_func=lambda: f"reenviar-confirmacion:{current_user.get_id()}",
)
def resend_confirmation():
    """ "Reenviar el correo": a new confirmation link, back to the page it was asked from."""
    user = current_user
    if user.email_confirmed_at is None:
        sent = mail.queue_confirm_email(user)
        audit.record("email_confirmation_resent", user_id=user.id,
                     client_address=request.remote_addr)
        db.session.commit()
        mail.deliver_soon([sent])
        flash("reenviado", "confirmacion-reenviada")  # the notice itself says it
    else:
        flash("Tu correo electrónico ya está confirmado.")
    return client_redirect(safe_next(request.form.get("next")))
