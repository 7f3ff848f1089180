"""Event data sets binned into dense frames, with train / validation / test splits.

``load_event_dataset(name, data_dir, split_seed, ...)`` returns an :class:`EventDataset` whose
``x_*`` arrays are uint8 counts ``(N, T, C, H, W)`` (``(N, T, units)`` for SHD) and whose
``encoding`` is the record to store in an artifact. Names:

- ``nmnist``: ``data_dir`` holds N-MNIST's ``Train/`` and ``Test/`` folders;
- ``shd``: ``data_dir`` holds ``shd_train.h5`` and ``shd_test.h5``;
- ``dvs-gesture``: ``data_dir`` holds DVS Gesture's ``user*.aedat`` recordings, their
  ``*_labels.csv`` and ``trials_to_train.txt`` / ``trials_to_test.txt``; one sample per labelled
  gesture, its time counted from the gesture's start;
- ``dvs-digits``: the generated stand-in (:mod:`modspike.events.dvs`), no files; its splits are
  those of :func:`modspike.data.load_digits_dataset` for the same ``split_seed``, which also
  seeds the generator.

The validation split is ``val_fraction`` of the training split, drawn as
:func:`modspike.data.load_idx_dataset` draws it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..splits import split_train_val
from .binning import Binning, BinStats, bin_events, make_binning
from .dvs import StandIn, standin_events
from .readers import (
    GESTURE_CLASSES,
    GESTURE_SENSOR,
    NMNIST_SENSOR,
    SHD_CLASSES,
    SHD_UNITS,
    gesture_samples,
    gesture_trials,
    nmnist_files,
    read_gesture_labels,
    read_nmnist_file,
    read_shd_file,
    shd_file,
)
from .types import Sensor

EVENT_DATASETS = ("nmnist", "shd", "dvs-gesture", "dvs-digits")
# Default window and number of bins (one bin = one network step) of each data set.
DEFAULT_DURATION_US = {
    "nmnist": 300_000,
    "shd": 1_000_000,
    "dvs-gesture": 1_500_000,
    "dvs-digits": StandIn().duration_us,
}
DEFAULT_BINS = {"nmnist": 30, "shd": 100, "dvs-gesture": 30, "dvs-digits": 25}
LOCATIONS = {
    "nmnist": "Train/ and Test/",
    "shd": "shd_train.h5 and shd_test.h5",
    "dvs-gesture": "user*.aedat, their _labels.csv and trials_to_train.txt / trials_to_test.txt",
}
MAX_BYTES = 4 * 2**30  # dense frames of all splits together
SPLITS = ("train", "val", "test")


def sensor_of(name: str) -> Sensor:
    """The sensor of an event data set (known before any file is read)."""
    sensors = {
        "nmnist": NMNIST_SENSOR,
        "shd": Sensor(1, SHD_UNITS, 1),
        "dvs-gesture": GESTURE_SENSOR,
        "dvs-digits": StandIn().sensor,
    }
    if name not in sensors:
        raise DataError(
            f"unknown event data set {name!r}; choose one of {', '.join(EVENT_DATASETS)}"
        )
    return sensors[name]


def binning_of(
    name: str,
    bins: int | None = None,
    bin_us: int | None = None,
    duration_us: int | None = None,
    polarity: str = "split",
    downsample: int = 1,
) -> Binning:
    """The clock of ``name`` for these options (defaults: ``DEFAULT_BINS``,
    ``DEFAULT_DURATION_US``), checked; see :func:`load_event_dataset`."""
    sensor_of(name)
    if bins is None and bin_us is None:
        bins = DEFAULT_BINS[name]
    duration = DEFAULT_DURATION_US[name] if duration_us is None else duration_us
    return make_binning(duration, bins, bin_us, polarity, downsample)


def event_encoding(name: str, split_seed: int, binning: Binning) -> dict:
    """The artifact's ``encoding`` record of ``name`` binned by ``binning`` (what
    :attr:`EventDataset.encoding` holds, computed without reading or generating a sample)."""
    sensor = sensor_of(name)
    encoding = binning.encoding(sensor, name)
    if name == "dvs-digits":
        encoding["source"] = {"generator": "dvs-digits", "seed": split_seed, **asdict(StandIn())}
    return encoding


@dataclass(frozen=True)
class EventDataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    sensor: Sensor
    input_shape: tuple[int, ...]  # one step's input: (C, H, W) or (units,)
    n_classes: int
    encoding: dict
    stats: dict  # per split: samples, events, dropped (after the window), saturated_cells

    @property
    def steps(self) -> int:
        return int(self.encoding["bins"])

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of the ``train``, ``val`` or ``test`` split."""
        if name not in ("train", "val", "test"):
            raise DataError(f"unknown split {name!r}; choose train, val or test")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")


