"""The learning rules in float torch: the integer engine (:mod:`.engine`) without its rounding.

Same learning epoch, spike-time bookkeeping, factor saturation, accumulator / weight bounds and the
same per-product scale ``mantissa * 2**(exponent - shift)`` (the engine's right shift of wide
products, e.g. ``2**-5`` on R-STDP's ``t * y2``, is part of the rule's meaning on Loihi; Lava's own
``floating_pt`` model leaves it out, so its R-STDP weight change is 32 times the fixed-point one).
What is left out: stochastic rounding of trace decays, impulses and synaptic variables (unbiased
on average), the int32 wrap-around, and the floor of a shifted product (biased: the engine loses
half a unit per evaluation on average when ``2**shift`` does not divide the product, e.g.
R-STDP's ``t * y2 / 32`` for a reward ``y2`` that is not a multiple of 32). Emulating that floor on
real-valued state does not help: a float tag decays geometrically and never reaches the integer
engine's exact 0, so ``floor`` of a tiny negative tag costs a whole unit on every epoch. Weights and
traces stay real numbers, so the functions differentiate (``torch`` autograd) for training and
analysis.

``docs/plasticity.md`` states how far float and integer learning curves drift apart (measured by
``tests/test_plasticity_float.py``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from modspike.errors import PlasticityError

from .engine import (
    ACC_MAX,
    ACC_MIN,
    ACC_SHIFT,
    TAG1_RANGE,
    TAG2_RANGE,
    WEIGHT_RANGE,
    EngineParams,
    truncate_weights,
)
from .rules import TRACE_MAX, Product

ACC_LO, ACC_HI = (
    ACC_MIN / 2**ACC_SHIFT,
    ACC_MAX / 2**ACC_SHIFT,
)  # accumulator bounds, synaptic units


class FloatState(NamedTuple):
    t: int
    weights: torch.Tensor  # (n_post, n_pre)
    tag_1: torch.Tensor
    tag_2: torch.Tensor
    x1: torch.Tensor  # (n_pre,)
    x2: torch.Tensor
    y1: torch.Tensor  # (n_post,)
    y2: torch.Tensor
    y3: torch.Tensor
    tx: torch.Tensor  # (n_pre,) long
    ty: torch.Tensor  # (n_post,) long
    a_buff: torch.Tensor  # (n_post,)


def float_initial_state(
    weights, params: EngineParams, dtype: torch.dtype = torch.float64
) -> FloatState:
    """Initial state; integer initial weights get Lava's truncation, as in the integer engine."""
    w = np.asarray(weights)
    if w.ndim != 2:
        raise PlasticityError(f"weights must be a 2-D (n_post, n_pre) array, got shape {w.shape}")
    if np.issubdtype(w.dtype, np.integer):
        w = truncate_weights(w, params.sign_mode, params.num_weight_bits)
    wt = torch.as_tensor(np.asarray(w, dtype=np.float64), dtype=dtype)
    n_post, n_pre = wt.shape
    zpre = torch.zeros(n_pre, dtype=dtype)
    zpost = torch.zeros(n_post, dtype=dtype)
    return FloatState(
        t=0,
        weights=wt,
        tag_1=torch.zeros_like(wt),
        tag_2=torch.zeros_like(wt),
        x1=zpre,
        x2=zpre.clone(),
        y1=zpost,
        y2=zpost.clone(),
        y3=zpost.clone(),
        tx=torch.zeros(n_pre, dtype=torch.long),
        ty=torch.zeros(n_post, dtype=torch.long),
        a_buff=zpost.clone(),
    )


def _impulse(trace: torch.Tensor, impulse: float) -> torch.Tensor:
    return torch.clamp(trace + impulse, 0, TRACE_MAX)


def _decay(trace: torch.Tensor, tau: float) -> torch.Tensor:
    return trace * math.exp(-1 / tau) if tau != 0 else torch.zeros_like(trace)


def float_post_trace_step(
    y: torch.Tensor, spikes: torch.Tensor, impulse: float, tau: float
) -> torch.Tensor:
    """The neuron-side post trace of three-factor rules: ``y e^{-1/tau} + impulse * s`` (<= 127)."""
    return torch.clamp(_decay(y, tau) + impulse * spikes.to(y.dtype), 0, TRACE_MAX)


def _history(values: torch.Tensor, traces, spike_times: torch.Tensor, t_epoch: int) -> torch.Tensor:
    """``(t_epoch + 1, k, n)``: decay every step, impulse at each neuron's within-epoch spike time."""
    hist = [values]
    for s in range(1, t_epoch + 1):
        rows = []
        for k, tr in enumerate(traces):
            row = _decay(hist[-1][k], tr.tau)
            hit = spike_times == s
            rows.append(torch.where(hit, _impulse(row, tr.impulse), row))
        hist.append(torch.stack(rows))
    return torch.stack(hist)


def _products(products: tuple[Product, ...], old: torch.Tensor, args: dict) -> torch.Tensor:
    result = old
    for p in products:
        cur = torch.ones(args["shape"], dtype=old.dtype) * args[p.dependency]
        for f in p.factors:
            const = f.const if f.const is not None else 0
            if f.var in ("x0", "y0", "w", "d", "t"):
                val = args[f.var] + const
                if f.sgn:
                    val = torch.sign(val)
            else:
                val = args[f"{f.var}_{p.dependency}"] + const
            cur = cur * torch.clamp(val, -(2**f.width), 2**f.width - 1)
        cur = torch.clamp(cur * p.scale, ACC_LO, ACC_HI)
        result = torch.clamp(result + cur, ACC_LO, ACC_HI)
    return result


