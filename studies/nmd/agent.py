"""Cellular neuromodulation (NMD net, Vecoven et al. 2020; cells.md section 5) for RL agents.

Two sub-networks run at every environment step:

* a **context network** (host side, non-spiking): a GRU over ``[observation, one-hot previous
  action, previous reward]`` followed by ``ReLU(Linear)``, giving the neuromodulatory signal
  ``z >= 0``;
* a **main network** that sees only the current observation and whose neurons are modulated by
  ``z``. Two main networks are provided:

  - :class:`NMDMLP`, the paper's form (section 5.2): ``pre = (W y) * (1 + W_s z) + b + W_b z`` and a
    saturated-ReLU (``clip(pre, -1, 1)``) per hidden layer;
  - :class:`MSRCStack`, an ordinary stack of mSRC layers (the same ``CellLayer`` / ``MSRCCell`` as
    the supervised networks) whose *per-neuron* modulation is an explicit input each step:
    a gain on the synaptic drive ``a_in <- a_in * (1 + W_s z)``, a bias offset ``b <- b + W_b z``
    and an excitability offset ``h_s0 <- h_s0 + W_h z``. The projection ``z -> (gain, db, dh_s0)``
    lives in :class:`MSRCModulator`, outside the stack, so the stack is exactly what a chip runs
    and the three per-neuron vectors are what it receives through a port.

Agents share one interface (:class:`Agent`): ``step(obs, prev_action, prev_reward, state) ->
(logits, value, state)``. :func:`build_agent` makes the NMD agents, the unmodulated mSRC and MLP
baselines (same main network, no context) and the GRU baseline.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from modspike import registry
from modspike.kinds.cells.msrc.float_step import MSRCCell, MSRCConstants
from modspike.modulation import HeldModulation
from modspike.step import run
from modspike.train.modules import TorchLayer, program_of

AGENT_KINDS = ("nmd-msrc", "msrc", "nmd-mlp", "mlp", "gru")


def _trunc_normal_(t: torch.Tensor, std: float) -> torch.Tensor:
    return nn.init.trunc_normal_(t, std=std, a=-2 * std, b=2 * std)


Modulation = HeldModulation
"""Per-neuron modulation of one mSRC layer, each (B, n), held over an environment step: gain on
the synaptic drive (1 = unmodulated), offsets of the neuron bias ``b`` and of ``h_s0``."""


def context_features(
    obs: torch.Tensor, prev_action: torch.Tensor, prev_reward: torch.Tensor, n_actions: int
) -> torch.Tensor:
    """``[obs, one_hot(prev_action), prev_reward]``; ``prev_action < 0`` (first step) is all-zero."""
    onehot = F.one_hot(prev_action.clamp(min=0), n_actions).to(obs.dtype)
    onehot = onehot * (prev_action >= 0).unsqueeze(-1).to(obs.dtype)
    return torch.cat([obs, onehot, prev_reward.unsqueeze(-1).to(obs.dtype)], -1)


class ContextNet(nn.Module):
    """The neuromodulatory network: GRU(hidden) -> ReLU(Linear) -> z (>= 0)."""

    def __init__(self, n_in: int, hidden: int = 32, z_dim: int = 16):
        super().__init__()
        self.hidden, self.z_dim = hidden, z_dim
        self.gru = nn.GRUCell(n_in, hidden)
        self.fc = nn.Linear(hidden, z_dim)

    def initial_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, self.hidden)

    def forward(self, c: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.gru(c, h)
        return torch.relu(self.fc(h)), h


class AdaptiveLinear(nn.Module):
    """Section 5.2: ``(W y) * (1 + W_s z) + b + W_b z``; without ``z`` a plain ``W y + b``.

    The gain multiplies ``W y`` only, not the bias. Init: truncated normal, std 0.1; ``b = 0``.
    """

    def __init__(self, n_in: int, n_out: int, z_dim: int | None, std: float = 0.1):
        super().__init__()
        self.W = nn.Parameter(_trunc_normal_(torch.empty(n_in, n_out), std))
        self.b = nn.Parameter(torch.zeros(n_out))
        self.Ws = self.Wb = None
        if z_dim:
            self.Ws = nn.Parameter(_trunc_normal_(torch.empty(z_dim, n_out), std))
            self.Wb = nn.Parameter(_trunc_normal_(torch.empty(z_dim, n_out), std))

    def forward(self, y: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        pre = y @ self.W
        if z is not None and self.Ws is not None:
            return pre * (1 + z @ self.Ws) + self.b + z @ self.Wb
        return pre + self.b


class NMDMLP(nn.Module):
    """Non-spiking main network of section 5.2: adaptive saturated-ReLU layers (``clip(-1, 1)``)."""

    def __init__(self, n_in: int, sizes: tuple[int, ...], z_dim: int | None):
        super().__init__()
        dims = (n_in, *sizes)
        self.layers = nn.ModuleList(AdaptiveLinear(a, b, z_dim) for a, b in zip(dims, dims[1:]))
        self.n_out = dims[-1]

    def forward(self, x: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        for layer in self.layers:
            x = torch.clamp(layer(x, z), -1.0, 1.0)
        return x


# --- spiking main network ----------------------------------------------------------------------

AGENT_MSRC_CONSTANTS = MSRCConstants(alpha=0.5)
"""mSRC constants of the agent's layers: the cells.md 4.7 neuron (r = 4, r_s = -7, rho = 10) with a
short input synapse (alpha = 0.5, the BSRC's "exponential synapse") so that the drive follows a new
observation within the few simulation steps of one environment step."""


class MSRCStack(nn.Module):
    """An ordinary stack of mSRC layers (``TorchLayer``); the modulation is an explicit input.

    One environment step = ``micro_steps`` simulation steps with the observation and the modulation
    held constant; the output is the mean graded spike output ``ReLU(h)`` of the last layer over
    those steps (a spike-rate code). States persist across environment steps (the chip runs on).
    It runs the package's one step loop (:func:`modspike.step.run`), so the chip's network and this
    one are the same program.
    """

    def __init__(
        self,
        n_in: int,
        sizes: tuple[int, ...] = (32,),
        micro_steps: int = 3,
        constants: MSRCConstants = AGENT_MSRC_CONSTANTS,
        hs0_init: str | float = 1.0,
        b_range: tuple[float, float] = (-1.0, 1.0),
        in_gain: float = 3.0,
    ):
        super().__init__()
        self.micro_steps = micro_steps
        dims = (n_in, *sizes)
        kind = registry.cell("msrc")
        self.layers = nn.ModuleList(
            TorchLayer(a, kind, MSRCCell(b, constants, hs0_init=hs0_init), recurrent=False)
            for a, b in zip(dims, dims[1:])
        )
        with torch.no_grad():  # a spread of thresholds so that the population codes the input
            for k, layer in enumerate(self.layers):
                layer.cell.b.uniform_(*b_range)
                if k == 0:
                    layer.synapse.weight.mul_(in_gain)
        self.n_in = n_in
        self.sizes = tuple(sizes)
        self.n_out = dims[-1]

    def initial_state(self, batch: int) -> list:
        return program_of(self.layers).initial_state(batch)

    def forward(
        self,
        x: torch.Tensor,
        states: list,
        modulations: list[Modulation] | None = None,
    ) -> tuple[torch.Tensor, list]:
        """Run one environment step; returns ``(mean output of the last layer, states)``."""
        prog = program_of(self.layers, device=x.device)
        inputs = x.unsqueeze(0).expand(self.micro_steps, *x.shape)
        out = run(prog, inputs, states, modulation=modulations, record=False)
        return out.total / self.micro_steps, out.state


class MSRCModulator(nn.Module):
    """``z -> [Modulation]`` per layer: ``gain = 1 + W_s z``, ``db = W_b z``, ``dh_s0 = W_h z``.

    Runs on the host next to the context network (three small matrices per layer). Init std 0.1
    for ``W_s`` and ``W_b`` as in section 5.2, smaller for ``W_h`` (the quadratic term is steep).
    """

    def __init__(self, z_dim: int, sizes: tuple[int, ...], std: float = 0.1, hs0_std: float = 0.02):
        super().__init__()
        self.Ws = nn.ParameterList(_trunc_normal_(torch.empty(z_dim, n), std) for n in sizes)
        self.Wb = nn.ParameterList(_trunc_normal_(torch.empty(z_dim, n), std) for n in sizes)
        self.Wh = nn.ParameterList(_trunc_normal_(torch.empty(z_dim, n), hs0_std) for n in sizes)

    def forward(self, z: torch.Tensor) -> list[Modulation]:
        return [
            Modulation(1 + z @ ws, z @ wb, z @ wh) for ws, wb, wh in zip(self.Ws, self.Wb, self.Wh)
        ]


# --- agents ------------------------------------------------------------------------------------


class Agent(nn.Module):
    """Common interface: ``step(obs, prev_action, prev_reward, state) -> (logits, value, state)``.

    ``prev_action`` is (B,) int64 (``-1`` before the first step), ``prev_reward`` (B,) float.
    """

    kind = "agent"

    def __init__(self, obs_dim: int, n_actions: int):
        super().__init__()
        self.obs_dim, self.n_actions = obs_dim, n_actions

    def initial_state(self, batch: int) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def step(self, obs, prev_action, prev_reward, state):  # pragma: no cover - interface
        raise NotImplementedError


class NMDAgent(Agent):
    """Context network (optional) + modulated main network + policy / value heads.

    ``body='msrc'``: mSRC stack; the policy head is a plain linear readout of the spike rates
    (times ``readout_scale``, the SRC's ``readout_input_factor``), so the deployed policy is spiking
    layers + readout. ``body='mlp'``: section 5.2 throughout, both heads modulated.
    ``modulated=False`` drops the context network: the same main network sees the observation
    only (the unmodulated baseline). The critic is used in training only: ``critic='context'``
    reads ``[GRU state, main-network output]`` (host side); ``'modulated'`` is the section 5.2
    head ``AdaptiveLinear(output, z)``.
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        body: str = "msrc",
        modulated: bool = True,
        sizes: tuple[int, ...] = (32,),
        context_hidden: int = 32,
        z_dim: int = 16,
        micro_steps: int = 3,
        hs0_init: str | float = 1.0,
        b_range: tuple[float, float] = (-1.0, 1.0),
        in_gain: float = 3.0,
        readout_scale: float = 1.0,
        critic: str = "modulated",
    ):
        super().__init__(obs_dim, n_actions)
        self.body_kind, self.modulated = body, modulated
        self.kind = ("nmd-" if modulated else "") + body
        zd = z_dim if modulated else None
        self.context = (
            ContextNet(obs_dim + n_actions + 1, context_hidden, z_dim) if modulated else None
        )
        self.readout_scale = 1.0
        if body not in BODIES:
            raise ValueError(f"unknown body {body!r}; use {' or '.join(map(repr, BODIES))}")
        spiking = BODIES[body]
        if spiking:
            self.body = MSRCStack(
                obs_dim,
                tuple(sizes),
                micro_steps,
                hs0_init=hs0_init,
                b_range=b_range,
                in_gain=in_gain,
            )
            self.modulator = MSRCModulator(z_dim, tuple(sizes)) if modulated else None
            self.policy = nn.Linear(self.body.n_out, n_actions)
            nn.init.zeros_(self.policy.bias)
            self.readout_scale = readout_scale
        else:
            self.body = NMDMLP(obs_dim, tuple(sizes), zd)
            self.modulator = None
            self.policy = AdaptiveLinear(self.body.n_out, n_actions, zd)
        self.critic_kind = critic if modulated else "modulated"
        if self.critic_kind == "context":
            self.value = nn.Linear(context_hidden + self.body.n_out, 1)
        elif self.critic_kind == "modulated":
            self.value = AdaptiveLinear(self.body.n_out, 1, zd)
        else:
            raise ValueError(f"unknown critic {critic!r}; use 'context' or 'modulated'")

    @property
    def spiking(self) -> bool:
        """Whether the main network is the spiking mSRC stack (the part a chip runs)."""
        return isinstance(self.body, MSRCStack)

    def initial_state(self, batch: int) -> tuple:
        ctx = self.context.initial_state(batch) if self.context is not None else None
        body = self.body.initial_state(batch) if self.spiking else None
        return ctx, body

    def modulation(
        self, obs: torch.Tensor, prev_action: torch.Tensor, prev_reward: torch.Tensor, ctx_state
    ) -> tuple[torch.Tensor | None, Any]:
        """The host-side part: context features -> GRU -> z (``None`` when unmodulated)."""
        if self.context is None:
            return None, ctx_state
        c = context_features(obs, prev_action, prev_reward, self.n_actions)
        return self.context(c, ctx_state)

    def step(self, obs, prev_action, prev_reward, state):
        ctx_state, body_state = state
        z, ctx_state = self.modulation(obs, prev_action, prev_reward, ctx_state)
        if self.spiking:
            mods = self.modulator(z) if z is not None else None
            y, body_state = self.body(obs, body_state, mods)
            y = y * self.readout_scale
            logits = self.policy(y)
        else:
            y = self.body(obs, z)
            logits = self.policy(y, z)
        if self.critic_kind == "context":
            value = self.value(torch.cat([ctx_state, y], -1))
        else:
            value = self.value(y, z)
        return logits, value.squeeze(-1), (ctx_state, body_state)


class GRUAgent(Agent):
    """The recurrent baseline: one GRU over the same context as the NMD network, linear heads."""

    kind = "gru"

    def __init__(self, obs_dim: int, n_actions: int, hidden: int = 32):
        super().__init__(obs_dim, n_actions)
        self.hidden = hidden
        self.gru = nn.GRUCell(obs_dim + n_actions + 1, hidden)
        self.policy = nn.Linear(hidden, n_actions)
        self.value = nn.Linear(hidden, 1)

    def initial_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, self.hidden)

    def step(self, obs, prev_action, prev_reward, state):
        h = self.gru(context_features(obs, prev_action, prev_reward, self.n_actions), state)
        return self.policy(h), self.value(h).squeeze(-1), h


