"""Online learning of a network with a plastic last layer, sample by sample, in closed loop.

The network is ``static prefix (layers 0..K-1) -> plastic synapse -> post cells (layer K)``; the
host feeds samples, reads the post spikes of each sample and answers with a third factor. The time
line is Lava's (``docs/plasticity.md``, "Online learning"), so that the simulator and Lava compute
the same integers at every step: every sample occupies ``period`` Lava steps (``window`` of input,
then silence); static layer ``j`` (1-based) runs step ``t`` of sample ``s`` on Lava step
``s*period + 1 + j + t`` and resets before ``t = 0`` (``LIFReset``), so it runs the whole period:
the sample's ``window`` steps and ``period - window`` steps of zero input. The plastic connection
receives the last static layer's spikes of step ``tau`` on step ``tau`` and sends their sum to the
post cells on ``tau + 1``; the post cells never reset (they run on, as the learning engine does).
Sample ``s``'s post spikes fall in steps ``s*period + K + 2 .. decide(s)``; its third factor
(reward / dopamine) reaches the post neurons on the ``reward_steps`` steps after ``decide(s)``.

:class:`SimLearner` is the integer simulator (the engine of :mod:`.engine`, the post cell kind's
fixed-point step, the three-factor neuron's trace), :class:`FloatLearner` the same loop in float
torch (:mod:`.float_rules`). Lava runs it with ``modspike.hw.lava.plasticity.LavaLearner``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from modspike.errors import PlasticityError
from modspike.network import Network
from modspike.step import Precision, compile, run

from .counters import UpdateCounts, count_updates
from .engine import (
    PlasticState,
    initial_state,
    is_learning_step,
    learning_phase,
    post_trace_step,
    random_streams,
    spike_phase,
)
from .float_rules import float_initial_state, float_post_trace_step, float_step
from .sim import RECORDED
from .spec import check_learnable, plastic_layers


@dataclass(frozen=True)
class Timing:
    """Lava steps per sample (``period``), input steps (``window``), third-factor steps
    (``reward_steps``) and the number of static layers before the plastic one (``prefix``)."""

    window: int
    period: int
    reward_steps: int = 1
    prefix: int = 0

    def __post_init__(self):
        for name in ("window", "period", "reward_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PlasticityError(f"{name} must be a positive integer, got {value!r}")
        if self.period < self.window + self.reward_steps or self.period < self.window + 1 + (
            self.prefix
        ):
            raise PlasticityError(
                f"period {self.period} is too short for a window of {self.window}, "
                f"{self.reward_steps} reward steps and {self.prefix} static layers"
            )

    def decide(self, s: int) -> int:
        """The Lava step after which sample ``s``'s post spikes are all in (1-based)."""
        return s * self.period + 1 + self.prefix + self.window

    def window_steps(self, s: int) -> tuple[int, int]:
        """``(first, last)`` Lava steps of sample ``s``'s post spikes."""
        return s * self.period + 2 + self.prefix, self.decide(s)

    def total(self, samples: int) -> int:
        """Steps of a run of ``samples`` samples (the last one's reward and its silence too)."""
        return self.decide(samples - 1) + self.period - self.window


def plastic_index(net: Network) -> int:
    """The one plastic layer, which must be the last (online learning's form); its checks."""
    found = plastic_layers(net)
    if len(found) != 1 or found[0] != len(net.layers) - 1:
        raise PlasticityError(
            "online learning needs exactly one plastic synapse, feeding the last layer "
            f"(found plastic layers {found} of {len(net.layers)})"
        )
    k = found[0]
    check_learnable(net, k)
    if net.readout is not None:
        raise PlasticityError("a plastic network ends in its plastic layer (no readout)")
    if not net.quantized:
        raise PlasticityError("online learning runs a quantised network (the engine's grid)")
    return k


def prefix_network(net: Network, k: int) -> Network | None:
    """Layers ``0..k-1`` alone (None if the plastic layer is the first)."""
    if k == 0:
        return None
    return net.replace(layers=net.layers[:k], readout=None)


