"""The notices service without HTTP: marking read, event notices, zone-wide service notices."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from ov.extensions import db
from ov.models import Notice
from ov.services import notices
from ov.services.office import Scope
from tests.support.factories import make_customer

pytestmark = pytest.mark.usefixtures("clean_db")

NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def test_marking_read_goes_through_the_users_scope(app):
    with app.app_context():
        user, _ = make_customer()
        other, _ = make_customer(username="otraPersona2", email="otra@ejemplo.mx",
                                 number="5550001")
        mine = Notice(user_id=user.id, title="Mío", body="x")
        theirs = Notice(user_id=other.id, title="Suyo", body="x")
        db.session.add_all([mine, theirs])
        db.session.flush()
        scope = Scope.of(user.id)
        assert notices.mark_read(scope, theirs.id, NOW) is None
        assert theirs.read_at is None
        assert notices.mark_read(scope, mine.id, NOW) is mine and mine.read_at == NOW
        later = datetime(2026, 12, 2, tzinfo=UTC)
        assert notices.mark_read(scope, mine.id, later).read_at == NOW  # the first reading


def test_marking_all_read_counts_only_the_users_unread_notices(app):
    with app.app_context():
        user, _ = make_customer()
        other, _ = make_customer(username="otraPersona2", email="otra@ejemplo.mx",
                                 number="5550001")
        db.session.add_all([Notice(user_id=user.id, title=str(n), body="x") for n in range(3)]
                           + [Notice(user_id=user.id, title="leído", body="x", read_at=NOW),
                              Notice(user_id=other.id, title="suyo", body="x")])
        db.session.flush()
        assert notices.mark_all_read(Scope.of(user.id), NOW) == 3
        assert notices.mark_all_read(Scope.of(user.id), NOW) == 0
        assert Scope.of(user.id).unread_notices() == 0
        assert Scope.of(other.id).unread_notices() == 1


# --- zone-wide service notices -------------------------------------------------------------

def zone_notice(app, zone: str = "Nuevo Laredo", starts: str = "2026-12-02 09:00",
                ends: str = "2026-12-02 18:00", title: str = "Mantenimiento de la red",
                text: str = "Sin gas de 9 a 18 h.", now: datetime = NOW):
    """Post a notice as staff do (local Mexico City times), after the zone exists."""
    return notices.post_zone_notice(zone=zone, title=title, text=text,
                                    starts=starts, ends=ends, now=now)


@pytest.fixture
def zones(app):
    from ov.models import Zone

    with app.app_context():
        db.session.add_all([Zone(id=1, code="MTY", name="Monterrey", cities="Monterrey"),
                            Zone(id=4, code="BJN", name="Bajío Norte", cities="León")])
        make_customer()  # Nuevo Laredo (zone 3)
        db.session.commit()


def test_times_are_typed_in_mexico_city_and_stored_in_utc(app, zones):
    with app.app_context():
        made = zone_notice(app)
        db.session.commit()
        assert made.starts_at == datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # UTC-6, no DST
        assert made.ends_at == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
        assert made.zone.name == "Nuevo Laredo"


def test_a_zone_is_found_whatever_its_accents_and_letter_case(app, zones):
    with app.app_context():
        assert zone_notice(app, zone="bajio norte").zone.name == "Bajío Norte"
        assert zone_notice(app, zone="Todas").zone is None  # every zone


@pytest.mark.parametrize(("answers", "message"), [
    ({"zone": "Monterey"}, "No hay ninguna zona «Monterey». Las zonas son: Bajío Norte, "
                           "Monterrey, Nuevo Laredo (o «todas»)."),
    ({"starts": "2026-12-02 18:00", "ends": "2026-12-02 09:00"},
     "El fin (--hasta) debe ser posterior al inicio (--desde)."),
    ({"starts": "2026-12-02 09:00", "ends": "2026-12-02 09:00"},
     "El fin (--hasta) debe ser posterior al inicio (--desde)."),
    ({"starts": "02/12/2026 09:00"},
     "La fecha de inicio (--desde) «02/12/2026 09:00» no es válida: escríbela como "
     "AAAA-MM-DD HH:MM, en hora de la Ciudad de México (por ejemplo 2026-12-02 09:00)."),
    ({"ends": "2026-02-30 18:00"},
     "La fecha de fin (--hasta) «2026-02-30 18:00» no es válida: escríbela como "
     "AAAA-MM-DD HH:MM, en hora de la Ciudad de México (por ejemplo 2026-12-02 09:00)."),
    ({"starts": "2026-11-01 09:00", "ends": "2026-11-01 18:00"},
     "El aviso terminaría el 01/11/2026 18:00, que ya pasó."),
    ({"title": "  "}, "Falta el título (--titulo)."),
    ({"text": ""}, "Falta el texto (--texto)."),
    ({"title": "x" * 121}, "El título (--titulo) tiene 121 caracteres; el máximo es 120."),
])
def test_bad_zone_notices_are_refused_with_a_clear_message(app, zones, answers, message):
    with app.app_context():
        with pytest.raises(notices.NoticeError) as refused:
            zone_notice(app, **answers)
        assert str(refused.value) == message


def test_a_zone_notice_is_current_from_its_start_until_its_end(app, zones):
    with app.app_context():
        made = zone_notice(app)
        db.session.commit()
        before = datetime(2026, 12, 2, 14, 59, tzinfo=UTC)
        start = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
        last = datetime(2026, 12, 2, 23, 59, tzinfo=UTC)
        end = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
        assert notices.current_zone_notices(before) == []
        assert notices.current_zone_notices(start) == [made]
        assert notices.current_zone_notices(last) == [made]
        assert notices.current_zone_notices(end) == []


def test_a_user_sees_the_notices_of_their_zones_and_of_every_zone(app, zones):
    with app.app_context():
        ours = zone_notice(app, title="Nuestra zona")
        everyone = zone_notice(app, zone="todas", title="Todas")
        zone_notice(app, zone="Monterrey", title="Otra zona")
        db.session.commit()
        during = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
        assert notices.current_zone_notices(during, zone_ids=[3]) == [everyone, ours]
        assert len(notices.current_zone_notices(during)) == 3
        groups = notices.by_zone(notices.current_zone_notices(during))
        assert [(name, [n.title for n in items]) for name, items in groups] == [
            ("Todas las zonas", ["Todas"]), ("Monterrey", ["Otra zona"]),
            ("Nuevo Laredo", ["Nuestra zona"])]


def test_ending_a_zone_notice_takes_it_down_at_once(app, zones):
    with app.app_context():
        made = zone_notice(app)
        upcoming = zone_notice(app, starts="2026-12-05 09:00", ends="2026-12-05 12:00")
        db.session.commit()
        during = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
        assert notices.end_zone_notice(made.id, during).ends_at == during
        assert notices.current_zone_notices(during) == []
        ended = notices.end_zone_notice(upcoming.id, during)  # not started: never shown
        assert ended.starts_at == ended.ends_at == upcoming.starts_at
        with pytest.raises(notices.NoticeError, match="ningún aviso de zona con el número 999"):
            notices.end_zone_notice(999, during)


# --- the staff command -------------------------------------------------------------------

@pytest.fixture
def frozen(monkeypatch):
    """The notices' clock stopped at NOW (18:00 UTC, noon in Mexico City, 1 December)."""
    monkeypatch.setattr(notices, "utcnow", lambda: NOW)
    return NOW


