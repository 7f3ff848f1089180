"""Deploying the NMD-modulated mSRC agent (issue 7 item 3): float vs 8-bit sim vs Lava, closed loop.

Trains one ``nmd-msrc`` agent (A2C as benchmarks/adaptation.py, seed 0; ~5 min) or
loads ``--agent`` (a torch file ``{"kwargs": ..., "state_dict": ...}``), exports it with
``export.agent_export.export_agent`` (main network -> model.nir, modulation network on the host)
and runs greedy episodes of the moving-target task in closed loop:

* ``torch`` (the float agent) and ``sim`` (the 8-bit artifact) on ``--episodes`` episodes;
* ``lava`` (Lava fixed_pt, modulation through the SRCLayer port) on the first ``--lava-episodes``,
  compared action for action with ``sim``.

Writes benchmarks/results/deploy_agent.{json,md}.

    nice -n 10 .venv/bin/python benchmarks/deploy_agent.py
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from modspike.studies.nmd.agent import build_agent
from modspike.studies.nmd.closed_loop import run_closed_loop
from modspike.studies.nmd.deploy import export_agent
from modspike.studies.nmd.rl import A2CConfig, run

RESULTS = Path(__file__).resolve().parent / "results"


def trained_agent(path: str | None):
    if path:
        saved = torch.load(path, weights_only=True)
        agent = build_agent("nmd-msrc", **saved["kwargs"])
        agent.load_state_dict(saved["state_dict"])
        return agent, saved["kwargs"], None
    # the configuration of benchmarks/adaptation.py (500 iterations), seed 0
    record, agent = run("nmd-msrc", A2CConfig(iterations=500, seed=0), {}, return_agent=True)
    return agent, {}, record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", help="a saved agent (default: train one, ~5 min)")
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--lava-episodes", type=int, default=3)
    parser.add_argument("--horizon", type=int, default=50)
    args = parser.parse_args()
    t0 = time.perf_counter()
    agent, kwargs, record = trained_agent(args.agent)
    train_s = time.perf_counter() - t0
    out: dict = {"episodes": args.episodes, "lava_episodes": args.lava_episodes}
    if record is not None:
        out["train_seconds"] = round(train_s, 1)
        out["trained_greedy_return"] = record["greedy"]["return"]
    with tempfile.TemporaryDirectory() as tmp:
        art = Path(tmp) / "agent"
        export_agent(agent, kwargs, art)
        res = {
            b: run_closed_loop(art, b, episodes=args.episodes, horizon=args.horizon, seed=100)
            for b in ("torch", "sim")
        }
        t1 = time.perf_counter()
        lava = run_closed_loop(
            art, "lava", episodes=args.lava_episodes, horizon=args.horizon, seed=100
        )
        lava_wall = time.perf_counter() - t1
    k = args.lava_episodes
    torch_a, sim_a = np.array(res["torch"]["actions"]), np.array(res["sim"]["actions"])
    lava_same = lava["actions"] == res["sim"]["actions"][:k]
    out.update(
        {
            "mean_return": {b: res[b]["mean_return"] for b in res},
            "action_agreement_torch_sim": float((torch_a == sim_a).mean()),
            "lava_actions_identical_to_sim": lava_same,
            "lava_outputs_identical_to_sim": lava["outputs"] == res["sim"]["outputs"][:k],
            "lava_mean_return": lava["mean_return"],
            "sim_mean_return_same_episodes": float(np.sum(res["sim"]["rewards"][:k], 1).mean()),
            "seconds": {b: res[b]["seconds"] for b in res} | {"lava": lava["seconds"]},
            "lava_wall_seconds": lava_wall,
        }
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "deploy_agent.json").write_text(json.dumps(out, indent=1))
    md = (
        f"NMD-modulated mSRC agent, greedy, {args.episodes} episodes of {args.horizon} steps"
        " (seeds 100..):\n\n"
        "| backend | mean return | host+network seconds |\n|---|---|---|\n"
        + "".join(f"| {b} | {res[b]['mean_return']:.2f} | {res[b]['seconds']:.1f} |\n" for b in res)
        + f"\nActions: 8-bit sim = float torch on {out['action_agreement_torch_sim']:.1%} of steps."
        f" Lava fixed_pt on the first {k} episodes: actions identical to sim: {lava_same};"
        f" network outputs identical: {out['lava_outputs_identical_to_sim']}"
        f" (return {lava['mean_return']:.2f}; wall {lava_wall:.0f} s).\n"
    )
    (RESULTS / "deploy_agent.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
