"""A form's photo: a good one is kept at once and survives a refused answer; a bad one is
refused with its message and leaves nothing behind; unused ones are pruned."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict

from ov.blueprints.office.photo_field import KeptPhotoField, PhotoField, take_photo
from ov.extensions import db
from ov.models import Photo, ReadingSubmission, utcnow
from ov.services import photos
from tests.support import images
from tests.support.factories import make_customer

pytestmark = pytest.mark.usefixtures("clean_db")


class PhotoForm(FlaskForm):
    class Meta:
        csrf = False

    foto = PhotoField()
    foto_guardada = KeptPhotoField()


def form_with(content: bytes | None = None, kept: str = "") -> PhotoForm:
    data = MultiDict({"foto_guardada": kept})
    if content is not None:
        data["foto"] = FileStorage(BytesIO(content), filename="IMG_2041.JPG",
                                   content_type="image/jpeg")
    return PhotoForm(formdata=data)


def photo_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Photo))


def test_a_good_photo_is_kept_at_once_and_its_id_goes_back_into_the_form(app):
    with app.test_request_context(method="POST"):
        user, account = make_customer()
        form = form_with(images.photo(900, 600))
        kept = take_photo(form, user_id=user.id, account_id=account.id)
        assert kept is not None and form.foto_guardada.data == str(kept.id)
        assert photos.path_of(kept).is_file()
        # The form comes back refused for another answer; sent again without a file, the
        # same photo is used.
        again = take_photo(form_with(kept=str(kept.id)), user_id=user.id,
                           account_id=account.id)
        assert again is not None and again.id == kept.id
        assert photo_count() == 1


def test_a_bad_file_is_refused_with_its_message_and_nothing_is_kept(app, tmp_path):
    with app.test_request_context(method="POST"):
        user, account = make_customer()
        before = set(photos.upload_dir().glob("*")) if photos.upload_dir().exists() else set()
        form = form_with(images.html_named_jpeg())
        assert take_photo(form, user_id=user.id, account_id=account.id) is None
        assert form.foto.errors == [photos.NOT_A_PHOTO]
        assert photo_count() == 0
        after = set(photos.upload_dir().glob("*")) if photos.upload_dir().exists() else set()
        assert after == before


def test_a_bad_new_file_keeps_the_good_photo_kept_before(app):
    with app.test_request_context(method="POST"):
        user, account = make_customer()
        kept = take_photo(form_with(images.photo(900, 600)), user_id=user.id,
                          account_id=account.id)
        form = form_with(images.html_named_jpeg(), kept=str(kept.id))
        assert take_photo(form, user_id=user.id, account_id=account.id) is None
        assert form.foto.errors == [photos.NOT_A_PHOTO]
        assert form.foto_guardada.data == str(kept.id)
        assert photo_count() == 1 and photos.path_of(kept).is_file()


def test_a_good_new_file_replaces_the_kept_one_row_and_file(app):
    with app.test_request_context(method="POST"):
        user, account = make_customer()
        old = take_photo(form_with(images.photo(900, 600)), user_id=user.id,
                         account_id=account.id)
        db.session.commit()
        old_path = photos.path_of(old)
        new = take_photo(form_with(images.photo(600, 400), kept=str(old.id)),
                         user_id=user.id, account_id=account.id)
        assert new is not None and new.id != old.id
        assert old_path.is_file()  # until the commit
        db.session.commit()
        assert not old_path.exists() and photos.path_of(new).is_file()
        assert db.session.scalars(select(Photo.id)).all() == [new.id]


def test_a_replaced_photo_rolled_back_keeps_its_file(app):
    with app.test_request_context(method="POST"):
        user, account = make_customer()
        old = take_photo(form_with(images.photo(900, 600)), user_id=user.id,
                         account_id=account.id)
        db.session.commit()
        old_id, old_path = old.id, photos.path_of(old)
        take_photo(form_with(images.photo(600, 400), kept=str(old_id)), user_id=user.id,
                   account_id=account.id)
        db.session.rollback()
        db.session.commit()
        assert old_path.is_file() and db.session.get(Photo, old_id) is not None


def test_someone_elses_or_an_already_used_photo_id_is_ignored(app):
    with app.test_request_context(method="POST"):
        me, mine = make_customer()
        other, theirs = make_customer(username="otroCliente01", number="1112223")
        their_photo = photos.keep(photos.prepare(BytesIO(images.photo(200, 100))),
                                  user_id=other.id, account_id=theirs.id)
        form = form_with(kept=str(their_photo.id))
        assert take_photo(form, user_id=me.id, account_id=mine.id) is None
        assert form.foto_guardada.data == ""
        used = photos.keep(photos.prepare(BytesIO(images.photo(200, 100))), user_id=me.id,
                           account_id=mine.id)
        db.session.add(ReadingSubmission(account_id=mine.id, user_id=me.id,
                                         read_on=utcnow().date(), value=10, photo_id=used.id))
        db.session.flush()
        assert take_photo(form_with(kept=str(used.id)), user_id=me.id,
                          account_id=mine.id) is None
        for junk in ("", "abc", "1" * 12, "-3"):
            assert take_photo(form_with(kept=junk), user_id=me.id, account_id=mine.id) is None


def test_prune_removes_only_old_photos_nothing_uses(app):
    with app.app_context():
        user, account = make_customer()
        made = [photos.keep(photos.prepare(BytesIO(images.photo(120, 90))), user_id=user.id,
                            account_id=account.id) for _ in range(3)]
        old, recent, used = made
        old.created_at = used.created_at = utcnow() - timedelta(days=2)
        db.session.add(ReadingSubmission(account_id=account.id, user_id=user.id,
                                         read_on=utcnow().date(), value=10, photo_id=used.id))
        db.session.flush()
        old_path = photos.path_of(old)
        removed = photos.prune()
        assert removed == [old.stored_name]
        db.session.commit()
        photos.remove_files(removed)
        assert not old_path.exists()
        assert photos.path_of(recent).exists() and photos.path_of(used).exists()
        left = db.session.scalars(select(Photo.id).order_by(Photo.id)).all()
        assert left == sorted([recent.id, used.id])


def test_the_prune_command_says_how_many_it_removed(app):
    with app.app_context():
        user, account = make_customer()
        old = photos.keep(photos.prepare(BytesIO(images.photo(120, 90))), user_id=user.id,
                          account_id=account.id)
        old.created_at = utcnow() - timedelta(hours=30)
        db.session.commit()
        path = photos.path_of(old)
    result = app.test_cli_runner().invoke(args=["photos", "prune"])
    assert result.exit_code == 0, result.output
    assert "Fotos sin usar borradas: 1." in result.output
    assert not path.exists()
