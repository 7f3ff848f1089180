"""Plain inputs of the energy tiers: shape and bit-width facts per layer, and the names of the
per-layer counts (one mean per inference, batch 1, averaged over the test samples).

The facts are what the network description gives (its memory model: per layer
``weights * weight_bits + n * (state_words * state_bits + param_bits) + shared_bits``); the counts
are what the counters give (``runtime/energy_counts.py`` for the keys below, ``runtime/counters.py``
for the NeuroBench-exact ones). Nothing here has a default that stands in for a deployed number:
state bits and state words always come from the network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from modspike.errors import ConfigError

ENCODINGS = ("rate", "latency", "direct", "events")
"""``events``: the input already is events (event-sensor data), so no encoder is priced."""

# Per-layer count keys read by the tiers (floats per inference).
INPUT_EVENTS = "input_events"  # X_l: non-zero presynaptic values arriving (recurrent included)
RECURRENT_INPUT_EVENTS = "recurrent_input_events"  # the part of X_l from the layer's own output
SYNAPTIC_EVENTS = "synaptic_events"  # Y_l: event x fan-out, dense storage (stored zeros read too)
GRADED_SYNAPTIC_EVENTS = "graded_synaptic_events"  # the part of Y_l with a graded payload
NEURON_UPDATES = "neuron_updates"  # U_l = n_l * T (time-driven)
SPIKES = "spikes"  # non-zero outputs of the layer (graded outputs included)
EFFECTIVE = "effective"  # NeuroBench SynOps (non-zero input x non-zero weight), counters.py


def _positive_int(name: str, v) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {v!r}")


def _non_negative_int(name: str, v) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ConfigError(f"{name} must be a non-negative integer, got {v!r}")


@dataclass(frozen=True)
class LayerFacts:
    """One spiking layer as deployed.

    ``cell`` names the cell kind (its operations per update come from the deployed profile);
    ``state_words`` (k_s), ``state_bits`` (b_s), ``param_bits`` (p_c, per neuron) and
    ``shared_bits`` (tables or constants shared by the layer, e.g. the SRC family's three
    513-entry 24-bit tables) come from the network's memory model. ``weights`` is the number of
    stored weights (feed-forward ``n * n_in``, plus ``n * n`` when recurrent, by default)."""

    cell: str
    n_in: int
    n: int
    weight_bits: int
    state_words: int
    state_bits: int
    param_bits: int
    shared_bits: int = 0
    recurrent: bool = False
    graded_output: bool = False
    weights: int | None = None

    def __post_init__(self):
        if not isinstance(self.cell, str) or not self.cell:
            raise ConfigError(f"cell kind must be a name, got {self.cell!r}")
        for name in ("n_in", "n", "weight_bits", "state_words", "state_bits"):
            _positive_int(name, getattr(self, name))
        for name in ("param_bits", "shared_bits"):
            _non_negative_int(name, getattr(self, name))
        if self.weights is not None:
            _non_negative_int("weights", self.weights)

    @property
    def stored_weights(self) -> int:
        if self.weights is not None:
            return self.weights
        return self.n * self.n_in + (self.n * self.n if self.recurrent else 0)

    @property
    def sources(self) -> int:
        """Presynaptic addresses an event can come from (the event queue's size)."""
        return self.n_in + (self.n if self.recurrent else 0)

    @property
    def memory_bits(self) -> int:
        """The memory model: weights, per-neuron state and parameters, shared tables."""
        return (
            self.stored_weights * self.weight_bits
            + self.n * (self.state_words * self.state_bits + self.param_bits)
            + self.shared_bits
        )

    # buffer sizes in bytes (S_w, S_st, S_tab of docs/energy-model.md)
    @property
    def weight_bytes(self) -> float:
        return self.stored_weights * self.weight_bits / 8

    @property
    def state_bytes(self) -> float:
        return self.n * (self.state_words * self.state_bits + self.param_bits) / 8

    @property
    def table_bytes(self) -> float:
        return self.shared_bits / 8


@dataclass(frozen=True)
class ReadoutFacts:
    """The readout: ``classes`` outputs applied once to the last spiking layer's time sum."""

    classes: int
    weight_bits: int = 8

    def __post_init__(self):
        _positive_int("classes", self.classes)
        _positive_int("weight_bits", self.weight_bits)


@dataclass(frozen=True)
class AnnLayerFacts:
    """One ANN layer: ``n_in`` input and ``n_out`` output activations of ``act_bits`` bits,
    ``weight_bits`` weights, 32-bit bias when ``bias``. ``macs`` and ``weights`` default to the
    dense layer's ``n_in * n_out`` (give them for a convolution)."""

    n_in: int
    n_out: int
    bias: bool = True
    weight_bits: int = 8
    act_bits: int = 8
    macs: int | None = None
    weights: int | None = None

    def __post_init__(self):
        for name in ("n_in", "n_out", "weight_bits", "act_bits"):
            _positive_int(name, getattr(self, name))
        for name in ("macs", "weights"):
            if getattr(self, name) is not None:
                _positive_int(name, getattr(self, name))

    @property
    def dense_macs(self) -> int:
        return self.macs if self.macs is not None else self.n_in * self.n_out

    @property
    def stored_weights(self) -> int:
        return self.weights if self.weights is not None else self.n_in * self.n_out


def time_sum_bits(steps: int, graded: bool, graded_bits: int) -> int:
    """b_sum: bits of one readout time sum, ``graded_bits`` for graded outputs, else
    ``ceil(log2(T + 1))`` (a count of at most T spikes)."""
    _positive_int("steps", steps)
    return graded_bits if graded else max(1, math.ceil(math.log2(steps + 1)))


def low_bit_activation_bits(steps: int) -> int:
    """The activation width of the ANN that matches a T-step rate code: ``ceil(log2(T + 1))``."""
    _positive_int("steps", steps)
    return max(1, math.ceil(math.log2(steps + 1)))


def check_encoding(encoding: str) -> None:
    if encoding not in ENCODINGS:
        raise ConfigError(f"input encoding {encoding!r}; choose {', '.join(ENCODINGS)}")


def count(counts, key: str, layer: int, default: float | None = None) -> float:
    """``counts[key]`` as a float, or a one-line error naming the missing count."""
    if key in counts:
        v = float(counts[key])
        if not math.isfinite(v) or v < 0:
            raise ConfigError(f"layer {layer}: count {key} = {v!r} is not a non-negative number")
        return v
    if default is not None:
        return default
    raise ConfigError(f"layer {layer}: the counts lack {key!r}")
