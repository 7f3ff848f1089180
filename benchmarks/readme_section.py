"""Rewrite one ``## `` section of a README from a benchmark's results, leaving the rest alone."""

from __future__ import annotations

from pathlib import Path


def replace_section(readme: Path, heading: str, body: str, before: str = "## Status") -> None:
    """Replace the section that starts at the line ``heading`` (up to the next ``## `` heading)
    with ``heading`` + ``body``, or insert it before the line ``before`` (else at the end)."""
    text = f"{heading}\n\n{body}"
    lines = readme.read_text().splitlines(keepends=True)
    start = next((k for k, line in enumerate(lines) if line.rstrip() == heading), None)
    if start is None:
        at = next((k for k, line in enumerate(lines) if line.rstrip() == before), len(lines))
        lines[at:at] = [text]
    else:
        end = next(
            (k for k in range(start + 1, len(lines)) if lines[k].startswith("## ")), len(lines)
        )
        lines[start:end] = [text]
    readme.write_text("".join(lines))
