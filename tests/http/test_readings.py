"""Autolectura over HTTP: the form, its errors, the confirm step, the estimated bill it may
correct, and the reading's own page, for the signed-in customer only."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import Account, AuditEvent, Invoice, Photo, ReadingSubmission, UserAccount
from ov.services import passwords, photos, readings
from tests.support import images
from tests.support.factories import make_customer, make_invoices
from tests.support.journeys import PASSWORD, hidden, sign_in
from tests.support.queries import counting_queries

pytestmark = pytest.mark.usefixtures("clean_db")

URL = "/mi-oficina/consumos/lectura"


def text(response) -> str:
    return response.get_data(as_text=True)


def customer(app, username: str = "usuLectura01", number: str | None = None,
             invoices: int = 6) -> dict:
    with app.app_context():
        user, account = make_customer(username=username, number=number,
                                      email=f"{username.lower()}@ejemplo.mx",
                                      password_hash=passwords.hash_password(PASSWORD))
        made = make_invoices(account, invoices)
        db.session.commit()
        known = readings.basis(account.id)
        return {"user_id": user.id, "account_id": account.id,
                "invoice_ids": [invoice.id for invoice in made],
                "estimated": [i.id for i in made if i.reading_type == "estimated"],
                "real": [i.id for i in made if i.reading_type == "real"],
                "last": known.last_real.value}


@pytest.fixture
def mine(app):
    return customer(app)


@pytest.fixture
def theirs(app):
    return customer(app, "usuLecturaAjena", number="1234567")


@pytest.fixture
def signed_in(client, mine):
    assert sign_in(client, "usuLectura01").status_code == 303
    return client


def post(client, url: str = URL, headers=None, **answers):
    token = hidden(text(client.get(url)), "csrf_token")
    return client.post(url, data={"csrf_token": token, **answers}, headers=headers or {})


def second_contract(app, user_id: int, number: str = "7777777") -> int:
    """Link another account to the user: their form then asks which contract was read."""
    with app.app_context():
        first = db.session.scalars(select(Account).order_by(Account.id)).first()
        second = Account(zone_id=first.zone_id, number=number, check_digit=1,
                         holder_name=first.holder_name, street="Hidalgo", street_number="5",
                         colonia="Centro", city="Nuevo Laredo", state="Tamaulipas",
                         postal_code="88000", meter_serial=f"IT{number}", tariff_code="RES")
        db.session.add(second)
        db.session.flush()
        db.session.add(UserAccount(user_id=user_id, account_id=second.id))
        db.session.commit()
        return second.id


def tag(html: str, element_id: str) -> str:
    """The start tag of the element with this id."""
    match = re.search(rf'<(input|select)\b[^>]*\bid="{element_id}"[^>]*>', html)
    assert match, f"no element #{element_id}"
    return match.group(0)


def value_of(html: str, name: str) -> str:
    """The value of the hidden input ``name``, whatever the order of its attributes."""
    match = re.search(rf'<input\b[^>]*\bname="{name}"[^>]*>', html)
    assert match, f"no input {name}"
    found = re.search(r'\bvalue="([^"]*)"', match.group(0))
    return found.group(1) if found else ""


def submissions(app) -> list[ReadingSubmission]:
    with app.app_context():
        rows = list(db.session.scalars(select(ReadingSubmission).order_by(ReadingSubmission.id)))
        db.session.expunge_all()
        return rows


# --- the form --------------------------------------------------------------------------------

def test_the_form_asks_for_the_contract_and_the_digits(signed_in, mine):
    response = signed_in.get(URL)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = text(response)
    assert "<h1>Envía la lectura de tu medidor</h1>" in html
    digits = tag(html, "lectura")
    assert 'inputmode="numeric"' in digits and 'autocomplete="off"' in digits
    assert f'<option selected value="{mine["account_id"]}">' in html
    assert 'enctype="multipart/form-data"' in html
    assert f'data-hx-post="{URL}"' in html and 'data-hx-target="#contenido"' in html


def test_a_plain_reading_is_kept_and_its_page_says_it_will_be_reviewed(app, signed_in, mine):
    response = post(signed_in, contrato=str(mine["account_id"]), lectura=str(mine["last"] + 10))
    assert response.status_code == 303
    [row] = submissions(app)
    assert (row.user_id, row.account_id, row.value, row.status, row.confirmed,
            row.invoice_id) == (mine["user_id"], mine["account_id"], mine["last"] + 10,
                                "received", None, None)
    assert response.location == f"{URL}/{row.id}"
    page = text(signed_in.get(response.location))
    assert f"Recibimos tu lectura de <strong>{mine['last'] + 10:,} m³</strong>" in page
    assert "la revisaremos; aparece en tu historial como «del cliente, en revisión»" in page
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "reading_submitted")).one()
        assert str(mine["last"] + 10) not in str(event.details)


def test_with_htmx_the_form_swaps_in_place_and_the_reading_page_is_pushed(
        app, signed_in, mine, htmx_headers):
    refused = post(signed_in, headers=htmx_headers, contrato=str(mine["account_id"]),
                   lectura="12a")
    assert refused.status_code == 422
    body = text(refused)
    assert body.startswith("<title>Error: Envía la lectura de tu medidor")
    assert "<html" not in body
    done = post(signed_in, headers=htmx_headers, contrato=str(mine["account_id"]),
                lectura=str(mine["last"] + 1))
    assert done.status_code == 303
    followed = signed_in.get(done.location, headers=htmx_headers)
    assert followed.headers["HX-Push-Url"] == done.location
    assert "<html" not in text(followed)


@pytest.mark.parametrize("typed, message", [
    ("", readings.EMPTY), ("12 34", readings.SPACES), ("-5", readings.NEGATIVE),
    ("1234.5", readings.DECIMALS), ("12ab", readings.NOT_DIGITS),
    ("123456789", readings.TOO_LONG), ("１２３", readings.NOT_DIGITS),
])
def test_bad_digits_answer_422_with_the_answers_kept_and_the_message(
        app, signed_in, mine, typed, message):
    response = post(signed_in, contrato=str(mine["account_id"]), lectura=typed)
    assert response.status_code == 422
    html = text(response)
    assert "<title>Error: " in html
    assert 'class="error-summary"' in html and f'<a href="#lectura">{message}</a>' in html
    assert f'<span class="visually-hidden">Error: </span>{message}' in html
    digits = tag(html, "lectura")
    assert 'aria-invalid="true"' in digits
    if typed:
        assert f'value="{typed}"' in digits
    assert submissions(app) == []


def test_a_missing_contract_is_asked_for(app, client, mine):
    second = second_contract(app, mine["user_id"])
    assert sign_in(client, "usuLectura01").status_code == 303
    assert '<option selected value="">Elige el contrato</option>' in text(client.get(URL))
    assert f'<option selected value="{second}">' in text(client.get(f"{URL}?contrato={second}"))
    response = post(client, contrato="", lectura="100")
    assert response.status_code == 422
    assert "Elige el contrato del medidor que leíste." in text(response)


def test_another_customers_contract_answers_404_and_keeps_nothing(app, signed_in, theirs):
    assert signed_in.get(f"{URL}?contrato={theirs['account_id']}").status_code == 404
    response = post(signed_in, contrato=str(theirs["account_id"]), lectura="100")
    assert response.status_code == 404
    assert submissions(app) == []


def test_a_post_without_csrf_gets_the_400_page(app, signed_in, mine):
    response = signed_in.post(URL, data={"contrato": str(mine["account_id"]), "lectura": "1"})
    assert response.status_code == 400
    assert submissions(app) == []


def test_the_page_needs_a_signed_in_customer(client):
    response = client.get(URL)
    assert response.status_code == 302 and response.location.startswith("/entrar")


# --- the confirm step -----------------------------------------------------------------------

def test_a_lower_reading_asks_to_confirm_and_a_second_submit_keeps_it(app, signed_in, mine):
    lower = mine["last"] - 10
    asked = post(signed_in, contrato=str(mine["account_id"]), lectura=str(lower))
    assert asked.status_code == 200
    html = text(asked)
    assert "<title>Confirma tu lectura: " in html
    assert (f"Tu lectura ({lower:,}) es menor que la última lectura real "
            f"({mine['last']:,} del") in html
    assert f'value="{lower}"' in html  # the answer kept
    token = hidden(html, "confirmar")
    assert token == f"lower:{lower}"
    assert submissions(app) == []
    done = post(signed_in, contrato=str(mine["account_id"]), lectura=str(lower),
                confirmar=token)
    assert done.status_code == 303
    [row] = submissions(app)
    assert (row.value, row.confirmed) == (lower, "lower")
    assert "que es menor que la última lectura real" in text(signed_in.get(done.location))


def test_a_jump_asks_to_confirm_with_the_figures(app, signed_in, mine):
    high = mine["last"] + 5000
    asked = post(signed_in, contrato=str(mine["account_id"]), lectura=str(high))
    assert asked.status_code == 200
    assert "indica que usaste 5,000 m³" in text(asked)
    token = hidden(text(asked), "confirmar")
    assert token == f"jump:{high}"
    assert post(signed_in, contrato=str(mine["account_id"]), lectura=str(high),
                confirmar=token).status_code == 303
    assert [(r.value, r.confirmed) for r in submissions(app)] == [(high, "jump")]


def test_a_value_changed_on_the_confirm_step_is_checked_again(app, signed_in, mine):
    lower = mine["last"] - 10
    token = f"lower:{lower}"
    # Another lower value: the confirmation was for the first one, so it asks again.
    again = post(signed_in, contrato=str(mine["account_id"]), lectura=str(lower - 1),
                 confirmar=token)
    assert again.status_code == 200 and hidden(text(again), "confirmar") == f"lower:{lower - 1}"
    # A forged confirmation of another kind does not pass either.
    assert post(signed_in, contrato=str(mine["account_id"]), lectura=str(lower),
                confirmar=f"jump:{lower}").status_code == 200
    assert submissions(app) == []
    # Corrected to a plausible value: kept, with nothing confirmed.
    assert post(signed_in, contrato=str(mine["account_id"]), lectura=str(mine["last"] + 3),
                confirmar=token).status_code == 303
    assert [(r.value, r.confirmed) for r in submissions(app)] == [(mine["last"] + 3, None)]


def test_a_second_reading_the_same_day_replaces_the_first(app, signed_in, mine):
    first = post(signed_in, contrato=str(mine["account_id"]), lectura=str(mine["last"] + 1))
    second = post(signed_in, contrato=str(mine["account_id"]), lectura=str(mine["last"] + 2))
    assert first.location == second.location
    assert [r.value for r in submissions(app)] == [mine["last"] + 2]
    assert "Cambiamos la lectura que nos diste antes hoy" in text(signed_in.get(second.location))


# --- from an estimated invoice --------------------------------------------------------------

def test_an_estimated_invoice_is_corrected_by_a_reading(app, signed_in, mine):
    invoice_id = mine["estimated"][-1]
    url = f"{URL}?factura={invoice_id}"
    html = text(signed_in.get(url))
    with app.app_context():
        number = db.session.get(Invoice, invoice_id).number
    assert f"Corriges la factura <strong>{number}</strong>" in html
    assert f'action="{URL}?factura={invoice_id}"' in html
    done = post(signed_in, url, contrato="999999", lectura=str(mine["last"] + 4))
    assert done.status_code == 303
    [row] = submissions(app)
    assert (row.invoice_id, row.account_id) == (invoice_id, mine["account_id"])
    assert number in text(signed_in.get(done.location))


def test_the_invoice_page_links_an_estimated_bill_to_the_form(signed_in, mine):
    estimated = text(signed_in.get(f"/mi-oficina/facturas/{mine['estimated'][-1]}"))
    link = f'href="{URL}?factura={mine["estimated"][-1]}"'
    assert link in estimated and "Corrige esta lectura estimada con tu lectura" in estimated
    real = text(signed_in.get(f"/mi-oficina/facturas/{mine['real'][-1]}"))
    assert "Corrige esta lectura estimada" not in real


def test_a_real_invoice_says_it_needs_no_correction(app, signed_in, mine):
    invoice_id = mine["real"][-1]
    for response in (signed_in.get(f"{URL}?factura={invoice_id}"),
                     post(signed_in, f"{URL}?factura={invoice_id}", lectura="1")):
        assert response.status_code == 409
        assert "se hizo con una lectura real de tu medidor: no hace falta corregirla" in text(
            response)
    assert submissions(app) == []


@pytest.mark.parametrize("factura", ["other", "999999999", "abc", ""])
def test_another_customers_or_no_invoice_answers_404(app, signed_in, theirs, factura):
    wanted = theirs["estimated"][-1] if factura == "other" else factura
    assert signed_in.get(f"{URL}?factura={wanted}").status_code == 404
    token = hidden(text(signed_in.get(URL)), "csrf_token")
    assert signed_in.post(f"{URL}?factura={wanted}", data={
        "csrf_token": token, "lectura": "1"}).status_code == 404
    assert submissions(app) == []


def test_another_customers_reading_page_answers_404(app, client, signed_in, mine, theirs):
    done = post(signed_in, contrato=str(mine["account_id"]), lectura=str(mine["last"] + 1))
    other = app.test_client()
    assert sign_in(other, "usuLecturaAjena").status_code == 303
    assert other.get(done.location).status_code == 404
    assert other.get(f"{URL}/999999").status_code == 404


# --- constant work --------------------------------------------------------------------------

def queries(app, invoices: int) -> dict[str, int]:
    data = customer(app, f"usuCuenta{invoices:03d}", number=f"5{invoices:06d}",
                    invoices=invoices)
    client = app.test_client()
    assert sign_in(client, f"usuCuenta{invoices:03d}").status_code == 303
    token = hidden(text(client.get(URL)), "csrf_token")
    counts = {}
    for label, call in [
        ("form", lambda: client.get(URL)),
        ("estimated", lambda: client.get(f"{URL}?factura={data['estimated'][-1]}")),
        ("confirm", lambda: client.post(URL, data={
            "csrf_token": token, "contrato": data["account_id"], "lectura": "0"})),
        ("kept", lambda: client.post(URL, data={
            "csrf_token": token, "contrato": data["account_id"],
            "lectura": str(data["last"] + 1)})),
    ]:
        with counting_queries(app) as statements:
            response = call()
        assert response.status_code in (200, 303), label
        counts[label] = len(statements)
        if label == "kept":
            with counting_queries(app) as statements:
                assert client.get(response.location).status_code == 200
            counts["received"] = len(statements)
    return counts


def test_the_pages_run_the_same_number_of_queries_with_4_or_300_invoices(app):
    few = queries(app, 4)
    many = queries(app, 300)
    assert few == many, (few, many)
    assert max(many.values()) <= 14, many


# --- the photo of the meter -----------------------------------------------------------------

BOUNDARY = "limite-de-lectura"


def multipart(fields: dict[str, str], photo: bytes | None = None,
              filename: str = "IMG_2041.JPG", content_type: str = "image/jpeg") -> bytes:
    """A form body as a phone sends it, built here: the test client would spool a large file
    to a temporary file it never closes."""
    parts = [f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
             f"{value}\r\n".encode() for name, value in fields.items()]
    if photo is not None:
        parts.append((f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"foto\"; "
                      f"filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
                      ).encode() + photo + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def send(client, photo: bytes | None, url: str = URL, headers=None, filename="IMG_2041.JPG",
         content_type="image/jpeg", **answers):
    token = hidden(text(client.get(url)), "csrf_token")
    body = multipart({"csrf_token": token, **answers}, photo, filename, content_type)
    return client.post(url, data=body, headers=headers or {},
                       content_type=f"multipart/form-data; boundary={BOUNDARY}")


def stored_photos(app) -> list[tuple[Photo, bytes]]:
    with app.app_context():
        rows = list(db.session.scalars(select(Photo).order_by(Photo.id)))
        kept = [(row, photos.path_of(row).read_bytes()) for row in rows]
        db.session.expunge_all()
        return kept


def upload_files(app) -> list[str]:
    folder = photos_folder(app)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def photos_folder(app):
    from pathlib import Path

    return Path(app.config["OV_UPLOAD_DIR"])


def test_a_phone_photo_of_4_mb_is_kept_small_without_its_metadata(app, signed_in, mine):
    original = images.photo(3000, 2250, noise=True, quality=85)
    assert len(original) > 4_000_000
    assert b"Exif" in original and b"TelefonoDePrueba" in original
    response = send(signed_in, original, contrato=str(mine["account_id"]),
                    lectura=str(mine["last"] + 5))
    assert response.status_code == 303, text(response)[:300]
    [row] = submissions(app)
    [(photo, jpeg)] = stored_photos(app)
    assert row.photo_id == photo.id and photo.user_id == mine["user_id"]
    assert jpeg.startswith(b"\xff\xd8") and len(jpeg) < len(original) // 2
    assert b"Exif" not in jpeg and b"TelefonoDePrueba" not in jpeg
    assert max(photo.width, photo.height) == photos.MAX_SIDE
    assert photo.stored_name != "IMG_2041.JPG" and "IMG" not in photo.stored_name
    page = text(signed_in.get(response.location))
    assert f'href="/mi-oficina/fotos/{photo.id}.jpg"' in page


def test_a_disguised_html_photo_is_refused_and_nothing_is_stored(app, signed_in, mine):
    files_before = upload_files(app)  # the folder outlives each test's rows
    response = send(signed_in, images.html_named_jpeg(), filename="foto.jpg",
                    contrato=str(mine["account_id"]), lectura=str(mine["last"] + 5))
    assert response.status_code == 422
    html = text(response)
    assert f'<a href="#foto">{photos.NOT_A_PHOTO}</a>' in html
    assert f'value="{mine["last"] + 5}"' in tag(html, "lectura")  # the answers kept
    assert submissions(app) == [] and stored_photos(app) == []
    assert upload_files(app) == files_before


def test_a_photo_larger_than_the_limit_answers_413_and_stores_nothing(app, signed_in, mine):
    limit = app.config["OV_PHOTO_MAX_MB"] * 1024 * 1024
    files_before = upload_files(app)
    response = send(signed_in, b"\xff\xd8" + b"x" * (limit + 100_000),
                    contrato=str(mine["account_id"]), lectura=str(mine["last"] + 5))
    assert response.status_code == 413
    assert upload_files(app) == files_before
    assert f"La foto pesa más de {app.config['OV_PHOTO_MAX_MB']} MB" in text(response)
    assert submissions(app) == [] and stored_photos(app) == []


def test_a_jpeg_holding_a_script_is_kept_re_encoded_without_it(app, signed_in, mine):
    original = images.script_in_jpeg()
    assert b"<script>" in original
    assert send(signed_in, original, contrato=str(mine["account_id"]),
                lectura=str(mine["last"] + 5)).status_code == 303
    [(_, jpeg)] = stored_photos(app)
    assert b"<script" not in jpeg and b"<html" not in jpeg and b"alert" not in jpeg


def test_a_good_photo_survives_a_refused_answer_and_the_confirm_step(app, signed_in, mine):
    refused = send(signed_in, images.photo(800, 600), contrato=str(mine["account_id"]),
                   lectura="12 34")
    assert refused.status_code == 422
    [(photo, _)] = stored_photos(app)
    assert value_of(text(refused), "foto_guardada") == str(photo.id)
    assert "Ya tenemos tu foto" in text(refused)
    lower = mine["last"] - 1
    asked = send(signed_in, None, contrato=str(mine["account_id"]), lectura=str(lower),
                 foto_guardada=str(photo.id))
    assert asked.status_code == 200 and "Confirma tu lectura" in text(asked)
    assert value_of(text(asked), "foto_guardada") == str(photo.id)
    done = send(signed_in, None, contrato=str(mine["account_id"]), lectura=str(lower),
                foto_guardada=str(photo.id), confirmar=hidden(text(asked), "confirmar"))
    assert done.status_code == 303
    [row] = submissions(app)
    assert (row.photo_id, row.confirmed) == (photo.id, "lower")
    assert len(stored_photos(app)) == 1


def test_another_customers_kept_photo_is_not_taken(app, signed_in, mine, theirs):
    with app.app_context():
        from io import BytesIO

        other = photos.keep(photos.prepare(BytesIO(images.photo(300, 200))),
                            user_id=theirs["user_id"], account_id=theirs["account_id"])
        db.session.commit()
        other_id = other.id
    assert send(signed_in, None, contrato=str(mine["account_id"]),
                lectura=str(mine["last"] + 1), foto_guardada=str(other_id)).status_code == 303
    [row] = submissions(app)
    assert row.photo_id is None


def test_with_htmx_a_photo_form_answers_in_place(app, signed_in, mine, htmx_headers):
    refused = send(signed_in, images.html_named_jpeg(), headers=htmx_headers,
                   contrato=str(mine["account_id"]), lectura="1")
    assert refused.status_code == 422 and "<html" not in text(refused)
    done = send(signed_in, images.photo(640, 480), headers=htmx_headers,
                contrato=str(mine["account_id"]), lectura=str(mine["last"] + 2))
    assert done.status_code == 303


# --- valid HTML in every state ----------------------------------------------------------------

def test_every_state_of_the_reading_pages_is_valid_html(app, signed_in, mine, tmp_path,
                                                        htmx_headers):
    from tests.support.nu import Documents, describe

    documents = Documents(tmp_path)
    account = str(mine["account_id"])
    states = {
        "error": send(signed_in, images.html_named_jpeg(), contrato=account, lectura="1,5"),
        "photo kept, error": send(signed_in, images.photo(300, 200), contrato=account,
                                  lectura="x"),
        "confirm": post(signed_in, contrato=account, lectura="0"),
        "real invoice": signed_in.get(f"{URL}?factura={mine['real'][-1]}"),
        "estimated invoice": signed_in.get(f"{URL}?factura={mine['estimated'][-1]}"),
    }
    done = send(signed_in, images.photo(300, 200), f"{URL}?factura={mine['estimated'][-1]}",
                lectura=str(mine["last"] + 1))
    states["received"] = signed_in.get(done.location)
    with app.app_context():
        [row] = submissions(app)
        readings.review(row.id, "reject", "No se leen los números.\n\nEnvía otra foto.")
        db.session.commit()
    states["rejected with a note"] = signed_in.get(done.location)
    for label, response in states.items():
        assert response.status_code in (200, 409, 422), label
        documents.add(f"{label} ({response.status_code})", text(response))
    for label, response in [
        ("confirm", post(signed_in, headers=htmx_headers, contrato=account, lectura="0")),
        ("error", post(signed_in, headers=htmx_headers, contrato=account, lectura="")),
        ("received", signed_in.get(done.location, headers=htmx_headers)),
    ]:
        documents.add_fragment(f"{label} fragment", text(response))
    found = documents.errors()
    assert not found, describe(found)


def test_the_page_and_its_swaps_are_within_the_weight_budget(signed_in, mine, htmx_headers):
    from tests.support.weight import ACCEPT, PAGE_BUDGET

    account = str(mine["account_id"])
    page = signed_in.get(URL, headers=ACCEPT)
    swaps = {
        "error": post(signed_in, headers={**htmx_headers, **ACCEPT}, contrato=account,
                      lectura="12 34"),
        "confirm": post(signed_in, headers={**htmx_headers, **ACCEPT}, contrato=account,
                        lectura="0"),
    }
    done = post(signed_in, contrato=account, lectura=str(mine["last"] + 1))
    swaps["received"] = signed_in.get(done.location, headers={**htmx_headers, **ACCEPT})
    sizes = {"page": len(page.data), **{k: len(r.data) for k, r in swaps.items()}}
    assert page.headers["Content-Encoding"] == "br"
    assert all(r.headers.get("Content-Encoding") == "br" for r in swaps.values()), sizes
    assert sizes["page"] <= PAGE_BUDGET, sizes
    assert max(v for k, v in sizes.items() if k != "page") <= 2048, sizes



@pytest.mark.parametrize(("outcome", "said", "button"), [
    ("accept", "y la aceptamos", None),
    ("reject", "y no la aceptamos", "Enviar una nueva lectura")])
def test_a_reviewed_readings_page_says_so_with_the_staff_note(app, signed_in, mine, outcome,
                                                              said, button):
    response = post(signed_in, contrato=str(mine["account_id"]), lectura=str(mine["last"] + 10))
    [row] = submissions(app)
    with app.app_context():
        readings.review(row.id, outcome, "Los números no se leen bien.\n\nEnvía otra foto.")
        db.session.commit()
    page = text(signed_in.get(response.location))
    assert said in page and "Revisamos tu lectura" in page
    assert "la revisaremos" not in page and "la nueva reemplaza a esta" not in page
    assert "Corregir mi lectura de hoy" not in page
    assert ('<p class="request-text">Los números no se leen bien.</p>'
            '<p class="request-text">Envía otra foto.</p>') in page
    assert (button in page) if button else ("Enviar una nueva lectura" not in page)



def test_a_photo_sent_before_a_contract_is_chosen_is_kept_for_the_next_try(app, signed_in,
                                                                          mine):
    second = second_contract(app, mine["user_id"])
    refused = send(signed_in, images.photo(800, 600), contrato="",
                   lectura=str(mine["last"] + 5))
    assert refused.status_code == 422
    [(photo, _)] = stored_photos(app)
    assert value_of(text(refused), "foto_guardada") == str(photo.id)
    assert "Ya tenemos tu foto" in text(refused)
    done = send(signed_in, None, contrato=str(second), lectura="10",
                foto_guardada=str(photo.id))
    assert done.status_code == 303
    [row] = submissions(app)
    assert (row.account_id, row.photo_id) == (second, photo.id)
    with app.app_context():
        assert db.session.get(Photo, photo.id).account_id == second


def test_the_photo_forms_share_a_limit_of_posts_per_user(app, signed_in, mine, monkeypatch):
    monkeypatch.setitem(app.config, "OV_PHOTO_FORM_LIMIT", "2 per hour")
    assert post(signed_in, contrato=str(mine["account_id"]), lectura="x").status_code == 422
    assert signed_in.post("/mi-oficina/solicitudes/nueva",
                          data={"csrf_token": hidden(text(signed_in.get(URL)), "csrf_token")}
                          ).status_code == 422
    refused = post(signed_in, contrato=str(mine["account_id"]), lectura="x")
    assert refused.status_code == 429
    assert signed_in.get(URL).status_code == 200  # reading the form is not counted



def test_with_htmx_a_photo_too_large_is_told_beside_the_photo_only(app, signed_in, mine,
                                                                   htmx_headers):
    limit = app.config["OV_PHOTO_MAX_MB"] * 1024 * 1024
    response = send(signed_in, b"\xff\xd8" + b"x" * (limit + 100_000), headers=htmx_headers,
                    contrato=str(mine["account_id"]), lectura=str(mine["last"] + 5))
    assert response.status_code == 413
    assert response.headers["HX-Retarget"] == "#foto-error"
    assert response.headers["HX-Reswap"] == "innerHTML"
    body = text(response)
    assert body == ('<span class="field-error"><span class="visually-hidden">Error: </span>'
                    f"La foto pesa más de {app.config['OV_PHOTO_MAX_MB']} MB, lo más que "
                    "admite el formulario, y no se guardó nada. Vuelve al formulario y elige "
                    "una foto más pequeña (en la cámara del teléfono, una resolución menor), o "
                    "envíalo sin foto.</span>")
    assert 'id="foto-error"' in text(signed_in.get(URL))
    assert submissions(app) == [] and stored_photos(app) == []
