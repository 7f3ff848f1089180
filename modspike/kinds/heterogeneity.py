"""Heterogeneous populations: per-neuron cell parameters drawn from a named distribution.

``modspike train --heterogeneous SPEC`` (``docs/plasticity.md``, "Heterogeneity"). ``SPEC`` is a
``;``-separated list of items:

* ``PARAM=DIST`` draws ``PARAM`` per neuron from ``DIST``:

  - ``uniform:LO:HI``, ``normal:MEAN:SD``, ``lognormal:MEDIAN:SIGMA`` (``exp`` of a normal),
  - ``gamma:MEAN:K`` (shape ``K``, scale ``MEAN / K``; Perez-Nieves et al. 2021 draw membrane time
    constants from a gamma distribution),
  - ``types:NAME=FRACTION,...``: named values in given fractions (mSRC ``h_s0``: types ``1``,
    ``2``, ``2*``), assigned to exactly ``round(fraction * n)`` neurons (largest remainder) in a
    random order;

* ``learn`` (every drawn parameter) or ``learn=P1,P2`` (named ones, drawn or not): those
  parameters are trained per neuron; the others stay at their drawn value.

``PARAM`` is one of the kind's ``CellKind.heterogeneous`` names. ``tau`` / ``tau_syn`` are time
constants in steps and set ``beta = exp(-1/tau)`` / ``alpha = exp(-1/tau_syn)``. Drawn values
outside a parameter's range are clipped into it (the kind's module says the range). The draws use
torch's global generator, so a training seed fixes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from modspike.errors import ConfigError

DISTRIBUTIONS = {"uniform": 2, "normal": 2, "lognormal": 2, "gamma": 2, "types": None}
ALIASES = {"tau": "beta", "tau_syn": "alpha"}  # time constant (steps) -> the decay it sets


@dataclass(frozen=True)
class Draw:
    """One parameter's distribution: ``dist`` with numeric ``args`` (``types``: the fractions,
    ``names`` the type names)."""

    param: str
    dist: str
    args: tuple[float, ...]
    names: tuple[str, ...] = ()

    def text(self) -> str:
        if self.dist == "types":
            inner = ",".join(f"{n}={a:g}" for n, a in zip(self.names, self.args))
            return f"{self.param}=types:{inner}"
        return f"{self.param}={self.dist}:" + ":".join(f"{a:g}" for a in self.args)


@dataclass(frozen=True)
class HetSpec:
    """A parsed ``--heterogeneous`` value."""

    draws: tuple[Draw, ...]
    learn: tuple[str, ...]

    def draw(self, param: str) -> Draw | None:
        """The draw of ``param`` or of the time constant that sets it (``tau`` for ``beta``)."""
        for d in self.draws:
            if d.param == param or ALIASES.get(d.param) == param:
                return d
        return None

    def learns(self, param: str) -> bool:
        return param in self.learn or any(ALIASES.get(p) == param for p in self.learn)

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(d.param for d in self.draws)

    def text(self) -> str:
        items = [d.text() for d in self.draws]
        if self.learn:
            items.append("learn=" + ",".join(self.learn))
        return ";".join(items)


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"--heterogeneous: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"--heterogeneous: {what} must be finite, got {text!r}")
    return value


def _parse_draw(param: str, text: str) -> Draw:
    dist, _, rest = text.partition(":")
    if dist not in DISTRIBUTIONS:
        raise ConfigError(
            f"--heterogeneous: unknown distribution {dist!r} for {param}; use one of"
            f" {', '.join(DISTRIBUTIONS)}"
        )
    if dist == "types":
        names, fractions = [], []
        for part in filter(None, rest.split(",")):
            name, eq, value = part.partition("=")
            if not eq or not name:
                raise ConfigError(
                    f"--heterogeneous: {param}=types needs NAME=FRACTION, got {part!r}"
                )
            names.append(name.strip())
            fractions.append(_number(value, f"fraction of type {name}"))
        if not names or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
            raise ConfigError(f"--heterogeneous: {param}=types fractions must be >= 0 and sum to 1")
        if len(set(names)) != len(names):
            raise ConfigError(f"--heterogeneous: {param}=types names a type twice")
        return Draw(param, dist, tuple(fractions), tuple(names))
    args = tuple(_number(a, f"{dist} argument") for a in rest.split(":")) if rest else ()
    if len(args) != DISTRIBUTIONS[dist]:
        raise ConfigError(
            f"--heterogeneous: {param}={dist} takes {DISTRIBUTIONS[dist]} numbers, e.g."
            f" {param}={dist}:{':'.join(['1'] * DISTRIBUTIONS[dist])}"
        )
    a, b = args
    bad = {
        "uniform": a > b,
        "normal": b < 0,
        "lognormal": a <= 0 or b < 0,
        "gamma": a <= 0 or b <= 0,
    }[dist]
    if bad:
        rule = {
            "uniform": "LO <= HI",
            "normal": "SD >= 0",
            "lognormal": "MEDIAN > 0 and SIGMA >= 0",
            "gamma": "MEAN > 0 and K > 0",
        }[dist]
        raise ConfigError(f"--heterogeneous: {param}={dist} needs {rule}")
    return Draw(param, dist, args)


def parse(text: str | None) -> HetSpec | None:
    """``SPEC`` -> :class:`HetSpec` (None for None / empty); one-line ConfigError otherwise."""
    if text is None or not str(text).strip():
        return None
    draws: list[Draw] = []
    learn: list[str] | None = None
    for item in (s.strip() for s in str(text).split(";")):
        if not item:
            continue
        key, eq, value = item.partition("=")
        key = key.strip()
        if key == "learn":
            names = [v.strip() for v in value.split(",") if v.strip()] if eq else []
            learn = (learn or []) + (names or ["*"])
            continue
        if not eq:
            raise ConfigError(f"--heterogeneous: expected PARAM=DIST or learn, got {item!r}")
        if any(d.param == key for d in draws):
            raise ConfigError(f"--heterogeneous: {key} is drawn twice")
        draws.append(_parse_draw(key, value.strip()))
    resolved: list[str] = []
    for name in learn or []:
        names = [d.param for d in draws] if name == "*" else [name]
        if name == "*" and not names:
            raise ConfigError("--heterogeneous: 'learn' alone needs a drawn parameter; use learn=P")
        resolved += [n for n in names if n not in resolved]
    spec = HetSpec(tuple(draws), tuple(resolved))
    targets = [ALIASES.get(p, p) for p in spec.params]
    if len(set(targets)) != len(targets):
        raise ConfigError("--heterogeneous: draw a decay or its time constant, not both")
    return spec


def check(spec: HetSpec | None, kind) -> None:
    """``spec``'s parameters are ones ``kind`` draws per neuron (``CellKind.heterogeneous``)."""
    if spec is None:
        return
    allowed = tuple(getattr(kind, "heterogeneous", ()) or ())
    if not allowed:
        raise ConfigError(f"cell kind {kind.name!r} has no heterogeneous parameters")
    for name in (*spec.params, *spec.learn):
        if name not in allowed:
            raise ConfigError(
                f"--heterogeneous: {kind.name} has no per-neuron parameter {name!r};"
                f" use {', '.join(allowed)}"
            )


