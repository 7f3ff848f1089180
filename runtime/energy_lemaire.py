"""Tier (ii), Lemaire mode: SpikingJelly 2.0.0's ``estimate_lemaire_energy`` recomputed from
counts (no torch, no SpikingJelly at run time).

SpikingJelly 2.0.0 (``spikingjelly/activation_based/op_counter/analytical_energy.py``, wheel
RECORD sha256 ``E8CBQXO5wRHeGFM7tbHe2Is3wHLuDqsB6VtE-UdwT14``) runs the model once and records,
per ``Linear`` and per ``IFNode`` / ``LIFNode``, operation counts and memory accesses
``(bytes, buffer capacity)``; the energy is ``add * ac + (mul + add) * mac + add * acc_addr +
(mul + add) * mac_addr + sum(bytes * c(capacity))`` with ``c`` piecewise-linear in the capacity
(docs/energy-model.md, "Lemaire mode"). The functions below record the same things from event
counts, so a modspike network is priced exactly as SpikingJelly prices its mapped model:

* spiking layer -> ``layer.Linear(bias=False, step_mode="m")`` + ``IFNode`` (cell ``if``) or
  ``LIFNode`` (every other cell: one multiply per neuron-step); the label is ``lemaire (mapped)``
  unless every cell is IF or LIF;
* readout -> a ``Linear`` applied once to the time-summed output (the dense branch);
* ANN -> ``nn.Linear`` layers with biases and a functional ReLU (batch 1).

Batch 1: SpikingJelly's capacities scale with the batch. The energy is affine in the event
counts at fixed shapes, so pricing the mean counts equals averaging per-sample energies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from modspike.errors import ConfigError, EnergyProfileError

from .energy import load_profile
from .energy_facts import (
    GRADED_SYNAPTIC_EVENTS,
    INPUT_EVENTS,
    RECURRENT_INPUT_EVENTS,
    SPIKES,
    AnnLayerFacts,
    LayerFacts,
    ReadoutFacts,
    count,
)
from .energy_result import TierEnergy

LEAKY = {
    "if": False,
    "lif": True,
}  # cells SpikingJelly has (IFNode, LIFNode); the rest map to LIFNode


@dataclass(frozen=True)
class LemaireConfig:
    """SpikingJelly's ``LemaireEnergyCostConfig`` and ``LemaireEnergyConfig`` numbers."""

    name: str
    add_pj: float
    mul_pj: float
    breakpoints: tuple[tuple[float, float], ...]  # (capacity bytes, pJ per byte), 4 points
    fifo_elements: int
    word_bytes: int

    def memory_cost(self, capacity: float) -> float:
        """``c(C)``: pJ per byte accessed in a buffer of ``capacity`` bytes (clamped to the
        first and last breakpoints, linear in between), as ``memory_cost_pj``."""
        p = self.breakpoints
        c = max(p[0][0], min(capacity, p[-1][0]))
        for (x0, y0), (x1, y1) in zip(p, p[1:]):
            if c <= x1:
                return y0 + (y1 - y0) / (x1 - x0) * (c - x0)
        return p[-1][1]  # not reached: c is clamped to the last breakpoint


def config_from_profile(prof: dict) -> LemaireConfig:
    if prof.get("tier") != "lemaire":
        raise EnergyProfileError(f"energy profile {prof.get('name')} is not a Lemaire profile")
    cost, param = prof["cost"], prof.get("param", {})
    for k in ("add", "mul", "sram_8kib", "sram_32kib", "sram_1mib"):
        if k not in cost:
            raise EnergyProfileError(f"energy profile {prof['name']} lacks required key cost.{k}")
    for k in ("fifo_elements", "word_bytes"):
        if k not in param:
            raise EnergyProfileError(
                f"energy profile {prof['name']} lacks required field param.{k}"
            )
    kib = 1024.0
    return LemaireConfig(
        name=prof["name"],
        add_pj=cost["add"],
        mul_pj=cost["mul"],
        breakpoints=(
            (0.0, 0.0),
            (8 * kib, cost["sram_8kib"]),
            (32 * kib, cost["sram_32kib"]),
            (kib * kib, cost["sram_1mib"]),
        ),
        fifo_elements=int(param["fifo_elements"]["value"]),
        word_bytes=int(param["word_bytes"]["value"]),
    )


