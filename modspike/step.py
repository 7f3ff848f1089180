"""The one step loop: a :class:`~modspike.network.Network` compiled for a precision, then run.

:func:`compile` looks every kind up once per layer and binds, per layer, the drive (synapse,
bias, recurrence), the cell step, the modulation of the precision and the parameter arrays, so the
loop itself does no dispatch. Precisions:

* ``FLOAT``: torch float32 (training, the torch backend, Lava's ``floating_pt`` reference);
* ``FIXED``: numpy int64, the bit-exact twin of Lava ``fixed_pt`` (the simulator);
* ``STE``: quantisation-aware training: the integer network forward, the float network's
  gradient (every quantised value is ``float + (integer - float).detach()``).

:func:`run` is the only time loop over a network in the package: training, QAT, the simulator,
warm-up (``probe`` captures states; :meth:`Program.sub` runs one layer; ``state=`` resumes) and
the closed loop (``state=`` carried between environment steps, a held modulation).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from .arrays import any_nonzero
from .errors import ConfigError, QuantizationError
from .fixedpoint import apply_exponent, int_matmul, mul_frac
from .network import Integration, Layer, Network
from .registry import require


class Precision(enum.Enum):
    FLOAT = "float"
    FIXED = "fixed"
    STE = "ste"


@dataclass(frozen=True)
class CompiledLayer:
    """One layer bound for one precision. ``drive(x, prev)`` -> the cell's input; ``step(a,
    state, params)`` -> ``(output, state)``; ``modulate(a, params, m)`` -> ``(a, params)``."""

    name: str
    kind: Any
    n: int
    drive: Callable
    step: Callable
    params: Any
    initial_state: Callable  # batch -> cell state
    initial_output: Callable  # batch -> the "previous output" before the first step
    modulate: Callable | None = None
    out_exp: int = 0  # FIXED / STE: an output unit is worth 2**out_exp
    from_accumulators: Callable | None = None  # (acc, recurrent acc) -> drive, for hardware
    # that accumulates the synapses itself (Lava's Dense) and hands the sums to the cell


class Ops(NamedTuple):
    """The array operations of a precision that the loop needs."""

    input: Callable  # one step of the network input -> what the first layer's drive takes
    add: Callable
    stack: Callable
    zeros: Callable  # (batch, n) -> the running sum's start


@dataclass(frozen=True)
class Program:
    precision: Precision
    layers: tuple[CompiledLayer, ...]
    ops: Ops
    readout: Callable | None = None  # (total, steps) -> logits

    def initial_state(self, batch: int) -> list:
        """Per layer ``(previous output, cell state)`` before the first step."""
        return [(L.initial_output(batch), L.initial_state(batch)) for L in self.layers]

    def sub(self, k: int) -> Program:
        """Layer ``k`` alone (warm-up runs one layer from captured states)."""
        return replace(self, layers=(self.layers[k],), readout=None)


class RunOut(NamedTuple):
    total: Any  # the last layer's outputs summed over time (batch, n)
    records: list | None  # per layer, the outputs of every step (T, batch, n)
    state: list  # per layer (previous output, cell state) after the last step


def run(
    prog: Program,
    inputs,
    state: Sequence | None = None,
    *,
    modulation: Sequence | None = None,
    record: bool = True,
    probe: Callable | None = None,
    total: bool = True,
) -> RunOut:
    """Advance ``prog`` over ``inputs`` (T, batch, ...) from ``state`` (default: rest).

    ``modulation``: None, or per layer None or an object with ``.at(t)`` giving that step's
    (gain, bias, hs0) (:mod:`modspike.modulation`). ``probe(t, k, layer_state)`` is called after
    every layer step (warm-up captures states with it). ``total=False`` leaves the time sum of
    the last layer to the probe (``RunOut.total`` is then None).
    """
    steps, batch = inputs.shape[0], inputs.shape[1]
    if modulation is not None:
        if len(modulation) != len(prog.layers):
            raise ConfigError(f"{len(modulation)} modulation signals for {len(prog.layers)} layers")
        for L, m in zip(prog.layers, modulation):
            if m is not None and L.modulate is None:
                raise ConfigError(f"layer {L.name}: a {L.kind.name} layer takes no modulation")
    state = list(state) if state is not None else prog.initial_state(batch)
    records: list[list] = [[] for _ in prog.layers]
    summed = prog.ops.zeros(batch, prog.layers[-1].n) if total else None
    for t in range(steps):
        s = prog.ops.input(inputs[t])
        for k, L in enumerate(prog.layers):
            prev, cell_state = state[k]
            a, p = L.drive(s, prev), L.params
            if modulation is not None and modulation[k] is not None:
                a, p = L.modulate(a, p, modulation[k].at(t))
            s, cell_state = L.step(a, cell_state, p)
            state[k] = (s, cell_state)
            if record:
                records[k].append(s)
            if probe is not None:
                probe(t, k, state[k])
        if summed is not None:
            summed = prog.ops.add(summed, s)
    stacked = [prog.ops.stack(r) for r in records] if record else None
    return RunOut(summed, stacked, state)


def logits(prog: Program, out: RunOut, steps: int):
    """The readout of a run's time-summed output (or that sum itself without a readout)."""
    return prog.readout(out.total, steps)


