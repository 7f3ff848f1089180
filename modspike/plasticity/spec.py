"""Plasticity as a concern of the network description: a :class:`Plasticity` record on a
:class:`~modspike.network.Synapse`, a registry of rule kinds, and the checks that a layer can learn.

A plastic synapse learns on the device with one of the registered rule kinds
(:data:`RULE_REGISTRY`: ``stdp``, ``rstdp``), whose parameters are those of
:func:`modspike.plasticity.rules.stdp` / :func:`~modspike.plasticity.rules.rstdp` (Lava's
``STDPLoihi`` / ``RewardModulatedSTDP``), defaults filled in. A quantised plastic layer keeps its
weights on the learning engine's grid (:func:`engine_grid`): the engine's integers ``2 q`` at
exponent ``e - 1`` with the post cell re-quantised on that unit, so that the synaptic shift is 0 and
a learned (odd) weight is still an exact integer of the description. NIR has no plasticity node:
the record travels in the synapse node's metadata (``docs/plasticity.md``, "The NIR extension").
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from modspike.errors import PlasticityError
from modspike.kinds.types import Output
from modspike.network import FixedWeights, Layer, Network

from .engine import SIGN_MODES, WEIGHT_RANGE, EngineParams, post_trace_decay
from .rules import LearningRule, build_rule

PLASTICITY_SCHEMA = "modspike-plasticity/1"
THIRD_FACTORS = ("reward", "modulation")
"""Where a three-factor rule's third factor comes from: ``reward`` from the environment (the host
computes it per step), ``modulation`` from a neuromodulatory network's output (``docs/plasticity.md``)."""


@dataclass(frozen=True)
class RuleKind:
    """A registered learning-rule kind: ``build(**params) -> LearningRule`` and its defaults."""

    name: str
    build: Callable[..., LearningRule]
    defaults: Mapping[str, float]
    three_factor: bool
    description: str = ""


def _stdp(**params) -> LearningRule:
    return build_rule("stdp", **params)


def _rstdp(**params) -> LearningRule:
    return build_rule("rstdp", **params)


RULE_REGISTRY: dict[str, RuleKind] = {
    "stdp": RuleKind(
        "stdp",
        _stdp,
        MappingProxyType(
            dict(
                learning_rate=1,
                a_plus=1,
                a_minus=-1,
                tau_plus=10,
                tau_minus=10,
                x1_impulse=16,
                y1_impulse=16,
                t_epoch=1,
                rng_seed=0,
            )
        ),  # fmt: skip
        three_factor=False,
        description="pair-based STDP (Lava STDPLoihi)",
    ),
    "rstdp": RuleKind(
        "rstdp",
        _rstdp,
        MappingProxyType(
            dict(
                learning_rate=1,
                a_plus=1,
                a_minus=-1,
                pre_trace_decay_tau=10,
                post_trace_decay_tau=10,
                pre_trace_kernel_magnitude=16,
                post_trace_kernel_magnitude=16,
                eligibility_trace_decay_tau=0.0625,
                t_epoch=1,
                rng_seed=0,
            )
        ),  # fmt: skip
        three_factor=True,
        description="reward-modulated STDP with an eligibility tag (Lava RewardModulatedSTDP)",
    ),
}


def rule_kind(name: str) -> RuleKind:
    if name not in RULE_REGISTRY:
        raise PlasticityError(f"unknown learning rule {name!r}; known: {', '.join(RULE_REGISTRY)}")
    return RULE_REGISTRY[name]


