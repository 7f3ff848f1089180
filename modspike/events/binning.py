"""Events to dense frames on one fixed clock: ``(T, C, H, W)`` uint8 counts per time bin.

Every sample is binned over the same window ``[0, duration_us)`` measured from its own time zero
(N-MNIST and SHD timestamps start at the recording's start), so bin ``k`` covers the same
microseconds in every sample and one bin is one network time step. tonic's ``ToFrame`` with
``n_time_bins`` instead stretches the bins over each recording's own first-to-last event span;
with ``time_window``, ``start_time=0`` and ``end_time=duration_us`` it gives the same counts as
this module (checked in the tests) before our polarity merge, pooling and saturation.

- ``bins=T``: bin ``k`` holds the events with ``k*duration/T <= t < (k+1)*duration/T`` (integer
  arithmetic, so ``bin_us`` may be fractional);
- ``bin_us=B``: ``T = ceil(duration / B)`` bins of exactly ``B`` us (the window grows to ``T*B``).

Events at or after the window's end are dropped and counted. Polarity ``split`` gives 2 channels
in tonic's order (0 = OFF, 1 = ON), ``merge`` 1 channel. ``downsample=k`` sums each k x k block of
pixels (the last block of a side that k does not divide is partial), so ``H' = ceil(H / k)``;
a 1-D sensor (SHD) is pooled along its channels only. Counts above 255 saturate at 255 and are
counted.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ConfigError
from .types import Sensor, check_events

POLARITY_MODES = ("split", "merge")
MAX_BINS = 100_000
COUNT_MAX = 255


@dataclass(frozen=True)
class Binning:
    """How events become frames; build it with :func:`make_binning`."""

    duration_us: int
    bins: int
    bin_us: float
    by_width: bool
    polarity: str
    downsample: int

    def channels(self, sensor: Sensor) -> int:
        return 2 if (self.polarity == "split" and sensor.polarities == 2) else 1

    def frame_shape(self, sensor: Sensor) -> tuple[int, int, int]:
        """``(C, H', W')`` of one time bin."""
        k = self.downsample
        return (self.channels(sensor), math.ceil(sensor.height / k), math.ceil(sensor.width / k))

    def input_shape(self, sensor: Sensor) -> tuple[int, ...]:
        """One step's network input: ``(C, H', W')``, or ``(units',)`` for a 1-D sensor."""
        c, h, w = self.frame_shape(sensor)
        return (w,) if sensor.is_1d else (c, h, w)

    def encoding(self, sensor: Sensor, dataset: str) -> dict:
        """The artifact's ``encoding`` record for frames binned this way."""
        one_d = sensor.is_1d
        return {
            "name": "events",
            "dataset": dataset,
            "bins": self.bins,
            "bin_us": self.bin_us,
            "duration_us": self.duration_us,
            "polarity": "none" if one_d else self.polarity,
            "channels": (
                ["count"] if self.channels(sensor) == 1 else ["off", "on"]
            ),  # channel order
            "downsample": self.downsample,
            "sensor": [sensor.height, sensor.width, sensor.polarities],
            "layout": "TU" if one_d else "TCHW",
            "input_shape": list(self.input_shape(sensor)),
            "dtype": "uint8",
            "count_max": COUNT_MAX,
        }


def make_binning(
    duration_us: int,
    bins: int | None = None,
    bin_us: int | None = None,
    polarity: str = "split",
    downsample: int = 1,
) -> Binning:
    """Check the binning options (exactly one of ``bins`` and ``bin_us``) and fix the clock."""
    if (bins is None) == (bin_us is None):
        raise ConfigError("give exactly one of bins (a number of time bins) and bin_us (a width)")
    if not (isinstance(duration_us, (int, np.integer)) and 1 <= duration_us <= 3_600_000_000):
        raise ConfigError(f"duration_us must be an integer in 1..3.6e9 us, got {duration_us!r}")
    if polarity not in POLARITY_MODES:
        raise ConfigError(f"polarity must be one of {', '.join(POLARITY_MODES)}, got {polarity!r}")
    if not (isinstance(downsample, (int, np.integer)) and 1 <= downsample <= 64):
        raise ConfigError(f"downsample must be an integer in 1..64, got {downsample!r}")
    if bins is not None:
        if not (isinstance(bins, (int, np.integer)) and 1 <= bins <= MAX_BINS):
            raise ConfigError(f"bins must be an integer in 1..{MAX_BINS}, got {bins!r}")
        return Binning(int(duration_us), int(bins), duration_us / bins, False, polarity, downsample)
    if not (isinstance(bin_us, (int, np.integer)) and 1 <= bin_us):
        raise ConfigError(f"bin_us must be a positive integer (microseconds), got {bin_us!r}")
    n = math.ceil(duration_us / bin_us)
    if n > MAX_BINS:
        raise ConfigError(f"{duration_us} us in bins of {bin_us} us is {n} bins, over {MAX_BINS}")
    return Binning(int(n * bin_us), n, float(bin_us), True, polarity, int(downsample))


@dataclass
class BinStats:
    """What binning kept and lost, summed over the samples it saw."""

    samples: int = 0
    events: int = 0
    dropped: int = 0  # at or after the end of the window
    saturated_cells: int = 0  # counts clipped to 255

    def as_dict(self) -> dict:
        return asdict(self)


def bin_events(
    events: np.ndarray, sensor: Sensor, binning: Binning, stats: BinStats | None = None
) -> np.ndarray:
    """Dense counts ``(T, C, H', W')`` as uint8 from one sample's events (checked against the
    sensor first: a coordinate outside it would land in another cell)."""
    check_events(events, sensor, "events to bin")
    c, h, w = binning.frame_shape(sensor)
    t_count = binning.bins
    t = events["t"]
    keep = t < binning.duration_us
    ev = events[keep] if not keep.all() else events
    if binning.by_width:
        tb = ev["t"] // int(binning.bin_us)
    else:
        tb = ev["t"] * binning.bins // binning.duration_us
    ch = ev["p"].astype(np.int64) if c == 2 else np.zeros(len(ev), np.int64)
    k = binning.downsample
    y = ev["y"].astype(np.int64) // k
    x = ev["x"].astype(np.int64) // k
    flat = ((tb * c + ch) * h + y) * w + x
    counts = np.bincount(flat, minlength=t_count * c * h * w)
    over = counts > COUNT_MAX
    if stats is not None:
        stats.samples += 1
        stats.events += len(events)
        stats.dropped += int(len(events) - len(ev))
        stats.saturated_cells += int(over.sum())
    if over.any():
        counts = np.minimum(counts, COUNT_MAX)
    return counts.astype(np.uint8).reshape(t_count, c, h, w)