# --------------------------------------------------------------------------- FLOAT (torch)


def _torch():
    import torch

    return torch


def float_ops(device=None) -> Ops:
    torch = _torch()
    return Ops(
        input=lambda x: x,
        add=lambda a, b: a + b,
        stack=torch.stack,
        zeros=lambda batch, n: torch.zeros(batch, n, device=device),
    )


def float_layer(
    name: str,
    kind,
    synapse_kind,
    weight,
    bias,
    rec_weight,
    rec_bias,
    params,
    constants,
    attrs=None,
    device=None,
    pre: Sequence = (),
    n: int | None = None,
) -> CompiledLayer:
    """A FLOAT layer from torch tensors (a model's live parameters, or a Network's arrays).

    ``pre``: the synapse's stages as ``(apply, weight, attrs)`` triples, applied in order before
    it (pooling); ``n``: the number of neurons (default: the weight's rows, as for dense)."""
    torch = _torch()
    attrs = attrs or {}
    apply = synapse_kind.apply_float
    step = kind.floating.step
    if kind.floating.prepare is not None:
        params = kind.floating.prepare(params, constants)
    stages = float_stages(pre)

    if rec_weight is None:

        def drive(x, prev):
            return apply(stages(x), weight, bias, attrs)

    else:

        def drive(x, prev):
            return apply(stages(x), weight, bias, attrs) + apply(prev, rec_weight, rec_bias, attrs)

    n = int(weight.shape[0]) // kind.in_multiplicity if n is None else int(n)
    # a convolution's bias is per channel; the accumulations Lava delivers are per neuron
    per_neuron_bias = bias
    if bias is not None and int(bias.shape[0]) != n * kind.in_multiplicity:
        per_neuron_bias = bias.repeat_interleave(n * kind.in_multiplicity // int(bias.shape[0]))

    def from_accumulators(acc_ff, acc_rec):
        a = acc_ff if per_neuron_bias is None else acc_ff + per_neuron_bias
        if rec_weight is not None:
            a = a + acc_rec
            if rec_bias is not None:
                a = a + rec_bias
        return a

    return CompiledLayer(
        name=name,
        kind=kind,
        n=n,
        drive=drive,
        step=lambda a, s, p: step(a, s, p, constants),
        params=params,
        initial_state=lambda batch: kind.floating.initial_state(batch, n, device),
        initial_output=lambda batch: torch.zeros(batch, n, device=device),
        modulate=_float_modulation(kind) if kind.modulation is not None else None,
        from_accumulators=from_accumulators,
    )


def float_stages(pre: Sequence) -> Callable:
    """The composition of a synapse's ``pre`` stages, each ``(apply, weight, attrs)`` (float)."""
    if not pre:
        return lambda x: x

    def stages(x):
        for apply, weight, attrs in pre:
            x = apply(x, weight, None, attrs)
        return x

    return stages


def fixed_stages(synapse, to: Callable | None = None) -> Callable:
    """The composition of a quantised synapse's ``pre`` stages on integers (exact); ``to`` as in
    :func:`fixed_layer`."""
    pre = [(s.kind.accumulate, _constant(s.fixed.mantissa, to), s.attrs) for s in synapse.pre]
    if not pre:
        return lambda x: x

    def stages(x):
        for acc, mant, attrs in pre:
            x = acc(x, mant, attrs)
        return x

    return stages


def _float_modulation(kind) -> Callable:
    targets = kind.modulation

    def modulate(a, p, m):
        changes = {targets.bias: getattr(p, targets.bias) + m.bias}
        if targets.hs0 is not None:
            changes[targets.hs0] = getattr(p, targets.hs0) + m.hs0
        return a * m.gain, p._replace(**changes)

    return modulate


def _tensor(value, device=None):
    torch = _torch()
    if value is None:
        return None
    return torch.tensor(np.asarray(value), dtype=torch.float32, device=device)


def tensor_stages(synapse, device=None) -> tuple:
    """A synapse's ``pre`` stages as ``(apply, weight tensor, attrs)`` for :func:`float_layer`."""
    return tuple((s.kind.apply_float, _tensor(s.weight, device), s.attrs) for s in synapse.pre)


def _float_program_layer(layer: Layer, device=None) -> CompiledLayer:
    cell = layer.cell
    params = type(cell.params)(*(_tensor(v, device) for v in cell.params))
    rec = layer.recurrent
    return float_layer(
        layer.name,
        cell.kind,
        layer.synapse.kind,
        _tensor(layer.synapse.weight, device),
        _tensor(layer.synapse.bias, device),
        None if rec is None else _tensor(rec.weight, device),
        None if rec is None else _tensor(rec.bias, device),
        params,
        cell.constants,
        layer.synapse.attrs,
        device,
        pre=tensor_stages(layer.synapse, device),
        n=layer.n,
    )


def float_readout(weight, bias, integration: Integration, pre: Sequence = ()) -> Callable:
    """The readout of a FLOAT program: ``W total + b`` for a sum-over-time readout; a per-step
    readout sums ``W out_t + b`` over the ``steps``. The ``pre`` stages (pooling, linear) apply
    to the time sum as they would to each step."""
    torch = _torch()
    stages = float_stages(pre)

    def readout(total, steps: int):
        y = torch.nn.functional.linear(stages(total), weight, bias)
        if bias is not None and integration is Integration.PER_STEP:
            y = y + (steps - 1) * bias
        return y

    return readout


def _compile_float(net: Network, device=None) -> Program:
    layers = tuple(_float_program_layer(layer, device) for layer in net.layers)
    readout = (lambda total, steps: total) if net.readout is None else None
    if net.readout is not None:
        syn = net.readout.synapse
        readout = float_readout(
            _tensor(syn.weight, device),
            _tensor(syn.bias, device),
            net.readout.integration,
            tensor_stages(syn, device),
        )
    return Program(Precision.FLOAT, layers, float_ops(device), readout)


def float_logits_numpy(net: Network, total: np.ndarray, steps: int) -> np.ndarray:
    """The float readout in numpy (float64) of a time-summed last-layer output, as the FLOAT
    program computes it (Lava's floating_pt runs return their sums in numpy)."""
    if net.readout is None:
        return np.asarray(total, dtype=np.float64)
    syn = net.readout.synapse
    bias = 0.0 if syn.bias is None else np.asarray(syn.bias)
    reps = 1 if net.readout.integration is Integration.SUM_OVER_TIME else steps
    x = np.asarray(total, dtype=np.float64)
    for stage in syn.pre:  # linear stages commute with the time sum
        torch = _torch()
        w = torch.tensor(np.asarray(stage.weight), dtype=torch.float64)
        x = stage.kind.apply_float(torch.tensor(x), w, None, stage.attrs).numpy()
    return x @ np.asarray(syn.weight).T + reps * bias


# --------------------------------------------------------------------------- FIXED (numpy)


FIXED_OPS = Ops(
    input=lambda x: np.asarray(x).astype(np.int64),
    add=lambda a, b: np.add(a, b, out=a),  # the running sum is the loop's own array
    stack=np.stack,
    zeros=lambda batch, n: np.zeros((batch, n), dtype=np.int64),
)


def _uniform(shift: np.ndarray) -> np.ndarray | int:
    """A per-row shift that is the same everywhere becomes one integer (rounding's fast path)."""
    shift = np.asarray(shift, dtype=np.int64)
    return int(shift[0]) if shift.size and np.all(shift == shift[0]) else shift


def synapse_shift(fixed_weights, drive_exp: np.ndarray) -> np.ndarray:
    """Left shift from a synapse's accumulator to its cell's drive units, per output row:
    ``exponent + input_exponent - drive exponent``."""
    drive_exp = np.asarray(drive_exp)
    rows = fixed_weights.neuron_exponent(int(drive_exp.shape[0]))
    return rows + fixed_weights.input_exponent - drive_exp


def fixed_shifts(layer: Layer) -> tuple[np.ndarray, np.ndarray | None]:
    """``(synapse shift, recurrent shift or None)`` of a quantised layer."""
    kind = layer.cell.kind
    arith = require(kind, "fixed", f"layer {layer.name}")
    e = arith.drive_exponent(layer.cell.fixed)
    shift = synapse_shift(layer.synapse.fixed, e)
    rec = None if layer.recurrent is None else synapse_shift(layer.recurrent.fixed, e)
    return shift, rec


def fixed_layer(layer: Layer, to: Callable | None = None) -> CompiledLayer:
    """A FIXED layer of a quantised network (Lava's StepLayer model uses the same pieces).

    ``to`` maps every numpy constant the layer holds (mantissas, bias, per-row shifts, the cell's
    parameter arrays and initial state) onto the arrays it runs on: torch int64 tensors on a
    device for ``sim-torch`` (kinds with ``tensors``); None keeps numpy."""
    kind = layer.cell.kind
    arith = require(kind, "fixed", f"layer {layer.name}")
    fixed = layer.cell.fixed
    if fixed is None or layer.synapse.fixed is None:
        raise QuantizationError(f"layer {layer.name} is not quantised")
    shift, rec_shift = fixed_shifts(layer)
    acc = layer.synapse.kind.accumulate
    mant, attrs = _constant(layer.synapse.fixed.mantissa, to), layer.synapse.attrs
    stages = fixed_stages(layer.synapse, to)
    sh = _constant(_uniform(shift), to)
    bias = _constant(fixed.input_bias, to) if np.any(fixed.input_bias) else None
    rec = layer.recurrent
    rec_mant = None if rec is None else _constant(rec.fixed.mantissa, to)
    rec_acc = None if rec is None else rec.kind.accumulate
    rec_sh = None if rec is None else _constant(_uniform(rec_shift), to)

    def from_accumulators(acc_ff, acc_rec):
        a = apply_exponent(acc_ff, sh)
        if bias is not None:
            a = a + bias
        if acc_rec is not None and rec_sh is not None:
            a = a + apply_exponent(acc_rec, rec_sh)
        return a

    def drive(x, prev):
        recurrent = None
        if rec_mant is not None and prev is not None:
            recurrent = rec_acc(prev, rec_mant, rec.attrs)
        return from_accumulators(acc(stages(x), mant, attrs), recurrent)

    n = layer.n
    return CompiledLayer(
        name=layer.name,
        kind=kind,
        n=n,
        drive=drive,
        step=arith.step,
        params=_constant(fixed.params, to),
        initial_state=lambda batch: _constant(arith.initial_state(batch, n), to),
        initial_output=lambda batch: None,
        modulate=_fixed_modulation(kind, fixed.out_exp) if kind.modulation is not None else None,
        out_exp=fixed.out_exp,
        from_accumulators=from_accumulators,
    )


def _constant(value, to: Callable | None):
    """``to`` applied to an array, or to every array field of a NamedTuple (ints and tables
    stay as they are); ``to=None`` leaves everything as it is."""
    if to is None:
        return value
    if isinstance(value, np.ndarray):
        return to(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_constant(v, to) for v in value))
    return value


