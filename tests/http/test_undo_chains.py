"""Whatever a bill-holder does, the address that was on the account first keeps a way back.

The owner holds the bill and the first mailbox; the bill-holder holds the same bill and the
mailboxes of the addresses they type. Time passes by moving every change into the past.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from ov.extensions import db
from ov.models import Account, AccountChange, Invoice
from ov.services import tokens
from ov.services.mail import MEXICO_CITY
from tests.http.test_recovery_by_bill import (
    LINK,
    NEW_EMAIL,
    NEW_PASSWORD,
    OWNER_EMAIL,
    REFUSED,
    THIEF_PASSWORD,
    age_changes,
    assert_refused,
    confirm_new_address,
    outbox,
    owner,  # noqa: F401  (the fixture)
    prove_bill,
    recover,
    text,
    the_user,
    undo,
    undo_links,
)
from tests.support.journeys import SEED, hidden, sign_in, zone_id

pytestmark = pytest.mark.usefixtures("billing", "owner")

UNDONE_SUBJECT = "Deshicieron un cambio en tu Oficina Virtual"


def confirm_link(app, address: str) -> str:
    body = [m for m in outbox(app) if m.to_address == address
            and m.subject == "Confirma tu correo nuevo"][-1].body_text
    return re.search(LINK.format(path="confirmar-correo"), body).group(1)


def confirm(app, tab, address: str):
    link = confirm_link(app, address)
    return tab.post(link, data={"csrf_token": hidden(text(tab.get(link)), "csrf_token")})


def reset_link_after_undo(tab) -> str:
    summary = text(tab.get("/cambio-deshecho"))
    return re.search(r'href="(/recuperar/enlace/[^"]+)"', summary).group(1)


def thief_takes_over(app, thief) -> None:
    """The bill-holder recovers by bill and confirms their own address."""
    recover(app, thief)
    confirm_new_address(app, thief)


def thief_undoes_and_the_owner_hears_of_it(app, thief) -> str:
    """The bill-holder spends a link mailed to their own address; the owner is told at once,
    with a link that still works: that link."""
    before = len(outbox(app))
    assert undo(app, thief, undo_links(app, NEW_EMAIL)[-1]).status_code == 303
    assert the_user(app).email == NEW_EMAIL
    [told] = [m for m in outbox(app)[before:] if m.to_address == OWNER_EMAIL]
    assert told.subject == UNDONE_SUBJECT and told.sent_at is not None
    assert "n****@e******.mx" in told.body_text and NEW_EMAIL not in told.body_text
    link = re.search(LINK.format(path="deshacer-cambio"), told.body_text).group(1)
    assert app.test_client().get(link).status_code == 200
    return link


def the_owner_wins(app, thief, link: str) -> None:
    thiefs_reset = reset_link_after_undo(thief)
    mailbox = app.test_client()
    assert undo(app, mailbox, link).status_code == 303
    user = the_user(app)
    assert (user.email, user.pending_email) == (OWNER_EMAIL, None)
    assert thief.get(thiefs_reset).status_code == 400  # the password changed again
    for leftover in undo_links(app, NEW_EMAIL):
        assert thief.get(leftover).status_code == 400
    assert_refused(prove_bill(app, app.test_client()))


# --- the sequences a review named -------------------------------------------------------------

def test_the_owners_way_back_lasts_as_long_as_the_bill_holders(app, client):
    """Six days after the take-over the owner recovers by bill and confirms their address:
    both are told to the thief's address. A day and a half later the thief's first changes
    are older than the undo period, and the thief undoes the owner's: the owner still has
    the last word."""
    thief_takes_over(app, client)
    age_changes(app, days=6)
    me = app.test_client()
    recover(app, me, password=NEW_PASSWORD, email=OWNER_EMAIL)
    assert confirm(app, me, OWNER_EMAIL).status_code == 303
    assert the_user(app).email == OWNER_EMAIL
    age_changes(app, days=1, hours=12)
    link = thief_undoes_and_the_owner_hears_of_it(app, client)
    the_owner_wins(app, client, link)


def test_the_owner_confirming_an_address_the_thief_typed_keeps_the_owners_way_back(app, client):
    """The thief types the owner's own address; the owner opens «Confirma tu correo nuevo»."""
    thief_takes_over(app, client)
    age_changes(app, days=6)
    recover(app, client, email=OWNER_EMAIL)
    assert confirm(app, app.test_client(), OWNER_EMAIL).status_code == 303
    age_changes(app, days=1, hours=12)
    link = thief_undoes_and_the_owner_hears_of_it(app, client)
    the_owner_wins(app, client, link)


