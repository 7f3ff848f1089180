"""The closed loop of online learning on a backend: samples in, post spikes out, a third factor back.

``sim`` is the integer simulator (:class:`~modspike.plasticity.online.SimLearner`), ``lava`` Lava's
fixed-point learning engine (:class:`~modspike.hw.lava.plasticity.LavaLearner`), bit for bit the
same; ``float`` the float torch twin (:class:`~modspike.plasticity.online.FloatLearner`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from modspike.errors import ConfigError
from modspike.network import Network
from modspike.plasticity.counters import count_trains
from modspike.plasticity.online import FloatLearner, SimLearner, Timing, pre_trains
from modspike.step import Precision

LEARN_BACKENDS = ("sim", "lava", "float")


@dataclass
class OnlineRun:
    """What a closed loop produced: per sample the post spike counts of its window and the third
    factor sent back; the learned weights; the learning engine's event counts."""

    counts: np.ndarray  # (samples, n_post)
    third: np.ndarray  # (samples, n_post)
    weights: np.ndarray  # (n_post, n_pre) after the run
    totals: dict
    steps: int
    post: np.ndarray | None = None  # (steps, n_post), kept when asked
    tracked: list | None = None  # (sample, weights) every ``track_every`` samples


def make_learner(
    backend: str,
    net: Network,
    inputs: np.ndarray,
    timing: Timing,
    total: int,
    noise: np.ndarray | None = None,
    record: bool = False,
):
    """A learner for ``backend`` over samples ``inputs`` ``(window, S, n_in)``."""
    if backend == "sim":
        pre = pre_trains(net, inputs, timing)
        return SimLearner(net, pre, timing, total, noise=noise, record=record, count=False)
    if backend == "float":
        pre = pre_trains(net, inputs, timing, Precision.FLOAT)
        return FloatLearner(net, pre, timing, total, noise=noise)
    if backend == "lava":
        from modspike.hw.lava.plasticity import LavaLearner

        return LavaLearner(net, inputs, timing, total, noise=noise, record=record)
    raise ConfigError(f"unknown learning backend {backend!r}; choose one of {LEARN_BACKENDS}")


def run_online(
    backend: str,
    net: Network,
    inputs: np.ndarray,
    timing: Timing,
    respond: Callable[[int, np.ndarray, np.ndarray], np.ndarray | None],
    noise: np.ndarray | None = None,
    progress: bool = False,
    keep_post: bool = False,
    desc: str = "learn",
    track_every: int = 0,
) -> OnlineRun:
    """Feed the samples one by one; after each, ``respond(s, counts, window)`` (the window's post
    spike counts and raster ``(window, n_post)``) returns the third factor of every post neuron
    (or None: nothing) for the ``timing.reward_steps`` steps that follow."""
    samples = int(np.shape(inputs)[1])
    total = timing.total(samples)
    learner = make_learner(backend, net, inputs, timing, total, noise)
    n_post = net.layers[-1].n
    counts = np.zeros((samples, n_post), dtype=np.int64)
    third = np.zeros((samples, n_post), dtype=np.int64)
    posts, tracked = [], []
    try:
        for s in tqdm(range(samples), desc=desc, unit="sample", disable=not progress):
            post = learner.advance(timing.decide(s))
            posts.append(post)
            window = post[-timing.window :]
            counts[s] = window.sum(axis=0)
            answer = respond(s, counts[s], window)
            if answer is not None:
                third[s] = np.asarray(answer, dtype=np.int64)
                d = timing.decide(s)
                learner.set_third_factor(third[s], d + 1, d + timing.reward_steps)
            if track_every and (s + 1) % track_every == 0:
                tracked.append((s + 1, learner.weights))
        posts.append(learner.advance(total))
        weights = learner.weights
    finally:
        close = getattr(learner, "close", None)
        if close is not None:
            close()
    post = np.concatenate(posts)
    params = net.layers[-1].synapse.plasticity.engine(0)
    pre = pre_trains(net, inputs, timing)[:total]
    totals = count_trains(pre, post, params)
    return OnlineRun(
        counts, third, weights, totals, total, post if keep_post else None, tracked or None
    )


def kicks(
    net: Network, total: int, rate: float, seed: int, size: float = 32.0
) -> np.ndarray | None:
    """Exploration: on each step each post neuron receives, with probability ``rate``, a drive of
    ``size`` times its threshold (a spike whatever its input): a neuron silenced by its weights
    still fires now and then, so its synapses get eligibility traces (``docs/plasticity.md``)."""
    if rate <= 0:
        return None
    if not 0 < rate < 1:
        raise ConfigError(f"exploration rate {rate} must be in [0, 1)")
    vth = np.asarray(net.layers[-1].cell.fixed.params.vth, dtype=np.int64)
    rng = np.random.default_rng(seed)
    hits = rng.random((total, vth.size)) < rate
    return (hits * np.rint(size * vth)).astype(np.int64)


def summary_totals(totals: dict) -> dict:
    """Counts with the learning energy (Loihi profile) priced (``runtime.learning_energy``)."""
    from modspike.runtime.learning_energy import learning_energy

    energy = learning_energy(totals)
    per_update = None
    if totals.get("synapse_updates"):
        per_update = energy["total"] / totals["synapse_updates"]
    return {"counts": totals, "energy_pJ": energy, "pJ_per_synaptic_update": per_update}
