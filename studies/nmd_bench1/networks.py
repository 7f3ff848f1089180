"""The authors' benchmark-1 networks (fidelity.md 2.2), one *copy* each for the actor and the critic.

Source: ``nvecoven/nmd_net@af43e17`` ``ReinforcementLearning/Training/meta_rl_launcher.py:108-181``
and the layers of ``Models/NetworkCreation/Layers``. Initialisation everywhere: truncated normal
(std 0.1, cut at 2 std), biases 0.

* :class:`NMDCopy`, the NMD net: the neuromodulatory network GRU(50) -> ReLU(20) = ``z`` reads
  ``[a_{t-1}, r_{t-1}, p_{t-1}]`` (``p_{t-1}`` from a memory layer, 0 at t = 0); the main network
  reads ``p_t`` through one adaptive saturated layer of 10 units
  ``clip((W p)(1 + W_s z) + b + W_b z, -1, 1)`` and ``heads`` adaptive linear heads of size 1 with
  the same modulation. ``z_lag`` (the authors' layer order, default): the hidden layer sees
  ``z_{t-1}``, the heads ``z_t``.
* :class:`RNNCopy`, the baseline: GRU(50) over the full observation ``[p_t, a_{t-1}, r_{t-1}]``
  -> ReLU(20) -> ReLU(10) -> linear heads.

Every copy has the same interface, used by :mod:`.ppo`: ``initial_state(B)``;
``sequence(obs (T, B, 3), state) -> (heads (T, B, k), trace)``; ``state_at(trace, obs, t)`` (the
state after step ``t``, detached, as the authors carry it into the next TBPTT window); ``step``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from modspike.studies.nmd.agent import AdaptiveLinear

INIT_STD = 0.1


def trunc_normal_(t: torch.Tensor, std: float = INIT_STD) -> torch.Tensor:
    """TF's ``truncated_normal``: normal(0, std) redrawn beyond 2 std."""
    return nn.init.trunc_normal_(t, std=std, a=-2 * std, b=2 * std)


def dense(n_in: int, n_out: int) -> nn.Linear:
    """``x W + b`` with the authors' init (``W`` truncated normal, ``b = 0``)."""
    layer = nn.Linear(n_in, n_out)
    trunc_normal_(layer.weight.data)
    nn.init.zeros_(layer.bias)
    return layer


