"""Integer networks in the modspike fixed-point format: quantised layers and their batched runner.

A network is a stack of layers ``synapse (+ recurrent synapse) -> cell`` and a linear readout of
the time-summed last-layer output, as in ``modspike.train.network.SpikingNet``. This module turns
float parameters (numpy arrays and plain constants) into integer layers with the rules of
:mod:`modspike.fixedpoint`, runs them, and converts them to and from plain dictionaries (the NIR
metadata of an export). Quantisation-aware training, export, the artifact runner and the hardware
simulator all go through here, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import QuantizationError
from .fixedpoint import (
    BIAS_MANT_MAX,
    DECAY_MAX,
    VTH_MAX,
    VTH_SHIFT,
    IntModulation,
    LIFParams,
    MSRCIntParams,
    QuantizedWeights,
    SRCFormat,
    SRCIntParams,
    WeightFormat,
    apply_exponent,
    int_matmul,
    lif_decays,
    lif_initial_state,
    lif_step,
    modulate,
    msrc_initial_state,
    msrc_step_int,
    quantize_weights,
    round_half_up,
    slow_gate_table,
    squash_table,
    src_initial_state,
    src_step_int,
    table_from_dict,
    tanh_table,
)

LIF_KINDS = ("lif", "cubalif")
SRC_KINDS = ("src", "msrc", "bsrc")
FIXED_KINDS = LIF_KINDS + SRC_KINDS


@dataclass(frozen=True)
class IntSynapse:
    """A quantised weight matrix and the left shift from its accumulator to the cell's input units.

    ``shift[n] = exponent[n] + input_exponent - cell_input_exponent``: Lava's ``weight_exp`` for a
    LIF layer (always >= 0 there), a rounding shift into state units for the SRC family.
    """

    weights: QuantizedWeights
    shift: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return apply_exponent(int_matmul(x, self.weights.mantissa), self.shift)


@dataclass(frozen=True)
class IntLayer:
    """One integer layer. ``state_exp``: a state unit is worth ``2**state_exp`` (per neuron);
    ``out_exp``: an output unit is worth ``2**out_exp`` (0 for spikes, ``-F`` for graded SRC output).
    """

    kind: str
    synapse: IntSynapse
    recurrent: IntSynapse | None
    bias: np.ndarray  # integer, added to the cell input every step (a_in units)
    params: LIFParams | SRCIntParams | MSRCIntParams
    state_exp: np.ndarray
    out_exp: int

    @property
    def n(self) -> int:
        return int(self.synapse.weights.mantissa.shape[0])

    @property
    def n_in(self) -> int:
        return int(self.synapse.weights.mantissa.shape[1])

    def initial_state(self, batch: int):
        if self.kind in LIF_KINDS:
            return lif_initial_state(batch, self.n)
        if self.kind == "src":
            return src_initial_state(batch, self.n)
        return msrc_initial_state(batch, self.n)

    def cell_input(self, s_in: np.ndarray, prev_out: np.ndarray | None) -> np.ndarray:
        a = self.synapse(s_in) + self.bias
        if self.recurrent is not None and prev_out is not None:
            a = a + self.recurrent(prev_out)
        return a

    def step(
        self,
        s_in: np.ndarray,
        prev_out: np.ndarray | None,
        state,
        mod: IntModulation | None = None,
    ):
        """``(output, state)`` for input messages ``s_in``, this layer's previous output and an
        optional modulation signal (SRC family only)."""
        a = self.cell_input(s_in, prev_out)
        if self.kind in LIF_KINDS:
            if mod is not None:
                raise QuantizationError("LIF layers take no modulation signal")
            return lif_step(a, state, self.params)
        a, params = modulate(a, self.params, mod)
        if self.kind == "src":
            return src_step_int(a, state, params)
        return msrc_step_int(a, state, params)


@dataclass(frozen=True)
class IntReadout:
    """The readout applied to the time-summed last-layer output; ``in_exp`` is that output's unit."""

    weights: QuantizedWeights
    in_exp: int

    def logits(self, total: np.ndarray) -> np.ndarray:
        acc = int_matmul(total, self.weights.mantissa)
        return acc.astype(np.float64) * np.exp2(self.weights.exponent + self.in_exp)


