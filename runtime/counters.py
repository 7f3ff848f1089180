"""Operation counters for a layered SNN (pure numpy).

Definitions (per layer, per sample; per time step with ``per_step=True``):

* ``spikes``: non-zero outputs of the layer.
* ``dense``: every synapse every step: ``T * (n*n_in + n*n)`` (the ``n*n`` only with recurrence).
* ``effective``: NeuroBench SynOps: number of (non-zero presynaptic value, non-zero weight) pairs,
  i.e. sum over non-zero presynaptic events of the number of non-zero outgoing weights.
  It is reported as ``effective_acs`` when the presynaptic source is binary (all values in
  {-1, 0, 1}, NeuroBench's per-layer test) and as ``effective_macs`` otherwise.
* ``graded_weighted``: like ``effective`` but each event counts ``|value|`` times (Sinabs/Norse
  convention), which differs from NeuroBench on purpose for graded spikes.
* Recurrent synapses see the layer's own output of the previous step (zero at t=0).
* ``neuron_active``: neurons that at this step received at least one synaptic event (non-zero
  presynaptic value on a non-zero weight, feed-forward or recurrent) or emitted a non-zero output.
  ``neuron_inactive`` = n - active. (Membrane state is not observed here, so a neuron that only
  leaks is counted inactive.)
* ``activation_sparsity``: 1 - non-zero outputs / (T * n).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TIME_KEYS = (
    "spikes",
    "dense",
    "effective",
    "effective_acs",
    "effective_macs",
    "graded_weighted",
    "neuron_active",
    "neuron_inactive",
)
"""The counters that ``count_layers(per_step=True)`` gives per time step."""


@dataclass
class LayerDesc:
    weight: np.ndarray  # (n, n_in)
    rec_weight: np.ndarray | None = None  # (n, n)
    binary_output: bool = True
    weight_bits: int = 8
    state_bits: int = 16

    @property
    def n(self) -> int:
        return int(self.weight.shape[0])


def _is_binary(x: np.ndarray) -> bool:
    return bool(np.all(np.isin(x, (-1, 0, 1))))


def connection_sparsity(layers: list[LayerDesc]) -> float:
    """Fraction of zero weights over all feed-forward and recurrent weight matrices."""
    mats = [m for ly in layers for m in (ly.weight, ly.rec_weight) if m is not None]
    total = sum(m.size for m in mats)
    return float(sum(int((m == 0).sum()) for m in mats) / total)


def footprint_bits(layer: LayerDesc) -> int:
    """weights * weight_bits + neurons * state_bits."""
    n_w = layer.weight.size + (0 if layer.rec_weight is None else layer.rec_weight.size)
    return int(n_w * layer.weight_bits + layer.n * layer.state_bits)


def _events(x: np.ndarray, w: np.ndarray):
    """(effective, graded_weighted, received) for source x (T,B,k) and weights w (n,k)."""
    nzw = (w != 0).astype(np.int64)
    xnz = (x != 0).astype(np.int64)
    eff = xnz @ nzw.sum(0)  # (T,B)
    graded = np.abs(x).astype(np.float64) @ nzw.sum(0).astype(np.float64)
    received = (xnz @ nzw.T) > 0  # (T,B,n)
    return eff, graded, received


def count_layers(layers, inputs, outputs, per_step: bool = False) -> list[dict]:
    """Counts per layer. ``inputs`` (T,B,n_in); ``outputs[l]`` (T,B,n_l). Values are arrays
    of shape (B,) (summed over time) or (T,B) with ``per_step``."""
    inputs = np.asarray(inputs)
    result = []
    src = inputs
    for ly, out in zip(layers, outputs, strict=True):
        out = np.asarray(out)
        T, B, n = out.shape
        eff, graded, received = _events(src, ly.weight)
        eff_mac = eff if not _is_binary(src) else np.zeros_like(eff)
        eff_ac = eff if _is_binary(src) else np.zeros_like(eff)
        dense_per = ly.weight.size
        if ly.rec_weight is not None:
            prev = np.concatenate([np.zeros_like(out[:1]), out[:-1]], axis=0)
            e2, g2, r2 = _events(prev, ly.rec_weight)
            if _is_binary(prev):
                eff_ac = eff_ac + e2
            else:
                eff_mac = eff_mac + e2
            eff, graded, received = eff + e2, graded + g2, received | r2
            dense_per += ly.rec_weight.size
        active = (received | (out != 0)).sum(-1)
        d = {
            "spikes": (out != 0).sum(-1),
            "dense": np.full((T, B), dense_per, dtype=np.int64),
            "effective": eff,
            "effective_acs": eff_ac,
            "effective_macs": eff_mac,
            "graded_weighted": graded,
            "neuron_active": active,
            "neuron_inactive": n - active,
        }
        if not per_step:
            d = {k: v.sum(0) for k, v in d.items()}
        # per sample (B,) or a scalar: the same in both modes (see sum_over_time)
        d["activation_sparsity"] = 1.0 - (out != 0).sum((0, 2)) / (T * n)
        d["footprint_bits"] = footprint_bits(ly)
        d["connection_sparsity"] = connection_sparsity([ly])
        result.append(d)
        src = out
    return result


def sum_over_time(per_step: list[dict]) -> list[dict]:
    """``count_layers(..., per_step=False)`` from its ``per_step=True`` result, without
    counting again."""
    return [{k: v.sum(0) if k in TIME_KEYS else v for k, v in d.items()} for d in per_step]


def layers_from_netspec(spec, weight_bits: int | None = None, state_bits: int = 16):
    """LayerDesc list from a modspike.export NetSpec (graded kinds: src/msrc/bsrc)."""
    from modspike.export.netspec import GRADED_KINDS

    wb = weight_bits or spec.weight_bits or 8
    return [
        LayerDesc(
            weight=np.asarray(ly.weight),
            rec_weight=None if ly.rec_weight is None else np.asarray(ly.rec_weight),
            binary_output=ly.kind not in GRADED_KINDS,
            weight_bits=wb,
            state_bits=state_bits,
        )
        for ly in spec.layers
    ]


def layers_from_intnet(net, weight_bits: int = 8, state_bits: int = 16) -> list[LayerDesc]:
    """LayerDesc list from a fixed-point ``IntNetwork`` (integer mantissas: the deployed zeros)."""
    from modspike.fxpnet import SRC_KINDS

    return [
        LayerDesc(
            weight=np.asarray(ly.synapse.weights.mantissa),
            rec_weight=None if ly.recurrent is None else np.asarray(ly.recurrent.weights.mantissa),
            binary_output=ly.kind not in SRC_KINDS,
            weight_bits=weight_bits,
            state_bits=state_bits,
        )
        for ly in net.layers
    ]


def summarize(counts: list[dict], names: list[str] | None = None) -> dict:
    """Per-sample means of ``count_layers`` output (summed over time): one dict per layer and the
    network total (``activation_sparsity`` pooled over layers, as NeuroBench)."""
    names = names or [f"layer{k}" for k in range(len(counts))]
    layers = {}
    for name, d in zip(names, counts, strict=True):
        row = {k: float(np.mean(d[k])) for k in TIME_KEYS}
        row["activation_sparsity"] = float(np.mean(d["activation_sparsity"]))
        row["footprint_bits"] = int(d["footprint_bits"])
        row["connection_sparsity"] = float(d["connection_sparsity"])
        layers[name] = row
    total = {k: float(sum(r[k] for r in layers.values())) for k in TIME_KEYS}
    slots = sum(r["neuron_active"] + r["neuron_inactive"] for r in layers.values())
    total["activation_sparsity"] = 1.0 - total["spikes"] / slots if slots else 0.0
    total["footprint_bits"] = int(sum(r["footprint_bits"] for r in layers.values()))
    return {"per_sample": total, "layers": layers}
