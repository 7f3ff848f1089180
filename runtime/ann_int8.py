"""The ANN baseline as deployed: a static integer network (int8 weights, ``b``-bit activations),
evaluated exactly in numpy, so that the accuracy paired with the int8 price is that of the network
being priced (not onnxruntime's dynamic quantisation, which requantises activations per batch).

Quantisation (post-training, calibrated on the training split):

* weights: per layer, symmetric, ``s_w = max|W| / (2**(b_w-1) - 1)``, ``W_q = round(W / s_w)``;
* the input: intensities in [0, 1] as ``b``-bit unsigned integers, ``s_0 = 1 / (2**b - 1)``
  (event-count images: ``s_0 = max / (2**b - 1)``, the calibration split's largest count);
* each hidden activation (after ReLU): ``b``-bit unsigned, ``s_y = clip / (2**b - 1)`` with the clip
  chosen on the calibration samples among percentiles of the activations (the one with the least
  squared error; the maximum at 8 bits is one of them);
* biases: 32-bit integers on the accumulator grid, ``round(b / (s_x s_w))``; the accumulator is
  exact (int64 here, 32 bits in the energy model), requantised by one multiply per output.

The same routine at ``b = ceil(log2(T + 1))`` gives the low-bit ANN matched to a T-step spike code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modspike.errors import ArtifactError, ConfigError

from .energy_facts import AnnLayerFacts

PERCENTILES = (100.0, 99.99, 99.9, 99.5, 99.0, 98.0, 95.0, 90.0)


@dataclass(frozen=True)
class Mlp:
    """A Gemm / ReLU chain: ``weights[k]`` is ``(n_out, n_in)``; ReLU after every layer but the
    last."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray | None, ...]

    @property
    def n_in(self) -> int:
        return int(self.weights[0].shape[1])

    def facts(self, weight_bits: int = 8, act_bits: int = 8) -> list[AnnLayerFacts]:
        return [
            AnnLayerFacts(int(w.shape[1]), int(w.shape[0]), b is not None, weight_bits, act_bits)
            for w, b in zip(self.weights, self.biases)
        ]

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Float activations: the input, each hidden layer's ReLU output, the logits."""
        acts = [np.asarray(x, dtype=np.float64)]
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            y = acts[-1] @ w.T + (0 if b is None else b)
            acts.append(np.maximum(y, 0) if k < len(self.weights) - 1 else y)
        return acts


