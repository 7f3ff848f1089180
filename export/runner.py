"""The torch backend for imported networks and artifacts.

:class:`ChainNet` runs a :class:`NetSpec` in float (NIR semantics, forward Euler at the spec's
``dt``); its layers have the attribute names of ``SpikingNet`` (``layers[k].synapse``, ``.rec``,
``.cell``, ``readout``), and for modspike's own cells it runs the very same step functions, so an
exported and re-imported network gives the same outputs. ``mode="fixed"`` runs the integer model
the file carries, through :class:`~modspike.train.qat.QuantizedNet`.
"""

from __future__ import annotations

import numpy as np
import torch
from modspike.errors import NIRError
from modspike.train.cells import BSRCCell, MSRCCell, SRCCell, SRCConstants
from modspike.train.cells.msrc import MSRCConstants
from modspike.train.network import LayerStep, run_layers
from modspike.train.qat import QuantizedNet
from torch import nn

from .netspec import LayerSpec, NetSpec


def _buffer(module: nn.Module, name: str, value) -> None:
    module.register_buffer(name, torch.as_tensor(np.asarray(value), dtype=torch.float32))


class EulerLIF(nn.Module):
    """``v = beta*v + gain*I + leak``; spike when ``v > threshold``, then ``v = v_reset``.

    With ``gain = 1`` and ``leak = 0`` this is bit for bit snntorch's ``Leaky`` (reset to zero).
    """

    kind = "lif"

    def __init__(self, p: dict):
        super().__init__()
        for key in ("beta", "gain", "leak", "threshold", "v_reset"):
            _buffer(self, key, p[key])
        self.n = len(p["beta"])

    def initial_state(self, batch: int, device=None) -> torch.Tensor:
        return torch.zeros(batch, self.n, device=device)

    def forward(self, a: torch.Tensor, v: torch.Tensor):
        v = self.beta * v + self.gain * a + self.leak
        spikes = v > self.threshold
        return spikes.to(a.dtype), torch.where(spikes, self.v_reset.expand_as(v), v)


class EulerCubaLIF(nn.Module):
    """``I = alpha*I + gain_syn*x``; ``v = beta*v + gain*I + leak``; spike and reset as LIF."""

    kind = "cubalif"

    def __init__(self, p: dict):
        super().__init__()
        for key in ("alpha", "gain_syn", "beta", "gain", "leak", "threshold", "v_reset"):
            _buffer(self, key, p[key])
        self.n = len(p["beta"])

    def initial_state(self, batch: int, device=None):
        z = torch.zeros(batch, self.n, device=device)
        return z, z.clone()

    def forward(self, a: torch.Tensor, state):
        syn, v = state
        syn = self.alpha * syn + self.gain_syn * a
        v = self.beta * v + self.gain * syn + self.leak
        spikes = v > self.threshold
        return spikes.to(a.dtype), (syn, torch.where(spikes, self.v_reset.expand_as(v), v))


class EulerLI(nn.Module):
    """Leaky integrator (LI) or pure integrator (I, ``beta = 1``): outputs ``v``."""

    def __init__(self, p: dict, kind: str):
        super().__init__()
        self.kind = kind
        n = len(p["gain"])
        _buffer(self, "beta", p.get("beta", np.ones(n)))
        _buffer(self, "gain", p["gain"])
        _buffer(self, "leak", p.get("leak", np.zeros(n)))
        self.n = n

    def initial_state(self, batch: int, device=None) -> torch.Tensor:
        return torch.zeros(batch, self.n, device=device)

    def forward(self, a: torch.Tensor, v: torch.Tensor):
        v = self.beta * v + self.gain * a + self.leak
        return v, v


class EulerIF(nn.Module):
    kind = "if"

    def __init__(self, p: dict):
        super().__init__()
        for key in ("gain", "threshold", "v_reset"):
            _buffer(self, key, p[key])
        self.n = len(p["gain"])

    def initial_state(self, batch: int, device=None) -> torch.Tensor:
        return torch.zeros(batch, self.n, device=device)

    def forward(self, a: torch.Tensor, v: torch.Tensor):
        v = v + self.gain * a
        spikes = v > self.threshold
        return spikes.to(a.dtype), torch.where(spikes, self.v_reset.expand_as(v), v)


