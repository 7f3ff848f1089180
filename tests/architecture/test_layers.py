"""The layout shows the architecture: every source file sits in exactly one layer, a module imports
only its own layer or lower ones (function-level imports included), and no import cycle exists.

Layers, lowest first: 0 ``modspike`` (the shared core) · 1 ``train`` · 2 ``export`` · 3 ``hw`` ·
4 ``runtime`` · 5 ``studies`` · 6 ``cli`` and ``modspike/__main__.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {  # folder -> (package name, layer)
    "modspike": ("modspike", 0),
    "train": ("modspike.train", 1),
    "export": ("modspike.export", 2),
    "hw": ("modspike.hw", 3),
    "runtime": ("modspike.runtime", 4),
    "studies": ("modspike.studies", 5),
    "cli": ("modspike.cli", 6),
}
TOP = {"modspike.__main__": 6}  # files whose layer is not their folder's


def source_files() -> dict[str, Path]:
    """Module name -> file, for every ``.py`` file of the package folders."""
    out = {}
    for folder, (package, _) in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([package, *parts])] = path
    return out


def layer_of(module: str) -> int:
    if module in TOP:
        return TOP[module]
    best = None
    for package, layer in FOLDERS.values():
        if module == package or module.startswith(package + "."):
            if best is None or len(package) > len(best[0]):
                best = (package, layer)
    assert best is not None, module
    return best[1]


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``module`` imports, wherever the import statement stands."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.append(full if full in known else base)
        for name in targets:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = source_files()
    known = set(files)
    return {m: imports_of(m, p, known) for m, p in files.items()}


def test_no_module_imports_a_higher_layer(graph):
    upward = [
        f"{m} (layer {layer_of(m)}) imports {t} (layer {layer_of(t)})"
        for m, targets in graph.items()
        for t in targets
        if layer_of(t) > layer_of(m) and not m.startswith(t + ".")  # a package's own __init__
    ]
    assert not upward, "\n".join(upward)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def _package_edges_removed(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package ``__init__`` that re-exports its submodules is not a cycle with them."""
    return {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}


def test_no_import_cycles(graph):
    cycles = _cycles(_package_edges_removed(graph))
    assert not cycles, cycles


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_file_is_in_one_layer():
    files = source_files()
    assert len(files) == len(set(files.values()))
    for folder in FOLDERS:
        assert (ROOT / folder / "__init__.py").is_file(), folder


def test_every_package_folder_is_installed():
    """pyproject lists the packages explicitly (the stages map onto modspike.*): none forgotten."""
    import tomli

    config = tomli.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {m for m, p in source_files().items() if p.name == "__init__.py"}
    assert found == listed, (sorted(found - listed), sorted(listed - found))
