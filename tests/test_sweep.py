"""``modspike sweep``: the grid, the Pareto front and the goal test by hand, and one small sweep
end to end (files, schema, --out policy, nothing half-written)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modspike.cli import main
from modspike.errors import ConfigError
from modspike.runtime.sweep import Point, goal, grid, pareto, parse_encoding


def test_grid_is_every_combination_validated():
    pts = grid(["lif", "if"], [5, 25], ["rate", "latency:0.125"], [0.0, 10.0], [0, 1], [32])
    assert len(pts) == 2 * 2 * 2 * 2 * 2
    assert len({p.id for p in pts}) == len(pts)
    p = Point("if", 5, "latency", 0.0, 1, 32, 0.125)
    assert p in pts and p.id == "if-h32-T5-latency0.125-l0-s1" and p.ann_key == "s1-h32"
    assert grid(["lif", "lif"], [5], ["rate"], [0.0], [0]) == [Point("lif", 5, "rate", 0.0, 0)]
    assert parse_encoding("latency") == ("latency", 0.01)
    assert parse_encoding("rate") == ("rate", None)
    for bad in (
        dict(cells=["ann"]),
        dict(cells=["nosuch"]),
        dict(steps=[0]),
        dict(encodings=["latency:2"]),
        dict(encodings=["rate:0.1"]),
        dict(encodings=["morse"]),
        dict(reg_synops=[-1.0]),
        dict(hidden=[0]),
        dict(seeds=[]),
    ):
        kw = dict(cells=["lif"], steps=[5], encodings=["rate"], reg_synops=[0.0], seeds=[0])
        kw.update(bad)
        with pytest.raises(ConfigError):
            grid(**kw)


def _rec(id_, acc, central, ratio, x_star=None, seed=0):
    return {
        "id": id_,
        "cell": "if",
        "hidden": 64,
        "T": 5,
        "code": "latency",
        "seed": seed,
        "ann_key": f"s{seed}-h64",
        "accuracy": acc,
        "energy_pj": {"low": central / 2, "central": central, "high": 2 * central},
        "ratios": {"int8_dense": {"central": ratio}},
        "counts": {"input_events": 30.0},
        "break_even_input_events": {
            "int8_dense": {"central": x_star},
            "int8_zero_skip": {"central": None},
        },
        "e0_pj": {"central": 1500.0},
        "t_max": {"int8_dense": 20, "int8_zero_skip": 9},
    }


def test_pareto_and_goal_by_hand():
    recs = [
        _rec("a", 0.95, 4000, 0.8, 40.0),
        _rec("b", 0.96, 6000, 1.2, 25.0),
        _rec("c", 0.94, 7000, 1.4, None),  # dominated by a
        _rec("d", 0.97, 9000, 1.8, None),
    ]
    assert pareto(recs) == ["a", "b", "d"]
    anns = {"s0-h64": {"accuracy_int8": 0.97}}
    g = goal(recs, anns, 0.01)  # within 1 point: b (0.96) and d; neither at <= 1x
    assert not g["met"] and g["closest"] == "b"
    assert "X_0 <= 25.0" in g["bound"] and "none" in g["bound"] and "T_max = 20" in g["bound"]
    g = goal(recs, anns, 0.03)  # a is within 2 points at 0.8x
    assert g["met"] and g["meeting"] == ["a"]
    g = goal([_rec("e", 0.5, 100, 0.1)], anns, 0.01)  # nothing within the tolerance
    assert not g["met"] and g["closest"] == "e"


def test_latency_threshold_reaches_every_backend():
    from modspike.hw.run_artifact import encode_split

    x = np.linspace(0, 1, 64)[None, :].repeat(3, 0)
    low = encode_split({"encoding": {"name": "latency", "steps": 5}}, x, 0)
    high = encode_split({"encoding": {"name": "latency", "steps": 5, "threshold": 0.5}}, x, 0)
    assert low.sum() == 3 * int((x[0] > 0.01).sum()) and high.sum() == 3 * int((x[0] > 0.5).sum())
    with pytest.raises(ConfigError, match="latency threshold"):
        encode_split({"encoding": {"name": "latency", "steps": 5, "threshold": "x"}}, x, 0)


@pytest.mark.slow
def test_a_small_sweep_end_to_end(tmp_path, capsys, monkeypatch):
    out = tmp_path / "sw"
    argv = [
        "sweep",
        "--cells",
        "if",
        "--steps",
        "3",
        "--encodings",
        "latency:0.2",
        "--reg-synops",
        "0",
        "--hidden",
        "16",
        "--epochs",
        "1",
        "--ann-epochs",
        "2",
        "--limit",
        "200",
        "--eval-limit",
        "40",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["points"] == 1 and printed["closest"] == "if-h16-T3-latency0.2-l0-s0"
    assert sorted(p.name for p in out.iterdir()) == [
        "pareto.png",
        "points",
        "sweep.json",
        "sweep.md",
    ]
    res = json.loads((out / "sweep.json").read_text())
    assert res["schema"] == "modspike-sweep/1" and res["tier"] == "deployed"
    (p,) = res["points"]
    assert p["pareto"] and res["pareto"] == [p["id"]]
    assert p["hidden"] == 16 and p["T"] == 3 and p["code"] == "latency0.2"
    e = p["energy_pj"]
    assert e["low"] < e["central"] < e["high"]
    ann = res["ann"]["s0-h16"]
    assert p["ratio_vs_int8_dense"] == pytest.approx(
        e["central"] / ann["energy_pj"]["int8_dense"]["central"]
    )
    assert ann["low_bit"]["3"]["activation_bits"] == 2
    assert (out / "points" / p["id"] / "artifact" / "model.nir").is_file()
    entry = json.loads((out / "points" / p["id"] / "entry.json").read_text())
    assert entry["encoding"] == "latency" and entry["steps"] == 3
    # the --out policy: an existing sweep is kept unless --force
    assert main(argv) == 2 and "--force" in capsys.readouterr().err
    # a failure at the end leaves the older sweep untouched and no temporary folder
    import modspike.runtime.sweep as sweep

    def broken(*a, **k):
        raise ConfigError("figure failed")

    monkeypatch.setattr(sweep, "figure", broken)
    assert main([*argv, "--force"]) == 2
    assert "figure failed" in capsys.readouterr().err
    assert json.loads((out / "sweep.json").read_text()) == res
    assert [q.name for q in tmp_path.iterdir()] == ["sw"]
