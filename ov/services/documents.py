"""The invoice duplicate: one Letter page, PDF, with the payment coupon's barcode.

Drawn straight on a reportlab canvas with the standard Helvetica fonts (WinAnsi covers
á é í ó ú ñ ü ¿ ¡ ³ —), so nothing is embedded and the file weighs a few kilobytes. The
bytes depend only on the data and on ``today``: the canvas runs in invariant mode and the
creation date written in the metadata is ``today`` at 00:00 Mexico City time.

A duplicate is a copy for reading and paying, not a tax document: it says so at the
bottom (the CFDI is the fiscal one).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from flask import current_app
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.colors import Color, white
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from ov.formatting import day, money, number, quantity, unit_price
from ov.models.billing import Account, Invoice, InvoiceLine, InvoiceStatus, ReadingType, Zone
from ov.services.references import Coupon, format_for_people

PAGE_WIDTH, PAGE_HEIGHT = LETTER
MARGIN = 36.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN

REGULAR = "Helvetica"
BOLD = "Helvetica-Bold"

INK = Color(0.13, 0.13, 0.13)
MUTED = Color(0.35, 0.35, 0.35)
RULE = Color(0.70, 0.70, 0.70)
BAND = Color(0.91, 0.93, 0.96)
ACCENT = Color(0.05, 0.27, 0.52)
ALERT = Color(0.70, 0.07, 0.07)
WATERMARK = Color(0.94, 0.94, 0.94)

#: Code128 module width: 1 pt is 0.35 mm, read well by store scanners from a laser print.
BAR_WIDTH = 1.0
BAR_HEIGHT = 46.0

#: Charge lines drawn one by one; beyond this (or beyond the room left) the rest are
#: summed in one row, so the page never spills onto a second one.
MAX_LINE_ROWS = 10
ROW_HEIGHT = 13
TOTALS_HEIGHT = 57

STATUS_LABELS = {
    InvoiceStatus.PAID: "Pagada",
    InvoiceStatus.PENDING: "Pendiente de pago",
    InvoiceStatus.OVERDUE: "Vencida",
}
READING_NOTES = {
    ReadingType.ESTIMATED: "Lectura estimada con tu consumo habitual: la siguiente lectura real "
    "ajusta la diferencia.",
    ReadingType.CUSTOMER: "Lectura proporcionada por el cliente.",
}
READING_LABELS = {
    ReadingType.REAL: "Real",
    ReadingType.ESTIMATED: "Estimada",
    ReadingType.CUSTOMER: "Del cliente",
}


def _fit(text: str, font: str, size: float, width: float) -> str:
    """``text``, cut with an ellipsis if it would not fit in ``width`` points."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _wrap(text: str, width: float, most: int, *, font: str = REGULAR,
          size: float = 9) -> list[str]:
    """``text`` in lines of ``width`` points, at most ``most``; the last one cut with an
    ellipsis if the text goes on."""
    lines = simpleSplit(text, font, size, width)
    if len(lines) > most:
        lines = lines[:most - 1] + [_fit(" ".join(lines[most - 1:]), font, size, width)]
    return lines