BODIES = {"msrc": True, "mlp": False}
"""Main-network families of :class:`NMDAgent`: whether each is spiking."""

AGENTS: dict[str, tuple[type, dict]] = {
    "nmd-msrc": (NMDAgent, {"body": "msrc", "modulated": True}),
    "msrc": (NMDAgent, {"body": "msrc", "modulated": False}),
    "nmd-mlp": (NMDAgent, {"body": "mlp", "modulated": True}),
    "mlp": (NMDAgent, {"body": "mlp", "modulated": False}),
    "gru": (GRUAgent, {}),
}


def build_agent(kind: str, obs_dim: int = 1, n_actions: int = 5, **kwargs: Any) -> Agent:
    """``kind`` in :data:`AGENT_KINDS`; ``kwargs`` go to the agent's constructor."""
    if kind not in AGENTS:
        raise ValueError(f"unknown agent {kind!r}; choose one of {', '.join(AGENT_KINDS)}")
    cls, fixed = AGENTS[kind]
    return cls(obs_dim, n_actions, **fixed, **kwargs)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = [
    "AGENT_KINDS",
    "AdaptiveLinear",
    "Agent",
    "ContextNet",
    "GRUAgent",
    "MSRCModulator",
    "MSRCStack",
    "Modulation",
    "NMDAgent",
    "NMDMLP",
    "build_agent",
    "context_features",
    "count_parameters",
]
