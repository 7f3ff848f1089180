"""NMD benchmark 1, faithful port, reduced protocol (fidelity.md 2.5), and its spiking extension (3).

Agents: ``nmd`` (the authors' NMD net), ``rnn`` (their GRU baseline), ``nmd-msrc`` (the main
network made of mSRC neurons driven by the NMD modulation). Each (agent, seed) run trains with the
authors' PPO-KL for ``--episodes`` episodes of 400 steps (gamma 0.99), then is evaluated on 1000
fresh episodes (seed 12345). Runs are cached in ``--cache`` (one JSON and the weights per run), so
the protocol can be run in pieces; the results file is rebuilt from the cache at the end.

    nice -n 19 .venv/bin/python benchmarks/nmd_benchmark1.py --agents nmd rnn        # ~12 min a run
    nice -n 19 .venv/bin/python benchmarks/nmd_benchmark1.py --diagnostics            # spiking, 3.
    nice -n 19 .venv/bin/python benchmarks/nmd_benchmark1.py --agents nmd-msrc
    .venv/bin/python benchmarks/nmd_benchmark1.py --report                            # JSON only

Writes ``benchmarks/results/nmd_benchmark1.json`` and prints the acceptance checks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from modspike.studies.nmd_bench1.env import REDUCED_HIGH, REDUCED_LOW, normalised_score
from modspike.studies.nmd_bench1.networks import build_copies, count_parameters
from modspike.studies.nmd_bench1.ppo import PPOKL, PPOConfig
from modspike.studies.nmd_bench1.report import (
    NORMALISATION,
    acceptance,
    normalised_running_mean,
    running_mean,
)
from modspike.studies.results_file import downsample, write_results

ROOT = Path(__file__).resolve().parent
DEFAULT_CACHE = ROOT.parent / "runs" / "nmd_benchmark1"
DEFAULT_OUT = ROOT / "results" / "nmd_benchmark1.json"
ARCHS = ("nmd", "rnn", "nmd-msrc")


def _round(xs, nd: int = 3) -> list[float]:
    return [round(float(x), nd) for x in xs]


def write_json(path: Path, data: dict) -> None:
    """Write whole or not at all (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def build_agent(arch: str, spiking_options: dict | None = None):
    """``(actor, critic)``; ``nmd-msrc``: spiking actor, the non-spiking NMD critic."""
    if arch == "nmd-msrc":
        from modspike.studies.nmd_bench1.spiking import SpikingNMDCopy

        _, critic = build_copies("nmd")
        return SpikingNMDCopy(**(spiking_options or {})), critic
    return build_copies(arch)


def run_one(arch: str, seed: int, cfg: PPOConfig, cache: Path, spiking_options=None) -> dict:
    """Train and evaluate one agent; the record goes to ``cache/{arch}-seed{seed}.json``."""
    torch.manual_seed(seed)
    actor, critic = build_agent(arch, spiking_options)
    ppo = PPOKL(actor, critic, cfg, seed=seed)
    t0 = time.perf_counter()

    def log(info: dict) -> None:
        k = info["update"]
        if k == 1 or k % 10 == 0 or k == info["of"]:
            print(
                f"  {arch} seed {seed}: update {k}/{info['of']} ({info['episodes']} episodes), "
                f"batch discounted return {info['mean_discounted_return']:.1f}, KL "
                f"{info['kl']:.4f}, beta {info['beta']:.3f}, {'reverted, ' if info['reverted'] else ''}"
                f"{info['seconds']:.1f} s/update, {time.perf_counter() - t0:.0f} s",
                flush=True,
            )

    history = ppo.train(log)
    evaluation = ppo.evaluate()
    for mode in evaluation.values():
        mode["normalised"] = float(normalised_score(mode["discounted_return"]))
    record = {
        "arch": arch,
        "seed": seed,
        "n_parameters": {"policy": count_parameters(actor), "value": count_parameters(critic)},
        "initial_discounted_return": _round(history["initial_discounted_return"], 2),
        "discounted_return": _round(history["discounted_return"], 2),
        "return": _round(history["return"], 1),
        "updates": [
            {k: (round(v, 6) if isinstance(v, float) else v) for k, v in u.items()}
            for u in history["updates"]
        ],
        "eval": evaluation,
        "seconds": time.perf_counter() - t0,
    }
    if arch == "nmd-msrc":  # the options in force, defaults included
        record["spiking_options"] = actor.options.to_dict()
    cache.mkdir(parents=True, exist_ok=True)
    save_file({f"actor.{k}": v.contiguous() for k, v in actor.state_dict().items()}
              | {f"critic.{k}": v.contiguous() for k, v in critic.state_dict().items()},
              str(cache / f"{arch}-seed{seed}.safetensors"))  # fmt: skip
    write_json(cache / f"{arch}-seed{seed}.json", record)
    print(
        f"  {arch} seed {seed}: done in {record['seconds']:.0f} s; eval discounted return "
        f"sampled {evaluation['sampled']['discounted_return']:.1f} "
        f"(normalised {evaluation['sampled']['normalised']:.3f}), mean action "
        f"{evaluation['mean']['discounted_return']:.1f}",
        flush=True,
    )
    return record


def load_agent(arch: str, seed: int, cache: Path, spiking_options=None):
    """The trained ``(actor, critic)`` of a cached run (our own safetensors file)."""
    actor, critic = build_agent(arch, spiking_options)
    tensors = load_file(str(cache / f"{arch}-seed{seed}.safetensors"))
    actor.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("actor.")})
    critic.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("critic.")})
    return actor, critic


