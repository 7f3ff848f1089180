"""The one network description that flows between the stages (``docs/architecture.md``).

Training produces a :class:`Network` from its model, quantisation returns its fixed-point twin
(the same structure with the ``fixed`` slots filled and the float weights snapped onto the grid),
export writes NIR from it alone, NIR import returns it, every backend runs it, and the counters,
the memory model and the energy model read it.

Everything here is a frozen dataclass holding numpy arrays (read-only copies) and references to
the *kinds* (:mod:`modspike.registry`): what a layer computes is decided by its synapse kind and its
cell kind, never by comparing names. Shapes are the layer's own (``in_shape`` -> ``out_shape``);
a dense layer flattens whatever it receives.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

import numpy as np

from .errors import ConfigError
from .fixedpoint import WeightFormat

NETWORK_SCHEMA = "modspike-network/1"
"""Recorded in artifact manifests (``network_schema``); a reader refuses a newer one."""
PLASTIC_NETWORK_SCHEMA = "modspike-network/2"
"""The schema of a network with a plastic synapse (``docs/plasticity.md``): readers that predate
plasticity refuse it ("upgrade modspike") instead of running the weights as if frozen."""


def frozen_array(value, dtype=None) -> np.ndarray:
    """A read-only copy of ``value`` as a numpy array (float64 unless ``dtype`` says otherwise)."""
    arr = np.array(value, dtype=dtype if dtype is not None else np.float64, copy=True)
    arr.setflags(write=False)
    return arr


def frozen_tuple(params: NamedTuple | None, dtype=None):
    """``params`` with every array field replaced by a read-only copy (other fields unchanged)."""
    if params is None:
        return None
    values = {}
    for name, value in params._asdict().items():
        if isinstance(value, np.ndarray):
            value = frozen_array(value, value.dtype if dtype is None else dtype)
        values[name] = value
    return type(params)(**values)


class Integration(enum.Enum):
    """How the readout turns the last layer's outputs into logits."""

    SUM_OVER_TIME = "sum_over_time"  # logits = readout(sum_t out_t)
    PER_STEP = "per_step"  # the readout runs every step; its outputs are summed