def _boot(prog, n_in: int, ops_zeros) -> list:
    """Outputs of the last static layer on Lava steps ``1..K`` (before each layer's first
    reset): layer ``j`` runs steps ``1..j`` from rest, fed by layer ``j - 1``'s output of the
    previous step (nothing on step 1)."""
    K = len(prog.layers)
    states = [L.initial_state(1) for L in prog.layers]
    prevs = [L.initial_output(1) for L in prog.layers]
    outputs: list[list] = [[] for _ in range(K)]
    for tau in range(1, K + 1):
        new = []
        for j in range(tau - 1, K):  # layers that have not reset yet and run on this step
            L = prog.layers[j]
            if tau == 1:
                x = ops_zeros(n_in if j == 0 else prog.layers[j - 1].n)
            else:
                x = outputs[j - 1][tau - 2]
            a = L.drive(x, prevs[j])
            s, states[j] = L.step(a, states[j], L.params)
            new.append((j, s))
        for j, s in new:
            prevs[j] = s
            outputs[j].append(s)
    return [outputs[K - 1][tau - 1] for tau in range(1, K + 1)]


class PreStream:
    """The plastic connection's input spikes one sample at a time (a closed loop whose next input
    depends on the last output): the static layers run each sample's ``period`` steps from rest,
    and ``boot`` holds their spikes before the first reset (steps ``1..K``)."""

    def __init__(self, net: Network, timing: Timing, precision: Precision = Precision.FIXED):
        k = plastic_index(net)
        self.net, self.timing, self.precision, self.k = net, timing, precision, k
        prefix = prefix_network(net, k)
        self.prog = None if prefix is None else compile(prefix, precision)
        self.boot = np.zeros((k, net.layers[k].n_in), dtype=np.int8)
        if self.prog is not None:
            if precision is Precision.FIXED:
                rows = _boot(self.prog, net.n_in, lambda n: np.zeros((1, n), int))
                self.boot = np.stack([np.asarray(b)[0] for b in rows]).astype(np.int8)
            else:
                with torch.no_grad():
                    rows = _boot(self.prog, net.n_in, lambda n: torch.zeros(1, n))
                self.boot = np.stack([b.numpy()[0] for b in rows]).astype(np.int8)

    def sample(self, x: np.ndarray) -> np.ndarray:
        """``(period, n_pre)`` spikes for one sample ``x`` ``(window, n_in)``."""
        x = np.asarray(x)
        if x.shape != (self.timing.window, self.net.n_in):
            raise PlasticityError(
                f"a sample must have shape ({self.timing.window}, {self.net.n_in}), got {x.shape}"
            )
        padded = np.zeros((self.timing.period, 1, self.net.n_in))
        padded[: self.timing.window, 0] = x
        if self.prog is None:
            return padded[:, 0].astype(np.int8)
        if self.precision is Precision.FIXED:
            out = run(self.prog, padded.astype(np.int64)).records[-1][:, 0]
        else:
            with torch.no_grad():
                t = torch.as_tensor(padded, dtype=torch.float32)
                out = run(self.prog, t).records[-1][:, 0].numpy()
        return np.asarray(out).astype(np.int8)


def pre_trains(
    net: Network, inputs: np.ndarray, timing: Timing, precision: Precision = Precision.FIXED
) -> np.ndarray:
    """The plastic connection's input spikes on Lava steps ``1 .. K + (S + 1) * period``
    ``(steps, n_pre)`` for samples ``inputs`` ``(window, S, n_in)`` (one silent sample appended:
    what the static layers do after the last sample)."""
    k = plastic_index(net)
    x = np.asarray(inputs)
    if x.ndim != 3 or x.shape[0] != timing.window or x.shape[2] != net.n_in:
        raise PlasticityError(
            f"inputs must have shape (window={timing.window}, samples, {net.n_in}), got {x.shape}"
        )
    samples = x.shape[1] + 1
    padded = np.zeros((timing.period, samples, net.n_in), dtype=np.int64)
    padded[: timing.window, : x.shape[1]] = x
    prefix = prefix_network(net, k)
    if prefix is None:
        out = padded
        boot = []
    elif precision is Precision.FIXED:
        prog = compile(prefix, Precision.FIXED)
        out = run(prog, padded).records[-1]
        boot = [np.asarray(b)[0] for b in _boot(prog, net.n_in, lambda n: np.zeros((1, n), int))]
    else:
        prog = compile(prefix, Precision.FLOAT)
        with torch.no_grad():
            out = run(prog, torch.as_tensor(padded, dtype=torch.float32)).records[-1].numpy()
            boot = [b.numpy()[0] for b in _boot(prog, net.n_in, lambda n: torch.zeros(1, n))]
    body = np.moveaxis(np.asarray(out), 1, 0).reshape(-1, np.asarray(out).shape[-1])
    if boot:
        body = np.concatenate([np.stack(boot), body])
    if np.any((body != 0) & (body != 1)):
        raise PlasticityError("the plastic layer's input is not binary spikes")
    return body.astype(np.int8)


