"""The mixed journey of a customer on billing day, for Locust (run by bench/journey.py).

Each simulated customer, over and over and without pauses: opens /entrar, signs in with the
CSRF token of that form, sees Mi oficina, Mis facturas, the newest invoice and its PDF
duplicate, and signs out with the token of the page it is on. Every journey signs in as a
portal user of its own: the users ``<prefix>00001`` … ``<prefix>NNNNN`` prepared by
bench/journey.py, taken in turn from a pool, so no two customers are signed in as the same
user at once (as long as ``-u`` is at most ``--bench-users``).

By hand, against a server that already holds those users::

    OV_BENCH_PASSWORD=... .venv/bin/locust -f bench/locustfile.py --headless -u 50 -r 50 \\
        -t 30s --host http://127.0.0.1:8000 --bench-users 200 --only-summary

A response is a failure when its status, its redirect or its content is not what a customer
would get (a sign-in that lands elsewhere than Mi oficina, a page without the sign-out form,
a "PDF" that is not one); the journey then stops there. Every journey starts without cookies,
as a customer's first visit of the day.
"""

from __future__ import annotations

import os
import re
from collections import deque
from urllib.parse import urlsplit

from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
INVOICE_LINK = re.compile(r'href="/mi-oficina/facturas/(\d+)"')
#: The usernames not in use by a journey right now, in the order they will be taken.
free_users: deque[str] = deque()


def username(prefix: str, number: int) -> str:
    return f"{prefix}{number:05d}"


@events.init_command_line_parser.add_listener
def _arguments(parser) -> None:
    parser.add_argument("--bench-users", type=int, default=200, include_in_web_ui=False,
                        help="how many prepared portal users the journeys sign in as")
    parser.add_argument("--bench-prefix", default="benchcliente", include_in_web_ui=False,
                        help="the prepared users' usernames: PREFIX00001, PREFIX00002, ...")


@events.test_start.add_listener
def _fill_pool(environment, **_kwargs) -> None:
    options = environment.parsed_options
    free_users.clear()
    free_users.extend(username(options.bench_prefix, n)
                      for n in range(1, options.bench_users + 1))
    if not os.environ.get("OV_BENCH_PASSWORD"):
        raise SystemExit("Set OV_BENCH_PASSWORD to the prepared users' password.")


class JourneyFailed(Exception):
    """A step answered something a customer would not get; the journey stops there."""


class Customer(FastHttpUser):
    # No think time: each customer starts its next request as soon as the last one answered,
    # so the figures are the server's capacity, not a model of human pauses.
    wait_time = constant(0)
    # A customer who waits longer than this has given up: counted as a failure.
    network_timeout = 30.0
    connection_timeout = 30.0

    def on_start(self) -> None:
        self.password = os.environ["OV_BENCH_PASSWORD"]

    @task
    def journey(self) -> None:
        if not free_users:
            raise StopUser()  # more customers than prepared users: this one sits out
        user = free_users.popleft()
        # Each journey is another customer, in a browser of their own: no cookies yet.
        self.client.cookiejar.clear()
        try:
            self.walk(user)
        except JourneyFailed:
            pass  # already counted as a failed request; the next journey starts afresh
        finally:
            free_users.append(user)

    def step(self, method: str, url: str, check, name: str | None = None, **kwargs):
        """One request, counted under ``name`` (the URL by default); ``check(response)``
        returns what the journey needs from it, or a Failure that makes it a failed one."""
        with self.client.request(method, url, name=name or url, catch_response=True,
                                 allow_redirects=False, **kwargs) as response:
            outcome = check(response)
            if isinstance(outcome, Failure):
                response.failure(outcome.message)
                raise JourneyFailed(outcome.message)
            response.success()
            return outcome

    def walk(self, user: str) -> None:
        token = self.step("GET", "/entrar", page_token)
        self.step("POST", "/entrar", redirect_to("/mi-oficina"),
                  data={"csrf_token": token, "usuario": user, "contrasena": self.password,
                        "next": ""})
        self.step("GET", "/mi-oficina", page_token)
        invoice = self.step("GET", "/mi-oficina/facturas", newest_invoice)
        page = f"/mi-oficina/facturas/{invoice}"
        token = self.step("GET", page, page_token, name="/mi-oficina/facturas/[id]")
        self.step("GET", f"{page}/duplicado.pdf", pdf,
                  name="/mi-oficina/facturas/[id]/duplicado.pdf")
        self.step("POST", "/salir", redirect_to("/entrar"), data={"csrf_token": token})


class Failure:
    def __init__(self, message: str) -> None:
        self.message = message


def status(response, expected: int) -> Failure | None:
    if response.status_code != expected:
        return Failure(f"HTTP {response.status_code}, expected {expected}")
    return None


def page_token(response):
    """A full page: 200 and a CSRF token (the sign-in form's, or the sign-out form's)."""
    wrong = status(response, 200)
    if wrong:
        return wrong
    found = CSRF.search(response.text or "")
    return found.group(1) if found else Failure("no CSRF token on the page")


def redirect_to(path: str):
    def check(response):
        wrong = status(response, 303)
        if wrong:
            return wrong
        location = response.headers.get("Location", "")
        if urlsplit(location).path == path:
            return location
        return Failure(f"redirected to {location!r}, expected {path}")
    return check


def newest_invoice(response):
    wrong = page_token(response)
    if isinstance(wrong, Failure):
        return wrong
    found = INVOICE_LINK.search(response.text or "")
    return found.group(1) if found else Failure("no invoice in Mis facturas")


def pdf(response):
    wrong = status(response, 200)
    if wrong:
        return wrong
    if not (response.content or b"").startswith(b"%PDF-"):
        return Failure("the duplicate is not a PDF")
    return None
