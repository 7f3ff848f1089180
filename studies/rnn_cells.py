"""GRU and LSTM layers with the step interface of ``CellLayer``, for the warm-up study and the
copy-first-input baselines (fidelity.md 4).

A :class:`RNNLayer` steps like a ``CellLayer`` (``layer(x, state) -> (out, (out, cell_state))``,
``initial_state(batch)``) so that :func:`modspike.studies.warmup.warmup_` and ``measure_vaa`` run on
it unchanged, and also runs a whole sequence at once (:meth:`RNNLayer.sequence`, the fused
``torch.nn.GRU`` / ``torch.nn.LSTM``) for training. Initialisation follows the warm-up repository
(``glambrechts/warmup@8d9a33b:models_pytorch/cells.py:37-115``): GRU input weights Xavier-uniform per
gate, recurrent weights orthogonal per gate, biases 0; LSTM torch's default.

Partial warm-up (``--double`` in the warm-up code, ``cells.py:6-31``): the layer is two half-width
cells side by side, and only the first one is warmed up (:class:`HalvesCell`).
"""

from __future__ import annotations

import torch
from torch import nn

RNN_KINDS = ("gru", "lstm")


def _init_gru_(gru: nn.GRU) -> None:
    for name, param in gru.named_parameters():
        with torch.no_grad():
            if "weight_ih" in name:
                for block in param.chunk(3, 0):
                    nn.init.xavier_uniform_(block)
            elif "weight_hh" in name:
                for block in param.chunk(3, 0):
                    nn.init.orthogonal_(block)
            else:
                param.zero_()


class TorchRNNCell(nn.Module):
    """One GRU or LSTM layer of ``n`` units. Cell state: ``h`` (GRU) or ``(h, c)`` (LSTM)."""

    spiking = False

    def __init__(self, kind: str, n_in: int, n: int):
        super().__init__()
        if kind not in RNN_KINDS:
            raise ValueError(f"unknown recurrent cell {kind!r}; use 'gru' or 'lstm'")
        self.kind, self.n, self.input_size = kind, n, n_in
        if kind == "gru":
            self.rnn = nn.GRU(n_in, n)
            _init_gru_(self.rnn)
        else:
            self.rnn = nn.LSTM(n_in, n)

    def initial_state(self, batch: int, device=None):
        h = torch.zeros(batch, self.n, device=device)
        return h if self.kind == "gru" else (h, h.clone())

    def sequence(self, x: torch.Tensor, state) -> tuple[torch.Tensor, object]:
        """``x`` (T, B, n_in) -> ``(outputs (T, B, n), final cell state)``."""
        if self.kind == "gru":
            out, h = self.rnn(x, state.unsqueeze(0))
            return out, h[0]
        out, (h, c) = self.rnn(x, (state[0].unsqueeze(0), state[1].unsqueeze(0)))
        return out, (h[0], c[0])

    def state_vector(self, state) -> torch.Tensor:
        """What VAA compares: ``h``, or ``[h, c]`` for an LSTM (fidelity.md 4)."""
        return state if self.kind == "gru" else torch.cat(state, -1)


class HalvesCell(nn.Module):
    """Two cells of ``n / 2`` units side by side; only the first is seen by the warm-up loss."""

    spiking = False

    def __init__(self, kind: str, n_in: int, n: int):
        super().__init__()
        if n % 2:
            raise ValueError(f"partial warm-up needs an even layer width, not {n}")
        self.kind, self.n, self.input_size = kind, n, n_in
        self.first = TorchRNNCell(kind, n_in, n // 2)
        self.second = TorchRNNCell(kind, n_in, n // 2)

    def initial_state(self, batch: int, device=None):
        return self.first.initial_state(batch, device), self.second.initial_state(batch, device)

    def sequence(self, x: torch.Tensor, state) -> tuple[torch.Tensor, object]:
        o1, s1 = self.first.sequence(x, state[0])
        o2, s2 = self.second.sequence(x, state[1])
        return torch.cat([o1, o2], -1), (s1, s2)

    def state_vector(self, state) -> torch.Tensor:
        return torch.cat(
            [self.first.state_vector(state[0]), self.second.state_vector(state[1])], -1
        )

    def warmup_state_vector(self, state) -> torch.Tensor:
        return self.first.state_vector(state[0])


class RNNLayer(nn.Module):
    """A GRU / LSTM layer (or its two-halves form) with ``CellLayer``'s step interface."""

    def __init__(self, kind: str, n_in: int, n: int, halves: bool = False):
        super().__init__()
        self.cell = HalvesCell(kind, n_in, n) if halves else TorchRNNCell(kind, n_in, n)
        self.input_size, self.n = n_in, n

    def initial_state(self, batch: int, device=None):
        return torch.zeros(batch, self.n, device=device), self.cell.initial_state(batch, device)

    def forward(self, x: torch.Tensor, state):
        out, cell_state = self.cell.sequence(x.unsqueeze(0), state[1])
        return out[0], (out[0], cell_state)

    def sequence(self, x: torch.Tensor, state):
        """``x`` (T, B, n_in) -> ``(outputs (T, B, n), state after the last step)``."""
        out, cell_state = self.cell.sequence(x, state[1])
        return out, (out[-1], cell_state)
