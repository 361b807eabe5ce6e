"""Which client a request counts as, for per-address limits.

An IPv6 client is usually given a whole /64 network, so limits count the network rather than
the address: otherwise changing the last 64 bits would give a fresh allowance every time.
IPv4 addresses (also when an IPv6 socket shows them as ``::ffff:a.b.c.d``) count as they are.
"""

from __future__ import annotations

import ipaddress

from flask import request


def address_key(address: str | None) -> str:
    if not address:
        return "?"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an address (a test client, a proxy's odd header): as it is
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def client_key() -> str:
    """The per-address limits' key for the current request (after ProxyFix, if configured)."""
    return address_key(request.remote_addr)
