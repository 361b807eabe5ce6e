"""Recovery by bill: whoever holds a recent bill gets in, and the old mailbox can undo it.

The old address is told at once, with a link (7 days, single use) that undoes the change and
ends every session; a new address typed there only replaces the old one once the link mailed
to it is opened, and the address it replaces is told then too. An undo takes back its change
and the newer ones, never older ones, so the earliest address has the last word whatever the
bill-holder does in between; after an undo the bill is refused for 7 days, and any bill
issued by then for good (tests/http/test_undo_chains.py tries the sequences).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import AccountChange, AuditEvent, User
from tests.support.journeys import PASSWORD, SEED, Registration, hidden, sign_in, zone_id
from tests.support.rows import events, outbox

pytestmark = pytest.mark.usefixtures("billing")

OWNER_EMAIL = "correo@electronico.es"
NEW_EMAIL = "nuevo@ejemplo.mx"
NEW_PASSWORD = "Rk4vW8nQz3"
THIEF_PASSWORD = "Lp6sD2wQa9"
LINK = r"http://127\.0\.0\.1:5000(/{path}/\S+)"


def text(response) -> str:
    return response.get_data(as_text=True)




def the_user(app) -> User:
    with app.app_context():
        user = db.session.scalar(select(User))
        db.session.expunge(user)
        return user




def is_signed_in(tab) -> bool:
    return "Desconectar" in text(tab.get("/"))


@pytest.fixture
def owner(app):
    """The seed contract registered by its owner, who is signed in on another device."""
    Registration(app.test_client(), app).complete()
    device = app.test_client()
    assert sign_in(device, "usuPDFactura1").status_code == 303
    return device


def recover(app, tab, password=THIEF_PASSWORD, email=NEW_EMAIL):
    """The whole recovery by bill in ``tab``: the bill, then the new password and email."""
    page = text(tab.get("/recuperar/con-factura"))
    proved = tab.post("/recuperar/con-factura", data={
        "csrf_token": hidden(page, "csrf_token"), "captcha_token": hidden(page, "captcha_token"),
        "comentarios": "", "zona": str(zone_id(app)), "cuenta": SEED["account"],
        "factura": SEED["invoice"]})
    assert proved.status_code == 303, text(proved)
    form = text(tab.get(proved.location))
    done = tab.post("/recuperar/con-factura/nuevos-datos", data={
        "csrf_token": hidden(form, "csrf_token"), "contrasena": password,
        "contrasena2": password, "correo": email, "correo2": email})
    assert done.status_code == 303, text(done)
    return done


def link_in(app, to: str, path: str) -> str:
    body = [m for m in outbox(app) if m.to_address == to][-1].body_text
    return re.search(LINK.format(path=path), body).group(1)


def undo_links(app, to: str) -> list[str]:
    """Every undo link mailed to ``to``, oldest first."""
    found = [re.search(LINK.format(path="deshacer-cambio"), m.body_text)
             for m in outbox(app) if m.to_address == to]
    return [match.group(1) for match in found if match]


def confirm_new_address(app, tab, address: str = NEW_EMAIL):
    link = link_in(app, address, "confirmar-correo")
    confirmed = tab.post(link, data={"csrf_token": hidden(text(tab.get(link)), "csrf_token")})
    assert confirmed.status_code == 303, text(confirmed)
    assert the_user(app).email == address


def undo(app, tab, link: str):
    page = tab.get(link)
    return tab.post(link, data={"csrf_token": hidden(text(page), "csrf_token")})


# --- what recovery does and says ------------------------------------------------------------

def test_the_old_address_is_told_at_once_and_the_new_one_is_only_pending(app, client, owner):
    done = recover(app, client)
    assert done.location == "/recuperar/con-factura/listo"
    page = text(client.get(done.location))
    assert "Enviamos un enlace a <strong>nuevo@ejemplo.mx</strong> para confirmar el correo " \
           "nuevo; hasta entonces seguimos usando <strong>c*****@e**********.es</strong>" in page
    assert "usuPDFactura1" in page
    user = the_user(app)
    assert (user.email, user.pending_email) == (OWNER_EMAIL, NEW_EMAIL)
    to_old = [m for m in outbox(app) if m.to_address == OWNER_EMAIL
              and "contraseña" in m.subject]
    assert len(to_old) == 1, [m.subject for m in outbox(app)]
    notice = to_old[0]
    assert notice.sent_at is not None  # left with the request
    assert "n****@e******.mx" in notice.body_text and "7 días" in notice.body_text
    assert re.search(LINK.format(path="deshacer-cambio"), notice.body_text)
    to_new = [m for m in outbox(app) if m.to_address == NEW_EMAIL]
    assert [m.subject for m in to_new] == ["Confirma tu correo nuevo"]
    assert "contraseña" not in " ".join(m.subject for m in to_new)
    assert not is_signed_in(owner)  # the new password ended the other sessions
    [event] = events(app, "recovery_by_bill")
    assert event.details["email_pending"] is True and NEW_EMAIL not in str(event.details)


def test_the_new_address_replaces_the_old_one_only_once_its_link_is_opened(app, client, owner):
    recover(app, client)
    link = link_in(app, NEW_EMAIL, "confirmar-correo")
    page = client.get(link)
    assert "nuevo@ejemplo.mx" in text(page) and "c*****@e**********.es" in text(page)
    assert the_user(app).email == OWNER_EMAIL  # opening is not confirming: the button is
    client.post(link, data={"csrf_token": hidden(text(page), "csrf_token")})
    user = the_user(app)
    assert (user.email, user.pending_email) == (NEW_EMAIL, None)
    assert user.email_confirmed_at is not None
    assert len(events(app, "email_changed")) == 1


def test_the_same_address_needs_no_confirmation(app, client, owner):
    recover(app, client, email=OWNER_EMAIL)
    user = the_user(app)
    assert (user.email, user.pending_email) == (OWNER_EMAIL, None)
    assert [m.to_address for m in outbox(app)][-1] == OWNER_EMAIL
    page = text(client.get("/recuperar/con-factura/listo"))
    assert "Avisamos del cambio a <strong>c*****@e**********.es</strong>" in page


# --- the undo link ----------------------------------------------------------------------------

def test_the_undo_link_ends_the_new_sessions_cancels_the_email_and_asks_for_a_password(
    app, client, owner
):
    recover(app, client)
    thief = app.test_client()
    assert sign_in(thief, "usuPDFactura1", THIEF_PASSWORD).status_code == 303
    link = link_in(app, OWNER_EMAIL, "deshacer-cambio")
    mailbox = app.test_client()
    page = mailbox.get(link)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Deshacer el cambio" in text(page)
    assert is_signed_in(thief)  # opening the link (a mail scanner does) changes nothing
    undone = undo(app, mailbox, link)
    assert undone.status_code == 303 and undone.location == "/cambio-deshecho"
    assert not is_signed_in(thief)
    assert sign_in(app.test_client(), "usuPDFactura1", THIEF_PASSWORD).status_code == 422
    user = the_user(app)
    assert (user.email, user.pending_email) == (OWNER_EMAIL, None)
    confirm = link_in(app, NEW_EMAIL, "confirmar-correo")
    assert client.get(confirm).status_code == 400  # the pending address is gone
    summary = text(mailbox.get("/cambio-deshecho"))
    assert "cerramos todas las sesiones" in summary
    reset = re.search(r'href="(/recuperar/enlace/[^"]+)"', summary).group(1)
    assert mailbox.get(reset).location == "/recuperar/nueva-contrasena"
    form = text(mailbox.get("/recuperar/nueva-contrasena"))
    saved = mailbox.post("/recuperar/nueva-contrasena", data={
        "csrf_token": hidden(form, "csrf_token"), "contrasena": NEW_PASSWORD,
        "contrasena2": NEW_PASSWORD})
    assert saved.status_code == 303
    assert sign_in(app.test_client(), "usuPDFactura1", NEW_PASSWORD).status_code == 303
    [event] = events(app, "account_change_undone")
    assert event.details["change"] == "recovery_by_bill"


def test_the_undo_link_works_once(app, client, owner):
    recover(app, client)
    link = link_in(app, OWNER_EMAIL, "deshacer-cambio")
    mailbox = app.test_client()
    page = text(mailbox.get(link))
    first = mailbox.post(link, data={"csrf_token": hidden(page, "csrf_token")})
    second = mailbox.post(link, data={"csrf_token": hidden(page, "csrf_token")})
    assert first.status_code == 303 and second.status_code == 400
    assert "El enlace ya no es válido" in text(second)
    assert app.test_client().get(link).status_code == 400
    assert len(events(app, "account_change_undone")) == 1


def test_an_undo_spends_its_own_change_and_the_newer_ones_never_older_ones(app, client, owner):
    recover(app, client)
    confirm_new_address(app, client)
    recover(app, client, email=NEW_EMAIL)  # told to the address now on the account
    assert undo(app, client, undo_links(app, NEW_EMAIL)[-1]).status_code == 303
    with app.app_context():
        spent = [c.spent_at is not None
                 for c in db.session.scalars(select(AccountChange).order_by(AccountChange.id))]
    assert spent == [False, False, True]
    assert undo(app, app.test_client(), undo_links(app, OWNER_EMAIL)[-1]).status_code == 303
    with app.app_context():
        assert all(c.spent_at for c in db.session.scalars(select(AccountChange)))


def test_every_mail_carries_the_link_of_the_addresss_oldest_open_change(app, client, owner):
    recover(app, client)
    recover(app, app.test_client(), password="Zx8cV5bN2m", email="otro@ejemplo.mx")
    first, second = undo_links(app, OWNER_EMAIL)
    assert undo(app, app.test_client(), second).status_code == 303
    assert app.test_client().get(first).status_code == 400  # the same change, spent
    [event] = events(app, "account_change_undone")
    with app.app_context():
        assert event.details["change_id"] == min(db.session.scalars(select(AccountChange.id)))


def test_undoing_an_older_change_spends_the_newer_links(app, client, owner):
    recover(app, client)
    recover(app, app.test_client(), password="Zx8cV5bN2m", email="otro@ejemplo.mx")
    first, second = undo_links(app, OWNER_EMAIL)
    assert undo(app, app.test_client(), first).status_code == 303
    spent = app.test_client().get(second)
    assert spent.status_code == 400
    assert "deshacer un cambio también anula los enlaces de los cambios que vinieron " \
           "después" in text(spent)
    assert "se anulan los demás" not in text(spent)


# --- whatever the bill-holder does, the old address keeps its undo ---------------------------

def test_the_bill_holder_cannot_take_the_owners_undo_away(app, client, owner):
    """Recover, confirm the new address, recover again and undo that: the owner still wins."""
    recover(app, client)
    [owners_link] = undo_links(app, OWNER_EMAIL)
    confirm_new_address(app, client)
    recover(app, client, email=NEW_EMAIL)  # told to the address now on the account: the thief's
    assert undo(app, client, undo_links(app, NEW_EMAIL)[-1]).status_code == 303
    thiefs_reset = re.search(r'href="(/recuperar/enlace/[^"]+)"',
                             text(client.get("/cambio-deshecho"))).group(1)
    assert the_user(app).email == NEW_EMAIL  # the thief's own undo gives the thief's address
    assert undo(app, app.test_client(), owners_link).status_code == 303
    user = the_user(app)
    assert (user.email, user.pending_email) == (OWNER_EMAIL, None)
    assert client.get(thiefs_reset).status_code == 400  # the password changed again


def test_confirming_the_new_address_tells_the_old_one_at_once_with_an_undo_link(
    app, client, owner
):
    recover(app, client)
    before = len(outbox(app))
    confirm_new_address(app, client)
    [told] = [m for m in outbox(app)[before:] if m.to_address == OWNER_EMAIL]
    assert told.subject == "Cambiaron el correo de tu Oficina Virtual"
    assert told.sent_at is not None  # left with the request
    assert "n****@e******.mx" in told.body_text and NEW_EMAIL not in told.body_text
    link = re.search(LINK.format(path="deshacer-cambio"), told.body_text).group(1)
    assert undo(app, app.test_client(), link).status_code == 303
    user = the_user(app)
    assert (user.email, user.pending_email) == (OWNER_EMAIL, None)
    [event] = events(app, "account_change_undone")
    assert event.details["change"] == "recovery_by_bill"  # the oldest: it spends both


def test_a_later_change_is_told_to_every_address_with_an_open_change(app, client, owner):
    recover(app, client)
    confirm_new_address(app, client)
    told_before = len(undo_links(app, OWNER_EMAIL))
    recover(app, client, email="otro@ejemplo.mx")
    owners_links = undo_links(app, OWNER_EMAIL)
    assert len(owners_links) == told_before + 1
    again = [m for m in outbox(app) if m.to_address == OWNER_EMAIL][-1]
    assert again.subject == "Hubo otro cambio en tu Oficina Virtual"
    assert again.sent_at is not None
    assert "n****@e******.mx" in again.body_text and "o***@e******.mx" in again.body_text
    # The thief spends the link mailed to the address on the account; the owner's still works.
    assert undo(app, client, undo_links(app, NEW_EMAIL)[-1]).status_code == 303
    assert undo(app, app.test_client(), owners_links[-1]).status_code == 303
    user = the_user(app)
    assert (user.email, user.pending_email) == (OWNER_EMAIL, None)


def age_changes(app, **delta) -> None:
    """Move every change (and its undo, if any) into the past by ``delta``."""
    with app.app_context():
        for change in db.session.scalars(select(AccountChange)):
            change.created_at -= timedelta(**delta)
            if change.spent_at:
                change.spent_at -= timedelta(**delta)
        db.session.commit()


def test_a_change_older_than_the_undo_period_is_closed_whatever_its_links_say(
    app, client, owner
):
    recover(app, client)
    link = link_in(app, OWNER_EMAIL, "deshacer-cambio")
    age_changes(app, days=7, minutes=1)
    assert app.test_client().get(link).status_code == 400


def test_a_closed_change_is_not_told_of_later_ones(app, client, owner):
    recover(app, client)
    confirm_new_address(app, client)
    age_changes(app, days=7, minutes=1)
    before = len(outbox(app))
    recover(app, client, email=NEW_EMAIL)
    assert [m.to_address for m in outbox(app)[before:]] == [NEW_EMAIL]


# --- after an undo, the bill is not enough for a while ---------------------------------------

REFUSED = "No podemos recuperar el acceso con tu factura"


def prove_bill(app, tab):
    page = text(tab.get("/recuperar/con-factura"))
    return tab.post("/recuperar/con-factura", data={
        "csrf_token": hidden(page, "csrf_token"), "captcha_token": hidden(page, "captcha_token"),
        "comentarios": "", "zona": str(zone_id(app)), "cuenta": SEED["account"],
        "factura": SEED["invoice"]})


def assert_refused(response) -> None:
    page = text(response)
    assert response.status_code == 403, page
    assert REFUSED in page
    assert "«No recuerdo mi usuario y/o contraseña»" in page and "Atención al cliente" in page
    assert "usuPDFactura1" not in page and "c*****@" not in page and "n****@" not in page


def test_after_an_undo_recovery_by_bill_is_refused_for_the_undo_period(app, client, owner):
    recover(app, client)
    assert undo(app, app.test_client(), link_in(app, OWNER_EMAIL, "deshacer-cambio")
                ).status_code == 303
    assert_refused(prove_bill(app, app.test_client()))
    [event] = events(app, "recovery_by_bill_refused")
    assert event.user_id == the_user(app).id
    age_changes(app, days=7, minutes=1)
    assert prove_bill(app, app.test_client()).status_code == 303


def test_a_bill_proved_before_the_undo_is_refused_at_the_second_step(app, client, owner):
    recover(app, client)
    link = link_in(app, OWNER_EMAIL, "deshacer-cambio")
    reader, writer = app.test_client(), app.test_client()  # one opens the form, one sends it
    proved = [prove_bill(app, tab).location for tab in (reader, writer)]
    form = text(writer.get(proved[1]))
    assert undo(app, app.test_client(), link).status_code == 303
    assert_refused(reader.get(proved[0]))
    assert_refused(writer.post(proved[1], data={
        "csrf_token": hidden(form, "csrf_token"), "contrasena": "Zx8cV5bN2m",
        "contrasena2": "Zx8cV5bN2m", "correo": NEW_EMAIL, "correo2": NEW_EMAIL}))
    assert writer.get(proved[1]).location == "/recuperar/con-factura"  # the proof is gone
    assert len(events(app, "recovery_by_bill")) == 1
    assert sign_in(app.test_client(), "usuPDFactura1", "Zx8cV5bN2m").status_code == 422


# --- the undo page says what happened ---------------------------------------------------------

def test_the_undo_page_says_whether_the_new_address_was_confirmed(app, client, owner):
    recover(app, client)
    link = link_in(app, OWNER_EMAIL, "deshacer-cambio")
    waiting = text(app.test_client().get(link))
    assert "pidió cambiar tu correo a <strong>n****@e******.mx</strong>" in waiting
    assert "tus avisos siguen llegando a este correo" in waiting
    confirm_new_address(app, client)
    changed = text(app.test_client().get(link))
    assert "cambiaron tu correo a <strong>n****@e******.mx</strong>" in changed
    assert "al deshacer vuelve a ser este, <strong>c*****@e**********.es</strong>" in changed
    assert "siguen llegando" not in changed


def test_the_undo_link_lasts_seven_days(app, client, owner, frozen_clock):
    start = frozen_clock[0]
    recover(app, client)
    link = link_in(app, OWNER_EMAIL, "deshacer-cambio")
    frozen_clock[0] = start + 7 * 86400
    assert app.test_client().get(link).status_code == 200
    frozen_clock[0] = start + 7 * 86400 + 1
    late = app.test_client().get(link)
    assert late.status_code == 400 and "7 días" in text(late)
    assert the_user(app).pending_email == NEW_EMAIL


def test_a_confirmed_new_address_is_given_back_by_the_undo_link(app, client, owner):
    recover(app, client)
    confirm = link_in(app, NEW_EMAIL, "confirmar-correo")
    client.post(confirm, data={"csrf_token": hidden(text(client.get(confirm)), "csrf_token")})
    assert the_user(app).email == NEW_EMAIL
    assert undo(app, app.test_client(), link_in(app, OWNER_EMAIL, "deshacer-cambio")
                ).status_code == 303
    user = the_user(app)
    assert (user.email, user.pending_email) == (OWNER_EMAIL, None)


def test_a_forged_or_broken_undo_link_is_refused(app, client, owner):
    recover(app, client)
    link = link_in(app, OWNER_EMAIL, "deshacer-cambio")
    flipped = link[:-10] + ("A" if link[-10] != "A" else "B") + link[-9:]
    for url in (flipped, "/deshacer-cambio/nada", "/deshacer-cambio/" + "x" * 2000):
        response = app.test_client().get(url)
        assert response.status_code == 400 and "El enlace ya no es válido" in text(response)
    assert app.test_client().get("/cambio-deshecho").status_code == 303


def test_a_signed_in_customer_sees_which_address_is_pending(app, client, owner):
    recover(app, client)
    assert sign_in(client, "usuPDFactura1", THIEF_PASSWORD).status_code == 303
    html = text(client.get("/mi-oficina"))
    assert "Enviamos un enlace a <strong>nuevo@ejemplo.mx</strong>" in html
    assert "seguimos usando <strong>correo@electronico.es</strong>" in html
    token = hidden(html, "csrf_token")
    client.post("/mi-oficina/reenviar-confirmacion",
                data={"csrf_token": token, "next": "/mi-oficina"})
    resent = text(client.get("/mi-oficina"))
    assert "Te enviamos un correo nuevo a <strong>nuevo@ejemplo.mx</strong>" in resent
    assert "seguimos usando <strong>correo@electronico.es</strong>" in resent
    assert [m.subject for m in outbox(app) if m.to_address == NEW_EMAIL] == [
        "Confirma tu correo nuevo"] * 2


def test_passwords_never_reach_the_mails_or_the_audit(app, client, owner):
    recover(app, client)
    for row in outbox(app):
        assert THIEF_PASSWORD not in row.body_text and PASSWORD not in row.body_text
    with app.app_context():
        for row in db.session.scalars(select(AuditEvent)):
            assert THIEF_PASSWORD not in str(row.details)


def test_a_new_email_another_user_holds_is_refused_with_the_answers_kept(app, owner, client):
    """The same rule as registration and Mis datos: an address of another user is not
    taken as this user's pending one (nor could cancelling later touch that user's mails)."""
    with app.app_context():
        db.session.add(User(username="usuVecino1", password_hash="x",
                            email="Vecino@Ejemplo.mx"))
        db.session.commit()
    page = text(client.get("/recuperar/con-factura"))
    proved = client.post("/recuperar/con-factura", data={
        "csrf_token": hidden(page, "csrf_token"), "captcha_token": hidden(page, "captcha_token"),
        "comentarios": "", "zona": str(zone_id(app)), "cuenta": SEED["account"],
        "factura": SEED["invoice"]})
    assert proved.status_code == 303
    form = text(client.get(proved.location))
    refused = client.post("/recuperar/con-factura/nuevos-datos", data={
        "csrf_token": hidden(form, "csrf_token"), "contrasena": THIEF_PASSWORD,
        "contrasena2": THIEF_PASSWORD, "correo": "vecino@ejemplo.mx",
        "correo2": "vecino@ejemplo.mx"})
    assert refused.status_code == 422
    assert "ya está registrado con otro usuario" in text(refused)
    assert 'value="vecino@ejemplo.mx"' in text(refused)
    with app.app_context():
        user = db.session.scalars(select(User).where(User.username == "usuPDFactura1")).one()
        assert user.pending_email is None
