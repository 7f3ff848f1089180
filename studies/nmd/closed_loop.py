"""Closed-loop runs of a deployed neuromodulated agent against the moving-target environment.

The host (this process) runs the environment, the context network and the modulation projection
(float torch, ``export.agent_export``); the deployed spiking main network runs on a backend:

* ``torch``: the float agent itself (the reference);
* ``sim``: the artifact's integer network (its FIXED program, resumed from its state each step);
* ``lava``: the same network as Lava processes (``fixed_pt``), one episode per
  :class:`~modspike.hw.lava_net.LavaSession`; the modulation enters each layer's ``mod_in`` port;
* ``lava-float``: the float network on Lava's ``floating_pt`` models (float observation and
  modulation), to compare with ``torch``.

Each environment step: the observation is quantised to the SRC state format and held for
``micro_steps`` network steps, the modulation ``(gain, bias, h_s0)`` is quantised per neuron, the
last layer's graded outputs are summed, scaled as in training and read out by the host's policy
layer; the action is the greedy argmax. ``sim`` and ``lava`` give identical actions.
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
from modspike.studies.nmd.envs import MovingTarget

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
) -> dict:
    """Greedy episodes of the agent in ``artifact_dir`` on ``backend``; actions and rewards."""
    if backend not in CLOSED_LOOP_BACKENDS:
        raise ConfigError(
            f"unknown backend {backend!r}; choose one of {', '.join(CLOSED_LOOP_BACKENDS)}"
        )
    deploy, agent, net = load_agent_artifact(artifact_dir)
    # one episode at a time (a Lava session holds a batch of one), each with its own env seed
    runs = [_episode(agent, deploy, net, backend, horizon, seed + e) for e in range(episodes)]
    actions = np.concatenate([r[0] for r in runs], axis=1)
    rewards = np.concatenate([r[1] for r in runs], axis=1)
    outputs = np.concatenate([r[2] for r in runs], axis=1)
    seconds = sum(r[3] for r in runs)
    return {
        "backend": backend,
        "agent": deploy["kind"],
        "episodes": episodes,
        "horizon": horizon,
        "seed": seed,
        "actions": actions.T.tolist(),  # (episodes, horizon)
        "rewards": rewards.T.round(6).tolist(),
        # per episode and step, the last layer's outputs summed over the step (state units)
        "outputs": outputs.transpose(1, 0, 2).tolist(),
        "mean_return": float(rewards.sum(0).mean()),
        "seconds": seconds,
    }


@torch.no_grad()
def _episode(agent, deploy: dict, net: Network, backend: str, horizon: int, seed: int):
    """``(actions (T, 1), rewards (T, 1), outputs (T, 1, n), seconds)`` of one greedy episode.

    ``outputs``: the last layer's outputs summed over each environment step, in state units
    (``2**-frac_bits``) on every backend, so they compare across backends.
    """
    from modspike.hw.lava.session import LavaSession

    prog = compile(net, Precision.FIXED)
    env = MovingTarget(1, horizon, seed=seed)
    obs = env.reset()
    window = deploy["micro_steps"]
    frac_bits = -deploy["input_exponent"]
    ctx = agent.context.initial_state(1) if agent.context is not None else None
    prev_a = torch.full((1,), -1, dtype=torch.long)
    prev_r = torch.zeros(1)
    body_state = agent.body.initial_state(1)
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
            z, ctx = agent.modulation(obs, prev_a, prev_r, ctx)
            fmods = agent.modulator(z) if z is not None else None
            if backend in ("sim", "lava"):  # the integer network: quantised input and signal
                mods = quantize_modulation(fmods, net, 1)
                x = SRCFormat(frac_bits=frac_bits).to_fixed(obs.numpy())  # (1, obs_dim)
            if backend == "torch":  # the float main network, as NMDAgent.step runs it
                y, body_state = agent.body(obs, body_state, fmods)
                logits = agent.policy(y * agent.readout_scale)
                total = y.numpy() * window * 2.0**frac_bits
            elif backend == "sim":
                inputs = np.broadcast_to(x, (window, *x.shape))
                out = run(prog, inputs, state, modulation=mods, record=False)
                total, state = out.total, out.state
            elif backend == "lava":
                lava_mods = [tuple(f[0] for f in m) for m in mods]
                total = session.advance(np.repeat(x, window, axis=0), lava_mods).sum(axis=0)[None]
            else:  # lava-float: float observation and modulation
                if fmods is None:
                    lava_mods = [
                        (np.ones(ly.n), np.zeros(ly.n), np.zeros(ly.n)) for ly in net.layers
                    ]
                else:
                    lava_mods = [tuple(f[0].numpy().astype(np.float64) for f in m) for m in fmods]
                inputs = np.repeat(obs.numpy().astype(np.float64), window, axis=0)
                total = session.advance(inputs, lava_mods).sum(axis=0)[None] * 2.0**frac_bits
            if backend != "torch":
                logits = agent.policy(_policy_input(total, deploy, frac_bits))
            outputs.append(total)
            seconds += time.perf_counter() - t0
            action = logits.argmax(-1)
            obs, reward, _ = env.step(action)
            actions.append(action.numpy())
            rewards.append(reward.numpy())
            prev_a, prev_r = action, reward
    finally:
        if session is not None:
            session.graph.stop()
    return np.stack(actions), np.stack(rewards), np.stack(outputs), seconds
