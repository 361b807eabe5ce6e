"""Whatever a bill-holder does, the address that was on the account first keeps a way back.

The owner holds the bill and the first mailbox; the bill-holder holds the same bill and the
mailboxes of the addresses they type. Time passes by moving every change into the past.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import delete, func, select, update

from ov.extensions import db, limiter
from ov.models import Account, AccountChange, Invoice, billing
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
    owner,  # noqa: F401  (the fixture)
    prove_bill,
    recover,
    text,
    the_user,
    undo,
    undo_links,
)
from tests.support.journeys import SEED, Registration, hidden, sign_in, zone_id
from tests.support.rows import outbox

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


def test_confirming_an_address_with_an_open_change_mails_it_its_link(app, client):
    """The thief's password still works once the owner confirms the address the thief typed:
    the owner gets, there and then, a link that undoes everything since the first change."""
    thief_takes_over(app, client)
    recover(app, client, email=OWNER_EMAIL)
    before = len(outbox(app))
    assert confirm(app, app.test_client(), OWNER_EMAIL).status_code == 303
    [told] = [m for m in outbox(app)[before:] if m.to_address == OWNER_EMAIL]
    assert told.subject == "Hubo otro cambio en tu Oficina Virtual" and told.sent_at
    assert "se confirmó este correo como el de tu usuario" in told.body_text
    link = re.search(LINK.format(path="deshacer-cambio"), told.body_text).group(1)
    assert undo(app, app.test_client(), link).status_code == 303
    assert sign_in(app.test_client(), "usuPDFactura1", THIEF_PASSWORD).status_code == 422
    for leftover in undo_links(app, NEW_EMAIL):
        assert client.get(leftover).status_code == 400


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


def test_a_later_change_asks_about_every_change_not_just_the_last(app, client):
    """The owner recovering by bill while the thief's address is on the account is told of it
    at the first address: doing the last change does not make the earlier one the owner's."""
    thief_takes_over(app, client)
    recover(app, app.test_client(), password=NEW_PASSWORD, email=OWNER_EMAIL)
    [again] = [m for m in outbox(app) if m.subject == "Hubo otro cambio en tu Oficina Virtual"]
    assert again.to_address == OWNER_EMAIL
    assert "Si fuiste tú, no tienes que hacer nada" not in again.body_text
    assert "Si hiciste tú todos estos cambios, no tienes que hacer nada." in again.body_text
    assert "Si alguno no lo hiciste tú, abre este enlace" in again.body_html


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


# --- any sequence: a state machine of the owner and the bill-holder ------------------------------

OTHER_EMAIL = "otro@ejemplo.mx"
THIEFS = (NEW_EMAIL, OTHER_EMAIL)
PERIOD_DAYS = 7


