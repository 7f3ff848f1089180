"""Throughput of the integer simulator against Lava's fixed_pt CPU simulator and the float32 GEMM
bound, all measured in this one run on the same artifact.

1. The digits test split on an 8-bit SRC artifact (trained and exported here, or ``--artifact``):
   ``sim`` (compiled steps), ``sim`` with the numpy reference steps, ``sim-torch`` (CPU) and Lava
   ``fixed_pt``: identical predictions and spike counts, simulation seconds (median of repeats;
   no graph building, no Lava start-up), samples per second and the ratios.
2. A 3-layer 256-wide recurrent SRC network (random weights, quantised): sim (compiled and numpy)
   and Lava on the same samples, and sim on a large batch.
3. Float: the torch backend against Lava ``floating_pt`` on the split, for that SRC artifact and a
   LIF one (``--lif-artifact``, or trained here).
4. Synapse evaluations per second (every synapse of every layer at every step: the dense work the
   simulator does) against a float32 GEMM of the same shapes on the same cores (the issue's
   bound) and an int8 one (the GEMM type the simulator runs for 8-bit weights), and the memory
   per sample of the outputs (compact rasters, counts only, and int64 rasters).

Each Lava run is followed by a pause and an untimed simulator call (:func:`settle`): without
them the simulator run timed next paid for Lava's teardown (a quarter slower).

The machine's load average is recorded before and after (the machine is shared: the numbers move
with it). Writes benchmarks/results/hw_throughput.{json,md}.

    nice -n 10 .venv/bin/python benchmarks/hw_throughput.py [--artifact DIR --lif-artifact DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from modspike.cli import main as cli
from modspike.data import load_dataset
from modspike.export.artifact_build import open_artifact
from modspike.hw.backends import simulate
from modspike.hw.backends.sim import compact_bytes, simulate_fixed
from modspike.hw.run_artifact import encode_split
from modspike.quantize import quantize
from modspike.train.modules import ModelConfig, build_model, to_network

RESULTS = Path(__file__).resolve().parent / "results"


def build_artifact(work: Path, cell: str = "src") -> Path:
    run, art = work / cell, work / f"artifact-{cell}"
    argv = ["train", "--cell", cell, "--steps", "25", "--hidden", "64", "--epochs", "30"]
    assert cli([*argv, "--quiet", "--out", str(run)]) == 0
    assert cli(["export", str(run), "--bits", "8", "--out", str(art)]) == 0
    return art


def float_agreement(art: Path) -> dict:
    """Float torch model vs Lava floating_pt on the whole test split: same predictions?"""
    artifact, net = open_artifact(art)
    x, y = load_dataset("digits").split("test")
    spikes = encode_split(artifact.manifest, x, seed=0)
    ref = simulate(net, spikes, "torch", record=False).logits
    lava = simulate(net, spikes, "lava-float", record=False)
    same = lava.logits.argmax(1) == ref.argmax(1)
    return {
        "cell": net.kinds[0],
        "samples": int(len(y)),
        "agreement": float(same.mean()),
        "accuracy_torch": float((ref.argmax(1) == y).mean()),
        "accuracy_lava_float": float((lava.logits.argmax(1) == y).mean()),
        "max_abs_logit_diff": float(np.abs(lava.logits - ref).max()),
    }


def interleaved(fns: dict, repeats: int, only_first: dict | None = None) -> dict:
    """Each ``fn()`` returns its own seconds; ``repeats`` rounds, every function once per round
    (``only_first[name]``: in the first rounds only), so the machine's load moves all of them
    alike. ``{name: (median, runs)}``."""
    only_first = only_first or {}
    runs: dict = {name: [] for name in fns}
    for r in range(repeats):
        for name, fn in fns.items():
            if r < only_first.get(name, repeats):
                runs[name].append(float(fn()))
    return {name: (float(np.median(v)), v) for name, v in runs.items()}


def settle(net, spikes) -> None:
    """After a Lava run: a pause for its processes to wind down and an untimed simulator call to
    bring the caches back, so that the next timed run does not pay for Lava's teardown."""
    time.sleep(1.0)
    simulate_fixed(net, spikes, record=False)


def _sim(net, spikes, compiled=True, threads=None):
    """A timer of one simulator run, warm: its own untimed run comes just before (otherwise the
    run after a large one pays for refilling the caches)."""

    def go():
        simulate_fixed(net, spikes, threads=threads, record=False, compiled=compiled)
        t0 = time.perf_counter()
        simulate_fixed(net, spikes, threads=threads, record=False, compiled=compiled)
        return time.perf_counter() - t0

    return go


