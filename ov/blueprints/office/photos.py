"""The photos a customer sent (of the meter, with a claim), shown back only to them.

Served under a name the portal chooses, as ``image/jpeg`` (the file is always the portal's
own re-encoded JPEG), never cached (``no-store``, like every Mi oficina page). Another
customer's photo, or one on a contract no longer theirs, answers 404.
"""

from __future__ import annotations

from flask import Response
from flask_login import current_user

from ov.blueprints.office.common import bp, not_yours
from ov.services import photos


@bp.get("/fotos/<int(max=2147483647):photo_id>.jpg")
def photo(photo_id: int):
    found = photos.own_photo(current_user.id, photo_id)
    if found is None or not photos.path_of(found).is_file():
        not_yours("photo", photo_id)
    # A few hundred KB, read whole: no open file handle outlives the response.
    response = Response(photos.path_of(found).read_bytes(), mimetype="image/jpeg")
    response.headers["Content-Disposition"] = f'inline; filename="foto-{found.id}.jpg"'
    return response
