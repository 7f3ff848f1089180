"""The ANN baseline as ONNX (``torch.onnx``), checked with onnxruntime against torch."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from modspike.errors import ArtifactError, ConfigError

ONNX_OPSET = 17


def export_onnx(model: nn.Module, path: str | Path, n_in: int) -> None:
    """Write ``model`` (a static-input network, e.g. the ANN baseline) with a dynamic batch axis."""
    if not getattr(model, "static_input", False):
        raise ConfigError("only the non-spiking ANN baseline is exported as ONNX")
    model = model.eval().cpu()
    example = torch.zeros(1, n_in)
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # the TorchScript exporter is deprecated but dependency-free
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )


def onnx_predict(path: str | Path, x: np.ndarray) -> np.ndarray:
    """Logits from onnxruntime (CPU) for inputs ``x`` (batch, n_in)."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        raise ArtifactError(
            f"{path}: onnxruntime cannot load the model ({type(exc).__name__})"
        ) from None
    return session.run(["logits"], {"x": np.ascontiguousarray(x, dtype=np.float32)})[0]


@torch.no_grad()
def check_onnx(path: str | Path, model: nn.Module, x: np.ndarray, y: np.ndarray) -> dict:
    """Compare torch and onnxruntime on ``(x, y)``; raises if any prediction differs."""
    torch_logits = model.eval()(torch.as_tensor(x, dtype=torch.float32)).numpy()
    onnx_logits = onnx_predict(path, x)
    pred_t, pred_o = torch_logits.argmax(-1), onnx_logits.argmax(-1)
    differ = int((pred_t != pred_o).sum())
    if differ:
        raise ArtifactError(
            f"{path}: onnxruntime disagrees with torch on {differ} of {len(x)} samples"
        )
    return {
        "torch_accuracy": float((pred_t == y).mean()),
        "onnx_accuracy": float((pred_o == y).mean()),
        "identical_predictions": True,
        "max_abs_logit_difference": float(np.abs(torch_logits - onnx_logits).max()),
        "samples": int(len(x)),
        "opset": ONNX_OPSET,
    }
