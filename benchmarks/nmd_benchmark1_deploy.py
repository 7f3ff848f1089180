"""Deploy a trained benchmark-1 spiking NMD agent (``nmd-msrc``) and run it in closed loop.

fidelity.md 3, "Deployment": the trained actor of ``benchmarks/nmd_benchmark1.py`` (cache files
``nmd-msrc-seed{S}.json`` + ``.safetensors``) is exported as one artifact (the mSRC body ->
``model.nir``, 8-bit; the neuromodulatory network, the modulator and the heads on the host as
safetensors + JSON) into ``{cache}/deploy/nmd-msrc-seed{S}``, then runs greedy episodes (``mu``;
the environment applies ``clip(5 mu, -20, 20)``) of benchmark 1 on three backends:

* ``torch``: the float actor (the reference);
* ``sim``: the artifact's integer FIXED program;
* ``lava``: the same network as Lava ``fixed_pt`` processes (modulation through ``mod_in``).

Per backend: discounted return (gamma 0.99) and normalised score per episode and their mean,
seconds (host + network, and wall clock). Gates: (i) sim and Lava give identical actions and
identical network outputs on every step; (ii) the share of steps with ``|a_sim - a_torch| < 1``
(environment units) is at least 0.95.

    nice -n 10 .venv/bin/python benchmarks/nmd_benchmark1_deploy.py --seed 0

Writes ``benchmarks/results/nmd_benchmark1_deploy.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np
import torch

# the training benchmark's cache format and loader (this folder is on sys.path when run)
from nmd_benchmark1 import load_agent

from modspike.studies.nmd_bench1.deploy import (
    AGENT_KIND,
    export_actor,
    run_actor_closed_loop,
)
from modspike.studies.nmd_bench1.env import normalised_score
from modspike.studies.results_file import write_results

ROOT = Path(__file__).resolve().parent
DEFAULT_CACHE = ROOT.parent / "runs" / "fidelity" / "nmd_e6000"
DEFAULT_OUT = ROOT / "results" / "nmd_benchmark1_deploy.json"
BACKENDS = ("torch", "sim", "lava")
ACTION_TOLERANCE = 1.0  # environment units: the hit margin
AGREEMENT_GATE = 0.95


def spiking_options(cache: Path, seed: int) -> dict | None:
    """The options the run was trained with: its record's ``spiking_options`` (training records
    the options it was given; a record without them was trained with the defaults: ``None``)."""
    record = json.loads((cache / f"{AGENT_KIND}-seed{seed}.json").read_text())
    return record.get("spiking_options")


def evaluate(
    artifact: Path, backend: str, episodes: int, horizon: int, seed: int, gamma: float
) -> tuple[dict, dict]:
    """One backend's closed-loop run and its summary (returns, normalised scores, seconds)."""
    t0 = time.perf_counter()
    run = run_actor_closed_loop(artifact, backend, episodes, horizon, seed, gamma)
    wall = time.perf_counter() - t0
    returns = np.asarray(run["discounted_returns"])
    scores = normalised_score(returns)
    summary = {
        "discounted_return": [round(float(r), 2) for r in returns],
        "mean_discounted_return": round(float(returns.mean()), 2),
        "normalised": [round(float(s), 4) for s in scores],
        "mean_normalised": round(float(scores.mean()), 4),
        "return": [round(float(np.sum(r)), 2) for r in run["rewards"]],
        "seconds_host_and_network": round(run["seconds"], 2),
        "seconds_wall": round(wall, 2),
        "seconds_wall_per_episode": round(wall / episodes, 2),
    }
    return run, summary


