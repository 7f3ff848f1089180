"""Kinds are reached through the registry, and each library stays in its corner.

* No comparison with a cell or synapse kind's name outside ``modspike/kinds`` and the registry
  (names read from the live registry): an ``ast.Compare`` counts when an operand is a kind name,
  a tuple / list / set literal holding one, or a kind-list constant (``*_KINDS``, ``*_CELLS``).
* ``lava`` is imported only under ``hw/lava/``, and Lava's classes are subclassed only in
  ``hw/lava/procs/`` (Lava's compiler loads every module of a Process's folder).
* ``nir`` is imported only by the kinds' NIR codecs and ``export/nir/``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from test_layers import FOLDERS, ROOT

from modspike import registry

ALLOWED_COMPARE = ("modspike/kinds/", "modspike/registry.py")
KIND_LIST = re.compile(r".*_(KINDS|CELLS)$")


def _files() -> list[Path]:
    return [p for folder in FOLDERS for p in sorted((ROOT / folder).rglob("*.py"))]


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def kind_comparisons(source: str, names: set[str]) -> list[int]:
    """Line numbers of comparisons with a kind name in ``source``."""

    def is_kind(node) -> bool:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value in names
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(is_kind(e) for e in node.elts)
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = node.id if isinstance(node, ast.Name) else node.attr
            return bool(KIND_LIST.match(name))
        return False

    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Compare) and any(is_kind(x) for x in [node.left, *node.comparators])
    ]


def test_the_comparison_check_finds_one():
    names = {"src", "lif"}
    found = kind_comparisons("if cell == 'src':\n    pass\nx = kind in ('a', 'lif')\n", names)
    assert found == [1, 3]
    assert kind_comparisons("if cell in SPIKING_KINDS:\n    pass\n", names) == [1]
    assert kind_comparisons("registry.cell('src')\n", names) == []


def test_no_kind_name_comparisons_outside_the_registry():
    names = {k.name for k in registry.cells()} | {k.name for k in registry.synapses()}
    found = []
    for path in _files():
        rel = _rel(path)
        if rel.startswith(ALLOWED_COMPARE):
            continue
        found += [f"{rel}:{line}" for line in kind_comparisons(path.read_text(), names)]
    assert not found, found


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_lava_is_imported_only_under_hw_lava():
    found = [_rel(p) for p in _files() if "lava" in _imports(p)]
    assert found and all(f.startswith("hw/lava/") for f in found), found


def test_lava_classes_live_only_in_hw_lava_procs():
    found = []
    for path in _files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b) for b in node.bases]
                if any(b.startswith(("AbstractProcess", "PyLoihiProcessModel")) for b in bases):
                    found.append(_rel(path))
    assert found and all(f.startswith("hw/lava/procs/") for f in found), found


def test_nir_is_imported_only_by_codecs_and_export_nir():
    found = [_rel(p) for p in _files() if "nir" in _imports(p)]
    allowed = [f for f in found if f.startswith("export/nir/") or f.endswith("/nir.py")]
    kinds = [f for f in found if f.endswith("/nir.py")]
    assert found and sorted(found) == sorted(allowed), sorted(set(found) - set(allowed))
    assert all(f.startswith("modspike/kinds/") for f in kinds), kinds