class _Page:
    """A few drawing helpers over the canvas, with the page's styles."""

    def __init__(self, canvas: Canvas):
        self.c = canvas
        # The font and fill colour last set through these helpers: setting them again (most
        # texts share them) would only repeat an operator in the page. Drawing that changes
        # them directly on the canvas does it between saveState and restoreState.
        self._font: tuple[str, float] | None = None
        self._fill: Color | None = None

    def font(self, font: str, size: float) -> None:
        if self._font != (font, size):
            self.c.setFont(font, size)
            self._font = (font, size)

    def fill(self, color: Color) -> None:
        if self._fill is not color:
            self.c.setFillColor(color)
            self._fill = color

    def text(self, x: float, y: float, text: str, *, font: str = REGULAR, size: float = 9,
             color: Color = INK, align: str = "left", width: float | None = None) -> None:
        if width is not None:
            text = _fit(text, font, size, width)
        self.font(font, size)
        self.fill(color)
        if align == "right":
            self.c.drawRightString(x, y, text)
        elif align == "center":
            self.c.drawCentredString(x, y, text)
        else:
            self.c.drawString(x, y, text)

    def rule(self, x1: float, y: float, x2: float, *, color: Color = RULE,
             width: float = 0.5, dash: Sequence[float] | None = None) -> None:
        self.c.saveState()
        self.c.setStrokeColor(color)
        self.c.setLineWidth(width)
        if dash:
            self.c.setDash(list(dash))
        self.c.line(x1, y, x2, y)
        self.c.restoreState()

    def band(self, x: float, y: float, width: float, title: str) -> float:
        """A section title on a tinted band whose top is ``y``; returns the y below it."""
        self.fill(BAND)
        self.c.rect(x, y - 15, width, 15, stroke=0, fill=1)
        self.text(x + 6, y - 11, title, font=BOLD, size=9, color=ACCENT)
        return y - 15

    def pairs(self, x: float, y: float, width: float,
              rows: Sequence[tuple[str, str | list[str]]], *, label_width: float = 92,
              leading: float = 12.5) -> float:
        """Label/value rows; a list value is several lines. Returns the y below the last."""
        for label, value in rows:
            self.text(x, y, label, size=8, color=MUTED)
            lines = value if isinstance(value, list) else [value]
            for line in lines:
                self.text(x + label_width, y, line, size=9, width=width - label_width)
                y -= leading
        return y


def invoice_pdf(invoice: Invoice, account: Account, zone: Zone, coupon: Coupon | None, *,
                today: date) -> bytes:
    """The duplicate of ``invoice`` as PDF bytes (one Letter page).

    ``coupon`` is what :func:`ov.services.references.coupon_for` gives for the bill on
    ``today`` (``None`` when paid): its barcode and amount are printed at the bottom.
    Runs inside an app context (the utility's name and address come from the settings).
    """
    if invoice.account_id != account.id or account.zone_id != zone.id:
        raise ValueError(f"{invoice!r}, {account!r} and {zone!r} do not belong together")
    if coupon is not None and invoice.id not in {paid.id for paid in coupon.invoices}:
        raise ValueError(f"the coupon does not pay {invoice!r}")
    config = current_app.config
    utility = config["OV_UTILITY_NAME"]
    status = invoice.status_on(today)

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=LETTER, pageCompression=1, invariant=1, lang="es-MX")
    canvas.setTitle(f"Duplicado de factura {invoice.number}")
    canvas.setAuthor(utility)
    canvas.setSubject(f"Factura de gas natural, cuenta {account.printed_number}")
    canvas.setCreator(config.get("OV_SITE_NAME", "Oficina Virtual"))
    canvas.setProducer(config.get("OV_SITE_NAME", "Oficina Virtual"))
    stamp = f"D:{today:%Y%m%d}000000-06'00'"
    canvas.setDateFormatter(lambda *_: stamp)

    page = _Page(canvas)
    _watermark(canvas)
    y = _header(page, invoice, config)
    y = _parties(page, y - 14, invoice, account, zone, status, today)
    y = _readings(page, y - 12, invoice, account)
    y = _charges(page, y - 12, invoice)
    _footer_note(page, today)
    _coupon(page, invoice, account, zone, coupon, status, utility)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# --- regions, top to bottom ------------------------------------------------------------------

def _watermark(canvas: Canvas) -> None:
    canvas.saveState()
    canvas.setFillColor(WATERMARK)
    canvas.setFont(BOLD, 96)
    canvas.translate(PAGE_WIDTH / 2, PAGE_HEIGHT / 2 + 90)
    canvas.rotate(32)
    canvas.drawCentredString(0, -34, "DUPLICADO")
    canvas.restoreState()


