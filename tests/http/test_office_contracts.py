"""Mis contratos through HTTP: adding a contract with its bill, naming it, and removing it."""

from __future__ import annotations

from html import unescape

import pytest
from limits import parse
from markupsafe import escape
from sqlalchemy import select

from ov.extensions import db
from ov.models import Account, Invoice, OutboxMail, UserAccount, Zone
from ov.services.bill_proof import NO_MATCH
from tests.support.journeys import SEED, Registration, hidden, sign_in
from tests.support.rows import events

pytestmark = pytest.mark.usefixtures("billing")

NEW = "/mi-oficina/contratos/nuevo"


def text(response) -> str:
    return response.get_data(as_text=True)


def another_bill(app, skip: int = 0, besides: int | None = None) -> dict:
    """A demo contract other than the seed's (and than ``besides``), and the number of its
    newest invoice (or of the ``skip``-th newest)."""
    with app.app_context():
        account = db.session.scalars(
            select(Account).where(Account.number != SEED["account"], Account.id != besides)
            .order_by(Account.id)
        ).first()
        number = db.session.scalars(
            select(Invoice.number).where(Invoice.account_id == account.id)
            .order_by(Invoice.issue_date.desc(), Invoice.id.desc()).offset(skip).limit(1)
        ).one()
        zone = db.session.get(Zone, account.zone_id)
        return {"account_id": account.id, "zona": str(zone.id), "cuenta": account.number,
                "factura": number, "printed": account.printed_number, "zone": zone.name}


def seed_bill(app) -> dict:
    with app.app_context():
        zone = db.session.scalar(select(Zone.id).where(Zone.name == SEED["zone"]))
    return {"zona": str(zone), "cuenta": SEED["account"], "factura": SEED["invoice"]}


def registered_by_another(app, bill: dict) -> None:
    """Another person registers the contract of ``bill`` as otraPersona22."""
    registered = Registration(app.test_client(), app)
    assert registered.step1(zona=bill["zona"], cuenta=bill["cuenta"],
                            factura=bill["factura"]).status_code == 303
    assert registered.step2(usuario="otraPersona22", correo="otra.persona@ejemplo.mx",
                            correo2="otra.persona@ejemplo.mx").status_code == 303
    assert registered.step3().status_code == 303


@pytest.fixture
def customer(app, client):
    """The seed's customer, registered and signed in."""
    assert Registration(client, app).complete().status_code == 303
    assert sign_in(client, "usuPDFactura1").status_code == 303
    return client


def add(client, bill: dict, headers=None, **answers):
    page = text(client.get(NEW))
    form = {"csrf_token": hidden(page, "csrf_token"),
            "captcha_token": hidden(page, "captcha_token"), "comentarios": "",
            "zona": bill["zona"], "cuenta": bill["cuenta"], "factura": bill["factura"]}
    form.update(answers)
    return client.post(NEW, data=form, headers=headers or {})


def links_of(app, username: str = "usuPDFactura1") -> list[int]:
    from ov.models import User

    with app.app_context():
        return list(db.session.scalars(
            select(UserAccount.account_id).join(User).where(User.username == username)
            .order_by(UserAccount.account_id)))




# --- Añadir contrato -------------------------------------------------------------------------

def test_the_add_form_asks_for_the_bill_as_step_1_does(customer):
    page = customer.get(NEW)
    assert page.status_code == 200
    html = text(page)
    assert "<h1>Añadir contrato</h1>" in html
    for name in ('name="zona"', 'name="cuenta"', 'name="factura"', 'name="captcha_token"',
                 'name="csrf_token"'):
        assert name in html
    assert f'action="{NEW}"' in html and f'data-hx-post="{NEW}"' in html
    assert NEW in text(customer.get("/mi-oficina/contratos"))  # reached from Mis contratos


