"""Readers (and small writers, for tests and round trips) of the standard event formats, from local
files only: nothing here downloads.

- **N-MNIST** (Orchard et al. 2015): one ``.bin`` file per sample, in ``Train/<digit>/`` and
  ``Test/<digit>/``. Each event is a 40-bit big-endian record: byte 0 = x, byte 1 = y, then bit 23
  = polarity (1 = ON) and bits 22..0 = timestamp in microseconds. A record with y = 240 is a
  timestamp-overflow marker of the ATIS format: the reference decoder (Orchard's ``eventvision``,
  copied by tonic's ``read_mnist_file``) adds 2**13 us to every later timestamp; we do the same.
- **SHD** (Cramer et al. 2020): HDF5 with ``spikes/times`` (variable-length float arrays, seconds),
  ``spikes/units`` (variable-length integer arrays, channel 0..699) and ``labels``.
- **DVS Gesture** (Amir et al. 2017): one AEDAT 3.1 file per recording (``userNN_<light>.aedat``)
  with a ``..._labels.csv`` of ``class,startTime_usec,endTime_usec`` rows, listed in
  ``trials_to_train.txt`` / ``trials_to_test.txt``. After a ``#`` text header, the file is a
  sequence of packets: a 28-byte little-endian header (int16 type, int16 source, int32 event size,
  int32 timestamp offset, int32 timestamp overflow, int32 capacity, int32 number, int32 valid)
  followed by capacity x size bytes. Polarity events (type 1, 8 bytes) are a uint32 address
  (bit 0 valid, bit 1 polarity, bits 2..16 y, bits 17..31 x) and an int32 timestamp; the full
  time is ``overflow << 31 | timestamp``. Other packet types are skipped, as are invalid events.

tonic decodes N-MNIST with no checks (and handles overflow markers in a loop whose cost grows with
their number times the file length) and opens SHD files without closing them, so the product
decodes with NumPy under explicit limits, and the tests check that it decodes exactly what tonic
decodes. HDF5 files are treated as untrusted: read-only, no external links, no external or virtual
storage, shapes checked before anything is read.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError
from .types import (
    EVENT_DTYPE,
    MAX_EVENTS_PER_SAMPLE,
    MAX_TIME_US,
    Sensor,
    check_events,
    make_events,
)

NMNIST_SENSOR = Sensor(34, 34, 2)
NMNIST_RECORD = 5
NMNIST_OVERFLOW_Y = 240
NMNIST_OVERFLOW_US = 2**13
NMNIST_MAX_BYTES = NMNIST_RECORD * MAX_EVENTS_PER_SAMPLE
NMNIST_SPLITS = {"train": "Train", "test": "Test"}

SHD_UNITS = 700
SHD_CLASSES = 20
SHD_FILES = {"train": "shd_train.h5", "test": "shd_test.h5"}
SHD_MAX_SAMPLES = 1_000_000
H5_MAX_BYTES = 8 * 2**30
KIND_NAMES = {"f": "floating-point", "iu": "integer"}


# --- N-MNIST ----------------------------------------------------------------------------------


def decode_nmnist(data: bytes, source: str = "N-MNIST data", sensor: Sensor = NMNIST_SENSOR):
    """Events of one N-MNIST sample from the bytes of its ``.bin`` file."""
    if len(data) > NMNIST_MAX_BYTES:
        raise DataError(f"{source}: {len(data)} bytes, more than the {NMNIST_MAX_BYTES} allowed")
    if len(data) % NMNIST_RECORD:
        raise DataError(
            f"{source}: {len(data)} bytes is not a whole number of 5-byte event records "
            "(truncated file?)"
        )
    rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, NMNIST_RECORD).astype(np.int64)
    x, y = rec[:, 0], rec[:, 1]
    t = ((rec[:, 2] & 0x7F) << 16) | (rec[:, 3] << 8) | rec[:, 4]
    overflow = y == NMNIST_OVERFLOW_Y
    if overflow.any():
        t = t + NMNIST_OVERFLOW_US * np.cumsum(overflow)
        keep = ~overflow
        rec, x, y, t = rec[keep], x[keep], y[keep], t[keep]
    events = make_events(x, y, t, rec[:, 2] >> 7)
    return check_events(events, sensor, source)


def encode_nmnist(events: np.ndarray) -> bytes:
    """The ``.bin`` bytes of an event array (timestamps below 2**23 us, so no overflow marker)."""
    if events.dtype != EVENT_DTYPE:
        raise DataError(f"events must have dtype {EVENT_DTYPE}, got {events.dtype}")
    x, y, t = (events[k].astype(np.int64) for k in ("x", "y", "t"))
    if len(events) and (
        x.min() < 0 or x.max() > 255 or y.min() < 0 or y.max() > 255 or (y == 240).any()
    ):
        raise DataError("N-MNIST records hold x and y in 0..255 (y = 240 is reserved)")
    if len(events) and (t.min() < 0 or t.max() >= 2**23):
        raise DataError("N-MNIST records hold timestamps in 0..2**23-1 us")
    rec = np.empty((len(events), NMNIST_RECORD), dtype=np.uint8)
    rec[:, 0], rec[:, 1] = x, y
    rec[:, 2] = (events["p"].astype(np.int64) << 7) | (t >> 16)
    rec[:, 3], rec[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    return rec.tobytes()


def read_nmnist_file(path: str | Path, sensor: Sensor = NMNIST_SENSOR) -> np.ndarray:
    """Events of one N-MNIST ``.bin`` file (size checked before it is read)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > NMNIST_MAX_BYTES:
            raise DataError(f"{path}: {size} bytes, more than the {NMNIST_MAX_BYTES} allowed")
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return decode_nmnist(data, str(path), sensor)


