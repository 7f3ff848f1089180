"""Event counts of the learning engine, per time step, from the engine's state (pure numpy).

Counted after the spike phase of a step (``engine.spike_phase``), before its learning phase, so that
the within-epoch spike times are still there:

* ``synapse_updates``: synapses the learning engine visits in this learning epoch, i.e. those for
  which some product of some target (w, d, t) has a nonzero dependency (``x0``: its pre neuron
  spiked in the epoch, ``y0``: its post neuron did, ``u``: every synapse on a ``u`` epoch).
  This is the event Davies et al. 2018 price as a "synaptic update" (``docs/plasticity.md``).
* ``variable_updates``: the same per synaptic variable, summed over targets.
* ``trace_updates``: trace values advanced in this step: every trace the rule uses, once per
  neuron per time step (Lava decays them over the epoch at learning time, one value per step),
  pre traces at the connection, post traces at the connection (two-factor) or in the post neuron
  (three-factor rules: the neuron computes and sends them).
* ``trace_impulses``: spikes times traces used (impulses added).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .engine import EngineParams, PlasticState, is_learning_step


class UpdateCounts(NamedTuple):
    learning: bool
    synapse_updates: int
    variable_updates: int
    trace_updates: int
    trace_impulses: int


def _dependency_mask(dep: str, x0: np.ndarray, y0: np.ndarray, u: int, shape) -> np.ndarray:
    if dep == "x0":
        return np.broadcast_to(x0[np.newaxis, :], shape)
    if dep == "y0":
        return np.broadcast_to(y0[:, np.newaxis], shape)
    return np.full(shape, bool(u))


def count_updates(
    state: PlasticState, params: EngineParams, pre: np.ndarray, post: np.ndarray
) -> UpdateCounts:
    """Counts of the step ``state.t`` whose spike phase produced ``state`` from spikes ``pre`` /
    ``post`` (see the module docstring)."""
    rule = params.rule
    n_post, n_pre = state.weights.shape
    used = rule.traces_used()
    n_x = sum(1 for name in ("x1", "x2") if name in used)
    n_y = sum(1 for name in ("y1", "y2", "y3") if name in used)
    spikes_pre = int(np.count_nonzero(pre))
    spikes_post = int(np.count_nonzero(post))
    trace_updates = n_pre * n_x + n_post * n_y
    impulses = spikes_pre * n_x + (0 if rule.three_factor else spikes_post * n_y)
    if not is_learning_step(state, params):
        return UpdateCounts(False, 0, 0, trace_updates, impulses)
    x0, y0 = state.tx > 0, state.ty > 0
    u = 0
    if rule.decimate_exponent is not None:
        u = int((state.t // rule.t_epoch) % 2**rule.decimate_exponent == 0)
    shape = (n_post, n_pre)
    visited = np.zeros(shape, dtype=bool)
    variable_updates = 0
    for products in rule.active_targets().values():
        mask = np.zeros(shape, dtype=bool)
        for p in products:
            mask |= _dependency_mask(p.dependency, x0, y0, u, shape)
        variable_updates += int(mask.sum())
        visited |= mask
    return UpdateCounts(True, int(visited.sum()), variable_updates, trace_updates, impulses)


def total_counts(counts: list[UpdateCounts]) -> dict[str, int]:
    """Sums over steps (``learning`` becomes the number of learning epochs)."""
    return {f: int(sum(getattr(c, f) for c in counts)) for f in UpdateCounts._fields}


def count_trains(pre: np.ndarray, post: np.ndarray, params: EngineParams) -> dict[str, int]:
    """:func:`total_counts` of a connection from its spike trains alone, ``pre`` ``(steps,
    n_pre)`` and ``post`` ``(steps, n_post)`` from Lava step 1 (what a backend that exposes no
    engine state, Lava, is counted from; equal to the per-step :func:`count_updates` of the
    simulator, a test checks it)."""
    pre = np.asarray(pre).astype(bool)
    post = np.asarray(post).astype(bool)
    steps, n_pre = pre.shape
    n_post = post.shape[1]
    rule = params.rule
    used = rule.traces_used()
    n_x = sum(1 for name in ("x1", "x2") if name in used)
    n_y = sum(1 for name in ("y1", "y2", "y3") if name in used)
    totals = dict.fromkeys(UpdateCounts._fields, 0)
    totals["trace_updates"] = steps * (n_pre * n_x + n_post * n_y)
    totals["trace_impulses"] = int(pre.sum()) * n_x + (
        0 if rule.three_factor else int(post.sum()) * n_y
    )
    e = rule.t_epoch
    for end in range(e, steps + 1, e):  # learning steps: t = end (1-based)
        x0 = pre[end - e : end].any(axis=0)
        y0 = post[end - e : end].any(axis=0)
        u = 0
        if rule.decimate_exponent is not None:
            u = int((end // e) % 2**rule.decimate_exponent == 0)
        shape = (n_post, n_pre)
        visited = np.zeros(shape, dtype=bool)
        for products in rule.active_targets().values():
            mask = np.zeros(shape, dtype=bool)
            for p in products:
                mask |= _dependency_mask(p.dependency, x0, y0, u, shape)
            totals["variable_updates"] += int(mask.sum())
            visited |= mask
        totals["synapse_updates"] += int(visited.sum())
        totals["learning"] += 1
    return totals
