"""Homogeneous vs heterogeneous LIF populations (Perez-Nieves et al. 2021's four configurations).

For each data set, 3 seeds each:

* ``homogeneous`` (their HomInit-StdTr): every neuron beta = 0.9 (tau = 9.49 steps), threshold 1;
* ``het-init`` (HetInit-StdTr): tau ~ gamma(mean 9.49 steps, k = 3) per neuron, fixed;
* ``het-learned`` (HetInit-HetTr): the same draw, then trained per neuron with the weights;
* ``hom-learned`` (HomInit-HetTr): beta starts at 0.9 everywhere and is trained per neuron.

Data: ``digits`` (rate code, T = 20, ``modspike train``'s loop) and the event stand-in
``dvs-digits`` (25 bins of 12.2 ms, ON/OFF, 2x2 pooling: 2 x 12 x 12 inputs, binarised;
its own loop below, the same model and optimiser). SHD is used when its files are present
(``--shd-dir``); they are not in this environment. LIF, 64 hidden, summed readout, Adam 5e-3,
batch 64, the epoch of lowest validation loss kept. Reported: float test accuracy and the
quantised network's (8-bit, per-neuron integer decays / thresholds, the simulator) test accuracy.

Also measured on Lava: one ``LIFReset`` holding per-neuron arrays (modspike's mapping) against one
process per distinct (du, dv, vth) profile (what Loihi's shared compartment profiles need).

Writes ``benchmarks/results/heterogeneity.{json,md}``. ``--quick``: 1 seed, 3 epochs, into
``results/quick/``. Run niced: ``nice -n 19 .venv/bin/python benchmarks/heterogeneity.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"
TAU = -1.0 / math.log(0.9)  # 9.49 steps: the homogeneous beta = 0.9
CONFIGS = {
    "homogeneous": None,
    "het-init": f"tau=gamma:{TAU:.4f}:3",
    "het-learned": f"tau=gamma:{TAU:.4f}:3;learn",
    "hom-learned": "learn=beta",
}
PEREZ_NIEVES = {
    "reference": "Perez-Nieves, Leung, Dragotti & Goodman, Nature Communications 12:5791 (2021)",
    "claim": (
        "abstract: heterogeneity in time constants 'substantially improved task performance';"
        " learning was 'more stable and robust, particularly for tasks with a rich temporal"
        " structure'"
    ),
    "table": (
        "not recorded: the paper's Table 1 could not be read back here (only its abstract), and"
        " no number is quoted without a source"
    ),
}


def quantised_accuracy(net, x, y) -> float:
    from modspike.quantize import quantize
    from modspike.step import compile, run

    prog = compile(quantize(net))
    out = run(prog, np.asarray(x, dtype=np.int64), record=False)
    return float((prog.readout(out.total, x.shape[0]).argmax(1) == y).mean())


def digits_run(spec: str | None, seed: int, epochs: int) -> dict:
    from modspike.data import load_dataset
    from modspike.encoding import encode_batch, generator
    from modspike.train.modules import encoding_of, to_network
    from modspike.train.trainer import TrainConfig, train

    cfg = TrainConfig(cell="lif", hidden=64, steps=20, epochs=epochs, seed=seed,
                      heterogeneous=spec)  # fmt: skip
    t0 = time.perf_counter()
    model, metrics = train(cfg, progress=False)
    data = load_dataset("digits")
    x = encode_batch(model, torch.as_tensor(data.x_test), cfg, generator(seed + 2)).numpy()
    net = to_network(model, encoding_of(cfg))
    return {
        "test_accuracy": metrics["test_accuracy"],
        "quantised_test_accuracy": quantised_accuracy(net, x, data.y_test),
        "seconds": time.perf_counter() - t0,
        "beta": _beta_stats(net),
    }


def _beta_stats(net) -> dict:
    beta = np.asarray(net.layers[0].cell.params.beta)
    tau = -1.0 / np.log(np.clip(beta, 1e-9, 1 - 1e-12))
    return {"tau_mean": float(tau.mean()), "tau_sd": float(tau.std()),
            "tau_min": float(tau.min()), "tau_max": float(tau.max())}  # fmt: skip


def events_run(data, spec: str | None, seed: int, epochs: int) -> dict:
    """The same model and optimiser on binarised event frames (T, B, 288)."""
    from modspike.train.modules import ModelConfig, build_model, to_network

    def frames(x):
        x = np.minimum(np.asarray(x), 1).reshape(x.shape[0], x.shape[1], -1)
        return np.moveaxis(x, 0, 1).astype(np.float32)  # (T, N, inputs)

    xtr, xva, xte = frames(data.x_train), frames(data.x_val), frames(data.x_test)
    torch.manual_seed(seed)
    model = build_model(ModelConfig(cell="lif", n_in=xtr.shape[2], hidden=64, n_out=10,
                                    heterogeneous=spec))  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    best = (math.inf, None)
    for _ in range(epochs):
        model.train()
        order = rng.permutation(xtr.shape[1])
        for start in range(0, len(order), 64):
            idx = order[start : start + 64]
            logits = model(torch.as_tensor(xtr[:, idx]))
            loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(data.y_train[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val = torch.nn.functional.cross_entropy(
                model(torch.as_tensor(xva)), torch.as_tensor(data.y_val)
            ).item()
        if val < best[0]:
            best = (val, {k: v.clone() for k, v in model.state_dict().items()})
    model.load_state_dict(best[1])
    model.eval()
    with torch.no_grad():
        acc = float((model(torch.as_tensor(xte)).argmax(1).numpy() == data.y_test).mean())
    net = to_network(model)
    return {
        "test_accuracy": acc,
        "quantised_test_accuracy": quantised_accuracy(net, xte, data.y_test),
        "seconds": time.perf_counter() - t0,
        "beta": _beta_stats(net),
    }


def lava_profiles() -> dict:
    """Per-neuron arrays in one LIFReset vs one LIFReset per profile, a 16-neuron het-init layer,
    30 samples of 20 steps; and the profile count of the 64-neuron layers trained above."""
    from modspike.hw.backends import simulate
    from modspike.hw.lava.heterogeneous import run_profiles
    from modspike.quantize import quantize
    from modspike.train.modules import ModelConfig, build_model, to_network

    torch.manual_seed(0)
    model = build_model(ModelConfig(cell="lif", n_in=64, hidden=16,
                                    heterogeneous=CONFIGS["het-init"]))  # fmt: skip
    with torch.no_grad():
        model.layers[0].synapse.weight.mul_(3)
    net = quantize(to_network(model))
    x = (np.random.default_rng(0).random((20, 30, 64)) < 0.3).astype(np.int64)
    sim = simulate(net, x, "sim")
    one = simulate(net, x, "lava")
    raster, seconds, processes = run_profiles(net, x)
    return {
        "neurons": 16,
        "samples": 30,
        "steps": 20,
        "profiles": processes,
        "per_neuron_arrays_equal_sim": bool(np.array_equal(one.rasters[0], sim.rasters[0])),
        "one_process_per_profile_equal_sim": bool(np.array_equal(raster, sim.rasters[0])),
        "seconds_one_process": one.seconds,
        "seconds_per_profile": seconds,
        "ratio": seconds / one.seconds,
        "spikes": int(sim.rasters[0].sum()),
    }


def profile_count(spec: str | None, seed: int) -> int:
    from modspike.hw.lava.heterogeneous import profiles
    from modspike.quantize import quantize
    from modspike.train.modules import ModelConfig, build_model, to_network

    torch.manual_seed(seed)
    model = build_model(ModelConfig(cell="lif", n_in=64, hidden=64, heterogeneous=spec))
    return len(profiles(quantize(to_network(model)).layers[0]))


def summarise(runs: list[dict]) -> dict:
    acc = [r["test_accuracy"] for r in runs]
    q = [r["quantised_test_accuracy"] for r in runs]
    return {"mean": float(np.mean(acc)), "sd": float(np.std(acc)), "runs": acc,
            "quantised_mean": float(np.mean(q)), "quantised_runs": q}  # fmt: skip


def markdown(out: dict) -> str:
    lines = [
        "| data | config | test accuracy (3 seeds) | mean +- sd | quantised (sim) mean |"
        " tau after training (mean +- sd, steps) |",
        "|---|---|---|---|---|---|",
    ]
    for data, configs in out["results"].items():
        for name, res in configs.items():
            s = res["summary"]
            runs = " / ".join(f"{a:.3f}" for a in s["runs"])
            betas = res["runs"][0]["beta"]
            lines.append(
                f"| {data} | {name} | {runs} | {s['mean']:.3f} +- {s['sd']:.3f} |"
                f" {s['quantised_mean']:.3f} | {betas['tau_mean']:.1f} +- {betas['tau_sd']:.1f} |"
            )
    d = out["difference_points"]
    lines += ["", "Heterogeneous minus homogeneous, mean test accuracy (points):", ""]
    for data, diffs in d.items():
        lines.append(f"- {data}: " + ", ".join(f"{k} {v:+.1f}" for k, v in diffs.items()))
    lp = out.get("lava_profiles")
    if lp:
        lines += [
            "",
            f"Lava, a {lp['neurons']}-neuron het-init LIF layer ({lp['profiles']} distinct"
            f" (du, dv, vth) profiles), {lp['samples']} samples x {lp['steps']} steps: one"
            f" LIFReset with per-neuron arrays {lp['seconds_one_process']:.2f} s, one LIFReset per"
            f" profile {lp['seconds_per_profile']:.2f} s ({lp['ratio']:.1f}x); spikes equal to the"
            f" simulator: {lp['per_neuron_arrays_equal_sim']} / "
            f"{lp['one_process_per_profile_equal_sim']}. Profiles of a 64-neuron layer:"
            f" {out['profiles_64']}.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--shd-dir", help="folder with shd_train.h5 / shd_test.h5 (SHD runs if given)")
    args = p.parse_args()
    seeds = [0] if args.quick else [0, 1, 2]
    epochs = 3 if args.quick else 15
    out_dir = RESULTS / "quick" if args.quick else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    from modspike.events.datasets import load_event_dataset

    events = load_event_dataset("dvs-digits", downsample=2, progress=False)
    datasets = {
        "digits": lambda spec, seed: digits_run(spec, seed, epochs),
        "dvs-digits": lambda spec, seed: events_run(events, spec, seed, epochs),
    }
    if args.shd_dir:
        shd = load_event_dataset("shd", args.shd_dir, progress=False)
        datasets["shd"] = lambda spec, seed: events_run(shd, spec, seed, epochs)
    results: dict = {}
    t0 = time.perf_counter()
    for data, fn in datasets.items():
        results[data] = {}
        for name, spec in CONFIGS.items():
            runs = []
            for seed in seeds:
                runs.append(fn(spec, seed))
                print(data, name, seed, f"{runs[-1]['test_accuracy']:.3f}", flush=True)
            results[data][name] = {"spec": spec, "runs": runs, "summary": summarise(runs)}
    diff = {
        data: {
            name: 100 * (res[name]["summary"]["mean"] - res["homogeneous"]["summary"]["mean"])
            for name in CONFIGS
            if name != "homogeneous"
        }
        for data, res in results.items()
    }
    out = {
        "setup": {
            "cell": "lif",
            "hidden": 64,
            "epochs": epochs,
            "seeds": seeds,
            "lr": 5e-3,
            "batch": 64,
            "homogeneous_tau_steps": TAU,
            "configs": CONFIGS,
            "shd": "not present" if not args.shd_dir else args.shd_dir,
            "machine": platform.platform(),
            "torch_threads": 2,
        },  # fmt: skip
        "results": results,
        "difference_points": diff,
        "perez_nieves_2021": PEREZ_NIEVES,
        "profiles_64": {n: profile_count(s, 0) for n, s in CONFIGS.items()},
        "seconds": time.perf_counter() - t0,
    }
    out["lava_profiles"] = lava_profiles()
    (out_dir / "heterogeneity.json").write_text(json.dumps(out, indent=1))
    (out_dir / "heterogeneity.md").write_text(markdown(out))
    print(markdown(out))


if __name__ == "__main__":
    main()
