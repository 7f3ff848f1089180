"""Convolutional SNNs on digits as 1x8x8 images: train -> 8-bit artifact -> sim and Lava -> cost.

For each cell (LIF and SRC by default) with the same ``--arch`` (``modspike train --arch``):

* train with ``modspike.train.trainer.train`` (T = 30, rate code with gain 1, Adam lr 2e-3, 60
  epochs, seed 0; one torch thread: on a shared 2-core machine more threads are several times
  slower) and export 8-bit artifacts (``export_run``, what ``modspike export`` does): one weight
  exponent per layer (the default, used for everything below) and one per output channel
  (``--granularity neuron``: its accuracy is reported beside);
* accuracy: the float network (the export's own check, ``manifest.accuracy.float``) and the
  8-bit network on ``sim`` over the whole test split;
* sim vs Lava ``fixed_pt`` on the same input spikes, the whole test split in ONE Lava run: their
  per-layer spike totals, event counts and logits must be identical; throughput (samples per
  second of simulation, start-up excluded) of both in this same script, and the ratio;
* the float torch model vs Lava ``floating_pt``: the fraction of identical predictions;
* synaptic operations (NeuroBench definitions: conv layers as NeuroBench counts ``nn.Conv2d``;
  pooling stages apart) and modeled energy per inference on the ``loihi`` profile, through
  ``modspike.runtime.report.measure`` (what ``modspike report`` computes);
* the Loihi 2 mapping estimate (``modspike inspect``: neurocores and the binding limit).

The same on the event stand-in ``dvs-digits`` (its frames replayed, 2x2 pooled pixels,
``--event-epochs``), or on N-MNIST from its files: ``--event-data nmnist --data-dir DIR`` (results
in ``conv_nmnist.{json,md}``; not run here: the files are not on this machine). Writes ``benchmarks/results/conv.json`` and ``.md`` and the ``## Convolutional SNNs`` section of
the README. ``--quick``: 2 epochs, 60 test samples, results under ``benchmarks/results/quick/``.
Goal (issue 13): >= 98 % test accuracy, 8-bit within 0.5 point of float; the table says whether
each run meets it.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from readme_section import replace_section

from modspike.data import load_dataset
from modspike.export.artifact_build import export_run, open_artifact
from modspike.export.loihi2 import place
from modspike.hw.backends import simulate
from modspike.hw.run_artifact import encode_split, input_options
from modspike.runtime.report import measure
from modspike.step import Precision, compile, run
from modspike.train.trainer import TrainConfig, train

RESULTS = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Convolutional SNNs (digits as images, the event stand-in)"
ARCH = "c16k3-p2-c32k3-p2-d128"
EVENT_DATA = "dvs-digits"  # the offline event-camera stand-in: 2 x 12 x 12 frames after pooling
CELLS = ("lif", "src")
STEPS, GAIN, LR, SEED, EPOCHS, EVENT_EPOCHS = 30, 1.0, 2e-3, 0, 60, 30
GOAL_ACCURACY, GOAL_GAP_POINTS = 0.98, 0.5


def _float_predictions(net, spikes: np.ndarray) -> np.ndarray:
    prog = compile(net, Precision.FLOAT)
    x = torch.as_tensor(spikes, dtype=torch.float32)
    with torch.no_grad():
        out = run(prog, x, record=False)
        return prog.readout(out.total, x.shape[0]).numpy().argmax(1)


def one(
    cell: str, arch: str, epochs: int, tmp: Path, limit: int | None, data: str, data_dir=None
) -> dict:
    if data == "digits":
        cfg = TrainConfig(
            cell=cell, arch=arch, steps=STEPS, gain=GAIN, lr=LR, seed=SEED, epochs=epochs
        )
    else:  # event frames replayed (the events encoding), 2x2-pooled pixels
        cfg = TrainConfig(
            cell=cell,
            arch=arch,
            data=data,
            data_dir=data_dir,
            downsample=2,
            lr=LR,
            seed=SEED,
            epochs=epochs,
        )
    run_dir = tmp / f"{data}_{cell}"
    t0 = time.perf_counter()
    _, metrics = train(cfg, out=run_dir, progress=False)
    train_seconds = time.perf_counter() - t0
    art = tmp / f"{data}_{cell}_artifact"
    exported = export_run(run_dir, art, 8, "layer", None)  # modspike export's default
    per_channel = export_run(run_dir, tmp / f"{data}_{cell}_per_channel", 8, "neuron", None)
    artifact, net = open_artifact(art)
    options = input_options(artifact.manifest)
    x, y = load_dataset(data, data_dir, options=options, splits=("test",)).split("test")
    if limit is not None:
        x, y = x[:limit], y[:limit]
    spikes = encode_split(artifact.manifest, x, seed=0)

    sim = simulate(net, spikes, "sim", record=False)
    lava = simulate(net, spikes, "lava", record=False)  # one run, every sample back to back
    same = all(np.array_equal(a, b) for a, b in zip(sim.totals, lava.totals)) and all(
        np.array_equal(a, b) for a, b in zip(sim.events, lava.events)
    )
    same = same and np.array_equal(sim.logits, lava.logits)
    if not same:
        raise SystemExit(f"{cell}: sim and Lava fixed_pt differ")
    lava_float = simulate(net, spikes, "lava-float", record=False)
    torch_pred = _float_predictions(net, spikes)
    float_agree = float(np.mean(lava_float.logits.argmax(1) == torch_pred))

    entry, _ = measure(art, backend="sim", limit=limit, profile="loihi", progress=False)
    counts = entry["counts"]["per_sample"]
    n = len(y)
    sim_acc = float(np.mean(sim.logits.argmax(1) == y))
    # float vs 8-bit on identical input spikes: the export's own check (input seed + 2)
    float_acc, quant_acc = exported["float_accuracy"], exported["quantized_accuracy"]
    mapping = place(net)
    row = {
        "data": data,
        "cell": cell,
        "arch": arch,
        "input_shape": list(net.input_shape),
        "steps": int(artifact.manifest["encoding"]["steps"]),
        "encoding": artifact.manifest["encoding"]["name"],
        "epochs": epochs,
        "trained_test_accuracy": metrics["test_accuracy"],
        "best_epoch": metrics["best_epoch"],
        "train_seconds": train_seconds,
        "float_accuracy": float_acc,
        "quantized_accuracy": quant_acc,
        "gap_points": 100.0 * (float_acc - quant_acc),
        "quantized_accuracy_per_channel": per_channel["quantized_accuracy"],
        "sim_accuracy_input_seed_0": sim_acc,
        "lava_accuracy_input_seed_0": float(np.mean(lava.logits.argmax(1) == y)),
        "sim_equals_lava": same,
        "float_torch_vs_lava_float_identical_predictions": float_agree,
        "n_samples": n,
        "sim_seconds": sim.seconds,
        "lava_seconds": lava.seconds,
        "lava_startup_seconds": lava.config.get("startup_seconds"),
        "sim_samples_per_second": n / sim.seconds,
        "lava_samples_per_second": n / lava.seconds,
        "sim_over_lava_throughput": lava.seconds / sim.seconds,
        "lava_synapse_processes": lava.config.get("synapse_processes"),
        "spikes_per_sample": counts["spikes"],
        "synops_per_sample": counts["effective"],
        "synops_acs": counts["effective_acs"],
        "synops_macs": counts["effective_macs"],
        "dense_synops_per_sample": counts["dense"],
        "pooling_ops_per_sample": counts["stage_effective"],
        "snn_energy_nj": entry["snn"]["energy_pj_per_sample"] / 1e3,
        "snn_energy_components_nj": {
            k: v / 1e3 for k, v in entry["snn"]["components_pj_per_sample"].items()
        },
        "loihi2_cores": mapping["cores"],
        "loihi2_binding": f"{mapping['binding_layer']}: {mapping['binding_limit']}",
        "goal_met": data == "digits"
        and float_acc >= GOAL_ACCURACY
        and quant_acc >= GOAL_ACCURACY
        and 100.0 * (float_acc - quant_acc) <= GOAL_GAP_POINTS,
    }
    return row


def run_all(
    arch: str,
    cells,
    epochs: int,
    quick: bool,
    event_epochs: int,
    event_data: str = EVENT_DATA,
    data_dir: str | None = None,
) -> dict:
    torch.set_num_threads(1)
    limit = 60 if quick else None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for data, n_epochs in (("digits", epochs), (event_data, event_epochs)):
            if n_epochs <= 0:
                continue
            for cell in cells:
                d_dir = None if data == "digits" else data_dir
                row = one(cell, arch, 2 if quick else n_epochs, Path(tmp), limit, data, d_dir)
                rows.append(row)
                keys = ("data", "cell", "float_accuracy", "quantized_accuracy")
                print(json.dumps({k: row[k] for k in keys}), file=sys.stderr)
    return {
        "what": "conv SNNs on digits as 1x8x8 images: float / 8-bit / Lava, counts, modeled energy",
        "kind": "modeled (energy); measured (accuracy, throughput on this machine)",
        "profile": "loihi (Davies 2018 Table 2)",
        "config": {
            "arch": arch,
            "steps": STEPS,
            "gain": GAIN,
            "lr": LR,
            "seed": SEED,
            "bits": 8,
            "granularity": "layer",
        },
        "goal": {"accuracy": GOAL_ACCURACY, "gap_points": GOAL_GAP_POINTS},
        "machine": {"python": platform.python_version(), "torch": torch.__version__},
        "rows": rows,
    }


def _epochs(rows: list[dict]) -> str:
    """``40 epochs (digits), 20 (dvs-digits)``: the training budget of each data set."""
    seen = {}
    for r in rows:
        seen.setdefault(r["data"], r["epochs"])
    return ", ".join(
        f"{e} epochs ({d})" if k == 0 else f"{e} ({d})" for k, (d, e) in enumerate(seen.items())
    )


def _goal(row: dict) -> str:
    return ("yes" if row["goal_met"] else "no") if row["data"] == "digits" else "n/a"


def markdown(res: dict) -> str:
    head = (
        "| data | cell | T | float acc. | 8-bit acc. | gap (points) | goal met | 8-bit per channel |"
        " sim = Lava acc. (seed 0) |"
        " torch vs lava-float | sim / Lava throughput | spikes / sample | synops / sample"
        " (ACs + MACs) | pooling ops | SNN nJ (loihi) | Loihi 2 cores (binds) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r['data']} ({'x'.join(map(str, r['input_shape']))}) | {r['cell']} | {r['steps']} |"
        f" {r['float_accuracy']:.3f} | {r['quantized_accuracy']:.3f} |"
        f" {r['gap_points']:+.2f} | {_goal(r)} |"
        f" {r['quantized_accuracy_per_channel']:.3f} | {r['sim_accuracy_input_seed_0']:.3f} |"
        f" {100 * r['float_torch_vs_lava_float_identical_predictions']:.1f} % |"
        f" {r['sim_over_lava_throughput']:.0f}x ({r['sim_samples_per_second']:.0f} vs"
        f" {r['lava_samples_per_second']:.1f} samples/s) | {r['spikes_per_sample']:.0f} |"
        f" {r['synops_per_sample']:.0f} ({r['synops_acs']:.0f} + {r['synops_macs']:.0f}) |"
        f" {r['pooling_ops_per_sample']:.0f} | {r['snn_energy_nj']:.0f} |"
        f" {r['loihi2_cores']} ({r['loihi2_binding']}) |\n"
        for r in res["rows"]
    )
    r0 = res["rows"][0] if res["rows"] else {}
    return (
        f"`--arch {res['config']['arch']}` on digits as 1x8x8 images (rate code, gain {GAIN})"
        f" and on `{res['rows'][-1]['data'] if res['rows'] else EVENT_DATA}` event frames (replayed,"
        " one bin per step, 2x2 pooled pixels), the whole test split of each"
        f" ({r0.get('n_samples')} digits), Adam lr {LR}, seed 0,"
        f" {_epochs(res['rows'])};"
        " 8-bit weights, one exponent per layer (per output channel:"
        " the column beside). Float and 8-bit accuracy: the export's check, on"
        " identical input spikes; sim and Lava `fixed_pt` (input seed 0) agree exactly"
        " (per-layer spike totals, event counts and logits, the whole split in one Lava run);"
        " throughput is simulation time only (Lava's start-up excluded), both"
        " measured in the same script on this shared 2-core machine. Synops follow NeuroBench"
        " (conv layers counted as it counts `nn.Conv2d`; after a pooling stage the synapse sees"
        " graded counts, hence MACs); pooling accumulations are listed apart. The modeled energy (loihi profile)"
        " prices each input event at the fan-out of its layer's whole composite synapse (pooling"
        " folded into the next convolution, stored zeros included)."
        f" Goal (digits): >= {100 * res['goal']['accuracy']:.0f} % and 8-bit within"
        f" {res['goal']['gap_points']} point of float.\n\n" + head + body
    )


def command(rows: list[dict]) -> str:
    """The command line that reproduces ``rows`` (their epochs per data set)."""
    epochs = {r["data"]: r["epochs"] for r in rows}
    opts = f" --epochs {epochs.get('digits', 0)} --event-epochs {epochs.get(EVENT_DATA, 0)}"
    return f"nice -n 10 .venv/bin/python benchmarks/conv.py{opts}"


def update_readme(table: str, readme: Path = README, cmd: str = "") -> None:
    """Replace the README's section (from its heading to the next ``## `` heading) or add it
    before ``## Status``."""
    body = f"{table}\nCommand: `{cmd}`; raw numbers in `benchmarks/results/conv.json`.\n\n"
    replace_section(readme, SECTION, body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default=ARCH)
    parser.add_argument("--cells", default=",".join(CELLS))
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="digits (default %(default)s)")
    parser.add_argument(
        "--event-epochs", type=int, default=EVENT_EPOCHS, help="event data; 0 skips it"
    )
    parser.add_argument(
        "--event-data",
        default=EVENT_DATA,
        help="event data set (default %(default)s; e.g. nmnist with --data-dir: results then go"
        " to conv_<name>.json / .md and the README is left alone)",
    )
    parser.add_argument("--data-dir", default=None, help="folder of the event data set's files")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--readme-only", action="store_true")
    args = parser.parse_args(argv)
    out = RESULTS / "quick" if args.quick else RESULTS
    standin = args.event_data == EVENT_DATA
    name = "conv" if standin else f"conv_{args.event_data}"
    if args.readme_only:
        res = json.loads((out / f"{name}.json").read_text())
    else:
        res = run_all(
            args.arch,
            args.cells.split(","),
            args.epochs,
            args.quick,
            args.event_epochs,
            args.event_data,
            args.data_dir,
        )
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{name}.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / f"{name}.md").write_text(markdown(res))
    print(markdown(res))
    if not args.quick and standin:
        update_readme(markdown(res), cmd=command(res["rows"]))
    return 0


if __name__ == "__main__":
    from modspike.errors import ModspikeError

    try:
        raise SystemExit(main())
    except ModspikeError as exc:
        raise SystemExit(f"conv.py: error: {exc}") from None
