"""Data sets shared by every stage, found by name in one registry (:func:`source`, :func:`names`).
Nothing is ever downloaded.

* **images** (``kind = "images"``): scikit-learn's shipped ``digits`` and ``mnist`` /
  ``fashion-mnist`` from local IDX files; intensities in [0, 1], float32 ``(samples, features)``,
  coded into spikes by the ``rate`` or ``latency`` encoding (:mod:`modspike.encoding`);
* **event data** (``kind = "events"``): ``dvs-digits`` (generated), ``nmnist``, ``shd``,
  ``dvs-gesture`` from local files (:mod:`modspike.events`), binned into uint8 frames
  ``(samples, T, C, H, W)`` (``(samples, T, units)`` for SHD) on one clock; the ``events``
  encoding replays the frames, one bin per step, and records the binning (:class:`EventOptions`)
  so that ``modspike run`` bins the same way.

Train / validation / test splits are fixed by ``split_seed``.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError
from .splits import split_train_val

FEATURES = {"digits": 64, "mnist": 784, "fashion-mnist": 784}  # inputs per sample (images)
IMAGES, EVENTS = "images", "events"
SPLITS = ("train", "val", "test")
N_CLASSES = 10
MAX_IDX_BYTES = 1 << 30  # decompressed; MNIST's largest file is 47 MB
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...]
    n_classes: int
    input_shape: tuple[int, ...] | None = None  # one step's input; None: (features,)
    encoding: Mapping | None = None  # event data: the record of their binning (events encoding)

    @property
    def n_features(self) -> int:
        """Inputs per step."""
        if self.input_shape is not None:
            return int(np.prod(self.input_shape))
        return int(self.x_train.shape[1])

    @property
    def kind(self) -> str:
        return IMAGES if self.encoding is None else EVENTS

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of the ``train``, ``val`` or ``test`` split."""
        if name not in SPLITS:
            raise DataError(f"unknown split {name!r}; choose train, val or test")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")


_split_train_val = split_train_val


