"""Quantisation-aware training on exactly the export grid, and float-vs-integer fidelity.

:class:`QuantizedNet` wraps a :class:`~modspike.train.network.SpikingNet`. Its forward pass *is*
the exported integer network (:mod:`modspike.fxpnet`, re-quantised from the current float
parameters at every call); its backward pass is the float network's (straight-through: every
quantised value is ``float + (integer - float).detach()``). So the model the training loop sees is,
value for value, the model that is exported.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from modspike.encoding import encode_batch, generator
from modspike.errors import ConfigError
from modspike.fixedpoint import SRCFormat, WeightFormat
from modspike.fxpnet import (
    FIXED_KINDS,
    IntLayer,
    IntNetwork,
    quantize_lif_layer,
    quantize_msrc_layer,
    quantize_readout,
    quantize_src_layer,
)

from .cells import MSRCState, SRCState


def _np(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().double().numpy()


def quantize_layer(layer: nn.Module, in_exp: int, fmt: WeightFormat, sfmt: SRCFormat) -> IntLayer:
    """The integer twin of one ``CellLayer`` (synapse [+ recurrent synapse] -> cell)."""
    cell = layer.cell
    kind = cell.kind
    w = _np(layer.synapse.weight)
    w_rec = _np(layer.rec.weight) if layer.rec is not None else None
    if kind == "lif":
        return quantize_lif_layer(
            kind, w, _np(layer.synapse.bias), w_rec, cell.beta, cell.threshold, None, fmt
        )
    if kind == "cubalif":
        return quantize_lif_layer(
            kind, w, _np(layer.synapse.bias), w_rec, cell.beta, cell.threshold, cell.alpha, fmt
        )
    if kind == "src":
        return quantize_src_layer(
            w, w_rec, _np(cell.bh), cell.constants.to_dict(), in_exp, fmt, sfmt
        )
    if kind in ("msrc", "bsrc"):
        consts = cell.constants.to_dict()
        return quantize_msrc_layer(
            kind, w, w_rec, _np(cell.b), _np(cell.hs0), consts, in_exp, fmt, sfmt
        )
    raise ConfigError(
        f"cell {kind!r} has no fixed-point model; quantisation supports {', '.join(FIXED_KINDS)}"
    )


def quantize_network(
    net: nn.Module,
    fmt: WeightFormat | None = None,
    sfmt: SRCFormat | None = None,
    in_exp: int = 0,
) -> IntNetwork:
    """Post-training quantisation of a spiking network (``.layers`` of CellLayer, ``.readout``).

    ``in_exp``: the unit of the integer input, ``2**in_exp`` (0 for spikes; ``-frac_bits`` for a
    graded input such as an observation in the SRC state format)."""
    fmt, sfmt = fmt or WeightFormat(), sfmt or SRCFormat()
    if not hasattr(net, "layers"):
        raise ConfigError(
            f"only spiking networks can be quantised ({', '.join(FIXED_KINDS)}); the ANN baseline"
            " is exported as ONNX instead"
        )
    layers = []
    for layer in net.layers:
        int_layer = quantize_layer(layer, in_exp, fmt, sfmt)
        layers.append(int_layer)
        in_exp = int_layer.out_exp
    readout = getattr(net, "readout", None)
    return IntNetwork(
        layers, quantize_readout(_np(readout.weight), in_exp, fmt) if readout else None
    )


def _as_torch(values: np.ndarray, exp, like: torch.Tensor) -> torch.Tensor:
    scale = np.exp2(np.asarray(exp, dtype=np.float64))
    return torch.from_numpy(values * scale).to(device=like.device, dtype=like.dtype)


def _ste(float_value: torch.Tensor, int_value: np.ndarray, exp) -> torch.Tensor:
    """The integer value in the forward pass, the float value's gradient in the backward pass."""
    return float_value + (_as_torch(int_value, exp, float_value) - float_value).detach()


def _fake_quant(weight: torch.Tensor, q) -> torch.Tensor:
    return weight + (_as_torch(q.dequantize(), 0, weight) - weight).detach()


