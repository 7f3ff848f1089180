"""Compact results files for the studies: JSON whose innermost lists and dicts sit on one line
each, written whole or not at all, and curves thinned to a few hundred points.

A results file committed to the repository should be read by a person and diffed by git: the
per-episode histories of a run stay in the run's cache (``runs/``, not committed); the results
file keeps the final numbers and a downsampled curve.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _flat(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return all(not isinstance(x, (list, tuple, dict)) for x in items)


def _dump(value: Any, level: int, indent: int) -> str:
    if not isinstance(value, (list, tuple, dict)) or not value or _flat(value):
        return json.dumps(value)
    pad, end = " " * indent * (level + 1), " " * indent * level
    if isinstance(value, dict):
        items = [
            f"{pad}{json.dumps(str(k))}: {_dump(v, level + 1, indent)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    items = [pad + _dump(v, level + 1, indent) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + end + "]"


def compact_json(data: Any, indent: int = 1) -> str:
    """``data`` as JSON, nested containers indented, containers of scalars on one line."""
    return _dump(data, 0, indent) + "\n"


def write_results(path: Path, data: Any) -> None:
    """Write ``data`` as compact JSON through a temporary file and a rename (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(compact_json(data))
    os.replace(tmp, path)


def downsample(values: Sequence[float], points: int = 100, digits: int = 4) -> dict:
    """``{"index": [...], "value": [...]}``: about ``points`` evenly spaced entries of ``values``
    (1-based indices, the last entry always included), rounded to ``digits``."""
    n = len(values)
    if n == 0:
        return {"index": [], "value": []}
    step = max(1, -(-n // points))
    idx = list(range(step - 1, n, step))
    if idx[-1] != n - 1:
        idx.append(n - 1)
    return {"index": [i + 1 for i in idx], "value": [round(float(values[i]), digits) for i in idx]}
