"""Signing in and out, and recovering access ("No recuerdo mi usuario y/o contraseña").

/entrar      the seed's "Identifícate" screen; ?usuario= prefills, ?next= is where to go after
/salir       POST only: "Desconectar"
/recuperar   by email: the same answer whether or not the address is known; the mail has the
             username and a single-use link (/recuperar/enlace/<token>) that leads, through a
             token-free URL, to the new-password form
/recuperar/con-factura   by the bill (zone, account, invoice, CAPTCHA): shows the username and
             sets a new password; a new email waits for its own confirmation, and the old
             address is told at once with a link that undoes it all (ov.services.account_changes);
             refused for a while after an undo
"""

from __future__ import annotations

import time
from datetime import date

from flask import (
    Blueprint,
    current_app,
    g,
    redirect,
    request,
    session,
    url_for,
)
from flask_login import current_user

from ov import auth_helpers
from ov.blueprints.auth_forms import LoginForm, NewAccessForm, NewPasswordForm, RecoverForm
from ov.blueprints.registration_forms import Step1Form
from ov.extensions import db, limit_keys, limiter
from ov.htmx import client_redirect, render
from ov.models import Account, User
from ov.rate_limits import Allowance, refused, take
from ov.services import (
    account_changes,
    audit,
    captcha,
    mail,
    passwords,
    profile,
    registration,
    tokens,
)
from ov.services import auth as auth_service
from ov.services.validation import FieldError, clean_account_number, mask_email

bp = Blueprint("auth", __name__)
# Mails queued with mail.deliver_after_response leave once the request is over (app-wide).
bp.teardown_app_request(mail.send_after_request)

# One message for an unknown user, a wrong password and a locked account (issue 4).
LOGIN_FAILED = (
    "Usuario o contraseña incorrectos. Revísalos e inténtalo de nuevo. Después de varios "
    "intentos fallidos seguidos, por seguridad, el acceso se pausa durante unos minutos."
)
ENDED_NOTICES = {
    "idle": "Tu sesión se cerró por inactividad: pasaron {minutes} minutos sin que usaras la "
    "Oficina Virtual. Entra de nuevo para continuar.",
    "max": "Tu sesión se cerró porque llevaba abierta más de {hours} horas. Entra de nuevo para "
    "continuar.",
    "ended": "Tu sesión se cerró porque la contraseña de tu usuario cambió. Entra con tu "
    "contraseña nueva.",
    "logout": "Cerraste tu sesión. ¡Hasta pronto!",
}
HINTS = {
    "usuario": "(6-25 caracteres números y letras y sin guiones)",
    "contrasena": "(8-12 caracteres números y letras y sin guiones)",
    "contrasena_nueva": "De 8 a 12 caracteres: números y letras, sin caracteres especiales.",
}
RESET_KEY = "ov_reset"
BILL_KEY = "ov_bill"
RECOVERED_KEY = "ov_recovered"
BILL_DONE_KEY = "ov_bill_done"
BILL_PROOF_SECONDS = 15 * 60


def client_address() -> str | None:
    return request.remote_addr


def go(endpoint: str, **values):
    return redirect(url_for(endpoint, **values), 303)


def _failed(response) -> bool:
    return response.status_code >= 400


def _config(key: str):
    return current_app.config[key]


def _typed_key(field: str, prefix: str) -> str:
    """A rate-limit key for what was typed, without keeping the text itself."""
    return _key_for(prefix, request.form.get(field))


def _key_for(prefix: str, typed: str | None) -> str:
    # Case and surrounding spaces do not make another key; the text itself never enters it.
    return f"{prefix}:{tokens.fingerprint((typed or '').strip().casefold()[:254])}"


def _login_limit():
    return _config("OV_LOGIN_ACCOUNT_LIMIT")


def _login_device() -> str | None:
    """The nonce of this browser's device cookie when it is valid for the user the typed
    username names and a try of its allowance is left, which this attempt uses (once per
    request: two limits and the view ask)."""
    if "ov_login_device" not in g:
        user = auth_service.find_user(request.form.get("usuario"))
        nonce = auth_helpers.device_nonce(user) if user else None
        if nonce and not (request.form.get("contrasena") and auth_helpers.take_device_try(nonce)):
            nonce = None
        g.ov_login_device = nonce
    return g.ov_login_device


def _known_device() -> bool:
    return _login_device() is not None


