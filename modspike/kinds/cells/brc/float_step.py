"""Bistable recurrent cells BRC and nBRC (Vecoven, Ernst & Drion 2021), cells.md section 2.

Non-spiking (graded output ``h``), kept in the family for memory tasks and warm-up experiments.
The synaptic projection feeding a layer has ``3n`` outputs: ``[U_a x, U_c x, U_h x]``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


class BRCParams(NamedTuple):
    wa: torch.Tensor  # BRC: per-neuron feedback (n,); nBRC: a matrix (n, n) in the gate
    wc: torch.Tensor
    ba: torch.Tensor
    bc: torch.Tensor
    bh: torch.Tensor


class BRCState(NamedTuple):
    h: torch.Tensor


def initial_state(batch: int, n: int, device=None, dtype=None) -> BRCState:
    return BRCState(torch.zeros((batch, n), device=device, dtype=dtype))


def brc_step(
    a_in: torch.Tensor,
    h: torch.Tensor,
    wa: torch.Tensor,
    wc: torch.Tensor,
    ba: torch.Tensor,
    bc: torch.Tensor,
    bh: torch.Tensor,
    neuromodulated: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One BRC / nBRC step. ``a_in`` holds ``[U_a x, U_c x, U_h x]`` concatenated on the last axis.

    BRC: ``wa``, ``wc`` are per-neuron vectors (cellular feedback). nBRC: full matrices (hidden x
    hidden) in the gates only. Returns ``(h, h)``: output and state are the same.
    """
    xa, xc, xh = a_in.chunk(3, dim=-1)
    if neuromodulated:
        fa, fc = h @ wa.T, h @ wc.T
    else:
        fa, fc = wa * h, wc * h
    a = 1 + torch.tanh(xa + fa + ba)
    c = torch.sigmoid(xc + fc + bc)
    h_new = c * h + (1 - c) * torch.tanh(xh + a * h + bh)
    return h_new, h_new


def step_brc(a: torch.Tensor, state: BRCState, p: BRCParams, constants=None):
    out, h = brc_step(a, state.h, *p, neuromodulated=False)
    return out, BRCState(h)


def step_nbrc(a: torch.Tensor, state: BRCState, p: BRCParams, constants=None):
    out, h = brc_step(a, state.h, *p, neuromodulated=True)
    return out, BRCState(h)


class BRCCell(nn.Module):
    """A BRC layer (``neuromodulated=False``) or an nBRC layer (``True``)."""

    def __init__(self, n: int, neuromodulated: bool = False):
        super().__init__()
        self.n = n
        self.neuromodulated = neuromodulated
        if neuromodulated:
            self.wa = nn.Parameter(nn.init.xavier_uniform_(torch.empty(n, n)))
            self.wc = nn.Parameter(nn.init.xavier_uniform_(torch.empty(n, n)))
        else:
            self.wa = nn.Parameter(torch.ones(n))
            self.wc = nn.Parameter(torch.ones(n))
        self.ba = nn.Parameter(torch.zeros(n))
        self.bc = nn.Parameter(torch.zeros(n))
        self.bh = nn.Parameter(torch.zeros(n))

    def float_params(self) -> BRCParams:
        return BRCParams(self.wa, self.wc, self.ba, self.bc, self.bh)

    def initial_state(self, batch: int, device=None) -> BRCState:
        return initial_state(batch, self.n, device)

    def forward(self, a_in: torch.Tensor, state: BRCState) -> tuple[torch.Tensor, BRCState]:
        out, h = brc_step(a_in, state.h, *self.float_params(), self.neuromodulated)
        return out, BRCState(h)


def build_brc(n: int, cfg) -> BRCCell:
    return BRCCell(n, neuromodulated=False)


def build_nbrc(n: int, cfg) -> BRCCell:
    return BRCCell(n, neuromodulated=True)


def init_synapse(weight: torch.Tensor) -> None:
    for block in weight.chunk(3, dim=0):
        nn.init.xavier_uniform_(block)