def _float_state_from(kind: str, float_state, int_state, state_exp):
    """Snap the float cell state onto the integer state (same structure as the float cell's)."""
    if kind == "lif":
        return _ste(float_state, int_state.v, state_exp)
    if kind == "cubalif":
        syn, mem = float_state
        return (_ste(syn, int_state.u, state_exp), _ste(mem, int_state.v, state_exp))
    cls = SRCState if kind == "src" else MSRCState
    return cls(*(_ste(f, i, state_exp) for f, i in zip(float_state, int_state)))


class QuantizedNet(nn.Module):
    """A spiking network run in the export's integer arithmetic (see the module docstring).

    ``frozen`` fixes the integer network (an imported artifact); otherwise it is re-derived from
    the wrapped network's current parameters at every forward call (training).
    """

    static_input = False

    def __init__(
        self,
        net: nn.Module,
        fmt: WeightFormat | None = None,
        sfmt: SRCFormat | None = None,
        frozen: IntNetwork | None = None,
    ):
        super().__init__()
        self.net = net
        self.fmt, self.sfmt, self.frozen = fmt or WeightFormat(), sfmt or SRCFormat(), frozen
        if frozen is None:
            self.quantized()  # fail early (ConfigError / QuantizationError) for unsupported nets

    @property
    def config(self):
        return self.net.config

    def quantized(self) -> IntNetwork:
        return (
            self.frozen
            if self.frozen is not None
            else quantize_network(self.net, self.fmt, self.sfmt)
        )

    def forward(self, spikes: torch.Tensor, record: bool = False):
        qnet = self.quantized()
        if not torch.is_grad_enabled():
            return self._forward_integer(qnet, spikes, record)
        return self._forward_ste(qnet, spikes, record)

    def _forward_integer(self, qnet: IntNetwork, spikes: torch.Tensor, record: bool):
        out = qnet.run(spikes.detach().cpu().numpy(), record=record)
        logits, recs = out if record else (out, [])
        logits_t = torch.from_numpy(logits).to(spikes.device)
        if not record:
            return logits_t
        records = [_as_torch(r, layer.out_exp, spikes) for r, layer in zip(recs, qnet.layers)]
        return logits_t, records

    def _forward_ste(self, qnet: IntNetwork, spikes: torch.Tensor, record: bool):
        steps, batch = spikes.shape[:2]
        layers = self.net.layers
        weights = []
        for layer, q in zip(layers, qnet.layers):
            w = _fake_quant(layer.synapse.weight, q.synapse.weights)
            b = layer.synapse.bias
            if b is not None:  # LIF family: the bias lives on the voltage grid, 2**E_v
                e_v = q.state_exp + 6
                b = _ste(b, q.bias, e_v)
            w_rec = (
                _fake_quant(layer.rec.weight, q.recurrent.weights)
                if layer.rec is not None
                else None
            )
            weights.append((w, b, w_rec))
        float_states = [layer.cell.initial_state(batch, spikes.device) for layer in layers]
        int_states = [q.initial_state(batch) for q in qnet.layers]
        prev_f = [spikes.new_zeros(batch, q.n) for q in qnet.layers]
        prev_i = [None] * len(layers)
        total_f = spikes.new_zeros(batch, qnet.layers[-1].n)
        total_i = np.zeros((batch, qnet.layers[-1].n), dtype=np.int64)
        records: list[list[torch.Tensor]] = [[] for _ in layers]
        for t in range(steps):
            s_f = spikes[t]
            s_i = spikes[t].detach().cpu().numpy().astype(np.int64)
            for k, (layer, q) in enumerate(zip(layers, qnet.layers)):
                w, b, w_rec = weights[k]
                a_f = F.linear(s_f, w, b)
                if w_rec is not None:
                    a_f = a_f + F.linear(prev_f[k], w_rec)
                out_f, state_f = layer.cell(a_f, float_states[k])
                out_i, int_states[k] = q.step(s_i, prev_i[k], int_states[k])
                s_f = _ste(out_f, out_i, q.out_exp)
                float_states[k] = _float_state_from(
                    q.kind, state_f, int_states[k], q.state_exp[None, :]
                )
                prev_f[k], prev_i[k], s_i = s_f, out_i, out_i
                if record:
                    records[k].append(s_f)
            total_f = total_f + s_f
            total_i += s_i
        last = qnet.layers[-1]
        if qnet.readout is not None:
            w_ro = _fake_quant(self.net.readout.weight, qnet.readout.weights)
            logits = _ste(F.linear(total_f, w_ro), qnet.readout.logits(total_i), 0)
        else:
            logits = _ste(total_f, total_i, last.out_exp)
        if record:
            return logits, [torch.stack(r) for r in records]
        return logits


