"""Closed-loop runs of a deployed neuromodulated agent against its environment.

The host (this process) runs the environment, the network that computes the modulation and the
policy readout (float torch; what they are is the agent family's :class:`~.host.HostLoop`: the
project task's by default, benchmark 1's in ``studies/nmd_bench1/deploy.py``); the deployed spiking
main network runs on a backend:

* ``torch``: the float agent itself (the reference);
* ``sim``: the artifact's integer network (its FIXED program, resumed from its state each step);
* ``lava``: the same network as Lava processes (``fixed_pt``), one episode per
  :class:`~modspike.hw.lava_net.LavaSession`; the modulation enters each layer's ``mod_in`` port;
* ``lava-float``: the float network on Lava's ``floating_pt`` models (float observation and
  modulation), to compare with ``torch``.

Each environment step: the main network's input (the project task: the observation) is quantised
to the SRC state format and held for ``micro_steps`` network steps, the modulation
``(gain, bias, h_s0)`` is quantised per neuron, the last layer's graded outputs are summed, scaled
as in training and read out by the host's policy into the greedy action (the project task: the
argmax). ``sim`` and ``lava`` give identical actions.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from modspike.errors import ConfigError
from modspike.fixedpoint import SRCFormat
from modspike.modulation import HeldModulation
from modspike.network import Network
from modspike.step import Precision, compile, run
from modspike.studies.nmd.deploy import load_agent_artifact
from modspike.studies.nmd.host import NMD_TASK, AgentFamily, HostLoop

CLOSED_LOOP_BACKENDS = ("torch", "sim", "lava", "lava-float")


def _fmt(layer) -> SRCFormat:
    p = layer.cell.fixed.params
    return SRCFormat(frac_bits=p.frac_bits, state_bits=p.state_bits)


def quantize_modulation(mods, net: Network, batch: int) -> list[HeldModulation]:
    """Float modulation per layer (or ``None``: unmodulated) -> integer (batch, n) state units."""
    out = []
    for k, layer in enumerate(net.layers):
        fmt = _fmt(layer)
        if mods is None:
            zeros = np.zeros((batch, layer.n), dtype=np.int64)
            out.append(HeldModulation(np.full_like(zeros, fmt.one), zeros, zeros.copy()))
        else:
            m = mods[k]
            out.append(HeldModulation(*(fmt.to_fixed(f.detach().numpy()) for f in m)))
    return out


def _policy_input(total: np.ndarray, deploy: dict, frac_bits: int) -> torch.Tensor:
    """Summed last-layer outputs (state units) -> the policy's input, as ``MSRCStack`` scales it."""
    y = total.astype(np.float64) * 2.0**-frac_bits / deploy["micro_steps"]
    return torch.as_tensor(y * deploy["readout_scale"], dtype=torch.float32)


def run_closed_loop(
    artifact_dir: str | Path,
    backend: str = "sim",
    episodes: int = 1,
    horizon: int = 50,
    seed: int = 0,
    family: AgentFamily = NMD_TASK,
    gamma: float = 0.99,
) -> dict:
    """Greedy episodes of the agent in ``artifact_dir`` (an agent of ``family``, default the
    project task's) on ``backend``; actions, rewards, the network's outputs, returns (summed, and
    discounted with ``gamma``) and the host + network seconds (environment steps excluded)."""
    if backend not in CLOSED_LOOP_BACKENDS:
        raise ConfigError(
            f"unknown backend {backend!r}; choose one of {', '.join(CLOSED_LOOP_BACKENDS)}"
        )
    deploy, agent, net = load_agent_artifact(artifact_dir, family)
    loop = family.loop(agent, deploy)
    # one episode at a time (a Lava session holds a batch of one), each with its own env seed
    runs = [_episode(loop, deploy, net, backend, horizon, seed + e) for e in range(episodes)]
    actions = np.concatenate([r[0] for r in runs], axis=1)
    rewards = np.concatenate([r[1] for r in runs], axis=1)
    outputs = np.concatenate([r[2] for r in runs], axis=1)
    seconds = sum(r[3] for r in runs)
    discounted = gamma ** np.arange(horizon) @ rewards.astype(np.float64)
    return {
        "backend": backend,
        "agent": deploy["kind"],
        "family": family.name,
        "episodes": episodes,
        "horizon": horizon,
        "seed": seed,
        "actions": actions.T.tolist(),  # (episodes, horizon)
        "rewards": rewards.T.round(6).tolist(),
        # per episode and step, the last layer's outputs summed over the step (state units)
        "outputs": outputs.transpose(1, 0, 2).tolist(),
        "mean_return": float(rewards.sum(0).mean()),
        "gamma": gamma,
        "discounted_returns": discounted.tolist(),  # per episode
        "seconds": seconds,
    }


@torch.no_grad()
def _episode(loop: HostLoop, deploy: dict, net: Network, backend: str, horizon: int, seed: int):
    """``(actions (T, 1), rewards (T, 1), outputs (T, 1, n), seconds)`` of one greedy episode.

    ``outputs``: the last layer's outputs summed over each environment step, in state units
    (``2**-frac_bits``) on every backend, so they compare across backends.
    """
    from modspike.hw.lava.session import LavaSession

    prog = compile(net, Precision.FIXED)
    loop.reset(seed, horizon)
    window = deploy["micro_steps"]
    frac_bits = -deploy["input_exponent"]
    body_state = loop.body.initial_state(1)
    state = prog.initial_state(1)
    session = None
    if backend == "lava":
        session = LavaSession(net, window)
    elif backend == "lava-float":
        session = LavaSession(net, window, precision="float")
    actions, rewards, outputs, seconds = [], [], [], 0.0
    try:
        for _ in range(horizon):
            t0 = time.perf_counter()
            fmods = loop.modulation()
            obs = loop.body_input()  # (1, n_in) float
            if backend in ("sim", "lava"):  # the integer network: quantised input and signal
                mods = quantize_modulation(fmods, net, 1)
                x = SRCFormat(frac_bits=frac_bits).to_fixed(obs.numpy())  # (1, n_in)
            if backend == "torch":  # the float main network, as the agent's own step runs it
                y, body_state = loop.body(obs, body_state, fmods)
                y_in = y * deploy["readout_scale"]
                total = y.numpy() * window * 2.0**frac_bits
            elif backend == "sim":
                inputs = np.broadcast_to(x, (window, *x.shape))
                out = run(prog, inputs, state, modulation=mods, record=False)
                total, state = out.total, out.state
            elif backend == "lava":
                lava_mods = [tuple(f[0] for f in m) for m in mods]
                total = session.advance(np.repeat(x, window, axis=0), lava_mods).sum(axis=0)[None]
            else:  # lava-float: float input and modulation
                if fmods is None:
                    lava_mods = [
                        (np.ones(ly.n), np.zeros(ly.n), np.zeros(ly.n)) for ly in net.layers
                    ]
                else:
                    lava_mods = [tuple(f[0].numpy().astype(np.float64) for f in m) for m in fmods]
                inputs = np.repeat(obs.numpy().astype(np.float64), window, axis=0)
                total = session.advance(inputs, lava_mods).sum(axis=0)[None] * 2.0**frac_bits
            if backend != "torch":
                y_in = _policy_input(total, deploy, frac_bits)
            action = loop.act(y_in)
            outputs.append(total)
            seconds += time.perf_counter() - t0
            action, reward = loop.step(action)
            actions.append(action)
            rewards.append(reward)
    finally:
        if session is not None:
            session.graph.stop()
    return np.stack(actions), np.stack(rewards), np.stack(outputs), seconds
