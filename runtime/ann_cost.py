"""MACs per layer of an ONNX model (Gemm, MatMul, Conv), and their modeled energy."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import shape_inference

from modspike.errors import ConfigError
from modspike.runtime.energy import load_profile


def _shapes(model) -> dict:
    model = shape_inference.infer_shapes(model)
    out = {t.name: tuple(t.dims) for t in model.graph.initializer}
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        dims = vi.type.tensor_type.shape.dim
        out.setdefault(vi.name, tuple(d.dim_value if d.dim_value > 0 else 1 for d in dims))
    return out


def onnx_macs(path) -> list[dict]:
    """One dict per Gemm/MatMul/Conv node: name, op, macs (per sample, batch dims set to 1)."""
    try:
        model = onnx.load(str(path))
    except Exception as e:  # noqa: BLE001
        raise ConfigError(f"cannot read ONNX model {path}: {e}") from e
    sh = _shapes(model)
    rows = []
    for node in model.graph.node:
        if node.op_type in ("Gemm", "MatMul"):
            a, b = sh[node.input[0]], sh[node.input[1]]
            trans_b = any(at.name == "transB" and at.i for at in node.attribute)
            k, n = (b[1], b[0]) if trans_b else (b[-2], b[-1])
            macs = int(np.prod(a[1:-1] or (1,))) * k * n if len(a) > 2 else k * n
        elif node.op_type == "Conv":
            w, y = sh[node.input[1]], sh[node.output[0]]
            macs = int(np.prod(y[1:])) * int(np.prod(w[1:]))  # out elems * (C_in/g * kernel)
        else:
            continue
        rows.append({"name": node.name, "op": node.op_type, "macs": int(macs)})
    return rows


def ann_energy(rows, precision: str = "int8", profile="horowitz45") -> dict:
    """Energy of the MACs at ``mac_int8`` (default, precision-matched) or ``mac_fp32``."""
    key = f"mac_{precision}"
    c = load_profile(profile, (key,))["cost"][key]
    layers = [r["macs"] * c for r in rows]
    return {
        "kind": "modeled",
        "unit": "pJ",
        "precision": precision,
        "layers": layers,
        "total": float(sum(layers)),
    }