def write_nmnist_file(path: str | Path, events: np.ndarray) -> None:
    """Write one sample as an N-MNIST ``.bin`` file (whole or not at all)."""
    _write_atomic(Path(path), encode_nmnist(events))


def nmnist_files(root: str | Path, split: str) -> tuple[list[Path], np.ndarray]:
    """The sample files of an N-MNIST split and their labels, in a fixed order.

    ``root`` holds ``Train/`` and ``Test/`` (or lower-case), each with one folder per digit.
    """
    if split not in NMNIST_SPLITS:
        raise DataError(f"unknown N-MNIST split {split!r}; choose train or test")
    root = Path(root)
    folder = next(
        (root / n for n in (NMNIST_SPLITS[split], split) if (root / n).is_dir()),
        None,
    )
    if folder is None:
        raise DataError(
            f"N-MNIST: no {NMNIST_SPLITS[split]}/ folder in {root} (expected Train/ and Test/, "
            "each with one folder per digit 0..9 of .bin files; modspike never downloads data)"
        )
    paths, labels = [], []
    for digit in range(10):
        files = sorted((folder / str(digit)).glob("*.bin"))
        paths += files
        labels += [digit] * len(files)
    if not paths:
        raise DataError(f"N-MNIST: no .bin files under {folder}/0..9")
    return paths, np.asarray(labels, dtype=np.int64)


# --- SHD ------------------------------------------------------------------------------------


def _open_untrusted_h5(path: Path):
    """Open an HDF5 file read-only after refusing what could reach outside it."""
    import h5py

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if size > H5_MAX_BYTES:
        raise DataError(f"{path}: {size} bytes, more than the {H5_MAX_BYTES} allowed")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"{path}: not a readable HDF5 file ({exc})") from None
    outside: list[str] = []

    def visit(name: str, link) -> None:
        if isinstance(link, h5py.ExternalLink):
            outside.append(name)
        elif isinstance(link, h5py.HardLink):
            obj = h5.get(name)
            if isinstance(obj, h5py.Dataset) and (obj.external or obj.is_virtual):
                outside.append(name)

    try:
        h5.visititems_links(visit)
    except Exception as exc:  # a broken tree: any h5py/HDF5 failure means a bad file
        h5.close()
        raise DataError(f"{path}: unreadable HDF5 structure ({exc})") from None
    if outside:
        h5.close()
        raise DataError(
            f"{path}: {', '.join(outside)} point(s) outside the file (external link or storage); "
            "refused"
        )
    return h5