def synapse_evaluations(net, steps: int, samples: int) -> int:
    """Every synapse of every layer at every step (feed-forward and recurrent)."""
    per_step = sum(
        layer.synapse.weight.size + (0 if layer.recurrent is None else layer.recurrent.weight.size)
        for layer in net.layers
    )
    return int(per_step) * steps * samples


def gemm_timers(net, batch: int, threads: int, int8: bool = False) -> dict:
    """Timers of float32 GEMMs of the network's synaptic shapes for one step of ``batch``
    samples, in numpy (OpenBLAS) and torch, on 1 and ``threads`` threads: what a dense float
    simulator needs per step at best. ``int8``: int8 GEMMs with int32 sums instead
    (``torch._int_mm``, the simulator's own for 8-bit weights), one per synapse and step."""
    from threadpoolctl import threadpool_limits

    shapes = []
    for layer in net.layers:
        shapes.append(layer.synapse.weight.shape)
        if layer.recurrent is not None:
            shapes.append(layer.recurrent.weight.shape)
    rng = np.random.default_rng(0)
    pairs = [
        (rng.random((batch, n_in), np.float32), rng.random((n_in, n_out), np.float32))
        for n_out, n_in in shapes
    ]
    tensors = [(torch.from_numpy(x), torch.from_numpy(w)) for x, w in pairs]
    libraries = [("numpy", np.matmul, pairs), ("torch", torch.mm, tensors)]
    if int8:
        small = [
            (
                torch.randint(0, 2, x.shape, dtype=torch.int8),
                torch.randint(-127, 128, w.shape, dtype=torch.int8),
            )
            for x, w in pairs
        ]
        libraries = [("torch int8", torch._int_mm, small)]
    timers = {}
    for n in sorted({1, threads}):
        for lib, mm, operands in libraries:

            def go(mm=mm, operands=operands, n=n):
                before = torch.get_num_threads()
                torch.set_num_threads(n)
                try:
                    with threadpool_limits(limits=n, user_api="blas"):
                        t0 = time.perf_counter()
                        for _ in range(5):
                            for x, w in operands:
                                mm(x, w)
                        return (time.perf_counter() - t0) / 5
                finally:
                    torch.set_num_threads(before)

            go()
            timers[f"gemm: {lib}, {n} thread{'s' * (n > 1)}"] = go
    evals = batch * sum(a * b for a, b in shapes)
    return timers, evals


def compare(a, b) -> bool:
    same = np.array_equal(a.logits.argmax(1), b.logits.argmax(1))
    return bool(same and all(np.array_equal(x, y) for x, y in zip(a.events, b.events)))