def gates(runs: dict) -> dict:
    """(i) sim = Lava action for action and output for output; (ii) sim tracks torch."""
    out: dict = {}
    if "sim" in runs and "lava" in runs:
        sim, lava = runs["sim"], runs["lava"]
        same_a = sim["actions"] == lava["actions"]
        same_y = sim["outputs"] == lava["outputs"]
        a, b = np.array(sim["actions"]), np.array(lava["actions"])
        out["sim_lava_identical"] = {
            "actions_identical": same_a,
            "outputs_identical": same_y,
            "steps_with_different_action": int((a != b).sum()),
            "passed": bool(same_a and same_y),
        }
    if "sim" in runs and "torch" in runs:
        da = np.abs(np.array(runs["sim"]["actions"]) - np.array(runs["torch"]["actions"]))
        share = float(np.mean(da < ACTION_TOLERANCE))
        out["sim_torch_agreement"] = {
            "share": round(share, 4),
            "tolerance": ACTION_TOLERANCE,
            "gate": AGREEMENT_GATE,
            "mean_abs_difference": round(float(da.mean()), 4),
            "max_abs_difference": round(float(da.max()), 4),
            "passed": share >= AGREEMENT_GATE,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 all gates pass, 1 a gate fails, 2 the trained run is missing.",
    )
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                    help="cache of benchmarks/nmd_benchmark1.py holding the trained run "
                    "(default: %(default)s)")  # fmt: skip
    ap.add_argument("--seed", type=int, default=0, help="training seed of the run to deploy")
    ap.add_argument("--artifact", type=Path, default=None,
                    help="artifact directory (default: CACHE/deploy/nmd-msrc-seedS)")  # fmt: skip
    ap.add_argument("--bits", type=int, default=8, help="weight bits of the deployed network")
    ap.add_argument("--episodes", type=int, default=3, help="episodes per backend")
    ap.add_argument("--horizon", type=int, default=400, help="steps per episode")
    ap.add_argument("--env-seed", type=int, default=12345,
                    help="environment seed of the first episode (then +1 per episode)")  # fmt: skip
    ap.add_argument("--gamma", type=float, default=0.99, help="discount of the returns")
    ap.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS,
                    help="backends to run (gates need sim with lava, sim with torch)")  # fmt: skip
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # a small recurrent host network: threads only contend

    stem = f"{AGENT_KIND}-seed{args.seed}"
    if not (args.cache / f"{stem}.json").exists():
        print(f"no trained run {args.cache / stem}.json; train it with "
              "benchmarks/nmd_benchmark1.py --agents nmd-msrc", file=sys.stderr)  # fmt: skip
        return 2
    options = spiking_options(args.cache, args.seed)
    actor, _ = load_agent(AGENT_KIND, args.seed, args.cache, options)
    artifact = args.artifact or args.cache / "deploy" / stem
    export_actor(actor.eval(), artifact, bits=args.bits)  # whole or not at all
    print(f"exported {stem} ({actor.options.to_dict()}) -> {artifact}")

    runs, summaries = {}, {}
    try:
        for backend in args.backends:
            runs[backend], summaries[backend] = evaluate(
                artifact, backend, args.episodes, args.horizon, args.env_seed, args.gamma
            )
    finally:  # the closed loop stops each Lava session itself; nothing may outlive the run
        for child in multiprocessing.active_children():
            child.terminate()
    checks = gates(runs)
    result = {
        "agent": AGENT_KIND,
        "run": str(args.cache / stem),
        "artifact": str(artifact),
        "spiking_options": actor.options.to_dict(),
        "protocol": {
            "episodes": args.episodes,
            "horizon": args.horizon,
            "env_seeds": [args.env_seed + e for e in range(args.episodes)],
            "gamma": args.gamma,
            "weight_bits": args.bits,
            "action": "greedy mu; the environment applies clip(5 mu, -20, 20), compared here",
            "normalisation": "(R - REDUCED_LOW) / (REDUCED_HIGH - REDUCED_LOW), env.py",
        },
        "backends": summaries,
        "gates": checks,
    }
    write_results(args.out, result)

    print(f"{'backend':8s} {'disc. return per episode':>34s} {'mean':>8s} {'norm.':>7s} "
          f"{'s/episode':>9s}")  # fmt: skip
    for backend, s in summaries.items():
        per = ", ".join(f"{r:.1f}" for r in s["discounted_return"])
        print(f"{backend:8s} {per:>34s} {s['mean_discounted_return']:8.1f} "
              f"{s['mean_normalised']:7.3f} {s['seconds_wall_per_episode']:9.2f}")  # fmt: skip
    ok = True
    if "sim_lava_identical" in checks:
        g = checks["sim_lava_identical"]
        ok &= g["passed"]
        print(f"(i) sim = Lava: actions {g['actions_identical']}, outputs "
              f"{g['outputs_identical']}: {'PASS' if g['passed'] else 'FAIL'}")  # fmt: skip
    if "sim_torch_agreement" in checks:
        g = checks["sim_torch_agreement"]
        ok &= g["passed"]
        print(f"(ii) |a_sim - a_torch| < 1 on {100 * g['share']:.1f} % of steps (gate "
              f"{100 * g['gate']:.0f} %, max |da| {g['max_abs_difference']:.2f}): "
              f"{'PASS' if g['passed'] else 'FAIL'}")  # fmt: skip
    print(f"-> {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
