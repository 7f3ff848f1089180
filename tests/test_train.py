"""Training end to end: every cell trains and reloads; the spiking nets really learn digits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from modspike.cli import main
from modspike.data import load_dataset
from modspike.errors import CheckpointError
from modspike.train.trainer import TrainConfig, evaluate, load_model, train

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("cell", ["src", "msrc", "bsrc", "brc", "nbrc", "lif", "cubalif", "ann"])
def test_every_cell_trains_saves_and_reloads(tmp_path, cell, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--cell",
            cell,
            "--epochs",
            "1",
            "--limit",
            "96",
            "--steps",
            "8",
            "--hidden",
            "16",
            "--layers",
            "2",
            "--out",
            str(out),
            "--quiet",
            "--seed",
            "1",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["run_dir"] == str(out)
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("test_accuracy", "val_accuracy", "epochs", "seconds"):
        assert key in metrics
    assert metrics["epochs"] == 1 and 0.0 <= metrics["test_accuracy"] <= 1.0
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json",
        "metrics.json",
        "model.safetensors",
    ]
    model, cfg, _ = load_model(out)
    data = load_dataset("digits")
    again = evaluate(model, data.x_test, data.y_test, cfg, seed=cfg.seed + 2)["accuracy"]
    assert again == pytest.approx(metrics["test_accuracy"])


def test_recurrent_layers_train(tmp_path):
    model, metrics = train(
        TrainConfig(cell="src", recurrent=True, epochs=1, limit=64, steps=6, hidden=8),
        progress=False,
    )
    assert model.layers[0].rec is not None and model.layers[0].rec.weight.grad is not None


@pytest.mark.slow
@pytest.mark.parametrize(
    "cell, epochs, floor", [("src", 4, 0.8), ("lif", 4, 0.8), ("ann", 20, 0.85)]
)
def test_networks_learn_digits(cell, epochs, floor):
    _, metrics = train(TrainConfig(cell=cell, epochs=epochs, seed=0, limit=800), progress=False)
    assert metrics["test_accuracy"] >= floor, metrics["test_accuracy"]
    assert metrics["history"][-1]["loss"] < metrics["history"][0]["loss"]


def test_same_seed_same_run():
    cfg = TrainConfig(cell="msrc", epochs=1, limit=64, steps=6, hidden=8, seed=5)
    m1, r1 = train(cfg, progress=False)
    m2, r2 = train(cfg, progress=False)
    assert r1["test_accuracy"] == r2["test_accuracy"]
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), k


def test_bad_options_and_missing_run_are_clear(tmp_path, capsys):
    assert main(["train", "--steps", "0", "--out", str(tmp_path / "x"), "--quiet"]) == 2
    assert "--steps" in capsys.readouterr().err
    assert (
        main(["train", "--hs0", "2:1", "--cell", "msrc", "--out", str(tmp_path / "x"), "--quiet"])
        == 2
    )
    assert not (tmp_path / "x").exists()
    with pytest.raises(CheckpointError, match="no such run directory"):
        load_model(tmp_path / "nope")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{")
    (tmp_path / "bad" / "model.safetensors").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_model(tmp_path / "bad")


def test_cli_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "train" in capsys.readouterr().out


def test_rate_predictions_reproducible_across_evaluations():
    model, metrics = train(
        TrainConfig(cell="lif", epochs=1, limit=64, steps=6, hidden=8), progress=False
    )
    data = load_dataset("digits")
    cfg = TrainConfig(cell="lif", steps=6)
    a = evaluate(model, data.x_test, data.y_test, cfg, seed=7)["predictions"]
    b = evaluate(model, data.x_test, data.y_test, cfg, seed=7)["predictions"]
    assert np.array_equal(a, b)


def test_model_kept_is_the_epoch_with_the_lowest_validation_loss():
    _, metrics = train(
        TrainConfig(cell="src", hidden=16, steps=8, epochs=4, limit=200), progress=False
    )
    losses = [h["val_loss"] for h in metrics["history"]]
    best = int(np.argmin(losses))
    assert metrics["best_epoch"] == best + 1
    assert metrics["val_loss"] == losses[best]
    assert metrics["val_accuracy"] == metrics["history"][best]["val_accuracy"]


def test_warmup_steps_change_the_network_before_training(tmp_path, capsys):
    base = dict(cell="nbrc", hidden=8, steps=6, epochs=1, limit=64, seed=3)
    plain, _ = train(TrainConfig(**base), progress=False)
    from modspike.studies.warmup import warmup_hook

    warm, metrics = train(TrainConfig(**base, warmup_steps=5), progress=False, prepare=warmup_hook)
    differs = [
        not torch.equal(a, b)
        for a, b in zip(plain.state_dict().values(), warm.state_dict().values())
    ]
    assert any(differs)
    assert metrics["warmup"]["steps"] == 5 and len(metrics["warmup"]["vaa_star_last"]) == 1
    code = main(["train", "--cell", "lif", "--warmup-steps", "3", "--out", str(tmp_path / "x")])
    assert code == 2 and "--warmup-steps applies to the recurrent cells" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
