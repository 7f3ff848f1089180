"""Synapses on Lava: a (composite) synapse as a chain of synapse processes into a cell's ``a_in``.

Every port between modspike's processes is flat, ``(n,)`` in the channel-major order of the
network description (``(C, H, W)`` in C order). Per synapse kind (a registry keyed by name):

* ``dense``: Lava's ``Dense`` (``fixed_pt``: the mantissas doubled, ``weight_exp = shift - 1``,
  exact, nir-lava.md §2);
* ``conv2d``, ``conv1d``, ``sumpool2d``, ``avgpool2d``: Lava's ``lava.proc.conv.Conv`` (its
  (W, H, C) layout reached through virtual ports: reshape + transpose; kernels flipped, Lava
  convolves), a 1-d convolution as a 2-d one of height 1 and pooling as a depthwise convolution
  of ones, as lava-dl's pooling blocks do. Its ``fixed_pt`` model ignores ``weight_exp`` (the
  shift is folded into the weights, ``q << shift``) and wraps its output to 24 bits: a stage
  whose worst-case sum ``max_c sum|q_c << shift_c| * max|x|`` can reach ``2**23`` (graded inputs)
  runs in modspike's exact :class:`~modspike.hw.lava.procs.synapse_stage.SynapseStage` instead,
  so a wrap is never reachable on either path.

Each synapse process delays by one step (as ``Dense``), so a layer whose synapse has ``p``
``pre`` stages adds ``1 + p`` steps: :func:`hops` gives each layer's offset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from modspike.errors import HardwareError
from modspike.fixedpoint import STATE_BITS

WRAP_LIMIT = (1 << (STATE_BITS - 1)) - 1  # Lava Conv's fixed_pt signed_clamp(x, bits=24)
GRADED_MAX = WRAP_LIMIT  # a graded cell output: bounded by its 24-bit state register


class Delivery(NamedTuple):
    """What the cell expects on ``a_in``: ``fixed_pt``: the exact mantissa accumulation shifted
    left by ``shift`` (one int, or one per neuron); ``floating_pt``: the float drive times
    ``scale`` (None: 1; else one factor per neuron)."""

    shift: np.ndarray | int = 0
    scale: np.ndarray | None = None


class Link(NamedTuple):
    """One synapse process: what it is (for the run's config) and the bound of its output."""

    process: str
    out_max: float


def hops(net) -> list[int]:
    """Lava step offset of each layer: cumulative synapse processes (``1 + len(pre)`` a layer)."""
    out, total = [], 0
    for layer in net.layers:
        total += 1 + len(layer.synapse.pre)
        out.append(total)
    return out


def connect(
    port,
    in_shape: tuple[int, ...],
    synapse,
    cell_port,
    delivery: Delivery,
    *,
    fixed: bool,
    graded: bool,
    x_max: float,
) -> list[Link]:
    """Build ``port -> pre stages -> synapse -> cell_port``; the links it made, in order.

    ``x_max``: a bound of ``|value|`` on ``port`` (1 for spikes) for the 24-bit analysis."""
    links = []
    shape = tuple(in_shape)
    for stage in synapse.pre:
        port, link = _process(port, shape, stage, Delivery(), fixed, graded, x_max)
        links.append(link)
        shape, graded, x_max = tuple(stage.out_shape(shape)), True, link.out_max
    port, link = _process(port, shape, synapse, delivery, fixed, graded, x_max)
    port.connect(cell_port)
    return links + [link]


def _process(port, shape, synapse, delivery: Delivery, fixed: bool, graded: bool, x_max: float):
    builder = BUILDERS.get(synapse.kind.name)
    if builder is None:
        raise HardwareError(f"synapse kind {synapse.kind.name!r} has no Lava mapping")
    return builder(port, shape, synapse, delivery, fixed, graded, x_max)


# --------------------------------------------------------------------------- dense


def dense_mantissas(fixed_weights) -> np.ndarray:
    """Lava's fixed-point Dense drops the LSB of mixed-sign 8-bit weights: pass ``2q`` and shift
    back by ``weight_exp = -1`` (exact, ``2q`` fits [-254, 254])."""
    return 2 * np.asarray(fixed_weights.mantissa, dtype=np.int64)


def dense_weights(fixed_weights, shift: int) -> tuple[np.ndarray, int]:
    """``(Dense weights, weight_exp)`` delivering ``mantissa . x << shift`` exactly: ``2q`` at
    ``shift - 1`` for 8-bit mantissas (as :func:`dense_mantissas`); a plastic layer's learned
    9-bit mantissas (-256..255) as they are at ``shift``, with :func:`dense_bits` keeping Lava from
    truncating them."""
    q = np.asarray(fixed_weights.mantissa, dtype=np.int64)
    if q.size == 0 or np.abs(q).max() <= 127:
        return dense_mantissas(fixed_weights), int(shift) - 1
    if shift < 0:
        raise HardwareError("9-bit weights need a non-negative synaptic shift on Lava")
    return q, int(shift)


def dense_bits(weights: np.ndarray) -> int:
    """Lava's ``num_weight_bits`` that leaves ``weights`` untruncated: 9 for mixed signs (Lava
    drops ``8 - bits + 1`` low bits of mixed-sign weights), 8 otherwise; a no-op for the even
    ``2q`` weights of an 8-bit layer."""
    w = np.asarray(weights)
    return 9 if w.size and w.min() < 0 < w.max() else 8


def _uniform(shift, what: str) -> int:
    values = np.unique(np.asarray(shift))
    if values.size != 1:
        raise HardwareError(f"{what}: per-neuron weight exponents need one Dense per exponent")
    return int(values[0])


def _dense(port, shape, synapse, delivery, fixed, graded, x_max):
    from lava.proc.dense.process import Dense

    if fixed:
        q = np.asarray(synapse.fixed.mantissa, dtype=np.int64)
        shift = _uniform(delivery.shift, f"synapse {synapse.kind.name}")
        # Lava's fixed-point Dense drops the LSB of mixed-sign 8-bit weights: 2q, one shift less
        # (a learned layer's 9-bit weights as they are, with num_weight_bits 9)
        weights, w_exp = dense_weights(synapse.fixed, shift)
        bits = {"num_weight_bits": dense_bits(weights)}
        out_max = float(np.abs(q).sum(1).max(initial=0)) * x_max * 2.0**shift
    else:
        w = np.asarray(synapse.weight, dtype=np.float64)
        weights = w if delivery.scale is None else np.asarray(delivery.scale)[:, None] * w
        w_exp, out_max, bits = 0, float("inf"), {}
    dense = Dense(weights=weights, weight_exp=w_exp, num_message_bits=24 if graded else 0, **bits)
    port.connect(dense.s_in)
    return dense.a_out, Link("lava.proc.dense.Dense", out_max)


# --------------------------------------------------------------------------- conv-like


def _geometry_2d(synapse):
    from modspike.kinds.synapses._conv.ops import _as_2d, geometry_of

    return _as_2d(geometry_of(synapse.weight, synapse.attrs))


def _per_channel(values, channels: int, what: str) -> np.ndarray:
    """One value per output channel from one per neuron (all neurons of a channel agree)."""
    arr = np.asarray(values)
    if arr.ndim == 0:
        return np.full(channels, arr.item())
    grid = arr.reshape(channels, -1)
    if np.any(grid != grid[:, :1]):
        raise HardwareError(f"{what} differs between the neurons of one channel")
    return grid[:, 0]


def _conv(port, shape, synapse, delivery, fixed, graded, x_max):
    g = _geometry_2d(synapse)
    n_in, n_out = int(np.prod(g.in_shape)), int(np.prod(g.out_shape))
    if fixed:
        shift = _per_channel(delivery.shift, g.c_out, "the synaptic shift")
        if np.any(shift < 0):
            raise HardwareError("a convolution's synaptic shift must be >= 0 on Lava")
        q = np.asarray(synapse.fixed.mantissa, dtype=np.int64).reshape(g.c_out, -1)
        weights = np.left_shift(q, shift[:, None])
        out_max = float(np.abs(weights).sum(1).max(initial=0)) * x_max
        if out_max > WRAP_LIMIT:  # Lava's Conv would wrap: accumulate exactly instead
            return _exact(port, synapse, n_in, n_out, np.repeat(shift, n_out // g.c_out))
        weights = weights.reshape(g.c_out, g.c_in // g.groups, *g.kernel)
    else:
        scale = None if delivery.scale is None else _per_channel(delivery.scale, g.c_out, "gain")
        w = np.asarray(synapse.weight, dtype=np.float64).reshape(
            g.c_out, g.c_in // g.groups, *g.kernel
        )
        weights = w if scale is None else w * scale[:, None, None, None]
        out_max = float("inf")
    return _lava_conv(port, g, weights, fixed, graded), Link("lava.proc.conv.Conv", out_max)


def _lava_conv(port, g, weights: np.ndarray, fixed: bool, graded: bool):
    """Lava's Conv on our flat (C, H, W) ports: reshape + transpose to its (W, H, C)."""
    from lava.proc.conv.process import Conv

    c, h, w = g.in_shape
    # torch correlates (C_out, C_in/g, kH, kW); Lava convolves (C_out, kW, kH, C_in/g)
    lava_w = np.ascontiguousarray(weights[:, :, ::-1, ::-1].transpose(0, 3, 2, 1))
    conv = Conv(
        weight=lava_w.astype(np.int32) if fixed else lava_w,
        input_shape=(w, h, c),
        padding=(g.padding[1], g.padding[0]),
        stride=(g.stride[1], g.stride[0]),
        dilation=(g.dilation[1], g.dilation[0]),
        groups=g.groups,
        num_message_bits=24 if graded else 0,
    )
    port.reshape((c, h, w)).transpose([2, 1, 0]).connect(conv.s_in)
    return conv.a_out.transpose([2, 1, 0]).reshape((int(np.prod(g.out_shape)),))


def _exact(port, synapse, n_in: int, n_out: int, shift):
    from modspike.hw.lava.procs.synapse_stage import SynapseStage

    stage = SynapseStage(synapse=synapse, n_in=n_in, n_out=n_out, shift=shift)
    port.connect(stage.s_in)
    return stage.a_out, Link("SynapseStage (exact)", float("inf"))


BUILDERS: dict[str, Callable] = {
    "dense": _dense,
    "conv2d": _conv,
    "conv1d": _conv,
    "sumpool2d": _conv,
    "avgpool2d": _conv,
}
"""Lava mapping of each synapse kind, by name (a kind without one is refused by name)."""
