"""Operation counters of a network (pure numpy), read from its network description.

Definitions (per layer, per sample; per time step with ``per_step=True``):

* ``spikes``: non-zero outputs of the layer.
* ``dense``: every synapse every step (the synapse kind's ``dense_ops``, plus the recurrence).
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
* ``footprint_bits``: the layer's memory in the one memory model (:mod:`modspike.memory`).
* Convolutions count as NeuroBench counts ``nn.Conv2d``: the binary copy of the layer on the
  binary input, so ``effective`` = non-zero inputs times their non-zero outgoing weights (padding
  excluded) and ``dense`` = every (input, weight) pair that exists.
* ``stage_effective`` / ``stage_dense``: the accumulations of a synapse's ``pre`` stages
  (pooling between a neuron layer and the next synapse). NeuroBench does not count pooling
  layers, so they are kept apart from ``effective`` / ``dense``; the synapse after a pooling stage
  sees the pooled (graded) values, so its operations are ``effective_macs``, as in NeuroBench.
"""

from __future__ import annotations

import numpy as np

from modspike.memory import layer_footprint
from modspike.network import Layer, Network

TIME_KEYS = (
    "spikes",
    "dense",
    "effective",
    "effective_acs",
    "effective_macs",
    "graded_weighted",
    "neuron_active",
    "neuron_inactive",
    "stage_effective",
    "stage_dense",
)
"""The counters that ``count_layers(per_step=True)`` gives per time step."""


def deployed_weights(layer: Layer, net: Network) -> tuple[np.ndarray, np.ndarray | None]:
    """``(synapse, recurrent)`` weights as deployed: the integer mantissas of a quantised network
    (their zeros are the deployed zeros), the float weights otherwise."""

    def pick(syn):
        if syn is None:
            return None
        return np.asarray(syn.fixed.mantissa if net.quantized else syn.weight)

    return pick(layer.synapse), pick(layer.recurrent)


def through_stages(src: np.ndarray, synapse, quantized: bool):
    """``src`` (T, B, ...) through a synapse's ``pre`` stages (float64, deployed weights):
    ``(what reaches the synapse's weights, stage effective (T, B), stage dense per step)``."""
    x = np.asarray(src)
    steps, batch = x.shape[:2]
    effective = np.zeros((steps, batch), dtype=np.int64)
    dense = 0
    for stage in synapse.pre:
        w = np.asarray(stage.fixed.mantissa if quantized else stage.weight, dtype=np.float64)
        e, _, _ = stage.kind.events(x, w, stage.attrs)
        effective = effective + e
        dense += stage.kind.dense_ops(stage, stage.attrs.get("in_shape"))
        x = apply_synapse(stage, x.reshape(steps * batch, -1), w).reshape(steps, batch, -1)
    return x, effective, dense


def apply_synapse(stage, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A synapse's float operation on flat inputs ``x`` (B, n_in) with weights ``w``."""
    import torch

    with torch.no_grad():
        y = stage.kind.apply_float(
            torch.tensor(x, dtype=torch.float64),
            torch.tensor(w, dtype=torch.float64),
            None,
            stage.attrs,
        )
    return y.numpy()


def _is_binary(x: np.ndarray) -> bool:
    return bool(np.all(np.isin(x, (-1, 0, 1))))


def connection_sparsity(net: Network) -> float:
    """Fraction of zero weights over all feed-forward and recurrent weight matrices."""
    mats = [m for ly in net.layers for m in deployed_weights(ly, net) if m is not None]
    total = sum(m.size for m in mats)
    return float(sum(int((m == 0).sum()) for m in mats) / total)


def count_layers(net: Network, inputs, outputs, per_step: bool = False) -> list[dict]:
    """Counts per layer of ``net``. ``inputs`` (T,B,...); ``outputs[l]`` (T,B,n_l). Values are
    arrays of shape (B,) (summed over time) or (T,B) with ``per_step``."""
    src = np.asarray(inputs)
    result = []
    for layer, out in zip(net.layers, outputs, strict=True):
        out = np.asarray(out)
        T, B, n = out.shape
        w, w_rec = deployed_weights(layer, net)
        syn = layer.synapse
        staged, stage_eff, stage_dense = through_stages(src, syn, net.quantized)
        eff, graded, received = syn.kind.events(staged, w, syn.attrs)
        binary_src = _is_binary(staged)
        eff_mac = eff if not binary_src else np.zeros_like(eff)
        eff_ac = eff if binary_src else np.zeros_like(eff)
        dense_per = syn.kind.dense_ops(syn, syn.stage_shape(layer.in_shape))
        if w_rec is not None:
            prev = np.concatenate([np.zeros_like(out[:1]), out[:-1]], axis=0)
            e2, g2, r2 = layer.recurrent.kind.events(prev, w_rec, layer.recurrent.attrs)
            if _is_binary(prev):
                eff_ac = eff_ac + e2
            else:
                eff_mac = eff_mac + e2
            eff, graded, received = eff + e2, graded + g2, received | r2
            dense_per += layer.recurrent.kind.dense_ops(layer.recurrent, layer.out_shape)
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
            "stage_effective": stage_eff,
            "stage_dense": np.full((T, B), stage_dense, dtype=np.int64),
        }
        if not per_step:
            d = {k: v.sum(0) for k, v in d.items()}
        # per sample (B,) or a scalar: the same in both modes (see sum_over_time)
        d["activation_sparsity"] = 1.0 - (out != 0).sum((0, 2)) / (T * n)
        d["footprint_bits"] = layer_footprint(layer, net).bits
        mats = [m for m in (w, w_rec) if m is not None]
        d["connection_sparsity"] = float(
            sum(int((m == 0).sum()) for m in mats) / sum(m.size for m in mats)
        )
        result.append(d)
        src = out
    return result


def sum_over_time(per_step: list[dict]) -> list[dict]:
    """``count_layers(..., per_step=False)`` from its ``per_step=True`` result, without
    counting again."""
    return [{k: v.sum(0) if k in TIME_KEYS else v for k, v in d.items()} for d in per_step]


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
