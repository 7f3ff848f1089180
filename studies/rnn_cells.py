"""GRU and LSTM layers as cell kinds of the study, for the warm-up study and the copy-first-input
baselines (fidelity.md 4).

A GRU or LSTM layer is a :class:`~modspike.train.modules.TorchLayer` of a float-only
:class:`~modspike.kinds.types.CellKind` defined here: the layer's synapse is the input projection
``[W_ir x, W_iz x, W_in x] + b_i`` (GRU) or ``[W_ii x, W_if x, W_ig x, W_io x] + b_i`` (LSTM),
and the cell holds the recurrent matrix ``W_h`` and bias ``b_h`` of the gates. So the package's
one step loop (:func:`modspike.step.run`) runs them, and :func:`modspike.studies.warmup.warmup_`
and ``measure_vaa`` work on them unchanged: the kind's ``attractor`` says what VAA compares
(``h``, or ``[h, c]`` for an LSTM). The step is ``torch.nn.GRU`` / ``torch.nn.LSTM``'s (tested
against them).

The kinds are **not registered**: they have no fixed-point model, NIR mapping or memory figures, so
no other stage could take them; they exist for the studies' baselines only.

Initialisation follows the warm-up repository
(``glambrechts/warmup@8d9a33b:models_pytorch/cells.py:37-115``): GRU input weights
Xavier-uniform per gate, recurrent weights orthogonal per gate, biases 0; LSTM torch's default
(every weight and bias ``U(-1/sqrt(n), 1/sqrt(n))``).

Partial warm-up (``--double`` in the warm-up code, ``cells.py:6-31``): the layer is two
half-width cells side by side and only the first one is warmed up. Here that is one layer whose
recurrent matrix is block-diagonal (each half sees only its own state; both see the whole input),
and whose kind's ``attractor`` is the first half's state only: the second half gets no gradient
from the warm-up loss.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from modspike.kinds.types import CellKind, FloatArith, Output
from modspike.train.modules import TorchLayer


class RNNParams(NamedTuple):
    wh: torch.Tensor  # recurrent matrix of the gates (g n, n)
    bh: torch.Tensor  # recurrent bias of the gates (g n,)


class GRUState(NamedTuple):
    h: torch.Tensor


class LSTMState(NamedTuple):
    h: torch.Tensor
    c: torch.Tensor


def gru_initial_state(batch: int, n: int, device=None, dtype=None) -> GRUState:
    return GRUState(torch.zeros((batch, n), device=device, dtype=dtype))


def lstm_initial_state(batch: int, n: int, device=None, dtype=None) -> LSTMState:
    z = torch.zeros((batch, n), device=device, dtype=dtype)
    return LSTMState(z, z.clone())


def gru_step(a: torch.Tensor, state: GRUState, p: RNNParams, constants=None):
    """``torch.nn.GRU``'s step; ``a`` holds ``[W_ir x, W_iz x, W_in x] + b_i``."""
    xr, xz, xn = a.chunk(3, -1)
    hr, hz, hn = (state.h @ p.wh.T + p.bh).chunk(3, -1)
    r = torch.sigmoid(xr + hr)
    z = torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    h = (1 - z) * n + z * state.h
    return h, GRUState(h)


def lstm_step(a: torch.Tensor, state: LSTMState, p: RNNParams, constants=None):
    """``torch.nn.LSTM``'s step; ``a`` holds ``[W_ii x, W_if x, W_ig x, W_io x] + b_i``."""
    pre = a + state.h @ p.wh.T + p.bh
    i, f, g, o = pre.chunk(4, -1)
    c = torch.sigmoid(f) * state.c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, LSTMState(h, c)


def _gru_attractor(state: GRUState) -> torch.Tensor:
    return state.h


def _lstm_attractor(state: LSTMState) -> torch.Tensor:
    return torch.cat([state.h, state.c], -1)