def clear_login_throttle(username: str) -> None:
    """A successful reset unlocks the account: forget the failed logins counted for its
    username by Flask-Limiter too (the database counter is reset by ``set_password``)."""
    from limits import parse_many

    args = limit_keys(_key_for("entrar", username), "auth.login")
    try:
        for item in parse_many(_login_limit()):
            limiter.limiter.clear(item, *args)
    except Exception as exc:  # the store is down: the count simply runs out by itself
        current_app.logger.warning("login throttle not cleared: %s", type(exc).__name__)


def render_form(template: str, form, status: int = 200, form_errors=(), **context):
    errors = list(form_errors) + [(f.id, f.errors[0]) for f in form if f.errors]
    return render(template, "content", status=status, form=form, errors=errors, hints=HINTS,
                  **context)


# --- login and logout -----------------------------------------------------------------------

def _ended_notice(reason: str | None) -> str | None:
    if reason not in ENDED_NOTICES:
        return None
    return ENDED_NOTICES[reason].format(
        minutes=_config("OV_SESSION_IDLE_MINUTES"), hours=_config("OV_SESSION_MAX_HOURS")
    )


# Failed logins are limited per address and per typed username only for unknown browsers;
# a browser holding a device cookie for the typed user has its own allowance instead (see
# _login_device). So an attacker spends the unknown browsers' allowance, never the owner's,
# and the customers behind one carrier (CGNAT) address who signed in there before are not
# refused either.
@bp.route("/entrar", methods=["GET", "POST"])
@limiter.limit(lambda: _config("OV_LOGIN_IP_LIMIT"), methods=["POST"], deduct_when=_failed,
               exempt_when=_known_device)
@limiter.limit(
    _login_limit,
    key_func=lambda: _typed_key("usuario", "entrar"),
    methods=["POST"],
    deduct_when=_failed,
    exempt_when=_known_device,
)
def login():
    next_url = request.values.get("next", "")
    if request.method == "GET":
        if current_user.is_authenticated:
            return go_to(auth_helpers.safe_next(next_url))
        form = LoginForm(data={"usuario": request.args.get("usuario", "")[:25],
                               "next": next_url[:auth_helpers.MAX_NEXT]})
        notice = _ended_notice(session.pop(auth_helpers.ENDED, None))
        if notice is None and next_url:
            notice = "Para ver esa página, entra con tu usuario y tu contraseña."
        db.session.commit()
        return render_form("auth/login.html", form, notice=notice)

    form = LoginForm(request.form)
    if not form.validate():
        return render_form("auth/login.html", form, 422, notice=None)
    # Before the password is checked: with the session store down, a right password and a
    # wrong one both get the 503, and nothing of the sign-in is recorded (docs/outages.md).
    current_app.session_interface.ensure_available()  # type: ignore[attr-defined]
    outcome = auth_service.authenticate(
        form.usuario.data, form.contrasena.data, client_address=client_address(),
        trusted_device=_known_device(),
        browser=profile.browser_family(request.headers.get("User-Agent")),
    )
    db.session.commit()
    if not outcome.ok:
        # Never the typed text (it may be a password): a keyed hash when it has the allowed
        # form (no CR/LF).
        current_app.logger.info("login failed: %s", auth_service.audit_username(
            form.usuario.data))
        response = render_form(
            "auth/login.html", form, 422, form_errors=[("usuario", LOGIN_FAILED)], notice=None
        )
        # The lock mail goes out after the answer: the attempt that locks takes no longer.
        return mail.deliver_after_response(response, outcome.mails)
    user = outcome.user
    resume = auth_helpers.take_resume(user)
    auth_helpers.start_session(user)
    if resume:
        return render(
            "auth/resume.html", "content", retry_action=resume["action"],
            answers=resume["answers"],
        )
    return go_to(auth_helpers.safe_next(form.next.data))


def go_to(url: str):
    """A full-page redirect: htmx loads the page whole (the header changes with the login)."""
    return client_redirect(url)


@bp.post("/salir")
def logout():
    if current_user.is_authenticated:
        audit.record("logout", user_id=current_user.id, client_address=client_address())
        db.session.commit()
    auth_helpers.end_session("logout")
    return go_to(url_for("auth.login"))


@bp.post("/sesion/seguir")
def keep_alive():
    """ "Seguir conectado": the request itself renewed the session (before_request)."""
    if request.headers.get("X-Sesion") == "seguir":
        return ("", 204) if current_user.is_authenticated else ("", 401)
    if not current_user.is_authenticated:
        return go_to(url_for("auth.login"))
    return go_to(auth_helpers.safe_next(request.form.get("next")))


