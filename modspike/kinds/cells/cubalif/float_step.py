"""Current-based LIF float dynamics: ``I = alpha*I + gain_syn*a``,
``v = beta*v + gain*I + leak``, a spike where ``v > threshold``, reset at once.

Written as snntorch 1.0's ``Synaptic`` (``reset_mechanism="zero"``, ``reset_delay=False``) computes
it, so that training gives its spikes and gradients bit for bit: the reset to zero is
``v - spike * v``, and the gradient flows through the spike's arctan surrogate as in snntorch. A
file whose ``v_reset`` is not zero resets by selection instead (NIR's CubaLIF).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ...heterogeneity import decay_values, parse, plain_values
from ...values import finite_constant
from ..lif.float_step import BETA_MAX, drop_legacy_keys, per_neuron
from ..lif.rule import custom
from ..lif.rule import float_step as rule_step
from ..surrogate import arctan_spike


class CubaLIFParams(NamedTuple):
    alpha: torch.Tensor  # synaptic current decay per step
    gain_syn: torch.Tensor
    beta: torch.Tensor
    gain: torch.Tensor
    leak: torch.Tensor
    threshold: torch.Tensor
    v_reset: torch.Tensor | None  # None: reset to zero


class CubaLIFState(NamedTuple):
    syn: torch.Tensor
    v: torch.Tensor


def initial_state(batch: int, n: int, device=None, dtype=None) -> CubaLIFState:
    z = torch.zeros((batch, n), device=device, dtype=dtype)
    return CubaLIFState(z, z.clone())


def prepare(p: CubaLIFParams, constants=None) -> CubaLIFParams:
    v_reset = p.v_reset
    if v_reset is not None and not bool(torch.any(v_reset != 0)):
        v_reset = None
    return p._replace(alpha=p.alpha.clamp(0, 1), beta=p.beta.clamp(0, 1), v_reset=v_reset)


def step(a: torch.Tensor, state: CubaLIFState, p: CubaLIFParams, constants=None):
    syn = p.alpha * state.syn + p.gain_syn * a
    rule = custom(constants)  # another tool's conventions (lif/rule.py): v stored before reset
    if rule is not None:
        out, v = rule_step(state.v, lambda v: p.beta * v + p.gain * syn + p.leak, p, rule)
        return out, CubaLIFState(syn, v)
    v = p.beta * state.v + p.gain * syn + p.leak
    spikes = arctan_spike(v - p.threshold)
    if p.v_reset is None:
        v = v - spikes * v
    else:
        v = torch.where(spikes > 0, p.v_reset, v)
    return spikes, CubaLIFState(syn, v)


class CubaLIFCell(nn.Module):
    """A CubaLIF layer for training: decays ``alpha``, ``beta`` and ``threshold`` are constants of
    the run, or per neuron with ``heterogeneous`` (as :class:`~..lif.float_step.LIFCell`); legacy
    snntorch ``neuron.*`` buffers are checked and dropped on load."""

    def __init__(
        self,
        n: int,
        alpha: float = 0.8,
        beta: float = 0.9,
        threshold: float = 1.0,
        heterogeneous=None,
    ):
        super().__init__()
        self.n = n
        self.alpha = finite_constant(alpha, "alpha", 0.0, 1.0)
        self.beta = finite_constant(beta, "beta", 0.0, 1.0)
        self.threshold = finite_constant(threshold, "threshold", 0.0)
        self.heterogeneous = heterogeneous is not None
        if heterogeneous is not None:
            values = {
                "alpha": decay_values(heterogeneous, "alpha", self.alpha, n, ALPHA_MAX),
                "beta": decay_values(heterogeneous, "beta", self.beta, n, BETA_MAX),
                "threshold": plain_values(heterogeneous, "threshold", self.threshold, n, 0.0),
            }
            per_neuron(self, values, heterogeneous)

    def legacy_values(self) -> dict[str, float]:
        return {"alpha": self.alpha, "beta": self.beta, "threshold": self.threshold}

    def per_neuron_values(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Heterogeneous ``(alpha, beta, threshold)`` as the step uses them (clipped)."""
        return (
            self.het_alpha.clamp(0.0, ALPHA_MAX),
            self.het_beta.clamp(0.0, BETA_MAX),
            self.het_threshold.clamp(min=0.0),
        )

    def float_params(self) -> CubaLIFParams:
        def t(x: float) -> torch.Tensor:
            return torch.tensor(x, dtype=torch.float32)

        one = t(1.0)
        if self.heterogeneous:
            alpha, beta, thr = self.per_neuron_values()
            return CubaLIFParams(alpha, one, beta, one, t(0.0), thr, None)
        return CubaLIFParams(t(self.alpha), one, t(self.beta), one, t(0.0), t(self.threshold), None)

    def network_params(self) -> CubaLIFParams:
        """The exact per-neuron values (float64) for the network description."""
        n, one, zero = self.n, np.ones(self.n), np.zeros(self.n)
        if self.heterogeneous:
            alpha, beta, thr = (v.detach().cpu().double().numpy() for v in self.per_neuron_values())
            return CubaLIFParams(alpha, one, beta, one.copy(), zero, thr, zero.copy())
        full = np.full
        return CubaLIFParams(
            full(n, self.alpha),
            one,
            full(n, self.beta),
            one.copy(),
            zero,
            full(n, self.threshold),
            zero.copy(),
        )

    def initial_state(self, batch: int, device=None) -> CubaLIFState:
        return initial_state(batch, self.n, device)

    def forward(self, a: torch.Tensor, state: CubaLIFState):
        return step(a, state, prepare(self.float_params()))

    def upgrade_state(self, state_dict: dict, prefix: str) -> None:
        """Run directories of earlier versions hold snntorch's buffers: check and drop them."""
        drop_legacy_keys(state_dict, prefix, self.legacy_values())


ALPHA_MAX = 4095 / 4096
"""Largest heterogeneous current decay: Lava's du = 4095 - round(4096 alpha) stays >= 0."""


def build(n: int, cfg) -> CubaLIFCell:
    spec = parse(getattr(cfg, "heterogeneous", None))
    return CubaLIFCell(n, **cfg.cell_options, heterogeneous=spec)
