"""Print the compressed weight of every page the portal serves (Markdown table).

    .venv/bin/python bench/page_weight.py

Uses the same measurement as the tests (tests/support/weight.py): the app answers with
``Accept-Encoding: br, gzip``; "first visit" adds every stylesheet, script and icon the page loads.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ov import create_app  # noqa: E402
from tests.support.pages import ERROR_PAGES, page_urls  # noqa: E402
from tests.support.weight import measure  # noqa: E402

HTMX = {"HX-Request": "true", "HX-Request-Type": "partial"}


def main() -> None:
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"INSTANCE_PATH": instance, "SECRET_KEY": "bench"})
        client = app.test_client()
        print("| page | status | HTML (compressed) | fragment | first visit | JavaScript |")
        print("|---|---|---|---|---|---|")
        for url in page_urls(app) + ERROR_PAGES:
            full = measure(client, url)
            fragment = measure(client, url, HTMX)
            print(
                f"| `{url}` | {full.status} | {full.html_bytes:,} B ({full.encoding or 'none'}) "
                f"| {fragment.html_bytes:,} B | {full.first_visit_bytes:,} B "
                f"| {full.script_bytes:,} B |"
            )


if __name__ == "__main__":
    main()
