"""Neuromodulable SRC (mSRC) and bursting SRC (BSRC): a reconstruction, cells.md sections 4.3, 4.7.

The thesis equations are not published. What is implemented here is candidate B of cells.md 4.7:
the SRC with fast gain ``r = 4`` and a *quadratic* slow feedback ``r_s (h_s + h_s0)^2`` whose
vertex ``-h_s0`` is the one knob that moves a neuron between type 2 (``h_s0`` large), type 1
(``h_s0`` near ``sqrt(1 - 1/r)``) and type 2* (``h_s0`` small, with hysteresis). BSRC adds an
ultraslow negative feedback ``r_u h_u``. Every departure from the seed claims is listed in
``docs/cells.md``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
from torch import nn

from modspike.errors import ConfigError

from ...heterogeneity import parse, plain_values
from ..common import input_synapse, leaky_track, slow_gate
from ..surrogate import straight_through_relu


@dataclass(frozen=True)
class MSRCConstants:
    """Fixed constants of an mSRC / BSRC layer. ``ru=None`` disables the ultraslow (bursting) term."""

    alpha: float = 0.9
    rho: float | None = (
        10.0  # wider squash than SRC's 3, so that type-2 onsets (x ~ 4.9) are reachable
    )
    r: float = 4.0
    rs: float = -7.0
    zs_hyp: float = 0.9
    zs_dep: float = 0.0
    zs_slope: float = 10.0
    zs_mid: float = 0.5
    ru: float | None = None  # ultraslow feedback gain (BSRC: -8.5)
    zu: float = 0.999  # ultraslow gate: tau ~ 1000 steps
    detach_rec: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


BSRC_CONSTANTS = MSRCConstants(alpha=0.5, rho=None, ru=-8.5, zu=0.999)
"""Seed example constants of the BSRC: exponential synapse alpha = 0.5, r = 4, r_s = -7, r_u = -8.5."""


class MSRCParams(NamedTuple):
    b: torch.Tensor  # neuron bias, per neuron
    hs0: torch.Tensor  # excitability vertex, per neuron


class MSRCState(NamedTuple):
    i: torch.Tensor
    h: torch.Tensor
    hs: torch.Tensor
    hu: torch.Tensor  # ultraslow state (stays zero and unused when ru is None)


def initial_state(batch: int, n: int, device=None, dtype=None) -> MSRCState:
    z = torch.zeros((batch, n), device=device, dtype=dtype)
    return MSRCState(z, z.clone(), z.clone(), z.clone())


def msrc_initial_state(shape: tuple[int, ...], device=None, dtype=None) -> MSRCState:
    z = torch.zeros(shape, device=device, dtype=dtype)
    return MSRCState(z, z.clone(), z.clone(), z.clone())


def step(
    a_in: torch.Tensor, state: MSRCState, p: MSRCParams, c: MSRCConstants
) -> tuple[torch.Tensor, MSRCState]:
    """One mSRC/BSRC step: ``(synaptic input, state, (b, h_s0)) -> (ReLU(h), state)``.

    ``b`` and ``hs0`` broadcast against the state, so a per-neuron, per-sample modulation signal
    (from a neuromodulatory network) can stand in for the learned parameters.
    """
    i, x = input_synapse(state.i, a_in, c.alpha, c.rho)
    h, hs, hu = (
        (state.h.detach(), state.hs.detach(), state.hu.detach())
        if c.detach_rec
        else (state.h, state.hs, state.hu)
    )
    zs = slow_gate(h, c.zs_hyp, c.zs_dep, c.zs_slope, c.zs_mid)
    pre = x + c.r * h + c.rs * (hs + p.hs0) ** 2 + p.b
    if c.ru is not None:
        pre = pre + c.ru * hu
        hu = leaky_track(hu, h, c.zu)
    h_new = torch.tanh(pre)
    hs_new = leaky_track(hs, h, zs)
    return straight_through_relu(h_new), MSRCState(i, h_new, hs_new, hu)


def msrc_step(
    a_in: torch.Tensor, state: MSRCState, b: torch.Tensor, hs0: torch.Tensor, c: MSRCConstants
) -> tuple[torch.Tensor, MSRCState]:
    """:func:`step` with the parameters passed one by one (the excitability study's form)."""
    return step(a_in, state, MSRCParams(b, hs0), c)


def parse_hs0_init(spec: str | float) -> tuple[float, float]:
    """``"1.0"`` -> (1.0, 1.0); ``"0.5:1.5"`` -> uniform on [0.5, 1.5]."""
    text = str(spec)
    if ":" in text:
        lo, hi = (float(v) for v in text.split(":", 1))
    else:
        lo = hi = float(text)
    if lo > hi or not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"h_s0 init range {spec!r} is not a finite interval LO:HI")
    return lo, hi


