"""Spike-pairing protocols that state how far the float rules and the integer engine drift apart.

:func:`pairing_protocol`: ``n_pre`` pre neurons with Poisson spikes, post neuron ``i`` firing
``delay`` steps after pre neuron ``i`` (a causal pair) plus background spikes. :func:`reward_signal`
gives three-factor rules their ``y1`` (the post neuron's trace) and ``y2`` (a reward for a few steps
after each causal pairing of pair 0). :func:`float_vs_integer` runs the same spike trains through
:func:`.float_rules.float_open_loop` and :func:`.sim.run_open_loop` (one run, and the mean of
several runs with other random streams) and returns the learning curves: the mean weight of the
causal synapses and of the others, per step.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .engine import EngineParams, post_trace_decay, post_trace_step
from .float_rules import float_open_loop
from .sim import run_open_loop


def pairing_protocol(
    seed: int,
    steps: int,
    n_pre: int = 8,
    n_post: int = 4,
    rate: float = 0.04,
    background: float = 0.01,
    delay: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """``(pre, post)`` spike trains ``(n, steps)``; causal pairs are ``(i, i)`` for ``i < n_post``."""
    rng = np.random.default_rng(seed)
    pre = (rng.random((n_pre, steps)) < rate).astype(np.int64)
    post = (rng.random((n_post, steps)) < background).astype(np.int64)
    for i in range(min(n_post, n_pre)):
        t = np.nonzero(pre[i])[0] + delay
        post[i, t[t < steps]] = 1
    return pre, post


def reward_signal(
    pre: np.ndarray,
    post: np.ndarray,
    reward: int,
    duration: int = 10,
    delay: int = 2,
    trace_impulse: int = 16,
    trace_tau: float = 10,
) -> np.ndarray:
    """``y`` ``(3, n_post, steps)`` for a three-factor rule: ``y1`` the post trace
    (:func:`.engine.post_trace_step`), ``y2 = reward`` for ``duration`` steps after each causal
    pairing of pair 0 (to every post neuron), ``y3 = 0``."""
    n_post, steps = post.shape
    y = np.zeros((3, n_post, steps), dtype=np.int64)
    trace = np.zeros(n_post, dtype=np.int64)
    decay = post_trace_decay(trace_tau)
    for t in range(steps):
        trace = post_trace_step(trace, post[:, t], trace_impulse, decay)
        y[0, :, t] = trace
        if t >= delay and post[0, t] and pre[0, t - delay]:
            y[1, :, t + 1 : t + 1 + duration] = reward
    return y


def group_curves(weights: np.ndarray) -> np.ndarray:
    """``(steps, 2)``: mean weight of the causal synapses ``(i, i)`` and of all the others."""
    n_post, n_pre = weights.shape[1:]
    causal = np.eye(n_post, n_pre, dtype=bool)
    return np.stack([weights[:, causal].mean(axis=1), weights[:, ~causal].mean(axis=1)], axis=1)


def float_vs_integer(
    params: EngineParams,
    pre: np.ndarray,
    post: np.ndarray,
    y: np.ndarray | None = None,
    runs: int = 4,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group curves of the float rule, of one integer run, and the mean of ``runs`` integer runs
    (``rng_seed`` 40, 41, ... and synaptic-rounding streams seeded 100, 101, ...)."""
    w0 = np.zeros((post.shape[0], pre.shape[0]), dtype=np.int64) if weights is None else weights
    flt = float_open_loop(w0, params, pre, post, None if y is None else y.astype(np.float64))
    curves = []
    for k in range(runs):
        rule = dataclasses.replace(params.rule, rng_seed=40 + k)
        p = dataclasses.replace(params, rule=rule)
        curves.append(
            group_curves(run_open_loop(w0, p, pre, post, y, conn_seed=100 + k)["weights"])
        )
    return group_curves(flt["weights"]), curves[0], np.mean(curves, axis=0)
