"""The compact architecture string of ``modspike train --arch`` (README, "Convolutional SNNs").

Items are joined by ``-`` and read left to right from the input image ``(C, H, W)``:

* ``c<C>k<K>[s<S>][p<P>][d<D>][g<G>]``: a 2-d convolution to ``C`` channels with a ``K x K``
  kernel (stride ``S`` = 1, padding ``P`` = ``K // 2``, dilation ``D`` = 1, groups ``G`` = 1),
  followed by a layer of the chosen cell (one neuron per channel and position);
* ``p<K>[s<S>]``: sum pooling over ``K x K`` (stride ``S`` = ``K``); ``a<K>[s<S>]``: average
  pooling. Pooling has no cell after it: it is a stage of the next synapse (NIR's
  ``LIF -> SumPool2d -> Linear``);
* ``d<N>``: a dense layer of ``N`` neurons of the chosen cell (it flattens its input).

The readout (``n_classes`` outputs, summed over time) follows the last item. Example:
``c8k3-p2-c16k3-p2-d64`` on 1x8x8 digits: 8x8x8 LIF -> pool 8x4x4 -> 16x4x4 LIF -> pool 16x2x2
-> 64 LIF -> readout 10. A bad string or geometry (a kernel larger than its input, channels
that ``groups`` does not divide) is a :class:`~modspike.errors.ConfigError` naming the item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from modspike import registry
from modspike.errors import ConfigError, ModspikeError
from modspike.network import Synapse

MAX_ITEMS = 64
MAX_NUMBER = 1 << 16

_CONV = re.compile(r"c(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?(?:d(\d+))?(?:g(\d+))?")
_POOL = re.compile(r"([pa])(\d+)(?:s(\d+))?")
_DENSE = re.compile(r"d(\d+)")

GRAMMAR = (
    "items joined by '-': c<C>k<K>[s<S>][p<P>][d<D>][g<G>] (conv2d + cell), p<K>[s<S>] (sum"
    " pooling), a<K>[s<S>] (average pooling), d<N> (dense + cell); e.g. c8k3-p2-c16k3-p2-d64"
)


@dataclass(frozen=True)
class Item:
    """One parsed item: ``op`` is its letter, ``c`` (convolution), ``p`` (sum pooling), ``a``
    (average pooling) or ``d`` (dense), with its numbers."""

    op: str
    text: str
    channels: int = 0  # conv: C_out; dense: neurons
    kernel: int = 0
    stride: int | None = None
    padding: int | None = None
    dilation: int = 1
    groups: int = 1


def _num(value: str | None, item: str, what: str, lo: int = 1) -> int | None:
    if value is None:
        return None
    n = int(value)
    if not lo <= n <= MAX_NUMBER:
        raise ConfigError(f"--arch item {item!r}: {what} must lie in [{lo}, {MAX_NUMBER}], got {n}")
    return n


def parse(text: str) -> list[Item]:
    """The items of an architecture string (syntax only; :func:`layout` checks the shapes)."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"--arch is empty; {GRAMMAR}")
    parts = text.strip().lower().split("-")
    if len(parts) > MAX_ITEMS:
        raise ConfigError(f"--arch has {len(parts)} items, at most {MAX_ITEMS}")
    items = []
    for part in parts:
        if m := _CONV.fullmatch(part):
            c, k, s, p, d, g = m.groups()
            items.append(
                Item(
                    "c",
                    part,
                    _num(c, part, "channels"),
                    _num(k, part, "kernel"),
                    _num(s, part, "stride"),
                    _num(p, part, "padding", lo=0),
                    _num(d, part, "dilation") or 1,
                    _num(g, part, "groups") or 1,
                )
            )
        elif m := _POOL.fullmatch(part):
            op, k, s = m.groups()
            items.append(
                Item(
                    op,
                    part,
                    kernel=_num(k, part, "kernel"),
                    stride=_num(s, part, "stride"),
                )
            )
        elif m := _DENSE.fullmatch(part):
            items.append(Item("d", part, channels=_num(m.group(1), part, "neurons")))
        else:
            raise ConfigError(f"--arch item {part!r} is not understood; {GRAMMAR}")
    if not any(i.op in "cd" for i in items):
        raise ConfigError(f"--arch {text!r} has no layer with neurons (c... or d...)")
    return items


@dataclass(frozen=True)
class LayerPlan:
    """One cell layer: its synapse (weights to be learned), the ``pre`` stages before it, the
    shapes in and out."""

    item: Item
    pre: tuple[Synapse, ...]
    in_shape: tuple[int, ...]  # what the layer receives (before the stages)
    out_shape: tuple[int, ...]
    kind: object  # SynapseKind
    attrs: dict

    @property
    def n(self) -> int:
        return int(np.prod(self.out_shape))


def _pool(item: Item, shape: tuple[int, ...]) -> Synapse:
    from modspike.kinds.synapses._conv.pool import pool_synapse_parts

    if len(shape) != 3:
        raise ConfigError("pooling needs an image (C, H, W)")
    kind = registry.synapse("avgpool2d" if item.op == "a" else "sumpool2d")
    weight, attrs = pool_synapse_parts(shape, item.kernel, item.stride, 0, item.op == "a")
    return Synapse(kind, weight, None, attrs)


def _conv(item: Item, shape: tuple[int, ...]) -> tuple[Synapse, dict]:
    from modspike.kinds.synapses._conv.geometry import make_attrs

    if len(shape) != 3:
        raise ConfigError(
            "a convolution needs an image (C, H, W) (a dense layer flattens: put convolutions"
            " first)"
        )
    k = item.kernel
    pad = k // 2 if item.padding is None else item.padding
    attrs = make_attrs(shape, item.stride or 1, pad, item.dilation, item.groups)
    weight = np.zeros((item.channels, max(shape[0] // item.groups, 1), k, k))
    return Synapse(registry.synapse("conv2d"), weight, None, attrs), attrs


def layout(
    items: list[Item], in_shape: tuple[int, ...], n_out: int
) -> tuple[list[LayerPlan], tuple[Synapse, ...], tuple[int, ...]]:
    """``(layer plans, readout pre stages, shape reaching the readout)`` for ``in_shape``."""
    shape, pending, plans = tuple(in_shape), [], []
    for item in items:
        try:
            if item.op in "pa":
                stage = _pool(item, shape)
                shape = tuple(stage.out_shape(shape))
                pending.append(stage)
                continue
            if item.op == "c":
                synapse, attrs = _conv(item, shape)
                kind = synapse.kind
                out = tuple(synapse.out_shape(shape))
            else:
                kind, attrs, out = registry.synapse("dense"), {}, (item.channels,)
        except ModspikeError as exc:
            raise ConfigError(f"--arch item {item.text!r} on input {shape}: {exc}") from None
        plans.append(LayerPlan(item, tuple(pending), _before(pending, shape), out, kind, attrs))
        pending, shape = [], out
    return plans, tuple(pending), shape


def _before(pending: list[Synapse], shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(pending[0].attrs["in_shape"]) if pending else shape