class AuthorsGRU(nn.Module):
    """``GruLayer.py``: one bias per gate, none on the candidate (not ``torch.nn.GRUCell``).

    ``z = s(x U_z + h W_z + b_z)``, ``r = s(x U_r + h W_r + b_r)``,
    ``c = tanh(x U_h + r * (h W_h))``, ``h' = (1 - z) c + z h``. Parameters: ``3 n (n_in + n) + 2 n``.
    """

    def __init__(self, n_in: int, n: int):
        super().__init__()
        self.n_in, self.n = n_in, n
        self.U = nn.Parameter(trunc_normal_(torch.empty(n_in, 3 * n)))  # columns [z | r | h]
        self.W = nn.Parameter(trunc_normal_(torch.empty(n, 3 * n)))
        self.b = nn.Parameter(torch.zeros(2 * n))  # [b_z | b_r]

    def sequence(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """``x`` (T, B, n_in), ``h`` (B, n) -> all states (T, B, n)."""
        n = self.n
        bz, br = self.b.split(n)
        outs = []
        # one projection for the whole window, unbound (not sliced: slicing in the loop makes
        # the backward pass quadratic in T, fidelity.md 4)
        for xt in (x @ self.U).unbind(0):
            xz, xr, xh = xt.split(n, -1)
            hz, hr, hh = (h @ self.W).split(n, -1)
            z = torch.sigmoid(xz + hz + bz)
            r = torch.sigmoid(xr + hr + br)
            h = (1 - z) * torch.tanh(xh + r * hh) + z * h
            outs.append(h)
        return torch.stack(outs)


def nmn_sequence(
    gru: AuthorsGRU, relu: nn.Linear, obs: torch.Tensor, h0: torch.Tensor, p0: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The neuromodulatory network GRU -> ReLU over a window ``obs`` (T, B, 3) from GRU state
    ``h0`` and previous position ``p0`` (B, 1): ``(H (T, B, n), z (T, B, z_dim))``. Its input at
    step t is ``[a_{t-1}, r_{t-1}, p_{t-1}]`` (the authors' memory layer supplies ``p_{t-1}``)."""
    p_prev = torch.cat([p0.unsqueeze(0), obs[:-1, :, :1]], 0)
    hs = gru.sequence(torch.cat([obs[..., 1:3], p_prev], -1), h0)
    return hs, torch.relu(relu(hs))


class _Copy(nn.Module):
    """Shared helpers of the actor / critic copies."""

    n_heads: int

    def step(self, obs: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """One environment step: ``obs`` (B, 3) -> ``(heads (B, k), state)``."""
        out, trace = self.sequence(obs.unsqueeze(0), state)
        return out[0], self.state_at(trace, obs.unsqueeze(0), 0)


class NMDCopy(_Copy):
    """The NMD net of benchmark 1 (one copy: actor with 2 heads, or critic with 1)."""

    def __init__(
        self,
        n_heads: int,
        nmn_hidden: int = 50,
        z_dim: int = 20,
        main_hidden: int = 10,
        z_lag: bool = True,
    ):
        super().__init__()
        self.n_heads, self.z_lag = n_heads, z_lag
        self.gru = AuthorsGRU(3, nmn_hidden)
        self.relu = dense(nmn_hidden, z_dim)
        self.hidden = AdaptiveLinear(1, main_hidden, z_dim)
        self.heads = nn.ModuleList(AdaptiveLinear(main_hidden, 1, z_dim) for _ in range(n_heads))
        self.z_dim = z_dim

    def initial_state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(GRU state, z of the previous step, p of the previous step)``, all zero."""
        return (
            torch.zeros(batch, self.gru.n),
            torch.zeros(batch, self.z_dim),
            torch.zeros(batch, 1),
        )

    def context(self, obs: torch.Tensor, state) -> tuple[torch.Tensor, torch.Tensor]:
        """The neuromodulatory network over a window: ``(H (T, B, 50), z (T, B, 20))``."""
        return nmn_sequence(self.gru, self.relu, obs, state[0], state[2])

    def sequence(self, obs: torch.Tensor, state) -> tuple[torch.Tensor, tuple]:
        hs, z = self.context(obs, state)
        z_hidden = torch.cat([state[1].unsqueeze(0), z[:-1]], 0) if self.z_lag else z
        y = torch.clamp(self.hidden(obs[..., :1], z_hidden), -1.0, 1.0)
        out = torch.cat([head(y, z) for head in self.heads], -1)
        return out, (hs, z)

    def state_at(self, trace, obs: torch.Tensor, t: int) -> tuple:
        hs, z = trace
        return hs[t].detach(), z[t].detach(), obs[t, :, :1].detach()


class RNNCopy(_Copy):
    """The recurrent baseline: GRU(50) -> ReLU(20) -> ReLU(10) -> linear heads."""

    def __init__(self, n_heads: int, gru_hidden: int = 50, sizes: tuple[int, ...] = (20, 10)):
        super().__init__()
        self.n_heads = n_heads
        self.gru = AuthorsGRU(3, gru_hidden)
        dims = (gru_hidden, *sizes)
        self.mlp = nn.ModuleList(dense(a, b) for a, b in zip(dims, dims[1:]))
        self.heads = nn.ModuleList(dense(dims[-1], 1) for _ in range(n_heads))

    def initial_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, self.gru.n)

    def sequence(self, obs: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hs = self.gru.sequence(obs, state)
        y = hs
        for layer in self.mlp:
            y = torch.relu(layer(y))
        return torch.cat([head(y) for head in self.heads], -1), hs

    def state_at(self, trace, obs: torch.Tensor, t: int) -> torch.Tensor:
        return trace[t].detach()


def map_states(fn, *states):
    """Apply ``fn`` leaf-wise over nested states (tensors, tuples, lists, NamedTuples)."""
    first = states[0]
    if isinstance(first, torch.Tensor):
        return fn(*states)
    items = [map_states(fn, *parts) for parts in zip(*states)]
    return type(first)(*items) if hasattr(first, "_fields") else type(first)(items)


def stack_states(states: list) -> Any:
    """Concatenate per-window states along the batch axis (tensors or nested tuples of them)."""
    return map_states(lambda *xs: torch.cat(xs, 0), *states)


def build_copies(
    arch: str, z_lag: bool = True, gru_hidden: int = 50
) -> tuple[nn.Module, nn.Module]:
    """``(actor, critic)`` for ``arch`` in ``("nmd", "rnn")``: separate, complete copies."""
    if arch == "nmd":
        return NMDCopy(2, z_lag=z_lag), NMDCopy(1, z_lag=z_lag)
    if arch == "rnn":
        return RNNCopy(2, gru_hidden), RNNCopy(1, gru_hidden)
    raise ValueError(f"unknown architecture {arch!r}; use 'nmd' or 'rnn'")


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
