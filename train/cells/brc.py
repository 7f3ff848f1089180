"""Bistable recurrent cells BRC and nBRC (Vecoven, Ernst & Drion 2021), cells.md section 2.

Non-spiking (graded output ``h``), kept in the family for memory tasks and warm-up experiments.
"""

from __future__ import annotations

import torch
from torch import nn


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


class BRCCell(nn.Module):
    """A BRC layer (``neuromodulated=False``) or an nBRC layer (``True``)."""

    spiking = False
    in_multiplicity = 3  # the synaptic projection gives U_a x, U_c x and U_h x

    def __init__(self, n: int, neuromodulated: bool = False):
        super().__init__()
        self.n = n
        self.neuromodulated = neuromodulated
        self.kind = "nbrc" if neuromodulated else "brc"
        if neuromodulated:
            self.wa = nn.Parameter(nn.init.xavier_uniform_(torch.empty(n, n)))
            self.wc = nn.Parameter(nn.init.xavier_uniform_(torch.empty(n, n)))
        else:
            self.wa = nn.Parameter(torch.ones(n))
            self.wc = nn.Parameter(torch.ones(n))
        self.ba = nn.Parameter(torch.zeros(n))
        self.bc = nn.Parameter(torch.zeros(n))
        self.bh = nn.Parameter(torch.zeros(n))

    def initial_state(self, batch: int, device=None) -> torch.Tensor:
        return torch.zeros(batch, self.n, device=device)

    def forward(self, a_in: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return brc_step(a_in, h, self.wa, self.wc, self.ba, self.bc, self.bh, self.neuromodulated)

    def init_synapse_(self, weight: torch.Tensor) -> None:
        for block in weight.chunk(3, dim=0):
            nn.init.xavier_uniform_(block)
