"""The host's half of a deployable neuromodulated agent, one record per agent family.

A deployed agent is split (``docs/neuromodulation.md``): its spiking main network (an
:class:`~modspike.studies.nmd.agent.MSRCStack`, the module's ``body``) goes to the chip, and the
rest (the network that computes the modulation, the policy readout, the environment) stays on the
host. :mod:`.deploy` and :mod:`.closed_loop` are written once for every family; an
:class:`AgentFamily` says what differs:

* ``build(kind, **kwargs)``: the host module (untrained), as ``host_agent.json`` names it;
* ``describe(module)``: the family's fields of the artifact's deploy record (``kind`` and
  ``readout_scale`` at least), or a one-line ``ConfigError`` when the module cannot be deployed;
* ``loop(module, deploy)``: a :class:`HostLoop`, the host's part of one closed-loop episode
  (environment, modulation, input of the main network, action).

:data:`NMD_TASK` is the project task's family (``studies/nmd/agent.py``, the moving-target task);
benchmark 1 of the NMD paper adds its own in ``studies/nmd_bench1/deploy.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import nn

from modspike.errors import ConfigError
from modspike.modulation import HeldModulation
from modspike.studies.nmd.agent import MSRCStack, NMDAgent, build_agent
from modspike.studies.nmd.envs import MovingTarget


class HostLoop(Protocol):
    """The host's part of a closed-loop episode with a batch of one.

    Per environment step the loop calls :meth:`modulation` and :meth:`body_input` (both read the
    current observation and the host's history), runs ``body`` (or its deployed twin) for
    ``micro_steps`` network steps, hands the mean last-layer output (times ``readout_scale``) to
    :meth:`act`, then :meth:`step` applies that action to the environment.
    """

    body: MSRCStack  # the float main network: what the ``torch`` backend runs

    def reset(self, seed: int, horizon: int) -> None:
        """Start a new episode (environment seeded with ``seed``) and clear the host's state."""
        ...

    def modulation(self) -> list[HeldModulation] | None:
        """Per layer ``(gain, bias, h_s0)`` (each (1, n)) for this step; ``None``: unmodulated."""
        ...

    def body_input(self) -> torch.Tensor:
        """The main network's float input (1, n_in), held for the ``micro_steps`` steps."""
        ...

    def act(self, y: torch.Tensor) -> torch.Tensor:
        """Greedy action from the main network's scaled mean output ``y`` (1, n)."""
        ...

    def step(self, action: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Apply ``action``; ``(action as recorded (1,), reward (1,))``."""
        ...


@dataclass(frozen=True)
class AgentFamily:
    """What the shared deploy / closed-loop code needs to know about one family of agents."""

    name: str  # recorded in the artifact; a loader of another family refuses it
    build: Callable[..., nn.Module]  # build(kind, **kwargs) -> the host module
    describe: Callable[[nn.Module], dict]
    loop: Callable[[nn.Module, dict], HostLoop]


# --- the project task: NMDAgent on the moving-target task ----------------------------------------


def _describe_nmd_agent(agent: nn.Module) -> dict:
    if not isinstance(agent, NMDAgent) or not agent.spiking:
        raise ConfigError("only agents with an mSRC main network (nmd-msrc, msrc) can be deployed")
    return {
        "kind": agent.kind,
        "obs_dim": agent.obs_dim,
        "n_actions": agent.n_actions,
        "readout_scale": float(agent.readout_scale),
        "modulation": "host" if agent.modulated else None,
    }


class NMDTaskLoop:
    """:class:`HostLoop` of an :class:`NMDAgent`: context GRU on (observation, previous action,
    previous reward), the observation as the network's input, the greedy argmax of the policy."""

    def __init__(self, agent: NMDAgent, deploy: dict):
        self.agent, self.body = agent, agent.body

    def reset(self, seed: int, horizon: int) -> None:
        agent = self.agent
        self.env = MovingTarget(1, horizon, seed=seed)
        self.obs = self.env.reset()
        self.ctx = agent.context.initial_state(1) if agent.context is not None else None
        self.prev_a = torch.full((1,), -1, dtype=torch.long)
        self.prev_r = torch.zeros(1)

    def modulation(self) -> list[HeldModulation] | None:
        z, self.ctx = self.agent.modulation(self.obs, self.prev_a, self.prev_r, self.ctx)
        return self.agent.modulator(z) if z is not None else None

    def body_input(self) -> torch.Tensor:
        return self.obs

    def act(self, y: torch.Tensor) -> torch.Tensor:
        return self.agent.policy(y).argmax(-1)

    def step(self, action: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        self.obs, reward, _ = self.env.step(action)
        self.prev_a, self.prev_r = action, reward
        return action.numpy(), reward.numpy()


NMD_TASK = AgentFamily("nmd-task", build_agent, _describe_nmd_agent, NMDTaskLoop)
"""The project task's agents (``studies/nmd/agent.py``); artifacts without a family are these."""
