"""One technology for both sides of the deployed tier: integer adds and multiplies by bit width,
SRAM priced per bit by buffer size, and the low / central / high constant sets (bands).

The constants live in the deployed profile (``profiles/horowitz45.toml``: Horowitz, ISSCC 2014,
45 nm, 0.9 V); the functions of the model (docs/energy-model.md, "Technology"):

* ``E_add(b)``: linear through (8, 0.03), (16, 0.05), (32, 0.1) pJ, extended beyond 32 bits with
  the last slope, and ``0.00375 * b`` below 8 bits.
* ``E_mul(a, b) = E_mul8 * a * b / 64`` (an array multiplier scales with the product of widths).
* ``E64(S)``: a 64-bit access of an ``S``-byte SRAM, log-log through (8 KiB, 10), (32 KiB, 20),
  (1 MiB, 100) pJ and ``10 * sqrt(S / 8 KiB)`` below 8 KiB; beyond 1 MiB the buffer is in DRAM.
* ``E_bit(S) = m * E64(max(S, S_floor)) / 64`` with the band's ``m`` and ``S_floor``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from modspike.errors import ConfigError, EnergyProfileError

from .energy import load_profile

KIB = 1024.0
MIB = 1024.0 * 1024.0
BAND_NAMES = ("low", "central", "high")


@dataclass(frozen=True)
class Band:
    """One constant set: SRAM price multiplier ``m``, smallest priced buffer ``floor_bytes``, and
    whether SNN accumulators, event queues and time sums sit in registers (then they cost 0)."""

    name: str
    m: float
    floor_bytes: float
    registers: bool


@dataclass(frozen=True)
class CellOps:
    """Operations of one neuron update: ``mults`` multiplies of ``24 x mult_bits``, ``adds``
    24-bit adds and ``table_reads`` reads of the cell's shared tables (PWL: 2 reads each)."""

    mults: int
    mult_bits: int
    adds: int
    table_reads: int


@dataclass(frozen=True)
class Technology:
    """The deployed profile's numbers, in pJ and bits (see ``profiles/horowitz45.toml``)."""

    name: str
    node_nm: float
    add_points: tuple[tuple[float, float], ...]  # (bits, pJ), increasing bits
    add_pj_per_bit_below: float
    mul8_pj: float
    sram_anchors: tuple[tuple[float, float], ...]  # (bytes, pJ per 64-bit access)
    sram_exponent_below: float
    dram64_pj: dict[str, float]  # per band name
    bands: dict[str, Band]
    cells: dict[str, CellOps]
    event_bits: int
    snn_acc_bits: int
    ann_acc_bits: int
    ann_bias_bits: int
    requantise_bits: int
    input_bits: int
    rng_bits: int
    graded_sum_bits: int
    readout_acc_bits: int
    constants: dict  # every number with its unit and source, for report.json

    def e_add(self, bits: float) -> float:
        """Energy of one integer add of ``bits`` bits (pJ)."""
        if bits < 0:
            raise ConfigError(f"an add of {bits} bits")
        pts = self.add_points
        if bits < pts[0][0]:
            return self.add_pj_per_bit_below * bits
        for (b0, e0), (b1, e1) in zip(pts, pts[1:]):
            if bits <= b1:
                return e0 + (e1 - e0) * (bits - b0) / (b1 - b0)
        (b0, e0), (b1, e1) = pts[-2], pts[-1]
        return e1 + (e1 - e0) * (bits - b1) / (b1 - b0)

    def e_mul(self, a_bits: float, b_bits: float) -> float:
        """Energy of one ``a x b``-bit integer multiply (pJ)."""
        if a_bits < 0 or b_bits < 0:
            raise ConfigError(f"a multiply of {a_bits} x {b_bits} bits")
        return self.mul8_pj * a_bits * b_bits / 64.0

    def e64(self, size_bytes: float) -> float:
        """Energy of one 64-bit SRAM access of a buffer of ``size_bytes`` (pJ); ``inf`` beyond the
        last anchor (see :meth:`e_bit`)."""
        (s0, e0) = self.sram_anchors[0]
        if size_bytes <= s0:
            return e0 * (size_bytes / s0) ** self.sram_exponent_below
        for (sa, ea), (sb, eb) in zip(self.sram_anchors, self.sram_anchors[1:]):
            if size_bytes <= sb:
                k = math.log(eb / ea) / math.log(sb / sa)
                return ea * (size_bytes / sa) ** k
        return math.inf

    def e_bit(self, size_bytes: float, band: Band | str) -> float:
        """Energy per bit accessed in a buffer of ``size_bytes`` under ``band`` (pJ/bit).

        Beyond the largest SRAM anchor (1 MiB) the buffer is priced as DRAM: the band's DRAM figure
        per 64 bits (1.3 / 1.95 / 2.6 nJ), without the SRAM multiplier."""
        b = self.band(band)
        if size_bytes < 0:
            raise ConfigError(f"a buffer of {size_bytes} bytes")
        size = max(size_bytes, b.floor_bytes)
        if size > self.sram_anchors[-1][0]:
            return self.dram64_pj[b.name] / 64.0
        return b.m * self.e64(size) / 64.0

    def band(self, band: Band | str) -> Band:
        if isinstance(band, Band):
            return band
        if band not in self.bands:
            raise ConfigError(f"energy band {band!r}; choose {', '.join(self.bands)}")
        return self.bands[band]

    def cell(self, kind: str) -> CellOps:
        if kind not in self.cells:
            raise EnergyProfileError(
                f"energy profile {self.name} has no operation counts for cell kind {kind!r}"
                f" (known: {', '.join(sorted(self.cells))})"
            )
        return self.cells[kind]


