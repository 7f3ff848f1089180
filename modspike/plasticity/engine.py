"""Integer twin of Lava 0.10's fixed-point learning engine (``LearningDense``, fixed_pt).

Bit-exact with ``PyLearningDenseModelBitApproximate`` = ``LearningConnectionModelBitApproximate``
(``lava/magma/core/model/py/connection.py``) + ``LearningRuleApplierBitApprox``
(``lava/magma/core/learning/learning_rule_applier.py``): same trace impulses and decays, the same
stochastic rounding from the same seeded numpy generators, the same learning epoch, sum-of-products
evaluation with its int32 arithmetic, accumulator saturation and weight clipping. ``docs/plasticity.md``
states every step; ``tests/test_plasticity_lava.py`` proves the equality against Lava step by step.

Pure functions on numpy int64 arrays, vectorised over the synapses of one connection
(``weights`` has shape ``(n_post, n_pre)``, Lava's layout)::

    streams = random_streams(params.rule, n_steps)
    state = initial_state(weights, params)
    for t in range(n_steps):
        a = state.a_buff                  # what the connection sends to the post neurons now
        post = <post neurons>(a)          # their spikes (and, for 3-factor rules, y1 y2 y3)
        state = step(state, params, streams, pre[:, t], post, y)

One Lava time step of the connection is a *spike phase* (send the previous accumulation, accumulate
this step's pre spikes with the current weights, record within-epoch spike times) and, every
``t_epoch`` steps, a *learning phase* (decay / impulse the traces over the epoch, evaluate the rule,
update weights / tags / delays). Both are exposed (:func:`spike_phase`, :func:`learning_phase`) so
that counters can look at the state in between (:mod:`.counters`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from modspike.errors import PlasticityError

from .rules import (
    ACCUMULATOR_BITS,
    SYNVAR_BITS,
    TRACE_FRACTION_BITS,
    TRACE_MAX,
    LearningRule,
    Product,
)

SIGN_MODES = ("mixed", "excitatory", "inhibitory")
ACC_SHIFT = (ACCUMULATOR_BITS + 1) - (SYNVAR_BITS + 1)  # 7: synaptic variable -> accumulator
ACC_MIN, ACC_MAX = -(2**ACCUMULATOR_BITS) - 1, 2**ACCUMULATOR_BITS - 1  # Lava's (sic) bounds
ROUND_UNIT = 2 ** (ACCUMULATOR_BITS - SYNVAR_BITS)  # 128: stochastic rounding granularity
WEIGHT_RANGE = {"mixed": (-256, 255), "excitatory": (0, 255), "inhibitory": (-255, 0)}
TAG1_RANGE = (-(2**SYNVAR_BITS) - 1, 2**SYNVAR_BITS - 1)  # (-257, 255), as in Lava
TAG2_RANGE = (0, 2**SYNVAR_BITS - 1)
CONN_SEED = 2  # ConnVarRandom() is built with its default seed, whatever the rule's rng_seed


@dataclass(frozen=True)
class EngineParams:
    """A plastic connection: its rule and Lava's ``LearningDense`` options.

    ``sign_mode``: Lava's learning models default to ``mixed`` (not the sign of the weights, as the
    static ``Dense`` does). ``num_weight_bits`` truncates the initial weights (mixed drops one more
    bit); ``weight_exp`` shifts the synaptic output (not the learning).
    """

    rule: LearningRule
    sign_mode: str = "mixed"
    weight_exp: int = 0
    num_weight_bits: int = 8

    def __post_init__(self):
        if not isinstance(self.rule, LearningRule):
            raise PlasticityError(f"rule must be a LearningRule, got {type(self.rule).__name__}")
        if self.sign_mode not in SIGN_MODES:
            raise PlasticityError(
                f"sign_mode {self.sign_mode!r} is not one of {', '.join(SIGN_MODES)}"
            )
        if not isinstance(self.weight_exp, int) or not -8 <= self.weight_exp <= 8:
            raise PlasticityError(f"weight_exp {self.weight_exp!r} must be an integer in -8..8")
        if not isinstance(self.num_weight_bits, int) or not 1 <= self.num_weight_bits <= 8:
            raise PlasticityError(f"num_weight_bits {self.num_weight_bits!r} must be in 1..8")


class PlasticState(NamedTuple):
    """State of one plastic connection after ``t`` time steps (Lava's Var names)."""

    t: int
    weights: np.ndarray  # (n_post, n_pre)
    tag_1: np.ndarray  # (n_post, n_pre): the tag t (eligibility trace of R-STDP)
    tag_2: np.ndarray  # (n_post, n_pre): the delay d (learned only; it delays nothing, as in Lava)
    x1: np.ndarray  # (n_pre,) pre-synaptic traces
    x2: np.ndarray
    y1: np.ndarray  # (n_post,) post-synaptic traces
    y2: np.ndarray
    y3: np.ndarray
    tx: np.ndarray  # (n_pre,) within-epoch time of the last pre spike, 0: none
    ty: np.ndarray  # (n_post,)
    a_buff: np.ndarray  # (n_post,) accumulation sent to the post neurons at the next step


class RandomStreams(NamedTuple):
    """The random numbers Lava's generators produce, drawn once (numpy draws in bulk are the same
    sequence as Lava's one-at-a-time draws; a test checks it against Lava's own classes).

    ``x_decay[k]`` / ``x_impulse[k]`` are the values after ``k`` advances of the pre-synaptic
    ``TraceRandom`` (seeds ``rng_seed``, ``rng_seed + 1``); ``y_*`` the post-synaptic one (seeds
    ``+2``, ``+3``); both advance twice per time step. ``conn[m]`` is the ``ConnVarRandom`` value
    after ``m`` learning epochs (seed 2, fixed in Lava).
    """

    x_decay: np.ndarray
    x_impulse: np.ndarray
    y_decay: np.ndarray
    y_impulse: np.ndarray
    conn: np.ndarray

    @property
    def steps(self) -> int:
        return (len(self.x_decay) - 1) // 2


def random_streams(rule: LearningRule, n_steps: int, conn_seed: int = CONN_SEED) -> RandomStreams:
    """The random numbers a run of ``n_steps`` time steps uses (``conn_seed``: Lava always uses 2;
    another value draws a different stream for the synaptic-variable rounding, for studies of the
    rounding noise)."""
    if n_steps < 0:
        raise PlasticityError(f"n_steps {n_steps} must be >= 0")
    s = rule.rng_seed
    k = 2 * n_steps + 1
    m = n_steps // rule.t_epoch + 1

    def unit(seed: int, n: int) -> np.ndarray:
        return np.random.default_rng(seed).random(n)

    def ints(seed: int) -> np.ndarray:
        return np.random.default_rng(seed).integers(0, 2**7, size=k, dtype=int).astype(np.int64)

    return RandomStreams(unit(s, k), ints(s + 1), unit(s + 2, k), ints(s + 3), unit(conn_seed, m))


def _as_int_matrix(name: str, a, shape: tuple[int, int] | None = None) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise PlasticityError(f"{name} must be a 2-D (n_post, n_pre) array, got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise PlasticityError(f"{name} has shape {arr.shape}, expected {shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise PlasticityError(f"{name} must hold integers (the fixed-point grid)")
    return arr.astype(np.int64)


def truncate_weights(weights: np.ndarray, sign_mode: str, num_weight_bits: int) -> np.ndarray:
    """Lava's ``truncate_weights``: drop ``8 - num_weight_bits (+1 if mixed)`` low bits (floor;
    inhibitory weights are negated around it)."""
    w = np.asarray(weights, dtype=np.int64)
    n = 8 - num_weight_bits + (sign_mode == "mixed")
    if sign_mode == "inhibitory":
        return -((-w >> n) << n)
    return (w >> n) << n


def initial_state(weights, params: EngineParams, tag_1=None, tag_2=None) -> PlasticState:
    """State before the first step: Lava's truncation of the initial weights applied, traces 0.

    Weights must lie in the 8-bit range of the sign mode (mixed -256..255, excitatory 0..255,
    inhibitory -255..0); tags in their ranges.
    """
    w = _as_int_matrix("weights", weights)
    lo, hi = WEIGHT_RANGE[params.sign_mode]
    if w.size and (w.min() < lo or w.max() > hi):
        raise PlasticityError(
            f"weights must lie in {lo}..{hi} for sign mode {params.sign_mode}, "
            f"got {w.min()}..{w.max()}"
        )
    n_post, n_pre = w.shape
    t1 = np.zeros_like(w) if tag_1 is None else _as_int_matrix("tag_1", tag_1, w.shape)
    t2 = np.zeros_like(w) if tag_2 is None else _as_int_matrix("tag_2", tag_2, w.shape)
    if t1.size and (t1.min() < TAG1_RANGE[0] or t1.max() > TAG1_RANGE[1]):
        raise PlasticityError(f"tag_1 must lie in {TAG1_RANGE[0]}..{TAG1_RANGE[1]}")
    if t2.size and (t2.min() < TAG2_RANGE[0] or t2.max() > TAG2_RANGE[1]):
        raise PlasticityError(f"tag_2 must lie in {TAG2_RANGE[0]}..{TAG2_RANGE[1]}")
    zpre = np.zeros(n_pre, dtype=np.int64)
    zpost = np.zeros(n_post, dtype=np.int64)
    return PlasticState(
        t=0,
        weights=truncate_weights(w, params.sign_mode, params.num_weight_bits),
        tag_1=t1,
        tag_2=t2,
        x1=zpre,
        x2=zpre.copy(),
        y1=zpost,
        y2=zpost.copy(),
        y3=zpost.copy(),
        tx=zpre.copy(),
        ty=zpost.copy(),
        a_buff=zpost.copy(),
    )


# --------------------------------------------------------------------------- traces


@functools.lru_cache(maxsize=256)
def _impulse_parts(impulse: float) -> tuple[int, int]:
    """Lava's ``_decompose_impulses``: integer part and fraction in 1/256 (rounded half to even)."""
    i = int(np.floor(impulse))
    return i, int(np.round((impulse - i) * 2**TRACE_FRACTION_BITS))


def add_impulse(trace: np.ndarray, random: int, impulse: float) -> np.ndarray:
    """Lava's ``_add_impulse``: ``trace + int + (random < frac)``, saturated to 0..127.

    ``random`` is a 7-bit integer (0..127) while ``frac`` counts 1/256: a fraction ``f`` is added
    with probability ``min(2f, 1)``, not ``f`` (Lava's arithmetic, kept bit for bit).
    """
    i, frac = _impulse_parts(impulse)
    out = trace + i + (random < frac)
    return np.clip(out, 0, TRACE_MAX)


def decay_trace(trace: np.ndarray, tau: float, random: float) -> np.ndarray:
    """Lava's ``_decay_trace`` over one step: ``floor(exp(-1/tau) * trace) + (random < frac)``."""
    scaled = np.exp(-1 / np.float64(tau)) * trace
    frac = scaled % 1
    return (np.floor(scaled) + (random < frac)).astype(np.int64)


def post_trace_decay(tau: float) -> int:
    """12-bit decay of the neuron-side post trace of three-factor rules: ``round(4096(1-e^-1/tau))``
    (0 for ``tau = 0``: no decay)."""
    if tau < 0:
        raise PlasticityError(f"post trace tau {tau} must not be negative")
    if tau == 0:
        return 0
    return int(np.floor(4096 * (1 - np.exp(-1 / tau)) + 0.5))


def post_trace_step(y: np.ndarray, spikes: np.ndarray, impulse: int, decay: int) -> np.ndarray:
    """The post-synaptic trace a three-factor neuron sends (modspike's ``RewardLIF``): Lava's
    12-bit decay ``(y * (4096 - decay)) >> 12`` then ``+ impulse`` on a spike, saturated to 0..127.

    Lava 0.10's fixed-point ``LearningLIF`` never sends its traces, so this rule is modspike's; the
    Lava process (``modspike.hw.lava.procs.plastic_models``) computes the same integers.
    """
    y = np.asarray(y, dtype=np.int64)
    out = ((y * (4096 - decay)) >> 12) + impulse * np.asarray(spikes, dtype=np.int64)
    return np.clip(out, 0, TRACE_MAX)


def _within_epoch(t: int, t_epoch: int) -> int:
    r = t % t_epoch
    return t_epoch if r == 0 else r


def spike_phase(
    state: PlasticState,
    params: EngineParams,
    streams: RandomStreams,
    pre: np.ndarray,
    post: np.ndarray,
    y: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> PlasticState:
    """Lava's ``run_spk`` of the connection at step ``state.t + 1``.

    ``pre``: this step's pre-synaptic spikes (binary), ``post``: the post neurons' spikes of this
    step (the back-propagating action potential). ``y``: for three-factor rules, the ``y1, y2, y3``
    the post neurons send this step (they replace the connection's y traces).
    """
    rule = params.rule
    t = state.t + 1
    if t > streams.steps:
        raise PlasticityError(f"random streams cover {streams.steps} steps; step {t} asked")
    pre = np.asarray(pre).astype(bool)
    post = np.asarray(post).astype(bool)
    if pre.shape != state.x1.shape or post.shape != state.y1.shape:
        raise PlasticityError(
            f"spikes of shape {pre.shape} / {post.shape} do not fit a "
            f"{state.weights.shape} connection"
        )
    # synaptic output for the next step, with the weights before this step's learning
    acc = state.weights[:, pre].sum(axis=1)
    we = params.weight_exp
    a_buff = acc << we if we > 0 else acc >> -we
    within = _within_epoch(t, rule.t_epoch)
    # pre spikes: a second spike within the epoch adds its impulse now (random = 0 in Lava)
    x1, x2, tx = state.x1.copy(), state.x2.copy(), state.tx.copy()
    multi = (tx > 0) & pre
    if multi.any():
        x1[multi] = add_impulse(x1[multi], 0, rule.x1.impulse)
        x2[multi] = add_impulse(x2[multi], 0, rule.x2.impulse)
    tx[pre] = within
    # post spikes (after the first advance of the trace generators)
    y1, y2, y3, ty = state.y1.copy(), state.y2.copy(), state.y3.copy(), state.ty.copy()
    multi = (ty > 0) & post
    if multi.any():
        r = int(streams.y_impulse[2 * t - 1])
        y1[multi] = add_impulse(y1[multi], r, rule.y1.impulse)
        y2[multi] = add_impulse(y2[multi], r, rule.y2.impulse)
        y3[multi] = add_impulse(y3[multi], r, rule.y3.impulse)
    ty[post] = within
    if rule.three_factor:
        if y is None:
            raise PlasticityError("a three-factor rule needs the post neurons' y1, y2, y3")
        y1, y2, y3 = (np.asarray(v).astype(np.int64).reshape(state.y1.shape) for v in y)
    return state._replace(
        t=t, x1=x1, x2=x2, tx=tx, y1=y1, y2=y2, y3=y3, ty=ty, a_buff=a_buff.astype(np.int64)
    )


def is_learning_step(state: PlasticState, params: EngineParams) -> bool:
    """True when the step just taken (``state.t``) ends a learning epoch."""
    return state.t > 0 and state.t % params.rule.t_epoch == 0


def trace_history(
    values: np.ndarray, taus, impulses, spike_times: np.ndarray, t_epoch: int, rnd_decay, rnd_imp
) -> np.ndarray:
    """Lava's ``_compute_trace_histories`` for one group of traces: ``(t_epoch + 1, k, n)``.

    Step ``s`` decays every trace with a nonzero tau (a zero tau leaves 0: no memory) and adds the
    impulse to the neurons whose within-epoch spike time is ``s``. One random number of each kind
    serves the whole epoch and every neuron.
    """
    hist = np.zeros((t_epoch + 1,) + values.shape, dtype=np.int64)
    hist[0] = values
    for s in range(1, t_epoch + 1):
        ids = spike_times == s
        hit = ids.any()
        for k, (tau, imp) in enumerate(zip(taus, impulses)):
            if tau != 0:
                hist[s, k] = decay_trace(hist[s - 1, k], tau, rnd_decay)
            if hit:
                hist[s, k, ids] = add_impulse(hist[s, k, ids], rnd_imp, imp)
    return hist


def _wrap32(x: np.ndarray) -> np.ndarray:
    """int32 wrap-around of Lava's in-place int32 products."""
    return ((np.asarray(x, dtype=np.int64) + 2**31) % 2**32) - 2**31


def evaluate_products(products: tuple[Product, ...], acc: np.ndarray, args: dict) -> np.ndarray:
    """``LearningRuleApplierBitApprox.apply``: add every product to the accumulator ``acc``.

    Each product starts from int32 ones times its dependency, multiplies factor values saturated
    to their signed width, the mantissa, shifts right by ``max(0, widths + 4 - 15)``, left by the
    exponent + 7, saturates to the accumulator and is added (saturating) to it.
    """
    shape = args["shape"]
    result = acc
    for p in products:
        cur = np.ones(shape, dtype=np.int64) * args[p.dependency]
        for f in p.factors:
            const = f.const if f.const is not None else 0
            if f.var in ("x0", "y0"):
                val = args[f.var] + const
            elif f.var in ("w", "d", "t"):
                val = args[f.var] + const
                if f.sgn:
                    val = np.sign(val)
            else:
                val = args[f"{f.var}_{p.dependency}"] + const
            val = np.clip(val, -(2**f.width), 2**f.width - 1)
            cur = _wrap32(cur * val)
        cur = _wrap32(cur * p.mantissa)
        cur = cur >> p.shift
        cur = _wrap32(cur << (p.exponent + 7))
        cur = np.clip(cur, ACC_MIN, ACC_MAX)
        result = np.clip(result + cur, ACC_MIN, ACC_MAX)
    return result


def _stochastic_round(acc: np.ndarray, random: float) -> np.ndarray:
    """Lava's ``_stochastic_round_synaptic_variable``: to a multiple of 128 in the accumulator."""
    q = acc / ROUND_UNIT
    frac = q % 1
    return ((np.floor(q) + (random < frac)) * ROUND_UNIT).astype(np.int64)


def learning_phase(
    state: PlasticState, params: EngineParams, streams: RandomStreams
) -> PlasticState:
    """Lava's ``run_lrn`` (called when :func:`is_learning_step`): traces over the epoch, the rule,
    the synaptic variables; within-epoch spike times reset."""
    rule = params.rule
    t = state.t
    k = 2 * t
    x_hist = trace_history(
        np.stack([state.x1, state.x2]),
        (rule.x1.tau, rule.x2.tau),
        (rule.x1.impulse, rule.x2.impulse),
        state.tx,
        rule.t_epoch,
        streams.x_decay[k],
        int(streams.x_impulse[k]),
    )
    y_hist = trace_history(
        np.stack([state.y1, state.y2, state.y3]),
        (rule.y1.tau, rule.y2.tau, rule.y3.tau),
        (rule.y1.impulse, rule.y2.impulse, rule.y3.impulse),
        state.ty,
        rule.t_epoch,
        streams.y_decay[k],
        int(streams.y_impulse[k]),
    )
    tx, ty = state.tx, state.ty
    n_post, n_pre = state.weights.shape
    x0 = tx > 0
    y0 = ty > 0
    u = 0
    if rule.decimate_exponent is not None:
        u = 1 if (t // rule.t_epoch) % 2**rule.decimate_exponent == 0 else 0
    args = {
        "shape": (n_post, n_pre),
        "x0": x0[np.newaxis, :].astype(np.int64),
        "y0": y0[:, np.newaxis].astype(np.int64),
        "u": u,
        "w": state.weights,
        "d": state.tag_2,
        "t": state.tag_1,
    }
    pre_idx, post_idx = np.arange(n_pre), np.arange(n_post)
    for i, name in enumerate(("x1", "x2")):
        args[f"{name}_x0"] = x_hist[tx, i, pre_idx][np.newaxis, :]
        args[f"{name}_y0"] = x_hist[ty][:, i, :]
        args[f"{name}_u"] = x_hist[-1, i][np.newaxis, :]
    for i, name in enumerate(("y1", "y2", "y3")):
        args[f"{name}_x0"] = y_hist[tx][:, i, :].T
        args[f"{name}_y0"] = y_hist[ty, i, post_idx][:, np.newaxis]
        args[f"{name}_u"] = y_hist[-1, i][:, np.newaxis]
    r = streams.conn[t // rule.t_epoch]
    new = {}
    for var, products in rule.active_targets().items():
        old = {"weights": state.weights, "tag_2": state.tag_2, "tag_1": state.tag_1}[var]
        acc = evaluate_products(products, old << ACC_SHIFT, args)
        if var == "weights":
            if params.sign_mode == "excitatory":
                acc = np.maximum(0, acc)
            elif params.sign_mode == "inhibitory":
                acc = np.minimum(0, acc)
        elif var == "tag_2":
            acc = np.maximum(0, acc)
        val = _stochastic_round(acc, r) >> ACC_SHIFT
        lo, hi = {
            "weights": WEIGHT_RANGE[params.sign_mode],
            "tag_2": TAG2_RANGE,
            "tag_1": TAG1_RANGE,
        }[var]
        new[var] = np.clip(val, lo, hi)
    x1, x2 = x_hist[-1]
    y_new = {}
    if not rule.three_factor:
        y_new = dict(zip(("y1", "y2", "y3"), y_hist[-1]))
    return state._replace(
        weights=new.get("weights", state.weights),
        tag_2=new.get("tag_2", state.tag_2),
        tag_1=new.get("tag_1", state.tag_1),
        x1=x1.copy(),
        x2=x2.copy(),
        tx=np.zeros_like(tx),
        ty=np.zeros_like(ty),
        **{k: v.copy() for k, v in y_new.items()},
    )


def step(
    state: PlasticState,
    params: EngineParams,
    streams: RandomStreams,
    pre: np.ndarray,
    post: np.ndarray,
    y: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> PlasticState:
    """One Lava time step of a plastic connection: :func:`spike_phase` then, at the end of a
    learning epoch, :func:`learning_phase`."""
    state = spike_phase(state, params, streams, pre, post, y)
    if is_learning_step(state, params):
        state = learning_phase(state, params, streams)
    return state
