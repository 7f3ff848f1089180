"""The trainable torch form of a network, and the :class:`~modspike.network.Network` it produces.

:class:`TorchNetwork` holds the learnable parameters (one thin module per cell, from the cell
kind) and runs the one step loop of :mod:`modspike.step` on them; :func:`to_network` freezes its
parameters into the network description that every later stage reads. ``state_dict`` keys are an
on-disk format (run directories): ``layers.k.synapse.weight``, ``layers.k.synapse.bias``,
``layers.k.rec.weight``, ``layers.k.cell.<parameter>``, ``readout.weight``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from modspike import registry
from modspike.encoding import ENCODINGS, EVENTS
from modspike.errors import ConfigError
from modspike.network import (
    Cell,
    Encoding,
    Integration,
    Layer,
    Network,
    Provenance,
    Readout,
    Synapse,
)
from modspike.step import Precision, Program, float_layer, float_ops, float_readout, run


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model; saved as JSON beside its weights."""

    cell: str = "src"
    n_in: int = 64
    hidden: int = 64
    layers: int = 1
    n_out: int = 10
    recurrent: bool = False  # add a recurrent synaptic matrix per layer
    detach_rec: bool = True  # SRC family: detach the recurrent state in the backward pass
    hs0: str = "1.0"  # mSRC/BSRC: h_s0 init, a value or LO:HI (uniform)
    learn_hs0: bool = True
    cell_options: dict = field(default_factory=dict)  # constants overriding the defaults
    arch: str | None = None  # a conv / dense layer string (train/arch.py); None: hidden x layers
    in_shape: list | None = None  # one step's input, e.g. (C, H, W) images or event frames
    heterogeneous: str | None = None  # per-neuron parameters (modspike.kinds.heterogeneity)

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("arch", "in_shape", "heterogeneous"):  # absent unless used (earlier form)
            if out[key] is None:
                del out[key]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class TorchLayer(nn.Module):
    """Synapse (``Linear``; with a bias only for kinds whose synapse carries it) -> cell, and
    with ``recurrent=True`` the layer's previous output through ``W_rec`` (a graph cycle in NIR,
    a one-step-delayed Dense in Lava).

    With a ``plan`` (:mod:`modspike.train.arch`) the synapse is the plan's: a ``Conv2d`` (its
    weight and bias under the same ``synapse.*`` keys), after the plan's fixed ``pre`` stages
    (pooling, no parameters)."""

    def __init__(
        self, n_in: int, kind: registry.CellKind, cell: nn.Module, recurrent: bool, plan=None
    ):
        super().__init__()
        self.kind = kind
        self.cell = cell
        n_syn = cell.n * kind.in_multiplicity
        self.synapse_kind = registry.synapse("dense") if plan is None else plan.kind
        self.attrs = {} if plan is None else dict(plan.attrs)
        self.pre = () if plan is None else plan.pre
        self.in_shape = (n_in,) if plan is None else tuple(plan.in_shape)
        if plan is not None and plan.attrs:  # a convolution
            if kind.in_multiplicity != 1:
                raise ConfigError(f"{kind.name} layers cannot be convolutional (gated inputs)")
            it = plan.item
            self.synapse = nn.Conv2d(
                plan.attrs["in_shape"][0],
                it.channels,
                it.kernel,
                stride=plan.attrs["stride"],
                padding=plan.attrs["padding"],
                dilation=plan.attrs["dilation"],
                groups=plan.attrs["groups"],
                bias=kind.synapse_bias,
            )
        else:
            n_in = n_in if plan is None else _flat(plan.pre, plan.in_shape)
            self.synapse = nn.Linear(n_in, n_syn, bias=kind.synapse_bias)
        if kind.floating.init_synapse is not None:
            kind.floating.init_synapse(self.synapse.weight)
        self.rec = nn.Linear(cell.n, n_syn, bias=False) if recurrent else None
        if self.rec is not None:
            nn.init.orthogonal_(self.rec.weight, gain=0.5)
        self._stages: dict = {}

    def stage_tensors(self, device=None) -> tuple:
        """The ``pre`` stages as ``(apply, weight tensor, attrs)`` on ``device`` (cached)."""
        key = str(device)
        if key not in self._stages:
            self._stages[key] = stage_tensors(self.pre, device)
        return self._stages[key]

    def compiled(self, name: str, device=None):
        rec = self.rec
        return float_layer(
            name,
            self.kind,
            self.synapse_kind,
            self.synapse.weight,
            self.synapse.bias,
            None if rec is None else rec.weight,
            None,
            self.cell.float_params(),
            getattr(self.cell, "constants", None),
            self.attrs,
            device=device,
            pre=self.stage_tensors(device),
            n=self.cell.n,
        )


def _flat(pre, in_shape) -> int:
    shape = tuple(in_shape)
    for stage in pre:
        shape = tuple(stage.out_shape(shape))
    return int(np.prod(shape))


def stage_tensors(pre, device=None) -> tuple:
    """Fixed synapse stages (:class:`~modspike.network.Synapse`) as float-program triples."""
    return tuple(
        (
            s.kind.apply_float,
            torch.tensor(np.asarray(s.weight), dtype=torch.float32, device=device),
            s.attrs,
        )
        for s in pre
    )