class OwnerAndBillHolder(RuleBasedStateMachine):
    """Both hold every bill of the contract; the owner holds the mailbox of ``OWNER_EMAIL``,
    the bill-holder those of ``THIEFS``. After every step: while the bill-holder holds the
    account (knows its password, or has their address on it) and the chain that began with the
    owner's address on the account is still open, the newest link in the owner's mailbox
    works (the owner need not dig out an older mail). ``OV_TEST_UNDO_EXAMPLES`` sets how many
    sequences are tried."""

    def __init__(self, app, keep: set[str]):
        super().__init__()
        self.app, self.tabs = app, {"owner": app.test_client(), "thief": app.test_client()}
        with app.app_context():
            limiter.reset()
            db.session.remove()
            with db.engine.begin() as connection:
                for table in reversed(db.metadata.sorted_tables):
                    if table.name not in keep:
                        connection.execute(table.delete())
                connection.execute(delete(Invoice).where(Invoice.number.like("ZE9999%")))
        assert Registration(app.test_client(), app).complete().status_code == 303
        self.knows_password, self.email = "owner", OWNER_EMAIL
        self.day, self.last_event, self.protected = 0, None, True
        self.passwords, self.bills = 0, 0
        self.invoice = SEED["invoice"]

    def _password(self) -> str:
        self.passwords += 1
        return f"Zx8cV5bN{self.passwords:02d}"

    def _event(self) -> None:
        self.last_event = self.day
        self.email = the_user(self.app).email

    def _recover(self, who: str, email: str) -> None:
        tab = self.tabs[who]
        proved = prove_with(self.app, tab, self.invoice)
        if proved.status_code == 403:  # refused after an undo
            return
        assert proved.status_code == 303, text(proved)
        form = text(tab.get(proved.location))
        password = self._password()
        done = tab.post(proved.location, data={
            "csrf_token": hidden(form, "csrf_token"), "contrasena": password,
            "contrasena2": password, "correo": email, "correo2": email})
        assert done.status_code == 303, text(done)
        self.knows_password = who
        self._event()

    @rule(email=st.sampled_from((*THIEFS, OWNER_EMAIL)), then_confirms=st.booleans())
    def thief_recovers(self, email, then_confirms):
        self._recover("thief", email)
        if then_confirms and email in THIEFS:
            self.confirms(email)

    @rule()
    def owner_recovers_and_confirms(self):
        self._recover("owner", OWNER_EMAIL)
        self.confirms(OWNER_EMAIL)

    @rule()
    def a_new_bill_arrives(self):
        self.bills += 1
        self.invoice = f"ZE9999{self.bills:04d}"
        add_invoice(self.app, self.invoice, date.today() + timedelta(days=self.bills))

    @rule()
    def owner_confirms_an_address_the_thief_typed(self):
        self.confirms(OWNER_EMAIL)

    def confirms(self, mailbox):
        who = "owner" if mailbox == OWNER_EMAIL else "thief"
        mails = [m for m in outbox(self.app) if m.to_address == mailbox
                 and m.subject == "Confirma tu correo nuevo"]
        if not mails:
            return
        link = re.search(LINK.format(path="confirmar-correo"), mails[-1].body_text).group(1)
        tab = self.tabs[who]
        page = tab.get(link)
        if page.status_code == 400 or 'name="csrf_token"' not in text(page):
            return  # no longer pending, or already the address on the account
        answer = tab.post(link, data={"csrf_token": hidden(text(page), "csrf_token")})
        assert answer.status_code == 303, text(answer)
        if answer.location == "/correo-confirmado" and the_user(self.app).email == mailbox:
            self._event()

    @rule(mailbox=st.sampled_from((OWNER_EMAIL, *THIEFS)), oldest=st.booleans())
    def undoes(self, mailbox, oldest):
        who = "owner" if mailbox == OWNER_EMAIL else "thief"
        links = undo_links(self.app, mailbox)
        if not links:
            return
        tab = self.tabs[who]
        link = links[0] if oldest else links[-1]
        if tab.get(link).status_code == 400:
            return
        assert undo(self.app, tab, link).status_code == 303
        assert tab.get(reset_link_after_undo(tab)).status_code == 303
        form = text(tab.get("/recuperar/nueva-contrasena"))
        password = self._password()
        saved = tab.post("/recuperar/nueva-contrasena", data={
            "csrf_token": hidden(form, "csrf_token"), "contrasena": password,
            "contrasena2": password})
        assert saved.status_code == 303, text(saved)
        self.knows_password = who
        self._event()

    @rule(days=st.sampled_from((2, 6, 8)))
    def time_passes(self, days):
        age_changes(self.app, days=days)
        self.day += days
        if self.last_event is not None and self.day - self.last_event >= PERIOD_DAYS:
            if self.email in THIEFS:
                self.protected = False  # the owner let a whole period pass: out of scope
            self.last_event = None

    @invariant()
    def the_owner_keeps_a_way_back(self):
        thief_holds = self.knows_password == "thief" or self.email in THIEFS
        if not (self.protected and thief_holds and self.last_event is not None):
            return
        links = undo_links(self.app, OWNER_EMAIL)
        assert links, "the owner was never told"
        assert app_get(self.app, links[-1]) == 200, "the owner's newest link does not work"


def app_get(app, link: str) -> int:
    return app.test_client().get(link).status_code


def test_no_sequence_leaves_the_owner_without_a_way_back(app, monkeypatch):
    # A sequence may prove the bill more often than the per-contract limit allows in an hour
    # (refusals after an undo count too): the limits have tests of their own.
    for setting in ("OV_RECOVERY_BILL_ACCOUNT_LIMIT", "OV_RECOVERY_BILL_IP_LIMIT"):
        monkeypatch.setitem(app.config, setting, "10000 per hour")
    keep = {model.__table__.name for model in vars(billing).values()
            if isinstance(model, type) and issubclass(model, db.Model)
            and model.__module__ == billing.__name__}
    run_state_machine_as_test(
        lambda: OwnerAndBillHolder(app, keep),
        settings=settings(max_examples=int(os.environ.get("OV_TEST_UNDO_EXAMPLES", "30")),
                          stateful_step_count=12, deadline=None, database=None),
    )
