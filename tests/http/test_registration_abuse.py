"""Registration and recovery under abuse and outages: what is limited, and what is not."""

from __future__ import annotations

import pytest
from limits import parse

from tests.support.journeys import SEED, Registration, hidden, zone_id
from tests.support.siteverify import SiteverifyServer

pytestmark = pytest.mark.usefixtures("billing")

SOLVED = {"success": True, "hostname": "127.0.0.1", "challenge_ts": "2026-11-27T12:00:00Z"}
DOWN = {"error": "service unavailable"}


def text(response) -> str:
    return response.get_data(as_text=True)


def allowed(app, setting: str) -> int:
    return parse(app.config[setting]).amount


# --- CAPTCHA provider outages (a 503 is not a wrong answer) ---------------------------------

@pytest.fixture
def siteverify(app, monkeypatch):
    """The shared app with reCAPTCHA verified by a real siteverify server on 127.0.0.1."""
    server = SiteverifyServer()
    for key, value in {
        "OV_CAPTCHA_PROVIDER": "recaptcha",
        "OV_CAPTCHA_SITE_KEY": "site-key",
        "OV_CAPTCHA_SECRET": "secret",
        "OV_CAPTCHA_VERIFY_URL": server.url,
        "OV_CAPTCHA_CONNECT_TIMEOUT": 2,
        "OV_CAPTCHA_READ_TIMEOUT": 2,
    }.items():
        monkeypatch.setitem(app.config, key, value)
    yield server
    server.close()


def post_bill(app, client, url: str, attempt: int, **answers):
    form = {
        "csrf_token": hidden(text(client.get(url)), "csrf_token"),
        "zona": str(zone_id(app)),
        "cuenta": SEED["account"],
        "factura": SEED["invoice"],
        "g-recaptcha-response": f"solved-by-a-person-{attempt}",
        **answers,
    }
    return client.post(url, data=form)


@pytest.mark.parametrize(
    ("url", "setting", "passed"),
    [
        ("/registro/paso-1", "OV_REGISTRATION_ACCOUNT_LIMIT", "/registro/paso-2"),
        ("/recuperar/con-factura", "OV_RECOVERY_BILL_ACCOUNT_LIMIT", None),
    ],
    ids=["registration", "recovery-by-bill"],
)
def test_retries_while_the_captcha_provider_is_down_do_not_block_the_contract(
    app, client, siteverify, url, setting, passed
):
    if url.startswith("/recuperar"):  # recovery needs an owner: someone registered it
        with pytest.MonkeyPatch.context() as builtin:
            builtin.setitem(app.config, "OV_CAPTCHA_PROVIDER", "builtin")
            assert Registration(app.test_client(), app).complete().status_code == 303
    retries = allowed(app, setting) + 2
    for _ in range(retries):
        siteverify.answer(DOWN, status=503)
    siteverify.answer(SOLVED)  # then the provider is back
    answers = [post_bill(app, client, url, attempt) for attempt in range(retries)]
    assert [a.status_code for a in answers] == [503] * retries
    assert "no podemos hacer la verificación de seguridad" in text(answers[-1])
    back = post_bill(app, client, url, retries)
    assert back.status_code < 400, text(back)  # the bill is proved: on to the next page
    if passed:
        assert back.location == passed


def test_a_real_wrong_captcha_answer_still_counts(app, client, siteverify):
    siteverify.answer({"success": False, "error-codes": ["invalid-input-response"]})
    limit = allowed(app, "OV_REGISTRATION_ACCOUNT_LIMIT")
    codes = [post_bill(app, client, "/registro/paso-1", attempt).status_code
             for attempt in range(limit + 1)]
    assert codes == [422] * limit + [429]


# --- username availability at step 2 --------------------------------------------------------

@pytest.fixture
def taken(app):
    """Two usernames somebody already has."""
    from ov.extensions import db
    from ov.models import User

    names = ["usuOcupado01", "usuOcupado02"]
    with app.app_context():
        for number, name in enumerate(names):
            db.session.add(User(username=name, password_hash="x", email=f"o{number}@ejemplo.mx"))
        db.session.commit()
    return names


def inline_check(reg, htmx_headers, username: str):
    token = reg.token("/registro/paso-2")
    return reg.client.post("/registro/validar/usuario",
                           data={"csrf_token": token, "usuario": username}, headers=htmx_headers)


def test_a_customer_tries_three_names_then_probing_is_limited(app, taken, htmx_headers):
    reg = Registration(app.test_client(), app)
    assert reg.step1().status_code == 303
    # Three names, each checked as it is typed and again when the step is sent.
    for name in taken:
        assert "Ese usuario ya existe" in text(inline_check(reg, htmx_headers, name))
        refused = reg.step2(usuario=name)
        assert refused.status_code == 422 and "Ese usuario ya existe" in text(refused)
    assert "field-error" not in text(inline_check(reg, htmx_headers, "usuLibre0001"))
    assert reg.step2(usuario="usuLibre0001").status_code == 303
    # Asking about those names again costs nothing; every new name costs one check.
    left = allowed(app, "OV_REGISTRATION_USERNAME_DRAFT_LIMIT") - 3
    answers = [reg.step2(usuario=f"usuSondeo{n:04d}") for n in range(left + 1)]
    assert [a.status_code for a in answers] == [303] * left + [429]
    limited = text(answers[-1])
    assert "<title>Error: " in limited and "Se probaron muchos nombres de usuario" in limited
    assert f'value="usuSondeo{left:04d}"' in limited  # the form and its answers are kept
    assert 'value="correo@electronico.es"' in limited and 'name="contrasena"' in limited
    assert 0 < int(answers[-1].headers["Retry-After"]) <= 3600
    inline = inline_check(reg, htmx_headers, "usuSondeoOtro1")
    assert inline.status_code == 429 and inline.headers["HX-Reswap"] == "none"
    assert inline.get_data() == b"" and int(inline.headers["Retry-After"]) > 0
    assert "Ese usuario ya existe" in text(inline_check(reg, htmx_headers, taken[0]))
    assert reg.step2(usuario="usuLibre0001").status_code == 303  # its own name still goes