class TorchNetwork(nn.Module):
    """Input spikes (T, B, n_in) -> cell layers -> readout of the time-summed output (B, n_out)."""

    static_input = False

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        kind = registry.cell(cfg.cell)
        build = registry.require(kind, "trainable", "training")
        self.readout_pre: tuple = ()
        if cfg.arch:
            self._build_arch(cfg, kind, build)
            return
        sizes = [cfg.n_in] + [cfg.hidden] * cfg.layers
        self.layers = nn.ModuleList(
            TorchLayer(sizes[k], kind, build(cfg.hidden, cfg), cfg.recurrent)
            for k in range(cfg.layers)
        )
        self.readout = nn.Linear(cfg.hidden, cfg.n_out, bias=False)

    def _build_arch(self, cfg: ModelConfig, kind, build) -> None:
        from .arch import layout, parse

        if cfg.recurrent:
            raise ConfigError("--recurrent applies to the dense --hidden/--layers networks only")
        in_shape = tuple(cfg.in_shape or (cfg.n_in,))
        if int(np.prod(in_shape)) != cfg.n_in:
            raise ConfigError(f"input shape {in_shape} does not hold {cfg.n_in} inputs")
        plans, self.readout_pre, shape = layout(parse(cfg.arch), in_shape, cfg.n_out)
        self.layers = nn.ModuleList(
            TorchLayer(int(np.prod(p.in_shape)), kind, build(p.n, cfg), False, plan=p)
            for p in plans
        )
        self.readout = nn.Linear(int(np.prod(shape)), cfg.n_out, bias=False)
        self._readout_stages: dict = {}

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One step's input shape: ``config.in_shape`` (``(C, H, W)`` images), else ``(n_in,)``."""
        return tuple(self.config.in_shape or (self.config.n_in,))

    def program(self, device=None) -> Program:
        """The FLOAT program on the current parameters (with their gradients)."""
        pre = ()
        if self.readout_pre:
            key = str(device)
            if key not in self._readout_stages:
                self._readout_stages[key] = stage_tensors(self.readout_pre, device)
            pre = self._readout_stages[key]
        return program_of(self.layers, self.readout.weight, device, pre)

    def upgrade_state_dict(self, state: dict) -> dict:
        """A ``state_dict`` of an earlier version in today's keys: each cell module that changed
        its keys maps its own (``upgrade_state``: the LIF family drops snntorch's buffers)."""
        state = dict(state)
        for k, layer in enumerate(self.layers):
            upgrade = getattr(layer.cell, "upgrade_state", None)
            if upgrade is not None:
                upgrade(state, f"layers.{k}.cell.")
        return state

    def forward(self, spikes: torch.Tensor, record: bool = False):
        """Returns logits; with ``record=True`` also the per-layer outputs, each (T, B, hidden)."""
        prog = self.program(spikes.device)
        out = run(prog, spikes, record=record)
        logits = prog.readout(out.total, spikes.shape[0])
        return (logits, out.records) if record else logits


class NetworkModule(nn.Module):
    """A :class:`Network` as a torch module (no learnable parameters): its FLOAT program, or its
    FIXED program (integers in, float64 logits out) -- the form ``evaluate`` takes."""

    static_input = False

    def __init__(self, net: Network, precision: Precision = Precision.FLOAT):
        super().__init__()
        from modspike.step import compile

        self.network, self.precision = net, precision
        self.prog = compile(net, precision)
        self.register_buffer("anchor", torch.zeros(0))  # carries the device

    def forward(self, spikes: torch.Tensor, record: bool = False):
        from modspike.step import int_to_tensor

        if self.precision is Precision.FLOAT:
            out = run(self.prog, spikes, record=record)
            logits = self.prog.readout(out.total, spikes.shape[0])
            return (logits, out.records) if record else logits
        x = spikes.detach().cpu().numpy()
        out = run(self.prog, x, record=record)
        logits = torch.from_numpy(self.prog.readout(out.total, x.shape[0])).to(spikes.device)
        if not record:
            return logits
        return logits, [
            int_to_tensor(r, L.out_exp, spikes) for r, L in zip(out.records, self.prog.layers)
        ]


class ANN(nn.Module):
    """The non-spiking baseline: a ReLU MLP of the same topology, on the static intensities."""

    static_input = True

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        sizes = [cfg.n_in] + [cfg.hidden] * cfg.layers
        mods: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            mods += [nn.Linear(a, b), nn.ReLU()]
        mods.append(nn.Linear(sizes[-1], cfg.n_out))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor, record: bool = False):
        logits = self.net(x)
        return (logits, []) if record else logits


ANN_NAME = "ann"
"""The non-spiking baseline is a model family of its own, not a cell kind."""


def is_ann(name: str) -> bool:
    """Whether a ``--cell`` value names the ANN baseline rather than a cell kind."""
    return name == ANN_NAME


def model_names() -> list[str]:
    """What ``--cell`` accepts: every trainable cell kind, and the ANN baseline."""
    return [*registry.cell_names("trainable"), ANN_NAME]


