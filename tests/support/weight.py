"""Page weight: compressed bytes of a page and of every asset a first visit loads.

Sizes are measured through the app itself with ``Accept-Encoding: br, gzip`` (what phones
send), so they are deterministic and can be tested against the budgets in DESIGN.md.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import brotli

ACCEPT = {"Accept-Encoding": "br, gzip"}
PAGE_BUDGET = 14 * 1024
FIRST_VISIT_BUDGET = 64 * 1024
SCRIPT_BUDGET = 16 * 1024


class _AssetParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.assets: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.assets.append(("script", found["src"] or ""))
        elif tag == "link" and found.get("href") and found.get("rel") in {
            "stylesheet", "icon", "preload", "modulepreload"
        }:
            self.assets.append((found["rel"] or "", found["href"] or ""))
        elif tag == "img" and found.get("src"):
            self.assets.append(("img", found["src"] or ""))


@dataclass
class Weight:
    url: str
    status: int
    html_bytes: int
    encoding: str | None
    assets: dict[str, int] = field(default_factory=dict)
    script_bytes: int = 0

    @property
    def first_visit_bytes(self) -> int:
        return self.html_bytes + sum(self.assets.values())


def measure(client, url: str, headers: dict[str, str] | None = None) -> Weight:
    response = client.get(url, headers={**ACCEPT, **(headers or {})})
    body = response.get_data()
    parser = _AssetParser()
    parser.feed(decoded_text(response))
    weight = Weight(url, response.status_code, len(body), response.headers.get("Content-Encoding"))
    for kind, src in parser.assets:
        if src.startswith("data:"):
            continue
        parts = urlsplit(src)
        assert not parts.netloc, f"{url} loads a third-party asset: {src}"
        asset = client.get(parts.path + (f"?{parts.query}" if parts.query else ""), headers=ACCEPT)
        assert asset.status_code == 200, f"{url}: asset {src} answered {asset.status_code}"
        size = len(asset.get_data())
        weight.assets[src] = size
        if kind == "script":
            weight.script_bytes += size
    return weight


def decoded_text(response) -> str:
    raw = response.get_data()
    encoding = response.headers.get("Content-Encoding")
    if encoding == "br":
        raw = brotli.decompress(raw)
    elif encoding == "gzip":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8")
