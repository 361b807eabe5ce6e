"""Notes staff write for customers, as kept: the pages show them paragraph by paragraph."""

from __future__ import annotations


def tidy_lines(text: str | None) -> str:
    """Line ends as ``\\n`` and each line's spaces tidied (runs of spaces and tabs become one),
    blank lines at either end trimmed; the line breaks, and so the paragraphs, stay."""
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(" ".join(line.split()) for line in lines).strip()
