"""Cell kinds and synapse kinds, found by name: what a layer computes, one concern at a time.

The records are :mod:`modspike.kinds.types`; a concern a kind lacks is ``None`` and
:func:`require` refuses it in one message that names the kinds that have it. The built-in kinds
(:mod:`modspike.kinds.builtin`) are registered when this module loads; a test (or a user) can
register more, inside :func:`scoped` to undo it. Code outside ``modspike/kinds`` reaches a kind only through here and
never compares kind names.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .errors import ConfigError
from .kinds.builtin import BUILTIN
from .kinds.types import (  # noqa: F401  (re-exported: the records a plug-in kind is made of)
    CellKind,
    FixedArith,
    FloatArith,
    MemoryFigures,
    ModTargets,
    NirCodec,
    Output,
    Quantizer,
    SynapseKind,
)

_CELLS: dict[str, CellKind] = {}
_SYNAPSES: dict[str, SynapseKind] = {}


def register(kind: CellKind | SynapseKind, replace: bool = False) -> CellKind | SynapseKind:
    """Add a kind; a name is an on-disk identifier and may be taken once (unless ``replace``)."""
    table = _CELLS if isinstance(kind, CellKind) else _SYNAPSES
    if not isinstance(kind, (CellKind, SynapseKind)):
        raise TypeError(f"not a kind: {kind!r}")
    if kind.name in table and not replace and table[kind.name] is not kind:
        raise ConfigError(f"a {_what(kind)} kind named {kind.name!r} is registered already")
    table[kind.name] = kind
    return kind


def _what(kind) -> str:
    return "cell" if isinstance(kind, CellKind) else "synapse"


def cell(name: str) -> CellKind:
    """The cell kind registered as ``name``; a :class:`ConfigError` naming the known ones if none."""
    try:
        return _CELLS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown cell kind {name!r}; known: {', '.join(sorted(_CELLS))}"
        ) from None


def synapse(name: str) -> SynapseKind:
    try:
        return _SYNAPSES[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown synapse kind {name!r}; known: {', '.join(sorted(_SYNAPSES))}"
        ) from None


def cells() -> list[CellKind]:
    return list(_CELLS.values())


def synapses() -> list[SynapseKind]:
    return list(_SYNAPSES.values())


def cell_names(concern: str | None = None) -> list[str]:
    """Names of the cell kinds, optionally only those having ``concern`` (e.g. ``"fixed"``;
    ``"trainable"`` means a float module for training)."""
    return [k.name for k in cells() if concern is None or _has(k, concern)]


def _has(kind: CellKind, concern: str) -> bool:
    if concern == "trainable":
        return kind.floating.module is not None
    return getattr(kind, concern) is not None


CONCERN_WORDS = {
    "fixed": "fixed-point model",
    "quant": "quantiser",
    "nir": "NIR mapping",
    "memory": "memory figures",
    "modulation": "modulation port",
    "attractor": "warm-up (attractor) state",
    "trainable": "training module",
}


def require(kind: CellKind, concern: str, purpose: str = "") -> Any:
    """``kind``'s ``concern``, or a :class:`ConfigError` naming the kinds that have one."""
    if _has(kind, concern):
        return kind.floating.module if concern == "trainable" else getattr(kind, concern)
    word = CONCERN_WORDS.get(concern, concern)
    having = ", ".join(cell_names(concern)) or "none"
    tail = f" ({purpose})" if purpose else ""
    raise ConfigError(f"cell kind {kind.name!r} has no {word}{tail}; kinds with one: {having}")


def claiming(node) -> CellKind | SynapseKind | None:
    """The one kind whose NIR codec claims ``node``'s class (foreign files), or None."""
    found = [k for k in cells() if k.nir is not None and isinstance(node, k.nir.claims)]
    found += [k for k in synapses() if isinstance(node, k.claims)]
    if len(found) > 1:
        names = ", ".join(k.name for k in found)
        raise ConfigError(f"NIR node {type(node).__name__} is claimed by several kinds: {names}")
    return found[0] if found else None


def by_extension(name: str) -> CellKind | None:
    """The cell kind writing modspike's NIR extension ``name``."""
    for kind in cells():
        if kind.nir is not None and kind.nir.extension == name:
            return kind
    return None


@contextlib.contextmanager
def scoped() -> Iterator[None]:
    """Registrations made inside the block are undone when it ends (tests)."""
    saved = (dict(_CELLS), dict(_SYNAPSES))
    try:
        yield
    finally:
        _CELLS.clear()
        _CELLS.update(saved[0])
        _SYNAPSES.clear()
        _SYNAPSES.update(saved[1])


for _kind in BUILTIN:
    register(_kind)
