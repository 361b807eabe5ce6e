"""Which client a request comes from: the address the app records and counts.

Two parts:

* :class:`ClientAddress`, a WSGI middleware that every request passes through first. It leaves
  ``REMOTE_ADDR`` holding either a valid IP address in its canonical spelling or nothing, so
  no arbitrary text can reach the rate-limit keys or the audit table. Forwarded headers
  (``X-Forwarded-For``, ``X-Forwarded-Proto``) are honoured only when the direct peer is one
  of the configured proxies (``OV_PROXY_ADDRESSES``), and only for exactly the configured
  number of hops (``OV_TRUSTED_PROXIES``): the client is the address the outermost of those
  proxies saw. Every hop in between must be a configured proxy too; any doubt (too few
  entries, an entry that is not an address, an unknown hop) falls back to the direct peer.
* :func:`address_key`: an IPv6 client is usually given a whole /64 network, so per-address
  limits count the network rather than the address: otherwise changing the last 64 bits
  would give a fresh allowance every time. IPv4 addresses (also when an IPv6 socket shows
  them as ``::ffff:a.b.c.d``) count as they are.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from flask import request

#: The proxy addresses trusted by default: this machine, and a peer with no address at all
#: (a unix socket, which only processes on this machine can reach).
DEFAULT_PROXY_ADDRESSES = "127.0.0.1, ::1, unix"
UNIX_PEER = "unix"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def valid_address(text: str | None) -> str | None:
    """``text`` as a canonical IP address, or None when it is not exactly one.

    A zone index (``fe80::1%eth0``) is refused: it is free text after the ``%``.
    """
    if not text or len(text) > 45:
        return None
    try:
        parsed = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.scope_id is not None:
        return None
    return str(parsed)


def peer_address(text: str | None) -> str | None:
    """The direct peer as the server reported it, canonical, or None (a unix socket).

    Unlike a forwarded value, a link-local peer's zone index came from the kernel; it is
    dropped, and the address kept.
    """
    if text and "%" in text:
        text = text.split("%", 1)[0]
    return valid_address(text)


#: The environ key that says whether the request came through a configured proxy.
VIA_PROXY = "ov.via_proxy"


def parse_proxy_addresses(value: str) -> tuple[tuple[Network, ...], bool]:
    """``"127.0.0.1, ::1, 10.0.0.0/8, unix"`` -> the networks, and whether a unix-socket
    peer (no address) counts as a proxy. Raises ValueError naming the entry it cannot read."""
    networks: list[Network] = []
    unix = False
    for item in value.replace(",", " ").split():
        if item.lower() == UNIX_PEER:
            unix = True
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(
                f"«{item}» no es una dirección IP ni una red (como 10.0.0.0/8), ni «unix»"
            ) from exc
    return tuple(networks), unix


class ClientAddress:
    """The WSGI middleware described in the module docstring."""

    def __init__(self, app, *, hops: int, proxies: Iterable[Network], unix: bool) -> None:
        self.app = app
        self.hops = hops
        self.proxies = tuple(proxies)
        self.unix = unix

    def is_proxy(self, address: str | None) -> bool:
        if address is None:
            return self.unix
        parsed = ipaddress.ip_address(address)
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
        return any(parsed in network for network in self.proxies)

    def resolve(self, environ: dict) -> tuple[str | None, str | None]:
        """(the client's address, the scheme the client used) for this request; the scheme
        is None when no trusted proxy said it."""
        peer = peer_address(environ.get("REMOTE_ADDR"))
        if self.hops < 1 or not self.is_proxy(peer):
            return peer, None
        chain = [item.strip() for item in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        chain = [item for item in chain if item]
        if len(chain) < self.hops:
            return peer, None
        seen = [valid_address(item) for item in chain[-self.hops:]]
        client, between = seen[0], seen[1:]
        if client is None or any(hop is None or not self.is_proxy(hop) for hop in between):
            return peer, None
        schemes = [item.strip().lower()
                   for item in environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")]
        scheme = schemes[-self.hops] if len(schemes) >= self.hops else None
        return client, scheme if scheme in {"http", "https"} else None

    def __call__(self, environ: dict, start_response):
        environ["ov.peer_address"] = environ.get("REMOTE_ADDR")
        # What only a proxy may say (X-Request-ID, X-Request-Start) is believed only when
        # this request came through one.
        environ[VIA_PROXY] = self.hops > 0 and self.is_proxy(
            peer_address(environ.get("REMOTE_ADDR")))
        client, scheme = self.resolve(environ)
        environ["REMOTE_ADDR"] = client or ""
        if scheme:
            environ["wsgi.url_scheme"] = scheme
        return self.app(environ, start_response)


def address_key(address: str | None) -> str:
    """The per-address limits' key of an address; ``?`` for none, or for text that is not
    an address (``REMOTE_ADDR`` never holds such text once :class:`ClientAddress` ran)."""
    found = valid_address(address)
    if found is None:
        return "?"
    parsed = ipaddress.ip_address(found)
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def client_key() -> str:
    """The per-address limits' key for the current request."""
    return address_key(request.remote_addr)
