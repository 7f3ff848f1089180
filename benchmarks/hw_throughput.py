"""Samples per second of our integer simulator against Lava's fixed_pt CPU simulator, same artifact.

Trains a small SRC network on digits (or takes ``--artifact``), exports it at 8 bits, runs the
whole test split on ``sim`` and ``lava`` through ``modspike.hw.run_artifact`` (the code behind
``modspike run``) in this one process, and checks that both give identical predictions and spike
counts. ``seconds`` excludes imports, graph building and Lava's start-up (see docs/hardware.md).
Writes benchmarks/results/hw_throughput.{json,md}.

    nice -n 10 .venv/bin/python benchmarks/hw_throughput.py
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from modspike.cli import main as cli
from modspike.data import load_dataset
from modspike.export.artifact_build import open_artifact
from modspike.hw.backends import simulate
from modspike.hw.run_artifact import encode_split, run_artifact

RESULTS = Path(__file__).resolve().parent / "results"


def build_artifact(work: Path, cell: str = "src") -> Path:
    run, art = work / cell, work / f"artifact-{cell}"
    argv = ["train", "--cell", cell, "--steps", "25", "--hidden", "64", "--epochs", "30"]
    assert cli([*argv, "--quiet", "--out", str(run)]) == 0
    assert cli(["export", str(run), "--bits", "8", "--out", str(art)]) == 0
    return art


def split_spikes(art: Path):
    """``(network, input spikes (T, N, n_in), labels)`` of the digits test split, seed 0."""
    artifact, net = open_artifact(art)
    x, y = load_dataset("digits").split("test")
    return net, encode_split(artifact.manifest, x, seed=0), y


def large_batch(art: Path, samples: int = 4096) -> dict:
    """sim throughput on the test split tiled to >= ``samples`` (threads share the batch),
    the median of 5 runs."""
    net, spikes, _ = split_spikes(art)
    reps = -(-samples // spikes.shape[1])
    tiled = np.tile(spikes, (1, reps, 1))
    simulate(net, tiled[:, :64], "sim")  # warm-up
    runs = [simulate(net, tiled, "sim", record=False) for _ in range(5)]
    seconds = float(np.median([r.seconds for r in runs]))  # this machine is noisy: median of 5
    return {
        "samples": int(tiled.shape[1]),
        "threads": runs[0].config["threads"],
        "seconds": seconds,
        "seconds_all_runs": [r.seconds for r in runs],
        "samples_per_second": tiled.shape[1] / seconds,
    }


def float_agreement(art: Path) -> dict:
    """Float torch model vs Lava floating_pt on the whole test split: same predictions?"""
    net, spikes, y = split_spikes(art)
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


def synops(result: dict, fan_out: dict[str, int]) -> float:
    """Synaptic operations of the run: every nonzero event times its fan-out."""
    inp = result["input_spikes_per_sample"] * fan_out["input"]
    hidden = sum(c["total"] for c in result["spike_counts"].values()) / result["n_samples"]
    return result["n_samples"] * (inp + hidden * fan_out["readout"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", help="an existing artifact (default: train + export one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        art = Path(args.artifact) if args.artifact else build_artifact(Path(tmp))
        wall = {}
        res = {}
        for backend in ("sim", "lava"):
            t0 = time.perf_counter()
            res[backend] = run_artifact(art, backend=backend, progress=False)
            wall[backend] = time.perf_counter() - t0
        big = large_batch(art)
        floats = [float_agreement(art)]
        if not args.artifact:
            floats.append(float_agreement(build_artifact(Path(tmp), "lif")))
    sim, lava = res["sim"], res["lava"]
    same = sim["predictions"] == lava["predictions"] and sim["spike_counts"] == lava["spike_counts"]
    n_in = 64
    hidden = len(next(iter(sim["spike_counts"].values()))["per_neuron"])
    ops = synops(sim, {"input": hidden, "readout": 10})
    out = {
        "n_samples": sim["n_samples"],
        "steps": sim["steps"],
        "network": f"SRC {n_in}-{hidden}-10, 8-bit",
        "identical_predictions_and_counts": same,
        "accuracy": {"sim": sim["accuracy"], "lava": lava["accuracy"]},
        "simulation_seconds": {"sim": sim["seconds"], "lava": lava["seconds"]},
        "wall_seconds": wall,
        "samples_per_second": {
            "sim": sim["samples_per_second"],
            "lava": lava["samples_per_second"],
        },
        "ratio_sim_over_lava": sim["samples_per_second"] / lava["samples_per_second"],
        "ratio_wall": wall["lava"] / wall["sim"],
        "sim_large_batch": big,
        "ratio_sim_large_batch_over_lava": big["samples_per_second"] / lava["samples_per_second"],
        "sim_synaptic_ops_per_second": ops / sim["seconds"],
        "float_torch_vs_lava_floating_pt": floats,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hw_throughput.json").write_text(json.dumps(out, indent=1))
    md = (
        f"Digits test split ({out['n_samples']} samples, T = {out['steps']}), {out['network']};"
        f" identical predictions and spike counts on both: {same}.\n\n"
        "| backend | accuracy | simulation s | samples/s | wall s (incl. start-up, read-back) |\n"
        "|---|---|---|---|---|\n"
        + "".join(
            f"| {b} | {out['accuracy'][b]:.4f} | {out['simulation_seconds'][b]:.3f} |"
            f" {out['samples_per_second'][b]:.1f} | {wall[b]:.1f} |\n"
            for b in ("sim", "lava")
        )
        + f"| sim, the split tiled to {big['samples']} samples ({big['threads']} threads) | |"
        f" {big['seconds']:.3f} | {big['samples_per_second']:.1f} | |\n"
        + f"\nsim / Lava: {out['ratio_sim_over_lava']:.0f}x in simulation time,"
        f" {out['ratio_wall']:.0f}x in wall time, {out['ratio_sim_large_batch_over_lava']:.0f}x"
        " with the large batch; sim synaptic operations per second:"
        f" {out['sim_synaptic_ops_per_second']:.3g}.\n\n"
        "Float torch model vs Lava floating_pt, whole test split:\n\n"
        "| cell | agreement | accuracy torch | accuracy Lava float | max logit diff |\n"
        "|---|---|---|---|---|\n"
        + "".join(
            f"| {f['cell']} | {f['agreement']:.2%} | {f['accuracy_torch']:.4f} |"
            f" {f['accuracy_lava_float']:.4f} | {f['max_abs_logit_diff']:.2g} |\n"
            for f in floats
        )
    )
    (RESULTS / "hw_throughput.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
