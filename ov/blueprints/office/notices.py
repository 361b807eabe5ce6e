"""Avisos: the user's notices, newest first, marked read one by one or all at once.

Without JavaScript each form posts and comes back to the page (303); with htmx the answer is
the page's panel, so the list and the "Avisos (N)" count above it change together.

Signing in while the email is unconfirmed leaves the notice asking to confirm it (once per
address; Flask-Login's ``user_logged_in`` signal, whichever way the user signed in).
"""

from __future__ import annotations

from flask import Flask, flash, redirect, request, url_for
from flask_login import current_user, user_logged_in

from ov.blueprints.office.common import bp, not_yours, office_context, page
from ov.extensions import db
from ov.htmx import is_partial
from ov.services import audit, mail
from ov.services import notices as service
from ov.services import office as data


@bp.get("/avisos")
def notices():
    return _page()


def _page(**context):
    office = office_context()
    return page("office/notices.html", "Avisos", office=office,
                notices=office.scope.notices(), **context)


@bp.route("/avisos/<int(max=2147483647):notice_id>/leido", methods=["GET", "POST"])
def mark_read(notice_id: int):
    if request.method == "GET":  # a reload after marking with htmx, or «Reenviar el correo»
        return redirect(url_for("office.notices"), 303)
    notice = service.mark_read(data.Scope.of(current_user.id), notice_id)
    if notice is None:
        return not_yours("notice", notice_id)
    audit.record("notice_read", user_id=current_user.id, client_address=request.remote_addr,
                 notice_id=notice.id)
    db.session.commit()
    return _done(f"Marcaste «{notice.title}» como leído.", marked=notice.id)


@bp.route("/avisos/leidos", methods=["GET", "POST"])
def mark_all_read():
    if request.method == "GET":  # a reload after marking with htmx, or «Reenviar el correo»
        return redirect(url_for("office.notices"), 303)
    count = service.mark_all_read(data.Scope.of(current_user.id))
    audit.record("notices_read", user_id=current_user.id, client_address=request.remote_addr,
                 count=count)
    db.session.commit()
    if count == 0:  # sent again from a page left open
        message = "No tenías avisos sin leer."
    elif count == 1:
        message = "Marcaste tu aviso como leído."
    else:
        message = f"Marcaste tus {count} avisos como leídos."
    return _done(message, marked=None)


def _done(message: str, marked: int | None):
    """With htmx, the panel again (focus goes to what was marked); without, back to the
    page with the message, at the notice that was marked."""
    if is_partial():
        return _page(marked=marked, done=None if marked else message)
    flash(message)
    anchor = f"aviso-{marked}" if marked else None
    return redirect(url_for("office.notices", _anchor=anchor), 303)


def _signed_in(app: Flask, user, **_extra) -> None:
    made = service.remind_unconfirmed_email(user)
    if made is None:
        return
    db.session.commit()
    if made.mail is not None:  # once per address; if SMTP is down, mail-drain sends it later
        mail.deliver_soon(made.mail)


@bp.record_once
def _listen(state) -> None:
    user_logged_in.connect(_signed_in, state.app)
