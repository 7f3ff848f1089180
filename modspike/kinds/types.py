"""The records that describe a kind, one concern per field (``docs/architecture.md``).

A cell kind or a synapse kind is a frozen record of its concerns: float arithmetic (torch),
fixed-point arithmetic (numpy int64), quantisation, the NIR mapping, memory figures and, for
synapses, shapes and operation counts. A concern a kind lacks is ``None``. The records are found
by name through :mod:`modspike.registry`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


class Output(enum.Enum):
    """What a cell sends: 0/1 spikes, or graded values (SRC family: ``max(h, 0)``)."""

    BINARY = "binary"
    GRADED = "graded"


@dataclass(frozen=True)
class ModTargets:
    """Where a modulation signal (gain, bias offset, ``h_s0`` offset) enters a cell: the float
    parameter fields the offsets are added to, and the matching integer parameter fields."""

    bias: str
    hs0: str | None = None
    fixed_bias: str = "bias"
    fixed_hs0: str | None = None


@dataclass(frozen=True)
class FloatArith:
    """The kind's float dynamics (torch).

    ``initial_state(batch, n, device)`` -> state NamedTuple; ``prepare(params, constants)`` maps
    the learned parameters onto the ones a step uses (e.g. SRC's clamp of ``b_h``), once per run;
    ``step(a, state, params, constants)`` -> ``(output, state)``; ``module(n, options)`` builds the
    thin ``nn.Module`` that holds the learnable parameters for training (None: the kind runs
    imported networks only); ``init_synapse(weight)`` initialises the synaptic matrix feeding it.
    """

    initial_state: Callable
    step: Callable
    prepare: Callable | None = None
    module: Callable | None = None
    init_synapse: Callable | None = None


@dataclass(frozen=True)
class FixedArith:
    """The kind's integer dynamics (numpy int64, bit-exact with Lava ``fixed_pt``).

    ``initial_state(batch, n)``; ``step(a, state, params)`` -> ``(output, state)``;
    ``drive_exponent(fixed_cell)`` -> the unit of one drive value per neuron (``2**e``), from
    which every synaptic shift is derived; ``ste_fields``: pairs (float state field, integer state
    field) that quantisation-aware training snaps onto each other; ``min_shift``: the lowest
    synaptic shift the hardware applies exactly (Lava's Dense floors a negative ``weight_exp``);
    ``compiled``: optional, ``compiled(params) -> step``, a compiled twin of ``step`` bound to a
    layer's parameters (its tables, formats), with the same contract and the same values bit for
    bit, which the simulator runs instead of ``step`` (``modspike/compiled.py``; a kind without
    one runs ``step``; ``tests/test_compiled.py`` checks every kind that has one); ``tensors``:
    ``step`` is written with :mod:`modspike.arrays` and runs on torch int64 tensors too (the
    ``sim-torch`` backend, CPU or GPU; a kind without it runs there on numpy, layer by layer)."""

    initial_state: Callable
    step: Callable
    drive_exponent: Callable
    ste_fields: tuple[tuple[str, str], ...]
    min_shift: int | None = None  # lowest synaptic shift the hardware can apply (Lava LIF: 0)
    compiled: Callable | None = None  # params -> step, identical values (numba kernels)
    tensors: bool = False  # step also runs on torch int64 tensors (modspike.arrays; sim-torch)


@dataclass(frozen=True)
class Quantizer:
    """``quantize(cell, synapse_fixed, recurrent_fixed, synapse_bias, fmt, sfmt)`` -> FixedCell;
    ``out_exponent(sfmt)``: the unit of the output; ``to_dict`` / ``from_dict(d, n)``: the
    integer parameters as plain values (NIR metadata) and back, validated. ``unit_gain(cell)`` ->
    ``(scale per neuron or None, cell)``: an input gain the integer model lacks, which the
    quantiser moves into the incoming weights first (None: the kind has no such gain)."""

    quantize: Callable
    out_exponent: Callable
    to_dict: Callable
    from_dict: Callable
    unit_gain: Callable | None = None


@dataclass(frozen=True)
class NirCodec:
    """``write(layer, dt)`` -> the cell's NIR node (None: read-only kinds); ``read(node, name, n,
    dt, kind)`` -> ``(params, constants, fixed-point dict or None)``. ``claims``: foreign NIR node classes this kind reads;
    ``extension``: the name of modspike's extension subgraph for kinds NIR has no primitive for.
    ``read_foreign(node, name, n, reading)`` -> ``(params, constants)``: the node as another tool
    meant it (``reading``: a :class:`modspike.kinds.producers.Reading`: producer, dt, reset);
    None: the kind reads every producer's nodes with NIR's own meaning (``read``)."""

    write: Callable
    read: Callable
    claims: tuple[type, ...] = ()
    extension: str | None = None
    read_foreign: Callable | None = None


@dataclass(frozen=True)
class MemoryFigures:
    """Per neuron: state words (each ``state_bits`` wide) and parameter bits; per layer: shared
    bits (lookup tables, one decay register, ...)."""

    state_words: int
    param_bits: int
    shared_bits: int = 0


@dataclass(frozen=True)
class CellKind:
    name: str
    output: Output
    float_params: type
    floating: FloatArith
    constants: type | None = None
    synapse_bias: bool = False
    in_multiplicity: int = 1
    modulation: ModTargets | None = None
    fixed: FixedArith | None = None
    quant: Quantizer | None = None
    nir: NirCodec | None = None
    memory: MemoryFigures | None = None
    attractor: Callable | None = None
    hardware_note: str | None = None
    description: str = ""
    heterogeneous: tuple[str, ...] = ()  # parameters its training module draws per neuron

    def __repr__(self) -> str:
        return f"CellKind({self.name!r})"


@dataclass(frozen=True)
class SynapseKind:
    """A projection kind. ``out_shape(synapse, in_shape)``; ``apply_float(x, weight, bias,
    attrs)`` (torch); ``accumulate(x, mantissa, attrs)`` (exact integers) and
    ``weight_exponents(weight, fmt)`` (one per output row / channel); ``write_nir(synapse, meta)``
    / ``read_nir(node)`` and ``claims``; ``events(x, nonzero_weights, attrs)`` (NeuroBench synops per
    sample and step), ``dense_ops(synapse, in_shape)`` (MACs a dense evaluation costs) and
    ``fan_in(synapse)``; ``tensors``: ``accumulate`` also takes torch int64 tensors (the mantissa
    converted to the input's device), for ``sim-torch``; ``compiled``: optional, ``compiled(
    mantissa, attrs) -> accumulate(x)`` bound to one synapse, the simulator's faster exact
    accumulation (same values as ``accumulate``, as int64 or as float32 holding them exactly;
    ``modspike/compiled.py``)."""

    name: str
    out_shape: Callable
    apply_float: Callable
    accumulate: Callable
    weight_exponents: Callable
    write_nir: Callable
    read_nir: Callable
    events: Callable
    dense_ops: Callable
    fan_in: Callable
    claims: tuple[type, ...] = ()
    tensors: bool = False  # accumulate also takes torch int64 tensors (sim-torch)
    compiled: Callable | None = None  # (mantissa, attrs) -> accumulate(x), identical values
    description: str = ""

    def __repr__(self) -> str:
        return f"SynapseKind({self.name!r})"