def load_event_dataset(
    name: str,
    data_dir: str | Path | None = None,
    split_seed: int = 0,
    *,
    bins: int | None = None,
    bin_us: int | None = None,
    duration_us: int | None = None,
    polarity: str = "split",
    downsample: int = 1,
    val_fraction: float = 0.1,
    limit: int | None = None,
    max_bytes: int = MAX_BYTES,
    progress: bool = True,
    splits: tuple[str, ...] = SPLITS,
) -> EventDataset:
    """Load and bin an event data set (see the module docstring for names and layouts).

    ``bins`` or ``bin_us`` (default: ``DEFAULT_BINS[name]``) and ``duration_us`` (default:
    ``DEFAULT_DURATION_US[name]``) fix the clock, see :mod:`modspike.events.binning`. ``limit``
    keeps at most that many samples of each split (a seeded random subset, for quick runs).
    Refuses frames that would take more than ``max_bytes`` before allocating them (for N-MNIST,
    DVS Gesture and the stand-in before reading or generating any sample). ``splits``: the splits
    to bin (the others come back empty: a test run reads no training file).
    """
    if name not in EVENT_DATASETS:
        raise DataError(
            f"unknown event data set {name!r}; choose one of {', '.join(EVENT_DATASETS)}"
        )
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be >= 1, got {limit}")
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction}")
    unknown = [k for k in splits if k not in SPLITS]
    if unknown or not splits:
        raise DataError(f"splits must be some of {', '.join(SPLITS)}, got {list(splits)}")
    binning = binning_of(name, bins, bin_us, duration_us, polarity, downsample)
    wanted = tuple(splits)
    if name == "dvs-digits":
        return _load_standin(split_seed, binning, val_fraction, limit, max_bytes, progress, wanted)
    if data_dir is None:
        raise DataError(
            f"{name} is read from local files and never downloaded: pass a data folder holding "
            f"{LOCATIONS[name]}"
        )
    if name == "dvs-gesture":
        return _load_gesture(
            Path(data_dir), split_seed, binning, val_fraction, limit, max_bytes, progress, wanted
        )
    if name == "nmnist":
        return _load_nmnist(
            Path(data_dir), split_seed, binning, val_fraction, limit, max_bytes, progress, wanted
        )
    return _load_shd(
        Path(data_dir), split_seed, binning, val_fraction, limit, max_bytes, progress, wanted
    )


def _splits(train_idx, y_train, test_idx, y_test, seed, val_fraction, limit, wanted=SPLITS) -> dict:
    """``{split: (indices, labels)}`` with the validation split carved from training, each cut to
    a seeded random subset of ``limit`` samples if given; the splits not ``wanted`` are empty."""
    tr, ytr, va, yva = split_train_val(
        np.asarray(train_idx), np.asarray(y_train), val_fraction, seed
    )
    out = {"train": (tr, ytr), "val": (va, yva), "test": (np.asarray(test_idx), np.asarray(y_test))}
    out = out if limit is None else _limit(out, seed, limit)
    return _only(out, wanted)


def _only(splits: dict, wanted) -> dict:
    return {k: (idx, y) if k in wanted else (idx[:0], y[:0]) for k, (idx, y) in splits.items()}


def _check_size(splits: dict, binning: Binning, sensor: Sensor, max_bytes: int, name: str) -> None:
    per_sample = binning.bins * int(np.prod(binning.frame_shape(sensor)))
    total = per_sample * sum(len(idx) for idx, _ in splits.values())
    if total > max_bytes:
        raise DataError(
            f"{name}: the binned frames would take {total / 2**30:.1f} GiB (more than "
            f"{max_bytes / 2**30:.1f} GiB): use fewer bins, more downsampling or a limit"
        )


def _bin_all(n: int, samples, sensor: Sensor, binning: Binning, stats: BinStats) -> np.ndarray:
    """Frames ``(n, T, C, H, W)`` (or ``(n, T, units)`` for a 1-D sensor) of ``n`` samples
    (an iterable of event arrays, consumed one at a time)."""
    frames = np.empty((n, binning.bins, *binning.frame_shape(sensor)), np.uint8)
    for i, ev in enumerate(samples):
        frames[i] = bin_events(ev, sensor, binning, stats)
    units = int(np.prod(binning.frame_shape(sensor)))  # explicit: n may be 0 (a skipped split)
    return frames.reshape(n, binning.bins, units) if sensor.is_1d else frames


def _result(name, arrays, stats, sensor, binning, n_classes, split_seed=0) -> EventDataset:
    encoding = event_encoding(name, split_seed, binning)
    return EventDataset(
        name,
        *(a for split in ("train", "val", "test") for a in arrays[split]),
        sensor=sensor,
        input_shape=binning.input_shape(sensor),
        n_classes=n_classes,
        encoding=encoding,
        stats={k: s.as_dict() for k, s in stats.items()},
    )


