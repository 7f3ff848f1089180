"""Training step time of one SRC layer against one snntorch ``Leaky`` layer of the same size.

One step = forward over T time steps + backward, batch 128, T = 25, 64 inputs -> 64 neurons,
followed (for every variant alike) by the readout the networks use: the layer's output summed
over time, a linear readout to 10 classes and cross-entropy. All variants run in this one process,
interleaved round by round (so slow phases of a shared machine hit every variant alike), and the
median per variant is reported. The ratio to the snntorch ``Leaky`` layer is paired: in each
round, the variant's time over ``Leaky``'s time in that round; the median of those ratios (and
their interquartile range) is what the table shows, so that load from other processes on a shared
machine cancels out instead of widening the spread.

Variants:

- ``lif``: our ``CellLayer`` around ``LIFCell`` (snntorch ``Leaky``, beta 0.9, reset to zero);
  the reference of every ratio.
- ``leaky_raw``: a bare ``nn.Linear`` + ``snn.Leaky()`` with snntorch's defaults (reset by
  subtraction), to show that the wrapper costs nothing.
- ``src``: ``CellLayer`` + ``SRCCell``, recurrent state detached (the default).
- ``src_keep``: the same with ``detach_rec=False``.
- ``msrc``: ``CellLayer`` + ``MSRCCell`` (learnable ``h_s0``), detached.
- ``src_fast`` / ``msrc_fast``: a prototype of the same step arithmetic with fewer autograd
  nodes (see :func:`src_step_fast`); checked against ``src_step`` / ``msrc_step`` before timing.

Writes ``benchmarks/results/step_time.json`` and ``benchmarks/results/step_time.md``
(``--quick``: 10 rounds, into ``benchmarks/results/quick/``).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import snntorch as snn
import torch
from torch import nn

from modspike.train.cells import LIFCell, MSRCCell, SRCCell, SRCConstants
from modspike.train.cells.msrc import MSRCConstants, MSRCState
from modspike.train.cells.src import SRCState
from modspike.train.network import CellLayer

RESULTS = Path(__file__).resolve().parent / "results"
REFERENCE = "lif"


# --- prototype: the SRC / mSRC step with fewer autograd nodes -------------------------------------


def relu_straight_through(h: torch.Tensor) -> torch.Tensor:
    """``max(h, 0)`` forward, identity backward, without a Python ``autograd.Function``.

    ``h - min(h, 0)`` is exactly ``max(h, 0)`` in floating point (``h - h == 0``), and the
    subtracted term is detached, so the gradient is the identity, as in ``straight_through_relu``.
    """
    return h - h.detach().clamp(max=0)


def src_step_fast(
    a_in: torch.Tensor, state: SRCState, bh: torch.Tensor, c: SRCConstants
) -> tuple[torch.Tensor, SRCState]:
    """``src_step`` (detached recurrence, ``z = 0``) with the state-only arithmetic out of autograd.

    With ``h[t-1]`` and ``h_s[t-1]`` detached, ``z_s``, the new slow state and the recurrent
    terms ``r h + r_s h_s`` carry no gradient: compute them under ``no_grad``, so that autograd
    records only the input synapse, two additions, the bias clamp, ``tanh`` and the ReLU.
    The additions keep the reference order ``((x + r h) + r_s h_s) + b_h`` and hence its rounding.
    """
    assert c.detach_rec and c.z == 0.0 and c.rho is not None
    i = c.alpha * state.i + a_in
    x = c.rho * torch.tanh(i / c.rho)
    with torch.no_grad():
        h, hs = state.h, state.hs
        zs = c.zs_hyp - (c.zs_hyp - c.zs_dep) * torch.sigmoid(c.zs_slope * (h - c.zs_mid))
        hs_new = zs * hs + (1 - zs) * h
        rh, rshs = c.r * h, c.rs * hs
    bh_c = bh if c.bh_max is None else torch.clamp(bh, max=c.bh_max)
    h_new = torch.tanh(x + rh + rshs + bh_c)
    return relu_straight_through(h_new), SRCState(i, h_new.detach(), hs_new)


def msrc_step_fast(
    a_in: torch.Tensor, state: MSRCState, b: torch.Tensor, hs0: torch.Tensor, c: MSRCConstants
) -> tuple[torch.Tensor, MSRCState]:
    """``msrc_step`` (detached, no ultraslow term) restructured like :func:`src_step_fast`.

    ``(h_s + h_s0)^2`` depends on the learnable ``h_s0`` and stays in the graph.
    """
    assert c.detach_rec and c.ru is None and c.rho is not None
    i = c.alpha * state.i + a_in
    x = c.rho * torch.tanh(i / c.rho)
    with torch.no_grad():
        h, hs = state.h, state.hs
        zs = c.zs_hyp - (c.zs_hyp - c.zs_dep) * torch.sigmoid(c.zs_slope * (h - c.zs_mid))
        hs_new = zs * hs + (1 - zs) * h
        rh = c.r * h
    h_new = torch.tanh(x + rh + c.rs * (hs + hs0) ** 2 + b)
    return relu_straight_through(h_new), MSRCState(i, h_new.detach(), hs_new, state.hu)


class _SRCStepFused(torch.autograd.Function):
    """The detached SRC step as one autograd node: forward as ``src_step``, backward by hand.

    The backward pass needs only ``d out/d pre = 1 - h^2`` (straight-through ReLU, ``tanh``),
    ``d x/d i = 1 - tanh(i/rho)^2`` and the bias clamp's mask; autograd would otherwise record
    about ten nodes per neuron step, and on a 128 x 64 layer their fixed cost dominates.
    """

    @staticmethod
    def forward(ctx, a_in, i_prev, bh, h, hs, c: SRCConstants):  # noqa: D102
        i = c.alpha * i_prev + a_in
        th = torch.tanh(i / c.rho)
        x = c.rho * th
        zs = c.zs_hyp - (c.zs_hyp - c.zs_dep) * torch.sigmoid(c.zs_slope * (h - c.zs_mid))
        bh_c = bh if c.bh_max is None else torch.clamp(bh, max=c.bh_max)
        h_new = torch.tanh(x + c.r * h + c.rs * hs + bh_c)
        hs_new = zs * hs + (1 - zs) * h
        mask = torch.ones_like(bh) if c.bh_max is None else (bh <= c.bh_max).to(bh.dtype)
        ctx.save_for_backward(th, h_new, mask)
        ctx.alpha = c.alpha
        ctx.mark_non_differentiable(h_new, hs_new)
        return h_new.clamp(min=0), i, h_new, hs_new

    @staticmethod
    def backward(ctx, g_out, g_i, _g_h, _g_hs):  # noqa: D102
        th, h_new, mask = ctx.saved_tensors
        g_pre = g_out * (1 - h_new * h_new)
        g_i_total = g_pre * (1 - th * th)
        if g_i is not None:
            g_i_total = g_i_total + g_i
        g_bh = g_pre.sum(0) * mask
        return g_i_total, ctx.alpha * g_i_total, g_bh, None, None, None


def src_step_fused(
    a_in: torch.Tensor, state: SRCState, bh: torch.Tensor, c: SRCConstants
) -> tuple[torch.Tensor, SRCState]:
    """``src_step`` (detached recurrence, ``z = 0``) through :class:`_SRCStepFused`."""
    assert c.detach_rec and c.z == 0.0 and c.rho is not None
    out, i, h_new, hs_new = _SRCStepFused.apply(a_in, state.i, bh, state.h, state.hs, c)
    return out, SRCState(i, h_new, hs_new)


class FusedSRCCell(SRCCell):
    """``SRCCell`` whose forward uses :func:`src_step_fused`."""

    def forward(self, a_in: torch.Tensor, state: SRCState) -> tuple[torch.Tensor, SRCState]:
        return src_step_fused(a_in, state, self.bh, self.constants)


class FastSRCCell(SRCCell):
    """``SRCCell`` whose forward uses :func:`src_step_fast` (same parameters, same state)."""

    def forward(self, a_in: torch.Tensor, state: SRCState) -> tuple[torch.Tensor, SRCState]:
        return src_step_fast(a_in, state, self.bh, self.constants)


class FastMSRCCell(MSRCCell):
    """``MSRCCell`` whose forward uses :func:`msrc_step_fast`."""

    def forward(self, a_in: torch.Tensor, state: MSRCState, modulation=None):
        assert modulation is None
        return msrc_step_fast(a_in, state, self.b, self.hs0, self.constants)


# --- the layers under test -------------------------------------------------------------------------


class RawLeaky(nn.Module):
    """``nn.Linear`` + ``snn.Leaky(beta=0.9)`` with snntorch's defaults, the layer API of CellLayer."""

    def __init__(self, n_in: int, n: int):
        super().__init__()
        self.fc = nn.Linear(n_in, n)
        self.lif = snn.Leaky(beta=0.9)
        self.n = n

    def initial_state(self, batch: int, device=None) -> torch.Tensor:
        return torch.zeros(batch, self.n, device=device)

    def forward(self, s_in: torch.Tensor, mem: torch.Tensor):
        spk, mem = self.lif(self.fc(s_in), mem)
        return spk, mem


