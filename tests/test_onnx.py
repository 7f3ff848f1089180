"""The ANN baseline as ONNX, checked with onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from modspike.errors import ArtifactError, ConfigError
from modspike.export.onnx_export import check_onnx, export_onnx, onnx_predict
from modspike.train.modules import ANN, ModelConfig
from modspike.train.trainer import load_model


def test_ann_onnx_gives_torch_predictions(tmp_path, export_ann_run, export_digits):
    model, cfg, metrics = load_model(export_ann_run)
    path = tmp_path / "baseline.onnx"
    export_onnx(model, path, model.config.n_in)
    onnx.checker.check_model(onnx.load(str(path)))
    data = export_digits
    report = check_onnx(path, model, data.x_test, data.y_test)
    assert report["identical_predictions"] and report["samples"] == len(data.x_test)
    assert report["onnx_accuracy"] == report["torch_accuracy"] == metrics["test_accuracy"]
    assert report["max_abs_logit_difference"] < 1e-4
    assert onnx_predict(path, data.x_test[:1]).shape == (1, 10)  # dynamic batch axis


def test_onnx_check_catches_a_different_model(tmp_path, export_ann_run, export_digits):
    model, _, _ = load_model(export_ann_run)
    other = ANN(ModelConfig(cell="ann", n_in=64, hidden=32))
    path = tmp_path / "other.onnx"
    export_onnx(other, path, 64)
    with pytest.raises(ArtifactError, match="disagrees with torch"):
        check_onnx(path, model, export_digits.x_test, export_digits.y_test)


def test_only_the_ann_goes_to_onnx(tmp_path, export_make_model):
    with pytest.raises(ConfigError, match="ANN"):
        export_onnx(export_make_model("src"), tmp_path / "x.onnx", 64)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(ArtifactError, match="onnxruntime cannot load"):
        onnx_predict(bad, np.zeros((1, 64), np.float32))