def digits_split_indices(split_seed: int = 0, val_fraction: float = 0.1) -> dict:
    """``{split: (indices into sklearn's digits, labels)}``, the splits of
    :func:`modspike.data.load_digits_dataset` for the same seed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    y = load_digits().target.astype(np.int64)
    idx = np.arange(len(y))
    i_tr, i_te, y_tr, y_te = train_test_split(
        idx, y, test_size=0.2, random_state=split_seed, stratify=y
    )
    return _splits(i_tr, y_tr, i_te, y_te, split_seed, val_fraction, None)


def _load_standin(
    split_seed, binning, val_fraction, limit, max_bytes, progress, wanted=SPLITS
) -> EventDataset:
    from sklearn.datasets import load_digits

    cfg = StandIn()
    images = load_digits().images / 16.0
    splits = digits_split_indices(split_seed, val_fraction)
    if limit is not None:
        splits = _limit(splits, split_seed, limit)
    splits = _only(splits, wanted)
    _check_size(splits, binning, cfg.sensor, max_bytes, "dvs-digits")
    arrays, stats = {}, {}
    for key, (idx, y) in splits.items():
        stats[key] = BinStats()
        events = standin_events(images[idx], idx, split_seed, cfg, progress=progress)
        arrays[key] = (_bin_all(len(idx), events, cfg.sensor, binning, stats[key]), y)
    return _result("dvs-digits", arrays, stats, cfg.sensor, binning, 10, split_seed)


def _limit(splits: dict, seed: int, limit: int) -> dict:
    rng = np.random.default_rng([seed, 1])
    out = {}
    for key in ("train", "val", "test"):
        idx, y = splits[key]
        if len(idx) > limit:
            keep = np.sort(rng.choice(len(idx), limit, replace=False))
            idx, y = idx[keep], y[keep]
        out[key] = (idx, y)
    return out


def _load_nmnist(root, split_seed, binning, val_fraction, limit, max_bytes, progress, wanted):
    from tqdm.auto import tqdm

    train_paths, y_train = nmnist_files(root, "train")
    test_paths, y_test = nmnist_files(root, "test")
    paths = train_paths + test_paths
    splits = _splits(
        np.arange(len(train_paths)),
        y_train,
        len(train_paths) + np.arange(len(test_paths)),
        y_test,
        split_seed,
        val_fraction,
        limit,
        wanted,
    )
    _check_size(splits, binning, NMNIST_SENSOR, max_bytes, "nmnist")
    arrays, stats = {}, {}
    for key, (idx, y) in splits.items():
        stats[key] = BinStats()
        files = tqdm(idx, desc=f"nmnist {key}", unit="file", disable=not progress)
        events = (read_nmnist_file(paths[i]) for i in files)
        arrays[key] = (_bin_all(len(idx), events, NMNIST_SENSOR, binning, stats[key]), y)
    return _result("nmnist", arrays, stats, NMNIST_SENSOR, binning, 10)


def _load_shd(root, split_seed, binning, val_fraction, limit, max_bytes, progress, wanted):
    sensor = Sensor(1, SHD_UNITS, 1)
    train, y_train = read_shd_file(shd_file(root, "train"), progress=progress)
    test, y_test = read_shd_file(shd_file(root, "test"), progress=progress)
    samples = train + test
    splits = _splits(
        np.arange(len(train)),
        y_train,
        len(train) + np.arange(len(test)),
        y_test,
        split_seed,
        val_fraction,
        limit,
        wanted,
    )
    _check_size(splits, binning, sensor, max_bytes, "shd")
    arrays, stats = {}, {}
    for key, (idx, y) in splits.items():
        stats[key] = BinStats()
        events = (samples[i] for i in idx)
        arrays[key] = (_bin_all(len(idx), events, sensor, binning, stats[key]), y)
    return _result("shd", arrays, stats, sensor, binning, SHD_CLASSES)


def _load_gesture(root, split_seed, binning, val_fraction, limit, max_bytes, progress, wanted):
    """Labels first (to size the arrays), then one recording at a time, binned as it is cut."""
    from tqdm.auto import tqdm

    train_trials = gesture_trials(root, "train")
    trials = train_trials + gesture_trials(root, "test")
    n_train_trials = len(train_trials)
    labels = [read_gesture_labels(csv)[:, 0] for _, csv in trials]
    y = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    n_train = sum(len(lab) for lab in labels[:n_train_trials])
    splits = _splits(
        np.arange(n_train),
        y[:n_train],
        np.arange(n_train, len(y)),
        y[n_train:],
        split_seed,
        val_fraction,
        limit,
        wanted,
    )
    _check_size(splits, binning, GESTURE_SENSOR, max_bytes, "dvs-gesture")
    frame = (binning.bins, *binning.frame_shape(GESTURE_SENSOR))
    frames = {key: np.zeros((len(idx), *frame), np.uint8) for key, (idx, _) in splits.items()}
    slot = {int(g): (key, i) for key, (idx, _) in splits.items() for i, g in enumerate(idx)}
    stats = {key: BinStats() for key in splits}
    first = np.cumsum([0] + [len(lab) for lab in labels])
    for k in tqdm(range(len(trials)), desc="dvs-gesture", unit="recording", disable=not progress):
        labelled = [g for g in range(first[k], first[k + 1]) if g in slot]
        if not labelled:
            continue
        samples, _ = gesture_samples(*trials[k])
        for g in labelled:
            key, i = slot[g]
            frames[key][i] = bin_events(samples[g - first[k]], GESTURE_SENSOR, binning, stats[key])
    arrays = {key: (frames[key], y_) for key, (_, y_) in splits.items()}
    return _result("dvs-gesture", arrays, stats, GESTURE_SENSOR, binning, GESTURE_CLASSES)