@torch.no_grad()
def fidelity(
    model: nn.Module,
    qnet: IntNetwork,
    x: np.ndarray,
    y: np.ndarray,
    cfg,
    seed: int,
    batch_size: int = 512,
) -> dict:
    """Float ``model`` vs integer ``qnet`` on *identical* input spikes.

    Returns both accuracies, the fraction of predictions that differ, and per layer the Jaccard
    overlap of active events (output > 0: spikes, or h > 0 for the SRC family),
    ``|float & quant| / |float | quant|``; 1.0 where neither network is ever active.
    """
    model.eval()
    gen = generator(seed)
    correct_f = correct_q = flips = 0
    inter = union = active_f = active_q = None
    entries = 0
    for start in range(0, len(x), batch_size):
        xb = torch.as_tensor(x[start : start + batch_size])
        yb = np.asarray(y[start : start + batch_size])
        spikes = encode_batch(model, xb, cfg, gen)
        logits_f, recs_f = model(spikes, record=True)
        logits_q, recs_q = qnet.run(spikes.numpy(), record=True)
        pred_f, pred_q = logits_f.argmax(-1).numpy(), logits_q.argmax(-1)
        correct_f += int((pred_f == yb).sum())
        correct_q += int((pred_q == yb).sum())
        flips += int((pred_f != pred_q).sum())
        a_f = [(r > 0).numpy() for r in recs_f]
        a_q = [r > 0 for r in recs_q]
        batch_inter = [int((f & q).sum()) for f, q in zip(a_f, a_q)]
        batch_union = [int((f | q).sum()) for f, q in zip(a_f, a_q)]
        batch_f, batch_q = [int(f.sum()) for f in a_f], [int(q.sum()) for q in a_q]
        if inter is None:
            inter, union, active_f, active_q = batch_inter, batch_union, batch_f, batch_q
        else:
            inter = [a + b for a, b in zip(inter, batch_inter)]
            union = [a + b for a, b in zip(union, batch_union)]
            active_f = [a + b for a, b in zip(active_f, batch_f)]
            active_q = [a + b for a, b in zip(active_q, batch_q)]
        entries += a_f[0].shape[0] * a_f[0].shape[1]
    n = len(x)
    widths = [layer.n for layer in qnet.layers]
    return {
        "float_accuracy": correct_f / n,
        "quantized_accuracy": correct_q / n,
        "accuracy_loss_points": 100.0 * (correct_f - correct_q) / n,
        "prediction_flips": flips / n,
        "jaccard": [i / u if u else 1.0 for i, u in zip(inter, union)],
        "active_fraction_float": [a / (entries * w) for a, w in zip(active_f, widths)],
        "active_fraction_quantized": [a / (entries * w) for a, w in zip(active_q, widths)],
        "samples": n,
        "input_seed": seed,
    }


def qat_report(model: nn.Module, data, cfg, fmt: WeightFormat | None = None) -> dict:
    """Metrics of a QAT run: float vs exported-integer accuracy and Jaccard on the test split."""
    fmt = fmt or WeightFormat()
    report = fidelity(
        model, quantize_network(model, fmt), data.x_test, data.y_test, cfg, cfg.seed + 2
    )
    return {"qat": True, "weight_bits": fmt.bits, "granularity": fmt.granularity, **report}