@lru_cache(maxsize=4)
def _cached(name: str) -> LemaireConfig:
    return config_from_profile(load_profile(name))


def lemaire_config(profile: str | LemaireConfig | None = None) -> LemaireConfig:
    """The constants of a Lemaire profile (default ``lemaire_sj200``: SpikingJelly 2.0.0's)."""
    if isinstance(profile, LemaireConfig):
        return profile
    return _cached(str(profile or "lemaire_sj200"))


@dataclass
class LemaireTally:
    """What SpikingJelly's ``_LemaireCounter`` accumulates over one forward pass."""

    config: LemaireConfig
    ac: float = 0.0
    mac: float = 0.0
    synop: float = 0.0
    acc_addr: float = 0.0
    mac_addr: float = 0.0
    records: list[tuple[str, float, float]] = field(default_factory=list)

    def _record(self, name: str, nbytes: float, capacity: float) -> None:
        self.records.append((name, nbytes, capacity))

    def linear_events(
        self, n_in: int, n_out: int, active_inputs: float, steps: int, bias: bool = False
    ) -> None:
        """A ``Linear`` whose input is binary (every value 0 or 1): ``active_inputs`` non-zero
        inputs over the ``steps`` time steps of a multi-step call (1 for a single-step call)."""
        w = self.config.word_bytes
        out_numel = steps * n_out
        fan = active_inputs * n_out
        self.ac += fan
        self.synop += fan
        self.acc_addr += fan
        if bias:
            self.ac += out_numel
        params_capacity = w * (n_in * n_out + (n_out if bias else 0))
        self._record("read_in_bytes", active_inputs * w, self.config.fifo_elements * w)
        self._record("read_params_bytes", fan * w + (out_numel * w if bias else 0), params_capacity)
        potential_capacity = (out_numel * w) // max(steps, 1)
        self._record("read_potential_bytes", fan * w, potential_capacity)
        self._record("write_potential_bytes", fan * w, potential_capacity)

    def linear_dense(
        self, n_in: int, n_out: int, rows: int, bias: bool, model_has_neurons: bool
    ) -> None:
        """A ``Linear`` on a non-binary input of ``rows`` rows (``rows * n_in`` values)."""
        w = self.config.word_bytes
        x_numel, y_numel = rows * n_in, rows * n_out
        self.mac += y_numel * n_in
        self.acc_addr += x_numel + y_numel
        if bias:
            self.ac += y_numel
        params_capacity = w * (n_in * n_out + (n_out if bias else 0))
        self._record("read_in_bytes", x_numel * w, x_numel * w)
        self._record(
            "read_params_bytes", y_numel * n_in * w + (y_numel * w if bias else 0), params_capacity
        )
        if not model_has_neurons:
            self._record("write_out_bytes", y_numel * w, y_numel * w)

    def neuron(self, n: int, steps: int, output_events: float, leaky: bool) -> None:
        """An ``IFNode`` (``leaky=False``) or ``LIFNode`` of ``n`` neurons over ``steps`` steps."""
        w = self.config.word_bytes
        capacity = (steps * n) // max(steps, 1) * w
        access = capacity * steps
        self._record("read_potential_bytes", access, capacity)
        self._record("write_potential_bytes", access, capacity)
        self.ac += output_events
        if leaky:  # the LIFNode's decay is one multiply-add per neuron and step
            self.mac += steps * n
        self._record("write_out_bytes", output_events * w, self.config.fifo_elements * w)

    def breakdown(self) -> dict[str, float]:
        """SpikingJelly's ``breakdown_pj``: ops, addressing, and memory by buffer kind."""
        cfg = self.config
        ops = self.ac * cfg.add_pj + self.mac * (cfg.mul_pj + cfg.add_pj)
        addressing = self.acc_addr * cfg.add_pj + self.mac_addr * (cfg.mul_pj + cfg.add_pj)
        mem = {"inout_pj": 0.0, "params_pj": 0.0, "potential_pj": 0.0}
        for name, nbytes, capacity in self.records:
            if name in ("read_in_bytes", "write_out_bytes"):
                key = "inout_pj"
            elif name == "read_params_bytes":
                key = "params_pj"
            else:
                key = "potential_pj"
            mem[key] += nbytes * cfg.memory_cost(capacity)
        return {"ops_pj": ops, "addressing_pj": addressing, **mem}

    def counts(self) -> dict[str, float]:
        return {
            "synop": self.synop,
            "mac": self.mac,
            "ac": self.ac,
            "acc_addr": self.acc_addr,
            "mac_addr": self.mac_addr,
        }