def test_a_customer_adds_a_second_contract_with_its_newest_bill(app, customer):
    bill = another_bill(app)
    response = add(customer, bill)
    assert response.status_code == 303, text(response)[:600]
    assert response.location == "/mi-oficina/contratos"
    assert bill["account_id"] in links_of(app)
    assert len(links_of(app)) == 2
    page = text(customer.get("/mi-oficina/contratos"))
    assert f"Añadimos el contrato {bill['printed']} de {bill['zone']}" in page
    assert f"Contrato {bill['printed']}" in page
    added = events(app, "contract_added")
    assert [event.details["account_id"] for event in added] == [bill["account_id"]]


def test_with_htmx_the_form_answers_in_place(app, customer, htmx_headers):
    wrong = add(customer, another_bill(app), headers=htmx_headers, factura="ZE00000000")
    assert wrong.status_code == 422
    html = text(wrong)
    assert html.startswith("<title>Error: Añadir contrato")
    assert "<html" not in html and NO_MATCH in html


@pytest.mark.parametrize("wrong", ["number", "old-invoice", "zone"])
def test_a_wrong_or_old_bill_gets_the_one_generic_error(app, customer, wrong):
    bill = another_bill(app, skip=2 if wrong == "old-invoice" else 0)
    answers = {"number": {"factura": "ZE00000000"}, "old-invoice": {},
               "zone": {"zona": seed_bill(app)["zona"]}}[wrong]
    if wrong == "zone" and bill["zona"] == answers["zona"]:
        answers = {"zona": str(int(bill["zona"]) % 5 + 1)}
    response = add(customer, bill, **answers)
    assert response.status_code == 422
    html = text(response)
    assert NO_MATCH in html and html.count(NO_MATCH) == 1
    assert f'value="{bill["cuenta"]}"' in html  # the answers are kept
    assert "<title>Error: Añadir contrato" in html
    assert links_of(app) == [links_of(app)[0]]


def test_field_rules_are_registrations(app, customer):
    response = add(customer, another_bill(app), cuenta="4098-9917", factura="")
    assert response.status_code == 422
    html = text(response)
    assert "Escribe el número de factura." in html
    assert 'aria-invalid="true"' in html


def test_a_contract_already_yours_gets_a_clear_message(app, customer):
    response = add(customer, seed_bill(app))
    assert response.status_code == 409
    html = text(response)
    assert "Ese contrato ya está vinculado a tu usuario" in html
    assert len(links_of(app)) == 1
    assert events(app, "contract_added") == []


def test_another_users_contract_gets_the_already_registered_answer(app, customer):
    bill = another_bill(app)
    registered_by_another(app, bill)
    response = add(customer, bill)
    assert response.status_code == 409
    html = text(response)
    assert "Este contrato ya está registrado" in html
    assert "o***********@e******.mx" in html
    assert "otra.persona@ejemplo.mx" not in html
    assert 'aria-label="Mi oficina"' in html  # inside Mi oficina, tabs and all
    assert links_of(app, "otraPersona22") == [bill["account_id"]]
    with app.app_context():
        told = db.session.scalars(select(OutboxMail).where(
            OutboxMail.to_address == "otra.persona@ejemplo.mx",
            OutboxMail.subject.contains("intentó registrar"))).all()
    assert len(told) == 1
    assert [e.details["account_id"] for e in events(app, "contract_already_registered")] == [
        bill["account_id"]]


def test_the_limits_per_contract_are_registrations(app, customer):
    allowed = parse(app.config["OV_REGISTRATION_ACCOUNT_LIMIT"]).amount
    bill = another_bill(app)
    for _ in range(allowed):
        assert add(customer, bill, factura="ZE00000000").status_code == 422
    refused = add(customer, bill)  # even the right bill now waits
    assert refused.status_code == 429
    assert "Demasiados intentos" in text(refused)
    assert bill["account_id"] not in links_of(app)


def test_the_limits_per_address_are_registrations(app, customer, monkeypatch):
    monkeypatch.setitem(app.config, "OV_REGISTRATION_IP_LIMIT", "2 per hour")
    bill = another_bill(app)
    for attempt in range(2):
        assert add(customer, bill, cuenta=str(9000000 + attempt)).status_code == 422
    assert add(customer, bill).status_code == 429