def test_the_review_sequence_with_only_the_thiefs_first_changes_aged(app, client):
    thief_takes_over(app, client)
    me = app.test_client()
    recover(app, me, password=NEW_PASSWORD, email=OWNER_EMAIL)
    assert confirm(app, me, OWNER_EMAIL).status_code == 303
    age_changes(app, days=7, minutes=1)  # nothing happened since: every link is closed
    for link in undo_links(app, NEW_EMAIL) + undo_links(app, OWNER_EMAIL):
        assert app.test_client().get(link).status_code == 400
    assert sign_in(app.test_client(), "usuPDFactura1", NEW_PASSWORD).status_code == 303


# --- more sequences ---------------------------------------------------------------------------

def test_a_change_keeps_every_open_change_alive_for_the_whole_period(app, client):
    recover(app, client)
    [first] = undo_links(app, OWNER_EMAIL)
    age_changes(app, days=6)
    recover(app, app.test_client(), password="Zx8cV5bN2m", email="otro@ejemplo.mx")
    age_changes(app, days=6)  # the first change is 12 days old, the last one 6
    assert app.test_client().get(first).status_code == 200
    age_changes(app, days=1, minutes=1)
    assert app.test_client().get(first).status_code == 400


def test_undo_after_undo_the_first_address_has_the_last_word(app, client):
    """The thief holds two addresses and undoes changes told to them five days apart; 10 days
    after the first change the owner's link still works."""
    thief_takes_over(app, client)
    recover(app, client, email="otro@ejemplo.mx")  # told to the thief's first address
    confirm_new_address(app, client, "otro@ejemplo.mx")
    recover(app, client, email="otro@ejemplo.mx")  # told to the second one
    age_changes(app, days=5)
    before = len(outbox(app))
    assert undo(app, client, undo_links(app, "otro@ejemplo.mx")[-1]).status_code == 303
    assert sorted(m.to_address for m in outbox(app)[before:]) == [OWNER_EMAIL, NEW_EMAIL]
    age_changes(app, days=5)
    link = thief_undoes_and_the_owner_hears_of_it(app, client)
    the_owner_wins(app, client, link)


def test_the_thiefs_own_recoveries_never_spend_the_owners_link(app, client):
    thief_takes_over(app, client)
    for day in range(3):
        recover(app, client, password=f"Zx8cV5bN2m{day}", email=NEW_EMAIL)
        age_changes(app, days=6)
    owners = undo_links(app, OWNER_EMAIL)
    assert app.test_client().get(owners[0]).status_code == 200  # 18 days old, chain alive
    assert undo(app, app.test_client(), owners[-1]).status_code == 303
    assert the_user(app).email == OWNER_EMAIL


# --- an undo tells the address it replaces ----------------------------------------------------

def test_an_undo_tells_the_address_it_replaces_plainly(app, client):
    thief_takes_over(app, client)
    before = len(outbox(app))
    assert undo(app, app.test_client(), undo_links(app, OWNER_EMAIL)[0]).status_code == 303
    [told] = [m for m in outbox(app)[before:] if m.to_address == NEW_EMAIL]
    assert told.subject == UNDONE_SUBJECT and told.sent_at is not None
    body = told.body_text
    assert "c*****@e**********.es" in body and OWNER_EMAIL not in body
    assert "ya no llegan a este correo" in body and "cerramos todas las sesiones" in body
    assert "deshacer-cambio" not in body  # that address has no change left to undo


