"""The exact number of SQL statements each signed-in page sends, locked so a regression fails.

Every Mi oficina page pays for: the session (one read, when sessions are in the database; none
with Redis), the signed-in user with what the header shows (one), and the user's contracts
with the unread notices count (one). The rest is the page's own. The counts are the same on
SQLite and PostgreSQL, and whatever the history's length (tests/http/test_office.py).
"""

from __future__ import annotations

import pytest

from tests.support.factories import customer_with_invoices
from tests.support.journeys import sign_in
from tests.support.queries import counting_queries

pytestmark = pytest.mark.usefixtures("clean_db")

TABLE = {"HX-Request": "true", "HX-Request-Type": "partial", "HX-Target": "div#tabla-facturas"}

#: Statements per page, the session read included (sessions in the database).
EXPECTED = {
    "/mi-oficina": 5,  # last invoices with the debt/in-process/payments figures, zone notices
    "/mi-oficina/facturas": 7,  # count, rows, years, open claims
    "/mi-oficina/facturas (table)": 6,  # the table fragment: no years
    "/mi-oficina/facturas/<id>": 7,  # the invoice with its lines, its changes (2), claims
    "/mi-oficina/facturas/<id>/duplicado.pdf": 3,  # the invoice with its lines, nothing else
    "/mi-oficina/pagos": 7,  # unpaid invoices, payments count and rows, in process
    "/mi-oficina/consumos": 6,  # invoices, their lines, readings sent
    "/mi-oficina/contratos": 3,
    "/mi-oficina/datos": 7,  # recent activity, requests, sign-ins, privacy requests
    "/mi-oficina/solicitudes": 4,  # the requests
    "/mi-oficina/avisos": 4,  # the notices
}


@pytest.fixture
def customer(app):
    return customer_with_invoices(app, 24)


def session_reads(app) -> int:
    """The session read is a SQL statement only when sessions are in the database."""
    return 0 if app.config["OV_REDIS_URL"] else 1


@pytest.mark.parametrize("label", list(EXPECTED))
def test_each_signed_in_page_sends_exactly_its_statements(app, client, customer, label):
    assert sign_in(client, "usuPDFactura1").status_code == 303
    newest = customer["invoice_ids"][-1]
    url = label.removesuffix(" (table)").replace("<id>", str(newest))
    headers = TABLE if label.endswith("(table)") else {}
    if headers:
        url += "?pagina=2"
    client.get(url, headers=headers)  # warm: the first request may load things once
    with counting_queries(app) as statements:
        assert client.get(url, headers=headers).status_code == 200
    expected = EXPECTED[label] - 1 + session_reads(app)
    assert len(statements) == expected, "\n\n".join(statements)
