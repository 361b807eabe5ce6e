"""Reflow at phone widths (WCAG 1.4.10): no sideways scroll, and every table's key cells
(amounts, states, quantities) on screen and visible, read from their real boxes."""

from __future__ import annotations

WIDTHS = (320, 360, 768)  # the phones, and a tablet where wide tables stop stacking
# Column headers whose cells a customer must see without scrolling sideways.
KEY_COLUMNS = ("Importe", "Estado", "m³")

_KEY_CELLS_OFF_SCREEN = """
(keys) => {
  const width = document.documentElement.clientWidth;
  const off = [];
  for (const table of document.querySelectorAll("main table")) {
    const name = (table.caption ? table.caption.textContent : "").trim() || "tabla";
    const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    const columns = heads.flatMap((head, index) => keys.includes(head) ? [index] : []);
    if (!columns.length) { off.push(`${name}: no key column among ${heads}`); }
    const cells = [];
    for (const row of table.querySelectorAll("tbody tr")) {
      for (const index of columns) { cells.push(row.cells[index]); }
    }
    for (const row of table.querySelectorAll("tfoot tr")) {  // totals: the last cell
      cells.push(row.cells[row.cells.length - 1]);
    }
    for (const cell of cells) {
      const text = document.createRange();
      text.selectNodeContents(cell);
      const box = text.getBoundingClientRect();
      const visible = cell.checkVisibility({opacityProperty: true, visibilityProperty: true});
      if (!visible || box.width < 1 || box.left < 0 || box.right > width + 0.5) {
        off.push(`${name}: «${cell.textContent.trim()}» at ${Math.round(box.left)}` +
                 `-${Math.round(box.right)} px of ${width}`);
      }
    }
  }
  return off;
}
"""


def check_reflow(page, url: str) -> None:
    """The page as shown now: nothing beyond the viewport's width, key cells on screen
    (measured once its stylesheet has loaded, as axe is: tests/support/a11y.py)."""
    page.wait_for_load_state("load")
    width = page.viewport_size["width"]
    document = page.evaluate("document.scrollingElement.scrollWidth")
    assert document <= width, f"{url} is {document}px wide on a {width}px screen"
    off = page.evaluate(_KEY_CELLS_OFF_SCREEN, list(KEY_COLUMNS))
    assert not off, f"{url} at {width}px:\n" + "\n".join(off[:10])
