"""Mis datos > Preferencias through HTTP: the paperless bill with the bill it applies from,
notices by email per kind, and the printed bill's format as a request shown pending."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest
from sqlalchemy import select

from ov.blueprints.office import common
from ov.extensions import db
from ov.formatting import LOCAL_TIME
from ov.models import Account, ServiceRequest, User, UserAccount
from ov.services import service_requests
from tests.support.journeys import SEED, Registration, hidden, sign_in
from tests.support.rows import events

pytestmark = pytest.mark.usefixtures("billing", "fixed_now")

#: The day these tests happen on, and the billing mirror built for it: every date is literal.
NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)  # 12:00 in Mexico City


@pytest.fixture
def billing(app, clean_db):
    """The small billing mirror of tests/conftest.py, built for NOW's day."""
    from ov.services import demo_data

    with app.app_context():
        demo_data.load_demo_data(accounts=20, today=NOW.astimezone(LOCAL_TIME).date())
        db.session.remove()


#: The seed contract's next bill a change made on NOW's day reaches: its latest was issued
#: on 27/11/2026, monthly, and the next is more than a week away.
WHEN = "27/12/2026"


@pytest.fixture
def fixed_now(monkeypatch):
    monkeypatch.setattr(common, "now", lambda: NOW)

PAGE = "/mi-oficina/datos/preferencias"
PAPERLESS = PAGE + "/factura-electronica"
NOTICES = PAGE + "/avisos"
RESEND = "/mi-oficina/reenviar-confirmacion"


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def register(app, client, **step3) -> None:
    journey = Registration(client, app)
    assert journey.step1().status_code == 303
    assert journey.step2().status_code == 303
    assert journey.step3(**step3).status_code == 303


@pytest.fixture
def customer(app, client):
    """The seed's customer (paperless and notices chosen at step 3), signed in."""
    register(app, client, avisos="y")
    assert sign_in(client, "usuPDFactura1").status_code == 303
    return client


def the_user(app) -> User:
    with app.app_context():
        user = db.session.scalars(select(User).where(User.username == "usuPDFactura1")).one()
        db.session.expunge(user)
        return user


def seed_account_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Account.id).where(Account.number == SEED["account"]))


def post(client, url: str, data: dict, headers=None, token: bool = True):
    form = dict(data)
    if token:
        form["csrf_token"] = hidden(client.get(PAGE).get_data(as_text=True), "csrf_token")
    return client.post(url, data=form, headers=headers or {})


def format_url(account_id: int) -> str:
    return f"{PAGE}/formato/{account_id}"