def _header(page: _Page, invoice: Invoice, config) -> float:
    top = PAGE_HEIGHT - MARGIN
    left_width = CONTENT_WIDTH - 190
    page.text(MARGIN, top - 16, config["OV_UTILITY_NAME"], font=BOLD, size=17, color=ACCENT,
              width=left_width)
    page.text(MARGIN, top - 30, config["OV_UTILITY_LEGAL_NAME"], size=8, color=MUTED,
              width=left_width)
    page.text(MARGIN, top - 41, config["OV_UTILITY_ADDRESS"], size=8, color=MUTED,
              width=left_width)
    page.text(MARGIN, top - 52,
              f"Atención a clientes: {config['OV_CUSTOMER_PHONE']}   ·   "
              f"Emergencias y fugas: {config['OV_EMERGENCY_PHONE']}",
              size=8, color=MUTED, width=left_width)

    # The mark: a framed "DUPLICADO" and what the document is.
    box_x, box_w = PAGE_WIDTH - MARGIN - 180, 180
    c = page.c
    c.saveState()
    c.setStrokeColor(ALERT)
    c.setLineWidth(1.5)
    c.rect(box_x, top - 26, box_w, 24, stroke=1, fill=0)
    c.restoreState()
    page.text(box_x + box_w / 2, top - 19, "DUPLICADO", font=BOLD, size=15, color=ALERT,
              align="center")
    page.text(box_x + box_w, top - 40, "Factura de gas natural", font=BOLD, size=10,
              align="right")
    page.text(box_x + box_w, top - 52, f"No. {invoice.number}", size=9, align="right")
    bottom = top - 60
    page.rule(MARGIN, bottom, PAGE_WIDTH - MARGIN, color=ACCENT, width=1)
    return bottom


def _address_lines(account: Account, width: float) -> list[str]:
    street = f"{account.street} {account.street_number}".strip()
    place = f"Col. {account.colonia}, C.P. {account.postal_code}"
    city = f"{account.city}, {account.state}"
    return _wrap(street, width, 2) + _wrap(place, width, 2) + _wrap(city, width, 1)


def _parties(page: _Page, y: float, invoice: Invoice, account: Account, zone: Zone,
             status: InvoiceStatus, today: date) -> float:
    gap = 14
    column = (CONTENT_WIDTH - gap) / 2
    left, right = MARGIN, MARGIN + column + gap

    body = page.band(left, y, column, "Datos del suministro") - 13
    value_width = column - 12 - 92
    bottom_left = page.pairs(left + 6, body, column - 12, [
        ("Titular", _wrap(account.holder_name, value_width, 2)),
        ("Dirección", _address_lines(account, value_width)),
        ("Número de cuenta", account.printed_number),
        ("Zona", zone.name),
        ("Tarifa", account.tariff_code),
    ])

    body = page.band(right, y, column, "Datos de la factura") - 13
    if status is InvoiceStatus.PAID:
        state = f"Pagada el {day(invoice.paid_at)}"
    elif status is InvoiceStatus.OVERDUE:
        state = f"Vencida desde el {day(invoice.due_date)}"
    else:
        state = "Pendiente de pago"
    bottom_right = page.pairs(right + 6, body, column - 12, [
        ("Número de factura", invoice.number),
        ("Periodo", f"{day(invoice.period_start)} al {day(invoice.period_end)}"),
        ("Fecha de emisión", day(invoice.issue_date)),
        ("Fecha de vencimiento", day(invoice.due_date)),
        ("Total de la factura", money(invoice.total)),
    ])
    # The status as a coloured line of its own, so it stands out.
    color = {InvoiceStatus.PAID: ACCENT, InvoiceStatus.OVERDUE: ALERT}.get(status, INK)
    page.text(right + 6, bottom_right, "Estado", size=8, color=MUTED)
    page.text(right + 6 + 92, bottom_right, state, font=BOLD, size=9, color=color)
    bottom_right -= 12.5
    return min(bottom_left, bottom_right) + 4


def _table_header(page: _Page, y: float, columns: Sequence[tuple[str, float, str]]) -> float:
    """Column titles under a band; ``columns`` are (title, x, align). Returns y below."""
    for title, x, align in columns:
        page.text(x, y - 11, title, font=BOLD, size=8, color=MUTED, align=align)
    page.rule(MARGIN, y - 15, PAGE_WIDTH - MARGIN)
    return y - 15