def _counts(fractions: tuple[float, ...], n: int) -> list[int]:
    raw = [f * n for f in fractions]
    counts = [int(math.floor(r)) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: counts[i] - raw[i])
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def sample(draw: Draw, n: int, types: dict[str, float] | None = None) -> np.ndarray:
    """``n`` values of ``draw`` (float64) from torch's global generator; ``types`` maps type names
    to values for a ``types`` draw."""
    a = draw.args
    if draw.dist == "types":
        if not types:
            raise ConfigError(f"--heterogeneous: {draw.param} has no named types")
        unknown = [t for t in draw.names if t not in types]
        if unknown:
            raise ConfigError(
                f"--heterogeneous: unknown type {unknown[0]!r} for {draw.param}; known:"
                f" {', '.join(types)}"
            )
        values = np.concatenate([np.full(c, types[t]) for t, c in zip(draw.names, _counts(a, n))])
        return values[torch.randperm(n).numpy()]
    if draw.dist == "uniform":
        out = a[0] + (a[1] - a[0]) * torch.rand(n, dtype=torch.float64)
    elif draw.dist == "normal":
        out = a[0] + a[1] * torch.randn(n, dtype=torch.float64)
    elif draw.dist == "lognormal":
        out = a[0] * torch.exp(a[1] * torch.randn(n, dtype=torch.float64))
    else:  # gamma with mean a[0] and shape a[1]
        shape = torch.full((n,), a[1], dtype=torch.float64)
        out = torch.distributions.Gamma(shape, shape / a[0]).sample()
    return out.numpy().astype(np.float64)


def decay_values(spec: HetSpec | None, param: str, default: float, n: int, hi: float) -> np.ndarray:
    """Per-neuron values of the decay ``param`` (``beta`` / ``alpha``): drawn directly, or as
    ``exp(-1/tau)`` from a drawn time constant; clipped to ``[0, hi]``."""
    draw = None if spec is None else spec.draw(param)
    if draw is None:
        return np.full(n, float(default))
    values = sample(draw, n)
    if draw.param != param:  # a time constant in steps
        values = np.exp(-1.0 / np.maximum(values, 1e-6))
    return np.clip(values, 0.0, hi)


def plain_values(
    spec: HetSpec | None, param: str, default: float, n: int, lo: float, hi: float = math.inf,
    types: dict[str, float] | None = None,
) -> np.ndarray:  # fmt: skip
    """Per-neuron values of ``param`` (drawn, or ``default`` everywhere), clipped to
    ``[lo, hi]``."""
    draw = None if spec is None else spec.draw(param)
    if draw is None:
        return np.full(n, float(default))
    return np.clip(sample(draw, n, types), lo, hi)
