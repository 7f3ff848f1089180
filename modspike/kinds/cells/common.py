"""Pieces of arithmetic shared by the SRC-family step functions (float precision)."""

from __future__ import annotations

import torch


def input_synapse(
    i: torch.Tensor, a_in: torch.Tensor, alpha: float, rho: float | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Leaky input integrator and optional squash: ``i = alpha*i + a_in``, ``x = rho*tanh(i/rho)``.

    ``a_in`` is the synaptic current already weighted by the layer's synapses (``W @ s_in``);
    ``rho=None`` feeds ``i`` straight into the fast equation (the drive enters directly).
    Returns ``(i, x)``.
    """
    i = alpha * i + a_in
    x = i if rho is None else rho * torch.tanh(i / rho)
    return i, x


def slow_gate(
    h: torch.Tensor, zs_hyp: float, zs_dep: float, slope: float = 10.0, mid: float = 0.5
) -> torch.Tensor:
    """Voltage-dependent update gate of the slow state (cells.md section 3.2, eq. 3).

    ``z_s = zs_hyp - (zs_hyp - zs_dep) * sigmoid(slope * (h - mid))``: slow recovery while
    hyperpolarised, immediate tracking while depolarised.
    """
    return zs_hyp - (zs_hyp - zs_dep) * torch.sigmoid(slope * (h - mid))


def leaky_track(
    state: torch.Tensor, target: torch.Tensor, gate: torch.Tensor | float
) -> torch.Tensor:
    """First-order tracking ``gate*state + (1-gate)*target`` (slow and ultraslow states)."""
    return gate * state + (1 - gate) * target


def clamp_max(value: torch.Tensor, bound: float | None) -> torch.Tensor:
    """``min(value, bound)``, or ``value`` unchanged when ``bound`` is None."""
    return value if bound is None else torch.clamp(value, max=bound)