@dataclass(frozen=True)
class IntNetwork:
    layers: list[IntLayer]
    readout: IntReadout | None

    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    def initial_state(self, batch: int) -> list:
        """Per layer ``(previous output, cell state)`` before the first step."""
        return [(None, layer.initial_state(batch)) for layer in self.layers]

    def steps(self, inputs: np.ndarray, state: list, modulation=None):
        """Advance ``state`` over ``inputs`` ``(T, batch, n_in)`` (integer messages: 0/1 spikes, or
        graded values when the first layer was quantised for them); returns ``(outputs, state)``
        with ``outputs[k]`` of shape ``(T, batch, n_k)``. ``modulation``: ``None`` or, per layer,
        ``None`` or an :class:`IntModulation` whose fields are ``(T, batch, n_k)`` arrays."""
        state = list(state)
        records: list[list[np.ndarray]] = [[] for _ in self.layers]
        for t in range(inputs.shape[0]):
            s = inputs[t].astype(np.int64)
            for k, layer in enumerate(self.layers):
                prev, cell_state = state[k]
                mod = None if modulation is None else modulation[k]
                if mod is not None:
                    mod = IntModulation(mod.gain[t], mod.bias[t], mod.hs0[t])
                s, cell_state = layer.step(s, prev, cell_state, mod)
                state[k] = (s, cell_state)
                records[k].append(s)
        return [np.stack(r) for r in records], state

    def logits(self, total: np.ndarray) -> np.ndarray:
        """Readout of the last layer's outputs summed over time ``(batch, n)``."""
        if self.readout is not None:
            return self.readout.logits(total)
        return total.astype(np.float64) * 2.0 ** self.layers[-1].out_exp

    def run(self, spikes: np.ndarray, record: bool = False, modulation=None):
        """Run input spikes ``(T, batch, n_in)`` (0/1); returns logits (batch, n_out) as float64,
        and with ``record=True`` also each layer's integer outputs ``(T, batch, n)``."""
        spikes = np.asarray(spikes)
        if spikes.ndim != 3 or spikes.shape[2] != self.n_in:
            raise QuantizationError(
                f"input spikes must have shape (T, batch, {self.n_in}), got {spikes.shape}"
            )
        outputs, _ = self.steps(spikes, self.initial_state(spikes.shape[1]), modulation)
        logits = self.logits(outputs[-1].sum(axis=0))
        return (logits, outputs) if record else logits


# --------------------------------------------------------------------------- float -> integer


