"""Float vs integer learning curves of STDP and R-STDP (``modspike.plasticity``), and what the
integer runs cost in learning-engine events priced at Loihi's 120 pJ per synaptic update.

Protocol (``modspike.plasticity.protocols``): 8 pre / 4 post neurons, Poisson pre spikes (4 %),
post neuron ``i`` fires 2 steps after pre neuron ``i`` plus 1 % background, weights start at 0.
For each protocol seed: STDP (lr 1, A+ 1, A- -1, tau 10/10, impulses 16), R-STDP (lr 1, A+ 1,
A- -1, taus 10, kernels 16, eligibility factor 0.5) with a reward of 32 and of 16 for 10 steps after
each causal pairing of pair 0. Reported per case: the largest deviation over all steps of the
group-mean learning curves (causal pairs, other synapses) between float and one integer run, and
between float and the mean of ``--runs`` integer runs with other random streams; the final
"other synapses" weight (float, integer mean) and their difference.

Writes ``plasticity_tolerance.json`` and ``.md`` to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from modspike.plasticity.counters import count_updates, total_counts
from modspike.plasticity.engine import (
    EngineParams,
    initial_state,
    is_learning_step,
    learning_phase,
    random_streams,
    spike_phase,
)
from modspike.plasticity.protocols import float_vs_integer, pairing_protocol, reward_signal
from modspike.plasticity.rules import rstdp, stdp
from modspike.runtime.learning_energy import learning_energy

RESULTS = Path(__file__).resolve().parent / "results"


def _rules():
    s = stdp(learning_rate=1, a_plus=1, a_minus=-1, tau_plus=10, tau_minus=10)
    r = rstdp(
        learning_rate=1, a_plus=1, a_minus=-1, pre_trace_decay_tau=10, post_trace_decay_tau=10,
        pre_trace_kernel_magnitude=16, post_trace_kernel_magnitude=16,
        eligibility_trace_decay_tau=0.5,
    )  # fmt: skip
    return {"stdp": (s, None), "rstdp_r32": (r, 32), "rstdp_r16": (r, 16)}


def _energy(params: EngineParams, pre, post, y) -> dict:
    """Counts of one integer run of the protocol and their modeled energy (Loihi profile)."""
    streams = random_streams(params.rule, pre.shape[1])
    state = initial_state(np.zeros((post.shape[0], pre.shape[0]), dtype=np.int64), params)
    counts = []
    for t in range(pre.shape[1]):
        yt = None if y is None else tuple(y[:, :, t])
        state = spike_phase(state, params, streams, pre[:, t], post[:, t], yt)
        counts.append(count_updates(state, params, pre[:, t], post[:, t]))
        if is_learning_step(state, params):
            state = learning_phase(state, params, streams)
    totals = total_counts(counts)
    return {"counts": totals, "energy_pj": learning_energy(totals, "loihi")["total"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--runs", type=int, default=4, help="integer runs averaged")
    parser.add_argument("--seeds", type=int, default=4, help="protocol seeds 0..N-1")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rows = []
    t0 = time.perf_counter()
    for seed in range(args.seeds):
        pre, post = pairing_protocol(seed, args.steps)
        for case, (rule, reward) in _rules().items():
            params = EngineParams(rule)
            y = None if reward is None else reward_signal(pre, post, reward)
            flt, single, mean = float_vs_integer(params, pre, post, y, runs=args.runs)
            rows.append(
                {
                    "case": case,
                    "seed": seed,
                    "single_max_dev": float(np.abs(single - flt).max()),
                    "mean_max_dev": float(np.abs(mean - flt).max()),
                    "causal_final_float": float(flt[-1, 0]),
                    "causal_final_int_mean": float(mean[-1, 0]),
                    "other_final_float": float(flt[-1, 1]),
                    "other_final_int_mean": float(mean[-1, 1]),
                    "other_final_float_minus_int": float(flt[-1, 1] - mean[-1, 1]),
                    **_energy(params, pre, post, y),
                }
            )
    seconds = time.perf_counter() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "steps": args.steps,
        "runs": args.runs,
        "seeds": args.seeds,
        "seconds": seconds,
        "python": platform.python_version(),
    }
    (args.out / "plasticity_tolerance.json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=2)
    )
    lines = [
        f"Float vs integer learning curves, {args.steps} steps, mean of {args.runs} integer runs;"
        f" {seconds:.0f} s.",
        "",
        "| case | seed | max dev, 1 run | max dev, mean | causal end (float / int) |"
        " others end (float / int) | float - int | synaptic updates | energy (nJ) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['seed']} | {r['single_max_dev']:.1f} | {r['mean_max_dev']:.1f} | "
            f"{r['causal_final_float']:.1f} / {r['causal_final_int_mean']:.1f} | "
            f"{r['other_final_float']:.1f} / {r['other_final_int_mean']:.1f} | "
            f"{r['other_final_float_minus_int']:.1f} | {r['counts']['synapse_updates']} | "
            f"{r['energy_pj'] / 1000:.1f} |"
        )
    (args.out / "plasticity_tolerance.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