def make_layers(n_in: int, hidden: int) -> dict[str, nn.Module]:
    """One freshly initialised layer per variant (the seed fixes the weights)."""
    keep = SRCConstants(detach_rec=False)
    return {
        "lif": CellLayer(n_in, LIFCell(hidden)),
        "leaky_raw": RawLeaky(n_in, hidden),
        "src": CellLayer(n_in, SRCCell(hidden)),
        "src_keep": CellLayer(n_in, SRCCell(hidden, keep)),
        "src_fast": CellLayer(n_in, FastSRCCell(hidden)),
        "src_fused": CellLayer(n_in, FusedSRCCell(hidden)),
        "msrc": CellLayer(n_in, MSRCCell(hidden)),
        "msrc_fast": CellLayer(n_in, FastMSRCCell(hidden)),
    }


def run_layer(
    layer: nn.Module, readout: nn.Linear, spikes: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Forward over time, summed output, readout, cross-entropy; returns the loss."""
    steps, batch = spikes.shape[:2]
    state = layer.initial_state(batch)
    total = spikes.new_zeros(batch, readout.in_features)
    for t in range(steps):
        out, state = layer(spikes[t], state)
        total = total + out
    return nn.functional.cross_entropy(readout(total), labels)


def train_step(layer, readout, spikes, labels) -> None:
    """What one optimiser step costs apart from the update itself: zero_grad, forward, backward."""
    layer.zero_grad(set_to_none=True)
    readout.zero_grad(set_to_none=True)
    run_layer(layer, readout, spikes, labels).backward()


# --- check that the prototype keeps the arithmetic ------------------------------------------------


def check_fast_equivalence(spikes: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Max |difference| of loss and every gradient between the reference and the fast step."""
    out: dict[str, float] = {}
    pairs: list[tuple[str, Callable[[], nn.Module], Callable[[], nn.Module]]] = [
        ("src_fast", lambda: SRCCell(64), lambda: FastSRCCell(64)),
        ("src_fused", lambda: SRCCell(64), lambda: FusedSRCCell(64)),
        ("msrc_fast", lambda: MSRCCell(64), lambda: FastMSRCCell(64)),
    ]
    for name, ref_cell, fast_cell in pairs:
        torch.manual_seed(7)
        ref = CellLayer(spikes.shape[-1], ref_cell())
        fast = CellLayer(spikes.shape[-1], fast_cell())
        fast.load_state_dict(ref.state_dict())
        torch.manual_seed(8)
        readout = nn.Linear(64, 10, bias=False)
        diffs = []
        losses = []
        for layer in (ref, fast):
            readout.zero_grad(set_to_none=True)
            loss = run_layer(layer, readout, spikes, labels)
            loss.backward()
            losses.append(loss.detach())
        diffs.append(float((losses[0] - losses[1]).abs()))
        for p_ref, p_fast in zip(ref.parameters(), fast.parameters()):
            diffs.append(float((p_ref.grad - p_fast.grad).abs().max()))
        out[name] = max(diffs)
    return out


# --- profile ---------------------------------------------------------------------------------------


def profile(variants: list[str], spikes, labels, rows: int = 15) -> None:
    """Print torch.profiler's operator table for each variant (a few steps each)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    torch.manual_seed(0)
    layers = make_layers(spikes.shape[-1], 64)
    readout = nn.Linear(64, 10, bias=False)
    for name in variants:
        for _ in range(3):
            train_step(layers[name], readout, spikes, labels)
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(5):
                train_step(layers[name], readout, spikes, labels)
        print(f"\n=== {name} (5 steps) ===")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


# --- main ------------------------------------------------------------------------------------------


def measure(
    variants: list[str], spikes, labels, rounds: int, warmup: int
) -> dict[str, list[float]]:
    """Per-variant step times in seconds, interleaved: each round times every variant once,
    in a shuffled order."""
    torch.manual_seed(0)
    layers = make_layers(spikes.shape[-1], 64)
    readout = nn.Linear(64, 10, bias=False)
    for name in variants:
        for _ in range(warmup):
            train_step(layers[name], readout, spikes, labels)
    times: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    rng = random.Random(0)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            t0 = time.perf_counter()
            train_step(layers[name], readout, spikes, labels)
            times[name].append(time.perf_counter() - t0)
    return times


def to_markdown(result: dict) -> str:
    cfg = result["config"]
    lines = [
        f"Training step (forward + backward), batch {cfg['batch']}, T = {cfg['steps']}, "
        f"{cfg['n_in']} -> {cfg['hidden']}, linear readout + cross-entropy, "
        f"{cfg['threads']} torch thread(s), {cfg['rounds']} interleaved rounds, median.",
        "",
        "| layer | median ms | IQR ms | ratio to snntorch Leaky (median of per-round ratios) "
        "| ratio IQR |",
        "|---|---|---|---|---|",
    ]
    for row in result["variants"].values():
        lines.append(
            f"| {row['label']} | {row['median_ms']:.2f} | {row['q1_ms']:.2f}-{row['q3_ms']:.2f} "
            f"| {row['ratio']:.2f}x | {row['ratio_q1']:.2f}-{row['ratio_q3']:.2f} |"
        )
    if result.get("fast_check_max_abs_diff"):
        diffs = ", ".join(f"{k} {v:.1e}" for k, v in result["fast_check_max_abs_diff"].items())
        lines += [
            "",
            f"Prototype check, max |loss or gradient difference| to the reference: {diffs}.",
        ]
    return "\n".join(lines) + "\n"


LABELS = {
    "lif": "snntorch Leaky (LIFCell, reset to zero): reference",
    "leaky_raw": "snntorch Leaky, bare (defaults, reset by subtraction)",
    "src": "SRC, recurrence detached (default)",
    "src_keep": "SRC, detach_rec=False",
    "src_fast": "SRC detached, prototype: state arithmetic outside autograd",
    "src_fused": "SRC detached, prototype: one autograd node per step",
    "msrc": "mSRC (learnable h_s0), detached",
    "msrc_fast": "mSRC detached, prototype fast step",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=100, help="interleaved timing rounds")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--variants", nargs="+", default=list(LABELS), choices=list(LABELS))
    parser.add_argument("--profile", action="store_true", help="print operator profiles instead")
    parser.add_argument("--quick", action="store_true", help="10 rounds (smoke run)")
    parser.add_argument("--out", type=Path, default=None, help="default: benchmarks/results/")
    args = parser.parse_args(argv)
    if REFERENCE not in args.variants:
        args.variants.insert(0, REFERENCE)
    rounds = 10 if args.quick else args.rounds
    out_dir = args.out or (RESULTS / "quick" if args.quick else RESULTS)

    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    n_in = 64
    spikes = (torch.rand(args.steps, args.batch, n_in, generator=gen) < 0.3).float()
    labels = torch.randint(0, 10, (args.batch,), generator=gen)

    if args.profile:
        profile(args.variants, spikes, labels)
        return 0

    check = check_fast_equivalence(spikes, labels)
    times = measure(args.variants, spikes, labels, rounds, args.warmup)
    variants = {}
    for name in args.variants:
        q1, _, q3 = statistics.quantiles(times[name], n=4)
        med = statistics.median(times[name])
        ratios = [t / r for t, r in zip(times[name], times[REFERENCE])]
        r_q1, _, r_q3 = statistics.quantiles(ratios, n=4)
        variants[name] = {
            "label": LABELS[name],
            "median_ms": 1e3 * med,
            "q1_ms": 1e3 * q1,
            "q3_ms": 1e3 * q3,
            "ratio": statistics.median(ratios),
            "ratio_q1": r_q1,
            "ratio_q3": r_q3,
            "ratio_of_medians": med / statistics.median(times[REFERENCE]),
            "times_ms": [round(1e3 * t, 3) for t in times[name]],
        }
    result = {
        "config": {
            "batch": args.batch,
            "steps": args.steps,
            "n_in": n_in,
            "hidden": 64,
            "threads": args.threads,
            "rounds": rounds,
            "warmup": args.warmup,
        },
        "environment": {
            "torch": torch.__version__,
            "snntorch": snn.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
        },
        "command": " ".join(["python", "benchmarks/step_time.py", *sys.argv[1:]]),
        "variants": variants,
        "fast_check_max_abs_diff": check,
    }
    md = to_markdown(result)
    print(md)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "step_time.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "step_time.md").write_text(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
