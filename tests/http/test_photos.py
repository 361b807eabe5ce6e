"""Photos are shown back only to the customer who sent them, as the portal's own JPEG; the
routes that take a photo accept a larger body than the rest of the site."""

from __future__ import annotations

from io import BytesIO

import pytest
from flask import request
from sqlalchemy import select

from ov import create_app, uploads
from ov.extensions import db
from ov.models import AuditEvent, Photo, UserAccount
from ov.services import passwords, photos
from tests.conftest import settings_for
from tests.support import images
from tests.support.factories import make_customer
from tests.support.journeys import PASSWORD, sign_in

pytestmark = pytest.mark.usefixtures("clean_db")


def customer_with_photo(app, username: str, number: str) -> dict:
    with app.app_context():
        user, account = make_customer(username=username, number=number,
                                      email=f"{username.lower()}@ejemplo.mx",
                                      password_hash=passwords.hash_password(PASSWORD))
        kept = photos.keep(photos.prepare(BytesIO(images.photo(800, 600))), user_id=user.id,
                           account_id=account.id)
        db.session.commit()
        return {"user_id": user.id, "account_id": account.id, "photo_id": kept.id,
                "path": photos.path_of(kept)}


def test_the_owner_sees_the_photo_as_a_private_jpeg_under_the_portals_name(app, client):
    mine = customer_with_photo(app, "usuFotoPropia1", "8295249")
    assert mine["path"].is_file() and mine["path"].suffix == ".jpg"
    sign_in(client, "usuFotoPropia1")
    response = client.get(f"/mi-oficina/fotos/{mine['photo_id']}.jpg")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == (
        f'inline; filename="foto-{mine["photo_id"]}.jpg"')
    assert response.data == mine["path"].read_bytes()
    assert b"Exif" not in response.data


def test_another_customers_photo_or_an_unlinked_contracts_answers_404(app, client):
    mine = customer_with_photo(app, "usuFotoPropia1", "8295249")
    theirs = customer_with_photo(app, "usuFotoAjena01", "1234567")
    sign_in(client, "usuFotoPropia1")
    assert client.get(f"/mi-oficina/fotos/{theirs['photo_id']}.jpg").status_code == 404
    assert client.get("/mi-oficina/fotos/999999.jpg").status_code == 404
    with app.app_context():
        denied = db.session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "access_denied", AuditEvent.user_id == mine["user_id"])).all()
        assert [event.details["record_id"] for event in denied] == [theirs["photo_id"], 999999]
        db.session.execute(UserAccount.__table__.delete().where(
            UserAccount.user_id == mine["user_id"]))
        db.session.commit()
    # The contract left the user: the photo of its meter is no longer theirs to see.
    assert client.get(f"/mi-oficina/fotos/{mine['photo_id']}.jpg").status_code == 404


def test_a_photo_whose_file_is_gone_answers_404_not_500(app, client):
    mine = customer_with_photo(app, "usuFotoPropia1", "8295249")
    mine["path"].unlink()
    sign_in(client, "usuFotoPropia1")
    assert client.get(f"/mi-oficina/fotos/{mine['photo_id']}.jpg").status_code == 404


def test_kept_files_get_fresh_names_and_private_permissions(app):
    with app.app_context():
        user, account = make_customer(username="usuFotoPermiso", number="7654321")
        prepared = photos.prepare(BytesIO(images.photo(300, 200)))
        first = photos.keep(prepared, user_id=user.id, account_id=account.id)
        second = photos.keep(prepared, user_id=user.id, account_id=account.id)
        assert first.stored_name != second.stored_name
        assert photos.path_of(first).stat().st_mode & 0o077 == 0
        assert first.byte_size == len(prepared.jpeg) == photos.path_of(first).stat().st_size
        photos.discard([first, second])
        assert not photos.path_of(first).exists()
        db.session.rollback()
        assert db.session.scalar(select(Photo.id)) is None


BOUNDARY = "limite-de-prueba"


def multipart(content: bytes) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"foto\"; "
            f"filename=\"foto.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode() + (
        content + f"\r\n--{BOUNDARY}--\r\n".encode())


def test_only_routes_that_take_a_photo_accept_a_large_body(tmp_path):
    app = create_app({**settings_for(tmp_path), "OV_PHOTO_MAX_MB": 2,
                      "WTF_CSRF_ENABLED": False})

    @app.post("/_foto")
    @uploads.accepts_photo
    def takes():
        upload = request.files["foto"]
        return str(len(upload.read()))

    @app.post("/_texto")
    def plain():
        return str(len(request.files["foto"].read()))

    client = app.test_client()
    one_mb = b"x" * (1024 * 1024)

    def send(path, body):
        # The body built here: the test client would spool a large one to a temporary file
        # it never closes.
        return client.post(path, data=multipart(body),
                           content_type=f"multipart/form-data; boundary={BOUNDARY}")

    assert send("/_foto", one_mb).get_data(as_text=True) == str(len(one_mb))
    refused = send("/_texto", one_mb)
    assert refused.status_code == 413
    assert "Envío demasiado grande" in refused.get_data(as_text=True)
    too_big = send("/_foto", one_mb * 3)
    assert too_big.status_code == 413
    page = too_big.get_data(as_text=True)
    assert "La foto pesa más de 2 MB" in page and "no se guardó nada" in page
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
