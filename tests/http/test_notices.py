"""Avisos through HTTP: newest first, unread ones marked, "Marcar como leído" for one and for
all (plain forms and htmx fragments), another customer's notice, CSRF and the count."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from ov.extensions import db
from ov.models import AuditEvent, Notice
from tests.http.test_office import counting_queries, customer, text
from tests.support.journeys import hidden, sign_in

pytestmark = pytest.mark.usefixtures("clean_db")

START = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def add_notices(app, user_id: int, titles: list[str], read: int = 0) -> list[int]:
    """Notices one hour apart, the first the oldest; the first ``read`` of them already read."""
    with app.app_context():
        made = [Notice(user_id=user_id, title=title, body=f"Texto de {title}.",
                       created_at=START + timedelta(hours=index),
                       read_at=START + timedelta(days=1) if index < read else None)
                for index, title in enumerate(titles)]
        db.session.add_all(made)
        db.session.commit()
        return [notice.id for notice in made]


def confirmed_customer(app, **options) -> dict:
    """A customer whose email is confirmed: no reminder joins the notices a test makes."""
    from ov.models import User

    made = customer(app, **options)
    with app.app_context():
        db.session.get(User, made["user_id"]).email_confirmed_at = START
        db.session.commit()
    return made


@pytest.fixture
def seed_customer(app):
    return confirmed_customer(app, invoices=3)


@pytest.fixture
def signed_in(client, seed_customer):
    assert sign_in(client, "usuPDFactura1").status_code == 303
    return client


def unread(app, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Notice).where(
            Notice.user_id == user_id, Notice.read_at.is_(None)))


def token(client) -> str:
    return hidden(text(client.get("/mi-oficina/avisos")), "csrf_token")


def test_notices_are_newest_first_and_unread_ones_say_so(app, signed_in, seed_customer):
    add_notices(app, seed_customer["user_id"], ["Primero", "Segundo", "Tercero"], read=1)
    html = text(signed_in.get("/mi-oficina/avisos"))
    assert html.index("Tercero") < html.index("Segundo") < html.index("Primero")
    items = re.findall(r'<li class="notice[^"]*" id="aviso-\d+">.*?</li>', html, re.S)
    assert len(items) == 3
    for item, is_unread in zip(items, (True, True, False), strict=True):
        # Seen and heard: the words "Sin leer" in the heading, not only a colour or a dot.
        assert ("Sin leer" in item) is is_unread
        assert ("Marcar como leído" in item) is is_unread
        assert ("notice--unread" in item) is is_unread
    assert "Avisos (2)" in html
    assert "Marcar todos como leídos" in html


def test_marking_one_without_javascript_goes_back_to_the_page(app, signed_in, seed_customer):
    ids = add_notices(app, seed_customer["user_id"], ["Corte programado", "Recordatorio"])
    response = signed_in.post(f"/mi-oficina/avisos/{ids[0]}/leido",
                              data={"csrf_token": token(signed_in)})
    assert response.status_code == 303
    assert response.location == f"/mi-oficina/avisos#aviso-{ids[0]}"
    page = text(signed_in.get("/mi-oficina/avisos"))
    assert "Marcaste «Corte programado» como leído." in page
    assert "Avisos (1)" in page
    assert unread(app, seed_customer["user_id"]) == 1
    again = signed_in.post(f"/mi-oficina/avisos/{ids[0]}/leido",
                           data={"csrf_token": token(signed_in)})
    assert again.status_code == 303  # already read: nothing changes, nothing breaks
    assert unread(app, seed_customer["user_id"]) == 1


def test_marking_all_without_javascript(app, signed_in, seed_customer):
    add_notices(app, seed_customer["user_id"], ["Uno", "Dos", "Tres"], read=1)
    response = signed_in.post("/mi-oficina/avisos/leidos", data={"csrf_token": token(signed_in)})
    assert response.status_code == 303 and response.location == "/mi-oficina/avisos"
    page = text(signed_in.get("/mi-oficina/avisos"))
    assert "Marcaste tus 2 avisos como leídos." in page
    assert "Avisos (0)" in page and "Marcar todos como leídos" not in page
    assert unread(app, seed_customer["user_id"]) == 0
    # The same button sent again from a page left open: nothing to mark, and it says so.
    again = signed_in.post("/mi-oficina/avisos/leidos", data={"csrf_token": token(signed_in)})
    assert again.status_code == 303
    assert "No tenías avisos sin leer." in text(signed_in.get("/mi-oficina/avisos"))


def test_marking_one_with_htmx_swaps_the_list_and_the_count(app, signed_in, seed_customer,
                                                            htmx_headers):
    ids = add_notices(app, seed_customer["user_id"], ["Corte programado", "Recordatorio"])
    html = text(signed_in.get("/mi-oficina/avisos"))
    form = re.search(rf'<form[^>]*action="/mi-oficina/avisos/{ids[0]}/leido"[^>]*>', html).group(0)
    assert f'data-hx-post="/mi-oficina/avisos/{ids[0]}/leido"' in form
    assert 'data-hx-target="#contenido"' in form
    response = signed_in.post(f"/mi-oficina/avisos/{ids[0]}/leido",
                              data={"csrf_token": token(signed_in)}, headers=htmx_headers)
    assert response.status_code == 200
    assert "HX-Push-Url" not in response.headers  # the page's address stays /mi-oficina/avisos
    fragment = text(response)
    assert "<html" not in fragment and "<title>Avisos" in fragment
    assert "Avisos (1)" in fragment
    marked = re.search(rf'<li class="notice" id="aviso-{ids[0]}">.*?</li>', fragment, re.S)
    assert marked and "data-focus" in marked.group(0) and "(marcado como leído)" in marked.group(0)
    assert "Sin leer" in re.search(rf'id="aviso-{ids[1]}">.*?</li>', fragment, re.S).group(0)


def test_marking_all_with_htmx(app, signed_in, seed_customer, htmx_headers):
    add_notices(app, seed_customer["user_id"], ["Uno", "Dos"])
    response = signed_in.post("/mi-oficina/avisos/leidos", data={"csrf_token": token(signed_in)},
                              headers=htmx_headers)
    assert response.status_code == 200
    fragment = text(response)
    assert "<html" not in fragment and "Avisos (0)" in fragment and "Sin leer" not in fragment
    assert re.search(r'<p [^>]*data-focus[^>]*>Marcaste tus 2 avisos como leídos.</p>', fragment)


def test_another_customers_notice_answers_404_and_is_audited(app, signed_in, seed_customer):
    other = confirmed_customer(app, invoices=1, username="otraPersona2", number="5550001")
    theirs = add_notices(app, other["user_id"], ["De otra persona"])[0]
    for notice_id in (theirs, 999999):
        response = signed_in.post(f"/mi-oficina/avisos/{notice_id}/leido",
                                  data={"csrf_token": token(signed_in)})
        assert response.status_code == 404
        assert "Página no encontrada" in text(response)
    assert signed_in.post("/mi-oficina/avisos/99999999999999999999/leido",
                          data={"csrf_token": token(signed_in)}).status_code == 404
    assert unread(app, other["user_id"]) == 1
    with app.app_context():
        denied = db.session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "access_denied").order_by(AuditEvent.id)).all()
        assert [(event.user_id, event.details["record_id"]) for event in denied] == [
            (seed_customer["user_id"], theirs), (seed_customer["user_id"], 999999)]


def test_marking_all_leaves_other_customers_notices_alone(app, signed_in, seed_customer):
    other = confirmed_customer(app, invoices=1, username="otraPersona2", number="5550001")
    add_notices(app, other["user_id"], ["De otra persona"])
    add_notices(app, seed_customer["user_id"], ["Mío"])
    signed_in.post("/mi-oficina/avisos/leidos", data={"csrf_token": token(signed_in)})
    assert unread(app, seed_customer["user_id"]) == 0
    assert unread(app, other["user_id"]) == 1


def test_marking_is_audited(app, signed_in, seed_customer):
    ids = add_notices(app, seed_customer["user_id"], ["Uno", "Dos", "Tres"])
    signed_in.post(f"/mi-oficina/avisos/{ids[0]}/leido", data={"csrf_token": token(signed_in)})
    signed_in.post("/mi-oficina/avisos/leidos", data={"csrf_token": token(signed_in)})
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.kind.in_(["notice_read", "notices_read"])).order_by(AuditEvent.id)).all()
        assert [(e.kind, e.details) for e in events] == [
            ("notice_read", {"notice_id": ids[0]}), ("notices_read", {"count": 2})]


@pytest.mark.parametrize("url", ["/mi-oficina/avisos/{id}/leido", "/mi-oficina/avisos/leidos"])
def test_marking_needs_the_forms_csrf_token(app, signed_in, seed_customer, url):
    ids = add_notices(app, seed_customer["user_id"], ["Uno"])
    response = signed_in.post(url.format(id=ids[0]), data={})
    assert response.status_code == 400
    assert unread(app, seed_customer["user_id"]) == 1


def test_marking_needs_a_signed_in_customer(app, client, seed_customer):
    ids = add_notices(app, seed_customer["user_id"], ["Uno"])
    for url in (f"/mi-oficina/avisos/{ids[0]}/leido", "/mi-oficina/avisos/leidos"):
        login_form = text(client.get("/entrar"))
        response = client.post(url, data={"csrf_token": hidden(login_form, "csrf_token")})
        assert response.status_code == 302 and response.location.startswith("/entrar")
    assert unread(app, seed_customer["user_id"]) == 1


def test_the_unread_count_is_one_query_on_every_office_page(app, signed_in, seed_customer):
    from tests.http.test_office import PAGES

    add_notices(app, seed_customer["user_id"], [f"Aviso {n}" for n in range(30)], read=10)
    for url in PAGES:
        signed_in.get(url)
        with counting_queries(app) as statements:
            html = text(signed_in.get(url))
        assert "Avisos (20)" in html, url
        counts = [s for s in statements if "count(" in s.lower() and "notice" in s.lower()]
        assert len(counts) == 1, (url, counts)


# --- zone-wide service notices as banners --------------------------------------------------

DURING = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # 10:00 in Mexico City


@pytest.fixture
def zone_notices(app, seed_customer, monkeypatch):
    """One notice for the customer's zone, one for every zone, one for Monterrey, one over;
    the clock stopped while the first three are current."""
    from ov.models import Zone, ZoneNotice
    from ov.services import notices

    with app.app_context():
        monterrey = Zone(id=1, code="MTY", name="Monterrey", cities="Monterrey")
        day = dict(starts_at=datetime(2026, 12, 2, 15, 0, tzinfo=UTC),
                   ends_at=datetime(2026, 12, 3, 0, 0, tzinfo=UTC))
        db.session.add_all([
            monterrey,
            ZoneNotice(zone_id=3, title="Corte en Nuevo Laredo", body="Colonia Madero.", **day),
            ZoneNotice(zone_id=None, title="Pagos en línea en pausa", body="De 9 a 11 h.",
                       **day),
            ZoneNotice(zone=monterrey, title="Mantenimiento en Monterrey", body="Centro.",
                       **day),
            ZoneNotice(zone_id=3, title="Ya terminó", body="Ayer.",
                       starts_at=datetime(2026, 12, 1, 15, 0, tzinfo=UTC),
                       ends_at=datetime(2026, 12, 2, 0, 0, tzinfo=UTC)),
        ])
        db.session.commit()
    monkeypatch.setattr(notices, "utcnow", lambda: DURING)


def test_mi_oficina_home_shows_the_notices_of_the_customers_zone(signed_in, zone_notices):
    html = text(signed_in.get("/mi-oficina"))
    banner = re.search(r'<section class="service-notices".*?</section>', html, re.S).group(0)
    assert "Corte en Nuevo Laredo" in banner and "Pagos en línea en pausa" in banner
    assert "Mantenimiento en Monterrey" not in banner and "Ya terminó" not in banner
    assert "Del 02/12/2026 09:00 al 02/12/2026 18:00" in banner  # Mexico City time
    assert "Corte en Nuevo Laredo" not in text(signed_in.get("/mi-oficina/facturas"))


def test_the_public_home_shows_every_current_notice_grouped_by_zone(client, zone_notices):
    html = text(client.get("/"))
    banner = re.search(r'<section class="service-notices".*?</section>', html, re.S).group(0)
    headings = re.findall(r"<h3>(.*?)</h3>", banner)
    assert headings == ["Todas las zonas", "Monterrey", "Nuevo Laredo"]
    assert banner.index("Pagos en línea en pausa") < banner.index("Mantenimiento en Monterrey")
    assert banner.index("Mantenimiento en Monterrey") < banner.index("Corte en Nuevo Laredo")
    assert "Ya terminó" not in banner


def test_no_banner_before_a_notice_starts_or_after_it_ends(client, signed_in, zone_notices,
                                                           monkeypatch):
    from ov.services import notices

    for moment in (datetime(2026, 12, 2, 14, 59, tzinfo=UTC),
                   datetime(2026, 12, 3, 0, 0, tzinfo=UTC)):
        monkeypatch.setattr(notices, "utcnow", lambda moment=moment: moment)
        assert "service-notices" not in text(signed_in.get("/mi-oficina"))
        assert "service-notices" not in text(client.get("/"))


# --- the "email not confirmed" notice ----------------------------------------------------

def register(app, client, **step3):
    from tests.support.journeys import Registration

    journey = Registration(client, app)
    assert journey.step1().status_code == 303 and journey.step2().status_code == 303
    assert journey.step3(**step3).status_code == 303


def test_signing_in_unconfirmed_leaves_one_notice_and_one_mail(app, client, billing, tmp_path):
    from ov.models import OutboxMail
    from tests.support.nu import Documents, describe

    register(app, client, avisos="y")
    with app.app_context():
        welcome = db.session.scalar(select(func.count()).select_from(OutboxMail))
    for _ in range(2):  # the second sign-in makes nothing new
        assert sign_in(client, "usuPDFactura1").status_code == 303
        page = text(client.get("/mi-oficina/avisos"))
        assert "Avisos (1)" in page and "Confirma tu correo electrónico" in page
        client.post("/salir", data={"csrf_token": hidden(page, "csrf_token")})
    with app.app_context():
        mails = db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        assert len(mails) == welcome + 1
        assert mails[-1].subject == "Aviso: Confirma tu correo electrónico"
        assert mails[-1].to_address == "correo@electronico.es"
    documents = Documents(tmp_path)
    documents.add("the notice's mail", mails[-1].body_html)
    assert not documents.errors(), describe(documents.errors())
    confirm = re.search(r"(/confirmar-correo/\S+)", mails[-1].body_text).group(1)
    assert sign_in(client, "usuPDFactura1").status_code == 303
    form = text(client.get(confirm))
    assert client.post(confirm, data={"csrf_token": hidden(form, "csrf_token")}).status_code == 303
    assert "Avisos (0)" in text(client.get("/mi-oficina/avisos"))


def test_a_customer_who_chose_no_notices_by_mail_gets_the_notice_only(app, client, billing):
    from ov.models import OutboxMail

    register(app, client)  # "avisos" not ticked
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(OutboxMail))
    assert sign_in(client, "usuPDFactura1").status_code == 303
    assert "Confirma tu correo electrónico" in text(client.get("/mi-oficina/avisos"))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == before


def test_the_mark_read_fragments_stay_within_the_swap_budget(app, signed_in, seed_customer,
                                                            htmx_headers):
    """A form swap costs a slow phone at most 2 KB on the wire (docs/budgets.md), with a
    full list of fifty notices."""
    ids = add_notices(app, seed_customer["user_id"],
                      [f"Tu factura de {n} ya está disponible" for n in range(50)])
    headers = {**htmx_headers, "Accept-Encoding": "br, gzip"}
    for url in (f"/mi-oficina/avisos/{ids[0]}/leido", "/mi-oficina/avisos/leidos"):
        response = signed_in.post(url, data={"csrf_token": token(signed_in)}, headers=headers)
        assert response.status_code == 200 and response.headers["Content-Encoding"] == "br"
        assert len(response.data) <= 2 * 1024, (url, len(response.data))


def test_the_public_home_still_answers_when_the_database_does_not(client, monkeypatch):
    """The home page needs no database but for its banners: without one it shows none."""
    from sqlalchemy.exc import OperationalError

    from ov.services import notices

    def unreachable(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(notices, "current_zone_notices", unreachable)
    response = client.get("/")
    assert response.status_code == 200
    assert "service-notices" not in text(response) and "Regístrate" in text(response)