def digits(art: Path, repeats: int, lava_repeats: int, threads: int) -> dict:
    artifact, net = open_artifact(art)
    x, y = load_dataset("digits").split("test")
    spikes = encode_split(artifact.manifest, x, seed=0)
    steps, n = spikes.shape[0], spikes.shape[1]
    simulate_fixed(net, spikes[:, :16])  # warm-up: loads (or compiles) the kernels
    sim = simulate(net, spikes, "sim", record=False)
    ref = simulate_fixed(net, spikes, record=False, compiled=False)
    torch_cpu = simulate(net, spikes, "sim-torch", record=False)
    lava = []

    def lava_run():
        lava.append(simulate(net, spikes, "lava", record=False))
        settle(net, spikes)
        return lava[-1].seconds

    tiled = np.tile(spikes, (1, 12, 1))
    timed = interleaved(
        {
            "lava": lava_run,
            "sim": _sim(net, spikes, threads=threads),
            "sim_one_thread": _sim(net, spikes, threads=1),
            "sim_numpy": _sim(net, spikes, compiled=False, threads=threads),
            "tiled": _sim(net, tiled, threads=threads),
        },
        repeats,
        only_first={"lava": lava_repeats},
    )
    identical = {
        "sim_numpy": all(np.array_equal(a, b) for a, b in zip(sim.events, ref.events)),
        "lava": all(compare(sim, run) for run in lava),
        "sim_torch_cpu": compare(sim, torch_cpu),
    }
    (t_sim, sim_runs), (t_one, one_runs) = timed["sim"], timed["sim_one_thread"]
    (t_ref, ref_runs), (t_lava, _) = timed["sim_numpy"], timed["lava"]
    t_big = timed["tiled"][0]
    evals = synapse_evaluations(net, steps, n)
    recorded = simulate_fixed(net, spikes)
    return {
        "samples": n,
        "steps": steps,
        "network": f"SRC {net.n_in}-{net.layers[0].n}-10, 8-bit (the artifact)",
        "accuracy": float((sim.logits.argmax(1) == y).mean()),
        "identical_predictions_and_counts": identical,
        "seconds": {
            "sim": t_sim,
            "sim_one_thread": t_one,
            "sim_numpy": t_ref,
            "lava": t_lava,
            "sim_torch_cpu": torch_cpu.seconds,
        },
        "seconds_all_runs": {
            "sim": sim_runs,
            "sim_numpy": ref_runs,
            "lava": [r.seconds for r in lava],
        },
        "lava_startup_seconds": [r.config.get("startup_seconds") for r in lava],
        "best_seconds": {
            "sim": min(sim_runs),
            "sim_one_thread": min(one_runs),
            "lava": min(r.seconds for r in lava),
        },
        "samples_per_second": {"sim": n / t_sim, "sim_numpy": n / t_ref, "lava": n / t_lava},
        "ratio_sim_over_lava": t_lava / t_sim,
        "ratio_sim_one_thread_over_lava": t_lava / t_one,
        "ratio_sim_numpy_over_lava": t_lava / t_ref,
        "ratio_sim_over_sim_numpy": t_ref / t_sim,
        "large_batch": {
            "samples": int(tiled.shape[1]),
            "seconds": t_big,
            "samples_per_second": tiled.shape[1] / t_big,
            "ratio_over_lava": (tiled.shape[1] / t_big) / (n / t_lava),
        },
        "synapse_evaluations_per_second_sim": evals / t_sim,
        "memory_bytes_per_sample": memory(recorded, net, steps),
    }


def memory(out, net, steps: int) -> dict:
    counts_only = compact_bytes(out)["counts"]
    return {
        "rasters_compact": compact_bytes(out)["rasters"],
        "raster_dtypes": [str(r.dtype) for r in out.rasters],
        "counts_only": counts_only,
        "rasters_int64": 8 * steps * sum(layer.n for layer in net.layers),
    }


def wide_network(seed: int = 0):
    """A 3-layer, 256-wide recurrent SRC network on the 64 digits inputs, random, quantised."""
    torch.manual_seed(seed)
    cfg = ModelConfig(cell="src", n_in=64, hidden=256, layers=3, recurrent=True)
    model = build_model(cfg)
    with torch.no_grad():
        for layer in model.layers:
            layer.synapse.weight.mul_(3.0)
            layer.cell.bh.uniform_(-1.0, 1.0)
    return quantize(to_network(model))


def wide(art: Path, repeats: int, lava_samples: int, threads: int) -> dict:
    artifact, _ = open_artifact(art)
    x, _ = load_dataset("digits").split("test")
    spikes = encode_split(artifact.manifest, x, seed=0)
    net = wide_network()
    steps = spikes.shape[0]
    few = spikes[:, :lava_samples]
    simulate_fixed(net, few[:, :8])  # warm-up
    lava = simulate(net, few, "lava", record=False)
    sim = simulate(net, few, "sim", record=False)
    big = np.tile(spikes, (1, 3, 1))[:, :1024]
    gemms, gemm_evals = gemm_timers(net, big.shape[1], threads)
    gemms8, _ = gemm_timers(net, big.shape[1], threads, int8=True)
    timed = interleaved(
        {
            "few": _sim(net, few, threads=threads),
            "few_numpy": _sim(net, few, compiled=False, threads=threads),
            "big": _sim(net, big, threads=threads),
            "big_numpy": _sim(net, big, compiled=False, threads=threads),
            **gemms,
            **gemms8,
        },
        repeats,
    )
    t_few, t_ref_few = timed["few"][0], timed["few_numpy"][0]
    (t_big, big_runs), t_ref_big = timed["big"], timed["big_numpy"][0]
    evals = synapse_evaluations(net, steps, big.shape[1])
    rates = {name: gemm_evals / timed[name][0] for name in gemms}
    top = max(rates, key=rates.get)
    bound = {"batch": int(big.shape[1]), "best": top, "evaluations_per_second": rates[top]}
    bound["all"] = rates
    rates8 = {name: gemm_evals / timed[name][0] for name in gemms8}
    top8 = max(rates8, key=rates8.get)
    rate = evals / t_big
    activity = [float((e > 0).mean()) for e in sim.events]
    return {
        "network": "SRC 64-256-256-256 (recurrent), 8-bit, random weights",
        "steps": steps,
        "active_neuron_fraction": activity,
        "lava_samples": lava_samples,
        "identical_predictions_and_counts_lava": compare(sim, lava),
        "seconds_same_samples": {"sim": t_few, "sim_numpy": t_ref_few, "lava": lava.seconds},
        "ratio_sim_over_lava": lava.seconds / t_few,
        "ratio_sim_numpy_over_lava": lava.seconds / t_ref_few,
        "large_batch": {
            "samples": int(big.shape[1]),
            "seconds": t_big,
            "seconds_all_runs": big_runs,
            "seconds_numpy": t_ref_big,
            "samples_per_second": big.shape[1] / t_big,
        },
        "synapse_evaluations_per_second": {
            "sim": rate,
            "sim_numpy": evals / t_ref_big,
            "float32_gemm_bound": bound["evaluations_per_second"],
            "int8_gemm_bound": rates8[top8],
        },
        "gemm_bound": bound,
        "gemm_bound_over_sim": bound["evaluations_per_second"] / rate,
        "int8_gemm_bound": {"best": top8, "all": rates8},
        "int8_gemm_bound_over_sim": rates8[top8] / rate,
        "memory_bytes_per_sample": memory(simulate_fixed(net, big[:, :256]), net, steps),
    }