def _h5_dataset(h5, key: str, source: str, kinds: str, vlen: bool):
    import h5py

    if not isinstance(h5.get(key, getlink=True), h5py.HardLink):
        raise DataError(f"{source}: no dataset {key!r}")
    ds = h5[key]
    if not isinstance(ds, h5py.Dataset) or ds.ndim != 1 or len(ds) > SHD_MAX_SAMPLES:
        raise DataError(
            f"{source}: {key!r} must be a 1-D dataset of at most {SHD_MAX_SAMPLES} rows"
        )
    base = h5py.check_vlen_dtype(ds.dtype) if vlen else ds.dtype
    if base is None or base.kind not in kinds:
        want = ("variable-length " if vlen else "") + KIND_NAMES[kinds]
        raise DataError(f"{source}: {key!r} has type {ds.dtype}, expected {want} numbers")
    return ds


def read_shd_file(
    path: str | Path, n_units: int = SHD_UNITS, progress: bool = False
) -> tuple[list[np.ndarray], np.ndarray]:
    """Events and labels of an SHD file (``spikes/times`` in s -> ``t`` in us, unit -> ``x``)."""
    from tqdm.auto import tqdm

    path = Path(path)
    sensor = Sensor(1, n_units, 1)
    source = str(path)
    h5 = _open_untrusted_h5(path)
    try:
        times = _h5_dataset(h5, "spikes/times", source, "f", vlen=True)
        units = _h5_dataset(h5, "spikes/units", source, "iu", vlen=True)
        labels_ds = _h5_dataset(h5, "labels", source, "iu", vlen=False)
        n = len(labels_ds)
        if len(times) != n or len(units) != n:
            raise DataError(
                f"{source}: {len(times)} spike-time rows, {len(units)} unit rows and {n} labels"
            )
        labels = labels_ds[()].astype(np.int64)
        if n and (labels.min() < 0 or labels.max() >= SHD_CLASSES):
            raise DataError(f"{source}: labels must lie in 0..{SHD_CLASSES - 1}")
        samples = []
        chunk = 1024
        for start in tqdm(range(0, n, chunk), desc=path.name, unit="chunk", disable=not progress):
            for i, (tt, uu) in enumerate(
                zip(times[start : start + chunk], units[start : start + chunk])
            ):
                samples.append(_shd_events(tt, uu, sensor, f"{source} sample {start + i}"))
    except DataError:
        raise
    except Exception as exc:  # h5py raises OSError/KeyError/ValueError on corrupt contents
        raise DataError(f"{source}: unreadable SHD contents ({exc})") from None
    finally:
        h5.close()
    return samples, labels


def _shd_events(times: np.ndarray, units: np.ndarray, sensor: Sensor, source: str) -> np.ndarray:
    if len(times) != len(units) or len(times) > MAX_EVENTS_PER_SAMPLE:
        raise DataError(f"{source}: {len(times)} spike times for {len(units)} units")
    times = np.asarray(times, dtype=np.float64)
    if not np.all(np.isfinite(times)):
        raise DataError(f"{source}: spike times must be finite")
    units = np.asarray(units)
    if len(units) and (units.min() < 0 or units.max() >= sensor.width):
        raise DataError(f"{source}: units must lie in 0..{sensor.width - 1}")
    t = np.round(times * 1e6)
    if len(t) and (t.min() < 0 or t.max() > MAX_TIME_US):
        raise DataError(f"{source}: spike times must lie in [0, {MAX_TIME_US / 1e6:g}] s")
    events = make_events(units, np.zeros(len(t)), t.astype(np.int64), np.ones(len(t)))
    return check_events(events, sensor, source)


def write_shd_file(
    path: str | Path, samples: Sequence[np.ndarray], labels: Sequence[int] | np.ndarray
) -> None:
    """Write events (unit in ``x``) and labels in SHD's layout: float32 seconds, uint16 units."""
    import h5py

    if len(samples) != len(labels):
        raise DataError(f"{len(samples)} samples but {len(labels)} labels")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as h5:
            t_ds = h5.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype("f4"))
            u_ds = h5.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype("u2"))
            for i, ev in enumerate(samples):
                t_ds[i] = (ev["t"] / 1e6).astype(np.float32)
                u_ds[i] = ev["x"].astype(np.uint16)
            h5.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def shd_file(root: str | Path, split: str) -> Path:
    """``root/shd_<split>.h5``, or a DataError naming the expected files."""
    if split not in SHD_FILES:
        raise DataError(f"unknown SHD split {split!r}; choose train or test")
    path = Path(root) / SHD_FILES[split]
    if not path.is_file():
        raise DataError(
            f"SHD: missing {path} (expected {' and '.join(SHD_FILES.values())} in {root}; "
            "modspike never downloads data)"
        )
    return path


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# --- DVS Gesture (AEDAT 3.1) ----------------------------------------------------------------

