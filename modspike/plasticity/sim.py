"""Plastic connections run in the integer simulator: one connection between a spike source and a
population of Lava-LIF neurons (closed loop), or driven by given pre / post spike trains (open loop).

The closed loop is the arrangement the Lava comparison runs (``modspike.hw.lava.plasticity``)::

    source --pre--> LearningDense --a_buff (next step)--> LIF --spikes (same step)--> LearningDense

A three-factor rule uses modspike's ``RewardLIF``: a Lava LIF that also sends the post trace
``y1`` (:func:`.engine.post_trace_step`), the reward it receives this step as ``y2``, and 0 as ``y3``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modspike.errors import PlasticityError
from modspike.kinds.cells.lif.int_step import LIFIntParams as LIFParams
from modspike.kinds.cells.lif.int_step import LIFIntState as LIFState
from modspike.kinds.cells.lif.int_step import step as lif_step

from .counters import UpdateCounts, count_updates
from .engine import (
    CONN_SEED,
    EngineParams,
    PlasticState,
    initial_state,
    is_learning_step,
    learning_phase,
    post_trace_step,
    random_streams,
    spike_phase,
)

RECORDED = ("weights", "tag_1", "tag_2", "x1", "x2", "y1", "y2", "y3", "a_buff")


@dataclass(frozen=True, eq=False)
class LIFConfig:
    """Lava fixed-point LIF parameters (``du``, ``dv``, ``vth`` per population as in Lava)."""

    du: int
    dv: int
    vth: int
    bias_mant: np.ndarray | int = 0
    bias_exp: int = 0

    def params(self, n: int) -> LIFParams:
        bias = np.broadcast_to(np.asarray(self.bias_mant, dtype=np.int64), (n,))
        e = self.bias_exp
        bias = bias << e if e >= 0 else bias >> -e
        return LIFParams(
            du=np.int64(self.du), dv=np.int64(self.dv), vth=np.int64(self.vth), bias=bias
        )


@dataclass(frozen=True)
class PostTrace:
    """The post trace a three-factor neuron sends as ``y1``: impulse per spike, 12-bit decay."""

    impulse: int
    decay: int

    def __post_init__(self):
        if not 0 <= self.impulse <= 127 or not 0 <= self.decay <= 4096:
            raise PlasticityError("post trace impulse must be in 0..127 and decay in 0..4096")


@dataclass(frozen=True, eq=False)
class PlasticNet:
    """One plastic connection in a closed loop (see the module docstring)."""

    name: str
    pre_spikes: np.ndarray  # (n_pre, T) binary
    weights: np.ndarray  # (n_post, n_pre) integers
    params: EngineParams
    lif: LIFConfig
    reward: np.ndarray | None = None  # (n_post, T) integers: the third factor, per step
    post_trace: PostTrace | None = None

    def __post_init__(self):
        n_post, n_pre = np.shape(self.weights)
        if np.ndim(self.pre_spikes) != 2 or np.shape(self.pre_spikes)[0] != n_pre:
            raise PlasticityError(f"{self.name}: pre_spikes must have shape ({n_pre}, T)")
        if self.params.rule.three_factor:
            if self.reward is None or self.post_trace is None:
                raise PlasticityError(
                    f"{self.name}: a three-factor rule needs a reward and a post trace"
                )
            if np.shape(self.reward) != (n_post, np.shape(self.pre_spikes)[1]):
                raise PlasticityError(f"{self.name}: reward must have shape ({n_post}, T)")
        elif self.reward is not None:
            raise PlasticityError(f"{self.name}: a reward needs a three-factor rule (rstdp)")

    @property
    def steps(self) -> int:
        return int(np.shape(self.pre_spikes)[1])


def _record(records: dict, state: PlasticState) -> None:
    for k in RECORDED:
        records[k].append(getattr(state, k).copy())


def _stack(records: dict) -> dict[str, np.ndarray]:
    return {k: np.stack(v) for k, v in records.items()}


def simulate(
    net: PlasticNet, steps: int | None = None, counts: list[UpdateCounts] | None = None
) -> dict[str, np.ndarray]:
    """Run the closed loop for ``steps`` (default: the length of the input); per-step records of
    the connection after each step (``weights``, tags, traces, ``a_buff``) and the ``post`` spikes,
    each an array ``(steps, ...)``. Appends one :class:`UpdateCounts` per step to ``counts``."""
    steps = net.steps if steps is None else steps
    params = net.params
    streams = random_streams(params.rule, steps)
    state = initial_state(net.weights, params)
    n_post = state.y1.shape[0]
    lif_p = net.lif.params(n_post)
    lif = LIFState(np.zeros((1, n_post), np.int64), np.zeros((1, n_post), np.int64))
    y1 = np.zeros(n_post, dtype=np.int64)
    records = {k: [] for k in (*RECORDED, "post")}
    for t in range(steps):
        spikes, lif = lif_step(state.a_buff[np.newaxis, :], lif, lif_p)
        post = spikes[0].astype(bool)
        y = None
        if params.rule.three_factor:
            y1 = post_trace_step(y1, post, net.post_trace.impulse, net.post_trace.decay)
            reward = np.asarray(net.reward[:, t], dtype=np.int64)
            y = (y1, reward, np.zeros(n_post, dtype=np.int64))
        pre = net.pre_spikes[:, t]
        state = spike_phase(state, params, streams, pre, post, y)
        if counts is not None:
            counts.append(count_updates(state, params, pre, post))
        if is_learning_step(state, params):
            state = learning_phase(state, params, streams)
        _record(records, state)
        records["post"].append(post.astype(np.int64))
    return _stack(records)


def run_open_loop(
    weights: np.ndarray,
    params: EngineParams,
    pre: np.ndarray,
    post: np.ndarray,
    y: np.ndarray | None = None,
    conn_seed: int = CONN_SEED,
) -> dict[str, np.ndarray]:
    """Drive one connection with given spike trains ``pre`` ``(n_pre, T)`` and ``post``
    ``(n_post, T)`` (and ``y`` ``(3, n_post, T)`` for three-factor rules); per-step records.
    ``conn_seed``: see :func:`.engine.random_streams`."""
    steps = np.shape(pre)[1]
    streams = random_streams(params.rule, steps, conn_seed)
    state = initial_state(weights, params)
    records = {k: [] for k in RECORDED}
    for t in range(steps):
        yt = None if y is None else tuple(y[:, :, t])
        state = spike_phase(state, params, streams, pre[:, t], post[:, t], yt)
        if is_learning_step(state, params):
            state = learning_phase(state, params, streams)
        _record(records, state)
    return _stack(records)