def test_a_post_without_csrf_gets_the_400_page(app, customer):
    bill = another_bill(app)
    response = customer.post(NEW, data={"zona": bill["zona"], "cuenta": bill["cuenta"],
                                        "factura": bill["factura"]})
    assert response.status_code == 400
    assert bill["account_id"] not in links_of(app)


def test_the_add_form_needs_a_signed_in_customer(client):
    response = client.get(NEW)
    assert response.status_code == 302 and response.location.startswith("/entrar")


# --- the alias -------------------------------------------------------------------------------

def name_url(account_id: int) -> str:
    return f"/mi-oficina/contratos/{account_id}/nombre"


def seed_account_id(app) -> int:
    return links_of(app)[0]


def name(client, account_id: int, alias, headers=None):
    token = hidden(text(client.get("/mi-oficina/contratos")), "csrf_token")
    data = {"csrf_token": token}
    if alias is not None:
        data[f"contrato{account_id}-alias"] = alias
    return client.post(name_url(account_id), data=data, headers=headers or {})


def alias_of(app, account_id: int) -> str | None:
    with app.app_context():
        return db.session.scalar(
            select(UserAccount.alias).where(UserAccount.account_id == account_id))


def test_a_contract_gets_a_name_shown_on_mis_contratos(app, customer):
    mine = seed_account_id(app)
    page = text(customer.get("/mi-oficina/contratos"))
    assert f'action="{name_url(mine)}"' in page and f'id="contrato{mine}-alias"' in page
    response = name(customer, mine, "  Casa  ")
    assert response.status_code == 303 and response.location == "/mi-oficina/contratos"
    assert alias_of(app, mine) == "Casa"
    page = text(customer.get("/mi-oficina/contratos"))
    assert "Guardamos el nombre «Casa»" in page
    assert "<h2" in page and "Casa · Contrato 8295249-" in page
    assert 'value="Casa"' in page  # the form shows the name to change it
    named = events(app, "contract_named")
    assert [(e.details["account_id"]) for e in named] == [mine]


def test_the_switcher_shows_the_names(app, customer):
    mine = seed_account_id(app)
    bill = another_bill(app)
    assert add(customer, bill).status_code == 303
    assert name(customer, mine, "Casa").status_code == 303
    assert name(customer, bill["account_id"], "Local de la tienda").status_code == 303
    switcher = text(customer.get("/mi-oficina/facturas"))
    assert f'<option value="{mine}">Casa · 8295249-' in switcher
    assert f'<option value="{bill["account_id"]}">Local de la tienda · {bill["printed"]}' in (
        switcher)


@pytest.mark.parametrize(("alias", "says"), [
    ("", "Escribe un nombre para este contrato"),
    (None, "Escribe un nombre para este contrato"),
    ("x" * 31, "Puede tener hasta 30 caracteres; el que escribiste tiene 31."),
    ("<script>", "Quita «<»"),
])
def test_an_empty_long_or_odd_name_is_refused_with_the_answer_kept(app, customer, alias, says):
    mine = seed_account_id(app)
    assert name(customer, mine, "Casa").status_code == 303
    response = name(customer, mine, alias)
    assert response.status_code == 422
    html = text(response)
    assert "<title>Error: Mis contratos" in html
    assert says in unescape(html)
    assert f'href="#contrato{mine}-alias"' in html  # the summary leads to the field
    if alias:
        assert f'value="{escape(alias)}"' in html
    assert alias_of(app, mine) == "Casa"


def test_with_htmx_a_refused_name_answers_in_place(app, customer, htmx_headers):
    response = name(customer, seed_account_id(app), "", headers=htmx_headers)
    assert response.status_code == 422
    assert text(response).startswith("<title>Error: Mis contratos")


def test_another_users_contract_cannot_be_named(app, customer):
    bill = another_bill(app)
    response = name(customer, bill["account_id"], "Mío")
    assert response.status_code == 404
    assert alias_of(app, bill["account_id"]) is None
    denied = events(app, "access_denied")
    assert [e.details["record_id"] for e in denied] == [bill["account_id"]]


