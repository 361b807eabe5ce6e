"""The public help pages: home, customer service, legal notice, privacy notice, accessibility.

Each page is read the way a customer (or a screen reader) meets it: one Spanish heading, a
title that names the page, links that lead somewhere, and the utility's own contact data
taken from the settings, never written into the templates.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

SITE = "Oficina Virtual"

# url, the <title> before " · Oficina Virtual", the <h1>
PAGES = [
    ("/", "Inicio", None),  # the home <h1> names the utility: checked in its own test
    ("/atencion-al-cliente", "Atención al cliente", "Atención al cliente"),
    ("/aviso-legal", "Aviso legal", "Aviso legal y condiciones de uso"),
    ("/aviso-de-privacidad", "Aviso de privacidad", "Aviso de privacidad integral"),
    ("/accesibilidad", "Accesibilidad", "Declaración de accesibilidad"),
]
URLS = [url for url, _, _ in PAGES]

PLACEHOLDERS = re.compile(r"(?i:pr[oó]ximamente|lorem|ipsum)|\b(?:TODO|FIXME|TBD|XXX)\b")
VAGUE_LINK_TEXT = {
    "aquí",
    "aqui",
    "clic aquí",
    "haz clic aquí",
    "da clic aquí",
    "click aquí",
    "más",
    "ver más",
    "leer más",
    "enlace",
    "este enlace",
}
ACRONYMS = ("ARCO", "PROFECO", "LFPDPPP")


@dataclass
class Link:
    href: str
    text: str
    in_main: bool


@dataclass
class Page:
    """What the tests need from an HTML document, gathered in one pass."""

    title: str = ""
    headings: list[tuple[int, str]] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    styled: list[str] = field(default_factory=list)
    scripts_in_main: int = 0
    images: int = 0
    main_text: str = ""
    # for each acronym, whether its first appearance in <main> is inside an <abbr>
    first_acronym_in_abbr: dict[str, bool] = field(default_factory=dict)
    # the classes of the first element with a class inside <main>, after the <h1>
    classes_after_h1: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    VOID = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[str] = []
        self._heading: tuple[int, list[str]] | None = None
        self._link: tuple[str, list[str], bool] | None = None
        self._in_title = False
        self._main_parts: list[str] = []
        self._seen_h1 = False

    @property
    def in_main(self) -> bool:
        return "main" in self.stack

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if found.get("id"):
            self.page.ids.add(found["id"])
        if "style" in found:
            self.page.styled.append(tag)
        if tag == "script" and self.in_main:
            self.page.scripts_in_main += 1
        if tag == "img":
            self.page.images += 1
        if tag == "title":
            self._in_title = True
        if re.fullmatch(r"h[1-6]", tag):
            self._heading = (int(tag[1]), [])
            if tag == "h1" and self.in_main:
                self._seen_h1 = True
        elif (
            self.in_main
            and self._seen_h1
            and found.get("class")
            and not (self.page.classes_after_h1)
        ):
            self.page.classes_after_h1 = found["class"].split()
        if tag == "a" and "href" in found:
            self._link = (found["href"], [], self.in_main)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if self._heading and tag == f"h{self._heading[0]}":
            level, parts = self._heading
            self.page.headings.append((level, _squash("".join(parts))))
            self._heading = None
        if tag == "a" and self._link:
            href, parts, in_main = self._link
            self.page.links.append(Link(href, _squash("".join(parts)), in_main))
            self._link = None
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.page.title += data
        if self._heading:
            self._heading[1].append(data)
        if self._link:
            self._link[1].append(data)
        if self.in_main:
            self._main_parts.append(data)
            for acronym in ACRONYMS:
                if acronym not in self.page.first_acronym_in_abbr and re.search(
                    rf"\b{acronym}\b", data
                ):
                    self.page.first_acronym_in_abbr[acronym] = self.stack[-1] == "abbr"

    def close(self) -> None:
        super().close()
        self.page.title = _squash(self.page.title)
        self.page.main_text = _squash(" ".join(self._main_parts))


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def read(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.page


def get_page(client, url: str) -> tuple[str, Page]:
    response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    return html, read(html)


def internal_target(href: str) -> str | None:
    """The path a link leads to inside this site, or None for mail, phone and other sites."""
    parts = urlsplit(href)
    if parts.scheme in {"mailto", "tel"}:
        return None
    if parts.scheme or parts.netloc:
        host = parts.netloc.lower()
        if host not in {"localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:5000"}:
            return None
    return parts.path


# --- every page ---------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "title", "h1"), PAGES)
def test_page_has_its_title_and_one_spanish_heading(client, url, title, h1):
    _, page = get_page(client, url)
    assert page.title == f"{title} · {SITE}"
    h1s = [text for level, text in page.headings if level == 1]
    assert len(h1s) == 1, f"{url}: {len(h1s)} <h1>"
    if h1 is not None:
        assert h1s[0] == h1


def test_home_heading_names_the_utility(client, app):
    _, page = get_page(client, "/")
    h1 = next(text for level, text in page.headings if level == 1)
    assert h1 == f"Oficina Virtual de {app.config['OV_UTILITY_NAME']}"


@pytest.mark.parametrize("url", URLS)
def test_headings_start_at_h1_and_never_skip_a_level(client, url):
    _, page = get_page(client, url)
    levels = [level for level, _ in page.headings]
    assert levels and levels[0] == 1, f"{url}: first heading is not the <h1>"
    for before, after in zip(levels, levels[1:], strict=False):
        assert after <= before + 1, f"{url}: h{before} followed by h{after}"
    assert all(text for _, text in page.headings), f"{url}: an empty heading"


@pytest.mark.parametrize("url", URLS)
def test_no_placeholder_text(client, url):
    html, page = get_page(client, url)
    found = PLACEHOLDERS.findall(page.main_text) + PLACEHOLDERS.findall(page.title)
    assert not found, f"{url}: {found}"


@pytest.mark.parametrize("url", URLS)
def test_no_inline_styles_scripts_or_images_in_the_content(client, url):
    _, page = get_page(client, url)
    assert not page.styled, f"{url}: style= on {page.styled}"
    assert page.scripts_in_main == 0
    assert page.images == 0


@pytest.mark.parametrize("url", URLS)
def test_links_have_meaningful_text(client, url):
    _, page = get_page(client, url)
    for link in page.links:
        assert link.text, f"{url}: link to {link.href} has no text"
        assert link.text.lower().strip(".:") not in VAGUE_LINK_TEXT, (
            f"{url}: link to {link.href} says only {link.text!r}"
        )


@pytest.mark.parametrize("url", URLS)
def test_every_link_inside_the_site_resolves(client, url):
    _, page = get_page(client, url)
    checked = 0
    for link in page.links:
        parts = urlsplit(link.href)
        path = internal_target(link.href)
        if path is None:
            continue
        if not path:  # "#section": a place on this same page
            assert parts.fragment in page.ids, f"{url}: {link.href} points to no id"
            continue
        response = client.get(path)
        assert response.status_code == 200, f"{url}: {link.href} answered {response.status_code}"
        if parts.fragment:
            assert parts.fragment in read(response.get_data(as_text=True)).ids, (
                f"{url}: {link.href} points to no id on {path}"
            )
        checked += 1
    assert checked, f"{url}: no link inside the site was found"


@pytest.mark.parametrize("url", URLS)
def test_acronyms_are_marked_up_on_first_use(client, url):
    _, page = get_page(client, url)
    for acronym, in_abbr in page.first_acronym_in_abbr.items():
        assert in_abbr, f"{url}: first {acronym} is not inside <abbr>"


@pytest.mark.parametrize("url", URLS)
def test_page_stays_within_the_compressed_budget(client, url):
    html, _ = get_page(client, url)
    assert len(gzip.compress(html.encode(), compresslevel=6)) <= 14 * 1024


@pytest.mark.parametrize("url", URLS)
def test_htmx_gets_only_the_content_block(client, htmx_headers, url):
    _, full = get_page(client, url)
    response = client.get(url, headers=htmx_headers)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    for tag in ("<html", "<header", "<footer", "<main"):
        assert tag not in fragment, f"{url}: the fragment carries {tag}>"
    page = read(fragment)
    assert page.headings[:1] == full.headings[:1]
    assert page.title in {"", full.title}  # a fragment may carry the same <title>, no other


TEST_UTILITY = {
    "OV_UTILITY_NAME": "Gas de Prueba",
    "OV_UTILITY_LEGAL_NAME": "Gas de Prueba del Golfo, S.A.P.I. de C.V.",
    "OV_UTILITY_ADDRESS": "Calle Ficticia 12, Col. Ejemplo, 89000 Tampico, Tamps.",
    "OV_EMERGENCY_PHONE": "833 111 2222",
    "OV_CUSTOMER_PHONE": "833 333 4444",
    "OV_CUSTOMER_EMAIL": "clientes@prueba.example",
    "OV_PRIVACY_EMAIL": "privacidad@prueba.example",
}
# what each page must show of the utility's data, inside <main>
SHOWN = {
    "/": {"text": ["OV_UTILITY_NAME"]},
    "/atencion-al-cliente": {
        "text": ["OV_UTILITY_ADDRESS"],
        "href": ["tel:8331112222", "tel:8333334444", "mailto:clientes@prueba.example"],
    },
    "/aviso-legal": {
        "text": ["OV_UTILITY_LEGAL_NAME", "OV_UTILITY_ADDRESS"],
        "href": ["tel:8333334444", "mailto:clientes@prueba.example"],
    },
    "/aviso-de-privacidad": {
        "text": ["OV_UTILITY_LEGAL_NAME", "OV_UTILITY_ADDRESS"],
        "href": ["mailto:privacidad@prueba.example"],
    },
    "/accesibilidad": {"href": ["tel:8333334444", "mailto:clientes@prueba.example"]},
}


@pytest.mark.parametrize("url", URLS)
def test_utility_data_comes_from_the_settings(app, client, monkeypatch, url):
    """Change every utility setting: the page shows the new values and none of the old."""
    old = {key: app.config[key] for key in TEST_UTILITY}
    for key, value in TEST_UTILITY.items():
        monkeypatch.setitem(app.config, key, value)
    html, page = get_page(client, url)
    for key, value in old.items():
        assert value not in html, f"{url}: {key} is written into the page: {value!r}"
    for key in SHOWN[url].get("text", []):
        assert TEST_UTILITY[key] in page.main_text, f"{url} does not show {key}"
    hrefs = {link.href for link in page.links if link.in_main}
    for href in SHOWN[url].get("href", []):
        assert href in hrefs, f"{url} has no link to {href}"


# --- page by page -------------------------------------------------------------------------


def test_home_explains_what_registration_needs(client):
    _, page = get_page(client, "/")
    for words in ("Zona geográfica", "Número de cuenta", "Número de factura", "factura"):
        assert words in page.main_text
    inside = {internal_target(link.href) for link in page.links if link.in_main}
    for url in URLS[1:]:
        assert url in inside, f"the home page does not link to {url}"


def test_emergency_number_comes_first_and_prominent(app, client):
    html, page = get_page(client, "/atencion-al-cliente")
    emergency = "tel:" + app.config["OV_EMERGENCY_PHONE"].replace(" ", "")
    contacts = [link for link in page.links if link.href.startswith(("tel:", "mailto:"))]
    assert contacts, "no contact link at all"
    assert contacts[0].href == emergency
    assert contacts[0].in_main
    assert any(link.href == "tel:911" and link.in_main for link in page.links)
    customer = "tel:" + app.config["OV_CUSTOMER_PHONE"].replace(" ", "")
    hrefs = [link.href for link in contacts]
    assert customer in hrefs
    assert hrefs.index(emergency) < hrefs.index(customer)
    assert "mailto:" + app.config["OV_CUSTOMER_EMAIL"] in hrefs
    # the first thing after the <h1> is the red emergency box
    assert page.classes_after_h1[:2] == ["callout", "callout--danger"]
    for advice in ("luces", "flama", "ventanas", "llave de paso", "24 horas"):
        assert advice in page.main_text, f"the leak advice does not mention {advice!r}"


def test_customer_service_says_what_to_have_at_hand_and_how_to_complain(client):
    _, page = get_page(client, "/atencion-al-cliente")
    assert "40989917-7" in page.main_text
    assert "PROFECO" in page.main_text
    assert "8:00 a 20:00" in page.main_text and "hora del centro de México" in page.main_text


def test_privacy_notice_covers_arco_rights_and_the_privacy_email(app, client):
    _, page = get_page(client, "/aviso-de-privacidad")
    text = page.main_text
    for right in ("Acceso", "Rectificación", "Cancelación", "Oposición"):
        assert right in text
    assert "ARCO" in text
    assert any(
        link.href == "mailto:" + app.config["OV_PRIVACY_EMAIL"] and link.in_main
        for link in page.links
    )
    assert "20 días hábiles" in text and "15 días hábiles" in text
    assert "Secretaría Anticorrupción y Buen Gobierno" in text
    assert "Registro Público para Evitar Publicidad" in text
    assert re.search(r"Versión \d+\.\d+, vigente desde el \d{1,2} de \w+ de \d{4}", text)


def test_privacy_notice_names_the_captcha_vendor_only_when_one_is_configured(
    app, client, monkeypatch
):
    _, page = get_page(client, "/aviso-de-privacidad")
    assert app.config["OV_CAPTCHA_PROVIDER"] == "builtin"
    assert "Google" not in page.main_text and "Cloudflare" not in page.main_text
    monkeypatch.setitem(app.config, "OV_CAPTCHA_PROVIDER", "turnstile")
    _, page = get_page(client, "/aviso-de-privacidad")
    assert "Cloudflare Turnstile" in page.main_text


def test_legal_notice_shows_its_version(client):
    _, page = get_page(client, "/aviso-legal")
    assert "Versión 1.0, vigente desde el 1 de diciembre de 2026" in page.main_text
    assert "PROFECO" in page.main_text


def test_accessibility_statement_names_its_target_and_limits(client):
    _, page = get_page(client, "/accesibilidad")
    text = page.main_text
    assert "WCAG" in text and "2.2" in text and "AA" in text
    assert "PDF" in text
    assert "5 días hábiles" in text
    assert re.search(r"\d{1,2} de \w+ de \d{4}", text)


# --- finding the way: registration and the payment help from the home page and every footer -----

def test_home_leads_to_registration_and_to_the_payment_help(client):
    _, page = get_page(client, "/")
    inside = {internal_target(link.href): link.text for link in page.links if link.in_main}
    assert inside.get("/registro/paso-1") == "Regístrate"
    assert "/donde-pagar" in inside and "/conoce-tu-factura" in inside


@pytest.mark.parametrize("url", [*URLS, "/donde-pagar", "/conoce-tu-factura", "/entrar"])
def test_every_footer_links_to_where_to_pay_and_know_your_bill(client, url):
    html = client.get(url).get_data(as_text=True)
    footer = read(html.split('<footer class="site-footer">')[1])
    targets = {internal_target(link.href): link.text for link in footer.links}
    assert targets.get("/donde-pagar") == "¿Dónde pagar?"
    assert targets.get("/conoce-tu-factura") == "Conoce tu factura"


# --- texts that agree with each other and with what the portal does -----------------------------

def test_the_legal_notice_says_what_a_duplicate_is_as_the_pdf_does(app, client, clean_db):
    """A duplicate is informative, not the CFDI; an overdue bill's coupon gets a new date."""
    from datetime import date
    from io import BytesIO

    from pypdf import PdfReader

    from ov.extensions import db
    from ov.services import documents, references
    from tests.support.factories import make_customer, make_invoices

    _, page = get_page(client, "/aviso-legal")
    legal = page.main_text
    with app.app_context():
        _, account = make_customer()
        overdue = make_invoices(account, 3)[-2]
        coupon = references.coupon_for(account, overdue, date.today())
        pdf = documents.invoice_pdf(overdue, account, account.zone, coupon, today=date.today())
        db.session.rollback()
    printed = " ".join(PdfReader(BytesIO(pdf)).pages[0].extract_text().split())
    fiscal = "no sustituye al comprobante fiscal (CFDI)"
    assert fiscal in printed and fiscal in legal
    assert "misma validez" not in legal
    assert "Cupón actualizado" in printed
    days = app.config["OV_COUPON_VALID_DAYS"]
    assert f"cupón vigente por {days} días" in legal
    assert "la fecha límite de pago de la factura no cambia" in legal
    _, where = get_page(client, "/donde-pagar")
    assert "nueva fecha límite" not in where.main_text
    assert f"cupón vigente por {days} días" in where.main_text


