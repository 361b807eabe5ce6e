"""gunicorn's settings for the portal in production:

    gunicorn -c python:ov.gunicorn_config 'ov:create_app()'

Read from the environment (the same file the app reads, see deploy/oficina-virtual.env):

* ``OV_BIND``: where to listen, ``127.0.0.1:8000`` by default, or ``unix:/run/.../sock``;
  several separated by commas. Only the proxy on this machine should reach it.
* ``OV_WORKERS``: processes; by default one per core this process may use. A page is mostly
  CPU (templates, SQL building, compression) under Python's global lock, so one process per
  core uses the machine; more only queue on the same cores.
* ``OV_THREADS``: threads per process (gthread), 4 by default: they overlap the waits on
  PostgreSQL, Redis and the SMTP relay, not the CPU work.

Options given on gunicorn's command line win over these.

``preload_app`` stays off: each worker builds its own app after the fork, so no database
connection, Redis connection pool or random state is shared between processes, and a
``kill -HUP`` (``systemctl reload``) starts workers with the new code while the old ones
finish their requests. The cost is each worker loading the app (and compressing the static
files) itself at start.

The processes keep nothing of their own: sessions, rate-limit counts, the mail outbox and
uploads are in PostgreSQL, Redis and the upload folder, so any process (on any machine)
serves any request, and one can be stopped at any moment.
"""

from __future__ import annotations

import os

from ov import observability
from ov.config import ConfigError

DEFAULT_BIND = "127.0.0.1:8000"
DEFAULT_THREADS = 4
MAX_WORKERS = 64
MAX_THREADS = 64


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _count(environ, name: str, default: int, high: int, what: str) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= high):
        raise ConfigError(f"{name}={raw!r} no es válido: escribe un número de {what} de 1 a {high}")
    return int(raw)


def _binds(environ) -> list[str]:
    raw = environ.get("OV_BIND", "").strip() or DEFAULT_BIND
    found = [item.strip() for item in raw.split(",") if item.strip()]
    for item in found:
        if item.startswith("unix:") and len(item) > len("unix:"):
            continue
        host, sep, port = item.rpartition(":")
        if not (sep and host and port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            raise ConfigError(
                f"OV_BIND={raw!r} no es válido: escribe dirección:puerto (127.0.0.1:8000) o "
                "unix:/ruta/del/socket, separados por comas"
            )
    return found


def settings_from(environ) -> dict:
    """gunicorn's settings from the environment; ConfigError says what to change."""
    return {
        "bind": _binds(environ),
        "workers": _count(environ, "OV_WORKERS", _cores(), MAX_WORKERS, "procesos"),
        "threads": _count(environ, "OV_THREADS", DEFAULT_THREADS, MAX_THREADS, "hilos"),
    }


try:
    _settings = settings_from(os.environ)
except ConfigError as exc:  # a clear line on stderr and exit status 1, not a traceback
    raise SystemExit(f"ov.gunicorn_config: {exc}") from None

bind = _settings["bind"]
workers = _settings["workers"]
threads = _settings["threads"]
worker_class = "gthread"

# Timeouts. A gthread worker's heartbeat comes from its main loop, so `timeout` kills a
# process that stopped answering altogether, not a slow request: how long one request may
# take is nginx's proxy_read_timeout (deploy/nginx/oficina-virtual.conf) and the database's.
timeout = 30
# On a restart or `systemctl stop`/`reload`, workers finish the requests they hold for up
# to this long before they are killed (a PDF or a photo upload takes well under a second).
graceful_timeout = 30
# Idle keep-alive connections from nginx (its upstream keepalive_timeout is shorter).
keepalive = 10
preload_app = False
# The heartbeat file in memory, not on a disk that may stall (gunicorn's advice). gunicorn
# makes it with mkstemp (a random name, O_EXCL, mode 0600): a shared tmpfs is safe for it.
_SHM = "/dev/shm"  # noqa: S108  # nosec B108
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None

# Forwarded headers are judged by the app alone (ov/addresses.py, OV_TRUSTED_PROXIES and
# OV_PROXY_ADDRESSES), under one rule for every server; gunicorn must not set the scheme or
# the script name from them on its own, for any peer.
secure_scheme_headers: dict[str, str] = {}
forwarder_headers = ""

# No control socket: it would be state on disk shared by every gunicorn of the same user
# (two app processes on one machine would fight over it); systemd's signals do its work.
control_socket_disable = True

# Logs go to stderr (journald). The access log goes through ov.observability.AccessLogger,
# which redacts token URLs, query strings and secret headers.
errorlog = "-"
loglevel = "info"
logger_class = observability.AccessLogger
accesslog = "-"


# Prometheus' multiprocess mode (PROMETHEUS_MULTIPROC_DIR): files of an earlier run are
# cleared before the workers start, and a worker that exits is let go by the master.
def on_starting(server) -> None:
    observability.clear_multiprocess_dir()


def child_exit(server, worker) -> None:
    observability.worker_exit(server, worker)
