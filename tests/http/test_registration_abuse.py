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
    assert back.status_code == 303, text(back)
    if passed:
        assert back.location == passed


def test_a_real_wrong_captcha_answer_still_counts(app, client, siteverify):
    siteverify.answer({"success": False, "error-codes": ["invalid-input-response"]})
    limit = allowed(app, "OV_REGISTRATION_ACCOUNT_LIMIT")
    codes = [post_bill(app, client, "/registro/paso-1", attempt).status_code
             for attempt in range(limit + 1)]
    assert codes == [422] * limit + [429]
