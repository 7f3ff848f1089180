"""Training step time of one layer of each cell kind against snntorch's ``Leaky`` of the same size.

One step = forward over T time steps + backward, batch 128, T = 25, 64 inputs -> 64 neurons,
followed (for every variant alike) by the readout the networks use: the layer's output summed
over time, a linear readout to 10 classes and cross-entropy. Our layers run through the package's
one step loop (:func:`modspike.step.run`), as training does. All variants run in this one process,
interleaved round by round (so slow phases of a shared machine hit every variant alike), and the
median per variant is reported. The ratio to snntorch is paired: in each round, the variant's time
over snntorch's time in that round; the median of those ratios (and their interquartile range) is
what the table shows, so that load from other processes cancels out instead of widening the spread.

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
from pathlib import Path

import snntorch as snn
import torch
from torch import nn

from modspike import registry
from modspike.kinds.cells.lif.float_step import LIFCell
from modspike.kinds.cells.msrc.float_step import MSRCCell
from modspike.kinds.cells.src.float_step import SRCCell, SRCConstants
from modspike.step import run
from modspike.train.modules import TorchLayer, program_of

RESULTS = Path(__file__).resolve().parent / "results"
REFERENCE = "snntorch"


class SnntorchLeaky(nn.Module):
    """``nn.Linear`` + ``snn.Leaky(beta=0.9, reset_mechanism="zero")``, stepped by snntorch."""

    def __init__(self, n_in: int, n: int):
        super().__init__()
        self.fc = nn.Linear(n_in, n)
        self.lif = snn.Leaky(beta=0.9, reset_mechanism="zero")
        self.n = n

    def outputs(self, spikes: torch.Tensor) -> list[torch.Tensor]:
        mem = torch.zeros(spikes.shape[1], self.n)
        outs = []
        for t in range(spikes.shape[0]):
            spk, mem = self.lif(self.fc(spikes[t]), mem)
            outs.append(spk)
        return outs


class OurLayer(nn.Module):
    """A ``TorchLayer`` of one cell kind, stepped by the package's one loop (``step.run``)."""

    def __init__(self, kind: str, n_in: int, cell: nn.Module):
        super().__init__()
        self.layer = TorchLayer(n_in, registry.cell(kind), cell, recurrent=False)

    def outputs(self, spikes: torch.Tensor) -> list[torch.Tensor]:
        return list(run(program_of([self.layer]), spikes).records[0])


def make_layers(n_in: int, hidden: int) -> dict[str, nn.Module]:
    """One freshly initialised layer per variant (the seed fixes the weights)."""
    keep = SRCConstants(detach_rec=False)
    return {
        "snntorch": SnntorchLeaky(n_in, hidden),
        "lif": OurLayer("lif", n_in, LIFCell(hidden)),
        "src": OurLayer("src", n_in, SRCCell(hidden)),
        "src_keep": OurLayer("src", n_in, SRCCell(hidden, keep)),
        "msrc": OurLayer("msrc", n_in, MSRCCell(hidden)),
    }


def run_layer(
    layer: nn.Module, readout: nn.Linear, spikes: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Forward over time, summed output, readout, cross-entropy; returns the loss."""
    total = spikes.new_zeros(spikes.shape[1], readout.in_features)
    for out in layer.outputs(spikes):
        total = total + out
    return nn.functional.cross_entropy(readout(total), labels)


def train_step(layer, readout, spikes, labels) -> None:
    """What one optimiser step costs apart from the update itself: zero_grad, forward, backward."""
    layer.zero_grad(set_to_none=True)
    readout.zero_grad(set_to_none=True)
    run_layer(layer, readout, spikes, labels).backward()


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
    return "\n".join(lines) + "\n"


LABELS = {
    "snntorch": "snntorch Leaky (beta 0.9, reset to zero), stepped by snntorch: reference",
    "lif": "LIF kind (snntorch's Leaky arithmetic), modspike's step loop",
    "src": "SRC, recurrence detached (default)",
    "src_keep": "SRC, detach_rec=False",
    "msrc": "mSRC (learnable h_s0), detached",
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
    }
    md = to_markdown(result)
    print(md)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "step_time.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "step_time.md").write_text(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