# --- recovery by email ----------------------------------------------------------------------

@bp.route("/recuperar", methods=["GET", "POST"])
@limiter.limit(lambda: _config("OV_RECOVERY_IP_LIMIT"), methods=["POST"])
def recover():
    if request.method == "GET":
        return render_form("auth/recover.html", RecoverForm())
    form = RecoverForm(request.form)
    if not form.validate():
        return render_form("auth/recover.html", form, 422)
    # Past the address's allowance of mails nothing more is sent, but the answer stays the
    # same: a refusal would let anyone keep the owner from asking, while the links already
    # mailed within the hour still work for whoever holds the mailbox.
    if take(Allowance(_config("OV_RECOVERY_EMAIL_LIMIT"), _typed_key("correo", "recuperar"))):
        mails = []
        audit.record("password_reset_throttled", client_address=client_address())
    else:
        mails = auth_service.request_reset(form.correo.data, client_address=client_address())
    db.session.commit()
    # The same answer for a known and an unknown address; the mail goes out after it.
    return mail.deliver_after_response(go("auth.recover_sent"), mails)


@bp.get("/recuperar/enviado")
def recover_sent():
    return render("auth/recover_sent.html", "content", push=True,
                  validity=mail.validity_text(auth_service.reset_max_age()))


@bp.get("/recuperar/enlace/<token>")
def reset_link(token: str):
    """Keep the token on the server and leave its URL at once (history, Referer, logs)."""
    if auth_service.user_for_reset(token) is None:
        return _invalid_link()
    session[RESET_KEY] = token
    return go("auth.reset")


def _invalid_link():
    return render("auth/reset_invalid.html", "content", status=400,
                  validity=mail.validity_text(auth_service.reset_max_age()))


@bp.route("/recuperar/nueva-contrasena", methods=["GET", "POST"])
def reset():
    token = session.get(RESET_KEY)
    user = auth_service.user_for_reset(token)
    if user is None:
        session.pop(RESET_KEY, None)
        return _invalid_link()
    if request.method == "GET":
        return render_form("auth/reset.html", NewPasswordForm(), username=user.username)
    form = NewPasswordForm(request.form)
    check_new_password(form, user.username, user.email)
    if form.errors:
        return render_form("auth/reset.html", form, 422, username=user.username)
    mails = auth_service.complete_reset(
        user, token, form.contrasena.data, client_address=client_address()
    )
    session.pop(RESET_KEY, None)
    if mails is None:  # spent by a second tab a moment ago
        db.session.rollback()
        return _invalid_link()
    db.session.commit()
    mail.deliver_soon(mails)
    auth_helpers.trust_device(user)  # the mailbox proved it: this browser gets back in
    return _finished(user)


def _finished(user: User, then: str = "auth.recovered"):
    clear_login_throttle(user.username)
    if current_user.is_authenticated and current_user.id == user.id:
        auth_helpers.restamp(user)
    session[RECOVERED_KEY] = user.username
    return go(then)


def check_new_password(form, username: str, email: str) -> None:
    password, again = form.contrasena.data or "", form.contrasena2.data or ""
    if not password:
        form.contrasena.errors = ["Escribe una contraseña nueva."]
    else:
        problems = passwords.check(password, username=username, email=email)
        if problems:
            form.contrasena.errors = problems[:1]
    if not again:
        form.contrasena2.errors = ["Repite la contraseña nueva."]
    elif password and password != again:
        form.contrasena2.errors = ["Las contraseñas no coinciden. Escríbelas de nuevo."]


@bp.get("/recuperar/listo")
def recovered():
    username = session.get(RECOVERED_KEY)
    if not isinstance(username, str):
        return go("auth.login")
    return render("auth/recovered.html", "content", push=True, username=username)


# --- recovery with the bill -----------------------------------------------------------------

def _bill_key() -> str:
    """Attempts on one contract, whatever address they come from. Built from the values the
    form will use ("03" and "3" are the same zone), never from the raw text."""
    try:
        number = clean_account_number(request.form.get("cuenta", ""))
    except FieldError:
        number = "?"  # refused by the form anyway
    try:
        zone = str(int(request.form.get("zona", "")))
    except ValueError:
        zone = "?"
    return _key_for("recuperar-factura", f"{zone}:{number}")


@bp.route("/recuperar/con-factura", methods=["GET", "POST"])
@limiter.limit(lambda: _config("OV_RECOVERY_BILL_IP_LIMIT"), methods=["POST"],
               deduct_when=refused)