def _readings(page: _Page, y: float, invoice: Invoice, account: Account) -> float:
    y = page.band(MARGIN, y, CONTENT_WIDTH, "Lecturas del medidor y consumo")
    right = PAGE_WIDTH - MARGIN - 6
    columns = [
        ("Medidor", MARGIN + 6, "left"),
        ("Lectura anterior (m³)", MARGIN + 230, "right"),
        ("Lectura actual (m³)", MARGIN + 350, "right"),
        ("Tipo de lectura", MARGIN + 370, "left"),
        ("Consumo", right, "right"),
    ]
    y = _table_header(page, y, columns)
    row = y - 12
    kind = READING_LABELS.get(ReadingType(invoice.reading_type), invoice.reading_type)
    page.text(MARGIN + 6, row, account.meter_serial)
    page.text(MARGIN + 230, row, number(invoice.previous_reading), align="right")
    page.text(MARGIN + 350, row, number(invoice.current_reading), align="right")
    page.text(MARGIN + 370, row, kind,
              font=BOLD if invoice.reading_type != ReadingType.REAL else REGULAR)
    page.text(right, row, f"{number(invoice.consumption_m3)} m³", font=BOLD, align="right")
    note = READING_NOTES.get(ReadingType(invoice.reading_type))
    if note:
        row -= 12
        page.text(MARGIN + 6, row, note, size=7.5, color=MUTED)
    return row - 6


def _charge_rows(lines: Sequence[InvoiceLine],
                 room: int) -> list[tuple[str, str, str, str, str]]:
    """One row per line; when more than ``room`` rows, the last one sums the rest."""
    rows = [
        (line.concept, quantity(line.quantity), line.unit, unit_price(line.unit_price),
         money(line.amount))
        for line in lines
    ]
    if len(rows) > room:
        rest = lines[room - 1:]
        total = sum((line.amount for line in rest), Decimal("0"))
        rows = rows[:room - 1] + [
            (f"Otros cargos ({len(rest)} conceptos)", "", "", "", money(total))
        ]
    return rows