class _Learner:
    """What both learners share: the reward schedule and the per-sample bookkeeping.

    ``noise`` ``(total, n_post)``: an extra drive of the post cells on each step (integers in
    drive units; exploration noise the host draws once), or None."""

    precision = Precision.FIXED

    def __init__(
        self, net: Network, pre: np.ndarray | None, timing: Timing, total: int, noise=None
    ):
        self.k = plastic_index(net)
        self.net, self.timing, self.total = net, timing, total
        layer = net.layers[self.k]
        self.layer = layer
        self.plasticity = layer.synapse.plasticity
        self.n_post, self.n_pre = layer.synapse.fixed.mantissa.shape
        self.stream = None
        if pre is None:  # streaming: samples arrive with feed()
            self.stream = PreStream(net, timing, self.precision)
            pre = np.zeros((total, self.n_pre), dtype=np.int8)
            pre[: min(timing.prefix, total)] = self.stream.boot[: min(timing.prefix, total)]
        if pre.shape[0] < total or pre.shape[1] != self.n_pre:
            raise PlasticityError(f"pre spikes cover {pre.shape}, need ({total}, {self.n_pre})")
        self.pre = pre
        if noise is not None and (np.shape(noise)[0] < total or np.shape(noise)[1] != self.n_post):
            raise PlasticityError(f"noise must have shape ({total}, {self.n_post})")
        self.noise = None if noise is None else np.asarray(noise, dtype=np.int64)
        self.t = 0
        self.reward = np.zeros(self.n_post)
        self.reward_steps: tuple[int, int] = (0, 0)

    def feed(self, s: int, x: np.ndarray) -> None:
        """Streaming (``pre=None``): sample ``s``'s input ``(window, n_in)``, given before the
        learner runs past ``timing.decide(s - 1)``."""
        if self.stream is None:
            raise PlasticityError("this learner was given all its input spikes up front")
        start = self.timing.prefix + s * self.timing.period
        if self.t >= start + 1:
            raise PlasticityError(f"sample {s} fed after its first step was run")
        rows = self.stream.sample(x)
        stop = min(start + rows.shape[0], self.pre.shape[0])
        self.pre[start:stop] = rows[: stop - start]

    def set_third_factor(self, value: np.ndarray, first: int, last: int) -> None:
        """Post neuron ``i`` receives ``value[i]`` on Lava steps ``first..last``."""
        self.reward = np.asarray(value)
        self.reward_steps = (first, last)

    def _third(self, tau: int):
        first, last = self.reward_steps
        return self.reward if first <= tau <= last else np.zeros_like(self.reward)


class SimLearner(_Learner):
    """The integer simulator of online learning (bit-exact with ``LavaLearner``).

    ``record``: keep every step's engine state (``modspike.plasticity.sim.RECORDED``) for
    comparisons; ``count``: keep the learning engine's event counts per step.
    """

    def __init__(
        self,
        net: Network,
        pre: np.ndarray,
        timing: Timing,
        total: int,
        *,
        noise=None,
        record=False,
        count=True,
    ):
        super().__init__(net, pre, timing, total, noise)
        layer, p = self.layer, self.plasticity
        self.params = p.engine(0)
        self.streams = random_streams(self.params.rule, total)
        w = np.asarray(layer.synapse.fixed.mantissa, dtype=np.int64)
        lo, hi = p.weight_range
        if w.size and (w.min() < lo or w.max() > hi):
            raise PlasticityError(f"weights outside the {p.sign_mode} range {lo}..{hi}")
        # the weights are loaded as they are (a learned, odd weight is not truncated again)
        self.state: PlasticState = initial_state(w, self.params)._replace(weights=w)
        arith = layer.cell.kind.fixed
        self.cell_step, self.cell_params = arith.step, layer.cell.fixed.params
        self.cell_state = arith.initial_state(1, self.n_post)
        self.bias = np.asarray(layer.cell.fixed.input_bias, dtype=np.int64)
        self.y1 = np.zeros(self.n_post, dtype=np.int64)
        self.trace = p.post_trace
        self.records = {k: [] for k in (*RECORDED, "post")} if record else None
        self.counts: list[UpdateCounts] | None = [] if count else None

    @property
    def weights(self) -> np.ndarray:
        return self.state.weights.copy()

    def advance(self, until: int) -> np.ndarray:
        """Run Lava steps ``t+1 .. until``; the post spikes ``(steps, n_post)``."""
        if until > self.total:
            raise PlasticityError(f"step {until} is beyond the run's {self.total} steps")
        out = []
        while self.t < until:
            tau = self.t + 1
            a = self.state.a_buff[np.newaxis, :] + self.bias[np.newaxis, :]
            if self.noise is not None:
                a = a + self.noise[tau - 1][np.newaxis, :]
            spikes, self.cell_state = self.cell_step(a, self.cell_state, self.cell_params)
            post = spikes[0].astype(bool)
            y = None
            if self.trace is not None:
                self.y1 = post_trace_step(self.y1, post, self.trace[0], self.trace[1])
                third = np.asarray(self._third(tau), dtype=np.int64)
                y = (self.y1, third, np.zeros(self.n_post, dtype=np.int64))
            pre = self.pre[tau - 1]
            state = spike_phase(self.state, self.params, self.streams, pre, post, y)
            if self.counts is not None:
                self.counts.append(count_updates(state, self.params, pre, post))
            if is_learning_step(state, self.params):
                state = learning_phase(state, self.params, self.streams)
            self.state = state
            if self.records is not None:
                for key in RECORDED:
                    self.records[key].append(getattr(state, key).copy())
                self.records["post"].append(post.astype(np.int64))
            out.append(post)
            self.t = tau
        return np.asarray(out, dtype=np.int64).reshape(-1, self.n_post)

    def recorded(self) -> dict[str, np.ndarray]:
        return {k: np.stack(v) for k, v in (self.records or {}).items()}


