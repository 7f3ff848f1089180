"""Networks: stacks of (synapse -> cell) layers with a time-integrated linear readout, and the
non-spiking ANN baseline of the same topology."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .cells import (
    ALL_KINDS,
    BRCCell,
    BSRCCell,
    CubaLIFCell,
    LIFCell,
    MSRCCell,
    SRCCell,
    SRCConstants,
)
from .cells.msrc import BSRC_CONSTANTS, MSRCConstants


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

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def make_cell(cfg: ModelConfig) -> nn.Module:
    """Build one hidden layer's cell from the config."""
    opts = dict(cfg.cell_options)
    if cfg.cell == "src":
        consts = SRCConstants(**{**{"detach_rec": cfg.detach_rec}, **opts})
        return SRCCell(cfg.hidden, consts)
    if cfg.cell in ("msrc", "bsrc"):
        base = MSRCConstants() if cfg.cell == "msrc" else BSRC_CONSTANTS
        consts = MSRCConstants(**{**base.to_dict(), "detach_rec": cfg.detach_rec, **opts})
        cls = MSRCCell if cfg.cell == "msrc" else BSRCCell
        kwargs = {"hs0_init": cfg.hs0, "learn_hs0": cfg.learn_hs0}
        return cls(cfg.hidden, consts, **kwargs)
    if cfg.cell == "lif":
        return LIFCell(cfg.hidden, **opts)
    if cfg.cell == "cubalif":
        return CubaLIFCell(cfg.hidden, **opts)
    if cfg.cell in ("brc", "nbrc"):
        return BRCCell(cfg.hidden, neuromodulated=cfg.cell == "nbrc")
    raise ValueError(f"unknown cell {cfg.cell!r}; choose one of {', '.join(ALL_KINDS)}")


class LayerStep(nn.Module):
    """One step of ``synapse(s_in) [+ rec(previous output)] -> cell``; subclasses set
    ``synapse``, ``rec`` (or None) and ``cell``. Shared by training and the artifact runner."""

    def initial_state(self, batch: int, device=None):
        out = torch.zeros(batch, self.cell.n, device=device)
        return out, self.cell.initial_state(batch, device)

    def forward(self, s_in: torch.Tensor, state):
        prev_out, cell_state = state
        a_in = self.synapse(s_in)
        if self.rec is not None:
            a_in = a_in + self.rec(prev_out)
        out, cell_state = self.cell(a_in, cell_state)
        return out, (out, cell_state)


def run_layers(layers, spikes: torch.Tensor, record: bool = False):
    """Run a chain of :class:`LayerStep` s over input ``(T, B, n_in)`` from zero state.

    Returns ``(total, records)``: the last layer's output summed over time ``(B, n)`` and, with
    ``record=True``, each layer's outputs ``(T, B, n_k)`` (else ``None``). Shared by the training
    network and the artifact runner, so both step (and sum) in the same order.
    """
    steps, batch = spikes.shape[:2]
    states = [layer.initial_state(batch, spikes.device) for layer in layers]
    total = spikes.new_zeros(batch, layers[-1].cell.n)
    records: list[list[torch.Tensor]] = [[] for _ in layers]
    for t in range(steps):
        s = spikes[t]
        for k, layer in enumerate(layers):
            s, states[k] = layer(s, states[k])
            if record:
                records[k].append(s)
        total = total + s
    return total, ([torch.stack(r) for r in records] if record else None)


class CellLayer(LayerStep):
    """Synapse (``Linear``, no bias unless the cell has none of its own) -> cell.

    With ``recurrent=True`` the layer's previous output also enters through ``W_rec`` (a graph
    cycle in NIR, a one-step-delayed Dense in Lava).
    """

    def __init__(self, n_in: int, cell: nn.Module, recurrent: bool = False):
        super().__init__()
        self.cell = cell
        n_syn = cell.n * cell.in_multiplicity
        synapse_bias = cell.kind in ("lif", "cubalif")  # the SRC family carries its own bias
        self.synapse = nn.Linear(n_in, n_syn, bias=synapse_bias)
        cell.init_synapse_(self.synapse.weight)
        self.rec = nn.Linear(cell.n, n_syn, bias=False) if recurrent else None
        if self.rec is not None:
            nn.init.orthogonal_(self.rec.weight, gain=0.5)


class SpikingNet(nn.Module):
    """Input spikes (T, B, n_in) -> hidden cell layers -> readout summed over time (B, n_out)."""

    static_input = False

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        sizes = [cfg.n_in] + [cfg.hidden] * cfg.layers
        self.layers = nn.ModuleList(
            CellLayer(sizes[k], make_cell(cfg), cfg.recurrent) for k in range(cfg.layers)
        )
        self.readout = nn.Linear(cfg.hidden, cfg.n_out, bias=False)

    def forward(self, spikes: torch.Tensor, record: bool = False):
        """Returns logits; with ``record=True`` also the per-layer outputs, each (T, B, hidden)."""
        total, records = run_layers(self.layers, spikes, record)
        logits = self.readout(total)
        return (logits, records) if record else logits


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


def build_model(cfg: ModelConfig) -> nn.Module:
    """A :class:`SpikingNet` (or :class:`ANN` for ``cell='ann'``) from its config."""
    if cfg.cell == "ann":
        return ANN(cfg)
    return SpikingNet(cfg)
