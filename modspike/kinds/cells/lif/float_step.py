"""LIF float dynamics: ``v = beta*v + gain*a + leak``, a spike where ``v > threshold``, reset to
``v_reset`` (NIR's LIF in discrete time; a trained LIF has gain 1, leak 0, v_reset 0). A layer
imported from another tool may carry a :class:`~.rule.SpikeRule` as its constants (subtract reset,
``>=``, spike counts, a delayed reset or output): ``rule.float_step`` runs it.

The step is snntorch 1.0's ``Leaky`` (reset to zero), operation for operation, so that training
gives snntorch's spikes *and gradients* bit for bit (snntorch stays the oracle in the tests): the
state is the membrane *before* the reset, which the next step applies (``reset`` is detached), and
the spike carries snntorch's arctan surrogate gradient. Spikes are those of a reset applied at once
(NIR, Lava): only the stored state differs.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ...heterogeneity import decay_values, parse, plain_values
from ...values import finite_constant
from ..surrogate import arctan_spike
from .rule import custom
from .rule import float_step as rule_step


class LIFParams(NamedTuple):
    beta: torch.Tensor  # membrane decay per step
    threshold: torch.Tensor
    gain: torch.Tensor  # input gain (dt/tau * r in NIR terms)
    leak: torch.Tensor  # constant input per step (dt/tau * v_leak)
    v_reset: torch.Tensor | None  # None: reset to zero


class LIFState(NamedTuple):
    v: torch.Tensor


def initial_state(batch: int, n: int, device=None, dtype=None) -> LIFState:
    return LIFState(torch.zeros((batch, n), device=device, dtype=dtype))


def prepare(p: LIFParams, constants=None) -> LIFParams:
    """snntorch clamps the decay to [0, 1]; an all-zero ``v_reset`` is the plain reset to zero."""
    v_reset = p.v_reset
    if v_reset is not None and not bool(torch.any(v_reset != 0)):
        v_reset = None
    return p._replace(beta=p.beta.clamp(0, 1), v_reset=v_reset)


def step(a: torch.Tensor, state: LIFState, p: LIFParams, constants=None):
    rule = custom(constants)  # a SpikeRule of another tool's conventions (rule.py), or None
    if rule is not None:
        out, v = rule_step(state.v, lambda v: p.beta * v + p.gain * a + p.leak, p, rule)
        return out, LIFState(v)
    v = state.v
    reset = (v - p.threshold > 0).to(v.dtype)  # last step's spike; no gradient, as in snntorch
    v = (1 - reset) * v
    if p.v_reset is not None:
        v = v + reset * p.v_reset
    v = p.beta * v + p.gain * a + p.leak
    return arctan_spike(v - p.threshold), LIFState(v)


class LIFCell(nn.Module):
    """A LIF layer for training: decay ``beta`` and ``threshold`` are constants of the run, or per
    neuron with ``heterogeneous`` (``modspike.kinds.heterogeneity``): drawn from a distribution
    and kept as buffers, or trained as parameters (``learn``).

    Run directories written before the network redesign also hold them as snntorch's ``Leaky``
    buffers (``neuron.beta``, ``neuron.threshold``, ``neuron.graded_spikes_factor = 1``,
    ``neuron.reset_mechanism_val = 1``); loading checks them against the run's config and drops them.
    """

    def __init__(self, n: int, beta: float = 0.9, threshold: float = 1.0, heterogeneous=None):
        super().__init__()
        self.n = n
        self.beta = finite_constant(beta, "beta", 0.0, 1.0)
        self.threshold = finite_constant(threshold, "threshold", 0.0)
        self.heterogeneous = heterogeneous is not None
        if heterogeneous is not None:
            values = {
                "beta": decay_values(heterogeneous, "beta", self.beta, n, BETA_MAX),
                "threshold": plain_values(heterogeneous, "threshold", self.threshold, n, 0.0),
            }
            per_neuron(self, values, heterogeneous)

    def legacy_values(self) -> dict[str, float]:
        return {"beta": self.beta, "threshold": self.threshold}

    def float_params(self) -> LIFParams:
        def t(x: float) -> torch.Tensor:
            return torch.tensor(x, dtype=torch.float32)

        if self.heterogeneous:
            beta, thr = self.per_neuron_values()
            return LIFParams(beta, thr, t(1.0), t(0.0), None)
        return LIFParams(t(self.beta), t(self.threshold), t(1.0), t(0.0), None)

    def per_neuron_values(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Heterogeneous ``(beta, threshold)`` as the step uses them (clipped to their range)."""
        return self.het_beta.clamp(0.0, BETA_MAX), self.het_threshold.clamp(min=0.0)

    def network_params(self) -> LIFParams:
        """The exact per-neuron values (float64) for the network description."""
        n = self.n
        if self.heterogeneous:
            beta, thr = (v.detach().cpu().double().numpy() for v in self.per_neuron_values())
            return LIFParams(beta, thr, np.ones(n), np.zeros(n), np.zeros(n))
        return LIFParams(
            np.full(n, self.beta), np.full(n, self.threshold), np.ones(n), np.zeros(n), np.zeros(n)
        )

    def initial_state(self, batch: int, device=None) -> LIFState:
        return initial_state(batch, self.n, device)

    def forward(self, a: torch.Tensor, state: LIFState):
        return step(a, state, prepare(self.float_params()))

    def upgrade_state(self, state_dict: dict, prefix: str) -> None:
        """Run directories of earlier versions hold snntorch's buffers: check and drop them."""
        drop_legacy_keys(state_dict, prefix, self.legacy_values())


BETA_MAX = 4095 / 4096
"""Largest heterogeneous decay: Lava's dv = 4096 - round(4096 beta) stays >= 1, and NIR's time
constant ``dt / (1 - beta)`` finite."""


def per_neuron(module: nn.Module, values: dict, spec) -> None:
    """Register ``het_<name>`` per-neuron tensors: parameters if ``spec`` learns them, else
    buffers (saved with the run either way)."""
    for name, value in values.items():
        tensor = torch.tensor(value, dtype=torch.float32)
        if spec.learns(name):
            setattr(module, f"het_{name}", nn.Parameter(tensor))
        else:
            module.register_buffer(f"het_{name}", tensor)


LEGACY_FIXED = {"graded_spikes_factor": 1.0, "reset_mechanism_val": 1.0}


def drop_legacy_keys(state_dict: dict, prefix: str, values: dict[str, float]) -> None:
    """Remove snntorch-era ``neuron.*`` entries after checking them against the run's constants."""
    expected = {**{k: float(torch.tensor(v, dtype=torch.float32)) for k, v in values.items()}}
    expected.update(LEGACY_FIXED)
    for key in [k for k in state_dict if k.startswith(prefix + "neuron.")]:
        name = key[len(prefix) + len("neuron.") :]
        value = state_dict.pop(key)
        if name in expected and float(value) != expected[name]:
            raise ValueError(
                f"{key} = {float(value)} disagrees with the run's config ({expected[name]})"
            )


def build(n: int, cfg) -> LIFCell:
    spec = parse(getattr(cfg, "heterogeneous", None))
    return LIFCell(n, **cfg.cell_options, heterogeneous=spec)