@dataclass(frozen=True, eq=False)
class Plasticity:
    """How a synapse learns: a registered rule kind with its (complete) parameters, the sign mode
    of the learning engine, and for three-factor rules where the third factor comes from."""

    rule: str
    params: Mapping[str, float] = field(default_factory=dict)
    sign_mode: str = "mixed"
    third_factor: str | None = None

    def __post_init__(self):
        kind = rule_kind(self.rule)
        params = {**kind.defaults, **dict(self.params)}
        object.__setattr__(self, "params", MappingProxyType(params))
        if self.sign_mode not in SIGN_MODES:
            raise PlasticityError(f"sign mode {self.sign_mode!r} is not one of {SIGN_MODES}")
        if kind.three_factor:
            third = self.third_factor or "reward"
            if third not in THIRD_FACTORS:
                raise PlasticityError(
                    f"third factor {third!r} is not one of {', '.join(THIRD_FACTORS)}"
                )
            object.__setattr__(self, "third_factor", third)
        elif self.third_factor is not None:
            raise PlasticityError(f"a {self.rule} rule has no third factor")
        object.__setattr__(self, "_rule", kind.build(**params))  # validates every parameter

    @property
    def learning_rule(self) -> LearningRule:
        return self._rule  # type: ignore[attr-defined]

    @property
    def three_factor(self) -> bool:
        return self.learning_rule.three_factor

    def engine(self, weight_exp: int = 0) -> EngineParams:
        """The learning engine's parameters for a connection of synaptic shift ``weight_exp``."""
        return EngineParams(self.learning_rule, sign_mode=self.sign_mode, weight_exp=weight_exp)

    @property
    def post_trace(self) -> tuple[int, int, float] | None:
        """Three-factor rules: the post neuron's trace ``(impulse, 12-bit decay, tau)``."""
        if not self.three_factor:
            return None
        impulse = self.params["post_trace_kernel_magnitude"]
        tau = float(self.params["post_trace_decay_tau"])
        if impulse != int(impulse) or not 0 <= impulse <= 127:
            raise PlasticityError("post_trace_kernel_magnitude must be an integer in 0..127")
        return int(impulse), post_trace_decay(tau), tau

    @property
    def weight_range(self) -> tuple[int, int]:
        return WEIGHT_RANGE[self.sign_mode]

    def to_dict(self) -> dict:
        return {
            "schema": PLASTICITY_SCHEMA,
            "rule": self.rule,
            "params": dict(self.params),
            "sign_mode": self.sign_mode,
            "third_factor": self.third_factor,
        }

    @classmethod
    def from_dict(cls, data) -> Plasticity:
        if not isinstance(data, Mapping):
            raise PlasticityError("plasticity metadata must be an object")
        schema = data.get("schema")
        if schema != PLASTICITY_SCHEMA:
            raise PlasticityError(
                f"plasticity schema {str(schema)[:60]!r} is not {PLASTICITY_SCHEMA!r}"
                " (written by a newer modspike? upgrade modspike)"
            )
        params = data.get("params")
        if not isinstance(params, Mapping) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in params.values()
        ):
            raise PlasticityError("plasticity parameters must be numbers")
        for key in ("t_epoch", "rng_seed"):
            if key in params and float(params[key]) == int(params[key]):
                params = {**params, key: int(params[key])}
        return cls(
            str(data.get("rule")),
            params,
            str(data.get("sign_mode", "mixed")),
            data.get("third_factor"),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text) -> Plasticity:
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        try:
            data = json.loads(str(text))
        except ValueError:
            raise PlasticityError("plasticity metadata is not valid JSON") from None
        return cls.from_dict(data)


def parse_rule_params(items: list[str] | None) -> dict[str, float]:
    """``KEY=VALUE`` strings (the CLI's ``--param``) -> numbers; one-line errors."""
    out: dict[str, float] = {}
    for item in items or []:
        key, eq, value = str(item).partition("=")
        if not eq or not key.strip():
            raise PlasticityError(f"rule parameter {item!r} is not KEY=VALUE")
        try:
            number = float(value)
        except ValueError:
            raise PlasticityError(f"rule parameter {key}: {value!r} is not a number") from None
        if not math.isfinite(number):
            raise PlasticityError(f"rule parameter {key} must be finite")
        out[key.strip()] = int(number) if number == int(number) else number
    return out


# --------------------------------------------------------------------------- which layers learn


def plastic_layers(net: Network) -> list[int]:
    """Indices of the layers whose feed-forward synapse is plastic."""
    return [k for k, layer in enumerate(net.layers) if layer.synapse.plasticity is not None]


