"""Reliability, run-directory family (issue 14, defects 5 and 6): NaN parameters, mismatched
shapes, wrong types and deep nesting in a run directory; ``modspike export`` refuses each in one
line with exit 2 and writes nothing."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from modspike.cli import main
from modspike.errors import CheckpointError
from modspike.rundir import environment, save_run
from modspike.train.modules import ModelConfig, build_model
from modspike.train.trainer import TrainConfig, load_model


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """An untrained LIF run (no training needed to test the loader)."""
    torch.manual_seed(0)
    cfg = ModelConfig(cell="lif", n_in=64, hidden=8, layers=1, n_out=10)
    train = vars(TrainConfig(cell="lif", hidden=8, steps=6))
    out = tmp_path_factory.mktemp("reliability_run") / "run"
    save_run(out, cfg.to_dict(), train, build_model(cfg).state_dict(), {"test_accuracy": 0.1})
    return out


def _edit_config(root, edit) -> None:
    config = json.loads((root / "config.json").read_text())
    edit(config)
    (root / "config.json").write_text(json.dumps(config))


def _edit_weights(root, edit) -> None:
    state = load_file(str(root / "model.safetensors"))
    edit(state)
    save_file(state, str(root / "model.safetensors"))


def _set(section: str, key: str, value):
    return lambda c: c[section].__setitem__(key, value)


CASES = {
    # beta is a constant of the run (model.cell_options), no longer a buffer in the weights
    "nan_beta": (
        lambda r: _edit_config(
            r, lambda c: c["model"].__setitem__("cell_options", {"beta": "NaN"})
        ),
        "beta",
    ),
    "inf_weight": (lambda r: _edit_weights(r, _inf("readout.weight")), "NaN or Inf"),
    "shape_mismatch": (
        lambda r: _edit_weights(r, lambda s: s.__setitem__("readout.weight", torch.zeros(10, 9))),
        "has shape (10, 9)",
    ),
    "missing_tensor": (lambda r: _edit_weights(r, lambda s: s.pop("readout.weight")), "missing"),
    "complex_weight": (
        lambda r: _edit_weights(
            r, lambda s: s.__setitem__("readout.weight", torch.zeros(10, 8, dtype=torch.complex64))
        ),
        "complex",
    ),
    "weights_garbage": (
        lambda r: (r / "model.safetensors").write_bytes(b"\xff" * 64),
        "unreadable weights",
    ),
    "config_not_object": (lambda r: (r / "config.json").write_text("[1, 2]"), "schema"),
    "config_deep": (
        lambda r: (r / "config.json").write_text("[" * 100_000 + "]" * 100_000),
        "not valid JSON",
    ),
    "config_nested": (
        lambda r: _edit_config(r, _set("train", "extra", json.loads("[" * 200 + "]" * 200))),
        "nested deeper",
    ),
    "hidden_string": (lambda r: _edit_config(r, _set("model", "hidden", "64")), "integer"),
    "hidden_huge": (lambda r: _edit_config(r, _set("model", "hidden", 10**7)), "hidden"),
    "model_not_object": (
        lambda r: _edit_config(r, lambda c: c.__setitem__("model", "lif")),
        "'model'",
    ),
    "gain_inf": (lambda r: _edit_config(r, _set("train", "gain", 1e308 * 10)), "not valid JSON"),
    "steps_negative": (lambda r: _edit_config(r, _set("train", "steps", -3)), "--steps"),
    "seed_float": (lambda r: _edit_config(r, _set("train", "seed", 1.5)), "--seed"),
    "cell_option_string": (
        lambda r: _edit_config(r, _set("model", "cell_options", {"alpha": "high"})),
        "cell_options",
    ),
    "unknown_cell": (lambda r: _edit_config(r, _set("model", "cell", "hodgkin")), "do not match"),
    "metrics_deep": (
        lambda r: (r / "metrics.json").write_text("[" * 100_000 + "]" * 100_000),
        "not valid JSON",
    ),
}


def _nan(key):
    return lambda s: s.__setitem__(key, torch.full_like(s[key], float("nan")))


def _inf(key):
    return lambda s: s.__setitem__(key, torch.full_like(s[key], float("inf")))


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_run_directories_are_refused_in_one_line(case, run_dir, tmp_path, capsys):
    root = tmp_path / "run"
    shutil.copytree(run_dir, root)
    make, needle = CASES[case]
    make(root)
    with pytest.raises(CheckpointError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        load_model(root)
    out = tmp_path / "artifact"
    assert main(["export", str(root), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("modspike export: error:"), err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_config_records_the_torch_thread_count(run_dir):
    config = json.loads((run_dir / "config.json").read_text())
    env = config["environment"]
    assert env["torch_threads"] == torch.get_num_threads() >= 1
    assert env == environment()
    model, cfg, _ = load_model(run_dir)  # the extra key does not disturb loading
    assert cfg.hidden == 8