def markdown(out: dict) -> str:
    d, w = out["digits"], out["wide"]
    best = d["best_seconds"]
    s, m = d["seconds"], d["memory_bytes_per_sample"]
    lines = [
        f"Load average before / after: {out['load_before']} / {out['load_after']}"
        f" ({out['cpus']} CPUs); no GPU in this run.",
        "",
        f"**Digits test split** ({d['samples']} samples, T = {d['steps']}), {d['network']};"
        f" identical predictions and spike counts: {d['identical_predictions_and_counts']}.",
        "",
        "| | simulation s (median) | samples/s | vs Lava |",
        "|---|---|---|---|",
        f"| sim (compiled steps; up to {out['threads']} threads, one per 256 samples) |"
        f" {s['sim']:.4f} |"
        f" {d['samples_per_second']['sim']:.0f} | {d['ratio_sim_over_lava']:.0f}x |",
        f"| sim, one thread | {s['sim_one_thread']:.4f} | {d['samples'] / s['sim_one_thread']:.0f} |"
        f" {d['ratio_sim_one_thread_over_lava']:.0f}x |",
        f"| sim, numpy reference steps | {s['sim_numpy']:.4f} |"
        f" {d['samples_per_second']['sim_numpy']:.0f} | {d['ratio_sim_numpy_over_lava']:.0f}x |",
        f"| sim-torch (CPU) | {s['sim_torch_cpu']:.3f} | {d['samples'] / s['sim_torch_cpu']:.0f} |"
        f" {s['lava'] / s['sim_torch_cpu']:.0f}x |",
        f"| Lava fixed_pt | {s['lava']:.2f} | {d['samples_per_second']['lava']:.1f} | 1x |",
        f"| sim, the split tiled to {d['large_batch']['samples']} samples |"
        f" {d['large_batch']['seconds']:.3f} | {d['large_batch']['samples_per_second']:.0f} |"
        f" {d['large_batch']['ratio_over_lava']:.0f}x |",
        "",
        f"Compiled / numpy steps: {d['ratio_sim_over_sim_numpy']:.1f}x. Output memory per sample:"
        f" compact rasters {m['rasters_compact']:.0f} B ({', '.join(m['raster_dtypes'])}),"
        f" counts only (record=False) {m['counts_only']:.0f} B, int64 rasters"
        f" {m['rasters_int64']:.0f} B.",
        "",
        f"**Wide network**: {w['network']}, T = {w['steps']}; active neurons per layer"
        f" {', '.join(f'{a:.0%}' for a in w['active_neuron_fraction'])}; identical to Lava on"
        f" {w['lava_samples']} samples: {w['identical_predictions_and_counts_lava']}.",
        "",
        "| | seconds | vs Lava |",
        "|---|---|---|",
        f"| sim, {w['lava_samples']} samples | {w['seconds_same_samples']['sim']:.4f} |"
        f" {w['ratio_sim_over_lava']:.0f}x |",
        f"| sim numpy steps, {w['lava_samples']} samples |"
        f" {w['seconds_same_samples']['sim_numpy']:.4f} | {w['ratio_sim_numpy_over_lava']:.0f}x |",
        f"| Lava fixed_pt, {w['lava_samples']} samples | {w['seconds_same_samples']['lava']:.2f} |"
        " 1x |",
        f"| sim, {w['large_batch']['samples']} samples | {w['large_batch']['seconds']:.3f} | |",
        "",
        "Synapse evaluations per second (dense: every synapse, every step) on the"
        f" {w['large_batch']['samples']}-sample batch: sim"
        f" {w['synapse_evaluations_per_second']['sim']:.3g}, numpy steps"
        f" {w['synapse_evaluations_per_second']['sim_numpy']:.3g}; float32 GEMM of the same shapes"
        f" ({w['gemm_bound']['best']}, the best median of numpy and torch on 1 and 2 threads)"
        f" {w['synapse_evaluations_per_second']['float32_gemm_bound']:.3g}:"
        f" the bound is {w['gemm_bound_over_sim']:.1f}x the sim. The int8 GEMMs the sim itself"
        f" runs for 8-bit weights ({w['int8_gemm_bound']['best']}, one per synapse and step;"
        " graded inputs need two):"
        f" {w['synapse_evaluations_per_second']['int8_gemm_bound']:.3g},"
        f" {w['int8_gemm_bound_over_sim']:.1f}x the sim. Digits split:"
        f" {d['synapse_evaluations_per_second_sim']:.3g} synapse evaluations per second.",
        "",
        f"Wide network, output memory per sample: compact rasters"
        f" {w['memory_bytes_per_sample']['rasters_compact']:.0f} B"
        f" ({', '.join(w['memory_bytes_per_sample']['raster_dtypes'])}), counts only"
        f" {w['memory_bytes_per_sample']['counts_only']:.0f} B, int64 rasters"
        f" {w['memory_bytes_per_sample']['rasters_int64']:.0f} B.",
        "",
        f"Fastest single runs (the load moves the medians): sim {d['best_seconds']['sim']:.4f} s,"
        f" one thread {d['best_seconds']['sim_one_thread']:.4f} s, Lava"
        f" {d['best_seconds']['lava']:.2f} s on the digits split"
        f" ({best['lava'] / min(best['sim'], best['sim_one_thread']):.0f}x, fastest sim over"
        " fastest Lava).",
        "",
        "Float torch model vs Lava floating_pt, whole test split:",
        "",
        "| cell | agreement | accuracy torch | accuracy Lava float | max logit diff |",
        "|---|---|---|---|---|",
        *(
            f"| {f['cell']} | {f['agreement']:.2%} | {f['accuracy_torch']:.4f} |"
            f" {f['accuracy_lava_float']:.4f} | {f['max_abs_logit_diff']:.2g} |"
            for f in out["float_torch_vs_lava_floating_pt"]
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", help="an existing SRC artifact (default: train + export one)")
    parser.add_argument(
        "--lif-artifact", help="an existing LIF artifact for the float check (default: train one)"
    )
    parser.add_argument("--repeats", type=int, default=7, help="repeats of each sim timing")
    parser.add_argument("--lava-repeats", type=int, default=3, help="Lava runs on the split")
    parser.add_argument("--wide-lava-samples", type=int, default=40)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    load_before = [round(v, 2) for v in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        art = Path(args.artifact) if args.artifact else build_artifact(Path(tmp))
        out = {
            "load_before": load_before,
            "cpus": os.cpu_count(),
            "threads": args.threads,
            "machine": platform.processor() or platform.machine(),
            "gpu": "none available in this run" if not torch.cuda.is_available() else "present",
            "digits": digits(art, args.repeats, args.lava_repeats, args.threads),
            "wide": wide(art, args.repeats, args.wide_lava_samples, args.threads),
        }
        lif = Path(args.lif_artifact) if args.lif_artifact else build_artifact(Path(tmp), "lif")
        out["float_torch_vs_lava_floating_pt"] = [float_agreement(art), float_agreement(lif)]
    out["load_after"] = [round(v, 2) for v in os.getloadavg()]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hw_throughput.json").write_text(json.dumps(out, indent=1))
    md = markdown(out)
    (RESULTS / "hw_throughput.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