def run(app, *args):
    return app.test_cli_runner().invoke(args=["notice", *args])


ADD = ["add", "--zona", "Monterrey", "--titulo", "Mantenimiento", "--texto",
       "Sin gas de 9 a 18 h.", "--desde", "2026-12-02 09:00", "--hasta", "2026-12-02 18:00"]


def test_staff_post_list_and_end_a_notice_from_the_command_line(app, zones, frozen):
    added = run(app, *ADD)
    assert added.exit_code == 0, added.output
    # The number is the database's (PostgreSQL's sequences keep counting between tests).
    number = re.match(r"Aviso (\d+) publicado", added.output).group(1)
    assert added.output == (f"Aviso {number} publicado para Monterrey: del 02/12/2026 09:00 al "
                            "02/12/2026 18:00 (hora de la Ciudad de México).\n")
    listed = run(app, "list")
    assert listed.exit_code == 0
    assert listed.output.splitlines() == [
        f"{number}  Monterrey  02/12/2026 09:00 – 02/12/2026 18:00  próximo  Mantenimiento"]
    ended = run(app, "end", number)
    assert ended.exit_code == 0
    assert ended.output == f"Aviso {number} terminado: ya no se muestra.\n"
    assert run(app, "list").output == "No hay avisos de zona vigentes ni próximos.\n"
    assert "terminado" in run(app, "list", "--todos").output


@pytest.mark.parametrize(("change", "message"), [
    ({"--zona": "Monterey"}, "No hay ninguna zona «Monterey»."),
    ({"--hasta": "2026-12-02 08:00"}, "El fin (--hasta) debe ser posterior al inicio"),
    ({"--desde": "mañana"}, "La fecha de inicio (--desde) «mañana» no es válida"),
    ({"--hasta": "9999-12-31 23:00"}, "está fuera de los años 2000 a 2099"),
    ({"--desde": "0001-01-01 00:00"}, "está fuera de los años 2000 a 2099"),
    ({"--titulo": "T\udcff"}, "tiene un carácter que no se puede mostrar (U+DCFF)"),
    ({"--texto": "Sin gas\x1b[31m"}, "tiene un carácter que no se puede mostrar (U+001B)"),
])
def test_the_command_refuses_bad_input_with_a_clear_message(app, zones, frozen, change,
                                                             message):
    args = list(ADD)
    for option, value in change.items():
        args[args.index(option) + 1] = value
    refused = run(app, *args)
    assert refused.exit_code == 1
    assert message in refused.output and "Traceback" not in refused.output
    with app.app_context():
        assert notices.zone_notices(NOW, ended=True) == []