def requests_in_db(app) -> list[ServiceRequest]:
    with app.app_context():
        rows = list(db.session.scalars(select(ServiceRequest).order_by(ServiceRequest.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


# --- the page ---------------------------------------------------------------------------------

def test_the_page_has_a_form_per_preference_reached_from_mis_datos(app, customer):
    profile = text(customer.get("/mi-oficina/datos"))
    assert f'href="{PAGE}"' in profile and "Cambiar" in profile
    page = customer.get(PAGE)
    assert page.status_code == 200
    html = text(page)
    assert "<h1>Preferencias</h1>" in html
    assert re.search(r'aria-current="page">Mis datos</a>', html)  # the tab it belongs to
    account_id = seed_account_id(app)
    for action in (PAPERLESS, NOTICES, format_url(account_id)):
        assert f'action="{action}"' in html and f'data-hx-post="{action}"' in html
    assert re.search(r'name="factura_electronica"[^>]*value="si" checked', html)
    assert re.search(rf'name="contrato{account_id}-formato"[^>]*value="normal" checked', html)
    assert f"la que emitiremos alrededor del {WHEN}" in html


def test_the_mis_datos_summary_tells_every_preference(app, customer):
    html = text(customer.get("/mi-oficina/datos"))
    assert "Sí: la recibes por correo, sin papel" in html
    assert ("Nueva factura, Pago aplicado, Cambios en tus solicitudes, Periodo para dar tu "
            "lectura") in html
    assert "Formato normal" in html
    assert re.search(r"Aviso legal</dt><dd>Versión [^<]+, aceptada el \d\d/\d\d/\d{4}", html)


# --- the paperless bill -------------------------------------------------------------------------

def test_turning_paperless_off_says_from_which_bill_paper_resumes(app, customer):
    response = post(customer, PAPERLESS, {"factura_electronica": "no"})
    assert response.status_code == 303 and response.location == PAGE
    assert the_user(app).paperless_bill is False
    html = text(customer.get(PAGE))
    assert ("Listo: volverás a recibir tu factura en papel a partir de la factura que "
            f"emitiremos alrededor del {WHEN}.") in html
    assert ("Elegiste volver a recibir tu factura en papel. El papel vuelve a llegar a partir "
            f"de la factura que emitiremos alrededor del {WHEN}; hasta entonces la recibes "
            "solo por correo.") in html
    summary = text(customer.get("/mi-oficina/datos"))
    assert (f"No, desde la factura de alrededor del {WHEN}; hasta entonces la recibes solo "
            "por correo</dd>") in summary
    [event] = events(app, "paperless_changed")
    assert event.details["paperless"] is False

    # Back on before the paper resumed: it never stopped arriving by email only.
    response = post(customer, PAPERLESS, {"factura_electronica": "si"})
    assert response.status_code == 303
    html = text(customer.get(PAGE))
    assert ("Listo: seguirás recibiendo tu factura solo por correo, como hasta ahora: aún no "
            "volvíamos a imprimirla.") in html
    assert "Hoy recibes tu factura solo por correo, sin papel.</p>" in html
    assert the_user(app).paperless_bill is True
    assert "Sí: la recibes por correo, sin papel</dd>" in text(customer.get("/mi-oficina/datos"))


def test_turning_paperless_on_and_off_before_it_applied_keeps_the_paper(app, customer):
    with app.app_context():
        db.session.get(User, the_user(app).id).paperless_bill = False
        db.session.commit()
    assert post(customer, PAPERLESS, {"factura_electronica": "si"}).status_code == 303
    html = text(customer.get(PAGE))
    assert ("Listo: tu factura te llegará solo por correo. Dejarás de recibirla en papel a "
            f"partir de la factura que emitiremos alrededor del {WHEN}; hasta entonces te llega "
            "también en papel.") in html
    summary = text(customer.get("/mi-oficina/datos"))
    assert (f"Sí, desde la factura de alrededor del {WHEN}; hasta entonces te llega también "
            "en papel</dd>") in summary
    assert "Sí: la recibes por correo, sin papel" not in summary

    assert post(customer, PAPERLESS, {"factura_electronica": "no"}).status_code == 303
    html = text(customer.get(PAGE))
    assert ("Listo: seguirás recibiendo tu factura en papel, como hasta ahora: aún no "
            "habíamos dejado de imprimirla.") in html
    assert "volverás a recibir" not in html and "vuelve a llegar" not in html
    assert "No: la recibes en papel</dd>" in text(customer.get("/mi-oficina/datos"))
    last = events(app, "paperless_changed")[-1]
    assert last.details["from_bills"] == {} and last.details["paperless"] is False


def test_the_same_paperless_choice_changes_nothing(app, customer):
    assert post(customer, PAPERLESS, {"factura_electronica": "si"}).status_code == 303
    assert ('<p class="callout" role="status" data-focus tabindex="-1">No cambió nada: ya '
            "recibías tu factura solo por correo.</p>") in text(customer.get(PAGE))
    assert "No cambió nada" not in text(customer.get(PAGE))  # said once
    assert events(app, "paperless_changed") == []


@pytest.mark.parametrize("answer", [None, "", "quizas", "SI", "sí"])
def test_an_odd_or_missing_paperless_answer_is_a_422_in_spanish(app, customer, answer):
    data = {} if answer is None else {"factura_electronica": answer}
    response = post(customer, PAPERLESS, data)
    assert response.status_code == 422
    html = text(response)
    assert "<title>Error: Preferencias" in html
    assert "Elige «Sí» o «No» para tu factura electrónica." in html
    assert 'href="#factura_electronica-1"' in html and 'aria-invalid="true"' in html
    assert the_user(app).paperless_bill is True


def test_with_htmx_a_refused_answer_swaps_in_place(app, customer, htmx_headers):
    response = post(customer, PAPERLESS, {"factura_electronica": "x"}, headers=htmx_headers)
    assert response.status_code == 422
    html = text(response)
    assert html.startswith("<title>Error: Preferencias") and "<html" not in html


def test_a_post_without_the_csrf_token_is_refused(app, customer):
    response = post(customer, PAPERLESS, {"factura_electronica": "no"}, token=False)
    assert response.status_code == 400
    assert the_user(app).paperless_bill is True


# --- notices by email ---------------------------------------------------------------------------

ALL_NOTICES = {"aviso_factura": "si", "aviso_pago": "no", "aviso_solicitud": "si",
               "aviso_lectura": "no"}


def test_choosing_notices_by_email_one_by_one(app, customer):
    response = post(customer, NOTICES, ALL_NOTICES)
    assert response.status_code == 303
    user = the_user(app)
    assert (user.notify_invoice, user.notify_payment, user.notify_request,
            user.notify_reading) == (True, False, True, False)
    assert user.email_notices is True  # the registration choice stays as it was
    html = text(customer.get(PAGE))
    assert ("Listo: te enviaremos por correo los avisos de nueva factura y de cambios en tus "
            "solicitudes. Los demás los ves en Avisos, en Mi oficina.") in html
    assert "Nueva factura, Cambios en tus solicitudes" in text(customer.get("/mi-oficina/datos"))
    [event] = events(app, "notice_preferences_changed")
    assert event.details == {"notify_payment": False, "notify_reading": False}


def test_no_notices_by_email_at_all(app, customer):
    post(customer, NOTICES, dict.fromkeys(ALL_NOTICES, "no"))
    assert "ya no te enviaremos avisos por correo" in text(customer.get(PAGE))
    assert "Ninguno: los ves en Avisos" in text(customer.get("/mi-oficina/datos"))


def test_a_missing_notice_answer_keeps_the_others(app, customer):
    answers = {**ALL_NOTICES, "aviso_pago": "tal vez"}
    del answers["aviso_lectura"]
    response = post(customer, NOTICES, answers)
    assert response.status_code == 422
    html = text(response)
    assert "Elige «Sí» o «No» para los avisos de pago aplicado." in html
    assert "Elige «Sí» o «No» para los avisos del periodo de lectura." in html
    assert "Hay 2 datos que corregir" in html
    assert re.search(r'name="aviso_factura"[^>]*value="si" checked', html)
    assert re.search(r'name="aviso_solicitud"[^>]*value="si" checked', html)
    assert the_user(app).notify_payment is True


@pytest.mark.parametrize(("chosen", "expected"), [("y", True), (None, False)])
def test_the_registration_choice_sets_all_four_kinds(app, client, chosen, expected):
    register(app, client, **({"avisos": chosen} if chosen else {}))
    user = the_user(app)
    assert user.email_notices is expected
    assert {user.notify_invoice, user.notify_payment, user.notify_request,
            user.notify_reading} == {expected}


# --- the printed bill's format ------------------------------------------------------------------

def test_asking_for_braille_shows_it_pending_until_it_is_done(app, customer):
    account_id = seed_account_id(app)
    field = f"contrato{account_id}-formato"
    response = post(customer, format_url(account_id), {field: "braille"})
    assert response.status_code == 303 and response.location == PAGE
    [made] = requests_in_db(app)
    assert (made.topic, made.detail, made.status) == ("bill_format", "braille", "received")
    pending = f"Pendiente: pediste tu factura en braille el 01/12/2026, folio {made.folio}."
    html = text(customer.get(PAGE))
    assert "pediste tu factura del contrato 8295249" in html and made.folio in html
    assert ("Verás la solicitud pendiente aquí y en Mis solicitudes hasta que la atendamos; "
            "te avisaremos.") in html
    assert pending in html
    assert f'action="{format_url(account_id)}"' not in html  # no second form while open
    listed = text(customer.get("/mi-oficina/solicitudes"))
    row = listed[listed.index(f'id="solicitud-{made.id}"'):]
    row = row[:row.index("</tr>")]
    assert made.folio in row and "Solicitud: Factura en formato accesible (braille)" in row
    assert "Recibida" in row
    assert pending in text(customer.get("/mi-oficina/datos"))
    [event] = events(app, "bill_format_requested")
    assert event.details["folio"] == made.folio

    again = post(customer, format_url(account_id), {field: "letra_grande"})
    assert again.status_code == 409
    assert "Ya tienes una solicitud abierta" in text(again) and made.folio in text(again)
    assert len(requests_in_db(app)) == 1

    with app.app_context():
        service_requests.set_status(made.folio, "resuelta")
        db.session.commit()
    html = text(customer.get(PAGE))
    assert "Hoy se imprime en formato braille." in html and pending not in html
    assert "Formato braille" in text(customer.get("/mi-oficina/datos"))
    requests_page = text(customer.get("/mi-oficina/solicitudes"))
    row = requests_page[requests_page.index(f'id="solicitud-{made.id}"'):]
    assert "Resuelta" in row[:row.index("</tr>")]
    assert "Listo: tu factura se imprimirá en braille" in text(customer.get("/mi-oficina/avisos"))


@pytest.mark.parametrize(("value", "message"), [
    (None, "Elige un formato: normal, letra grande o braille."),
    ("dorado", "Elige un formato: normal, letra grande o braille."),
    ("normal", "Tu factura ya se imprime en formato normal. Elige otro formato"),
])
def test_an_odd_or_unchanged_format_is_a_422(app, customer, value, message):
    account_id = seed_account_id(app)
    data = {} if value is None else {f"contrato{account_id}-formato": value}
    response = post(customer, format_url(account_id), data)
    assert response.status_code == 422
    html = text(response)
    assert message in html and "<title>Error: Preferencias" in html
    assert f'href="#contrato{account_id}-formato-1"' in html
    assert requests_in_db(app) == []


def test_another_customers_contract_answers_404(app, customer):
    with app.app_context():
        other = db.session.scalars(
            select(Account.id).where(Account.number != SEED["account"]).order_by(Account.id)
        ).first()
    response = post(customer, format_url(other), {f"contrato{other}-formato": "braille"})
    assert response.status_code == 404
    assert requests_in_db(app) == []
    [event] = events(app, "access_denied")
    assert event.details == {"record": "contract", "record_id": other}
    assert post(customer, f"{PAGE}/formato/99999999999", {}).status_code == 404


def test_a_format_post_without_the_csrf_token_is_refused(app, customer):
    account_id = seed_account_id(app)
    response = post(customer, format_url(account_id),
                    {f"contrato{account_id}-formato": "braille"}, token=False)
    assert response.status_code == 400 and requests_in_db(app) == []


def test_signed_out_the_forms_lead_to_the_sign_in(app, client):
    assert client.get(PAGE).status_code in (302, 303)


def test_the_page_costs_the_same_queries_for_one_or_two_contracts(app, customer):
    from tests.support.queries import counting_queries

    customer.get(PAGE)
    with counting_queries(app) as one:
        customer.get(PAGE)
    with app.app_context():
        other = db.session.scalars(
            select(Account).where(Account.number != SEED["account"]).order_by(Account.id)
        ).first()
        db.session.add(UserAccount(user_id=the_user(app).id, account_id=other.id))
        db.session.commit()
        other_id = other.id
    html = text(customer.get(PAGE))
    assert f'action="{format_url(other_id)}"' in html  # both contracts are on the page
    with counting_queries(app) as two:
        customer.get(PAGE)
    assert len(two) == len(one) and len(one) < 20
    for account_id in (seed_account_id(app), other_id):
        assert post(customer, format_url(account_id),
                    {f"contrato{account_id}-formato": "braille"}).status_code == 303
    with counting_queries(app) as pending:
        customer.get(PAGE)
    assert len(pending) <= len(two) + 1


# --- two tabs at once ---------------------------------------------------------------------------

def test_two_format_requests_at_once_file_one_and_refuse_the_other(app, customer, monkeypatch):
    """Both pass the "is one open?" check before either inserts (a barrier holds them there;
    the row lock is taken away, as on SQLite where it does nothing): the database's unique
    index refuses the second, which answers 409 with the first one's line."""
    import threading

    account_id = seed_account_id(app)
    field = f"contrato{account_id}-formato"
    token = hidden(customer.get(PAGE).get_data(as_text=True), "csrf_token")
    barrier = threading.Barrier(2)
    checked = service_requests.open_bill_format_requests
    held = []  # the two checks wait for each other; the 409 page's own look is not held

    def check_together(user_id):
        found = checked(user_id)
        if len(held) < 2:
            held.append(user_id)
            barrier.wait()
        return found

    monkeypatch.setattr(service_requests, "take_turns", lambda user_id: None)
    monkeypatch.setattr(service_requests, "open_bill_format_requests", check_together)
    answers = {}

    def ask(value):
        answers[value] = customer.post(format_url(account_id),
                                       data={field: value, "csrf_token": token})

    threads = [threading.Thread(target=ask, args=(value,)) for value in ("braille", "letra_grande")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [made] = requests_in_db(app)
    statuses = sorted(response.status_code for response in answers.values())
    assert statuses == [303, 409]
    [refused] = [response for response in answers.values() if response.status_code == 409]
    assert "Ya tienes una solicitud abierta" in text(refused) and made.folio in text(refused)
    assert len(events(app, "bill_format_requested")) == 1


@pytest.mark.postgres
def test_on_postgresql_the_open_request_index_is_partial(app):
    from sqlalchemy import inspect

    with app.app_context():
        [index] = [index for index in inspect(db.engine).get_indexes("service_request")
                   if index["name"] == "ux_service_request_open_topic"]
        assert index["unique"] and "status" in index["dialect_options"]["postgresql_where"]


# --- a form's address reached by GET ------------------------------------------------------------

def test_a_forms_address_reached_by_get_leads_back_to_the_page(app, customer):
    account_id = seed_account_id(app)
    for url in (PAPERLESS, NOTICES, format_url(account_id)):
        response = customer.get(url)
        assert (response.status_code, response.location) == (303, PAGE), url


def test_resending_the_confirmation_from_a_refused_form_returns_to_the_page(app, customer):
    refused = post(customer, PAPERLESS, {})
    assert refused.status_code == 422
    html = text(refused)
    assert f'name="next" value="{PAPERLESS}"' in html  # the notice sends back to where it is
    resent = customer.post(RESEND, data={"csrf_token": hidden(html, "csrf_token"),
                                         "next": PAPERLESS}, follow_redirects=True)
    assert resent.status_code == 200 and resent.request.path == PAGE
    assert "Te enviamos un correo nuevo" in text(resent)


def test_a_contracts_form_address_reached_by_get_leads_back_to_its_page(app, customer):
    response = customer.get(f"/mi-oficina/contratos/{seed_account_id(app)}/nombre")
    assert (response.status_code, response.location) == (303, "/mi-oficina/contratos")


@pytest.mark.parametrize("url", ["/mi-oficina/avisos/leidos", "/mi-oficina/avisos/1/leido"])
def test_a_notices_form_address_reached_by_get_leads_back_to_its_page(app, customer, url):
    response = customer.get(url)
    assert (response.status_code, response.location) == (303, "/mi-oficina/avisos")


@pytest.mark.parametrize("value", ["dorado", None, "normal"])
def test_a_stale_page_posting_anything_while_a_request_is_open_is_a_409(app, customer, value):
    account_id = seed_account_id(app)
    field = f"contrato{account_id}-formato"
    assert post(customer, format_url(account_id), {field: "braille"}).status_code == 303
    [made] = requests_in_db(app)
    response = post(customer, format_url(account_id), {} if value is None else {field: value})
    assert response.status_code == 409
    html = text(response)
    assert "Ya tienes una solicitud abierta" in html and made.folio in html
    assert "<h2 id=\"resumen-errores\">Ya pediste un formato para este contrato</h2>" in html
    assert "dato que corregir" not in html and "Elige un formato" not in html
    assert f"Pendiente: pediste tu factura en braille el 01/12/2026, folio {made.folio}." in html
    assert len(requests_in_db(app)) == 1
