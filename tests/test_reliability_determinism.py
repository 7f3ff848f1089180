"""Reliability, determinism (issue 14, item 8): the same seed and thread count give identical run
files and identical artifacts (all but the manifest's creation time); config.json records the
thread count. What a different thread count does is measured by benchmarks/determinism.py and
reported in docs/reliability.md (torch does not promise it, so no test asserts it)."""

from __future__ import annotations

import json

import torch

from modspike.cli import main
from modspike.train.trainer import TrainConfig, train

ARGS = dict(cell="lif", hidden=8, steps=4, epochs=2, limit=120, seed=3)


def test_same_seed_same_threads_gives_identical_run_files(tmp_path):
    for name in ("a", "b"):
        train(TrainConfig(**ARGS), out=tmp_path / name, progress=False)
    a, b = tmp_path / "a", tmp_path / "b"
    for name in ("model.safetensors", "config.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    ma, mb = (json.loads((p / "metrics.json").read_text()) for p in (a, b))
    assert ma.pop("seconds") > 0 and mb.pop("seconds") > 0
    assert ma == mb
    config = json.loads((a / "config.json").read_text())
    assert config["environment"]["torch_threads"] == torch.get_num_threads()


def test_same_run_exported_twice_gives_identical_model_files(tmp_path, capsys):
    train(TrainConfig(**ARGS), out=tmp_path / "run", progress=False)
    for name in ("x", "y"):
        assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / name)]) == 0
    x, y = tmp_path / "x", tmp_path / "y"
    assert (x / "model.nir").read_bytes() == (y / "model.nir").read_bytes()
    mx, my = (json.loads((p / "manifest.json").read_text()) for p in (x, y))
    mx.pop("created"), my.pop("created")
    assert mx == my
