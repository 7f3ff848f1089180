"""Quantisation-aware training on exactly the export grid, and float-vs-integer fidelity.

:class:`QuantizedNet` wraps a :class:`~modspike.train.modules.TorchNetwork`. Its forward pass *is*
the exported integer network (:func:`modspike.quantize.quantize` of the current parameters, at
every call); its backward pass is the float network's (straight-through: every quantised value
is ``float + (integer - float).detach()``, :data:`modspike.step.Precision.STE`). So the model the
training loop sees is, value for value, the model that is exported.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from modspike.encoding import encode_batch, generator
from modspike.errors import ConfigError
from modspike.fixedpoint import SRCFormat, WeightFormat
from modspike.network import Integration, Network
from modspike.quantize import per_channel, quantize
from modspike.step import (
    Precision,
    Program,
    compile,
    fixed_layer,
    float_layer,
    float_readout,
    int_to_tensor,
    run,
    ste_layer,
    ste_ops,
    ste_value,
)

from .modules import TorchNetwork, stage_tensors, to_network


def quantize_network(
    model: nn.Module,
    fmt: WeightFormat | None = None,
    sfmt: SRCFormat | None = None,
    in_exp: int = 0,
) -> Network:
    """Post-training quantisation of a trained model: its network description's fixed-point twin.

    ``in_exp``: the unit of the integer input, ``2**in_exp`` (0 for spikes; ``-frac_bits`` for a
    graded input such as an observation in the SRC state format)."""
    if not isinstance(model, TorchNetwork):
        raise ConfigError(
            "only spiking networks can be quantised; the ANN baseline is exported as ONNX instead"
        )
    return quantize(to_network(model), fmt, sfmt, in_exp)


def _fake_quant(weight: torch.Tensor, fixed) -> torch.Tensor:
    exact = torch.from_numpy(fixed.dequantize()).to(device=weight.device, dtype=weight.dtype)
    return weight + (exact - weight).detach()


def ste_program(model: TorchNetwork, qnet: Network, device=None) -> Program:
    """The QAT program: each layer runs float (fake-quantised weights) and integer side by side,
    and the float side's outputs and states are snapped onto the integer ones."""
    layers = []
    for k, (torch_layer, q) in enumerate(zip(model.layers, qnet.layers)):
        w = _fake_quant(torch_layer.synapse.weight, q.synapse.fixed)
        b = torch_layer.synapse.bias
        if b is not None:  # the LIF family's bias lives on the drive grid
            drive_exp = q.cell.kind.fixed.drive_exponent(q.cell.fixed)
            grid, unit = q.cell.fixed.input_bias, drive_exp
            if b.shape[0] != grid.shape[0]:  # a convolution: one bias per channel
                grid = per_channel(grid, b.shape[0], "the bias")
                unit = per_channel(np.asarray(drive_exp), b.shape[0], "the drive unit")
            b = ste_value(b, grid, unit)
        rec = torch_layer.rec
        w_rec = None if rec is None else _fake_quant(rec.weight, q.recurrent.fixed)
        cell = torch_layer.cell
        float_l = float_layer(
            f"layer{k}",
            torch_layer.kind,
            q.synapse.kind,
            w,
            b,
            w_rec,
            None,
            cell.float_params(),
            getattr(cell, "constants", None),
            q.synapse.attrs,
            device=device,
            pre=torch_layer.stage_tensors(device),
            n=q.n,
        )
        layers.append(ste_layer(float_l, fixed_layer(q), q.cell.fixed.state_exp))
    int_readout = compile(qnet, Precision.FIXED).readout
    readout_pre = stage_tensors(model.readout_pre, device)

    def readout(total, steps: int):
        total_f, total_i = total
        if qnet.readout is None:
            return ste_value(total_f, total_i, qnet.layers[-1].cell.fixed.out_exp)
        w_ro = _fake_quant(model.readout.weight, qnet.readout.synapse.fixed)
        head = float_readout(w_ro, None, Integration.SUM_OVER_TIME, readout_pre)
        return ste_value(head(total_f, steps), int_readout(total_i, steps), 0)

    return Program(Precision.STE, tuple(layers), ste_ops(device), readout)


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
        frozen: Network | None = None,
    ):
        super().__init__()
        self.net = net
        self.fmt, self.sfmt, self.frozen = fmt or WeightFormat(), sfmt or SRCFormat(), frozen
        if frozen is None:
            self.quantized()  # fail early (ConfigError / QuantizationError) for unsupported nets

    @property
    def config(self):
        return self.net.config

    def quantized(self) -> Network:
        if self.frozen is not None:
            return self.frozen
        return quantize_network(self.net, self.fmt, self.sfmt)

    def forward(self, spikes: torch.Tensor, record: bool = False):
        qnet = self.quantized()
        if not torch.is_grad_enabled():
            return self._forward_integer(qnet, spikes, record)
        prog = ste_program(self.net, qnet, spikes.device)
        out = run(prog, spikes, record=record)
        logits = prog.readout(out.total, spikes.shape[0])
        return (logits, out.records) if record else logits

    def _forward_integer(self, qnet: Network, spikes: torch.Tensor, record: bool):
        prog = compile(qnet, Precision.FIXED)
        x = spikes.detach().cpu().numpy()
        out = run(prog, x, record=record)
        logits_t = torch.from_numpy(prog.readout(out.total, x.shape[0])).to(spikes.device)
        if not record:
            return logits_t
        records = [int_to_tensor(r, L.out_exp, spikes) for r, L in zip(out.records, prog.layers)]
        return logits_t, records


@torch.no_grad()
def fidelity(
    model: nn.Module,
    qnet: Network,
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
    prog = compile(qnet, Precision.FIXED)
    gen = generator(seed)
    correct_f = correct_q = flips = 0
    n_layers = len(qnet.layers)
    inter, union = [0] * n_layers, [0] * n_layers
    active_f, active_q = [0] * n_layers, [0] * n_layers
    entries = 0
    for start in range(0, len(x), batch_size):
        xb = torch.as_tensor(x[start : start + batch_size])
        yb = np.asarray(y[start : start + batch_size])
        spikes = encode_batch(model, xb, cfg, gen)
        logits_f, recs_f = model(spikes, record=True)
        sp = spikes.numpy()
        out = run(prog, sp)
        logits_q = prog.readout(out.total, sp.shape[0])
        pred_f, pred_q = logits_f.argmax(-1).numpy(), logits_q.argmax(-1)
        correct_f += int((pred_f == yb).sum())
        correct_q += int((pred_q == yb).sum())
        flips += int((pred_f != pred_q).sum())
        for k, (rf, rq) in enumerate(zip(recs_f, out.records)):
            f, q = (rf > 0).numpy(), rq > 0
            inter[k] += int((f & q).sum())
            union[k] += int((f | q).sum())
            active_f[k] += int(f.sum())
            active_q[k] += int(q.sum())
        entries += sp.shape[0] * sp.shape[1]
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