def hs0_types(c: MSRCConstants) -> dict[str, float]:
    """``h_s0`` of the named excitability types (``docs/cells.md`` 4.7, candidate B): type 1 where
    the slow feedback is neutral at the lower fold, ``sqrt(1 - 1/r)`` (0.866 at r = 4); type 2 and
    type 2* the seed's examples 1.5 (finite-frequency onset) and 0.5 (hysteresis)."""
    return {"1": math.sqrt(1.0 - 1.0 / c.r), "2": 1.5, "2*": 0.5}


class MSRCCell(nn.Module):
    """A layer of mSRC neurons with per-neuron bias ``b`` and excitability ``h_s0``.

    ``learn_hs0=False`` keeps ``h_s0`` fixed (a buffer); otherwise it is trained per neuron.
    ``heterogeneous`` (``modspike.kinds.heterogeneity``) draws the initial ``h_s0`` (a
    distribution, or a mixture of the types 1 / 2 / 2* in given fractions) and / or ``b``.
    """

    def __init__(
        self,
        n: int,
        constants: MSRCConstants | None = None,
        b_init: float = -2.0,
        hs0_init: str | float = 1.0,
        learn_hs0: bool = True,
        heterogeneous=None,
    ):
        super().__init__()
        self.n = n
        self.constants = constants or MSRCConstants()
        b = plain_values(heterogeneous, "b", float(b_init), n, -math.inf)
        self.b = nn.Parameter(torch.tensor(b, dtype=torch.float32))
        lo, hi = parse_hs0_init(hs0_init)
        hs0 = torch.empty(n).uniform_(lo, hi) if hi > lo else torch.full((n,), lo)
        if heterogeneous is not None and heterogeneous.draw("hs0") is not None:
            types = hs0_types(self.constants)
            drawn = plain_values(heterogeneous, "hs0", lo, n, -math.inf, types=types)
            hs0 = torch.tensor(drawn, dtype=torch.float32)
        if heterogeneous is not None and heterogeneous.learns("hs0") and not learn_hs0:
            raise ConfigError("--heterogeneous learn=hs0 contradicts --fix-hs0")
        if learn_hs0:
            self.hs0 = nn.Parameter(hs0)
        else:
            self.register_buffer("hs0", hs0)
        self.learn_hs0 = learn_hs0

    def float_params(self) -> MSRCParams:
        return MSRCParams(self.b, self.hs0)

    def initial_state(self, batch: int, device=None) -> MSRCState:
        return initial_state(batch, self.n, device)

    def forward(
        self,
        a_in: torch.Tensor,
        state: MSRCState,
        modulation: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, MSRCState]:
        """``modulation=(db, dhs0)`` adds a bias offset and an ``h_s0`` offset (per sample)."""
        b, hs0 = self.b, self.hs0
        if modulation is not None:
            b, hs0 = b + modulation[0], hs0 + modulation[1]
        return msrc_step(a_in, state, b, hs0, self.constants)


class BSRCCell(MSRCCell):
    """Bursting SRC: mSRC plus the ultraslow feedback; default bias -5 bursts at zero input."""

    def __init__(
        self,
        n: int,
        constants: MSRCConstants | None = None,
        b_init: float = -5.0,
        hs0_init: str | float = 0.7,
        learn_hs0: bool = True,
        heterogeneous=None,
    ):
        super().__init__(n, constants or BSRC_CONSTANTS, b_init, hs0_init, learn_hs0, heterogeneous)


def _build(cls, base: MSRCConstants, n: int, cfg):
    """The training module from a model config (``cell_options`` override the constants)."""
    consts = MSRCConstants(**{**base.to_dict(), "detach_rec": cfg.detach_rec, **cfg.cell_options})
    spec = parse(getattr(cfg, "heterogeneous", None))
    return cls(n, consts, hs0_init=cfg.hs0, learn_hs0=cfg.learn_hs0, heterogeneous=spec)


def build_msrc(n: int, cfg) -> MSRCCell:
    return _build(MSRCCell, MSRCConstants(), n, cfg)


def build_bsrc(n: int, cfg) -> BSRCCell:
    return _build(BSRCCell, BSRC_CONSTANTS, n, cfg)


def init_synapse(weight: torch.Tensor) -> None:
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
