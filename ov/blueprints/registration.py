"""Registration in the seed guide's three steps: /registro/paso-1, paso-2, paso-3, listo.

Without JavaScript each step is a POST that redirects (303) to the next GET. With htmx the
forms post in place: the redirect is followed by fetch with the htmx headers kept, so the next
step comes back as a fragment, and its GET view pushes its own URL into the history.
"""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    request,
    session,
    url_for,
)
from markupsafe import Markup

from ov.addresses import client_key
from ov.blueprints.already_registered import already_registered
from ov.blueprints.registration_forms import (
    Step1Form,
    Step2Form,
    Step3Form,
    bill_key,
)
from ov.extensions import db, limiter
from ov.htmx import render
from ov.models.portal import username_key
from ov.rate_limits import Allowance, refused, take, take_once
from ov.services import captcha, mail, passwords, profile, registration, tokens

bp = Blueprint("registration", __name__, url_prefix="/registro")

DRAFT_KEY = "registro"
HINTS = {
    "cuenta": Markup(
        "Entre 1 y 8 números, sin puntos ni guiones y sin el número que va después del "
        'guion. Si tu factura dice <span class="nowrap">40989917-7</span>, escribe 40989917.'
    ),
    "factura": Markup(
        "10 caracteres, tal como aparecen en tu factura junto a «No.»: con o sin los espacios "
        'que separan los grupos, y con sus guiones y puntos. Por ejemplo, '
        '<span class="nowrap">DE 4043 2503</span> o DE40432503.'
    ),
    "usuario": "Crea un usuario a tu elección, de 6 a 25 caracteres: números y letras, sin "
    "caracteres especiales.",
    "contrasena": "Crea una contraseña a tu elección, de 8 a 12 caracteres: números y letras, "
    "sin caracteres especiales.",
    "contrasena_guardada": "Ya escribiste una contraseña. Déjala en blanco para conservarla, "
    "o escribe una nueva en los dos campos.",
}
STEP_ENDPOINTS = {1: "registration.step1", 2: "registration.step2", 3: "registration.step3"}


@bp.after_request
def private(response):
    """The steps show a customer's contract, username and email: never store them."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _asks_for_help() -> bool:
    return request.form.get("accion") == "instructivo"


def _account_key() -> str:
    """Rate-limit key for attempts on one contract, whatever address they come from."""
    return bill_key("registro", request.form)


def lifetime() -> timedelta:
    return timedelta(minutes=current_app.config["OV_REGISTRATION_DRAFT_MINUTES"])


def current_draft():
    return registration.load_draft(session.get(DRAFT_KEY), lifetime())


def new_draft():
    """A new draft for this browser, and 0; or None and the seconds to wait, when its address
    started too many lately (a browser reuses its own draft: only a client that drops its
    cookies gets there)."""
    wait = take(Allowance(current_app.config["OV_REGISTRATION_DRAFT_IP_LIMIT"],
                          f"borrador-ip:{client_key()}"))
    if wait:
        return None, wait
    draft = registration.start_draft(lifetime())
    session[DRAFT_KEY] = draft.id
    return draft, 0


def waiting_text(seconds: int) -> str:
    """``1 minuto``, ``25 minutos``: how long until a limit lets the customer go on."""
    minutes = max(1, -(-seconds // 60))
    return "1 minuto" if minutes == 1 else f"{minutes} minutos"


def go(endpoint: str, **values):
    return redirect(url_for(endpoint, **values), 303)


def needs_step(step: int):
    """The step's views run only when the draft has reached it; otherwise back to where it is."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            draft = current_draft()
            if draft is not None and draft.step > 3:  # finished: a second "Enviar", or back
                db.session.commit()
                return go("registration.done")
            if draft is None:
                if session.pop(DRAFT_KEY, None):
                    flash(
                        "Tu registro caducó por inactividad o ya terminó. Por seguridad, "
                        "empieza de nuevo: no se guardó nada."
                    )
                db.session.commit()
                return go("registration.step1")
            if draft.step < step:
                db.session.commit()
                return go(STEP_ENDPOINTS[draft.step])
            return view(draft, *args, **kwargs)

        return wrapped

    return decorator


