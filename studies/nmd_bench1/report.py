"""Scores and the acceptance checks of the reduced protocol (fidelity.md 2.5, 3 and 6)."""

from __future__ import annotations

import numpy as np

from .env import REDUCED_HIGH, REDUCED_LOW, normalised_score

WINDOW = 1000  # episodes in the running mean (the paper's Fig 6)
FROM_EPISODE = 600  # acceptance (a) and (b) start at 10 % of 6000 episodes
FINAL_GATE = 0.9  # acceptance (c)
SPIKING_GATE = 0.8  # spiking extension: >= 0.8 x the non-spiking NMD's final normalised W


def running_mean(x, window: int = WINDOW) -> np.ndarray:
    """Mean of the last ``window`` values at each index (partial windows at the start)."""
    x = np.asarray(x, dtype=np.float64)
    c = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def normalised_running_mean(discounted_returns) -> np.ndarray:
    return normalised_score(running_mean(discounted_returns))


def _by_seed(runs: list[dict], arch: str) -> dict[int, np.ndarray]:
    return {r["seed"]: np.asarray(r["normalised_running_mean"]) for r in runs if r["arch"] == arch}


def acceptance(runs: list[dict], from_episode: int = FROM_EPISODE) -> dict:
    """The checks of fidelity.md 2.5 (a, b, c) and 3 (spiking ratio) on ``runs`` (each with
    ``arch``, ``seed`` and ``normalised_running_mean``). Missing agents leave their check ``None``."""
    nmd, rnn, spk = (_by_seed(runs, a) for a in ("nmd", "rnn", "nmd-msrc"))
    start = from_episode - 1  # episodes are numbered from 1
    out: dict = {"from_episode": from_episode, "window": WINDOW}
    pairs = []
    for seed in sorted(set(nmd) & set(rnn)):
        n = min(len(nmd[seed]), len(rnn[seed]))
        worse = np.nonzero(nmd[seed][start:n] <= rnn[seed][start:n])[0]
        first = int(worse[0]) + from_episode if len(worse) else None
        share = float(np.mean(nmd[seed][start:n] > rnn[seed][start:n]))
        pairs.append({"seeds": [seed, seed], "first_violation": first, "share_nmd_above": share})
    out["pairs"] = pairs

    def spread(d: dict[int, np.ndarray]) -> float | None:
        if len(d) < 2:
            return None
        return float(np.std([v[start:].mean() for v in d.values()], ddof=1))

    out["spread"] = {"nmd": spread(nmd), "rnn": spread(rnn), "definition": (
        "sd over seeds (ddof 1) of the normalised running mean averaged over episodes "
        f"{from_episode}..end")}  # fmt: skip
    final = {a: {s: float(v[-1]) for s, v in d.items()} for a, d in
             (("nmd", nmd), ("rnn", rnn), ("nmd-msrc", spk))}  # fmt: skip
    out["final_normalised"] = {
        a: {
            "per_seed": {str(s): v for s, v in f.items()},
            "mean": float(np.mean(list(f.values()))) if f else None,
            "sd": float(np.std(list(f.values()), ddof=1)) if len(f) > 1 else None,
        }
        for a, f in final.items()
    }
    matched = sorted(set(final["nmd"]) & set(final["nmd-msrc"]))
    out["spiking_ratio"] = (
        float(np.mean([final["nmd-msrc"][s] for s in matched]))
        / float(np.mean([final["nmd"][s] for s in matched]))
        if matched
        else None
    )
    s = out["spread"]
    out["passed"] = {
        "a": all(p["first_violation"] is None for p in pairs) if pairs else None,
        "b": (s["nmd"] <= s["rnn"]) if s["nmd"] is not None and s["rnn"] is not None else None,
        "c": all(v >= FINAL_GATE for v in final["nmd"].values()) if final["nmd"] else None,
        "spiking": (out["spiking_ratio"] >= SPIKING_GATE) if out["spiking_ratio"] else None,
    }
    return out


NORMALISATION = {
    "low": REDUCED_LOW,
    "high": REDUCED_HIGH,
    "low_policy": "a = p (assumes offset 0: the best policy that ignores feedback); exact "
    "expectation on the port -387.9",
    "high_policy": "probe at p + 7.75, then exploit (best scripted policy found); the naive "
    "two-probe policy scores 958.8",
}
