"""Data sets shared by every stage: scikit-learn's shipped digits, and MNIST / Fashion-MNIST from
local IDX files. Nothing is ever downloaded.

Every loader returns intensities in [0, 1] as float32 arrays of shape (samples, features), with
train / validation / test splits fixed by ``split_seed``.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError

DATASETS = ("digits", "mnist", "fashion-mnist")
FEATURES = {"digits": 64, "mnist": 784, "fashion-mnist": 784}  # inputs per sample
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

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of the ``train``, ``val`` or ``test`` split."""
        if name not in ("train", "val", "test"):
            raise DataError(f"unknown split {name!r}; choose train, val or test")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")


def _split_train_val(x, y, val_fraction: float, seed: int):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_val = int(round(val_fraction * len(x)))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


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


def load_dataset(name: str, data_dir: str | Path | None = None, split_seed: int = 0) -> Dataset:
    """Load a data set by name (``digits``, ``mnist``, ``fashion-mnist``)."""
    from .validate import MAX_SEED, integer

    integer(split_seed, "--split-seed", lo=0, hi=MAX_SEED, error=DataError)
    if name == "digits":
        return load_digits_dataset(split_seed)
    if name in ("mnist", "fashion-mnist"):
        return load_idx_dataset(name, data_dir, split_seed)
    raise DataError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