def test_new_drafts_from_one_address_share_its_allowance(app, taken, monkeypatch):
    monkeypatch.setitem(app.config, "OV_REGISTRATION_USERNAME_IP_LIMIT", "3 per hour")
    first = Registration(app.test_client(), app)
    first.step1()
    assert [first.step2(usuario=n).status_code for n in taken] == [422, 422]
    second = Registration(app.test_client(), app)  # cookies dropped: a new draft
    second.step1()
    assert second.step2(usuario="usuLibre0001").status_code == 303
    assert second.step2(usuario="usuLibre0002").status_code == 429
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    from_elsewhere = Registration(elsewhere, app)
    from_elsewhere.step1()
    assert from_elsewhere.step2(usuario="usuLibre0002").status_code == 303


def test_one_bill_from_many_addresses_shares_the_contracts_allowance(app, taken, monkeypatch):
    """Each proof of the bill starts a draft with its own allowance; the contract's allowance
    caps them all, from whatever addresses they come."""
    monkeypatch.setitem(app.config, "OV_REGISTRATION_USERNAME_ACCOUNT_LIMIT", "4 per hour")
    codes = []
    for number in range(3):
        browser = app.test_client()
        browser.environ_base["REMOTE_ADDR"] = f"10.0.1.{number + 1}"
        reg = Registration(browser, app)
        assert reg.step1().status_code == 303
        codes += [reg.step2(usuario=f"usuSondeo{number}{n:03d}").status_code for n in range(2)]
    assert codes == [303] * 4 + [429] * 2
    assert "para este contrato" in text(reg.step2(usuario="usuSondeoFinal1"))


# --- registration drafts: how many are made, and how they go ---------------------------------

def drafts(app) -> int:
    from sqlalchemy import func, select

    from ov.extensions import db
    from ov.models import RegistrationDraft

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(RegistrationDraft))


def ask_for_help(reg):
    return reg.client.post("/registro/paso-1",
                           data={**reg.step1_form(factura="ZE403"), "accion": "instructivo"})


def test_the_instructivo_reuses_the_browsers_draft(app):
    reg = Registration(app.test_client(), app)
    answers = [ask_for_help(reg) for _ in range(5)]
    assert {a.location for a in answers} == {"/ayuda/factura?desde=registro"}
    assert drafts(app) == 1


def test_new_drafts_per_address_are_limited_and_the_help_still_opens(app):
    limit = allowed(app, "OV_REGISTRATION_DRAFT_IP_LIMIT")
    # A script that drops its cookies: every press would start a new draft.
    answers = [ask_for_help(Registration(app.test_client(), app)) for _ in range(limit + 3)]
    assert {a.status_code for a in answers} == {303}
    assert {a.location for a in answers} == {"/ayuda/factura?desde=registro"}
    assert drafts(app) == limit
    # Past the limit a proved bill cannot start a registration from that address either:
    # a clear 429 that keeps the answers, and it is not counted as a failed proof.
    late = Registration(app.test_client(), app).step1()
    assert late.status_code == 429 and int(late.headers["Retry-After"]) > 0
    page = text(late)
    assert "<title>Error: " in page and "Se empezaron muchos registros" in page
    assert f'value="{SEED["account"]}"' in page and f'value="{SEED["invoice"]}"' in page
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert Registration(elsewhere, app).step1().status_code == 303
    assert drafts(app) == limit + 1


def test_the_purge_command_deletes_what_has_expired(app):
    from datetime import timedelta

    from sqlalchemy import select

    from ov.extensions import db
    from ov.models import RegistrationDraft, UsedNonce, utcnow
    from ov.sessions import SessionRecord

    now = utcnow()
    with app.app_context():
        for name, when in (("caducado", now - timedelta(seconds=1)),
                           ("vigente", now + timedelta(minutes=5))):
            db.session.add_all([
                RegistrationDraft(id=f"borrador-{name}", data={}, step=1, expires_at=when),
                UsedNonce(digest=f"{name:0>64}", purpose="form", expires_at=when),
                SessionRecord(session_id=f"ov:session:{name}", data=b"\x80", expiry=when),
            ])
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["purge-expired"])
    assert result.exit_code == 0, result.output
    assert "1 registration drafts, 1 spent form tokens, 1 sessions" in result.output
    with app.app_context():
        assert db.session.scalars(select(RegistrationDraft.id)).all() == ["borrador-vigente"]
        assert db.session.scalars(select(UsedNonce.digest)).all() == [f"{'vigente':0>64}"]
        assert db.session.scalars(select(SessionRecord.session_id)).all() == [
            "ov:session:vigente"
        ]
