"""Data loading (shipped digits, local IDX files, clear errors) and input encoders."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from modspike.cli import main
from modspike.data import IDX_FILES, load_dataset, read_idx
from modspike.encoding import latency_encode, rate_encode
from modspike.errors import DataError


def test_digits_splits_are_fixed_by_seed_and_disjoint():
    a, b, c = (
        load_dataset("digits", split_seed=0),
        load_dataset("digits", split_seed=0),
        load_dataset("digits", split_seed=1),
    )
    assert np.array_equal(a.x_test, b.x_test) and np.array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.x_test, c.x_test)
    assert len(a.x_test) == 360 and len(a.x_train) + len(a.x_val) == 1437
    assert a.x_train.dtype == np.float32 and 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0
    rows = {r.tobytes() for r in a.x_train}
    assert (
        sum(r.tobytes() in rows for r in a.x_test) < 5
    )  # (a few digits images repeat in the data)


def _write_idx(path, array: np.ndarray, compress: bool) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    if compress:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_files_load_from_a_local_folder(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = {
        "train": rng.integers(0, 256, (50, 28, 28)),
        "test": rng.integers(0, 256, (20, 28, 28)),
    }
    _write_idx(tmp_path / IDX_FILES["train_images"], images["train"], compress)
    _write_idx(tmp_path / IDX_FILES["train_labels"], rng.integers(0, 10, 50), compress)
    _write_idx(tmp_path / IDX_FILES["test_images"], images["test"], compress)
    _write_idx(tmp_path / IDX_FILES["test_labels"], rng.integers(0, 10, 20), compress)
    ds = load_dataset("fashion-mnist", tmp_path)
    assert ds.image_shape == (28, 28) and ds.n_features == 784
    assert len(ds.x_train) == 45 and len(ds.x_val) == 5 and len(ds.x_test) == 20
    assert np.allclose(ds.x_test[0], images["test"][0].reshape(-1) / 255)


def test_missing_idx_files_name_what_is_expected(tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset("mnist", tmp_path)
    msg = str(err.value)
    assert all(stem in msg for stem in IDX_FILES.values()) and "never" in msg
    with pytest.raises(DataError, match="--data-dir"):
        load_dataset("mnist", None)


def test_corrupt_idx_is_a_data_error():
    with pytest.raises(DataError, match="magic"):
        read_idx(b"\x01\x02\x03\x04" + b"\x00" * 8)
    header = struct.pack(">HBB", 0, 8, 1) + struct.pack(">I", 10)
    with pytest.raises(DataError, match="expected 10 bytes"):
        read_idx(header + b"\x00" * 3)


def test_missing_data_via_cli_is_one_line_and_exit_2(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        ["train", "--data", "mnist", "--data-dir", str(tmp_path), "--out", str(out), "--quiet"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "train-images-idx3-ubyte" in err
    assert not out.exists()


def test_rate_code_statistics_and_determinism():
    x = torch.tensor([[0.0, 0.25, 0.5, 1.0]]).repeat(500, 1)
    gen = torch.Generator().manual_seed(3)
    s = rate_encode(x, steps=40, gain=0.8, prefix=5, generator=gen)
    assert s.shape == (45, 500, 4)
    assert s[:5].sum() == 0, "silent prefix"
    rates = s[5:].mean(dim=(0, 1))
    assert torch.allclose(rates, torch.tensor([0.0, 0.2, 0.4, 0.8]), atol=0.01)
    again = rate_encode(x, 40, 0.8, 5, generator=torch.Generator().manual_seed(3))
    other = rate_encode(x, 40, 0.8, 5, generator=torch.Generator().manual_seed(4))
    assert torch.equal(s, again) and not torch.equal(s, other)
    assert set(s.unique().tolist()) <= {0.0, 1.0}


def test_latency_code_one_spike_brighter_first():
    x = torch.tensor([[1.0, 0.5, 0.1, 0.0]])
    s = latency_encode(x, steps=11)
    assert s.sum(0).tolist() == [[1.0, 1.0, 1.0, 0.0]]
    first = s.argmax(0)[0].tolist()
    assert first[:3] == [0, 5, 9]