def _result(side: str, tally: LemaireTally, label: str, notes=()) -> TierEnergy:
    parts = tally.breakdown()
    prices = {
        "ops_pj": f"add {tally.config.add_pj:g} pJ, multiply-add {tally.config.mul_pj + tally.config.add_pj:g} pJ",
        "addressing_pj": f"add {tally.config.add_pj:g} pJ per address",
    }
    for k in ("inout_pj", "params_pj", "potential_pj"):
        prices[k] = "c(capacity) pJ/byte, piecewise-linear through 0 / 8 KiB / 32 KiB / 1 MiB"
    return TierEnergy(
        tier="lemaire",
        side=side,
        constant_set=tally.config.name,
        total_pj=float(sum(parts.values())),
        parts_pj=parts,
        prices=prices,
        scope="core",
        node_nm=45.0,
        status="estimated",
        evidence="primary",
        label=label,
        notes=tuple(notes),
    )


def lemaire_snn(
    layers: Sequence[LayerFacts],
    counts: Sequence[Mapping[str, float]],
    *,
    steps: int,
    readout: ReadoutFacts | None,
    profile: str | LemaireConfig | None = None,
) -> TierEnergy:
    """Lemaire-mode energy of a spiking network per inference (pJ), as SpikingJelly 2.0.0 gives
    for the mapped model (module docstring).

    Per layer the counts hold ``input_events`` (non-zero inputs over all steps;
    ``recurrent_input_events`` of them from the layer's own output, priced as a second binary
    ``Linear``) and ``spikes`` (non-zero outputs). A layer whose input is graded
    (``graded_synaptic_events > 0``) takes SpikingJelly's dense branch, as its non-binary input
    tensor would."""
    if not layers or len(counts) != len(layers):
        raise ConfigError(f"{len(counts)} count sets for {len(layers)} layers")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise ConfigError(f"steps must be a positive integer, got {steps!r}")
    tally = LemaireTally(lemaire_config(profile))
    for k, (ly, c) in enumerate(zip(layers, counts)):
        x = count(c, INPUT_EVENTS, k)
        x_rec = count(c, RECURRENT_INPUT_EVENTS, k, 0.0)
        if x_rec > x:
            raise ConfigError(f"layer {k}: more recurrent input events than input events")
        if count(c, GRADED_SYNAPTIC_EVENTS, k, 0.0) > 0:
            tally.linear_dense(ly.n_in, ly.n, steps, bias=False, model_has_neurons=True)
        else:
            tally.linear_events(ly.n_in, ly.n, x - x_rec, steps)
        if ly.recurrent:
            tally.linear_events(ly.n, ly.n, x_rec, steps)
        tally.neuron(ly.n, steps, count(c, SPIKES, k), LEAKY.get(ly.cell, True))
    if readout is not None:
        tally.linear_dense(layers[-1].n, readout.classes, 1, bias=False, model_has_neurons=True)
    mapped = any(ly.cell not in LEAKY for ly in layers)
    label = "lemaire (mapped)" if mapped else "lemaire"
    notes = ["cells other than IF and LIF are priced with SpikingJelly's LIFNode"] if mapped else []
    return _result("snn", tally, label, notes)


def lemaire_ann(
    layers: Sequence[AnnLayerFacts], *, profile: str | LemaireConfig | None = None
) -> TierEnergy:
    """Lemaire-mode energy of an ANN per inference (pJ): ``nn.Linear`` layers (biases as given),
    functional ReLU, batch 1, every input non-binary (the dense branch)."""
    if not layers:
        raise ConfigError("an ANN needs at least one layer")
    tally = LemaireTally(lemaire_config(profile))
    for ly in layers:
        if ly.macs is not None and ly.macs != ly.n_in * ly.n_out:
            raise ConfigError("Lemaire mode prices dense Linear ANN layers only")
        tally.linear_dense(ly.n_in, ly.n_out, 1, ly.bias, model_has_neurons=False)
    return _result("ann", tally, "lemaire")
