"""Learnable h_s0 in the thesis setting (studies/hs0_convergence.py, benchmarks/hs0_convergence.py)."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from modspike.data import load_dataset
from modspike.studies.hs0_convergence import (
    HS0Config,
    SpikeCountNet,
    all_hs0,
    build_hs0_model,
    classify,
    modal_type,
    train_to_convergence,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("layout", ["L1", "L2"])
def test_both_layouts_have_42_msrc_neurons(layout):
    torch.manual_seed(0)
    model = build_hs0_model(HS0Config(layout=layout), 64, 10)
    hs0 = all_hs0(model)
    assert len(hs0) == 42 and 0.5 <= hs0.min() and hs0.max() <= 1.5
    assert sum(c.n for c in (layer.cell for layer in model.layers)) == 42


def test_l1_logits_are_output_spike_counts():
    torch.manual_seed(0)
    net = SpikeCountNet(6, 4, 3, "1.0", True)
    spikes = (torch.rand(7, 2, 6) < 0.5).float()
    logits, records = net(spikes, record=True)
    assert torch.allclose(logits, records[-1].sum(0))
    assert net.layers[0].cell.hs0.requires_grad


def test_classify_follows_the_type_bands():
    assert classify(np.array([0.5, 0.865, 1.5])) == ["type2*", "type1", "type2"]


def test_modal_type_counts_active_neurons_only():
    classes = ["type2*", "type2*", "type2", "type1"]
    name, share, counts = modal_type(classes, np.array([True, True, True, False]))
    assert (
        name == "type2*" and share == pytest.approx(2 / 3) and counts == {"type2*": 2, "type2": 1}
    )
    assert modal_type(classes, np.zeros(4, bool))[0] is None


def _small_digits():
    d = load_dataset("digits")
    return replace(d, x_train=d.x_train[:64], y_train=d.y_train[:64], x_val=d.x_val[:32],
                   y_val=d.y_val[:32], x_test=d.x_test[:32], y_test=d.y_test[:32])  # fmt: skip


@pytest.mark.slow
def test_fixed_hs0_stops_on_patience_and_learned_hs0_moves():
    data = _small_digits()
    fixed = HS0Config(layout="L2", hs0="0.9", fix_hs0=True, check_every=1, patience=0)
    rec = train_to_convergence(fixed, data)
    assert rec["stop_reason"] == "converged" and rec["epochs_run"] == 1
    assert rec["hs0_final"] == rec["hs0_init"]
    learned = train_to_convergence(HS0Config(layout="L1", max_epochs=2, check_every=1), data)
    assert learned["stop_reason"] == "cap" and learned["epochs_run"] == 2
    assert learned["hs0_final"] != learned["hs0_init"] and len(learned["classes"]) == 42
    assert len(learned["trajectory"]) == 2


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "hs0_convergence_script", ROOT / "benchmarks" / "hs0_convergence.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_script_reads_mnist_idx_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for stem, n in (("train", 40), ("t10k", 20)):
        _write_idx(tmp_path / f"{stem}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{stem}-labels-idx1-ubyte", rng.integers(0, 10, n))
    script = _load_script()
    out = tmp_path / "out.json"
    args = ["--data", "mnist", "--data-dir", str(tmp_path), "--seeds", "0", "--encodings",
            "latency", "--layouts", "L2", "--max-epochs", "1", "--cache", str(tmp_path / "c"),
            "--out", str(out)]  # fmt: skip
    assert script.main(args) == 0
    runs = json.loads(out.read_text())["runs"]
    assert len(runs) == 1 and runs[0]["data"] == "mnist" and len(runs[0]["hs0_final"]) == 42


def test_script_without_mnist_files_says_so(tmp_path, capsys):
    script = _load_script()
    code = script.main(["--data", "mnist", "--data-dir", str(tmp_path), "--cache",
                        str(tmp_path / "c"), "--out", str(tmp_path / "o.json")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("hs0_convergence: error: mnist: missing")
    assert not (tmp_path / "o.json").exists()
