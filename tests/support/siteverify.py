"""A real siteverify server on 127.0.0.1, scripted per test (the CAPTCHA vendors' shape).

Each test says what the next answers are: a JSON object, raw bytes, an HTTP status, and
how long to wait before answering. The server records what it was sent, so a test can see
the secret, the response and the client address the app posted.

    with SiteverifyServer() as server:
        server.answer({"success": True, "hostname": "127.0.0.1"})
        ... app.config["OV_CAPTCHA_VERIFY_URL"] = server.url ...
        assert server.requests[0]["response"] == "token"
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Answer:
    body: bytes
    status: int = 200
    delay: float = 0.0
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    # Join the handler threads on close, so nothing outlives the test.
    daemon_threads = False
    block_on_close = True

    def __init__(self, owner: SiteverifyServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request, client_address) -> None:
        # The app gave up on a slow answer and closed its socket: expected, not a failure.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (the http.server naming)
        owner = self.server.owner
        self.close_connection = True
        length = int(self.headers.get("Content-Length") or 0)
        fields = parse_qs(self.rfile.read(length).decode("utf-8"), keep_blank_values=True)
        answer = owner._record({name: values[-1] for name, values in fields.items()}, self.path)
        if answer.delay and owner._stopping.wait(answer.delay):
            return
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base signature)
        pass


class SiteverifyServer:
    """Start on a free port; ``url`` is its siteverify address; close with ``close()``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.paths: list[str] = []
        self._answers: list[Answer] = []
        self._default = Answer(b'{"success": false, "error-codes": ["not-scripted"]}')
        self._lock = threading.Lock()
        self._received = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="siteverify", daemon=True,
        )
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}/siteverify"

    # --- scripting ---

    def answer(
        self, payload: dict, *, status: int = 200, delay: float = 0.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Queue one JSON answer (the last one queued repeats once the queue is empty)."""
        self.answer_raw(json.dumps(payload).encode(), status=status, delay=delay, headers=headers)

    def answer_raw(
        self, body: bytes, *, status: int = 200, delay: float = 0.0,
        content_type: str = "application/json", headers: dict[str, str] | None = None,
    ) -> None:
        with self._lock:
            self._answers.append(Answer(body, status, delay, content_type, dict(headers or {})))

    def _record(self, fields: dict[str, str], path: str) -> Answer:
        with self._lock:
            self.requests.append(fields)
            self.paths.append(path)
            self._received.notify_all()
            if len(self._answers) > 1:
                return self._answers.pop(0)
            return self._answers[0] if self._answers else self._default

    def wait_for_requests(self, count: int, timeout: float = 10) -> bool:
        """True once ``count`` requests have arrived. The app may give up on a slow answer
        before this server's thread has even read the request: wait for that event."""
        with self._received:
            return self._received.wait_for(lambda: len(self.requests) >= count, timeout)

    # --- lifecycle ---

    def close(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SiteverifyServer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def closed_port_url() -> str:
    """A siteverify address on 127.0.0.1 where nothing listens: connection refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/siteverify"
