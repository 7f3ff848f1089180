"""The LIF family on Lava's own neuron, ``LIFReset`` (nir-lava.md §1.6).

fixed_pt: the integer parameters as they are (``du``, ``dv``, ``vth``, bias); the synapse
process shifts left by the layer's synaptic shift. floating_pt: Lava's float LIF
``u = u*(1-du) + a``, ``v = v*(1-dv) + u + bias`` maps a NIR LIF ``v = beta*v + gain*(W s + b) +
leak`` to ``du = 1``, ``dv = 1 - beta``, ``bias = gain*b + leak`` and synaptic weights
``gain*W``; a CubaLIF to ``du = 1 - alpha`` and weights ``gain*gain_syn*W``. Each builder returns
the process and the :class:`~modspike.hw.lava.synapses.Delivery` its synapse must provide
(:mod:`modspike.hw.lava.synapses` builds the Dense or Conv).
"""

from __future__ import annotations

import numpy as np

from modspike.errors import HardwareError
from modspike.step import fixed_shifts

from ..synapses import Delivery


def uniform_shift(shift: np.ndarray, what: str) -> int:
    values = np.unique(np.asarray(shift))
    if values.size != 1:
        raise HardwareError(f"{what}: per-neuron weight exponents need one Dense per exponent")
    return int(values[0])


def fits(layer, fixed: bool) -> bool:
    """Whether ``LIFReset`` computes this layer: Lava's own reset and firing (no spike rule of
    another tool), no recurrence, and a synapse bias only where Lava can add it (the voltage bias
    of a LIF without current state; a CubaLIF's bias enters the current, which Lava's LIF cannot
    feed). Every other LIF-family layer runs in the StepLayer, on the same integer step."""
    rule = layer.cell.constants
    if rule is not None and not getattr(rule, "is_default", False):
        return False
    if layer.recurrent is not None:  # LIFReset leaks the recurrent input across samples
        return False
    if fixed:
        p, lb = layer.cell.fixed.params, np.asarray(layer.cell.fixed.input_bias)
        return not (np.any(lb != 0) and (np.any(p.du != 4095) or np.any(np.asarray(p.bias) != 0)))
    bias = layer.synapse.bias
    has_current = getattr(layer.cell.params, "alpha", None) is not None
    return not (has_current and bias is not None and np.any(np.asarray(bias) != 0))


def _no_recurrence(layer) -> None:
    if layer.recurrent is not None:
        raise HardwareError(
            "recurrent LIF layers are not supported on Lava yet (LIFReset leaks the recurrent"
            " input across samples); use an SRC-family layer or a feed-forward LIF"
        )


def fixed_kwargs(layer) -> dict:
    """The fixed-point LIF parameters of a quantised LIF / CubaLIF layer (per neuron: Lava's CPU
    model broadcasts per-neuron ``du`` / ``dv`` / ``vth`` although the Vars are declared with one
    value per process; see docs/plasticity.md, "Heterogeneity on Lava")."""
    _no_recurrence(layer)
    p = layer.cell.fixed.params
    lb = np.asarray(layer.cell.fixed.input_bias, dtype=np.int64)
    if np.any(lb != 0):
        if np.any(p.du != 4095) or np.any(np.asarray(p.bias) != 0):
            raise HardwareError("a LIF input bias can only be mapped for plain LIF without v bias")
        bias_mant, bias_exp = lb, 6  # du=4095: u = a_in << 6 is added to v once, as the bias is
    else:
        bias_mant, bias_exp = np.asarray(p.bias, dtype=np.int64), 0
    n = layer.n
    return dict(
        shape=(n,),
        du=np.broadcast_to(np.asarray(p.du), (n,)).astype(np.int32),
        dv=np.broadcast_to(np.asarray(p.dv), (n,)).astype(np.int32),
        vth=np.broadcast_to(np.asarray(p.vth), (n,)).astype(np.int32),
        bias_mant=np.broadcast_to(bias_mant, (n,)).astype(np.int32),
        bias_exp=np.full(n, bias_exp, dtype=np.int32),
    )


def fixed(layer, period: int, offset: int):
    """``(LIFReset process, Delivery)`` of a quantised LIF / CubaLIF."""
    from lava.proc.lif.process import LIFReset

    cell = LIFReset(**fixed_kwargs(layer), reset_interval=period, reset_offset=offset % period)
    shift, _ = fixed_shifts(layer)
    return cell, Delivery(shift=uniform_shift(shift, f"layer {layer.name}"))


def floating(layer, period: int, offset: int):
    """``(LIFReset process, Delivery)`` of a float LIF / CubaLIF."""
    from lava.proc.lif.process import LIFReset

    _no_recurrence(layer)
    p = layer.cell.params
    if np.any(np.asarray(p.v_reset) != 0):
        raise HardwareError(f"{layer.name}: Lava's LIF resets to 0; v_reset must be 0")
    n = layer.n
    b = np.zeros(n) if layer.synapse.bias is None else np.asarray(layer.synapse.bias)
    if b.shape[0] != n:  # a convolution's bias: one per channel
        b = np.repeat(b, n // b.shape[0])
    gain = np.asarray(p.gain, dtype=np.float64)
    alpha = getattr(p, "alpha", None)
    if alpha is None:
        du, scale, bias = np.ones(n), gain, gain * b + np.asarray(p.leak)
    else:
        if np.any(b != 0):
            raise HardwareError(f"{layer.name}: a CubaLIF synapse bias has no Lava LIF mapping")
        du = 1.0 - np.asarray(alpha)
        scale, bias = gain * np.asarray(p.gain_syn), np.asarray(p.leak)
    cell = LIFReset(
        shape=(n,),
        du=du,
        dv=1.0 - np.asarray(p.beta),
        vth=np.asarray(p.threshold, dtype=np.float64),
        bias_mant=bias.astype(np.float64),
        bias_exp=np.zeros(n),
        reset_interval=period,
        reset_offset=offset % period,
    )
    return cell, Delivery(scale=np.broadcast_to(scale, (n,)).astype(np.float64))