def _summary(rec: dict) -> dict:
    """What the results file keeps of one run: final numbers and a curve of ~100 points (the
    per-episode histories stay in the cache)."""
    updates = rec["updates"]
    norm = rec["normalised_running_mean"]
    return {
        "arch": rec["arch"],
        "seed": rec["seed"],
        "episodes": len(rec["discounted_return"]),
        "n_parameters": rec["n_parameters"],
        "final_running_mean_1000": rec["running_mean_1000"][-1],
        "final_normalised_running_mean": norm[-1],
        "normalised_last_100": round(
            float(normalised_score(np.mean(rec["discounted_return"][-100:]))), 4
        ),
        "eval": rec["eval"],
        "updates": {
            "count": len(updates),
            "reverted": sum(bool(u.get("reverted")) for u in updates),
            "final_beta": updates[-1].get("beta") if updates else None,
            "final_lr_multiplier": updates[-1].get("lr_multiplier") if updates else None,
            "mean_seconds": float(np.mean([u["seconds"] for u in updates])) if updates else None,
        },
        "normalised_running_mean": downsample(norm, 100),
        "spiking_options": rec.get("spiking_options"),
        "seconds": round(rec["seconds"], 1),
    }


def report(cache: Path, out: Path, cfg: PPOConfig) -> dict:
    """Assemble the results file from the cached runs; print the acceptance checks (computed on
    the full per-episode histories of the cache)."""
    runs = []
    for arch in ARCHS:
        for path in sorted(cache.glob(f"{arch}-seed*.json")):
            rec = json.loads(path.read_text())
            if rec.get("arch") != arch:
                continue
            rec["running_mean_1000"] = _round(running_mean(rec["discounted_return"]), 2)
            rec["normalised_running_mean"] = _round(
                normalised_running_mean(rec["discounted_return"]), 4
            )
            runs.append(rec)
    diagnostics = None
    if (cache / "diagnostics.json").exists():
        diagnostics = json.loads((cache / "diagnostics.json").read_text())
    acc = acceptance(runs)
    result = {
        "protocol": {
            **cfg.to_dict(),
            "z_lag": True,
            "shared_noise": cfg.shared_noise,
            "source": "nvecoven/nmd_net@af43e17c64ff4dc9a57140f88989153954791629",
            "changes_from_paper": f"400-step episodes (the training cut covers the whole "
            f"episode), gamma 0.99, {cfg.episodes} episodes, seeds "
            f"{sorted({r['seed'] for r in runs})} (paper: 1400 steps, gamma 0.998, 20 000 "
            "episodes, 15 seeds; fidelity.md 2.5: 6000 episodes, 3 seeds)",
            "evaluation": "1000 fresh episodes (seed 12345): sampled actions with independent "
            "noise per episode, and the mean action",
        },
        "normalisation": NORMALISATION,
        "paper": {
            "nmd_final_return": 4534,
            "optimum": 4679,
            "nmd_final_normalised_paper_protocol": round(float((4534 + 1853) / (4679 + 1853)), 3),
            "tag": "secondary (digests of the paper)",
        },
        "runs": [_summary(r) for r in runs],
        "spiking_diagnostics": diagnostics,
        "acceptance": acc,
    }
    write_results(out, result)
    plot(runs, out.with_suffix(".png"))
    print_acceptance(acc, runs)
    return result