def _fixed_modulation(kind, out_exp: int) -> Callable:
    """The integer rule: the gain (in output units) multiplies the drive, rounded half up; the
    offsets add to the integer bias and ``h_s0`` (after the bias clamp of quantisation)."""
    targets = kind.modulation
    frac = -int(out_exp)

    def modulate(a, p, m):
        changes = {targets.fixed_bias: getattr(p, targets.fixed_bias) + m.bias}
        if targets.fixed_hs0 is not None:
            changes[targets.fixed_hs0] = getattr(p, targets.fixed_hs0) + m.hs0
        elif any_nonzero(m.hs0):
            raise ConfigError(f"a {kind.name} layer has no h_s0 to modulate")
        return mul_frac(m.gain, a, frac), p._replace(**changes)

    return modulate


def fixed_readout(net: Network) -> Callable:
    """Float64 logits from the integer time sum: ``(q_ro . total) * 2**(e_ro + e_in)``."""
    if net.readout is None:
        scale = 2.0 ** net.layers[-1].cell.fixed.out_exp
        return lambda total, steps: total.astype(np.float64) * scale
    syn = net.readout.synapse
    if syn.bias is not None:
        raise QuantizationError("a quantised readout has no bias")
    fixed = syn.fixed
    scale = np.exp2(fixed.exponent + fixed.input_exponent)
    stages = fixed_stages(syn)

    def readout(total, steps: int):
        return int_matmul(stages(total), fixed.mantissa).astype(np.float64) * scale

    return readout