class FloatLearner(_Learner):
    """Online learning in float torch: the float static layers (their spikes), the float post cell
    on the engine grid's unit, the float rule (:mod:`.float_rules`, no stochastic rounding)."""

    precision = Precision.FLOAT

    def __init__(self, net: Network, pre: np.ndarray, timing: Timing, total: int, noise=None):
        super().__init__(net, pre, timing, total, noise)
        layer, p = self.layer, self.plasticity
        self.params = p.engine(0)
        fixed = layer.synapse.fixed
        self.unit = torch.as_tensor(
            np.exp2(fixed.exponent + fixed.input_exponent).astype(np.float64)
        )
        self.state = float_initial_state(fixed.mantissa.astype(np.float64), self.params)
        self.state = self.state._replace(
            weights=torch.as_tensor(fixed.mantissa.astype(np.float64), dtype=torch.float64)
        )
        kind = layer.cell.kind
        params = type(layer.cell.params)(
            *(None if v is None else torch.tensor(np.array(v)) for v in layer.cell.params)
        )
        if kind.floating.prepare is not None:
            params = kind.floating.prepare(params, layer.cell.constants)
        self.cell_params, self.constants = params, layer.cell.constants
        self.cell_step = kind.floating.step
        self.cell_state = kind.floating.initial_state(1, self.n_post, None, torch.float64)
        bias = layer.synapse.bias
        self.bias = torch.zeros(self.n_post, dtype=torch.float64)
        if bias is not None:
            self.bias = torch.as_tensor(np.asarray(bias), dtype=torch.float64)
        self.y1 = torch.zeros(self.n_post, dtype=torch.float64)
        self.trace = p.post_trace
        fixed_cell = layer.cell.fixed
        self.drive_unit = np.exp2(kind.fixed.drive_exponent(fixed_cell).astype(np.float64))

    @property
    def weights(self) -> np.ndarray:
        return self.state.weights.numpy().copy()

    def advance(self, until: int) -> np.ndarray:
        out = []
        with torch.no_grad():
            while self.t < until:
                tau = self.t + 1
                a = self.state.a_buff * self.unit + self.bias
                if self.noise is not None:  # integer drive units of the quantised cell
                    a = a + torch.as_tensor(self.noise[tau - 1] * self.drive_unit)
                spikes, self.cell_state = self.cell_step(
                    a[None], self.cell_state, self.cell_params, self.constants
                )
                post = spikes[0] > 0
                y = None
                if self.trace is not None:
                    self.y1 = float_post_trace_step(self.y1, post, self.trace[0], self.trace[2])
                    third = torch.as_tensor(self._third(tau), dtype=torch.float64)
                    y = (self.y1, third, torch.zeros(self.n_post, dtype=torch.float64))
                pre = torch.as_tensor(self.pre[tau - 1].astype(bool))
                self.state = float_step(self.state, self.params, pre, post, y)
                out.append(post.numpy())
                self.t = tau
        return np.asarray(out, dtype=np.int64).reshape(-1, self.n_post)


def with_learned(net: Network, weights: np.ndarray) -> Network:
    """The plastic network after learning: its plastic layer's engine weights replaced."""
    from .spec import with_weights

    return with_weights(net, plastic_index(net), weights)
