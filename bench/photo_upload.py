"""A phone photo of about 4 MB sent with a meter reading: the server's memory and time (not
part of the test suite).

    .venv/bin/python bench/photo_upload.py [--runs 7] [--width 4032 --height 3024]

The portal runs in a child process (Werkzeug's server on 127.0.0.1, a throwaway SQLite
instance): its peak resident memory (``resource.getrusage``, ``ru_maxrss``) is read after a
warm-up reading with a small photo, and again after the big uploads, so the difference is what
handling the photo cost the server, apart from the client. The parent signs in through
/entrar and sends each reading as a phone does without JavaScript (the whole original, as
multipart/form-data) to /mi-oficina/consumos/lectura, timing each request from the first byte
sent to the 303; it prints the median, the size sent and the size of the JPEG the portal kept.
Every run is the same day's reading of one contract, so each replaces the one before (its
photo removed): the disk does not fill.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

USERNAME = "benchLectura01"
PASSWORD = "Tq7mZ2pLx9"
URL = "/mi-oficina/consumos/lectura"
BOUNDARY = "limite-de-medicion"


def settings(instance: Path) -> dict:
    from tests.conftest import settings_for

    return {**settings_for(instance), "TESTING": False, "OV_ENV": "development"}


def prepare_instance(instance: Path) -> int:
    """The migrated schema and a customer with six bills; a plausible reading for today."""
    from ov import create_app
    from ov.extensions import db
    from ov.services import passwords, readings
    from tests.conftest import reset_schema
    from tests.support.factories import make_customer, make_invoices

    app = create_app(settings(instance))
    reset_schema(app)
    with app.app_context():
        _, account = make_customer(username=USERNAME,
                                   password_hash=passwords.hash_password(PASSWORD))
        make_invoices(account, 6)
        db.session.commit()
        plausible = readings.basis(account.id).last_real.value + 3
        db.session.remove()
        db.engine.dispose()
    return plausible


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def serve(instance: str, port_out, control) -> None:
    """The child: the portal on a free port; answers "rss" with its peak memory, "stop"
    with its peak memory and then stops."""
    from werkzeug.serving import make_server

    from ov import create_app

    app = create_app(settings(Path(instance)))
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port_out.send((server.server_port, peak_rss_kib()))
    while True:
        try:
            message = control.recv()
        except EOFError:  # the parent gave up
            message = "stop"
        else:
            control.send(peak_rss_kib())
        if message == "stop":
            server.shutdown()
            thread.join()
            return


def multipart(fields: dict[str, str], photo: bytes) -> bytes:
    parts = [f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
             f"{value}\r\n".encode() for name, value in fields.items()]
    parts.append((f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"foto\"; "
                  "filename=\"IMG_2041.JPG\"\r\nContent-Type: image/jpeg\r\n\r\n").encode()
                 + photo + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def send(session: requests.Session, base: str, fields: dict, photo: bytes) -> float:
    body = multipart(fields, photo)
    started = time.perf_counter()
    response = session.post(base + URL, data=body, allow_redirects=False, headers={
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Referer": base + URL})
    elapsed = time.perf_counter() - started
    if response.status_code != 303:
        raise SystemExit(f"the reading was not kept: {response.status_code} "
                         f"{response.text[:300]}")
    return elapsed


def kept_photo_size(instance: Path) -> tuple[int, int, int]:
    from sqlalchemy import select

    from ov import create_app
    from ov.extensions import db
    from ov.models import Photo

    app = create_app(settings(instance))
    with app.app_context():
        photo = db.session.scalars(select(Photo).order_by(Photo.id.desc())).first()
        found = (photo.byte_size, photo.width, photo.height)
        db.session.remove()
        db.engine.dispose()
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--width", type=int, default=4032)
    parser.add_argument("--height", type=int, default=3024)
    parser.add_argument("--quality", type=int, default=55,
                        help="JPEG quality of the generated photo (55 gives about 4.5 MB)")
    args = parser.parse_args()

    from tests.support import images

    instance = Path(tempfile.mkdtemp(prefix="ov-photo-bench-"))
    reading = prepare_instance(instance)

    # The child first: Linux keeps a process's peak memory across exec, so a child started
    # after the photo is drawn here would start with this process's peak as its own.
    context = multiprocessing.get_context("spawn")
    port_in, port_out = context.Pipe()
    control, child_end = context.Pipe()
    child = context.Process(target=serve, args=(str(instance), port_out, child_end))
    child.start()
    port, started = port_in.recv()
    base = f"http://127.0.0.1:{port}"
    photo = images.photo(args.width, args.height, noise=True, quality=args.quality)
    small = images.photo(640, 480)
    try:
        session = requests.Session()
        login = session.get(base + "/entrar").text
        session.post(base + "/entrar", data={"csrf_token": token(login), "usuario": USERNAME,
                                             "contrasena": PASSWORD},
                     headers={"Referer": base + "/entrar"}, allow_redirects=False)
        form = session.get(base + URL).text
        fields = {"csrf_token": token(form), "lectura": str(reading)}
        send(session, base, fields, small)  # warm-up: imports, templates, the first photo
        control.send("rss")
        before = control.recv()
        times = [send(session, base, fields, photo) for _ in range(args.runs)]
        control.send("stop")
        after = control.recv()
    finally:
        child.join(timeout=30)
    byte_size, width, height = kept_photo_size(instance)

    print(f"photo sent: {args.width}x{args.height} JPEG, {len(photo):,} bytes "
          f"({len(photo) / 1048576:.1f} MiB), {args.runs} runs")
    print(f"server peak RSS: {started / 1024:.1f} MiB once started, "
          f"{before / 1024:.1f} MiB after the warm-up, "
          f"{after / 1024:.1f} MiB after the uploads "
          f"(+{(after - before) / 1024:.1f} MiB for the photos)")
    print(f"time to handle one upload (sent, judged, re-encoded, kept, 303): median "
          f"{statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms")
    print(f"JPEG kept: {width}x{height}, {byte_size:,} bytes "
          f"({byte_size / len(photo):.1%} of what was sent)")


if __name__ == "__main__":
    main()
