"""Excitability analysis of single SRC / mSRC / BSRC neurons under constant drive (docs/cells.md).

Every simulation here steps the cells' own pure step functions (``src_step``, ``msrc_step``) in
float64, with constants that make the analysis drive enter the fast equation directly: no squash
(``rho=None``), no bias clamp, and an input synapse that is off (``alpha=0``) or, with a synapse
``alpha > 0``, fed ``a_in = (1 - alpha) * drive`` so that the steady-state ``x`` equals the drive
and the synapse only filters changes of the drive. The drive is therefore the ``x`` of the fast
equation; the cell's bias ``b`` is added on top (0 for SRC / mSRC, -5 for BSRC).

The batch dimension is the grid: one neuron per (parameter set, drive) pair, all stepped at once.
Measurements (cells.md 4.7):

* **up-sweep** from rest: each neuron starts at rest at the lowest drive and the drive is ramped to
  its own value, then held; this is a continuation sweep run in parallel;
* **down-sweep** from the spiking state: each neuron starts on the spiking orbit at the highest
  drive where the up-sweep spikes and is ramped (down or up) to its own value;
* **onset / offset** drive refined by a parallel bisection (K candidates per round), each candidate
  continued slowly from the neighbouring known state;
* **onset ISI** just above onset (at ``onset + 1e-3`` and ``onset + 1e-5``: at a type-1 onset the ISI
  diverges as ``1/sqrt(drive - onset)``, so it grows about tenfold between the two);
* **delay**: steps to the first spike after a step from rest at ``rest_drive``;
* **bursts**: spike trains split at inter-spike gaps.

Spikes are upward crossings of ``h = 0.5``.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from tqdm.auto import tqdm

from modspike import registry
from modspike.kinds.cells.msrc.float_step import (
    BSRC_CONSTANTS,
    BSRCCell,
    MSRCConstants,
    MSRCState,
)
from modspike.kinds.cells.src.float_step import SRCConstants, SRCState

CLASSES = ("silent", "type1", "type2", "type2*", "bursting", "tonic", "depolarisation_block")
SPIKE_LEVEL = 0.5
REST, SPIKING, BLOCKED = 0, 1, 2
DTYPE = torch.float64


def _default_arg(cls: type, name: str) -> float:
    return float(inspect.signature(cls.__init__).parameters[name].default)


BSRC_DEFAULT_BIAS = _default_arg(BSRCCell, "b_init")
BSRC_DEFAULT_HS0 = _default_arg(BSRCCell, "hs0_init")


@dataclass(frozen=True)
class Protocol:
    """Simulation lengths (in steps) and decision thresholds of the analysis."""

    rest_steps: int = 400  # relaxation to rest before any sweep
    ramp: int = 800  # grid sweeps: ramp from the start drive to each drive ...
    hold: int = 1200  # ... then hold it ...
    window: int = 1000  # ... and count spikes in the last `window` steps
    refine_ramp: int = 200  # bisection: slow ramp across at most one grid step ...
    refine_hold: int = 2000  # ... then hold
    refine_window: int = 1000  # down direction: still spiking in the last `refine_window` steps
    candidates: int = 15  # candidates per bisection round (at least; more when few brackets)
    tolerance: float = 1e-6  # stop refining when the bracket is this narrow
    max_shifts: int = 8  # stop refining a bracket that moved this often by a grid step
    isi_hold: int = 8000  # onset ISI: longest simulation just above onset
    isi_offsets: tuple[float, float] = (1e-3, 1e-5)  # far and near distance above onset
    delay_steps: int = 2000  # delay from rest: longest wait for the first spike
    delay_offset: float = 0.01  # the scalar `delay` is measured at onset + delay_offset
    hysteresis_tol: float = 0.01  # hysteresis width above this -> type 2*
    diverge_ratio: float = 3.0  # near / far onset ISI above this (regular train) -> type 1
    burst_contrast: float = 5.0  # a burst train has max ISI > burst_contrast * min ISI ...
    burst_min_spikes: float = 3.0  # ... and at least this many spikes per burst on average


@dataclass(frozen=True)
class CellStudy:
    """How the analysis treats one cell kind (the kind's arithmetic comes from the registry).

    ``hs0``: default vertices (None: the kind has no ``h_s0``); ``bursting``: an ultraslow
    variable whose bursts need long windows and break the ramp chaining of the bisection."""

    constants: SRCConstants | MSRCConstants
    drives: tuple[float, float, int]
    protocol: Protocol = Protocol()
    hs0: tuple[float, ...] | None = (1.0,)
    bias: float = 0.0
    bursting: bool = False


STUDIES = {
    "src": CellStudy(SRCConstants(), (-6.0, 8.0, 141), hs0=None),
    "msrc": CellStudy(MSRCConstants(), (0.0, 8.0, 201)),
    # the ultraslow variable (tau ~ 1000 steps) needs long windows to see several bursts
    "bsrc": CellStudy(
        BSRC_CONSTANTS,
        (-2.0, 3.0, 101),
        Protocol(
            rest_steps=3000,
            hold=6000,
            window=4000,
            refine_hold=6000,
            refine_window=3000,
            tolerance=2e-5,
            isi_offsets=(1e-2, 1e-4),
            delay_steps=4000,
        ),
        hs0=(BSRC_DEFAULT_HS0,),
        bias=BSRC_DEFAULT_BIAS,
        bursting=True,
    ),
}
"""The cell kinds the analysis studies, by registry name."""

CELLS = tuple(STUDIES)
PROTOCOLS = {name: study.protocol for name, study in STUDIES.items()}
DEFAULT_DRIVES = {name: study.drives for name, study in STUDIES.items()}


def study(cell: str) -> CellStudy:
    if cell not in STUDIES:
        raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}")
    return STUDIES[cell]


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread, then restore the previous setting.

    The tensors here are small (at most a few 10^4 elements); intra-op threading does not pay for
    them, and on a loaded 2-core machine one step of a 10^4-neuron batch took 16 ms with two threads
    against 0.46 ms with one.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# --------------------------------------------------------------------------------------------
# the population: N independent neurons stepped by the cell's own step function


def analysis_constants(
    cell: str, r: float | None = None, synapse_alpha: float = 0.0
) -> SRCConstants | MSRCConstants:
    """The cell's constants with the drive entering directly (no squash, no clamp, no detach)."""
    base = study(cell).constants
    no_clamp = {"bh_max": None} if hasattr(base, "bh_max") else {}
    return replace(
        base,
        alpha=synapse_alpha,
        rho=None,
        r=base.r if r is None else r,
        detach_rec=False,
        **no_clamp,
    )


def cell_params(cell: str, bias: torch.Tensor, hs0: torch.Tensor):
    """The kind's float parameters: the bias (and ``h_s0`` where the kind has one)."""
    kind = registry.cell(cell)
    values = dict(zip(kind.float_params._fields, (bias, hs0)))
    return kind.float_params(**values)


State = SRCState | MSRCState


@dataclass
class Population:
    """``N`` neurons of one cell kind, each with its own ``h_s0`` and bias."""

    cell: str
    hs0: torch.Tensor  # (N,), ignored by the SRC
    bias: torch.Tensor  # (N,)
    constants: SRCConstants | MSRCConstants

    @property
    def n(self) -> int:
        return self.hs0.shape[0]

    def step(self, drive: torch.Tensor, state: State) -> State:
        a_in = (1.0 - self.constants.alpha) * drive
        kind = registry.cell(self.cell)
        _, state = kind.floating.step(
            a_in, state, cell_params(self.cell, self.bias, self.hs0), self.constants
        )
        return state

    def initial_state(self, drive: torch.Tensor, h: float = -1.0) -> State:
        """Hyperpolarised start; the synapse current already at its steady value for ``drive``."""
        full = torch.full((self.n,), h, dtype=DTYPE)
        i = drive.to(DTYPE).clone()
        state_type = type(registry.cell(self.cell).floating.initial_state(1, 1))
        return state_type(i, *(full.clone() for _ in state_type._fields[1:]))

    def select(self, idx: torch.Tensor) -> Population:
        return Population(self.cell, self.hs0[idx], self.bias[idx], self.constants)


def select_state(state: State, idx: torch.Tensor) -> State:
    return type(state)(*(t[idx] for t in state))


def cat_states(states: Sequence[State]) -> State:
    return type(states[0])(*(torch.cat(parts) for parts in zip(*states)))


def cat_populations(pops: Sequence[Population]) -> Population:
    return Population(
        pops[0].cell,
        torch.cat([p.hs0 for p in pops]),
        torch.cat([p.bias for p in pops]),
        pops[0].constants,
    )


@dataclass
class RunResult:
    """Spikes (upward crossings of h = 0.5) in the recorded window and the final state."""

    state: State
    crossings: torch.Tensor  # (window, N) bool
    h_final: torch.Tensor
    h_trace: torch.Tensor | None = None  # (window, N) with record_h=True

    @property
    def counts(self) -> torch.Tensor:
        return self.crossings.sum(0)

    def spike_times(self, k: int) -> np.ndarray:
        return np.flatnonzero(self.crossings[:, k].numpy())

    def rates(self) -> torch.Tensor:
        """Mean firing rate (spikes per step) from first to last spike; 0 with fewer than 2."""
        c = self.crossings
        w = c.shape[0]
        first = c.to(torch.uint8).argmax(0)
        last = w - 1 - c.flip(0).to(torch.uint8).argmax(0)
        counts = self.counts
        span = (last - first).to(DTYPE)
        rate = (counts - 1).to(DTYPE) / span.clamp(min=1)
        return torch.where(counts >= 2, rate, torch.zeros_like(rate))

    def states(self) -> torch.Tensor:
        """REST, SPIKING (a spike in the window) or BLOCKED (no spike, h stuck above 0.5)."""
        out = torch.full_like(self.counts, REST)
        out[self.counts > 0] = SPIKING
        out[(self.counts == 0) & (self.h_final > SPIKE_LEVEL)] = BLOCKED
        return out


@torch.no_grad()
def run(
    pop: Population,
    state: State,
    start: torch.Tensor,
    target: torch.Tensor,
    ramp: int,
    hold: int,
    window: int,
    stop_at_spikes: int | None = None,
    bar: tqdm | None = None,
    record_h: bool = False,
) -> RunResult:
    """Ramp the drive linearly from ``start`` to ``target`` over ``ramp`` steps, hold ``hold`` steps.

    Spikes are recorded in the last ``window`` steps. ``stop_at_spikes=k`` ends the run early once
    every neuron has fired ``k`` times in the window (checked every 250 steps). ``record_h``
    keeps ``h`` over the window too.
    """
    total = ramp + hold
    window = min(window, total)
    w0 = total - window
    crossings = torch.zeros((window, pop.n), dtype=torch.bool)
    h_trace = torch.zeros((window, pop.n), dtype=DTYPE) if record_h else None
    h_prev = state.h
    delta = target - start
    end = total
    counted = 0
    for t in range(total):
        drive = start + delta * ((t + 1) / ramp) if t < ramp else target
        state = pop.step(drive, state)
        h = state.h
        if t >= w0:
            crossings[t - w0] = (h_prev <= SPIKE_LEVEL) & (h > SPIKE_LEVEL)
            if h_trace is not None:
                h_trace[t - w0] = h
        h_prev = h
        if bar is not None and t % 100 == 99:
            bar.update(100)
            counted += 100
        if (
            stop_at_spikes is not None
            and t >= w0
            and (t - w0) % 250 == 249
            and bool((crossings[: t - w0 + 1].sum(0) >= stop_at_spikes).all())
        ):
            end = t + 1
            break
    if bar is not None:
        bar.update(total - counted)  # (an early stop counts as done)
    kept = end - w0
    h_kept = None if h_trace is None else h_trace[:kept]
    return RunResult(state, crossings[:kept], state.h.clone(), h_kept)


@torch.no_grad()
def rest_state(pop: Population, drive: torch.Tensor, steps: int) -> tuple[State, torch.Tensor]:
    """Relax from a hyperpolarised start at ``drive``; returns the state and which neurons rest."""
    res = run(pop, pop.initial_state(drive), drive, drive, 1, steps, steps // 2)
    return res.state, res.counts == 0


# --------------------------------------------------------------------------------------------
# bursts


@dataclass
class Bursts:
    spikes_per_burst: float
    intra_burst_isi: float
    burst_period: float
    n_bursts: int


def burst_stats(times: np.ndarray, contrast: float = 5.0, min_spikes: float = 3.0) -> Bursts | None:
    """Bursts in a spike train, or None when it is not bursting.

    ISIs longer than the geometric mean of the shortest and longest ISI separate bursts. The
    train counts as bursting when every gap exceeds ``contrast`` times the median intra-burst
    ISI, at least two gaps are seen (one complete burst) and the complete bursts hold
    ``min_spikes`` spikes on average. (The contrast excludes the skipped cycles near a type-2
    onset and the mSRC's mixed-mode trains near depolarisation block: h_s0 = 0.44, x = 11.7
    fires 8 spikes 9 steps apart, then pauses 40-49 steps.)
    """
    if len(times) < 4:
        return None
    isi = np.diff(times)
    lo, hi = isi.min(), isi.max()
    if hi <= contrast * lo:
        return None
    gap = isi > math.sqrt(lo * hi)
    gaps = np.flatnonzero(gap)
    if len(gaps) < 2:
        return None
    starts = times[gaps + 1]  # first spike of each burst that follows a gap
    sizes = np.diff(gaps)  # spikes in each complete burst
    spb = float(sizes.mean())
    intra = isi[~gap]
    if spb < min_spikes or not len(intra) or isi[gap].min() <= contrast * np.median(intra):
        return None
    return Bursts(
        spikes_per_burst=spb,
        intra_burst_isi=float(intra.mean()),
        burst_period=float(np.diff(starts).mean()),
        n_bursts=len(sizes),
    )


def _irregular_trains(crossings: torch.Tensor, contrast: float) -> np.ndarray:
    """Columns with at least 4 spikes whose longest ISI exceeds ``contrast`` x the shortest."""
    col, t = np.nonzero(crossings.numpy().T)  # sorted by column, then time
    same = col[1:] == col[:-1]
    isi, owner = (t[1:] - t[:-1])[same], col[1:][same]
    n = crossings.shape[1]
    lo = np.full(n, np.iinfo(np.int64).max)
    hi = np.zeros(n, dtype=np.int64)
    np.minimum.at(lo, owner, isi)
    np.maximum.at(hi, owner, isi)
    counts = np.bincount(col, minlength=n)
    return np.flatnonzero((counts >= 4) & (hi > contrast * lo))


def _burst_maps(res: RunResult, shape: tuple[int, int], p: Protocol) -> dict[str, np.ndarray]:
    out = {k: np.full(shape, np.nan) for k in ("spikes_per_burst", "intra_burst_isi", "period")}
    for k in _irregular_trains(res.crossings, p.burst_contrast):
        b = burst_stats(res.spike_times(int(k)), p.burst_contrast, p.burst_min_spikes)
        if b is not None:
            idx = np.unravel_index(k, shape)
            out["spikes_per_burst"][idx] = b.spikes_per_burst
            out["intra_burst_isi"][idx] = b.intra_burst_isi
            out["period"][idx] = b.burst_period
    return out


# --------------------------------------------------------------------------------------------
# the analysis


@dataclass
class Excitability:
    """Results for P parameter sets (rows) over D drives (columns)."""

    cell: str
    r: float
    bias: float
    synapse_alpha: float
    rest_drive: float
    hs0: np.ndarray  # (P,) NaN for the SRC
    drives: np.ndarray  # (D,)
    rate_up: np.ndarray  # (P, D) spikes per step
    rate_down: np.ndarray
    state_up: np.ndarray  # (P, D) REST / SPIKING / BLOCKED
    state_down: np.ndarray
    delay_map: np.ndarray  # (P, D) steps to the first spike after a step from rest; NaN: none
    bursts_up: dict[str, np.ndarray]
    bursts_down: dict[str, np.ndarray]
    onset: np.ndarray  # (P,) NaN where there is none in range
    offset: np.ndarray
    onset_resolution: np.ndarray
    onset_isi: np.ndarray  # median ISI at onset + isi_offsets[0]
    onset_isi_near: np.ndarray  # shortest ISI at onset + isi_offsets[1] (NaN: no two spikes)
    onset_isi_regular: np.ndarray  # the near train is regular
    delay: np.ndarray  # delay at onset + delay_offset
    rests_at_rest_drive: np.ndarray
    protocol: Protocol = field(default_factory=Protocol)
    classes: list[str] = field(default_factory=list)

    @property
    def offset_below_range(self) -> np.ndarray:
        """Still spiking at the lowest drive when swept down: the offset lies below the range."""
        return np.isnan(self.offset) & (self.state_down[:, 0] == SPIKING)

    @property
    def hysteresis(self) -> np.ndarray:
        """``onset - offset`` (0 when negative); a lower bound where the offset is below range."""
        offset = np.where(self.offset_below_range, self.drives[0], self.offset)
        return np.clip(self.onset - offset, 0.0, None)

    @property
    def isi_diverges(self) -> np.ndarray:
        """The onset ISI grows by more than ``diverge_ratio`` between the two offsets, regularly.

        A near train with fewer than two spikes does not count: at a type-1 onset its ISI is
        about 1300-1400 steps (well inside ``isi_hold``), while right above a type-2 onset with
        skipped cycles the first spikes can be thousands of steps apart.
        """
        near, far = self.onset_isi_near, self.onset_isi
        with np.errstate(invalid="ignore"):
            grows = self.onset_isi_regular & (near > self.protocol.diverge_ratio * far)
        return np.isfinite(far) & np.isfinite(near) & grows

    def bursting(self) -> np.ndarray:
        """(P, D): bursting at this drive in the up- or down-sweep."""
        return np.isfinite(self.bursts_up["period"]) | np.isfinite(self.bursts_down["period"])

    def classify(self) -> list[str]:
        """The class of each parameter set; the rule is written in docs/cells.md."""
        out = []
        bursting = self.bursting()
        for k in range(len(self.hs0)):
            up, down = self.state_up[k], self.state_down[k]
            spikes = (up == SPIKING).any() or (down == SPIKING).any()
            if bursting[k].any():
                out.append("bursting")
            elif not (up == SPIKING).any():
                if (up == BLOCKED).any():
                    out.append("depolarisation_block")  # from rest straight into the block
                else:  # spikes only after a kick: rest never loses stability in range
                    out.append("type2*" if spikes else "silent")
            elif up[0] == SPIKING:
                out.append("tonic")
            elif self.hysteresis[k] > self.protocol.hysteresis_tol:
                out.append("type2*")
            elif self.isi_diverges[k]:
                out.append("type1")
            else:
                out.append("type2")
        return out

    def burst_summary(self, k: int) -> dict | None:
        """Burst statistics at the bursting drive closest to zero drive (BSRC: x = 0)."""
        b = self.bursting()[k]
        if not b.any():
            return None
        cols = np.flatnonzero(b)
        j = int(cols[np.argmin(np.abs(self.drives[cols]))])
        src = self.bursts_up if np.isfinite(self.bursts_up["period"][k, j]) else self.bursts_down
        return {
            "drive": float(self.drives[j]),
            "spikes_per_burst": float(src["spikes_per_burst"][k, j]),
            "intra_burst_isi": float(src["intra_burst_isi"][k, j]),
            "burst_period": float(src["period"][k, j]),
            "bursting_drives": [float(self.drives[cols.min()]), float(self.drives[cols.max()])],
        }

    def entry(self, k: int) -> dict:
        """One parameter set as a JSON-ready dict (the `excitability.json` entry)."""

        def num(v) -> float | None:
            v = float(v)
            return v if math.isfinite(v) else None

        def curve(a: np.ndarray) -> list:
            return [num(v) for v in a]

        state_names = np.array(["rest", "spiking", "blocked"])
        return {
            "h_s0": num(self.hs0[k]),
            "class": self.classes[k],
            "onset_drive": num(self.onset[k]),
            "offset_drive": num(self.offset[k]),
            "hysteresis_width": num(self.hysteresis[k]),
            "offset_below_range": bool(self.offset_below_range[k]),
            "onset_resolution": num(self.onset_resolution[k]),
            "onset_isi": num(self.onset_isi[k]),
            "onset_isi_near": num(self.onset_isi_near[k]),
            "onset_isi_diverges": bool(self.isi_diverges[k]),
            "delay": num(self.delay[k]),
            "rests_at_rest_drive": bool(self.rests_at_rest_drive[k]),
            "bursts": self.burst_summary(k),
            "curves": {
                "drive": curve(self.drives),
                "rate_up": curve(self.rate_up[k]),
                "rate_down": curve(self.rate_down[k]),
                "state_up": state_names[self.state_up[k]].tolist(),
                "state_down": state_names[self.state_down[k]].tolist(),
                "delay": curve(self.delay_map[k]),
                "spikes_per_burst_up": curve(self.bursts_up["spikes_per_burst"][k]),
                "burst_period_up": curve(self.bursts_up["period"][k]),
            },
        }

    def to_json(self) -> dict:
        return {
            "schema": "modspike-excitability/1",
            "cell": self.cell,
            "r": self.r,
            "bias": self.bias,
            "synapse_alpha": self.synapse_alpha,
            "rest_drive": self.rest_drive,
            "spike_level": SPIKE_LEVEL,
            "rate_unit": "spikes per step",
            "protocol": {k: v for k, v in self.protocol.__dict__.items()},
            "entries": [self.entry(k) for k in range(len(self.hs0))],
        }


def make_population(
    cell: str,
    hs0: np.ndarray,
    r: float | None = None,
    synapse_alpha: float = 0.0,
    bias: float | None = None,
) -> Population:
    consts = analysis_constants(cell, r, synapse_alpha)
    if bias is None:
        bias = study(cell).bias
    hs0_t = torch.as_tensor(np.nan_to_num(np.asarray(hs0, dtype=float)), dtype=DTYPE)
    return Population(cell, hs0_t, torch.full_like(hs0_t, float(bias)), consts)


def analyze(
    cell: str = "msrc",
    hs0: Sequence[float] | np.ndarray | None = None,
    drives: Sequence[float] | np.ndarray | None = None,
    r: float | None = None,
    synapse_alpha: float = 0.0,
    bias: float | None = None,
    rest_drive: float | None = None,
    protocol: Protocol | None = None,
    progress: bool = False,
) -> Excitability:
    """Sweep every ``h_s0`` (rows) against every drive (columns) at once; see the module doc.

    ``hs0`` defaults to ``[BSRC default]`` for BSRC and ``[1.0]`` for mSRC; the SRC has no
    ``h_s0`` (one row). ``rest_drive`` (start of the delay steps) defaults to
    ``min(0, lowest drive)``.
    """
    settings = study(cell)
    if settings.hs0 is None:
        hs0_arr = np.array([np.nan])
    else:
        hs0_arr = np.asarray(list(settings.hs0) if hs0 is None else hs0, dtype=float)
    drive_arr = np.asarray(
        np.linspace(*DEFAULT_DRIVES[cell]) if drives is None else drives, dtype=float
    )
    if drive_arr.ndim != 1 or len(drive_arr) < 2 or np.any(np.diff(drive_arr) <= 0):
        raise ValueError("drives must be an increasing list of at least two values")
    if hs0_arr.ndim != 1 or len(hs0_arr) < 1:
        raise ValueError("h_s0 must be a list of at least one value")
    p = protocol or PROTOCOLS[cell]
    rest = min(0.0, float(drive_arr[0])) if rest_drive is None else float(rest_drive)
    with single_thread():
        return _analyze(cell, hs0_arr, drive_arr, r, synapse_alpha, bias, rest, p, progress)


def _analyze(cell, hs0, drives, r, alpha, bias, rest, p: Protocol, progress: bool) -> Excitability:
    n_p, n_d = len(hs0), len(drives)
    row = make_population(cell, hs0, r, alpha, bias)
    grid_idx = torch.arange(n_p).repeat_interleave(n_d)
    grid = row.select(grid_idx)
    d_grid = torch.as_tensor(np.tile(drives, n_p), dtype=DTYPE)

    def d_row(v: float) -> torch.Tensor:
        return torch.full((n_p,), float(v), dtype=DTYPE)

    # the bisection adds its rounds to the total as it goes
    total = 2 * p.rest_steps + 2 * (p.ramp + p.hold) + p.isi_hold + p.delay_steps
    total += p.ramp if study(cell).bursting else p.refine_ramp
    bar = tqdm(total=total, desc=f"analyze {cell}", unit="step", disable=not progress)

    # 1. up-sweep from rest at the lowest drive
    low_state, _ = rest_state(row, d_row(drives[0]), p.rest_steps)
    bar.update(p.rest_steps)
    up_start, up_drive = select_state(low_state, grid_idx), torch.full_like(d_grid, drives[0])
    up = run(grid, up_start, up_drive, d_grid, p.ramp, p.hold, p.window, bar=bar)
    state_up = up.states().reshape(n_p, n_d).numpy()

    # 2. down-sweep from the spiking state at the highest drive where the up-sweep spikes;
    #    rows that never spike on the way up are kicked (h = +1) at every drive instead
    spiking_up = state_up == SPIKING
    top = np.where(spiking_up.any(1), n_d - 1 - np.argmax(spiking_up[:, ::-1], 1), -1)
    flat_top = torch.as_tensor(np.arange(n_p) * n_d + np.maximum(top, 0))
    start_state = select_state(up.state, flat_top.repeat_interleave(n_d))
    kicked = type(up.state)(*up.state)
    kicked = kicked._replace(h=torch.ones_like(kicked.h))
    no_top = torch.as_tensor(np.repeat(top < 0, n_d))
    start_state = type(up.state)(*(torch.where(no_top, b, a) for a, b in zip(start_state, kicked)))
    start_drive = torch.where(
        no_top, d_grid, torch.as_tensor(np.repeat(drives[np.maximum(top, 0)], n_d))
    )
    down = run(grid, start_state, start_drive, d_grid, p.ramp, p.hold, p.window, bar=bar)
    state_down = down.states().reshape(n_p, n_d).numpy()

    # 3. onset and offset, refined by bisection
    chain = not study(cell).bursting
    onset, offset, onset_res, below = _refine_edges(
        row,
        _Sweep(up_start, up_drive, up),
        state_up,
        _Sweep(start_state, start_drive, down),
        state_down,
        drives,
        p,
        chain,
        bar,
    )

    # 4. onset ISI just above onset, started at rest below it
    ramp = p.refine_ramp if chain else p.ramp
    isi_far, isi_near, isi_regular = _onset_isi(row, onset, below, p, ramp, bar)

    # 5. delay after a step from rest at `rest`, on the grid and at onset + delay_offset
    rest_row, rests = rest_state(row, d_row(rest), p.rest_steps)
    bar.update(p.rest_steps)
    at_onset = torch.as_tensor(np.nan_to_num(onset, nan=drives[-1]) + p.delay_offset)
    targets = torch.cat([d_grid, at_onset.to(DTYPE)])
    both = cat_populations([grid, row])
    st = select_state(rest_row, torch.cat([grid_idx, torch.arange(n_p)]))
    step = run(both, st, targets, targets, 1, p.delay_steps - 1, p.delay_steps, bar=bar)
    c = step.crossings
    first = c.to(torch.uint8).argmax(0).to(DTYPE).numpy() + 1
    delays = np.where(c.any(0).numpy(), first, np.nan)
    ok = rests.numpy()
    delay_map = np.where(ok[:, None], delays[: n_p * n_d].reshape(n_p, n_d), np.nan)
    delay = np.where(np.isfinite(onset) & ok, delays[n_p * n_d :], np.nan)
    bar.close()

    res = Excitability(
        cell=cell,
        r=float(row.constants.r),
        bias=float(row.bias[0]),
        synapse_alpha=float(alpha),
        rest_drive=rest,
        hs0=hs0,
        drives=drives,
        rate_up=up.rates().reshape(n_p, n_d).numpy(),
        rate_down=down.rates().reshape(n_p, n_d).numpy(),
        state_up=state_up,
        state_down=state_down,
        delay_map=delay_map,
        bursts_up=_burst_maps(up, (n_p, n_d), p),
        bursts_down=_burst_maps(down, (n_p, n_d), p),
        onset=onset,
        offset=offset,
        onset_resolution=onset_res,
        onset_isi=isi_far,
        onset_isi_near=isi_near,
        onset_isi_regular=isi_regular,
        delay=delay,
        rests_at_rest_drive=rests.numpy(),
        protocol=p,
    )
    res.classes = res.classify()
    return res


# --------------------------------------------------------------------------------------------
# onset / offset by parallel bisection


@dataclass
class _Sweep:
    """A grid sweep: every neuron's start state and start drive, and the run itself."""

    start_state: State
    start_drive: torch.Tensor
    result: RunResult


@dataclass
class _Brackets:
    """Per item (a row and a direction): ``lo < edge <= hi``, and where trials start from.

    Up items (onset: the first drive that leaves rest when swept up) start from a resting state,
    down items (offset: the first drive that stops spiking when swept down) from a spiking one.
    Chained bisection continues from the known end of the bracket (``start`` follows it);
    unchained bisection repeats the grid sweep's own protocol from its fixed start.
    """

    rows: np.ndarray
    up: np.ndarray  # bool
    lo: np.ndarray
    hi: np.ndarray
    start: np.ndarray  # start drive of the trials
    j: np.ndarray  # grid index of the unknown end of the initial bracket (for shifting)
    shifts: np.ndarray  # how often the bracket moved by a grid step
    state: State


def _initial_brackets(
    sweep: _Sweep, states: np.ndarray, drives: np.ndarray, up: bool, chain: bool
) -> _Brackets:
    n_p, n_d = states.shape
    spiking = states == SPIKING
    rows, lo, hi, j, known = [], [], [], [], []
    for k in range(n_p):
        s = spiking[k]
        if not s.any():
            continue
        if up:
            if s[0]:
                continue  # spiking at the lowest drive: no onset in range
            j1 = int(np.argmax(s))  # first spiking drive; known rest at j1 - 1
            rows.append(k), lo.append(drives[j1 - 1]), hi.append(drives[j1])
            j.append(j1), known.append(k * n_d + j1 - 1)
        else:
            # continuing down from the top spiking drive: the first drive that no longer spikes
            top = n_d - 1 - int(np.argmax(s[::-1]))
            below = np.flatnonzero(~s[: top + 1])
            if len(below) == 0:
                continue  # still spiking at the lowest drive: offset below range
            j0 = int(below[-1])
            rows.append(k), lo.append(drives[j0]), hi.append(drives[j0 + 1])
            j.append(j0), known.append(k * n_d + j0 + 1)
    flat = torch.as_tensor(known, dtype=torch.long)
    lo_a, hi_a = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    if chain:
        state, start = select_state(sweep.result.state, flat), (lo_a if up else hi_a)
    else:
        state, start = select_state(sweep.start_state, flat), sweep.start_drive[flat].numpy()
    n = len(rows)
    return _Brackets(
        rows=np.asarray(rows, dtype=int),
        up=np.full(n, up),
        lo=lo_a,
        hi=hi_a,
        start=np.asarray(start, dtype=float).reshape(n),
        j=np.asarray(j, dtype=int),
        shifts=np.zeros(n, dtype=int),
        state=state,
    )


def _concat_brackets(a: _Brackets, b: _Brackets) -> _Brackets:
    fields = ("rows", "up", "lo", "hi", "start", "j", "shifts")
    return _Brackets(
        *(np.concatenate([getattr(a, f), getattr(b, f)]) for f in fields),
        state=cat_states([a.state, b.state]),
    )


def _bisect(
    row: Population, b: _Brackets, drives: np.ndarray, p: Protocol, chain: bool, bar
) -> _Brackets:
    """Narrow every bracket to ``p.tolerance`` by rounds of parallel trials.

    Chained (SRC, mSRC): each trial continues slowly (``refine_ramp`` steps) from the known end
    of the bracket to a candidate drive and holds it; up, a candidate is above onset if it spikes
    at all; down, if it still spikes in the last ``refine_window`` steps. The known end is
    re-checked too; if the unknown end of the grid bracket turns out to be on the known side (the
    grid sweep ramps faster), the bracket moves one grid step (at most ``p.max_shifts`` times).

    Unchained (BSRC): each trial repeats the grid sweep's protocol from its start. Chaining does
    not work there: with the ultraslow state (tau ~ 1000 steps) the resting state near onset
    keeps drifting, and the edge crept up by about 0.002 per round, round after round.
    """
    ramp, hold = (p.refine_ramp, p.refine_hold) if chain else (p.ramp, p.hold)
    active = np.ones(len(b.rows), dtype=bool)
    for _ in range(64):
        with np.errstate(invalid="ignore"):
            active &= ((b.hi - b.lo) > p.tolerance) & (b.shifts < p.max_shifts)
        items = np.flatnonzero(active)
        if len(items) == 0:
            break
        # a step costs about the same for 16 or 1600 neurons: few brackets get more candidates
        k_c = max(p.candidates, min(255, 1600 // len(items) - 1)) + 1
        frac = torch.arange(1, k_c + 1, dtype=DTYPE) / k_c
        it = torch.as_tensor(items).repeat_interleave(k_c)
        lo = torch.as_tensor(b.lo[items], dtype=DTYPE).repeat_interleave(k_c)
        hi = torch.as_tensor(b.hi[items], dtype=DTYPE).repeat_interleave(k_c)
        up = torch.as_tensor(b.up[items]).repeat_interleave(k_c)
        step = (hi - lo) * frac.repeat(len(items))
        cand = torch.where(up, lo + step, hi - step)
        start = torch.as_tensor(b.start[items], dtype=DTYPE).repeat_interleave(k_c)
        pop = row.select(torch.as_tensor(b.rows[items]).repeat_interleave(k_c))
        if bar is not None:
            bar.total += ramp + hold
        res = run(pop, select_state(b.state, it), start, cand, ramp, hold, ramp + hold, bar=bar)
        late = res.crossings[-(p.refine_window if chain else p.window) :].any(0)
        fired = torch.where(up, res.crossings.any(0), late) if chain else late
        spikes = fired.reshape(len(items), k_c).numpy()
        cand = cand.reshape(len(items), k_c).numpy()
        keep = np.full(len(items), -1)
        for n, item in enumerate(items):
            s = spikes[n]
            if b.up[item]:  # the first candidate that spikes is the new hi
                if not s.any():  # even hi rests when approached slowly: shift up
                    if b.j[item] + 1 >= len(drives):  # no onset in range after all
                        active[item], b.hi[item] = False, np.nan
                        continue
                    b.j[item] += 1
                    b.shifts[item] += 1
                    b.lo[item], b.hi[item] = b.hi[item], drives[b.j[item]]
                    keep[n] = k_c - 1
                    continue
                k1 = int(np.argmax(s))
                b.hi[item] = cand[n, k1]
                if k1 > 0:
                    b.lo[item], keep[n] = cand[n, k1 - 1], k1 - 1
            else:  # candidates descend; the first that stops spiking is the new lo
                if s.all():  # even lo keeps spiking: shift down
                    if b.j[item] - 1 < 0:  # the offset lies below the range
                        active[item], b.lo[item] = False, np.nan
                        continue
                    b.j[item] -= 1
                    b.shifts[item] += 1
                    b.lo[item], b.hi[item] = drives[b.j[item]], b.lo[item]
                    keep[n] = k_c - 1
                    continue
                k0 = int(np.argmax(~s))
                b.lo[item] = cand[n, k0]
                if k0 > 0:
                    b.hi[item], keep[n] = cand[n, k0 - 1], k0 - 1
        if chain:  # continue from the new known end
            moved = np.flatnonzero(keep >= 0)
            if len(moved):
                dst = torch.as_tensor(items[moved])
                src = torch.as_tensor(moved * k_c + keep[moved])
                for t_b, t_r in zip(b.state, res.state):
                    t_b[dst] = t_r[src]
                b.start[items[moved]] = np.where(
                    b.up[items[moved]], b.lo[items[moved]], b.hi[items[moved]]
                )
    return b


def _refine_edges(row, up: _Sweep, state_up, down: _Sweep, state_down, drives, p, chain, bar):
    """Onset (up) and offset (down) of every row, both bisected in the same batch.

    Returns ``onset, offset, resolution, below`` where ``below[k] = (drive, state)`` is where the
    onset-ISI trials of row ``k`` start (at rest below the onset).
    """
    n_p = state_up.shape[0]
    b = _concat_brackets(
        _initial_brackets(up, state_up, drives, True, chain),
        _initial_brackets(down, state_down, drives, False, chain),
    )
    b = _bisect(row, b, drives, p, chain, bar)
    onset, offset, resolution = (np.full(n_p, np.nan) for _ in range(3))
    below = {}
    for n in range(len(b.rows)):
        k = int(b.rows[n])
        if b.up[n]:
            onset[k], resolution[k] = b.hi[n], b.hi[n] - b.lo[n]
            below[k] = (b.start[n], select_state(b.state, torch.tensor([n])))
        else:
            offset[k] = b.lo[n]
    return onset, offset, resolution, below


def _onset_isi(row: Population, onset, below: dict, p: Protocol, ramp: int, bar):
    """ISIs at ``onset + eps`` for the two ``p.isi_offsets``, started at rest below onset.

    Returns ``(far, near, near_regular)``: the median ISI at the far offset, the shortest ISI at
    the near one, and whether the near train is regular: longest / shortest ISI < 1.5 and no
    skipped cycle (no local maximum of h below 0.5 between its first and last spike). Right above
    a type-2 onset spikes skip cycles of a subthreshold oscillation, irregularly (h_s0 = 1.5,
    onset + 1e-6: ISIs 1304, 291, 437, 291, 2358, ...) or regularly (h_s0 = 1.6, onset + 1e-5:
    every ISI 70, about two cycles, with a maximum of h at 0.45 in between), so the ISI grows
    while the period of the orbit stays finite; above a type-1 onset h creeps up to every spike.
    """
    n_p = len(onset)
    far, near = np.full(n_p, np.nan), np.full(n_p, np.nan)
    regular = np.zeros(n_p, dtype=bool)
    rows = sorted(below)
    if not rows:
        return far, near, regular
    eps = p.isi_offsets
    idx = torch.as_tensor(rows).repeat_interleave(len(eps))
    state = cat_states([below[k][1] for k in rows for _ in eps])
    start = torch.as_tensor([below[k][0] for k in rows for _ in eps], dtype=DTYPE)
    target = torch.as_tensor([onset[k] + e for k in rows for e in eps], dtype=DTYPE)
    res = run(
        row.select(idx),
        state,
        start,
        target,
        ramp,
        p.isi_hold,
        p.isi_hold,
        stop_at_spikes=6,
        bar=bar,
        record_h=True,
    )
    for n, k in enumerate(rows):
        isi_far = np.diff(res.spike_times(n * len(eps)))
        times = res.spike_times(n * len(eps) + 1)
        isi_near = np.diff(times)
        if len(isi_far):
            far[k] = float(np.median(isi_far))
        if len(isi_near):
            near[k] = float(isi_near.min())
            h = res.h_trace[times[0] : times[-1] + 1, n * len(eps) + 1].numpy()
            peak = (h[1:-1] > h[:-2]) & (h[1:-1] > h[2:])
            skipped = bool((peak & (h[1:-1] < SPIKE_LEVEL)).any())
            steady = isi_near.max() < 1.5 * isi_near.min()
            regular[k] = len(isi_near) >= 2 and steady and not skipped
    return far, near, regular


# --------------------------------------------------------------------------------------------
# single-neuron traces and the phase plane (for the figures and the tests)


@torch.no_grad()
def trace(
    cell: str,
    hs0: float | None,
    drive: float,
    steps: int,
    from_drive: float = 0.0,
    r: float | None = None,
    synapse_alpha: float = 0.0,
    bias: float | None = None,
    rest_steps: int | None = None,
) -> dict[str, np.ndarray]:
    """One neuron at rest at ``from_drive``, stepped to ``drive``: h, h_s, h_u over ``steps``.

    Returns arrays ``h``, ``hs``, ``hu`` (zeros without the ultraslow term), ``x`` (the drive
    that reached the fast equation) and ``spikes`` (step indices, 1-based, of upward crossings
    of 0.5), plus ``rest`` (the state before the step: h, hs, hu).
    """
    with single_thread():
        hs0_arr = np.array([np.nan if hs0 is None else hs0])
        pop = make_population(cell, hs0_arr, r, synapse_alpha, bias)
        p = PROTOCOLS[cell]
        d0 = torch.full((1,), float(from_drive), dtype=DTYPE)
        state, _ = rest_state(pop, d0, p.rest_steps if rest_steps is None else rest_steps)
        rest = (float(state.h), float(state.hs), float(getattr(state, "hu", torch.zeros(1))))
        d = torch.full((1,), float(drive), dtype=DTYPE)
        rows = []
        zero = torch.zeros(1, dtype=DTYPE)
        for _ in range(steps):
            state = pop.step(d, state)
            hu = state.hu if isinstance(state, MSRCState) else zero
            rows.append(torch.cat([state.h, state.hs, hu, state.i]))
    a = torch.stack(rows).numpy()
    h = a[:, 0]
    prev = np.concatenate([[rest[0]], h[:-1]])
    spikes = np.flatnonzero((prev <= SPIKE_LEVEL) & (h > SPIKE_LEVEL)) + 1
    return {
        "h": h,
        "hs": a[:, 1],
        "hu": a[:, 2],
        "x": a[:, 3],
        "spikes": spikes,
        "rest": np.array(rest),
    }


@torch.no_grad()
def phase_field(
    cell: str,
    hs0: float | None,
    drive: float,
    h: np.ndarray,
    hs: np.ndarray,
    hu: float = 0.0,
    r: float | None = None,
    bias: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(dh, dhs)`` of one step from every ``(h, h_s)`` of a grid, at steady drive ``drive``.

    The h-nullcline is ``dh = 0``, the h_s-nullcline ``dhs = 0`` (the diagonal h_s = h). For the
    BSRC the ultraslow state is frozen at ``hu``.
    """
    hh, ss = np.meshgrid(h, hs, indexing="ij")
    n = hh.size
    with single_thread():
        pop = make_population(cell, np.full(n, np.nan if hs0 is None else hs0), r, 0.0, bias)
        i = torch.full((n,), float(drive), dtype=DTYPE)
        ht = torch.as_tensor(hh.ravel(), dtype=DTYPE)
        st = torch.as_tensor(ss.ravel(), dtype=DTYPE)
        state_type = type(registry.cell(cell).floating.initial_state(1, 1))
        extra = [torch.full((n,), float(hu), dtype=DTYPE)] * (len(state_type._fields) - 3)
        state = state_type(i, ht, st, *extra)  # (i, h, h_s[, h_u])
        new = pop.step(i, state)
    return (new.h - ht).numpy().reshape(hh.shape), (new.hs - st).numpy().reshape(hh.shape)
