"""axe-core checks: every WCAG 2.2 A and AA rule, reported readably."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
_axe = Axe()


def violations(page) -> list[dict]:
    results = _axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    return results.response["violations"]


def describe(found: list[dict]) -> str:
    lines = []
    for violation in found:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['failureSummary']}")
    return "\n".join(lines)


def check_page(page) -> None:
    # A page whose heading is there may still be waiting for its stylesheet (the parser does
    # not wait for it, and the tests' request routing turns Chromium's cache off): axe would
    # then judge sizes and colours without the styles. "load" comes after every stylesheet.
    page.wait_for_load_state("load")
    found = violations(page)
    assert not found, f"axe found {len(found)} violation(s) on {page.url}:\n{describe(found)}"