GESTURE_SENSOR = Sensor(128, 128, 2)
GESTURE_CLASSES = 11
GESTURE_LISTS = {"train": "trials_to_train.txt", "test": "trials_to_test.txt"}
AEDAT_MAX_BYTES = 512 * 2**20  # at most 64M polarity events in one recording
AEDAT_MAX_HEADER = 1 << 20
AEDAT_PACKET = np.dtype(
    [
        ("type", "<i2"),
        ("source", "<i2"),
        ("size", "<i4"),
        ("ts_offset", "<i4"),
        ("ts_overflow", "<i4"),
        ("capacity", "<i4"),
        ("number", "<i4"),
        ("valid", "<i4"),
    ]
)
AEDAT_POLARITY = np.dtype([("address", "<u4"), ("t", "<i4")])


def decode_aedat3(data: bytes, source: str = "AEDAT data", sensor: Sensor = GESTURE_SENSOR):
    """Polarity events of an AEDAT 3.x file's bytes (header, then packets)."""
    if len(data) > AEDAT_MAX_BYTES:
        raise DataError(f"{source}: {len(data)} bytes, more than the {AEDAT_MAX_BYTES} allowed")
    if not data.startswith(b"#!AER-DAT3"):
        raise DataError(f"{source}: not an AEDAT 3 file (no '#!AER-DAT3' first line)")
    pos = 0
    while pos < len(data) and data[pos : pos + 1] == b"#":
        end = data.find(b"\n", pos)
        if end < 0 or end > AEDAT_MAX_HEADER:
            raise DataError(f"{source}: unterminated or oversized text header")
        pos = end + 1
    chunks = []
    while pos < len(data):
        if len(data) - pos < AEDAT_PACKET.itemsize:
            raise DataError(f"{source}: truncated packet header at byte {pos}")
        head = np.frombuffer(data, AEDAT_PACKET, 1, pos)[0]
        size, capacity = int(head["size"]), int(head["capacity"])
        pos += AEDAT_PACKET.itemsize
        if size < 1 or capacity < 0 or size * capacity > len(data) - pos:
            raise DataError(
                f"{source}: packet at byte {pos - AEDAT_PACKET.itemsize} claims {capacity} events "
                f"of {size} bytes, beyond the end of the file"
            )
        if head["type"] == 1:
            if size != AEDAT_POLARITY.itemsize:
                raise DataError(f"{source}: polarity events of {size} bytes (expected 8)")
            ev = np.frombuffer(data, AEDAT_POLARITY, capacity, pos)
            ev = ev[(ev["address"] & 1) == 1]
            if (ev["t"] < 0).any():
                raise DataError(f"{source}: negative timestamps in a polarity packet")
            t = (np.int64(head["ts_overflow"]) << 31) | ev["t"].astype(np.int64)
            chunks.append((ev["address"].astype(np.int64), t))
        pos += size * capacity
    addr = np.concatenate([c[0] for c in chunks]) if chunks else np.zeros(0, np.int64)
    t = np.concatenate([c[1] for c in chunks]) if chunks else np.zeros(0, np.int64)
    x, y, p = (addr >> 17) & 0x7FFF, (addr >> 2) & 0x7FFF, (addr >> 1) & 1
    if len(t) and (x.max() >= sensor.width or y.max() >= sensor.height):
        raise DataError(
            f"{source}: event coordinates up to x = {x.max()}, y = {y.max()} fall outside the "
            f"{sensor.width}x{sensor.height} sensor"
        )
    if len(t) and t.max() > MAX_TIME_US:
        raise DataError(f"{source}: timestamps beyond {MAX_TIME_US} us")
    if np.any(np.diff(t) < 0):
        raise DataError(f"{source}: timestamps are not in non-decreasing order")
    events = np.empty(len(t), dtype=EVENT_DTYPE)
    events["x"], events["y"], events["t"], events["p"] = x, y, t, p.astype(bool)
    return events


