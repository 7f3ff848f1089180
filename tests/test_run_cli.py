"""`modspike run`: an artifact on each backend, the RESULT.json it writes, and its errors."""

from __future__ import annotations

import json

import pytest

from modspike.cli import main

FIELDS = (
    "accuracy",
    "n_samples",
    "predictions",
    "spike_counts",
    "seconds",
    "samples_per_second",
    "backend",
    "backend_config",
)


def _run(artifact, tmp_path, backend, limit=12, capsys=None):
    out = tmp_path / f"{backend}.json"
    argv = ["run", str(artifact), "--backend", backend, "--limit", str(limit), "--quiet"]
    assert main([*argv, "--out", str(out)]) == 0
    return json.loads(out.read_text())


@pytest.mark.lava
def test_run_writes_results_and_sim_equals_lava(export_src_artifact, tmp_path):
    sim = _run(export_src_artifact, tmp_path, "sim")
    lava = _run(export_src_artifact, tmp_path, "lava")
    torch_ = _run(export_src_artifact, tmp_path, "torch")
    lava_float = _run(export_src_artifact, tmp_path, "lava-float")
    for result in (sim, lava, torch_, lava_float):
        assert all(k in result for k in FIELDS)
        assert result["n_samples"] == 12 == len(result["predictions"])
        assert 0.0 <= result["accuracy"] <= 1.0 and result["seconds"] > 0
        for layer in result["spike_counts"].values():
            assert layer["total"] == sum(layer["per_neuron"]) > 0
    # identical spikes on both fixed-point backends, hence identical predictions and counts
    assert sim["predictions"] == lava["predictions"]
    assert sim["spike_counts"] == lava["spike_counts"]
    assert lava["backend_config"]["backend"] == "lava"
    # Lava's floating_pt run of the float network predicts what the float torch model predicts
    same = sum(a == b for a, b in zip(lava_float["predictions"], torch_["predictions"]))
    assert same >= 11 and lava_float["backend_config"]["select_tag"] == "floating_pt"


def test_run_rejects_bad_requests_with_exit_code_2(export_src_artifact, tmp_path, capsys):
    assert main(["run", str(export_src_artifact), "--backend", "loihi2"]) == 2
    assert "lava-loihi" in capsys.readouterr().err
    assert main(["run", str(export_src_artifact), "--limit", "0"]) == 2
    assert "--limit" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "missing"), "--backend", "sim"]) == 2
    assert main(["run", str(export_src_artifact), "--data", "mnist", "--quiet"]) == 2
    assert "mnist" in capsys.readouterr().err
