"""The event notices that Preferencias governs: one Kind per event, each mailed by its own
column, made once per event by small functions (the billing import will call new_invoice and
payment_applied)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import Notice, OutboxMail, Payment
from ov.services import notices
from tests.support.factories import make_customer, make_invoices

pytestmark = pytest.mark.usefixtures("clean_db")


def notices_of(user) -> list[Notice]:
    return list(db.session.scalars(select(Notice).where(Notice.user_id == user.id)
                                   .order_by(Notice.id)))


def mails() -> list[OutboxMail]:
    return list(db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


@pytest.mark.parametrize(("kind", "column"), [
    (notices.NEW_INVOICE, "notify_invoice"),
    (notices.PAYMENT_APPLIED, "notify_payment"),
    (notices.REQUEST_STATUS, "notify_request"),
    (notices.READING_PERIOD, "notify_reading"),
    (notices.PREFERENCE_DONE, "notify_request"),
])
def test_each_kind_is_mailed_by_its_own_column(app, kind, column):
    from ov.models import User

    user = User(username="x", password_hash="x", email="x@ejemplo.mx", email_notices=False,
                notify_invoice=False, notify_payment=False, notify_request=False,
                notify_reading=False)
    assert not kind.by_mail(user)
    setattr(user, column, True)
    assert kind.by_mail(user)


def test_the_email_reminder_keeps_following_the_registration_choice(app):
    from ov.models import User

    user = User(username="x", password_hash="x", email="x@ejemplo.mx", email_notices=True,
                notify_invoice=False, notify_payment=False, notify_request=False,
                notify_reading=False)
    assert notices.EMAIL_UNCONFIRMED.by_mail(user)
    user.email_notices = False
    assert not notices.EMAIL_UNCONFIRMED.by_mail(user)


def test_a_new_invoice_notifies_its_contracts_user_once_with_a_mail(app):
    with app.app_context():
        user, account = make_customer()
        invoice = make_invoices(account, 2)[-1]
        first = notices.new_invoice(invoice)
        assert notices.new_invoice(invoice) is None
        db.session.commit()
        [notice] = notices_of(user)
        assert notice.kind == "new_invoice" and notice.account_id == account.id
        assert notice.key == f"{invoice.zone_id}:{invoice.number}"
        assert notice.title == f"Tienes una nueva factura del contrato {account.printed_number}"
        assert invoice.number in notice.body and "vence el" in notice.body
        [sent] = mails()
        assert first.mail is sent and f"/mi-oficina/facturas/{invoice.id}" in sent.body_text


def test_a_new_invoice_without_mail_when_the_user_said_no(app):
    with app.app_context():
        user, account = make_customer()
        user.notify_invoice = False
        made = notices.new_invoice(make_invoices(account, 1)[0])
        db.session.commit()
        assert made.mail is None and len(notices_of(user)) == 1 and mails() == []


def test_an_invoice_of_an_unregistered_contract_notifies_nobody(app):
    with app.app_context():
        _, account = make_customer()
        invoice = make_invoices(account, 1)[0]
        db.session.execute(db.delete(Notice))
        from ov.models import UserAccount

        db.session.execute(db.delete(UserAccount))
        assert notices.new_invoice(invoice) is None
        assert list(db.session.scalars(select(Notice))) == []


def test_a_payment_applied_is_told_once_per_payment(app):
    with app.app_context():
        user, account = make_customer()
        make_invoices(account, 3, unpaid_last=1)
        payment = db.session.scalars(select(Payment).order_by(Payment.id)).first()
        assert notices.payment_applied(payment) is not None
        assert notices.payment_applied(payment) is None
        db.session.commit()
        [notice] = notices_of(user)
        assert notice.key == f"payment:{payment.id}"
        assert notice.title.startswith("Aplicamos tu pago de $")
        assert "OXXO" in notice.body and payment.invoice.number in notice.body
        assert len(mails()) == 1


def test_a_reading_period_is_told_once_per_contract_and_period(app):
    with app.app_context():
        user, account = make_customer()
        period = (date(2026, 12, 20), date(2026, 12, 24))
        made = notices.reading_period(account, period)
        assert notices.reading_period(account, period) is None
        assert notices.reading_period(account, (date(2027, 1, 20), date(2027, 1, 24)))
        db.session.commit()
        first = notices_of(user)[0]
        assert first.key == f"{account.id}:2026-12-20"
        assert "Del 20/12/2026 al 24/12/2026" in first.body
        assert "/mi-oficina/consumos" in made.mail.body_text


def test_a_request_status_is_told_once_per_status(app):
    from ov.services import service_requests

    with app.app_context():
        user, _ = make_customer()
        link = user.links[0]
        request = service_requests.ask_bill_format(link, "braille", client_address=None).request
        assert notices.request_status_changed(request) is not None
        assert notices.request_status_changed(request) is None
        request.status = "in_progress"
        assert notices.request_status_changed(request) is not None
        assert [n.key for n in notices_of(user)] == [f"{request.folio}:received",
                                                     f"{request.folio}:in_progress"]
