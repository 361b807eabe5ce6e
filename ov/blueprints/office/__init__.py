"""Mi oficina: the signed-in customer's own pages, a module per area.

``common`` holds the blueprint and what every page shares (the signed-in rule, the private
cache headers, the tabs and the user's ``Scope``); each other module adds its area's pages:
``home``, ``invoices`` (with the PDF duplicate and the CFDI), ``payments``, ``consumption``,
``account`` (Mis datos, with ``preferences`` and ``privacy``: the ARCO rights), ``reauth`` (the
password asked again before a sensitive change), ``contracts`` (Mis contratos: add, name, remove),
``service_requests``, ``notices`` and ``photos`` (what customers sent, shown back to them).
"""

from ov.blueprints.office import (  # noqa: F401  (each module adds its pages to bp)
    account,
    consumption,
    contracts,
    home,
    invoices,
    notices,
    payments,
    photos,
    preferences,
    privacy,
    readings,
    service_requests,
)
from ov.blueprints.office.common import bp

__all__ = ["bp"]