def render_step(template: str, form, status: int = 200, form_errors=(), **context):
    """A step as a page or fragment; errors go to the summary, the title and the fields."""
    errors = list(form_errors) + [(f.id, f.errors[0]) for f in form if f.errors]
    return render(
        template, "content", status=status, push=request.method == "GET", form=form,
        errors=errors, hints=HINTS, **context,
    )


def client_address() -> str | None:
    return request.remote_addr


def availability_wait(draft, username: str) -> int:
    """0 when this draft may be told whether ``username`` is free; else seconds to wait.

    Each new name a draft asks about uses one check of the draft's allowance and one of the
    client address's (new drafts from one address share it) and of the contract's (one bill
    proved from many addresses shares it); asking again about a name the
    draft already asked about costs nothing, so typing a name and then sending the step
    is one check.
    """
    config = current_app.config
    draft_key = tokens.fingerprint(draft.id)
    return take_once(
        f"usuario:{draft_key}:{tokens.fingerprint(username_key(username))}",
        Allowance(config["OV_REGISTRATION_USERNAME_DRAFT_LIMIT"], f"usuario-borrador:{draft_key}"),
        Allowance(config["OV_REGISTRATION_USERNAME_IP_LIMIT"], f"usuario-ip:{client_key()}"),
        Allowance(config["OV_REGISTRATION_USERNAME_ACCOUNT_LIMIT"],
                  f"usuario-contrato:{draft.data.get('account_id')}"),
    )


def retry_after(response, seconds: int):
    response.headers["Retry-After"] = str(seconds)
    return response


def too_many_names(seconds: int) -> str:
    return (
        "Se probaron muchos nombres de usuario en poco tiempo desde tu conexión o para este "
        f"contrato. Por seguridad, espera {waiting_text(seconds)} y vuelve a intentarlo; tus "
        "otros datos siguen aquí."
    )


# --- step 1 ---------------------------------------------------------------------------------

@bp.route("/paso-1", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["OV_REGISTRATION_IP_LIMIT"],
    methods=["POST"],
    deduct_when=refused,
    exempt_when=_asks_for_help,
)
@limiter.limit(
    lambda: current_app.config["OV_REGISTRATION_ACCOUNT_LIMIT"],
    key_func=_account_key,
    methods=["POST"],
    deduct_when=refused,
    exempt_when=_asks_for_help,
)
def step1():
    zones = registration.zones()
    draft = current_draft()
    if draft is not None and draft.step > 3:  # a finished registration: start another
        draft = None
    if request.method != "POST":
        saved = draft.data if draft else {}
        answers = saved.get("typed") or {
            "zona": saved.get("zone_id"),
            "cuenta": saved.get("account_number"),
            "factura": saved.get("invoice_number"),
        }
        form = Step1Form(zones, data=answers)
        db.session.commit()
        return render_step("registration/step1.html", form, widget=captcha.widget(),
                           captcha_error=None, unavailable=False)

    form = Step1Form(zones, request.form)
    if _asks_for_help():
        # Without JavaScript the "Instructivo" button posts the answers typed so far, so the
        # way back from the help page finds them again.
        if draft is None:
            draft, _wait = new_draft()
        if draft is not None:  # past the address's limit the help opens all the same
            typed = {name: request.form.get(name, "")[:20]
                     for name in ("zona", "cuenta", "factura")}
            registration.update_draft(draft, typed=typed)
        db.session.commit()
        return go("help.invoice_help", desde="registro")

    proof = form.prove(request.form, client_address(), "registration")
    if proof.account is not None:
        account = proof.account
        owner = registration.owner_of(account.id)
        if owner is not None:
            return already_registered(account, owner)
        if draft is None:
            draft, wait = new_draft()
            if draft is None:
                return too_many_drafts(form, wait)
        registration.update_draft(
            draft,
            step=2,
            typed=None,
            zone_id=account.zone_id,
            zone_name=account.zone.name,
            account_id=account.id,
            account_number=form.cuenta.data,
            invoice_number=form.factura.data,
        )
        db.session.commit()
        return go(STEP_ENDPOINTS[min(draft.step, 3)])
    db.session.commit()
    return render_step(
        "registration/step1.html", form, proof.status, proof.errors,
        widget=captcha.widget(), captcha_error=proof.captcha_error,
        unavailable=proof.status == 503,
    )


