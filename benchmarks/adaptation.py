"""Adaptation with an unobservable change (issue 7 item 2; cells.md 5.6).

Moving-target task (B parallel episodes, T = 50, the target is never observed). Agents trained with
A2C + GAE (full-episode BPTT, Adam 3e-3, entropy 0.02 -> 0.001), one torch thread per process:

* ``nmd-msrc``: GRU context network -> z -> per-neuron gain / bias / h_s0 of an mSRC layer;
* ``msrc``: the same mSRC network without modulation (sees the position only);
* ``gru``: a GRU(32) policy over [position, previous action, previous reward];
* ``nmd-mlp`` (optional): the section 5.2 NMD net with a non-spiking main network.

Reported per agent, mean over seeds, on 1024 fresh evaluation episodes (the same for all agents):
return, reward in the last 10 steps ("after adaptation"), steps to adapt (first step from which the
mean reward per step stays >= 0.5), median first step on target; with the policy as trained
(sampled actions) and greedy. The plot shows the reward per step within an episode.

    nice .venv/bin/python benchmarks/adaptation.py                    # the README table
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from modspike.studies.nmd.envs import scripted_return
from modspike.studies.nmd.rl import EVAL_SEED, A2CConfig, run, steps_to_90pct, steps_to_adapt

ROOT = Path(__file__).resolve().parent
LABELS = {
    "nmd-msrc": "NMD-modulated mSRC",
    "msrc": "mSRC, unmodulated",
    "gru": "GRU",
    "nmd-mlp": "NMD, non-spiking (5.2)",
    "mlp": "MLP, unmodulated",
}
AGENT_KWARGS = {"nmd-mlp": {"sizes": (16, 16)}, "mlp": {"sizes": (16, 16)}}


def one(job: dict) -> dict:
    cfg = A2CConfig(**job["config"])
    kwargs = {**AGENT_KWARGS.get(job["agent"], {}), **job.get("agent_kwargs", {})}
    res = run(job["agent"], cfg, kwargs, log_every=50)
    g, s = res["greedy"], res["sampled"]
    print(
        f"  {job['agent']:9s} seed {cfg.seed}: return {s['return']:6.1f} (greedy "
        f"{g['return']:6.1f}), late reward {s['late_reward']:.2f}, {res['train_seconds']:.0f} s",
        flush=True,
    )
    return res


def _fmt(values: list, digits: int = 1) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "never"
    text = f"{np.mean(vals):.{digits}f}"
    if len(vals) > 1:
        text += f" ± {np.std(vals):.{digits}f}"
    if len(vals) < len(values):
        text += f" ({len(values) - len(vals)} never)"
    return text


def summarise(records: list[dict], agents: list[str]) -> dict:
    out = {}
    for a in agents:
        rs = [r for r in records if r["agent"] == a]
        out[a] = {
            "seeds": [r["seed"] for r in rs],
            "n_parameters": rs[0]["n_parameters"],
            "train_seconds": [round(r["train_seconds"], 1) for r in rs],
            **{
                f"{mode}_{key}": [r[mode][key] for r in rs]
                for mode in ("sampled", "greedy")
                for key in (
                    "return",
                    "early_reward",
                    "late_reward",
                    "steps_to_adapt",
                    "steps_to_90pct",
                    "first_hit_median",
                )
            },
            "reward_per_step_sampled": np.mean(
                [r["sampled"]["reward_per_step"] for r in rs], 0
            ).tolist(),
            "reward_per_step_greedy": np.mean(
                [r["greedy"]["reward_per_step"] for r in rs], 0
            ).tolist(),
        }
    return out


def table(summary: dict, refs: dict) -> str:
    rows = [
        "| agent | params | return (sampled) | return (greedy) | reward, first 5 steps | "
        "reward, last 10 steps | steps to adapt (90 % of gain) | median first hit | "
        "train s / seed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for a, s in summary.items():
        rows.append(
            f"| {LABELS.get(a, a)} | {s['n_parameters']} | {_fmt(s['sampled_return'])} | "
            f"{_fmt(s['greedy_return'])} | {_fmt(s['sampled_early_reward'], 2)} | "
            f"{_fmt(s['sampled_late_reward'], 2)} | {_fmt(s['sampled_steps_to_90pct'], 0)} | "
            f"{_fmt(s['sampled_first_hit_median'], 0)} | {np.mean(s['train_seconds']):.0f} |"
        )
    for name, r in refs.items():
        per = r["reward_per_step"]
        rows.append(
            f"| *{name}* (scripted) | – | {r['return']:.1f} | – | {np.mean(per[:5]):.2f} | "
            f"{np.mean(per[-10:]):.2f} | – | – | – |"
        )
    return "\n".join(rows)


def plot(summary: dict, refs: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, mode in zip(axes, ("sampled", "greedy")):
        for a, s in summary.items():
            y = s[f"reward_per_step_{mode}"]
            ax.plot(np.arange(1, len(y) + 1), y, label=LABELS.get(a, a))
        for name, r in refs.items():
            y = r["reward_per_step"]
            ax.plot(np.arange(1, len(y) + 1), y, "k--" if name == "oracle" else "k:", label=name)
        ax.set_xlabel("step within the episode")
        ax.set_title(f"{mode} actions (mean over seeds, 1024 episodes)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean reward per step")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def with_derived_metrics(records: list[dict]) -> list[dict]:
    """Recompute the step-count metrics from the stored reward curves (older result files)."""
    for r in records:
        for mode in ("sampled", "greedy"):
            m = r[mode]
            m["steps_to_adapt"] = steps_to_adapt(m["reward_per_step"])
            m["steps_to_90pct"] = steps_to_90pct(m["reward_per_step"])
    return records


def report(out: dict, args: argparse.Namespace) -> None:
    refs = {
        "oracle": scripted_return("oracle", args.eval_episodes, seed=EVAL_SEED),
        "go-to-0": scripted_return("go_to_zero", args.eval_episodes, seed=EVAL_SEED),
    }
    out["references"] = {k: {"return": v["return"]} for k, v in refs.items()}
    out["summary"] = summarise(with_derived_metrics(out["runs"]), out["args"]["agents"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    plot(out["summary"], refs, Path(args.plot))
    print(table(out["summary"], refs))
    print(f"wall {out['wall_seconds']:.0f} s -> {args.out}, {args.plot}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", nargs="+", default=["nmd-msrc", "msrc", "gru"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--iterations", type=int, default=500)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--eval-episodes", type=int, default=1024)
    ap.add_argument(
        "--agent-kwargs", default="{}", help='JSON, e.g. \'{"nmd-msrc": {"micro_steps": 4}}\''
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "results" / "adaptation.json"))
    ap.add_argument("--plot", default=str(ROOT / "results" / "adaptation_reward_per_step.png"))
    ap.add_argument(
        "--summarise-only", action="store_true", help="re-summarise the runs stored in --out"
    )
    args = ap.parse_args(argv)
    if args.summarise_only:
        report(json.loads(Path(args.out).read_text()), args)
        return 0
    extra = json.loads(args.agent_kwargs)
    jobs = [
        {
            "agent": a,
            "agent_kwargs": extra.get(a, {}),
            "config": {
                "iterations": args.iterations,
                "batch": args.batch,
                "lr": args.lr,
                "seed": s,
                "eval_episodes": args.eval_episodes,
            },
        }
        for s in args.seeds
        for a in args.agents
    ]
    # the slowest agents first, so that the pool's tail is short
    order = {"nmd-msrc": 0, "msrc": 1, "nmd-mlp": 2, "mlp": 3, "gru": 4}
    jobs.sort(key=lambda j: order.get(j["agent"], 5))
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        records = list(pool.map(one, jobs))
    out = {"args": vars(args), "wall_seconds": time.perf_counter() - t0, "runs": records}
    report(out, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