def _compile_fixed(net: Network) -> Program:
    if not net.quantized:
        raise QuantizationError(
            "this network carries no fixed-point model (it was not exported quantised)"
        )
    layers = tuple(fixed_layer(layer) for layer in net.layers)
    return Program(Precision.FIXED, layers, FIXED_OPS, fixed_readout(net))


# --------------------------------------------------------------------------- STE (QAT)


def int_to_tensor(values: np.ndarray, exp, like):
    """Integers in units of ``2**exp`` as a tensor of ``like``'s dtype and device."""
    torch = _torch()
    scale = np.exp2(np.asarray(exp, dtype=np.float64))
    return torch.from_numpy(values * scale).to(device=like.device, dtype=like.dtype)


def ste_value(float_value, int_value: np.ndarray, exp):
    """The integer value (times ``2**exp``) forward, the float value's gradient backward."""
    return float_value + (int_to_tensor(int_value, exp, float_value) - float_value).detach()


def ste_layer(float_l: CompiledLayer, fixed_l: CompiledLayer, state_exp: np.ndarray):
    """A QAT layer: both halves step side by side; the output and the float state are snapped
    onto the integer ones (``FixedArith.ste_fields``)."""
    pairs = fixed_l.kind.fixed.ste_fields
    exp = np.asarray(state_exp)[None, :]

    def drive(x, prev):
        return float_l.drive(x[0], prev[0]), fixed_l.drive(x[1], prev[1])

    def step(a, state, params):
        out_f, sf = float_l.step(a[0], state[0], params[0])
        out_i, si = fixed_l.step(a[1], state[1], params[1])
        snapped = {f: ste_value(getattr(sf, f), getattr(si, i), exp) for f, i in pairs}
        return (ste_value(out_f, out_i, fixed_l.out_exp), out_i), (sf._replace(**snapped), si)

    return CompiledLayer(
        name=float_l.name,
        kind=float_l.kind,
        n=float_l.n,
        drive=drive,
        step=step,
        params=(float_l.params, fixed_l.params),
        initial_state=lambda b: (float_l.initial_state(b), fixed_l.initial_state(b)),
        initial_output=lambda b: (float_l.initial_output(b), fixed_l.initial_output(b)),
        out_exp=fixed_l.out_exp,
    )


