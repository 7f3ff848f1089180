"""Compact results files of the studies (studies/results_file.py) and the NMD results file built
from a run cache (benchmarks/nmd_benchmark1.py: report)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from modspike.studies.nmd_bench1.env import REDUCED_HIGH, REDUCED_LOW
from modspike.studies.nmd_bench1.ppo import PPOConfig
from modspike.studies.results_file import compact_json, downsample, write_results

ROOT = Path(__file__).resolve().parents[1]


def test_compact_json_round_trips_and_keeps_flat_containers_on_one_line():
    data = {"a": [1, 2.5, None], "b": {"c": [[1, 2], [3]], "d": {"x": 1, "y": "z"}}, "e": []}
    text = compact_json(data)
    assert json.loads(text) == data
    lines = text.splitlines()
    assert ' "a": [1, 2.5, null],' in lines and '  "d": {"x": 1, "y": "z"}' in lines
    assert len(lines) == 11 and "   [1, 2]," in lines  # nested lists: one line per inner list
    assert text.endswith("\n")


def test_write_results_replaces_whole_files(tmp_path):
    path = tmp_path / "sub" / "r.json"
    write_results(path, {"v": list(range(5))})
    write_results(path, {"v": [1]})
    assert json.loads(path.read_text()) == {"v": [1]}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]


@pytest.mark.parametrize("n", [1, 7, 100, 101, 6000])
def test_downsample_keeps_the_last_value(n):
    values = np.arange(n) / 3
    out = downsample(values, 100)
    assert len(out["index"]) == len(out["value"]) <= 101
    assert out["index"][-1] == n and out["value"][-1] == round((n - 1) / 3, 4)
    assert out["index"] == sorted(set(out["index"]))
    assert all(v == round((i - 1) / 3, 4) for i, v in zip(out["index"], out["value"]))
    assert downsample([], 10) == {"index": [], "value": []}


def _script():
    spec = importlib.util.spec_from_file_location(
        "nmd_benchmark1_script", ROOT / "benchmarks" / "nmd_benchmark1.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_run(arch: str, seed: int, level: float, episodes: int) -> dict:
    rng = np.random.default_rng(seed)
    ret = REDUCED_LOW + level * (REDUCED_HIGH - REDUCED_LOW) + rng.normal(0, 5, episodes)
    update = {"kl": 0.003, "beta": 1.0, "lr_multiplier": 1.0, "reverted": False, "seconds": 2.0}
    return {
        "arch": arch, "seed": seed, "n_parameters": {"policy": 1, "value": 1},
        "discounted_return": ret.round(2).tolist(), "return": ret.round(1).tolist(),
        "updates": [update] * (episodes // 50), "seconds": 1.0,
        "eval": {mode: {"discounted_return": 0.0, "normalised": 0.29} for mode in ("sampled", "mean")},
    }  # fmt: skip


def test_nmd_results_file_is_compact_and_judges_on_full_histories(tmp_path):
    script = _script()
    cache, out = tmp_path / "cache", tmp_path / "results" / "nmd.json"
    cache.mkdir()
    for seed in (0, 1):
        for arch, level in (("nmd", 0.95), ("rnn", 0.5)):
            rec = _fake_run(arch, seed, level, 3000)
            (cache / f"{arch}-seed{seed}.json").write_text(json.dumps(rec))
    result = script.report(cache, out, PPOConfig(episodes=3000))
    text = out.read_text()
    assert json.loads(text) == json.loads(json.dumps(result))
    assert len(text.splitlines()) < 300 and out.with_suffix(".png").stat().st_size < 200_000
    run = result["runs"][0]
    assert run["episodes"] == 3000 and len(run["normalised_running_mean"]["index"]) == 100
    assert run["final_normalised_running_mean"] == pytest.approx(0.95, abs=0.01)
    acc = result["acceptance"]
    assert acc["passed"]["a"] and acc["passed"]["c"]
    assert [p["first_violation"] for p in acc["pairs"]] == [None, None]