def float_step(
    state: FloatState,
    params: EngineParams,
    pre: torch.Tensor,
    post: torch.Tensor,
    y: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
) -> FloatState:
    """One time step (spike phase, and the learning phase at the end of an epoch) in float."""
    rule = params.rule
    t = state.t + 1
    pre = torch.as_tensor(pre).to(torch.bool)
    post = torch.as_tensor(post).to(torch.bool)
    dtype = state.weights.dtype
    a_buff = state.weights[:, pre].sum(dim=1) * 2.0**params.weight_exp
    within = t % rule.t_epoch or rule.t_epoch
    multi = (state.tx > 0) & pre
    x1 = torch.where(multi, _impulse(state.x1, rule.x1.impulse), state.x1)
    x2 = torch.where(multi, _impulse(state.x2, rule.x2.impulse), state.x2)
    tx = torch.where(pre, torch.full_like(state.tx, within), state.tx)
    multi = (state.ty > 0) & post
    y1 = torch.where(multi, _impulse(state.y1, rule.y1.impulse), state.y1)
    y2 = torch.where(multi, _impulse(state.y2, rule.y2.impulse), state.y2)
    y3 = torch.where(multi, _impulse(state.y3, rule.y3.impulse), state.y3)
    ty = torch.where(post, torch.full_like(state.ty, within), state.ty)
    if rule.three_factor:
        if y is None:
            raise PlasticityError("a three-factor rule needs the post neurons' y1, y2, y3")
        y1, y2, y3 = (torch.as_tensor(v, dtype=dtype).reshape(state.y1.shape) for v in y)
    state = state._replace(t=t, x1=x1, x2=x2, y1=y1, y2=y2, y3=y3, tx=tx, ty=ty, a_buff=a_buff)
    if t % rule.t_epoch != 0:
        return state
    x_hist = _history(torch.stack([x1, x2]), (rule.x1, rule.x2), tx, rule.t_epoch)
    y_hist = _history(torch.stack([y1, y2, y3]), (rule.y1, rule.y2, rule.y3), ty, rule.t_epoch)
    n_post, n_pre = state.weights.shape
    u = 0.0
    if rule.decimate_exponent is not None:
        u = 1.0 if (t // rule.t_epoch) % 2**rule.decimate_exponent == 0 else 0.0
    args = {
        "shape": (n_post, n_pre),
        "x0": (tx > 0).to(dtype)[None, :],
        "y0": (ty > 0).to(dtype)[:, None],
        "u": u,
        "w": state.weights,
        "d": state.tag_2,
        "t": state.tag_1,
    }
    pre_idx, post_idx = torch.arange(n_pre), torch.arange(n_post)
    for i, name in enumerate(("x1", "x2")):
        args[f"{name}_x0"] = x_hist[tx, i, pre_idx][None, :]
        args[f"{name}_y0"] = x_hist[ty][:, i, :]
        args[f"{name}_u"] = x_hist[-1, i][None, :]
    for i, name in enumerate(("y1", "y2", "y3")):
        args[f"{name}_x0"] = y_hist[tx][:, i, :].T
        args[f"{name}_y0"] = y_hist[ty, i, post_idx][:, None]
        args[f"{name}_u"] = y_hist[-1, i][:, None]
    new = {}
    for var, products in rule.active_targets().items():
        old = {"weights": state.weights, "tag_2": state.tag_2, "tag_1": state.tag_1}[var]
        acc = _products(products, old, args)
        if var == "weights":
            if params.sign_mode == "excitatory":
                acc = torch.clamp(acc, min=0)
            elif params.sign_mode == "inhibitory":
                acc = torch.clamp(acc, max=0)
        elif var == "tag_2":
            acc = torch.clamp(acc, min=0)
        lo, hi = {
            "weights": WEIGHT_RANGE[params.sign_mode],
            "tag_2": TAG2_RANGE,
            "tag_1": TAG1_RANGE,
        }[var]
        new[var] = torch.clamp(acc, lo, hi)
    y_new = {} if rule.three_factor else dict(zip(("y1", "y2", "y3"), y_hist[-1]))
    return state._replace(
        weights=new.get("weights", state.weights),
        tag_2=new.get("tag_2", state.tag_2),
        tag_1=new.get("tag_1", state.tag_1),
        x1=x_hist[-1, 0],
        x2=x_hist[-1, 1],
        tx=torch.zeros_like(tx),
        ty=torch.zeros_like(ty),
        **y_new,
    )


def float_open_loop(
    weights,
    params: EngineParams,
    pre: np.ndarray,
    post: np.ndarray,
    y: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """:func:`modspike.plasticity.sim.run_open_loop` in float: per-step ``weights``, ``tag_1``,
    ``x1``, ``y1`` as float64 arrays ``(T, ...)``."""
    state = float_initial_state(weights, params)
    pre_t = torch.as_tensor(np.asarray(pre))
    post_t = torch.as_tensor(np.asarray(post))
    keys = ("weights", "tag_1", "x1", "y1")
    out = {k: [] for k in keys}
    with torch.no_grad():
        for t in range(pre_t.shape[1]):
            yt = None if y is None else tuple(torch.as_tensor(y[:, :, t], dtype=torch.float64))
            state = float_step(state, params, pre_t[:, t], post_t[:, t], yt)
            for k in keys:
                out[k].append(getattr(state, k).numpy().copy())
    return {k: np.stack(v) for k, v in out.items()}
