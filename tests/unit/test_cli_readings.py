"""``flask --app ov readings``: staff list the readings customers sent and accept or reject
them; the customer is told with a notice, once."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import AuditEvent, Notice, ReadingSubmission
from ov.services import photos, readings
from tests.support import images
from tests.support.factories import make_customer

pytestmark = pytest.mark.usefixtures("clean_db")
DAY = date(2026, 12, 1)


def run(app, *args):
    return app.test_cli_runner().invoke(args=["readings", *args])


@pytest.fixture
def sent(app) -> dict:
    with app.app_context():
        user, account = make_customer()
        first = readings.submit(user_id=user.id, account_id=account.id, value=1234,
                                read_on=DAY, confirmed="lower").submission
        second = readings.submit(user_id=user.id, account_id=account.id, value=1240,
                                 read_on=date(2026, 12, 2)).submission
        db.session.commit()
        return {"user_id": user.id, "first": first.id, "second": second.id}


def notices_of(app, user_id: int) -> list[tuple[str, str]]:
    with app.app_context():
        return [(n.title, n.body) for n in db.session.scalars(
            select(Notice).where(Notice.user_id == user_id).order_by(Notice.id))]


def test_list_shows_each_reading_with_its_contract_and_what_was_confirmed(app, sent):
    result = run(app, "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{sent['first']}  en revisión  01/12/2026  Nuevo Laredo "
                               "8295249-7  1,234 m³")
    assert "confirmó: menor que la última real" in lines[0]
    assert lines[1].startswith(f"{sent['second']}  en revisión  02/12/2026")
    assert run(app, "list", "--limit", "1").output.splitlines()[-1].startswith("Hay más")


def test_accept_moves_it_once_and_tells_the_customer(app, sent):
    result = run(app, "accept", str(sent["first"]))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (f"Lectura {sent['first']} del contrato 8295249-7: "
                                     "aceptada.")
    assert notices_of(app, sent["user_id"]) == [(
        "Aceptamos tu lectura del contrato 8295249-7",
        "Revisamos la lectura de 1,234 m³ que nos diste el 01/12/2026: la usaremos para tu "
        "factura.")]
    again = run(app, "reject", str(sent["first"]), "--note", "x")
    assert again.exit_code != 0 and "ya se revisó: está aceptada." in again.output
    pending = run(app, "list", "--pending").output
    assert str(sent["second"]) in pending and "aceptada" not in pending
    with app.app_context():
        assert db.session.get(ReadingSubmission, sent["first"]).status == "accepted"
        assert db.session.scalars(select(AuditEvent.details["status"].as_string()).where(
            AuditEvent.kind == "reading_reviewed")).all() == ["accepted"]


def test_reject_needs_a_reason_that_the_customer_reads(app, sent):
    refused = run(app, "reject", str(sent["second"]), "--note", "  ")
    assert refused.exit_code != 0 and "escribe el motivo" in refused.output
    done = run(app, "reject", str(sent["second"]), "--note",
               "La foto no deja leer los números.")
    assert done.exit_code == 0, done.output
    [(title, body)] = notices_of(app, sent["user_id"])
    assert title == "No pudimos usar tu lectura del contrato 8295249-7"
    assert body.endswith("no la usaremos. La foto no deja leer los números.")


def test_an_unknown_reading_is_a_clear_error(app, sent):
    result = run(app, "accept", "999999")
    assert result.exit_code != 0 and "No hay ninguna lectura con el número 999999" in (
        result.output)


def test_the_note_is_kept_with_its_line_breaks_and_a_long_one_is_refused_not_cut(app, sent):
    too_long = run(app, "reject", str(sent["second"]), "--note", "x" * 2001)
    assert too_long.exit_code != 0 and "el máximo es 2,000" in too_long.output
    with app.app_context():
        assert db.session.get(ReadingSubmission, sent["second"]).status == "received"
    note = "La foto no deja leer los números.\r\n\r\nEnvía otra con más luz."
    done = run(app, "reject", str(sent["second"]), "--note", note)
    assert done.exit_code == 0, done.output
    with app.app_context():
        kept = db.session.get(ReadingSubmission, sent["second"])
        assert kept.review_note == ("La foto no deja leer los números.\n\n"
                                    "Envía otra con más luz.")
    long_enough = "y" * 2000
    assert run(app, "accept", str(sent["first"]), "--note", long_enough).exit_code == 0
    with app.app_context():
        assert db.session.get(ReadingSubmission, sent["first"]).review_note == long_enough


def test_list_prints_where_each_photo_file_is(app):
    with app.app_context():
        user, account = make_customer()
        photo = photos.keep(photos.prepare(BytesIO(images.photo(400, 300))), user_id=user.id,
                            account_id=account.id)
        sent = readings.submit(user_id=user.id, account_id=account.id, value=1234,
                               read_on=DAY, photo=photo).submission
        db.session.commit()
        sent_id, photo_id, path = sent.id, photo.id, photos.path_of(photo)
    [line] = run(app, "list").output.splitlines()
    assert line.startswith(f"{sent_id}  ")
    assert f"(foto {photo_id}: {path})" in line
