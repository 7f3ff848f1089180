"""Deployment of the benchmark-1 spiking actor (:class:`~.spiking.SpikingNMDCopy`, fidelity.md 3).

The actor's mSRC body goes to the chip; the neuromodulatory network (GRU(50) -> ReLU(20) = ``z``),
the modulator ``z -> (gain, bias, h_s0)`` per neuron and the heads stay on the host. The shared
code of the project task exports, loads and runs it (``studies/nmd/deploy.py``,
``studies/nmd/closed_loop.py``); this module only supplies the family record (:data:`BENCH1`):

* host state: the GRU state and the previous position ``p_{t-1}`` (as ``SpikingNMDCopy.step``);
  each step ``z_t`` comes from ``[a_{t-1}, r_{t-1}, p_{t-1}]`` (:func:`~.networks.nmn_sequence`);
* the main network's input: ``p_t / 5`` (one graded input), held for ``micro_steps`` steps;
* action: the greedy ``mu`` head (the mean action of ``PPOKL.rollout(mode="mean")``); the
  environment applies ``clip(5 mu, -20, 20)``, which is what the closed loop records.

Deployable: the rate readout (mean ``ReLU(h)``: the layer's output) with states kept across
environment steps (the chip default). The membrane readout (reads ``h``, not the output) and a
state reset per environment step are refused with one-line errors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from modspike.errors import ConfigError
from modspike.modulation import HeldModulation
from modspike.network import Network
from modspike.studies.nmd.closed_loop import run_closed_loop
from modspike.studies.nmd.deploy import export_agent, load_agent_artifact
from modspike.studies.nmd.host import AgentFamily

from .env import MovingTargetB1, applied_action
from .networks import nmn_sequence
from .spiking import SpikingNMDCopy

AGENT_KIND = "nmd-msrc"  # the benchmark's name for the spiking agent (benchmarks/nmd_benchmark1.py)


def build_actor(kind: str, **options) -> SpikingNMDCopy:
    """The host module of ``host_agent.json``: a :class:`SpikingNMDCopy` with ``options``."""
    if kind != AGENT_KIND:
        raise ValueError(
            f"unknown benchmark-1 agent {kind!r}; the deployable one is {AGENT_KIND!r}"
        )
    return SpikingNMDCopy(**options)


def describe_actor(actor: nn.Module) -> dict:
    """The deploy record's fields, or a one-line ``ConfigError`` for an undeployable actor."""
    if not isinstance(actor, SpikingNMDCopy):
        raise ConfigError(
            f"benchmark-1 deployment takes a SpikingNMDCopy, not {type(actor).__name__}"
        )
    o = actor.options
    if o.readout != "rate":
        raise ConfigError(
            f"readout {o.readout!r} cannot be deployed: the chip sends the layer's output "
            "(readout 'rate'), not the membrane h"
        )
    if o.reset_each_step:
        raise ConfigError(
            "reset_each_step=True cannot be deployed: the deployed network keeps its states "
            "across environment steps"
        )
    return {
        "kind": AGENT_KIND,
        "n_in": actor.body.n_in,
        "n_out": actor.body.n_out,
        "readout_scale": 1.0,  # the heads read the mean output as it is
        "modulation": "host",
        "action": "clip(5 mu, -20, 20)",
    }


class Bench1Loop:
    """:class:`~modspike.studies.nmd.host.HostLoop` of the benchmark-1 actor on
    :class:`~.env.MovingTargetB1` (an episode drawn from ``numpy.random.default_rng(seed)``, as
    ``PPOKL.rollout`` draws a batch)."""

    def __init__(self, actor: SpikingNMDCopy, deploy: dict):
        self.actor, self.body = actor, actor.body

    def reset(self, seed: int, horizon: int) -> None:
        self.env = MovingTargetB1(1, horizon, np.random.default_rng(seed))
        self.obs = torch.from_numpy(self.env.reset())
        self.h, _, self.p_prev, _ = self.actor.initial_state(1)

    def modulation(self) -> list[HeldModulation]:
        a = self.actor
        hs, z = nmn_sequence(a.gru, a.relu, self.obs.unsqueeze(0), self.h, self.p_prev)
        self.h, self.z, self.p_prev = hs[0], z[0], self.obs[:, :1]
        return a.modulator(self.z)

    def body_input(self) -> torch.Tensor:
        return self.obs[:, :1] / 5.0

    def act(self, y: torch.Tensor) -> torch.Tensor:
        return self.actor.read_heads(y, self.z)[:, 0]  # mu

    def step(self, action: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        raw = action.numpy()
        obs, reward, _ = self.env.step(raw)
        self.obs = torch.from_numpy(obs)
        return applied_action(raw), reward  # as the environment applied it (float64)


BENCH1 = AgentFamily("nmd-benchmark1", build_actor, describe_actor, Bench1Loop)


def export_actor(actor: SpikingNMDCopy, out: str | Path, bits: int = 8) -> dict:
    """Write the actor to the artifact ``out`` (whole or not at all)."""
    return export_agent(actor, actor.options.to_dict(), out, bits, family=BENCH1)


def load_actor_artifact(artifact_dir: str | Path) -> tuple[dict, SpikingNMDCopy, Network]:
    """``(deploy info, host actor, Network)`` of a benchmark-1 actor artifact."""
    return load_agent_artifact(artifact_dir, BENCH1)


def run_actor_closed_loop(
    artifact_dir: str | Path,
    backend: str = "sim",
    episodes: int = 1,
    horizon: int = 400,
    seed: int = 0,
    gamma: float = 0.99,
) -> dict:
    """Greedy episodes (environment seeds ``seed``, ``seed + 1``, ...) of the deployed actor on
    ``backend``; ``actions`` are in environment units (``clip(5 mu, -20, 20)``)."""
    return run_closed_loop(artifact_dir, backend, episodes, horizon, seed, BENCH1, gamma)