def _per_neuron(value, n: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise QuantizationError(f"{name}: expected {n} values, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise QuantizationError(f"{name} contains NaN or Inf values; cannot quantise")
    return arr


def quantize_lif_layer(
    kind: str,
    weight: np.ndarray,
    bias: np.ndarray | None,
    rec_weight: np.ndarray | None,
    beta,
    threshold,
    alpha=None,
    fmt: WeightFormat | None = None,
) -> IntLayer:
    """A LIF (``alpha=None``) or CubaLIF layer on Lava's bit-accurate model.

    The voltage unit is ``2**(E_v - 6)`` with ``E_v`` the smallest incoming weight exponent, so every
    Dense ``weight_exp`` is a left shift (exact in Lava) and ``vth = threshold / 2**E_v``.
    """
    fmt = fmt or WeightFormat()
    syn = quantize_weights(weight, fmt, "synapse weights")
    n = syn.mantissa.shape[0]
    rec = quantize_weights(rec_weight, fmt, "recurrent weights") if rec_weight is not None else None
    e_v = syn.exponent if rec is None else np.minimum(syn.exponent, rec.exponent)
    thr = _per_neuron(threshold, n, "threshold")
    if np.any(thr < 0):
        raise QuantizationError("LIF thresholds must be >= 0 (Lava's vth is unsigned)")
    vth = round_half_up(thr / np.exp2(e_v))
    if np.any(vth > VTH_MAX):
        raise QuantizationError(
            f"threshold {thr.max():g} is {int(vth.max())} weight steps: more than Lava's 17-bit vth"
            f" ({VTH_MAX}); the weights are too small for this threshold at {fmt.bits} bits"
        )
    b = np.zeros(n, dtype=np.int64)
    if bias is not None:
        b = round_half_up(_per_neuron(bias, n, "bias") / np.exp2(e_v))
        if np.any(np.abs(b) > BIAS_MANT_MAX):
            raise QuantizationError(
                f"bias of {int(np.abs(b).max())} weight steps does not fit Lava's 13-bit bias"
            )
    beta = _per_neuron(beta, n, "beta")
    du, dv = lif_decays(beta, None if alpha is None else _per_neuron(alpha, n, "alpha"))
    params = LIFParams(du, dv, vth.astype(np.int64), np.zeros(n, dtype=np.int64))
    return IntLayer(
        kind=kind,
        synapse=IntSynapse(syn, syn.exponent - e_v),
        recurrent=None if rec is None else IntSynapse(rec, rec.exponent - e_v),
        bias=b,
        params=params,
        state_exp=(e_v - VTH_SHIFT).astype(np.int64),
        out_exp=0,
    )


def _src_tables(constants: dict, sfmt: SRCFormat):
    rho = constants.get("rho")
    squash = None if rho is None else squash_table(float(rho), sfmt)
    gate = slow_gate_table(
        float(constants["zs_hyp"]),
        float(constants["zs_dep"]),
        float(constants["zs_slope"]),
        float(constants["zs_mid"]),
        sfmt,
    )
    return squash, gate, tanh_table(sfmt)


def _fixed_constants(constants: dict, names, n: int, sfmt: SRCFormat) -> dict:
    """Per-neuron constants in state units (``sfmt.to_fixed``)."""
    return {k: sfmt.to_fixed(_per_neuron(constants[k], n, k)) for k in names}


def _src_synapses(weight, rec_weight, in_exp: int, fmt: WeightFormat, sfmt: SRCFormat):
    syn = quantize_weights(weight, fmt, "synapse weights")
    rec = quantize_weights(rec_weight, fmt, "recurrent weights") if rec_weight is not None else None
    f = sfmt.frac_bits
    synapse = IntSynapse(syn, syn.exponent + in_exp + f)
    recurrent = None if rec is None else IntSynapse(rec, rec.exponent)  # graded input: -F + F
    return synapse, recurrent


def _graded_layer(kind: str, synapse, recurrent, params, frac_bits: int) -> IntLayer:
    """An SRC-family IntLayer: no input bias (the cell has its own), states and graded output in
    ``2**-frac_bits`` units."""
    n = synapse.weights.mantissa.shape[0]
    f = frac_bits
    return IntLayer(
        kind, synapse, recurrent, np.zeros(n, np.int64), params, np.full(n, -f, np.int64), -f
    )


def quantize_src_layer(
    weight: np.ndarray,
    rec_weight: np.ndarray | None,
    bh: np.ndarray,
    constants: dict,
    in_exp: int,
    fmt: WeightFormat | None = None,
    sfmt: SRCFormat | None = None,
) -> IntLayer:
    """An SRC layer (constants as in ``SRCConstants.to_dict()``); ``in_exp``: 0 for 0/1 input
    spikes, ``-frac_bits`` for the graded output of a previous SRC-family layer."""
    fmt, sfmt = fmt or WeightFormat(), sfmt or SRCFormat()
    synapse, recurrent = _src_synapses(weight, rec_weight, in_exp, fmt, sfmt)
    n = synapse.weights.mantissa.shape[0]
    bh = _per_neuron(bh, n, "b_h")
    if constants.get("bh_max") is not None:
        bh = np.minimum(bh, float(constants["bh_max"]))
    squash, gate, tanh = _src_tables(constants, sfmt)
    params = SRCIntParams(
        frac_bits=sfmt.frac_bits,
        state_bits=sfmt.state_bits,
        **_fixed_constants(constants, ("alpha", "r", "rs", "z"), n, sfmt),
        bias=sfmt.to_fixed(bh),
        squash=squash,
        gate=gate,
        tanh=tanh,
    )
    return _graded_layer("src", synapse, recurrent, params, sfmt.frac_bits)


def quantize_msrc_layer(
    kind: str,
    weight: np.ndarray,
    rec_weight: np.ndarray | None,
    b: np.ndarray,
    hs0: np.ndarray,
    constants: dict,
    in_exp: int,
    fmt: WeightFormat | None = None,
    sfmt: SRCFormat | None = None,
) -> IntLayer:
    """An mSRC or BSRC layer (constants as in ``MSRCConstants.to_dict()``)."""
    fmt, sfmt = fmt or WeightFormat(), sfmt or SRCFormat()
    synapse, recurrent = _src_synapses(weight, rec_weight, in_exp, fmt, sfmt)
    n = synapse.weights.mantissa.shape[0]
    squash, gate, tanh = _src_tables(constants, sfmt)
    ru = constants.get("ru")
    params = MSRCIntParams(
        frac_bits=sfmt.frac_bits,
        state_bits=sfmt.state_bits,
        **_fixed_constants(constants, ("alpha", "r", "rs", "zu"), n, sfmt),
        ru=None if ru is None else sfmt.to_fixed(_per_neuron(ru, n, "ru")),
        bias=sfmt.to_fixed(_per_neuron(b, n, "b")),
        hs0=sfmt.to_fixed(_per_neuron(hs0, n, "h_s0")),
        squash=squash,
        gate=gate,
        tanh=tanh,
    )
    return _graded_layer(kind, synapse, recurrent, params, sfmt.frac_bits)


def quantize_readout(weight: np.ndarray, in_exp: int, fmt: WeightFormat | None = None):
    return IntReadout(quantize_weights(weight, fmt or WeightFormat(), "readout weights"), in_exp)


# --------------------------------------------------------------------------- plain dictionaries

_SRC_FIELDS = ("alpha", "r", "rs", "z", "bias")
_MSRC_FIELDS = ("alpha", "r", "rs", "zu", "bias", "hs0")


def cell_params_to_dict(layer: IntLayer) -> dict:
    """The integer cell parameters of a layer as plain values (arrays, ints, nested dicts)."""
    p = layer.params
    if layer.kind in LIF_KINDS:
        return {
            "du": p.du,
            "dv": p.dv,
            "vth": p.vth,
            "bias_v": p.bias,
            "bias_a": layer.bias,
            "state_exp": layer.state_exp,
        }
    out = {
        "frac_bits": int(p.frac_bits),
        "state_bits": int(p.state_bits),
        "tables": {"gate": p.gate.to_dict(), "tanh": p.tanh.to_dict()},
    }
    if p.squash is not None:
        out["tables"]["squash"] = p.squash.to_dict()
    for name in _SRC_FIELDS if layer.kind == "src" else _MSRC_FIELDS:
        out[name] = getattr(p, name)
    if layer.kind != "src" and p.ru is not None:
        out["ru"] = p.ru
    return out


def _int_array(d: dict, key: str, n: int, lo: int | None = None, hi: int | None = None):
    if key not in d:
        raise QuantizationError(f"fixed-point parameters lack {key!r}")
    raw = np.asarray(d[key])
    if raw.dtype.kind not in "iuf" or raw.size not in (1, n):
        raise QuantizationError(f"fixed-point parameter {key!r} must hold 1 or {n} integers")
    if raw.dtype.kind == "f" and not (
        np.all(np.isfinite(raw))
        and np.array_equal(raw, np.rint(raw))
        and np.all(np.abs(raw) < 2**62)
    ):
        raise QuantizationError(f"fixed-point parameter {key!r} must hold integers")
    arr = np.broadcast_to(raw.astype(np.int64).reshape(-1), (n,)).copy()
    if (lo is not None and np.any(arr < lo)) or (hi is not None and np.any(arr > hi)):
        raise QuantizationError(f"fixed-point parameter {key!r} is outside [{lo}, {hi}]")
    return arr


def layer_from_dict(
    kind: str,
    synapse: QuantizedWeights,
    recurrent: QuantizedWeights | None,
    cell: dict,
    in_exp: int,
) -> IntLayer:
    """Rebuild an :class:`IntLayer` from quantised weights and :func:`cell_params_to_dict` output."""
    n = synapse.mantissa.shape[0]
    if recurrent is not None and recurrent.mantissa.shape != (n, n):
        raise QuantizationError(f"recurrent weights must be {n}x{n}")
    if kind in LIF_KINDS:
        state_exp = _int_array(cell, "state_exp", n, -200, 200)
        e_v = state_exp + VTH_SHIFT
        params = LIFParams(
            _int_array(cell, "du", n, 0, DECAY_MAX),
            _int_array(cell, "dv", n, 0, DECAY_MAX),
            _int_array(cell, "vth", n, 0, VTH_MAX),
            _int_array(cell, "bias_v", n, -(1 << 23), 1 << 23),
        )
        shift = synapse.exponent + in_exp - e_v
        rec_shift = None if recurrent is None else recurrent.exponent - e_v
        if np.any(shift < 0) or (rec_shift is not None and np.any(rec_shift < 0)):
            raise QuantizationError(
                "LIF weight exponents below the voltage unit (Lava floors them)"
            )
        bias = _int_array(cell, "bias_a", n, -BIAS_MANT_MAX, BIAS_MANT_MAX)
        rec = None if recurrent is None else IntSynapse(recurrent, rec_shift)
        return IntLayer(kind, IntSynapse(synapse, shift), rec, bias, params, state_exp, 0)
    if kind not in SRC_KINDS:
        raise QuantizationError(f"no fixed-point model for cell {kind!r}")
    try:
        f, bits = int(cell["frac_bits"]), int(cell["state_bits"])
        sfmt = SRCFormat(frac_bits=f, state_bits=bits)
        tables = cell["tables"]
        gate, tanh = table_from_dict(tables["gate"]), table_from_dict(tables["tanh"])
        squash = table_from_dict(tables["squash"]) if "squash" in tables else None
    except (KeyError, TypeError, ValueError) as exc:
        raise QuantizationError(f"malformed SRC fixed-point parameters ({exc!r})") from None
    lim = 1 << (sfmt.state_bits - 1)
    fields = {
        k: _int_array(cell, k, n, -lim, lim)
        for k in (_SRC_FIELDS if kind == "src" else _MSRC_FIELDS)
    }
    if kind == "src":
        params = SRCIntParams(f, bits, squash=squash, gate=gate, tanh=tanh, **fields)
    else:
        ru = _int_array(cell, "ru", n, -lim, lim) if "ru" in cell else None
        params = MSRCIntParams(f, bits, ru=ru, squash=squash, gate=gate, tanh=tanh, **fields)
    synapse_q = IntSynapse(synapse, synapse.exponent + in_exp + f)
    rec = None if recurrent is None else IntSynapse(recurrent, recurrent.exponent)
    return _graded_layer(kind, synapse_q, rec, params, f)