@pytest.mark.parametrize("url", URLS)
def test_texts_promise_only_what_the_portal_does(client, url):
    """Readings, requests and changes of contact data go through Atención al cliente today."""
    _, page = get_page(client, url)
    text = page.main_text.lower()
    for missing in ("enviar la lectura", "enviarnos la lectura", "actualizar sus datos",
                    "mantener al día tus datos", "presentar solicitudes", "hacer solicitudes",
                    "corregirlos directamente", "en la sección «mis solicitudes y reclamos»"):
        assert missing not in text, f"{url} promises {missing!r}"
    if url in ("/", "/aviso-legal"):  # the two that list what the portal does
        for there in ("factura", "duplicado", "pago", "consumo", "aviso"):
            assert there in text, f"{url} does not mention {there!r}"


def test_the_instructivo_has_one_name(client, htmx_headers):
    _, page = get_page(client, "/ayuda/factura")
    title = page.title.split(" · ")[0]
    assert title == page.headings[0][1] == "Información para introducir el número de factura"
    dialog = client.get("/ayuda/factura?vista=dialogo", headers=htmx_headers)
    assert read(dialog.get_data(as_text=True)).headings[0][1] == title


@pytest.mark.parametrize(("url", "validity"), [("/recuperar/enlace/no-vale", "1 hora"),
                                                ("/confirmar-correo/no-vale", "7 días")])
def test_an_expired_link_says_how_long_links_last_in_good_spanish(client, url, validity):
    response = client.get(url)
    assert response.status_code == 400
    text = read(response.get_data(as_text=True)).main_text
    assert "pasaron más de 1 " not in text
    assert f"venció: vale por {validity} desde que te lo enviamos" in text


def test_the_link_back_to_sign_in_reads_as_spanish(client):
    _, page = get_page(client, "/recuperar/enviado")
    links = {link.text: internal_target(link.href) for link in page.links if link.in_main}
    assert "Volver a Identifícate" not in links
    assert links["Volver a la página de entrada"] == "/entrar"