def test_naming_without_csrf_gets_the_400_page(app, customer):
    mine = seed_account_id(app)
    response = customer.post(name_url(mine), data={f"contrato{mine}-alias": "Casa"})
    assert response.status_code == 400
    assert alias_of(app, mine) is None


# --- Quitar ----------------------------------------------------------------------------------

def remove_url(account_id: int) -> str:
    return f"/mi-oficina/contratos/{account_id}/quitar"


def remove(client, account_id: int, headers=None):
    token = hidden(text(client.get("/mi-oficina/contratos")), "csrf_token")
    return client.post(remove_url(account_id), data={"csrf_token": token},
                       headers=headers or {})


@pytest.fixture
def two_contracts(app, customer):
    bill = another_bill(app)
    assert add(customer, bill).status_code == 303
    return bill


def test_removing_asks_first_then_unlinks_and_keeps_the_billing_data(app, customer,
                                                                      two_contracts):
    bill = two_contracts
    assert name(customer, bill["account_id"], "Local de la tienda").status_code == 303
    listed = text(customer.get("/mi-oficina/contratos"))
    assert f'href="{remove_url(bill["account_id"])}"' in listed
    asked = customer.get(remove_url(bill["account_id"]))
    assert asked.status_code == 200
    html = text(asked)
    assert "¿Quitar el contrato Local de la tienda" in html and bill["printed"] in html
    assert f'action="{remove_url(bill["account_id"])}"' in html
    assert "Sí, quitar este contrato" in html
    assert bill["account_id"] in links_of(app)  # asking changed nothing
    with app.app_context():
        invoices = db.session.scalar(select(db.func.count()).select_from(Invoice).where(
            Invoice.account_id == bill["account_id"]))
    response = remove(customer, bill["account_id"])
    assert response.status_code == 303 and response.location == "/mi-oficina/contratos"
    assert links_of(app) == [seed_account_id(app)]
    page = text(customer.get("/mi-oficina/contratos"))
    assert f"Quitamos el contrato {bill['printed']} de tu usuario" in page
    with app.app_context():
        assert db.session.get(Account, bill["account_id"]) is not None
        assert db.session.scalar(select(db.func.count()).select_from(Invoice).where(
            Invoice.account_id == bill["account_id"])) == invoices > 0
    removed = events(app, "contract_removed")
    assert [e.details["account_id"] for e in removed] == [bill["account_id"]]
    assert add(customer, bill).status_code == 303  # its bill adds it again


def test_with_htmx_removing_swaps_in_place(app, customer, two_contracts, htmx_headers):
    asked = customer.get(remove_url(two_contracts["account_id"]), headers=htmx_headers)
    assert asked.status_code == 200 and text(asked).startswith("<title>¿Quitar el contrato")
    assert f'data-hx-post="{remove_url(two_contracts["account_id"])}"' in text(asked)


def test_the_last_contract_cannot_be_removed(app, customer):
    mine = seed_account_id(app)
    asked = customer.get(remove_url(mine))
    assert asked.status_code == 200
    html = text(asked)
    assert "Tu usuario necesita al menos un contrato" in html
    assert f'action="{remove_url(mine)}"' not in html  # nothing to confirm
    refused = remove(customer, mine)
    assert refused.status_code == 409
    assert "Tu usuario necesita al menos un contrato" in text(refused)
    assert "<title>Error: No puedes quitar tu único contrato" in text(refused)
    assert links_of(app) == [mine]
    assert events(app, "contract_removed") == []