def ste_ops(device=None) -> Ops:
    f = float_ops(device)
    return Ops(
        input=lambda x: (x, np.asarray(x.detach().cpu().numpy()).astype(np.int64)),
        add=lambda a, b: (a[0] + b[0], a[1] + b[1]),
        stack=lambda xs: f.stack([x[0] for x in xs]),
        zeros=lambda batch, n: (f.zeros(batch, n), FIXED_OPS.zeros(batch, n)),
    )


# --------------------------------------------------------------------------- entry point


def compile_layer(layer: Layer, precision: Precision, device=None) -> CompiledLayer:
    """One layer of a network bound for ``precision`` (FLOAT or FIXED)."""
    if precision is Precision.FIXED:
        return fixed_layer(layer)
    if precision is Precision.FLOAT:
        return _float_program_layer(layer, device)
    raise ConfigError(f"compile_layer() binds FLOAT and FIXED layers, not {precision}")


def compile(net: Network, precision: Precision = Precision.FIXED, device=None) -> Program:
    """``net`` bound for ``precision`` (FLOAT or FIXED; STE programs come from a trainable model,
    ``modspike.train.qat``)."""
    if precision is Precision.FIXED:
        return _compile_fixed(net)
    if precision is Precision.FLOAT:
        return _compile_float(net, device)
    raise ConfigError(f"compile() builds FLOAT and FIXED programs, not {precision}")