def too_many_drafts(form: Step1Form, wait: int):
    """A proved bill, but this address started too many registrations lately: say so, keep
    the answers, and say when to come back."""
    message = (
        "Se empezaron muchos registros desde tu conexión en poco tiempo. Por seguridad, "
        f"espera {waiting_text(wait)} y vuelve a enviar tus datos."
    )
    db.session.commit()
    return retry_after(
        render_step("registration/step1.html", form, 429, [("", message)],
                    widget=captcha.widget(), captcha_error=None, unavailable=False),
        wait,
    )


# --- step 2 ---------------------------------------------------------------------------------

@bp.route("/paso-2", methods=["GET", "POST"])
@needs_step(2)
def step2(draft):
    saved = draft.data
    has_password = bool(saved.get("password_hash"))
    if request.method != "POST":
        form = Step2Form(
            data={
                "usuario": saved.get("username"),
                "correo": saved.get("email"),
                "correo2": saved.get("email"),
            }
        )
        db.session.commit()
        return render_step("registration/step2.html", form, has_password=has_password)

    form = Step2Form(request.form)
    form.validate()
    wait = availability_wait(draft, form.usuario.data) if wanted_name(form) else 0
    if wait:  # an error on the name: check_step2 then leaves its availability untold
        form.usuario.errors.append(too_many_names(wait))
    check_step2(form, has_password)
    if wait:
        db.session.commit()
        return retry_after(
            render_step("registration/step2.html", form, 429, has_password=has_password), wait
        )
    if not form.errors:
        new_password = form.contrasena.data
        registration.update_draft(
            draft,
            step=3,
            username=form.usuario.data,
            email=form.correo.data,
            password_hash=(
                passwords.hash_password(new_password) if new_password
                else saved["password_hash"]
            ),
        )
        db.session.commit()
        return go("registration.step3")
    db.session.commit()
    return render_step("registration/step2.html", form, 422, has_password=has_password)


def wanted_name(form: Step2Form) -> bool:
    """Whether the username typed is well formed: only then is its availability checked."""
    return bool(form.usuario.data) and not form.usuario.errors


def check_step2(
    form: Step2Form, has_password: bool, only: str | None = None, availability: bool = True
) -> None:
    """What the field rules alone cannot see: availability, the password policy, the pairs."""

    def wanted(name: str) -> bool:
        return only is None or only == name

    if (
        availability
        and wanted("usuario")
        and wanted_name(form)
        and not registration.username_available(form.usuario.data)
    ):
        form.usuario.errors.append("Ese usuario ya existe. Elige otro.")
    password, again = form.contrasena.data or "", form.contrasena2.data or ""
    keep = has_password and not password and not again
    if wanted("contrasena") and not keep:
        if not password:
            if only is None:
                form.contrasena.errors = ["Escribe una contraseña."]
        else:
            problems = passwords.check(
                password,
                username=form.usuario.data or "",
                email=form.correo.data or "",
            )
            if problems:
                form.contrasena.errors = problems[:1]
    if wanted("contrasena2") and not keep:
        if not again:
            if only is None:
                form.contrasena2.errors = ["Repite la contraseña."]
        elif password != again:
            form.contrasena2.errors = ["Las contraseñas no coinciden. Escríbelas de nuevo."]
    if (
        wanted("correo2")
        and form.correo.data
        and form.correo2.data
        and not form.correo.errors
        and not form.correo2.errors
        and form.correo.data.casefold() != form.correo2.data.casefold()
    ):
        form.correo2.errors = ["Los correos no coinciden. Revisa los dos."]
    if (
        availability
        and wanted("correo")
        and form.correo.data
        and not form.correo.errors
        and profile.email_taken(form.correo.data)
    ):
        form.correo.errors.append(profile.EMAIL_TAKEN)