@limiter.limit(lambda: _config("OV_RECOVERY_BILL_ACCOUNT_LIMIT"), key_func=_bill_key,
               methods=["POST"], deduct_when=refused)
def recover_bill():
    zones = registration.zones()
    if request.method == "GET":
        db.session.commit()
        return render_form("auth/recover_bill.html", Step1Form(zones), widget=captcha.widget(),
                           captcha_error=None, unavailable=False)
    form = Step1Form(zones, request.form)
    proof = form.prove(request.form, client_address(), "recovery")
    if proof.account is not None:
        owner = registration.owner_of(proof.account.id)
        db.session.commit()
        if owner is None:
            return render("auth/recover_bill_unregistered.html", "content", status=404)
        if account_changes.bill_refused(owner, proof.issued):
            return _bill_refused(owner)
        session[BILL_KEY] = {"a": proof.account.id, "u": owner.id, "t": time.time(),
                             "i": proof.issued.isoformat()}
        return go("auth.recover_bill_new")
    db.session.commit()
    return render_form(
        "auth/recover_bill.html", form, proof.status, proof.errors, widget=captcha.widget(),
        captcha_error=proof.captcha_error, unavailable=proof.status == 503,
    )


def _bill_refused(user: User):
    """A change of this user was undone with a link mailed to it, a short while ago or after
    this bill was issued: the bill proves nothing. 403: the proof was right, and this answer
    will not change by sending it again; nothing about the user is shown."""
    session.pop(BILL_KEY, None)
    audit.record("recovery_by_bill_refused", user_id=user.id, client_address=client_address())
    db.session.commit()
    return render("auth/recover_bill_refused.html", "content", status=403,
                  validity=account_changes.undo_validity())


def _bill_proof() -> tuple[User, Account, date] | None:
    """The user, the account and the issue date of the invoice proved a moment ago."""
    proof = session.get(BILL_KEY)
    if (not isinstance(proof, dict) or not isinstance(proof.get("i"), str)
            or time.time() - float(proof.get("t", 0)) > BILL_PROOF_SECONDS):
        session.pop(BILL_KEY, None)
        return None
    user, account = db.session.get(User, proof.get("u")), db.session.get(Account, proof.get("a"))
    if user is None or account is None or registration.owner_of(account.id) is not user:
        return None
    return user, account, date.fromisoformat(proof["i"])


@bp.route("/recuperar/con-factura/nuevos-datos", methods=["GET", "POST"])
def recover_bill_new():
    proof = _bill_proof()
    if proof is None:
        return go("auth.recover_bill")
    user, account, issued = proof
    if account_changes.bill_refused(user, issued):  # undone after the bill was proved
        return _bill_refused(user)
    context = {"username": user.username, "masked_email": mask_email(user.email)}
    if request.method == "GET":  # reached through a redirect: htmx must show this URL
        return render_form("auth/recover_bill_new.html", NewAccessForm(), push=True, **context)
    form = NewAccessForm(request.form)
    form.validate()
    check_new_password(form, user.username, form.correo.data or "")
    if (form.correo.data and form.correo2.data and not form.correo.errors
            and not form.correo2.errors
            and form.correo.data.casefold() != form.correo2.data.casefold()):
        form.correo2.errors = ["Los correos no coinciden. Revisa los dos."]
    if (form.correo.data and not form.correo.errors
            and profile.email_taken(form.correo.data, except_user_id=user.id)):
        form.correo.errors = [profile.EMAIL_TAKEN]
    if form.errors:
        return render_form("auth/recover_bill_new.html", form, 422, **context)
    mails = auth_service.recover_by_bill(
        user, account, form.contrasena.data, form.correo.data, client_address=client_address()
    )
    session.pop(BILL_KEY, None)
    session[BILL_DONE_KEY] = {"pending": user.pending_email, "current": mask_email(user.email)}
    db.session.commit()
    mail.deliver_soon(mails)  # the old address hears of it now, not after a queue run
    return _finished(user, then="auth.recover_bill_done")


@bp.get("/recuperar/con-factura/listo")
def recover_bill_done():
    """What happened, plainly: the new password works, the new email waits for its link."""
    username, done = session.get(RECOVERED_KEY), session.get(BILL_DONE_KEY)
    if not isinstance(username, str) or not isinstance(done, dict):
        return go("auth.recover_bill")
    return render("auth/recover_bill_done.html", "content", push=True, username=username,
                  pending=done.get("pending"), current=done.get("current"),
                  validity=account_changes.undo_validity())

