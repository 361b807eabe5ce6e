"""The customer's account outside "Mi oficina": confirming an email address (the current one
after registration, or a new one waiting to replace it), and undoing a change of access from
the link mailed to the old address (/deshacer-cambio/<token>).

Each link opens a page with a button; only the POST acts. Mail scanners and link previews
fetch links with GET, and they must not confirm an address or undo anything for the customer.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, request, session, url_for
from flask_login import current_user
from sqlalchemy import update

from ov.auth_helpers import private, safe_next
from ov.extensions import db, limiter
from ov.htmx import client_redirect, render
from ov.models import User, utcnow
from ov.services import account_changes, audit, mail, notices, profile, tokens
from ov.services import auth as auth_service
from ov.services.mail import validity_text
from ov.services.validation import mask_email

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


def _cancelled_user() -> Response:
    """A link of a cancelled user: it no longer acts (410), whatever it says."""
    return _private(render("account/user_cancelled_link.html", "content", status=410))


@bp.route("/confirmar-correo/<token>", methods=["GET", "POST"])
def confirm_email(token: str):
    found = tokens.read_email_confirmation(token)
    if found is None:
        return _invalid_link()
    user, address = found
    if user.blocked_at is not None:
        return _cancelled_user()
    pending = address != user.email
    if pending and profile.email_taken(address, except_user_id=user.id):
        # Another user took the address since it was asked for: nothing changes.
        return _private(render("account/confirm_email_taken.html", "content", status=409,
                               email=address, current_masked=mask_email(user.email)))
    if request.method == "POST":
        mails = None
        if pending:
            # The address it replaces is told at once, with a link that undoes it.
            mails = account_changes.confirm_pending(user, address,
                                                    client_address=request.remote_addr)
            if mails is None:  # confirmed a moment ago in another tab, cancelled or replaced
                db.session.rollback()
                return _invalid_link()
        else:
            # Conditional update: two clicks at once confirm (and audit) only once.
            confirmed = db.session.execute(
                update(User)
                .where(User.id == user.id, User.email_confirmed_at.is_(None))
                .values(email_confirmed_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if confirmed.rowcount:
                audit.record("email_confirmed", user_id=user.id,
                             client_address=request.remote_addr)
        if mails or (not pending and confirmed.rowcount):
            notices.email_confirmed(user.id)
        db.session.commit()
        if mails:
            mail.deliver_soon(mails)
        return redirect(url_for("account.email_confirmed"), code=303)
    return _private(
        render(
            "account/confirm_email.html",
            "content",
            token=token,
            email=address,
            pending=pending,
            current_masked=mask_email(user.email),
            already_confirmed=not pending and user.email_confirmed_at is not None,
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
    if user.pending_email:
        sent = account_changes.queue_confirm_pending(user)
    elif user.email_confirmed_at is None:
        sent = mail.queue_confirm_email(user)
    else:
        sent = None
        flash("Tu correo electrónico ya está confirmado.")
    if sent is not None:
        audit.record("email_confirmation_resent", user_id=user.id,
                     client_address=request.remote_addr)
        db.session.commit()
        mail.deliver_soon([sent])
        flash("reenviado", "confirmacion-reenviada")  # the notice itself says it
    return client_redirect(safe_next(request.form.get("next")))


# --- undoing a change of access -------------------------------------------------------------

UNDONE_KEY = "ov_undone"


def _invalid_undo_link() -> Response:
    return _private(render("account/undo_invalid.html", "content", status=400,
                           validity=account_changes.undo_validity()))


@bp.route("/deshacer-cambio/<token>", methods=["GET", "POST"])
def undo_change(token: str):
    change = account_changes.change_for(token)
    if change is None:
        return _invalid_undo_link()
    if change.user.blocked_at is not None:
        return _cancelled_user()
    if request.method == "POST":
        undone = account_changes.undo(change, client_address=request.remote_addr)
        if undone is None:  # spent by a second tab a moment ago
            db.session.rollback()
            return _invalid_undo_link()
        user, mails = undone
        session[UNDONE_KEY] = {"u": user.username, "t": auth_service.reset_token(user),
                               "e": mask_email(user.email)}
        db.session.commit()
        mail.deliver_soon(mails)  # the address it replaced hears of it now
        return redirect(url_for("account.change_undone"), code=303)
    user = change.user
    # What the undo would take back: an address already confirmed in place of this one, one
    # still waiting for its link, or neither.
    changed = user.email.casefold() != change.notified_email.casefold()
    return _private(render(
        "account/undo_change.html", "content", token=token, username=user.username,
        kind=change.kind, when=mail.local_datetime(change.created_at),
        until=mail.local_datetime(account_changes.closes_at(change)),
        notified_masked=mask_email(change.notified_email),
        current_masked=mask_email(user.email) if changed else None,
        pending_masked=mask_email(user.pending_email) if user.pending_email else None,
        later=account_changes.has_later_changes(change),
    ))


@bp.get("/cambio-deshecho")
def change_undone():
    """What the undo did, and the way to a new password (the reset form, its own token)."""
    undone = session.get(UNDONE_KEY)
    if not isinstance(undone, dict):
        return redirect(url_for("help.home"), code=303)
    return _private(render("account/change_undone.html", "content", push=True,
                           username=undone.get("u"), reset_token=undone.get("t"),
                           email=undone.get("e"),
                           validity=validity_text(auth_service.reset_max_age())))