def _charges(page: _Page, y: float, invoice: Invoice) -> float:
    y = page.band(MARGIN, y, CONTENT_WIDTH, "Detalle de cargos")
    right = PAGE_WIDTH - MARGIN - 6
    x_quantity, x_unit, x_price = MARGIN + 330, MARGIN + 340, MARGIN + 460
    y = _table_header(page, y, [
        ("Concepto", MARGIN + 6, "left"),
        ("Cantidad", x_quantity, "right"),
        ("Unidad", x_unit, "left"),
        ("Precio unitario", x_price, "right"),
        ("Importe", right, "right"),
    ])
    # Rows that fit above the totals (57 pt) and the footnote, whatever came above.
    room = int((y - TOTALS_HEIGHT - (COUPON_TOP + 48)) // ROW_HEIGHT)
    for concept, count, unit, price, amount in _charge_rows(
        invoice.lines, max(2, min(MAX_LINE_ROWS, room))
    ):
        y -= ROW_HEIGHT
        page.text(MARGIN + 6, y, concept, width=x_quantity - 60 - MARGIN)
        page.text(x_quantity, y, count, align="right")
        page.text(x_unit, y, unit, width=x_price - 60 - x_unit)
        page.text(x_price, y, price, align="right")
        page.text(right, y, amount, align="right")
    y -= 7
    page.rule(MARGIN + 300, y, PAGE_WIDTH - MARGIN)
    rate = int(Invoice.TAX_RATE * 100)
    for label, value in (("Subtotal", invoice.subtotal), (f"IVA {rate} %", invoice.tax)):
        y -= 13
        page.text(x_price, y, label, align="right", color=MUTED)
        page.text(right, y, money(value), align="right")
    y -= 8
    page.rule(MARGIN + 300, y, PAGE_WIDTH - MARGIN, color=INK, width=0.8)
    y -= 16
    page.text(x_price, y, "Total", font=BOLD, size=12, align="right")
    page.text(right, y, money(invoice.total), font=BOLD, size=12, align="right")
    return y


COUPON_TOP = MARGIN + 196


def _footer_note(page: _Page, today: date) -> None:
    y = COUPON_TOP + 30
    page.text(MARGIN, y,
              "Este duplicado es informativo y no sustituye al comprobante fiscal (CFDI) "
              "de la factura.", size=7.5, color=MUTED)
    page.text(MARGIN, y - 10,
              f"Generado el {day(today)} en Oficina Virtual. Los pagos pueden tardar "
              "de 48 a 72 horas en reflejarse.", size=7.5, color=MUTED)


def _coupon(page: _Page, invoice: Invoice, account: Account, zone: Zone, coupon: Coupon | None,
            status: InvoiceStatus, utility: str) -> None:
    top = COUPON_TOP
    page.rule(MARGIN, top + 8, PAGE_WIDTH - MARGIN, color=MUTED, width=0.8, dash=(4, 3))
    label = "Recorte por la línea punteada"
    page.fill(white)
    label_width = stringWidth(label, REGULAR, 7) + 10
    page.c.rect(PAGE_WIDTH / 2 - label_width / 2, top + 3, label_width, 10, stroke=0, fill=1)
    page.text(PAGE_WIDTH / 2, top + 5.5, label, size=7, color=MUTED, align="center")

    title = "Cupón de pago" if coupon is not None else "Pago de la factura"
    y = page.band(MARGIN, top - 4, CONTENT_WIDTH, f"{title} · {utility}")
    info_x = MARGIN + 6
    page.pairs(info_x, y - 14, 260, [
        ("Titular", account.holder_name),
        ("Número de cuenta", account.printed_number),
        ("Factura", invoice.number),
        ("Zona", zone.name),
    ], label_width=80)

    right = PAGE_WIDTH - MARGIN - 6
    if coupon is None:
        if status is InvoiceStatus.PAID:
            message = f"Factura pagada el {day(invoice.paid_at)} — sin cupón de pago"
        else:
            message = "Sin cupón de pago: consulta tu saldo en Oficina Virtual."
        page.text(right, y - 30, message, font=BOLD, size=11, color=ACCENT, align="right")
        page.text(right, y - 46, "No hay nada que pagar con este documento.", size=9,
                  color=MUTED, align="right")
        return

    page.text(right, y - 16, "Importe a pagar", size=9, color=MUTED, align="right")
    page.text(right, y - 36, money(coupon.amount), font=BOLD, size=20, align="right")
    page.text(right, y - 52, f"Pagar antes de {day(coupon.due)}", font=BOLD, size=11,
              color=ALERT if coupon.renewed else INK, align="right")
    if coupon.renewed:
        notes = [f"Factura vencida el {day(invoice.due_date)}. Cupón actualizado para pagarla."]
        if coupon.late_fee:
            notes.append(f"Incluye cargo por pago extemporáneo de {money(coupon.late_fee)}.")
        for offset, note in enumerate(notes):
            page.text(right, y - 64 - 9.5 * offset, note, size=7.5, color=MUTED,
                      align="right", width=CONTENT_WIDTH - 280)

    barcode = Code128(coupon.reference, barWidth=BAR_WIDTH, barHeight=BAR_HEIGHT,
                      humanReadable=False, quiet=True, lquiet=12 * BAR_WIDTH,
                      rquiet=12 * BAR_WIDTH)
    bar_y = MARGIN + 26
    barcode.drawOn(page.c, MARGIN, bar_y)
    bars_left = MARGIN + barcode.lquiet
    bars_width = barcode.width - barcode.lquiet - barcode.rquiet
    page.text(bars_left + bars_width / 2, bar_y - 12, format_for_people(coupon.reference),
              font=BOLD, size=10, align="center")
    page.text(bars_left, MARGIN, "Referencia de pago para bancos y tiendas de conveniencia.",
              size=7.5, color=MUTED)

    notes_x = MARGIN + barcode.width + 18
    notes = (
        "Paga en bancos y tiendas de conveniencia con este cupón o con la referencia. "
        "Imprime en impresora láser y en alta calidad para que el código de barras se lea."
    )
    lines = simpleSplit(notes, REGULAR, 7.5, right - notes_x)
    line_y = bar_y + 30
    for line in lines:
        page.text(notes_x, line_y, line, size=7.5, color=MUTED)
        line_y -= 9.5