@dataclass(frozen=True, eq=False)
class FixedWeights:
    """Weights on the grid: ``weight = mantissa * 2**exponent`` (one exponent per output row or
    channel, broadcast along axis 0); ``input_exponent``: the unit of the integer input,
    ``2**input_exponent`` (0 for spikes, ``-frac_bits`` for graded SRC outputs)."""

    mantissa: np.ndarray
    exponent: np.ndarray
    input_exponent: int

    def __post_init__(self):
        object.__setattr__(self, "mantissa", frozen_array(self.mantissa, np.int64))
        object.__setattr__(self, "exponent", frozen_array(self.exponent, np.int64))
        object.__setattr__(self, "input_exponent", int(self.input_exponent))
        if self.exponent.shape != (self.mantissa.shape[0],):
            raise ConfigError(
                f"{self.exponent.shape[0] if self.exponent.ndim else 1} weight exponents for"
                f" {self.mantissa.shape[0]} output rows"
            )

    def dequantize(self) -> np.ndarray:
        """The float64 weights on the grid (exact: a small integer times a power of two)."""
        scale = np.exp2(self.exponent.astype(np.float64))
        return self.mantissa.astype(np.float64) * scale.reshape(
            (-1,) + (1,) * (self.mantissa.ndim - 1)
        )

    def neuron_exponent(self, n: int) -> np.ndarray:
        """The exponent of each of ``n`` output neurons: one per row of a dense synapse, each
        channel's repeated over its positions for a convolution (outputs are channel-major)."""
        rows = self.exponent.shape[0]
        if n == rows:
            return self.exponent
        if rows == 0 or n % rows:
            raise ConfigError(f"{rows} weight exponents cannot cover {n} output neurons")
        return np.repeat(self.exponent, n // rows)


@dataclass(frozen=True, eq=False)
class Synapse:
    """A projection of a synapse kind (``modspike.registry``): float weights, an optional bias,
    kind-specific attributes (convolution geometry, ...), and the fixed-point weights once
    quantised. For a dense synapse ``weight`` is ``(n_out, n_in)``, for a convolution
    ``(C_out, C_in / groups, *kernel)``.

    ``pre``: stages applied in order to the input before this synapse, each a weight-only
    :class:`Synapse` without a cell after it (pooling between a neuron layer and the next
    synapse, as NIR graphs place it: ``LIF -> SumPool2d -> Flatten -> Linear``). Together they
    are one composite synapse (docs/architecture.md, "Composite synapses")."""

    kind: Any  # SynapseKind
    weight: np.ndarray
    bias: np.ndarray | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)
    fixed: FixedWeights | None = None
    pre: tuple[Synapse, ...] = ()
    plasticity: Any = None  # modspike.plasticity.spec.Plasticity: the synapse learns on the device

    def __post_init__(self):
        object.__setattr__(self, "weight", frozen_array(self.weight))
        if self.bias is not None:
            object.__setattr__(self, "bias", frozen_array(self.bias))
        object.__setattr__(self, "attrs", MappingProxyType(dict(self.attrs)))
        object.__setattr__(self, "pre", tuple(self.pre))
        if any(stage.pre for stage in self.pre):
            raise ConfigError("a synapse stage cannot have stages of its own")

    def stage_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape that reaches the weights of this synapse (after the ``pre`` stages)."""
        shape = tuple(in_shape)
        for stage in self.pre:
            shape = tuple(stage.kind.out_shape(stage, shape))
        return shape

    def out_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The output shape of the composite synapse on input ``in_shape``."""
        return tuple(self.kind.out_shape(self, self.stage_shape(in_shape)))

    @property
    def n_out(self) -> int:
        return int(self.weight.shape[0])


@dataclass(frozen=True, eq=False)
class FixedCell:
    """The fixed-point form of a cell: the kind's integer parameters (a NamedTuple of int64 arrays
    and tables), an integer bias added to the drive every step (drive units), the unit of a state
    value per neuron (``2**state_exp``) and of an output value (``2**out_exp``)."""

    params: NamedTuple
    input_bias: np.ndarray
    state_exp: np.ndarray
    out_exp: int

    def __post_init__(self):
        object.__setattr__(self, "params", frozen_tuple(self.params))
        object.__setattr__(self, "input_bias", frozen_array(self.input_bias, np.int64))
        object.__setattr__(self, "state_exp", frozen_array(self.state_exp, np.int64))
        object.__setattr__(self, "out_exp", int(self.out_exp))


@dataclass(frozen=True, eq=False)
class Cell:
    """A population of one cell kind: per-neuron float parameters (the kind's ``float_params``
    NamedTuple of float64 arrays), the kind's constants (a frozen dataclass, or None), and the
    fixed-point form once quantised."""

    kind: Any  # CellKind
    params: NamedTuple
    constants: Any = None
    fixed: FixedCell | None = None

    def __post_init__(self):
        object.__setattr__(self, "params", frozen_tuple(self.params, np.float64))

    @property
    def n(self) -> int:
        return int(np.asarray(self.params[0]).shape[0])


@dataclass(frozen=True, eq=False)
class Layer:
    """``synapse (+ recurrent synapse of the previous output) -> cell``. ``name`` is the NIR node
    prefix (``layer0``) or the foreign file's cell node name."""

    name: str
    synapse: Synapse
    cell: Cell
    recurrent: Synapse | None
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]

    @property
    def n(self) -> int:
        return self.cell.n

    @property
    def n_in(self) -> int:
        return int(np.prod(self.in_shape))


@dataclass(frozen=True, eq=False)
class Readout:
    """A non-spiking dense projection of the last layer's outputs into logits."""

    synapse: Synapse
    integration: Integration = Integration.SUM_OVER_TIME

    @property
    def n_out(self) -> int:
        return self.synapse.n_out