def build_model(cfg: ModelConfig) -> nn.Module:
    """A :class:`TorchNetwork` (or :class:`ANN` for ``cell='ann'``) from its config."""
    if is_ann(cfg.cell):
        if cfg.arch:
            raise ConfigError(
                "--arch builds spiking networks; the ANN baseline is dense (--hidden)"
            )
        return ANN(cfg)
    if cfg.cell not in registry.cell_names("trainable"):
        raise ConfigError(f"unknown cell {cfg.cell!r}; choose one of {', '.join(model_names())}")
    return TorchNetwork(cfg)


# --------------------------------------------------------------------------- -> Network


def _numpy(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().double().numpy()


def cell_params(cell: nn.Module, kind: registry.CellKind, n: int):
    """The cell's parameters as the kind's NamedTuple of per-neuron float64 arrays (a module may
    define ``network_params()`` when its exact values are not its float32 tensors)."""
    if hasattr(cell, "network_params"):
        return cell.network_params()
    values = []
    for t in cell.float_params():
        arr = _numpy(t)
        values.append(None if arr is None else (np.full(n, float(arr)) if arr.ndim == 0 else arr))
    return kind.float_params(*values)


def network_of(
    layers,
    input_shape: tuple[int, ...],
    readout: torch.Tensor | None = None,
    encoding: Encoding | None = None,
    dt: float = 1e-4,
    provenance: Provenance | None = None,
    readout_pre: tuple = (),
) -> Network:
    """The float :class:`Network` of a stack of :class:`TorchLayer` s (parameters copied) and
    an optional readout weight (summed over time, no bias) after its ``readout_pre`` stages."""
    dense = registry.synapse("dense")
    out_layers: list[Layer] = []
    shape = tuple(input_shape)
    for k, layer in enumerate(layers):
        kind, cell = layer.kind, layer.cell
        syn_kind = getattr(layer, "synapse_kind", dense)
        synapse = Synapse(
            syn_kind,
            _numpy(layer.synapse.weight),
            _numpy(layer.synapse.bias),
            getattr(layer, "attrs", {}),
            pre=getattr(layer, "pre", ()),
        )
        rec = None if layer.rec is None else Synapse(dense, _numpy(layer.rec.weight))
        params = cell_params(cell, kind, cell.n)
        out = synapse.out_shape(shape)
        if syn_kind is dense:
            out = (out[0] // kind.in_multiplicity,)
        constants = getattr(cell, "constants", None)
        cell_desc = Cell(kind, params, constants)
        out_layers.append(Layer(f"layer{k}", synapse, cell_desc, rec, shape, tuple(out)))
        shape = tuple(out)
    ro = None
    if readout is not None:
        ro = Readout(Synapse(dense, _numpy(readout), pre=readout_pre))
    return Network(
        input_shape=tuple(input_shape),
        layers=tuple(out_layers),
        readout=ro,
        encoding=encoding or Encoding(),
        dt=dt,
        provenance=provenance or Provenance(),
    )


def to_network(
    model: nn.Module,
    encoding: Encoding | None = None,
    dt: float = 1e-4,
    provenance: Provenance | None = None,
) -> Network:
    """The float :class:`Network` of a trained :class:`TorchNetwork` (parameters copied)."""
    if not isinstance(model, TorchNetwork):
        raise ConfigError(
            "only spiking networks have a network description; the ANN baseline is exported as"
            " ONNX instead"
        )
    provenance = provenance or Provenance(model_config=model.config.to_dict())
    return network_of(
        model.layers,
        model.input_shape,
        model.readout.weight,
        encoding,
        dt,
        provenance,
        model.readout_pre,
    )


def program_of(
    layers, readout: torch.Tensor | None = None, device=None, readout_pre: tuple = ()
) -> Program:
    """The FLOAT program of a stack of :class:`TorchLayer` s on their live parameters."""
    compiled = tuple(layer.compiled(f"layer{k}", device) for k, layer in enumerate(layers))
    head = None
    if readout is not None:
        head = float_readout(readout, None, Integration.SUM_OVER_TIME, readout_pre)
    return Program(Precision.FLOAT, compiled, float_ops(device), head)


def encoding_of(train_config: Any) -> Encoding:
    """The input encoding a training config used (rate / latency code of intensities, or the
    replay of event frames with their binning)."""
    if train_config.encoding not in ENCODINGS:
        raise ConfigError(f"unknown encoding {train_config.encoding!r}")
    if train_config.encoding == EVENTS:
        from modspike.data import event_encoding

        record = event_encoding(
            train_config.data, train_config.split_seed, train_config.event_options()
        )
        extra = {k: v for k, v in record.items() if k != "name"}
        return Encoding(EVENTS, train_config.steps, 1.0, train_config.prefix, extra)
    extra = {}
    if train_config.encoding == "latency":  # recorded, so that every backend draws the same code
        extra["threshold"] = float(getattr(train_config, "latency_threshold", 0.01))
    return Encoding(
        train_config.encoding, train_config.steps, train_config.gain, train_config.prefix, extra
    )