def _first_half(attractor):
    def first_half(state) -> torch.Tensor:
        return attractor(type(state)(*(v[..., : v.shape[-1] // 2] for v in state)))

    return first_half


def _gru_init_synapse(weight: torch.Tensor) -> None:
    for block in weight.chunk(3, 0):
        nn.init.xavier_uniform_(block)


def _lstm_init_synapse(weight: torch.Tensor) -> None:
    bound = 1 / math.sqrt(weight.shape[0] // 4)
    nn.init.uniform_(weight, -bound, bound)


class RNNCell(nn.Module):
    """The recurrent half of a GRU (``gates=3``) or LSTM (``gates=4``) layer of ``n`` units:
    ``W_h`` (gates n, n) and ``b_h``; ``halves``: ``W_h`` is kept block-diagonal (two cells)."""

    def __init__(self, n: int, gates: int, halves: bool = False):
        super().__init__()
        if halves and n % 2:
            raise ValueError(f"partial warm-up needs an even layer width, not {n}")
        self.n, self.gates, self.halves = n, gates, halves
        self.wh = nn.Parameter(torch.empty(gates * n, n))
        self.bh = nn.Parameter(torch.empty(gates * n))
        mask = torch.ones(gates * n, n)
        if halves:
            m = n // 2
            block = torch.block_diag(torch.ones(m, m), torch.ones(m, m))
            mask = block.repeat(gates, 1)
        self.register_buffer("mask", mask)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            if self.gates == 3:  # GRU: orthogonal per gate (per half), bias 0
                width = self.n // 2 if self.halves else self.n
                self.wh.zero_()
                for g in range(3):
                    for start in range(0, self.n, width):
                        rows = slice(g * self.n + start, g * self.n + start + width)
                        nn.init.orthogonal_(self.wh[rows, start : start + width])
                self.bh.zero_()
            else:  # LSTM: torch's default, as the warm-up code (bound from one cell's width)
                width = self.n // 2 if self.halves else self.n
                bound = 1 / math.sqrt(width)
                nn.init.uniform_(self.wh, -bound, bound)
                nn.init.uniform_(self.bh, -bound, bound)
            self.wh.mul_(self.mask)

    def float_params(self) -> RNNParams:
        return RNNParams(self.wh * self.mask, self.bh)


def _kind(name: str, gates: int, halves: bool) -> CellKind:
    gru = gates == 3
    attractor = _gru_attractor if gru else _lstm_attractor
    return CellKind(
        name=name,
        output=Output.GRADED,
        float_params=RNNParams,
        floating=FloatArith(
            initial_state=gru_initial_state if gru else lstm_initial_state,
            step=gru_step if gru else lstm_step,
            init_synapse=_gru_init_synapse if gru else _lstm_init_synapse,
        ),
        synapse_bias=True,
        in_multiplicity=gates,
        attractor=_first_half(attractor) if halves else attractor,
        description=f"{'GRU' if gru else 'LSTM'} layer{' (two halves)' if halves else ''}, "
        "float only (studies' baseline)",
    )


RNN_TYPES: dict[str, int] = {"gru": 3, "lstm": 4}
"""The recurrent baselines and their number of gates."""

GRU = _kind("gru", 3, False)
LSTM = _kind("lstm", 4, False)
GRU_HALVES = _kind("gru-halves", 3, True)
LSTM_HALVES = _kind("lstm-halves", 4, True)
_RECORDS = {("gru", False): GRU, ("lstm", False): LSTM}
_RECORDS |= {("gru", True): GRU_HALVES, ("lstm", True): LSTM_HALVES}


def rnn_layer(cell: str, n_in: int, n: int, halves: bool = False) -> TorchLayer:
    """A GRU (``cell="gru"``) or LSTM layer of ``n`` units as a ``TorchLayer`` of the step loop;
    ``halves``: two half-width cells side by side (partial warm-up)."""
    if cell not in RNN_TYPES:
        raise ValueError(f"unknown recurrent cell {cell!r}; use one of {', '.join(RNN_TYPES)}")
    gates = RNN_TYPES[cell]
    layer = TorchLayer(n_in, _RECORDS[cell, halves], RNNCell(n, gates, halves), recurrent=False)
    with torch.no_grad():
        if gates == 3:
            layer.synapse.bias.zero_()
        else:
            bound = 1 / math.sqrt(n // 2 if halves else n)
            layer.synapse.bias.uniform_(-bound, bound)
            layer.synapse.weight.uniform_(-bound, bound)
    return layer