def check_learnable(net: Network, k: int) -> None:
    """Layer ``k`` can carry a plastic synapse (one-line PlasticityError otherwise): a weight
    matrix (the engine updates an (n_post, n_pre) matrix), binary spikes in (the engine takes
    binary pre spikes), a post cell kind with binary spikes (its spikes are the back-propagating
    action potential) and a fixed-point model, and no recurrent synapse."""
    if not 0 <= k < len(net.layers):
        raise PlasticityError(f"layer {k} does not exist (the network has {len(net.layers)})")
    layer = net.layers[k]
    kind = layer.cell.kind
    weight = np.asarray(layer.synapse.weight)
    if weight.ndim != 2 or layer.synapse.kind.fan_in(layer.synapse) != weight.shape[1]:
        raise PlasticityError(
            f"{layer.name}: a {layer.synapse.kind.name} synapse cannot learn (the learning engine"
            " updates a dense weight matrix)"
        )
    if kind.output is not Output.BINARY or kind.fixed is None:
        raise PlasticityError(
            f"{layer.name}: a {kind.name} cell cannot learn (plasticity needs binary spikes and a"
            " fixed-point model: the spikes are the rule's post-synaptic events)"
        )
    if layer.recurrent is not None:
        raise PlasticityError(f"{layer.name}: a plastic layer with recurrent synapses")
    if k == 0:
        graded = net.input_exponent != 0 or net.encoding.name == "graded"
        if graded:
            raise PlasticityError(f"{layer.name}: the learning engine takes binary input spikes")
    elif net.layers[k - 1].cell.kind.output is not Output.BINARY:
        prev = net.layers[k - 1].cell.kind.name
        raise PlasticityError(
            f"{layer.name}: its input comes from {prev} cells (graded outputs); the learning"
            " engine takes binary spikes"
        )


def engine_grid(layer: Layer, fmt, sfmt=None) -> Layer:
    """A quantised layer on the learning engine's grid: mantissas ``2 q`` at exponent ``e - 1``
    (the same float weights, one more bit the engine can learn into) and the cell re-quantised on
    that unit, so the synaptic shift is 0 (Lava's ``LearningDense`` with ``weight_exp = 0``)."""
    from modspike.fixedpoint import SRCFormat
    from modspike.step import fixed_shifts

    fixed = layer.synapse.fixed
    if fixed is None:
        raise PlasticityError(f"{layer.name} is not quantised")
    grid = FixedWeights(2 * fixed.mantissa, fixed.exponent - 1, fixed.input_exponent)
    quant = layer.cell.kind.quant
    cell_fixed = quant.quantize(
        layer.cell, grid, None, layer.synapse.bias, fmt, sfmt or SRCFormat()
    )
    out = replace(
        layer,
        synapse=replace(layer.synapse, fixed=grid),
        cell=replace(layer.cell, fixed=cell_fixed),
    )
    shift, _ = fixed_shifts(out)
    if np.any(np.asarray(shift) != 0):
        raise PlasticityError(
            f"{layer.name}: the {layer.cell.kind.name} drive unit differs from the weight unit"
            " (the learning engine sends its sums unshifted)"
        )
    return out


def attach(net: Network, k: int, plasticity: Plasticity) -> Network:
    """``net`` with layer ``k``'s synapse plastic (on the engine grid if ``net`` is quantised)."""
    check_learnable(net, k)
    layer = net.layers[k]
    if net.quantized:
        if layer.synapse.plasticity is None:
            layer = engine_grid(layer, net.weight_format)
        lo, hi = plasticity.weight_range
        q = layer.synapse.fixed.mantissa
        if q.size and (q.min() < lo or q.max() > hi):
            raise PlasticityError(
                f"{layer.name}: weights {int(q.min())}..{int(q.max())} do not fit the"
                f" {plasticity.sign_mode} range {lo}..{hi}"
            )
    layer = replace(layer, synapse=replace(layer.synapse, plasticity=plasticity))
    layers = list(net.layers)
    layers[k] = layer
    return net.replace(layers=tuple(layers))