def test_ending_an_unknown_notice_says_so(app, zones, frozen):
    refused = run(app, "end", "42")
    assert refused.exit_code == 1
    assert "No hay ningún aviso de zona con el número 42." in refused.output


# --- notices created by events -----------------------------------------------------------

def outbox_to(address: str) -> list:
    from sqlalchemy import select

    from ov.models import OutboxMail

    return list(db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == address)))


def user_notices(user) -> list[Notice]:
    from sqlalchemy import select

    return list(db.session.scalars(select(Notice).where(Notice.user_id == user.id)))


def test_an_event_notice_is_created_once_with_one_mail_even_if_called_twice(app):
    with app.test_request_context():
        user, _ = make_customer()
        user.email_notices = True
        first = notices.remind_unconfirmed_email(user)
        second = notices.remind_unconfirmed_email(user)
        db.session.commit()
        assert first is not None and second is None
        [notice] = user_notices(user)
        assert notice.kind == "email_unconfirmed"
        assert notice.title == "Confirma tu correo electrónico"
        assert "cliente@ejemplo.mx" in notice.body and notice.read_at is None
        [sent] = outbox_to("cliente@ejemplo.mx")
        assert first.mail is sent and sent.subject == "Aviso: Confirma tu correo electrónico"
        assert "/confirmar-correo/" in sent.body_text and "/mi-oficina/avisos" in sent.body_text


def test_the_unique_key_holds_when_two_requests_race_past_the_check(app, monkeypatch):
    """Two requests both find no notice, then both insert: the second insert is refused by
    the (user, kind, key) constraint and gives no second notice and no second mail."""
    with app.test_request_context():
        user, _ = make_customer()
        db.session.commit()
        assert notices.remind_unconfirmed_email(user) is not None
        db.session.commit()
        monkeypatch.setattr(notices, "_exists", lambda *args: False)
        assert notices.remind_unconfirmed_email(user) is None
        db.session.commit()
        assert len(user_notices(user)) == 1
        assert len(outbox_to(user.email)) == 1


def test_no_mail_for_a_user_who_did_not_ask_for_notices_by_email(app):
    with app.test_request_context():
        user, _ = make_customer()
        user.email_notices = False
        made = notices.remind_unconfirmed_email(user)
        db.session.commit()
        assert made.mail is None and len(user_notices(user)) == 1
        assert outbox_to(user.email) == []


def test_a_confirmed_email_needs_no_reminder(app):
    with app.test_request_context():
        user, _ = make_customer()
        user.email_confirmed_at = NOW
        assert notices.remind_unconfirmed_email(user) is None
        assert user_notices(user) == [] and outbox_to(user.email) == []


def test_a_new_unconfirmed_address_gets_its_own_reminder(app):
    with app.test_request_context():
        user, _ = make_customer()
        assert notices.remind_unconfirmed_email(user) is not None
        user.email = "nuevo@ejemplo.mx"
        assert notices.remind_unconfirmed_email(user) is not None
        assert len(user_notices(user)) == 2


def test_confirming_the_email_marks_its_reminder_read(app):
    with app.test_request_context():
        user, _ = make_customer()
        notices.remind_unconfirmed_email(user)
        db.session.commit()
        user.email_confirmed_at = NOW
        assert notices.email_confirmed(user.id, NOW) == 1
        db.session.commit()
        assert [n.read_at for n in user_notices(user)] == [NOW]
        assert Scope.of(user.id).unread_notices() == 0


@pytest.mark.parametrize("number", ["99999999999", "99999999999999999999"])
def test_ending_a_notice_number_out_of_range_is_a_clear_refusal(app, zones, number):
    refused = run(app, "end", number)
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert refused.exception is None or isinstance(refused.exception, SystemExit)


@pytest.mark.parametrize(("action", "link"), [
    (("Ver mi solicitud", "http://127.0.0.1:5000/mi-oficina/solicitudes/7"),
     "/mi-oficina/solicitudes/7"),
    (("Ver mis preferencias", "https://oficina.example/mi-oficina/datos/preferencias"),
     "/mi-oficina/datos/preferencias"),
    (("Confirmar mi correo", "http://127.0.0.1:5000/cuenta/confirmar/abc.def"), None),
    (("Ver", "http://127.0.0.1:5000/mi-oficina/deshacer?token=abc"), None),
    (None, None),
])
def test_a_notice_keeps_its_action_as_a_link_only_to_a_page_of_mi_oficina(app, action, link):
    with app.test_request_context():
        user, _ = make_customer()
        made = notices.notify(user, notices.REQUEST_STATUS, "SR-2026-000007:in_progress",
                              title="Tu reclamo está en proceso", body="Texto",
                              action=action)
        assert made.notice.link == link
        assert made.notice.link_label == (action[0] if link else None)