def load_digits_dataset(split_seed: int = 0, val_fraction: float = 0.1) -> Dataset:
    """scikit-learn's 8x8 digits (1797 samples), scaled by 1/16; 20 % test, then 10 % validation."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=0.2, random_state=split_seed, stratify=y
    )
    x_tr, y_tr, x_va, y_va = _split_train_val(x_tr, y_tr, val_fraction, split_seed)
    return Dataset("digits", x_tr, y_tr, x_va, y_va, x_te, y_te, (8, 8), 10)


def _open_idx(directory: Path, stem: str) -> bytes:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            try:
                if candidate.stat().st_size > MAX_IDX_BYTES:
                    raise DataError(f"{candidate}: larger than {MAX_IDX_BYTES} bytes")
                if candidate.suffix != ".gz":
                    return candidate.read_bytes()
                with gzip.open(candidate, "rb") as f:  # bounded: a small .gz can inflate to GBs
                    raw = f.read(MAX_IDX_BYTES + 1)
            except (OSError, EOFError, zlib.error) as exc:
                raise DataError(f"{candidate}: not a readable file ({exc})") from None
            if len(raw) > MAX_IDX_BYTES:
                raise DataError(f"{candidate}: decompresses to more than {MAX_IDX_BYTES} bytes")
            return raw
    raise FileNotFoundError(stem)


def read_idx(data: bytes, source: str = "IDX data") -> np.ndarray:
    """Parse an IDX file (the MNIST container): big-endian magic, dims, then unsigned bytes."""
    if len(data) < 4:
        raise DataError(f"{source}: too short to be an IDX file")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08 or ndim < 1:
        raise DataError(f"{source}: not an unsigned-byte IDX file (bad magic number)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{source}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = 1
    for d in dims:  # Python integers: no overflow for absurd headers
        expected *= d
    if dims[0] == 0:
        raise DataError(f"{source}: holds no samples (first dimension is 0)")
    if len(data) - header != expected:
        raise DataError(
            f"{source}: expected {expected} bytes of data for shape {dims}, found {len(data) - header}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_idx_dataset(
    name: str, data_dir: str | Path | None, split_seed: int = 0, val_fraction: float = 0.1
) -> Dataset:
    """MNIST or Fashion-MNIST from the four standard IDX files (optionally ``.gz``) in ``data_dir``."""
    expected = ", ".join(IDX_FILES.values())
    if data_dir is None:
        raise DataError(
            f"{name} is read from local IDX files and never downloaded: pass --data-dir DIR "
            f"holding {expected} (each may end in .gz)"
        )
    directory = Path(data_dir)
    arrays = {}
    missing = []
    for key, stem in IDX_FILES.items():
        try:
            arrays[key] = read_idx(_open_idx(directory, stem), str(directory / stem))
        except FileNotFoundError:
            missing.append(stem)
    if missing:
        raise DataError(
            f"{name}: missing {', '.join(missing)} in {directory} (expected {expected}, each may "
            "end in .gz; modspike never downloads data)"
        )
    for key, array in arrays.items():
        want = 1 if key.endswith("labels") else 3
        if array.ndim != want or 0 in array.shape:
            raise DataError(
                f"{name}: {IDX_FILES[key]} in {directory} has shape {array.shape}; expected"
                f" {'(samples,)' if want == 1 else '(samples, rows, columns)'} and no empty axis"
            )
        if want == 1 and int(array.max()) >= N_CLASSES:
            raise DataError(
                f"{name}: {IDX_FILES[key]} in {directory} holds label {int(array.max())}; labels"
                f" must lie in 0..{N_CLASSES - 1}"
            )
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise DataError(f"{name}: train and test images in {directory} differ in size")
    x_tr = arrays["train_images"].reshape(len(arrays["train_images"]), -1).astype(np.float32) / 255
    x_te = arrays["test_images"].reshape(len(arrays["test_images"]), -1).astype(np.float32) / 255
    y_tr = arrays["train_labels"].astype(np.int64)
    y_te = arrays["test_labels"].astype(np.int64)
    if len(x_tr) != len(y_tr) or len(x_te) != len(y_te):
        raise DataError(
            f"{name}: image and label files in {directory} disagree on the sample count"
        )
    x_tr, y_tr, x_va, y_va = _split_train_val(x_tr, y_tr, val_fraction, split_seed)
    shape = tuple(int(d) for d in arrays["train_images"].shape[1:])
    if len(x_tr) == 0 or len(x_va) == 0:
        raise DataError(
            f"{name}: {len(x_tr) + len(x_va)} training samples in {directory} are too few to split"
            f" off a validation set ({val_fraction:.0%})"
        )
    return Dataset(name, x_tr, y_tr, x_va, y_va, x_te, y_te, shape, N_CLASSES)


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class EventOptions:
    """How event data are binned (:func:`modspike.events.make_binning`): ``bins`` or ``bin_us``
    (default: the data set's number of bins), the window ``duration_us`` (default: the data
    set's), ``polarity`` (``split`` ON/OFF channels or ``merge``) and ``downsample`` (k x k
    pixel blocks summed)."""

    bins: int | None = None
    bin_us: int | None = None
    duration_us: int | None = None
    polarity: str = "split"
    downsample: int = 1

    @property
    def given(self) -> bool:
        return self != EventOptions()

    def flags(self) -> str:
        """The command-line options that set these values (for messages)."""
        names = {"bins": "--bins", "bin_us": "--bin-us", "downsample": "--downsample"}
        return ", ".join(v for k, v in names.items() if getattr(self, k) != getattr(NO_OPTIONS, k))

    @classmethod
    def from_encoding(cls, record: Mapping) -> EventOptions:
        """The options that re-create an ``events`` encoding record (an artifact's manifest):
        ``bins`` over ``duration_us`` gives the same frames as the width it was made with."""
        try:
            polarity = str(record.get("polarity", "split"))
            return cls(
                bins=int(record["bins"]),
                duration_us=int(record["duration_us"]),
                polarity="split" if polarity == "none" else polarity,
                downsample=int(record.get("downsample", 1)),
            )
        except (KeyError, TypeError, ValueError):
            raise DataError("the events encoding lacks its binning (bins, duration_us)") from None


NO_OPTIONS = EventOptions()


@dataclass(frozen=True)
class DataSource:
    """A data set by name: ``kind`` (``images`` or ``events``), what ``--data-dir`` must hold
    (``location``; None: nothing), ``load(data_dir, split_seed, options, splits, progress)`` and
    ``input_shape(options)`` (one step's input, known before loading)."""

    name: str
    kind: str
    description: str
    location: str | None
    loader: Callable
    shape: Callable

    @property
    def encodings(self) -> tuple[str, ...]:
        """The input encodings of :mod:`modspike.encoding` that fit the data."""
        return (EVENTS,) if self.kind == EVENTS else ("rate", "latency")

    def input_shape(self, options: EventOptions = NO_OPTIONS) -> tuple[int, ...]:
        return tuple(int(d) for d in self.shape(self._checked(options)))

    def features(self, options: EventOptions = NO_OPTIONS) -> int:
        return int(np.prod(self.input_shape(options)))

    def _checked(self, options: EventOptions) -> EventOptions:
        if self.kind != EVENTS and options.given:
            event_sets = ", ".join(names(EVENTS))
            raise DataError(f"{options.flags()}: binning applies to event data ({event_sets})")
        return options

    def load(
        self,
        data_dir: str | Path | None = None,
        split_seed: int = 0,
        options: EventOptions = NO_OPTIONS,
        splits: tuple[str, ...] = SPLITS,
        progress: bool = False,
    ) -> Dataset:
        return self.loader(data_dir, split_seed, self._checked(options), tuple(splits), progress)


def _images(name: str) -> Callable:
    def load(data_dir, split_seed, options, splits, progress) -> Dataset:
        if name == "digits":
            return load_digits_dataset(split_seed)
        return load_idx_dataset(name, data_dir, split_seed)

    return load


def _events(name: str) -> Callable:
    def load(data_dir, split_seed, options, splits, progress) -> Dataset:
        from .events import load_event_dataset

        ev = load_event_dataset(
            name,
            data_dir,
            split_seed,
            bins=options.bins,
            bin_us=options.bin_us,
            duration_us=options.duration_us,
            polarity=options.polarity,
            downsample=options.downsample,
            progress=progress,
            splits=splits,
        )
        arrays = [a for key in SPLITS for a in ev.split(key)]
        return Dataset(name, *arrays, ev.input_shape, ev.n_classes, ev.input_shape, ev.encoding)

    return load


def _event_shape(name: str) -> Callable:
    def shape(options: EventOptions) -> tuple[int, ...]:
        from .events.datasets import binning_of, sensor_of

        binning = binning_of(name, **vars(options))
        return binning.input_shape(sensor_of(name))

    return shape


def event_encoding(name: str, split_seed: int = 0, options: EventOptions = NO_OPTIONS) -> dict:
    """The ``events`` encoding record of an event data set binned by ``options`` (what its loaded
    :class:`Dataset` carries in ``encoding``), without reading a file."""
    from .events.datasets import binning_of
    from .events.datasets import event_encoding as record

    src = source(name)
    if src.kind != EVENTS:
        raise DataError(f"{name} holds images, not event data")
    return record(name, split_seed, binning_of(name, **vars(options)))


_SOURCES: dict[str, DataSource] = {}


def register(src: DataSource) -> DataSource:
    _SOURCES[src.name] = src
    return src


for _name, _text in (
    ("digits", "scikit-learn's 8x8 digits (shipped)"),
    ("mnist", "MNIST from the four IDX files in --data-dir"),
    ("fashion-mnist", "Fashion-MNIST from the four IDX files in --data-dir"),
):
    register(
        DataSource(
            _name,
            IMAGES,
            _text,
            None if _name == "digits" else "the four IDX files (each may end in .gz)",
            _images(_name),
            lambda options, n=FEATURES[_name]: (n,),
        )
    )
for _name, _text, _where in (
    ("dvs-digits", "the digits seen by a simulated event camera (generated)", None),
    ("nmnist", "N-MNIST recordings", "Train/ and Test/ (one folder per digit of .bin files)"),
    ("shd", "Spiking Heidelberg Digits", "shd_train.h5 and shd_test.h5"),
    ("dvs-gesture", "DVS128 Gesture", "user*.aedat, *_labels.csv, trials_to_*.txt"),
):
    register(DataSource(_name, EVENTS, _text, _where, _events(_name), _event_shape(_name)))


def names(kind: str | None = None) -> list[str]:
    """Names of the data sets (of one ``kind``: ``images`` or ``events``)."""
    return [s.name for s in _SOURCES.values() if kind is None or s.kind == kind]


def source(name: str) -> DataSource:
    """The data set registered as ``name``; a :class:`DataError` naming the known ones if none."""
    try:
        return _SOURCES[name]
    except (KeyError, TypeError):
        raise DataError(f"unknown data set {name!r}; choose one of {', '.join(names())}") from None


DATASETS = tuple(names())


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    split_seed: int = 0,
    options: EventOptions = NO_OPTIONS,
    splits: tuple[str, ...] = SPLITS,
    progress: bool = False,
) -> Dataset:
    """Load a data set by name (:func:`names`); ``options``: how event data are binned;
    ``splits``: the splits event data are binned for (the others come back empty)."""
    from .validate import MAX_SEED, integer

    integer(split_seed, "--split-seed", lo=0, hi=MAX_SEED, error=DataError)
    return source(name).load(data_dir, split_seed, options, splits, progress)
