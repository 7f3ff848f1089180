"""Online learning after deployment (``modspike learn``), simulator and Lava side by side.

1. A LIF classifier is trained on digits (64 hidden, T = 20, 20 epochs, seed 0) and exported
   (8-bit); its readout becomes ten LIF output neurons and their synapse learns with R-STDP.
2. **Continual**: 300 samples with the original labels, then the labels are permuted (a
   derangement) for 3000 samples (~1.9 passes over the training split); online accuracy per
   episode of 100 samples. Seeds 0, 1, 2 on the simulator; seed 0 also on Lava (the same
   closed loop, bit for bit: counts, third factors and learned weights compared) and with the
   float rules. Baselines on the same stream: the frozen network, and the readout retrained by
   online backprop (SGD on cross-entropy, one sample at a time, lr 0.05 and 0.01).
3. **Distal reward** (Izhikevich 2007) on the classifier's first layer: 3000 samples, sim and
   Lava.
4. **Moving target** (the NMD task family, reward as third factor): 40 episodes, sim and Lava.
5. The learning engine's events and their energy (Loihi, 120 pJ per synaptic update).

Writes ``benchmarks/results/plasticity.{json,md}``; ``--quick`` shrinks everything (results in
``results/quick/``); ``--no-lava`` skips Lava. Run niced:
``nice -n 19 .venv/bin/python benchmarks/plasticity.py`` (23 minutes on 2 shared, loaded cores).
``--markdown-only`` rewrites ``plasticity.md`` from an existing ``plasticity.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = Path(__file__).resolve().parents[1] / "runs" / "bench_plasticity"


def artifact(quick: bool) -> Path:
    """The trained, exported LIF classifier (cached under runs/)."""
    from modspike.cli import main

    root = CACHE / ("quick" if quick else "full")
    art = root / "artifact"
    if not (art / "manifest.json").is_file():
        epochs = "3" if quick else "20"
        code = main(["train", "--cell", "lif", "--hidden", "64", "--steps", "20", "--epochs",
                     epochs, "--out", str(root / "run"), "--force", "--quiet"])  # fmt: skip
        assert code == 0
        assert main(["export", str(root / "run"), "--out", str(art), "--force"]) == 0
    return art


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def continual_block(art: Path, quick: bool, lava: bool) -> dict:
    from modspike.export.artifact_build import open_artifact
    from modspike.network import network_equal
    from modspike.studies.learning import continual

    a, net = open_artifact(art)
    cfg = continual.ContinualConfig()
    if quick:
        cfg = replace(cfg, before=100, after=300)
    out: dict = {"config": cfg.__dict__, "seeds": {}}
    for seed in [0] if quick else [0, 1, 2]:
        c = replace(cfg, seed=seed)
        (learned, rep), secs = timed(lambda c=c: continual.run_task(net, a.manifest, "rstdp", {},
                                                                    "sim", c))  # fmt: skip
        rep["seconds"] = secs
        if seed == 0:
            inputs, _, taught, _ = continual.stream(a.manifest, c)
            bp01 = continual.backprop_baseline(net, inputs, taught, replace(c, backprop_lr=0.01))
            rep["backprop_readout_lr0.01_accuracy_per_episode"] = continual.episodes(
                bp01, c.episode
            )
            sim_learned = learned
        out["seeds"][seed] = rep
    c0 = replace(cfg, seed=0)
    (_, flt), secs = timed(lambda: continual.run_task(net, a.manifest, "rstdp", {}, "float", c0,
                                                      baselines=False))  # fmt: skip
    flt["seconds"] = secs
    out["float"] = flt
    if lava:
        (lava_learned, lv), secs = timed(
            lambda: continual.run_task(net, a.manifest, "rstdp", {}, "lava", c0, baselines=False)
        )
        lv["seconds"] = secs
        ref = out["seeds"][0]
        lv["equal_to_sim"] = {
            "accuracy_per_episode": lv["online_accuracy_per_episode"]
            == ref["online_accuracy_per_episode"],
            "learned_network": bool(network_equal(lava_learned, sim_learned)),
            "counts": lv["learning"]["counts"] == ref["learning"]["counts"],
        }
        out["lava"] = lv
    return out


def distal_block(art: Path, quick: bool, lava: bool) -> dict:
    from modspike.export.artifact_build import open_artifact
    from modspike.studies.learning import distal

    _, net = open_artifact(art)
    cfg = distal.DistalConfig(samples=400 if quick else 3000)
    out = {}
    (sim_net, sim), secs = timed(lambda: distal.run_task(net, "rstdp", {}, "sim", cfg))
    sim["seconds"] = secs
    out["sim"] = sim
    if lava:
        (lava_net, lv), secs = timed(lambda: distal.run_task(net, "rstdp", {}, "lava", cfg))
        lv["seconds"] = secs
        lv["equal_to_sim"] = bool(
            np.array_equal(lava_net.layers[0].synapse.fixed.mantissa,
                           sim_net.layers[0].synapse.fixed.mantissa)
            and lv["trajectory"] == sim["trajectory"]
        )  # fmt: skip
        out["lava"] = lv
    return out


def target_block(art: Path, quick: bool, lava: bool) -> dict:
    from modspike.export.artifact_build import open_artifact
    from modspike.studies.learning import moving_target

    _, net = open_artifact(art)
    cfg = moving_target.TargetConfig(episodes=5 if quick else 40)
    (sim_net, sim), secs = timed(lambda: moving_target.run_task(net, "rstdp", {}, "sim", cfg))
    sim["seconds"] = secs
    out = {"sim": sim}
    if lava:
        (lava_net, lv), secs = timed(
            lambda: moving_target.run_task(net, "rstdp", {}, "lava", cfg, baselines=False)
        )
        lv["seconds"] = secs
        lv["equal_to_sim"] = bool(
            lv["returns_per_episode"] == sim["returns_per_episode"]
            and np.array_equal(lava_net.layers[1].synapse.fixed.mantissa,
                               sim_net.layers[1].synapse.fixed.mantissa)
        )  # fmt: skip
        out["lava"] = lv
    return out


def _row(values, fmt="{:.2f}") -> str:
    return " ".join(fmt.format(v) for v in values)


def markdown(out: dict) -> str:
    c = out["continual"]
    s0 = c["seeds"]["0"] if "0" in c["seeds"] else c["seeds"][0]
    lines = ["### Continual learning: labels permuted after 300 samples", ""]
    lines += ["| seed | pre-switch | last episode | recovered | test (permuted labels) |"
              " episodes to >= 90 % of pre-switch |", "|---|---|---|---|---|---|"]  # fmt: skip
    for seed, rep in c["seeds"].items():
        pre = rep["pre_switch_accuracy"]
        eps = rep["online_accuracy_per_episode"]
        n_before = -(-rep["config"]["before"] // rep["config"]["episode"])
        hit = next((i for i, v in enumerate(eps[n_before:], 1) if v >= 0.9 * pre), None)
        lines.append(
            f"| {seed} | {pre:.3f} | {rep['post_switch_last_episode']:.3f} |"
            f" {rep['recovered_fraction']:.3f} |"
            f" {rep['test_accuracy_after']['permuted_labels']:.3f} | {hit} |"
        )
    lines += ["", "Accuracy per episode of 100 samples, seed 0 (the switch after episode 3):", ""]
    lines.append(f"- R-STDP, sim: {_row(s0['online_accuracy_per_episode'])}")
    if "lava" in c:
        lv = c["lava"]
        lines.append(f"- R-STDP, Lava: {_row(lv['online_accuracy_per_episode'])}")
        lines.append(f"  (equal to sim: {lv['equal_to_sim']}; {lv['seconds']:.0f} s vs"
                     f" {s0['seconds']:.0f} s for the sim run with its baselines)")  # fmt: skip
    lines.append(f"- R-STDP, float rules: {_row(c['float']['online_accuracy_per_episode'])}")
    lines.append(f"- frozen: {_row(s0['frozen_accuracy_per_episode'])}")
    lines.append(
        f"- backprop readout (SGD 0.05): {_row(s0['backprop_readout_accuracy_per_episode'])}"
    )
    lines.append(
        f"- backprop readout (SGD 0.01): {_row(s0['backprop_readout_lr0.01_accuracy_per_episode'])}"
    )
    fl = np.asarray(c["float"]["online_accuracy_per_episode"])
    si = np.asarray(s0["online_accuracy_per_episode"])
    lines.append(
        f"\nFloat vs integer, largest per-episode difference: {np.abs(fl - si).max():.2f}."
    )
    d = out["distal"]["sim"]
    lines += ["", "### Distal reward (Izhikevich 2007)", ""]
    lines.append(
        f"Rewarded synapse {d['synapse']}: weight {d['weight_before']} -> {d['weight_after']}"
        f" (engine range -256..255) after {d['events']} rewarded pairings; the other"
        f" {4095} synapses: mean {d['others_before_mean']:.1f} -> {d['others_after_mean']:.1f}"
        f" (sd {d['others_after_sd']:.1f}); the rewarded one is above"
        f" {100 * d['percentile_after']:.2f} % of them."
    )
    if "lava" in out["distal"]:
        lines.append(f"Lava: the same run, equal to sim: {out['distal']['lava']['equal_to_sim']}.")
    lines.append("")
    lines.append("| samples | rewarded weight | others mean | others 99th percentile |")
    lines.append("|---|---|---|---|")
    for r in d["trajectory"][:: max(1, len(d["trajectory"]) // 10)]:
        lines.append(f"| {r['sample']} | {r['rewarded']} | {r['others_mean']:.1f} |"
                     f" {r['others_p99']:.0f} |")  # fmt: skip
    t = out["moving_target"]["sim"]
    lines += ["", "### Moving target, reward as the third factor", ""]
    lines.append(
        f"Mean return over {len(t['returns_per_episode'])} episodes: R-STDP {t['mean_return']:.1f}"
        f" (last 10: {t['mean_return_last_10']:.1f}), the same agent without learning"
        f" {t['frozen_mean_return']:.1f}; scripted go-to-0 {t['scripted']['go_to_zero']:.1f},"
        f" oracle {t['scripted']['oracle']:.1f}."
    )
    if "lava" in out["moving_target"]:
        lines.append(f"Lava: equal to sim: {out['moving_target']['lava']['equal_to_sim']}.")
    lines += ["", "### Learning energy (Loihi, 120 pJ per synaptic update)", ""]
    lines.append(
        "| task | learning steps | synaptic updates | trace updates | energy | per sample |"
    )
    lines.append("|---|---|---|---|---|---|")
    for name, rep, n in (
        ("continual (seed 0)", s0, s0["samples"]),
        ("distal", d, d["config"]["samples"]),
        ("moving target", t, len(t["returns_per_episode"]) * t["config"]["horizon"]),
    ):
        cnt, e = rep["learning"]["counts"], rep["learning"]["energy_pJ"]["total"]
        lines.append(f"| {name} | {cnt['learning']:,} | {cnt['synapse_updates']:,} |"
                     f" {cnt['trace_updates']:,} | {e / 1e6:.1f} uJ | {e / n / 1e6:.3f} uJ |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--no-lava", action="store_true")
    p.add_argument(
        "--markdown-only",
        action="store_true",
        help="rewrite plasticity.md from the existing plasticity.json (no runs)",
    )
    args = p.parse_args()
    torch.set_num_threads(2)
    out_dir = RESULTS / "quick" if args.quick else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.markdown_only:
        out = json.loads((out_dir / "plasticity.json").read_text())
        (out_dir / "plasticity.md").write_text(markdown(out))
        return
    t0 = time.perf_counter()
    art = artifact(args.quick)
    lava = not args.no_lava
    out = {
        "machine": platform.platform(),
        "continual": continual_block(art, args.quick, lava),
        "distal": distal_block(art, args.quick, lava),
        "moving_target": target_block(art, args.quick, lava),
    }
    out["seconds"] = time.perf_counter() - t0
    out = json.loads(json.dumps(out, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
    (out_dir / "plasticity.json").write_text(json.dumps(out, indent=1))
    (out_dir / "plasticity.md").write_text(markdown(out))
    print(markdown(out))


if __name__ == "__main__":
    main()