@dataclass(frozen=True)
class Encoding:
    """How samples become network input: ``rate`` / ``latency`` codes of intensities, ``events``
    (pre-binned event data), ``graded`` (values in the input's fixed-point unit), or unknown (a
    foreign file that does not say)."""

    name: str | None = None
    steps: int | None = None
    gain: float = 1.0
    prefix: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict | None:
        if self.name is None:
            return None
        out = {"name": self.name, "steps": self.steps, "gain": self.gain, "prefix": self.prefix}
        return {**out, **dict(self.extra)}

    @classmethod
    def from_dict(cls, data) -> Encoding:
        if not isinstance(data, Mapping) or "name" not in data:
            return cls()
        known = {"name", "steps", "gain", "prefix"}
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(
            data["name"], data.get("steps"), data.get("gain", 1.0), data.get("prefix", 0), extra
        )


@dataclass(frozen=True)
class Provenance:
    """Where a network came from: ``source`` is ``run``, ``nir`` or ``agent``; ``origin`` the run
    directory or file; ``dt_source`` ``export``, ``metadata``, ``--dt`` or ``default``; ``notes``
    what an importer assumed or changed."""

    source: str = "run"
    origin: str | None = None
    sha256: str | None = None
    train_config: Mapping[str, Any] | None = None
    model_config: Mapping[str, Any] | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    dt_source: str = "export"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Network:
    """A chain of layers and a readout, with the input it expects and where it came from.

    ``input_shape`` is one sample's shape; ``input_exponent`` the unit of the integer input of a
    quantised network (0: spikes; ``-F``: graded values). All layers are quantised or none.
    """

    SCHEMA: ClassVar[str] = NETWORK_SCHEMA

    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]
    readout: Readout | None = None
    encoding: Encoding = field(default_factory=Encoding)
    dt: float = 1e-4
    input_exponent: int = 0
    weight_format: WeightFormat | None = None
    provenance: Provenance = field(default_factory=Provenance)

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "input_shape", tuple(int(d) for d in self.input_shape))
        if not self.layers:
            raise ConfigError("a network needs at least one layer")
        fixed = [layer.cell.fixed is not None for layer in self.layers]
        if any(fixed) and not all(fixed):
            raise ConfigError("either every layer of a network is quantised or none is")
        if self.readout is not None and (self.readout.synapse.fixed is not None) != all(fixed):
            raise ConfigError("the readout must be quantised together with the layers")
        if all(fixed) != (self.weight_format is not None):
            raise ConfigError("a quantised network records its weight format (and only then)")
        shape = self.input_shape
        for layer in self.layers:
            if tuple(layer.in_shape) != shape:
                raise ConfigError(
                    f"{layer.name}: takes input of shape {layer.in_shape}, gets {shape}"
                )
            shape = tuple(layer.out_shape)

    @property
    def quantized(self) -> bool:
        return self.layers[0].cell.fixed is not None

    @property
    def n_in(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def n_out(self) -> int:
        return self.readout.n_out if self.readout is not None else self.layers[-1].n

    @property
    def kinds(self) -> list[str]:
        """Cell kind names per layer (for manifests and messages)."""
        return [layer.cell.kind.name for layer in self.layers]

    def replace(self, **changes) -> Network:
        return replace(self, **changes)


def network_equal(a, b) -> bool:
    """Exact structural equality of two networks (arrays bit for bit, kinds by identity)."""
    return _equal(a, b)


def _equal(a, b) -> bool:
    from .kinds.types import CellKind, SynapseKind

    if isinstance(a, (CellKind, SynapseKind)):
        return a is b
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    if hasattr(a, "__dataclass_fields__") and not isinstance(a, type):
        return all(_equal(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, Mapping):
        return set(a) == set(b) and all(_equal(a[k], b[k]) for k in a)
    return a == b
