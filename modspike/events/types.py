"""The event record every reader returns and the checks every event stream must pass.

Events are a NumPy structured array with tonic's field names and types (``x``, ``y``, ``t``, ``p``;
``t`` in microseconds, ``p`` True for ON), so an array from here can go through tonic's transforms
unchanged. A one-dimensional sensor (SHD's 700 cochlea channels) puts the channel in ``x``, 0 in
``y`` and True in ``p``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError

EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])

# Limits that protect memory from absurd or hostile files (the real data sets are far below).
MAX_EVENTS_PER_SAMPLE = 10_000_000
MAX_TIME_US = 3_600_000_000  # one hour
MAX_SENSOR_SIDE = 4096


@dataclass(frozen=True)
class Sensor:
    """Pixel grid of a recording: ``height`` x ``width`` pixels, ``polarities`` = 2 (ON/OFF) or 1."""

    height: int
    width: int
    polarities: int = 2

    def __post_init__(self) -> None:
        for side in (self.height, self.width):
            if not 1 <= side <= MAX_SENSOR_SIDE:
                raise DataError(f"sensor sides must be in 1..{MAX_SENSOR_SIDE}, got {self}")
        if self.polarities not in (1, 2):
            raise DataError(f"a sensor has 1 or 2 polarities, got {self.polarities}")

    @property
    def is_1d(self) -> bool:
        """A row of channels (SHD) rather than an image sensor."""
        return self.height == 1 and self.polarities == 1


def make_events(x, y, t, p) -> np.ndarray:
    """A structured event array from equal-length columns (``p`` is truthy for ON)."""
    x, y, t, p = (np.asarray(a) for a in (x, y, t, p))
    n = len(t)
    if not all(a.shape == (n,) for a in (x, y, p)):
        raise DataError("event columns x, y, t, p must be 1-D and of equal length")
    events = np.empty(n, dtype=EVENT_DTYPE)
    events["x"], events["y"], events["t"], events["p"] = x, y, t, p.astype(bool)
    return events


def check_events(events: np.ndarray, sensor: Sensor, source: str) -> np.ndarray:
    """Refuse an event stream that no sensor could have produced; return it unchanged.

    Checks the record type, the count against :data:`MAX_EVENTS_PER_SAMPLE`, the coordinates
    against ``sensor`` and the timestamps (non-negative, at most :data:`MAX_TIME_US`, in
    non-decreasing order, as a camera emits them).
    """
    if events.dtype != EVENT_DTYPE:
        raise DataError(f"{source}: events must have dtype {EVENT_DTYPE}, got {events.dtype}")
    if events.ndim != 1 or len(events) > MAX_EVENTS_PER_SAMPLE:
        raise DataError(
            f"{source}: {events.size} events in shape {events.shape}; at most "
            f"{MAX_EVENTS_PER_SAMPLE} in a 1-D array"
        )
    if len(events) == 0:
        return events
    x, y, t = events["x"], events["y"], events["t"]
    if x.min() < 0 or x.max() >= sensor.width or y.min() < 0 or y.max() >= sensor.height:
        raise DataError(
            f"{source}: event coordinates x in [{x.min()}, {x.max()}], y in [{y.min()}, {y.max()}] "
            f"fall outside the {sensor.width}x{sensor.height} sensor"
        )
    if sensor.polarities == 1 and not events["p"].all():
        raise DataError(f"{source}: OFF events on a single-polarity sensor")
    if t.min() < 0 or t.max() > MAX_TIME_US:
        raise DataError(
            f"{source}: timestamps must lie in [0, {MAX_TIME_US}] us, found [{t.min()}, {t.max()}]"
        )
    if np.any(np.diff(t) < 0):
        raise DataError(f"{source}: timestamps are not in non-decreasing order")
    return events
