"""Mail as the tests see it: a real SMTP server on 127.0.0.1, and the sending threads.

``smtp_server()`` runs aiosmtpd in-process. With ``hold=True`` it keeps each message's DATA
unanswered until ``release()``: a test can show that an answer went out while the mail
server was still busy, without timing anything.

``BackgroundMail`` stands in for the threads that send mails after a response
(``ov.services.mail._background``): the same work on real threads, and a way to wait until
every mail handed over has been dealt with.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from email.message import EmailMessage
from email.policy import default as default_policy

from aiosmtpd.controller import Controller

#: How long anything here waits for an event before calling it a failure (a hang guard,
#: not a measurement: every wait ends as soon as its event happens).
PATIENCE = 30


class Recorder:
    """An aiosmtpd handler that keeps what it receives and refuses one mailbox."""

    def __init__(self, *, hold: bool = False) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.port = 0
        #: Set when a message's DATA has reached the server.
        self.arrived = threading.Event()
        self._released = threading.Event()
        if not hold:
            self._released.set()

    def release(self) -> None:
        """Answer the held messages (and every later one) at once."""
        self._released.set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("rechazado@"):
            return "550 5.1.1 No existe ese buzón"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.arrived.set()
        if not self._released.is_set():
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self._released.wait, PATIENCE)
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(port: int | None = None, *, hold: bool = False) -> Iterator[Recorder]:
    handler = Recorder(hold=hold)
    handler.port = port or free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        handler.release()  # nothing stays held past the test
        controller.stop()


class BackgroundMail:
    """A thread pool like the mail module's, that remembers the jobs handed to it."""

    def __init__(self) -> None:
        self._pool = futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="ov-mail")
        self.jobs: list[futures.Future] = []
        self.handed = threading.Event()

    def submit(self, job, *args, **kwargs) -> futures.Future:
        future = self._pool.submit(job, *args, **kwargs)
        self.jobs.append(future)
        self.handed.set()
        return future

    def wait(self) -> None:
        """Until a job was handed over and every job handed over has finished."""
        assert self.handed.wait(PATIENCE), "no mail was handed to the sending threads"
        _done, pending = futures.wait(list(self.jobs), timeout=PATIENCE)
        assert not pending, "the sending threads did not finish"
        for job in self.jobs:
            job.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


@contextmanager
def background_mail(monkeypatch) -> Iterator[BackgroundMail]:
    """Mails sent after a response go through a ``BackgroundMail`` for this block."""
    from ov.services import mail

    sender = BackgroundMail()
    monkeypatch.setattr(mail, "_background", lambda: sender)
    try:
        yield sender
    finally:
        sender.close()
