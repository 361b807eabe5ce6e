"""The CFDI (the SAT's electronic invoice, XML) an invoice row names: read safely and
matched against the row.

``defusedxml`` parses it, refusing entity tricks (a "billion laughs" or an external
entity cannot make the import read other files or eat memory). The file must be a CFDI
(``cfdi:Comprobante``, version 3.3 or 4.0) stamped by the SAT (``tfd:TimbreFiscalDigital``)
whose ``UUID`` and ``Total`` are the row's.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

#: A CFDI is a few kilobytes; anything this large is not one.
MAX_BYTES = 1024 * 1024
NAMESPACES = ("http://www.sat.gob.mx/cfd/4", "http://www.sat.gob.mx/cfd/3")
VERSIONS = {"http://www.sat.gob.mx/cfd/4": "4.0", "http://www.sat.gob.mx/cfd/3": "3.3"}
STAMP = "{http://www.sat.gob.mx/TimbreFiscalDigital}TimbreFiscalDigital"


_DECLARED_ENCODING = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")


class CfdiError(ValueError):
    """What is wrong with the file, in Spanish, for the operator."""


def check(path: Path, *, uuid: str, total: str) -> str:
    """The file's text if it is the CFDI of that UUID and total; else :class:`CfdiError`."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise CfdiError("no es un archivo")
        if size > MAX_BYTES:
            raise CfdiError(f"pesa {size:,} bytes; un CFDI no pasa de {MAX_BYTES:,}")
        data = path.read_bytes()
    except FileNotFoundError:
        raise CfdiError("no existe en la exportación") from None
    except OSError as error:
        raise CfdiError(f"no se puede leer ({error.strerror})") from None
    try:
        xml = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CfdiError(f"no es UTF-8 (byte {error.start + 1})") from None
    declared = _DECLARED_ENCODING.match(data)
    if declared and declared.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        raise CfdiError(f'declara la codificación "{declared.group(1).decode("ascii", "replace")}"'
                        ": un CFDI se guarda en UTF-8")
    try:
        root = fromstring(data)
    except DefusedXmlException:
        raise CfdiError("declara entidades o una DTD externa, que un CFDI no lleva y no se "
                        "aceptan (podrían agotar la memoria o leer otros archivos)") from None
    except (ValueError, LookupError):
        # expat refuses multi-byte or unknown declared encodings before reading a thing.
        raise CfdiError("declara una codificación que no es UTF-8: un CFDI se guarda en UTF-8"
                        ) from None
    except ParseError as error:
        line, column = getattr(error, "position", (0, 0))
        raise CfdiError(f"no es XML válido (error en la línea {line}, columna {column + 1})"
                        ) from None
    namespace, _, tag = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", "")
    if tag != "Comprobante" or namespace not in NAMESPACES:
        raise CfdiError("no es un CFDI: su elemento raíz no es cfdi:Comprobante")
    version = root.get("Version", "")
    if version != VERSIONS[namespace]:
        raise CfdiError(f'su Version "{version}" no es la de su espacio de nombres '
                        f"({namespace}: {VERSIONS[namespace]})")
    stamp = root.find(f"{{{namespace}}}Complemento/{STAMP}")
    if stamp is None or not stamp.get("UUID"):
        raise CfdiError("no tiene el timbre fiscal (tfd:TimbreFiscalDigital con su UUID)")
    found_uuid = stamp.get("UUID", "")
    if found_uuid.upper() != uuid.upper():
        raise CfdiError(f"su UUID es {found_uuid} y cfdi_uuid dice {uuid}")
    try:
        found_total = Decimal(root.get("Total", ""))
    except InvalidOperation:
        raise CfdiError(f'su Total "{root.get("Total", "")}" no es un importe') from None
    if not found_total.is_finite():
        raise CfdiError(f'su Total "{root.get("Total", "")}" no es un importe')
    if found_total != Decimal(total):
        raise CfdiError(f"su Total es {root.get('Total')} y la factura dice {total}")
    return xml