def encode_aedat3(events: np.ndarray, packet: int = 4096) -> bytes:
    """AEDAT 3.1 bytes of polarity events (timestamps below 2**31 us), ``packet`` per packet."""
    if events.dtype != EVENT_DTYPE:
        raise DataError(f"events must have dtype {EVENT_DTYPE}, got {events.dtype}")
    if len(events) and not (0 <= events["t"].min() and events["t"].max() < 2**31):
        raise DataError("this writer keeps timestamps in 0..2**31-1 us (no overflow packets)")
    out = [b"#!AER-DAT3.1\r\n#Format: RAW\r\n#!END-HEADER\r\n"]
    for start in range(0, len(events), packet):
        ev = events[start : start + packet]
        head = np.zeros(1, AEDAT_PACKET)
        head["type"], head["size"], head["ts_offset"] = 1, 8, 4
        head["capacity"] = head["number"] = head["valid"] = len(ev)
        body = np.empty(len(ev), AEDAT_POLARITY)
        x, y = ev["x"].astype(np.uint32), ev["y"].astype(np.uint32)
        body["address"] = (x << 17) | (y << 2) | (ev["p"].astype(np.uint32) << 1) | 1
        body["t"] = ev["t"]
        out += [head.tobytes(), body.tobytes()]
    return b"".join(out)


def read_aedat3_file(path: str | Path, sensor: Sensor = GESTURE_SENSOR) -> np.ndarray:
    """Polarity events of one AEDAT 3.x file (size checked before it is read)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > AEDAT_MAX_BYTES:
            raise DataError(f"{path}: {size} bytes, more than the {AEDAT_MAX_BYTES} allowed")
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return decode_aedat3(data, str(path), sensor)


def read_gesture_labels(path: str | Path) -> np.ndarray:
    """``(class - 1, start_us, end_us)`` rows of a DVS Gesture ``_labels.csv`` file."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or (number == 1 and line.lower().startswith("class")):
            continue
        try:
            cls, start, end = (int(v) for v in line.split(","))
        except ValueError:
            raise DataError(
                f"{path}:{number}: expected 'class,startTime_usec,endTime_usec'"
            ) from None
        if not (1 <= cls <= GESTURE_CLASSES and 0 <= start < end):
            raise DataError(f"{path}:{number}: class must be 1..{GESTURE_CLASSES}, start < end")
        rows.append((cls - 1, start, end))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def gesture_samples(
    aedat: str | Path, labels_csv: str | Path
) -> tuple[list[np.ndarray], np.ndarray]:
    """One recording cut into its labelled gestures, each with its time shifted to start at 0."""
    events = read_aedat3_file(aedat)
    rows = read_gesture_labels(labels_csv)
    samples = []
    for _, start, end in rows:
        lo, hi = np.searchsorted(events["t"], [start, end])
        sample = events[lo:hi].copy()
        sample["t"] -= start
        samples.append(check_events(sample, GESTURE_SENSOR, f"{aedat} gesture at {start} us"))
    return samples, rows[:, 0].copy()


def gesture_trials(root: str | Path, split: str) -> list[tuple[Path, Path]]:
    """``(recording, labels)`` paths of a DVS Gesture split, from ``trials_to_<split>.txt``."""
    if split not in GESTURE_LISTS:
        raise DataError(f"unknown DVS Gesture split {split!r}; choose train or test")
    root = Path(root)
    listing = root / GESTURE_LISTS[split]
    if not listing.is_file():
        raise DataError(
            f"DVS Gesture: missing {listing} (expected {' and '.join(GESTURE_LISTS.values())} "
            "beside the user*.aedat recordings; modspike never downloads data)"
        )
    trials = []
    for name in listing.read_text().split():
        aedat = root / name
        if aedat.suffix != ".aedat" or aedat.name != name:
            raise DataError(f"{listing}: {name!r} is not a .aedat file name in {root}")
        labels = aedat.with_name(aedat.stem + "_labels.csv")
        if not aedat.is_file() or not labels.is_file():
            raise DataError(
                f"DVS Gesture: {listing.name} lists {name}, but {aedat} or {labels} is missing"
            )
        trials.append((aedat, labels))
    return trials