def test_an_undo_that_keeps_the_address_mails_nobody_else(app, client):
    recover(app, client)
    before = len(outbox(app))
    assert undo(app, app.test_client(), undo_links(app, OWNER_EMAIL)[0]).status_code == 303
    assert [m.subject for m in outbox(app)[before:]] == []


# --- after an undo only a later bill proves it ------------------------------------------------

def add_invoice(app, number: str, issued: date) -> None:
    """A newer invoice of the seed contract (a copy of its newest one)."""
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.number == SEED["account"]))
        newest = db.session.scalar(select(Invoice).where(Invoice.account_id == account.id)
                                   .order_by(Invoice.issue_date.desc()).limit(1))
        columns = {c.key: getattr(newest, c.key) for c in Invoice.__table__.columns
                   if c.key != "id"}
        db.session.add(Invoice(**{**columns, "number": number, "issue_date": issued}))
        db.session.commit()


def prove_with(app, tab, invoice: str):
    page = text(tab.get("/recuperar/con-factura"))
    return tab.post("/recuperar/con-factura", data={
        "csrf_token": hidden(page, "csrf_token"), "captcha_token": hidden(page, "captcha_token"),
        "comentarios": "", "zona": str(zone_id(app)), "cuenta": SEED["account"],
        "factura": invoice})


def undo_day(app) -> date:
    """The day of the last undo, by Mexico City's calendar (the one bills are dated by)."""
    with app.app_context():
        spent = db.session.scalar(select(func.max(AccountChange.spent_at)))
        return spent.astimezone(MEXICO_CITY).date()


def test_after_an_undo_the_same_bill_never_proves_it_again_but_a_later_one_does(app, client):
    recover(app, client)
    assert undo(app, app.test_client(), undo_links(app, OWNER_EMAIL)[0]).status_code == 303
    age_changes(app, days=8)
    with app.app_context():  # the seed's bill was issued the day of the undo
        db.session.execute(update(Invoice).where(Invoice.number == SEED["invoice"])
                           .values(issue_date=undo_day(app)))
        db.session.commit()
    refused = prove_bill(app, app.test_client())
    assert_refused(refused)
    assert "solo con una factura emitida después de ese día" in text(refused)
    add_invoice(app, "ZE99999999", undo_day(app) + timedelta(days=1))
    assert prove_with(app, app.test_client(), "ZE99999999").status_code == 303


def test_a_bill_issued_after_the_undo_still_waits_for_the_pause(app, client):
    recover(app, client)
    assert undo(app, app.test_client(), undo_links(app, OWNER_EMAIL)[0]).status_code == 303
    add_invoice(app, "ZE99999999", date.today().replace(year=date.today().year + 1))
    assert_refused(prove_with(app, app.test_client(), "ZE99999999"))


# --- a link confirmed, cancelled or replaced meanwhile ----------------------------------------

def test_a_pending_address_replaced_while_its_page_was_open_gets_the_invalid_link_page(
    app, client, monkeypatch
):
    recover(app, client)
    link = confirm_link(app, NEW_EMAIL)
    page = text(client.get(link))
    real = tokens.read_email_confirmation

    def read_then_replaced(token, max_age=None):  # another tab asks for another address
        found = real(token, max_age)
        recover(app, app.test_client(), password=THIEF_PASSWORD, email="otro@ejemplo.mx")
        return found

    monkeypatch.setattr(tokens, "read_email_confirmation", read_then_replaced)
    answer = client.post(link, data={"csrf_token": hidden(page, "csrf_token")})
    assert answer.status_code == 400 and "El enlace ya no es válido" in text(answer)
    assert the_user(app).pending_email == "otro@ejemplo.mx"


# --- the refusal says what is true ------------------------------------------------------------

def test_the_refusal_says_the_undo_came_from_a_link_mailed_to_the_user(app, client):
    recover(app, client)
    assert undo(app, app.test_client(), undo_links(app, OWNER_EMAIL)[0]).status_code == 303
    page = text(prove_bill(app, app.test_client()))
    assert REFUSED in page and "desde su correo electrónico" not in page
    assert "con un enlace que enviamos por correo" in page