def _param(prof: dict, key: str) -> float:
    try:
        return prof["param"][key]["value"]
    except KeyError:
        raise EnergyProfileError(
            f"energy profile {prof.get('name')} lacks required field param.{key}"
        ) from None


def _cost(prof: dict, key: str) -> float:
    if key not in prof["cost"]:
        raise EnergyProfileError(f"energy profile {prof.get('name')} lacks required key cost.{key}")
    return prof["cost"][key]


def technology_from_profile(prof: dict) -> Technology:
    """A :class:`Technology` from a loaded deployed-tier profile (``tier = "deployed"``)."""
    name = prof.get("name", "?")
    if prof.get("tier") != "deployed":
        raise EnergyProfileError(f"energy profile {name} is not a deployed-tier profile")
    bands = {
        k: Band(k, float(v["m"]), float(v["floor_bytes"]), bool(v["registers"]))
        for k, v in prof.get("band", {}).items()
    }
    missing = [b for b in BAND_NAMES if b not in bands]
    if missing:
        raise EnergyProfileError(f"energy profile {name} lacks required field band.{missing[0]}")
    cells = {
        k: CellOps(int(v["mults"]), int(v["mult_bits"]), int(v["adds"]), int(v["table_reads"]))
        for k, v in prof.get("cell", {}).items()
    }
    constants = {
        "cost": prof["entries"],
        "param": prof.get("param", {}),
        "band": prof.get("band", {}),
        "cell": prof.get("cell", {}),
    }
    return Technology(
        name=name,
        node_nm=float(prof["node_nm"]),
        add_points=(
            (8.0, _cost(prof, "add8")),
            (16.0, _cost(prof, "add16")),
            (32.0, _cost(prof, "add32")),
        ),
        add_pj_per_bit_below=float(_param(prof, "add_pj_per_bit_below_8")),
        mul8_pj=_cost(prof, "mul8"),
        sram_anchors=(
            (8 * KIB, _cost(prof, "sram64_8kib")),
            (32 * KIB, _cost(prof, "sram64_32kib")),
            (MIB, _cost(prof, "sram64_1mib")),
        ),
        sram_exponent_below=float(_param(prof, "sram_exponent_below_8kib")),
        dram64_pj={
            "low": _cost(prof, "dram64_low"),
            "central": float(_param(prof, "dram64_central")),
            "high": _cost(prof, "dram64_high"),
        },
        bands=bands,
        cells=cells,
        event_bits=int(_param(prof, "event_bits")),
        snn_acc_bits=int(_param(prof, "snn_accumulator_bits")),
        ann_acc_bits=int(_param(prof, "ann_accumulator_bits")),
        ann_bias_bits=int(_param(prof, "ann_bias_bits")),
        requantise_bits=int(_param(prof, "requantise_bits")),
        input_bits=int(_param(prof, "input_bits")),
        rng_bits=int(_param(prof, "rng_bits")),
        graded_sum_bits=int(_param(prof, "graded_sum_bits")),
        readout_acc_bits=int(_param(prof, "readout_accumulator_bits")),
        constants=constants,
    )


@lru_cache(maxsize=8)
def _cached(name: str) -> Technology:
    return technology_from_profile(load_profile(name))


def technology(profile: str | Technology | None = None) -> Technology:
    """The deployed technology of a profile name or path (default ``horowitz45``)."""
    if isinstance(profile, Technology):
        return profile
    return _cached(str(profile or "horowitz45"))