def test_removing_both_of_two_contracts_leaves_the_second(app, customer, two_contracts):
    """The rule is the service's own (the count and the delete are one statement), not
    only the confirmation page's: two tabs confirming each of the two contracts."""
    from ov.models import User
    from ov.services import contracts

    with app.app_context():
        user = db.session.scalar(select(User.id).where(User.username == "usuPDFactura1"))
        first = contracts.remove(user, seed_account_id(app), client_address=None)
        second = contracts.remove(user, two_contracts["account_id"], client_address=None)
        db.session.commit()
    assert (first, second) == (contracts.Removal.REMOVED, contracts.Removal.LAST)
    assert links_of(app) == [two_contracts["account_id"]]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_another_users_link_answers_404_and_is_audited(app, customer, method):
    bill = another_bill(app)
    registered_by_another(app, bill)
    if method == "GET":
        response = customer.get(remove_url(bill["account_id"]))
    else:
        response = remove(customer, bill["account_id"])
    assert response.status_code == 404
    assert links_of(app, "otraPersona22") == [bill["account_id"]]
    denied = events(app, "access_denied")
    assert [e.details["record_id"] for e in denied] == [bill["account_id"]]
    assert customer.get(remove_url(99_999_999)).status_code == 404


def test_removing_without_csrf_gets_the_400_page(app, customer, two_contracts):
    response = customer.post(remove_url(two_contracts["account_id"]))
    assert response.status_code == 400
    assert two_contracts["account_id"] in links_of(app)


# --- valid HTML in every state ---------------------------------------------------------------

def test_every_contract_page_and_its_error_states_are_valid_html(app, customer, tmp_path,
                                                                 htmx_headers):
    from tests.support.nu import Documents, describe

    documents = Documents(tmp_path)
    mine = seed_account_id(app)
    bill = another_bill(app)

    def keep(label: str, response) -> None:
        documents.add(f"{label} ({response.status_code})", text(response))

    keep("own contract again", add(customer, seed_bill(app)))
    keep("wrong bill", add(customer, bill, factura="ZE00000000"))
    keep("last contract, asked", customer.get(remove_url(mine)))
    keep("last contract, refused", remove(customer, mine))
    keep("name too long", name(customer, mine, "x" * 31))
    documents.add_fragment("name refused, in place",
                           text(name(customer, mine, "", headers=htmx_headers)))
    registered_by_another(app, bill)
    keep("another user's contract", add(customer, bill))
    third = another_bill(app, besides=bill["account_id"])
    assert add(customer, third).status_code == 303
    assert name(customer, third["account_id"], "Local de la tienda").status_code == 303
    keep("two contracts, named", customer.get("/mi-oficina/contratos"))
    keep("removal asked", customer.get(remove_url(third["account_id"])))
    documents.add_fragment("removal asked, in place", text(
        customer.get(remove_url(third["account_id"]), headers=htmx_headers)))
    found = documents.errors()
    assert not found, describe(found)


# --- constant queries ------------------------------------------------------------------------

def test_the_contract_pages_run_as_many_queries_with_two_contracts_as_with_three(app, customer):
    from tests.support.queries import counting_queries

    def counts() -> dict[str, int]:
        found = {}
        for url in ("/mi-oficina/contratos", NEW, remove_url(seed_account_id(app)),
                    "/mi-oficina/facturas"):
            customer.get(url)
            with counting_queries(app) as statements:
                assert customer.get(url).status_code == 200, url
            found[url] = len(statements)
        return found

    second = another_bill(app)
    assert add(customer, second).status_code == 303
    assert name(customer, second["account_id"], "Casa").status_code == 303
    two = counts()
    third = another_bill(app, besides=second["account_id"])
    assert add(customer, third).status_code == 303
    assert name(customer, third["account_id"], "Local").status_code == 303
    assert counts() == two
    assert max(two.values()) <= 12, two


@pytest.mark.parametrize("number", ["2147483648", "99999999999", "9" * 25])
def test_a_contract_number_out_of_range_is_not_found(app, customer, number):
    token = hidden(text(customer.get("/mi-oficina/contratos")), "csrf_token")
    assert customer.get(f"/mi-oficina/contratos/{number}/quitar").status_code == 404
    assert customer.post(f"/mi-oficina/contratos/{number}/quitar",
                         data={"csrf_token": token}).status_code == 404
    assert customer.post(f"/mi-oficina/contratos/{number}/nombre",
                         data={"csrf_token": token, "alias": "Casa"}).status_code == 404