def plot(runs: list[dict], path: Path) -> None:
    """Normalised 1000-episode running mean per run (the paper's Fig 6 form)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"nmd": "tab:blue", "rnn": "tab:orange", "nmd-msrc": "tab:green"}
    fig, ax = plt.subplots(figsize=(8, 4))
    for r in runs:
        y = np.asarray(r["normalised_running_mean"])
        ax.plot(np.arange(1, len(y) + 1), y, color=colours[r["arch"]], lw=1,
                label=f"{r['arch']} seed {r['seed']}")  # fmt: skip
    ax.axhline(0.9, color="0.5", ls=":", lw=0.8)
    ax.axvline(600, color="0.5", ls=":", lw=0.8)
    ax.set_xlabel("training episode")
    ax.set_ylabel("normalised running mean (1000 episodes)")
    ax.set_title("NMD benchmark 1, reduced protocol (400 steps, gamma 0.99)")
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_acceptance(acc: dict, runs: list[dict]) -> None:
    def verdict(v) -> str:
        return "not run" if v is None else ("PASS" if v else "FAIL")

    print(f"\nNormalisation: (R - {REDUCED_LOW}) / ({REDUCED_HIGH} - {REDUCED_LOW})")
    for arch, f in acc["final_normalised"].items():
        if f["mean"] is not None:
            sd = f" +- {f['sd']:.3f}" if f["sd"] is not None else ""
            print(f"  {arch:9s} final normalised W (last episode): {f['mean']:.3f}{sd} "
                  f"(per seed {', '.join(f'{v:.3f}' for v in f['per_seed'].values())})")  # fmt: skip
    for r in runs:
        e = r["eval"]
        last = float(normalised_score(np.mean(r["discounted_return"][-100:])))
        print(f"  {r['arch']:9s} seed {r['seed']}: eval normalised sampled "
              f"{e['sampled']['normalised']:.3f}, mean action {e['mean']['normalised']:.3f}; "
              f"last 100 training episodes {last:.3f}")  # fmt: skip
    p = acc["passed"]
    print(f"(a) NMD above RNN at every episode >= {acc['from_episode']}, every seed pair: "
          f"{verdict(p['a'])} " + ", ".join(
              f"seed {q['seeds'][0]}: first violation {q['first_violation']}, NMD above on "
              f"{100 * q['share_nmd_above']:.0f} % of episodes" for q in acc["pairs"]))  # fmt: skip
    s = acc["spread"]
    if s["nmd"] is not None and s["rnn"] is not None:
        print(f"(b) NMD seed spread <= RNN's: {verdict(p['b'])} "
              f"(NMD {s['nmd']:.3f}, RNN {s['rnn']:.3f})")  # fmt: skip
    else:
        print("(b) spread: not run")
    print(f"(c) NMD final normalised W >= 0.9 for every seed: {verdict(p['c'])}")
    ratio = acc["spiking_ratio"]
    print(f"(spiking) mSRC >= 0.8 x NMD: {verdict(p['spiking'])}"
          + (f" (ratio {ratio:.3f})" if ratio is not None else ""))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", nargs="*", default=[], choices=ARCHS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--episodes", type=int, default=6000)
    ap.add_argument("--policy-steps", type=int, default=20)
    ap.add_argument("--critic-epochs", type=int, default=10)
    ap.add_argument("--force", action="store_true", help="rerun runs already in the cache")
    ap.add_argument("--diagnostics", action="store_true", help="the spiking diagnostics (3.)")
    ap.add_argument("--clone-episodes", type=int, default=500, help="teacher episodes (3.)")
    ap.add_argument("--clone-steps", type=int, default=400, help="cloning steps per trial (3.)")
    ap.add_argument("--micro-steps", nargs="+", type=int, default=[3, 5, 10, 20],
                    help="K tried in turn until cloning passes the gate (3.)")  # fmt: skip
    ap.add_argument("--fallbacks", type=int, default=None,
                    help="try at most this many of steps 4-5 and the fallbacks (3.)")  # fmt: skip
    ap.add_argument("--report", action="store_true", help="only rebuild the results file")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # small recurrent nets: threads only contend on a shared machine
    cfg = PPOConfig(
        episodes=args.episodes, policy_steps=args.policy_steps, critic_epochs=args.critic_epochs
    )
    if not args.report:
        if args.diagnostics:
            from modspike.studies.nmd_bench1.spiking import run_diagnostics

            teacher, _ = load_agent("nmd", 0, args.cache)
            trials_path = args.cache / "diagnostics_trials.json"
            trials = json.loads(trials_path.read_text()) if trials_path.exists() else {}

            def log(msg: str) -> None:
                print(msg, flush=True)
                write_json(trials_path, trials)  # each finished trial survives an interruption

            diag = run_diagnostics(
                teacher, cfg, log=log, episodes=args.clone_episodes, clone_steps=args.clone_steps,
                micro_steps=tuple(args.micro_steps), probe_k=min(args.micro_steps),
                cache=trials, candidates=args.fallbacks,
            )  # fmt: skip
            write_json(args.cache / "diagnostics.json", diag)
        for arch in args.agents:
            options = None
            if arch == "nmd-msrc" and (args.cache / "diagnostics.json").exists():
                options = json.loads((args.cache / "diagnostics.json").read_text())["chosen"]
            for seed in args.seeds:
                if (args.cache / f"{arch}-seed{seed}.json").exists() and not args.force:
                    print(f"  {arch} seed {seed}: cached, skipped")
                    continue
                run_one(arch, seed, cfg, args.cache, options)
    if not any(args.cache.glob("*-seed*.json")):
        print(f"no runs in {args.cache}; run with --agents first", file=sys.stderr)
        return 2
    report(args.cache, args.out, cfg)
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