def load_mlp(path: str | Path) -> Mlp:
    """The MLP in an ONNX file written by ``export_onnx`` (Gemm / ReLU nodes only)."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises its own types for a bad file
        raise ArtifactError(f"{path}: cannot read the ONNX model ({type(exc).__name__})") from None
    init = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    weights, biases, relu_after = [], [], []
    for node in model.graph.node:
        if node.op_type == "Gemm":
            attrs = {a.name: a for a in node.attribute}
            if "transA" in attrs and attrs["transA"].i:
                raise ArtifactError(f"{path}: a Gemm with transA is not an MLP layer")
            if node.input[1] not in init:
                raise ArtifactError(f"{path}: Gemm {node.name} has no constant weight")
            w = init[node.input[1]]
            w = w if ("transB" in attrs and attrs["transB"].i) else w.T
            for name in ("alpha", "beta"):
                if name in attrs and attrs[name].f not in (0.0, 1.0):
                    raise ArtifactError(f"{path}: Gemm {node.name} scales by {name}")
            b = init.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
            weights.append(w)
            biases.append(None if b is None else b.reshape(-1))
            relu_after.append(False)
        elif node.op_type == "Relu" and weights and not relu_after[-1]:
            relu_after[-1] = True
        elif node.op_type not in ("Identity", "Flatten"):
            raise ArtifactError(
                f"{path}: the deployed ANN tier prices Gemm / ReLU networks; found {node.op_type}"
            )
    if not weights or relu_after[-1] or not all(relu_after[:-1]):
        raise ArtifactError(f"{path}: not a Gemm / ReLU chain ending in a Gemm")
    for a, b in zip(weights, weights[1:]):
        if b.shape[1] != a.shape[0]:
            raise ArtifactError(f"{path}: layer shapes {a.shape} -> {b.shape} do not chain")
    return Mlp(tuple(weights), tuple(biases))


@dataclass(frozen=True)
class QuantizedMlp:
    """An :class:`Mlp` at ``weight_bits`` / ``act_bits``: integer weights and biases, scales."""

    weights: tuple[np.ndarray, ...]  # int64 mantissas
    biases: tuple[np.ndarray, ...]  # int64, on each accumulator grid
    weight_scales: tuple[float, ...]
    act_scales: tuple[float, ...]  # the input's, then each hidden layer's
    weight_bits: int
    act_bits: int

    def run(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """``(integer logits, [integer activations: input, hidden...])`` for intensities ``x``."""
        top = (1 << self.act_bits) - 1
        q = np.clip(np.floor(np.asarray(x, np.float64) / self.act_scales[0] + 0.5), 0, top)
        acts = [q.astype(np.int64)]
        last = len(self.weights) - 1
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            acc = acts[-1] @ w.T + b
            if k == last:
                return acc, acts
            m = self.act_scales[k] * self.weight_scales[k] / self.act_scales[k + 1]
            y = np.clip(np.floor(np.maximum(acc, 0) * m + 0.5), 0, top)
            acts.append(y.astype(np.int64))
        raise AssertionError("unreachable")


def _check_bits(name: str, bits: int, lo: int, hi: int) -> None:
    if isinstance(bits, bool) or not isinstance(bits, int) or not lo <= bits <= hi:
        raise ConfigError(f"{name} must be an integer in [{lo}, {hi}], got {bits!r}")


def _best_clip(values: np.ndarray, bits: int) -> float:
    """The activation clip with the least squared quantisation error among percentiles."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.any(v > 0):
        return 1.0
    top = (1 << bits) - 1
    best, best_err = None, np.inf
    for p in PERCENTILES:
        clip = float(np.percentile(v, p))
        if clip <= 0:
            continue
        s = clip / top
        err = float(np.mean((np.clip(np.floor(v / s + 0.5), 0, top) * s - v) ** 2))
        if err < best_err:
            best, best_err = clip, err
    return best if best is not None else float(v.max())


def quantize_mlp(
    mlp: Mlp, calibration: np.ndarray, act_bits: int = 8, weight_bits: int = 8
) -> QuantizedMlp:
    """Post-training static quantisation (module docstring), calibrated on ``calibration``."""
    _check_bits("activation bits", act_bits, 1, 16)
    _check_bits("weight bits", weight_bits, 2, 16)
    qmax = (1 << (weight_bits - 1)) - 1
    acts = mlp.forward(calibration)
    # the input: intensities in [0, 1] at 1/255; larger inputs (event counts) up to their
    # calibration maximum
    peak_in = max(1.0, float(np.max(calibration, initial=0.0)))
    act_scales = [peak_in / ((1 << act_bits) - 1)]
    act_scales += [_best_clip(a, act_bits) / ((1 << act_bits) - 1) for a in acts[1:-1]]
    ws, bs, w_scales = [], [], []
    for k, (w, b) in enumerate(zip(mlp.weights, mlp.biases)):
        peak = float(np.abs(w).max())
        s_w = peak / qmax if peak > 0 else 1.0
        ws.append(np.clip(np.floor(w / s_w + 0.5), -qmax, qmax).astype(np.int64))
        grid = act_scales[k] * s_w
        bias = np.zeros(w.shape[0]) if b is None else b
        bs.append(np.floor(bias / grid + 0.5).astype(np.int64))
        w_scales.append(s_w)
    return QuantizedMlp(
        tuple(ws), tuple(bs), tuple(w_scales), tuple(act_scales), weight_bits, act_bits
    )


def evaluate_quantized(q: QuantizedMlp, x: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy and, per layer, the mean number of non-zero input activations (zero-skip)."""
    logits, acts = q.run(x)
    return {
        "accuracy": float((logits.argmax(1) == np.asarray(y)).mean()) if len(y) else 0.0,
        "nonzero_inputs": [float((a != 0).sum(1).mean()) for a in acts],
        "weight_bits": q.weight_bits,
        "act_bits": q.act_bits,
    }
