"""Confirming the email address from the link in the welcome mail."""

from __future__ import annotations

import re
import time

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from ov.extensions import db
from ov.models import AuditEvent, User
from ov.services import tokens
from tests.support.factories import make_customer

pytestmark = pytest.mark.usefixtures("clean_db")

INVALID = "El enlace ya no es válido"


@pytest.fixture
def user_id(app) -> int:
    with app.app_context():
        user, _ = make_customer()
        db.session.commit()
        return user.id


def token_for(app, user_id: int) -> str:
    with app.app_context():
        return tokens.email_confirmation_token(db.session.get(User, user_id))


def confirmed_at(app, user_id: int):
    with app.app_context():
        return db.session.get(User, user_id).email_confirmed_at


def audit_kinds(app) -> list[tuple[str, int | None]]:
    with app.app_context():
        return [(e.kind, e.user_id) for e in db.session.scalars(select(AuditEvent))]


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_get_shows_a_button_and_does_not_confirm(app, client, user_id):
    token = token_for(app, user_id)
    response = client.get(f"/confirmar-correo/{token}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "<title>Confirma tu correo electrónico · Oficina Virtual</title>" in html
    assert "cliente@ejemplo.mx" in html
    assert re.search(r'<form method="post" action="/confirmar-correo/[^"]+">', html)
    assert '<button type="submit" class="button">Confirmar mi correo</button>' in html
    assert confirmed_at(app, user_id) is None
    assert audit_kinds(app) == []


def test_post_confirms_audits_and_redirects_to_a_page_without_the_token(app, client, user_id):
    token = token_for(app, user_id)
    csrf = csrf_from(client.get(f"/confirmar-correo/{token}").get_data(as_text=True))
    response = client.post(f"/confirmar-correo/{token}", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert response.headers["Location"] == "/correo-confirmado"
    assert confirmed_at(app, user_id) is not None
    assert audit_kinds(app) == [("email_confirmed", user_id)]

    page = client.get("/correo-confirmado")
    assert page.status_code == 200
    assert "Correo confirmado" in page.get_data(as_text=True)

    again = client.post(f"/confirmar-correo/{token}", data={"csrf_token": csrf})
    assert again.status_code == 303
    assert audit_kinds(app) == [("email_confirmed", user_id)]  # once, not twice
    later = client.get(f"/confirmar-correo/{token}").get_data(as_text=True)
    assert "ya está confirmado" in later and "<form" not in later


def test_post_without_csrf_is_refused(app, client, user_id):
    token = token_for(app, user_id)
    response = client.post(f"/confirmar-correo/{token}")
    assert response.status_code == 400
    assert confirmed_at(app, user_id) is None


def assert_invalid(response) -> None:
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert response.headers["Cache-Control"] == "no-store"
    assert INVALID in html
    assert "Atención al cliente" in html and "800 000 2424" in html
    assert "7 días" in html


def test_a_tampered_token_is_refused(app, client, user_id):
    token = token_for(app, user_id)
    # Change a character well inside the signature (the last one may only carry padding bits).
    flipped = token[:-10] + ("A" if token[-10] != "A" else "B") + token[-9:]
    assert_invalid(client.get(f"/confirmar-correo/{flipped}"))
    refused = client.get("/confirmar-correo/nada")
    assert_invalid(refused)
    # The way to a new link: the "Reenviar el correo" button in Mi oficina, after signing in.
    assert "«Reenviar el correo»" in refused.get_data(as_text=True)
    assert 'href="/entrar?next=/mi-oficina"' in refused.get_data(as_text=True)
    assert_invalid(client.get("/confirmar-correo/" + "x" * 2000))
    csrf = csrf_from(client.get(f"/confirmar-correo/{token}").get_data(as_text=True))
    assert_invalid(client.post(f"/confirmar-correo/{flipped}", data={"csrf_token": csrf}))
    assert confirmed_at(app, user_id) is None


def test_a_token_for_an_old_email_is_refused(app, client, user_id):
    token = token_for(app, user_id)
    with app.app_context():
        db.session.get(User, user_id).email = "nuevo@ejemplo.mx"
        db.session.commit()
    assert_invalid(client.get(f"/confirmar-correo/{token}"))
    assert "nuevo@ejemplo.mx" in client.get(
        f"/confirmar-correo/{token_for(app, user_id)}"
    ).get_data(as_text=True)


def test_an_expired_token_is_refused(app, client, user_id, monkeypatch):
    eight_days_ago = int(time.time()) - 8 * 86400
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: eight_days_ago)
    old = token_for(app, user_id)
    monkeypatch.undo()
    assert_invalid(client.get(f"/confirmar-correo/{old}"))
    with app.app_context():
        fresh = tokens.email_confirmation_token(db.session.get(User, user_id))
        assert tokens.read_email_confirmation(fresh) is not None
        assert tokens.read_email_confirmation(fresh, max_age=-1) is None


def test_a_token_made_for_another_purpose_or_user_is_refused(app, client, user_id):
    with app.app_context():
        fingerprint = tokens.fingerprint("cliente@ejemplo.mx")
        other_purpose = tokens.make_token("ov.password-reset", {"u": user_id, "e": fingerprint})
        no_such_user = tokens.make_token(tokens.EMAIL_CONFIRMATION, {"u": 999, "e": fingerprint})
        not_a_dict = tokens.make_token(tokens.EMAIL_CONFIRMATION, [user_id])  # type: ignore[arg-type]
    for token in (other_purpose, no_such_user, not_a_dict):
        assert_invalid(client.get(f"/confirmar-correo/{token}"))


def test_the_token_carries_no_email_in_clear(app, user_id):
    import base64

    token = token_for(app, user_id)
    payload = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert b"cliente" not in decoded and b"@" not in decoded


def test_htmx_gets_the_fragment_with_its_title(app, client, user_id, htmx_headers):
    token = token_for(app, user_id)
    fragment = client.get(f"/confirmar-correo/{token}", headers=htmx_headers)
    html = fragment.get_data(as_text=True)
    assert html.startswith("<title>Confirma tu correo electrónico · Oficina Virtual</title>")
    assert "<header" not in html and "csrf_token" in html