# --- inline validation ----------------------------------------------------------------------

STEP1_FIELDS = {"cuenta", "factura"}
STEP2_FIELDS = {"usuario", "contrasena", "contrasena2", "correo", "correo2"}
PASSWORD_FIELDS = {"contrasena", "contrasena2"}


def _leave_the_field(_limit=None, seconds: int = 60):
    """Too many inline checks: leave the field as it is (the step checks it when sent) rather
    than let the error page replace the whole form."""
    response = current_app.response_class(status=429)
    response.headers["HX-Reswap"] = "none"
    return retry_after(response, seconds)


@bp.post("/validar/<campo>")
@limiter.limit(
    lambda: current_app.config["OV_INLINE_VALIDATION_LIMIT"], on_breach=_leave_the_field
)
def validate_field(campo: str):
    """One field's fragment: format and availability only, never "required" before submit."""
    if campo in STEP1_FIELDS:
        form = Step1Form([], request.form)
    elif campo in STEP2_FIELDS:
        form = Step2Form(request.form)
    else:
        abort(404)
    field = form[campo]
    if (request.form.get(campo) or "").strip():
        if campo not in PASSWORD_FIELDS:
            field.validate(form)
            field.errors = list(field.errors)
        if campo in STEP2_FIELDS:
            if campo == "correo2":
                form.correo.validate(form)
            draft = current_draft()
            has_password = bool(draft and draft.data.get("password_hash"))
            # Whether a username is taken is said only to someone who proved a bill (step 2
            # reached), or the form would let anyone list the portal's usernames; and only
            # so often (availability_wait).
            proved = draft is not None and 2 <= draft.step <= 3
            if proved and campo == "usuario" and wanted_name(form):
                wait = availability_wait(draft, form.usuario.data)
                if wait:
                    db.session.commit()
                    return _leave_the_field(seconds=wait)
            check_step2(form, has_password, only=campo, availability=proved)
    db.session.commit()
    return render(
        "registration/field.html",
        "feedback" if campo in PASSWORD_FIELDS else "field",
        title=False,
        message_only=campo in PASSWORD_FIELDS,
        form=form,
        field_name=campo,
        hints=HINTS,
        has_password=False,
    )


# --- step 3 ---------------------------------------------------------------------------------

@bp.route("/paso-3", methods=["GET", "POST"])
@needs_step(3)
def step3(draft):
    saved = draft.data
    if request.method != "POST":
        form = Step3Form(
            data={
                "factura_electronica": saved.get("paperless", False),
                "avisos": saved.get("notices", False),  # consent is never pre-ticked
            }
        )
        db.session.commit()
        return render_step("registration/step3.html", form, draft=saved)

    form = Step3Form(request.form)
    if not form.validate():
        db.session.commit()
        return render_step("registration/step3.html", form, 422, draft=saved)
    registration.update_draft(
        draft, paperless=form.factura_electronica.data, notices=form.avisos.data
    )
    db.session.commit()
    outcome = registration.complete(
        draft.id,
        legal_version=current_app.config["OV_LEGAL_VERSION"],
        client_address=client_address(),
        queue_welcome=lambda user, account: mail.queue_welcome(user, [account]),
    )
    match outcome:
        case registration.Created(mail=welcome):
            mail.deliver_soon(welcome)
            return go("registration.done")
        case registration.AlreadyRegistered(account=account, owner=owner):
            return already_registered(account, owner)
        case registration.UsernameTaken():
            flash(
                f"El usuario {saved.get('username', '')} acaba de ser elegido por otra persona. "
                "Elige otro y vuelve a enviar."
            )
            return go("registration.step2")
        case registration.EmailTaken():
            flash(profile.EMAIL_TAKEN)
            return go("registration.step2")
        case _:  # the draft was already used (a second "Enviar") or expired
            return go("registration.done")


@bp.get("/listo")
def done():
    draft = current_draft()
    if draft is None or draft.step < 4:
        db.session.commit()
        return go("registration.step1")
    username = draft.data.get("username", "")
    db.session.commit()
    return render("registration/done.html", "content", push=True, username=username)