def with_weights(net: Network, k: int, weights: np.ndarray) -> Network:
    """The quantised plastic network with layer ``k``'s engine weights replaced (after learning):
    mantissas ``weights`` at the layer's exponents, float weights on that grid."""
    layer = net.layers[k]
    fixed = layer.synapse.fixed
    w = np.asarray(weights, dtype=np.int64)
    if w.shape != fixed.mantissa.shape:
        raise PlasticityError(f"{layer.name}: learned weights of shape {w.shape}")
    grid = FixedWeights(w, fixed.exponent, fixed.input_exponent)
    synapse = replace(layer.synapse, fixed=grid, weight=grid.dequantize())
    layers = list(net.layers)
    layers[k] = replace(layer, synapse=synapse)
    return net.replace(layers=tuple(layers))


def engine_weights_from_grid(
    w: np.ndarray, exponent, plasticity: Plasticity, name: str
) -> np.ndarray:
    """Mantissas of a plastic synapse read from a file: integers in the engine's range."""
    w = np.asarray(w, dtype=np.float64)
    e = np.broadcast_to(np.asarray(exponent, dtype=np.float64).reshape(-1), (w.shape[0],))
    if not np.all(np.isfinite(e)) or np.any(e != np.rint(e)) or np.any(np.abs(e) > 126):
        raise PlasticityError(f"{name}: weight exponents must be integers in [-126, 126]")
    scaled = w / np.exp2(e)[:, None]
    q = np.rint(scaled)
    lo, hi = plasticity.weight_range
    if not np.array_equal(q, scaled) or (q.size and (q.min() < lo or q.max() > hi)):
        raise PlasticityError(
            f"{name}: plastic weights are not integers in the engine's {lo}..{hi} range"
        )
    return q.astype(np.int64)


def network_schema(net: Network) -> str:
    """The manifest's ``network_schema``: ``/2`` when a synapse is plastic (readers that do not
    know plasticity refuse it: "upgrade modspike"), else ``/1`` as before."""
    from modspike.network import NETWORK_SCHEMA, PLASTIC_NETWORK_SCHEMA

    return PLASTIC_NETWORK_SCHEMA if plastic_layers(net) else NETWORK_SCHEMA


def readout_as_layer(
    net: Network, beta: float = 0.95, threshold: float = 1.0, bias: float = 0.0
) -> Network:
    """The network with its readout turned into a layer of LIF neurons (the readout weights feed
    them, plus a constant drive ``bias``): the spiking output layer a plastic synapse needs (the
    class is the neuron with the most spikes). A quantised network keeps the readout's mantissas
    and quantises the new cells on their unit."""
    from modspike import registry
    from modspike.network import Cell, Synapse

    if net.readout is None:
        raise PlasticityError("the network has no readout to turn into spiking neurons")
    lif = registry.cell("lif")
    syn = net.readout.synapse
    n = syn.n_out
    params = lif.float_params(
        np.full(n, float(beta)), np.full(n, float(threshold)), np.ones(n), np.zeros(n), np.zeros(n)
    )
    cell = Cell(lif, params)
    b = np.full(n, float(bias)) if bias else None
    if net.quantized:  # the readout's mantissas as they are; the LIF quantised on their unit
        from modspike.fixedpoint import SRCFormat

        fixed = lif.quant.quantize(cell, syn.fixed, None, b, net.weight_format, SRCFormat())
        cell = Cell(lif, params, None, fixed)
        if b is not None:  # the bias on the grid, as quantisation snaps it
            unit = np.exp2(lif.fixed.drive_exponent(fixed).astype(np.float64))
            b = fixed.input_bias * unit
    last = net.layers[-1]
    layer = Layer(
        f"layer{len(net.layers)}",
        Synapse(syn.kind, syn.weight, b, syn.attrs, syn.fixed),
        cell,
        None,
        tuple(last.out_shape),
        (n,),
    )
    return net.replace(layers=(*net.layers, layer), readout=None)