class ThresholdCell(nn.Module):
    kind = "threshold"

    def __init__(self, p: dict):
        super().__init__()
        _buffer(self, "threshold", p["threshold"])
        self.n = len(p["threshold"])

    def initial_state(self, batch: int, device=None):
        return ()

    def forward(self, a: torch.Tensor, state):
        return (a > self.threshold).to(a.dtype), state


def _src_cell(spec: LayerSpec) -> nn.Module:
    n = spec.n
    known = (
        SRCConstants.__dataclass_fields__
        if spec.kind == "src"
        else MSRCConstants.__dataclass_fields__
    )
    consts = {k: v for k, v in spec.constants.items() if k in known}
    try:
        if spec.kind == "src":
            cell = SRCCell(n, SRCConstants(**consts))
            cell.bh.data = torch.as_tensor(spec.params["bh"], dtype=torch.float32)
            return cell
        cls = MSRCCell if spec.kind == "msrc" else BSRCCell
        cell = cls(n, MSRCConstants(**consts), learn_hs0=True)
    except (TypeError, ValueError) as exc:
        raise NIRError(f"{spec.name}: bad {spec.kind} constants ({exc})") from None
    cell.b.data = torch.as_tensor(spec.params["b"], dtype=torch.float32)
    cell.hs0.data = torch.as_tensor(spec.params["hs0"], dtype=torch.float32)
    return cell


def make_cell(spec: LayerSpec) -> nn.Module:
    if spec.kind == "lif":
        return EulerLIF(spec.params)
    if spec.kind == "cubalif":
        return EulerCubaLIF(spec.params)
    if spec.kind in ("li", "i"):
        return EulerLI(spec.params, spec.kind)
    if spec.kind == "if":
        return EulerIF(spec.params)
    if spec.kind == "threshold":
        return ThresholdCell(spec.params)
    return _src_cell(spec)


def _linear(weight: np.ndarray, bias: np.ndarray | None) -> nn.Linear:
    lin = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    lin.weight.data = torch.as_tensor(weight, dtype=torch.float32).clone()
    if bias is not None:
        lin.bias.data = torch.as_tensor(bias, dtype=torch.float32).clone()
    return lin


class ChainLayer(LayerStep):
    def __init__(self, spec: LayerSpec):
        super().__init__()
        self.synapse = _linear(spec.weight, spec.bias)
        self.rec = _linear(spec.rec_weight, spec.rec_bias) if spec.rec_weight is not None else None
        self.cell = make_cell(spec)


class ChainNet(nn.Module):
    """Input ``(T, batch, n_in)`` -> logits ``(batch, n_out)``: the readout of the time-summed
    last-layer output (``sum_over_time``), or the time sum of the per-step output otherwise."""

    static_input = False

    def __init__(self, spec: NetSpec):
        super().__init__()
        self.spec = spec
        self.layers = nn.ModuleList(ChainLayer(layer) for layer in spec.layers)
        self.readout = None
        if spec.readout is not None:
            self.readout = _linear(spec.readout, spec.readout_bias)

    def forward(self, spikes: torch.Tensor, record: bool = False, per_step: bool = False):
        """With ``per_step=True`` returns the Output node's value at every step ``(T, batch, n)``."""
        if spikes.dim() > 3:  # (T, batch, *shape) input behind a Flatten node
            spikes = spikes.flatten(2)
        steps = spikes.shape[0]
        total, records = run_layers(self.layers, spikes, record or per_step)
        if per_step:  # the readout of each step's output, one step at a time as before
            last = records[-1]
            result = torch.stack([self.readout(s) if self.readout is not None else s for s in last])
        elif self.readout is not None and self.spec.sum_over_time:
            result = self.readout(total)
        elif self.readout is not None:
            result = self.readout(total) + (steps - 1) * (
                self.readout.bias if self.readout.bias is not None else 0.0
            )
        else:
            result = total
        return (result, records) if record else result


def build_runner(spec: NetSpec, mode: str = "float") -> nn.Module:
    """A torch module for ``spec``: ``"float"`` dynamics or the file's ``"fixed"`` integer model."""
    net = ChainNet(spec)
    net.eval()
    if mode == "float":
        return net
    if mode != "fixed":
        raise NIRError(f"unknown run mode {mode!r}; use float or fixed")
    if spec.quantized is None:
        raise NIRError("this network carries no fixed-point model (it was not exported quantised)")
    return QuantizedNet(net, frozen=spec.quantized).eval()
