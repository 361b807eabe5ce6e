"""A PostgreSQL cluster and a Redis server of the tests' own, to stop and start at will.

The fault tests take a dependency away while the portal runs and bring it back. They never
touch the machine's shared servers: ``OwnPostgres`` makes a new cluster with ``initdb`` in
a temporary folder and runs it on a free port of 127.0.0.1; ``OwnRedis`` runs
``redis-server`` on another. ``stop()`` and ``start()`` keep the port, so the app's
configured address stays right across an outage.

Every wait here ends on an event (the server answers, the process exits); ``PATIENCE`` only
bounds a hang.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

#: The longest any start or stop may take before the test calls it a failure.
PATIENCE = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until(check, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {PATIENCE} s")
        time.sleep(0.05)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def postgres_bin_dir() -> Path | None:
    """Debian's PostgreSQL server programs (``initdb``, ``pg_ctl``), newest version first."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class OwnPostgres:
    """A throwaway cluster: ``url`` names its ``postgres`` database (trust auth, loopback)."""

    def __init__(self) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
        self.bin = bin_dir
        # Its own folder under /tmp (not pytest's, which other users cannot enter).
        self.root = Path(tempfile.mkdtemp(prefix="ov-test-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.port = free_port()
        # initdb refuses to run as root: as root, the cluster belongs to the postgres user.
        self.owner = "postgres" if os.geteuid() == 0 else None
        self.sockets.mkdir()
        if self.owner:
            entry = pwd.getpwnam(self.owner)
            for path in (self.root, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.owner:
            command = ["runuser", "-u", self.owner, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=PATIENCE)

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.sockets} -c fsync=off "
                   "-c max_connections=50")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"),
                  "-o", options, "-w", "-t", str(PATIENCE), "start")
        _wait_until(lambda: _accepts(self.port), "PostgreSQL accepting connections")

    def stop(self) -> None:
        """Stop at once, dropping every connection (``immediate``: an outage, not a shutdown)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w",
                  "-t", str(PATIENCE), "stop")
        _wait_until(lambda: not _accepts(self.port), "PostgreSQL closing its port")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists() and _accepts(self.port)

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class OwnRedis:
    """A ``redis-server`` that writes every change to its append-only file before it
    answers, as the deployment guide asks of the Redis that keeps sessions: killed and
    started again, it still has them. ``url`` is its database 0."""

    def __init__(self, root: Path) -> None:
        program = shutil.which("redis-server")
        if program is None:
            raise RuntimeError("redis-server is not installed")
        self.program = program
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 (a fixed program and arguments)
            [self.program, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.root),
             "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait_until(lambda: _accepts(self.port), "Redis accepting connections")

    def stop(self) -> None:
        """Kill it (an outage, not a shutdown)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=PATIENCE)
            self.process = None
        _wait_until(lambda: not _accepts(self.port), "Redis closing its port")

    def close(self) -> None:
        if self.process is not None:
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
