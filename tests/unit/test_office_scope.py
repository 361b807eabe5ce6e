"""Mi oficina's queries are methods of the user's scope: nothing outside the user's links."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ov.extensions import db
from ov.models import Invoice, Payment
from ov.services.consumption import usage
from ov.services.office import Scope
from tests.support.factories import make_customer, make_invoices
from tests.support.queries import counting_queries

pytestmark = pytest.mark.usefixtures("clean_db")


@pytest.fixture
def two_customers(app):
    with app.app_context():
        me, mine = make_customer()
        _, theirs = make_customer(username="otroCliente22", email="otro@ejemplo.mx",
                                           number="7654321")
        make_invoices(mine, 5)
        theirs_invoices = make_invoices(theirs, 5)
        db.session.commit()
        return {"user": me.id, "mine": mine.id, "theirs": theirs.id,
                "their_invoice": theirs_invoices[-1].id}


def test_another_customers_contract_is_never_in_the_scope(app, two_customers):
    with app.app_context():
        scope = Scope.of(two_customers["user"], two_customers["theirs"])
        assert [a.id for a in scope.chosen] == [two_customers["mine"]]
        sections = usage(scope)  # Mis consumos
        assert [section.account.id for section in sections] == [two_customers["mine"]]
        periods = [db.session.get(Invoice, period.invoice_id)
                   for section in sections for period in section.periods]
        found = (scope.last_invoices(10) + scope.unpaid_invoices() + periods
                 + scope.invoices_page(year=None, status=None, today=date.today(),
                                       number=1).items
                 + scope.payments_page(number=1).items)
        assert found and {row.account_id for row in found} == {two_customers["mine"]}
        assert scope.invoice(two_customers["their_invoice"]) is None


def test_one_invoice_by_id_does_not_load_the_contracts(app, two_customers):
    with app.app_context():
        mine = Scope.of(two_customers["user"]).last_invoices(1)[0].id
        db.session.expunge_all()
        with counting_queries(app) as statements:
            assert Scope.of(two_customers["user"]).invoice(mine).id == mine
        assert len(statements) == 1  # the invoice with its lines, account and zone


def test_inicio_reads_its_invoices_and_figures_in_one_statement(app, two_customers):
    """The same invoices and figures as ``last_invoices`` and ``summary`` asked apart; with
    contracts that have no invoice yet, the figures still come (a second statement)."""
    from ov.blueprints.office.common import today

    with app.app_context():
        newest = db.session.get(Invoice, Scope.of(two_customers["user"]).last_invoices(1)[0].id)
        db.session.add(Payment(account_id=newest.account_id, invoice=newest, paid_on=today(),
                               amount=Decimal("100.00"), channel="transfer", channel_name="SPEI",
                               reference="EN-PROCESO-1", status="in_process"))
        db.session.commit()
        scope = Scope.of(two_customers["user"])
        apart = ([i.id for i in scope.last_invoices()], scope.summary(today()))
        with counting_queries(app) as statements:
            invoices, summary = scope.last_invoices_and_summary(today())
        assert len(statements) == 1
        assert ([i.id for i in invoices], summary) == apart
        assert summary.debt > 0 and summary.overdue == 1 and len(invoices) == 3
        assert summary.in_process == Decimal("100.00") and summary.has_payments
        newcomer, _ = make_customer(username="nuevoCliente33", email="nuevo@ejemplo.mx",
                                    number="1357924")
        db.session.commit()
        empty = Scope.of(newcomer.id)
        empty.accounts  # noqa: B018  (the contracts are loaded before counting)
        with counting_queries(app) as statements:
            invoices, summary = empty.last_invoices_and_summary(today())
        assert len(statements) == 2
        assert invoices == [] and summary.debt == 0 and summary.overdue == 0
        assert not summary.has_payments
