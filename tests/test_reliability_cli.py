"""Reliability, CLI-value and data-file families (issue 14, defects 5 and 6): generated bad values
for every numeric option of every command, the no-subcommand case, and malformed IDX files. Each
case: ``modspike CMD: error: ...`` on one line, exit 2, before any work, nothing written."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from modspike import data as data_module
from modspike import encoding, validate
from modspike.cli import main
from modspike.data import IDX_FILES, load_dataset
from modspike.errors import DataError

POS_INT = ["nan", "inf", "1e999", "1e12", "99999999999999999999999", "-1", "0", "abc", "", "1.5"]
NONNEG_INT = [v for v in POS_INT if v != "0"] + ["-99999999999999999999999"]
SEED = NONNEG_INT + [str(2**32), str(2**64)]
POS_FLOAT = ["nan", "inf", "-inf", "1e999", "-1e999", "-1", "0", "abc", "", "1e300", "0x1p3"]
OPTIONS = {  # command -> option -> bad values; a positional placeholder is filled in below
    "train": {
        "--steps": POS_INT,
        "--prefix": NONNEG_INT,
        "--hidden": POS_INT + ["100000"],
        "--layers": POS_INT + ["1000"],
        "--epochs": POS_INT,
        "--batch-size": POS_INT,
        "--limit": POS_INT,
        "--seed": SEED,
        "--split-seed": SEED,
        "--warmup-steps": NONNEG_INT + ["9223372036854775808"],
        "--gain": POS_FLOAT,
        "--lr": POS_FLOAT,
    },
    "import-nir": {"--dt": POS_FLOAT + ["2.0"]},
    "run": {"--limit": POS_INT, "--seed": SEED},
    "report": {"--limit": POS_INT, "--seed": SEED},
}
POSITIONAL = {"train": [], "import-nir": ["x.nir"], "run": ["ART"], "report": ["ART"]}


def _cases():
    for command, options in OPTIONS.items():
        for option, values in options.items():
            for value in values:
                yield command, option, value


def _one_line_exit_2(argv, capsys) -> str:
    assert main(argv) == 2, argv
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, (argv, err)
    prefix = f"modspike {argv[0]}: error:" if argv else "modspike: error:"
    assert err[0].startswith(prefix) or err[0].startswith("modspike: error:"), err
    return err[0]


def test_generated_bad_option_values_are_refused_before_any_work(tmp_path, capsys):
    cases = list(_cases())
    assert len(cases) > 150
    out = tmp_path / "out"
    for command, option, value in cases:
        argv = [command, *POSITIONAL[command], f"{option}={value}", "--out", str(out)]
        line = _one_line_exit_2(argv, capsys)
        assert option in line, (argv, line)
        assert not out.exists()


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["train", "--steps", "1000000", "--batch-size", "1000000"], "memory"),
        (["train", "--hidden", "16384", "--layers", "64"], "memory"),
        (["train", "--hs0", "nan", "--cell", "msrc"], "--hs0"),
        (["train", "--hs0", "1:1e999", "--cell", "msrc"], "--hs0"),
        (["analyze", "--drive-range", "0:1:1000000000000"], "--drive-range"),
        (["analyze", "--hs0-range", "0:1:99999999999999999999"], "--hs0-range"),
        (["analyze", "--r", "inf"], "--r"),
        (["analyze", "--bias", "1e999"], "--bias"),
        (["analyze", "--synapse-alpha", "nan"], "--synapse-alpha"),
        (["analyze", "--hs0", "nan,1"], "--hs0"),
        (["export", "RUN", "--bits", "99"], "bits"),
        (["run", "ART", "--backend", "gpu"], "--backend"),
        (["inspect"], "ARTIFACT_DIR"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_combinations_and_strings_are_one_line(argv, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if argv[0] == "export":
        argv = ["export", str(tmp_path / "missing_run"), *argv[2:]]
    if argv[0] not in ("inspect", "frobnicate"):
        argv = [*argv, "--out", str(tmp_path / "out")]
    assert needle in _one_line_exit_2(argv, capsys)
    assert not (tmp_path / "out").exists()


def test_no_subcommand_is_one_line(capsys):
    line = _one_line_exit_2([], capsys)
    assert "a command is required" in line and "train" in line


def test_encoding_names_agree():
    assert validate.ENCODING_NAMES == encoding.ENCODINGS


# --------------------------------------------------------------------------- data files


def _idx(array: np.ndarray) -> bytes:
    array = np.asarray(array, dtype=np.uint8)
    return (
        struct.pack(">HBB", 0, 0x08, array.ndim)
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.tobytes()
    )


def _write_set(folder, n_train=30, n_test=12, **override) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 255, (n_train, 4, 4)),
        "train_labels": rng.integers(0, 10, n_train),
        "test_images": rng.integers(0, 255, (n_test, 4, 4)),
        "test_labels": rng.integers(0, 10, n_test),
    }
    folder.mkdir(exist_ok=True)
    for key, stem in IDX_FILES.items():
        raw = override.get(key)
        if raw is None:
            raw = _idx(arrays[key])
        elif isinstance(raw, np.ndarray):
            raw = _idx(raw)
        (folder / stem).write_bytes(raw)


BAD_DATA = {
    "zero_samples": ({"train_images": _idx(np.zeros((0, 4, 4)))}, "no samples"),
    "labels_out_of_range": ({"test_labels": np.full(12, 10)}, "labels must lie in 0..9"),
    "images_flat": ({"train_images": np.zeros((30, 16))}, "expected (samples, rows, columns)"),
    "labels_2d": ({"train_labels": np.zeros((30, 2))}, "expected (samples,)"),
    "count_mismatch": ({"train_labels": np.zeros(29)}, "disagree on the sample count"),
    "truncated": ({"test_images": _idx(np.zeros((12, 4, 4)))[:-5]}, "expected 192 bytes"),
    "bad_magic": ({"test_labels": b"\x01\x02\x03\x04" + bytes(12)}, "bad magic"),
    "absurd_header": (
        {"train_images": struct.pack(">HBB3I", 0, 8, 3, 2**32 - 1, 2**32 - 1, 2**32 - 1)},
        "expected",
    ),
    "sizes_differ": ({"test_images": np.zeros((12, 5, 5))}, "differ in size"),
    "too_few_for_validation": (
        {"train_images": np.zeros((3, 4, 4)), "train_labels": np.zeros(3)},
        "too few",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_malformed_idx_files_are_refused(case, tmp_path, capsys):
    override, needle = BAD_DATA[case]
    folder = tmp_path / "idx"
    _write_set(folder, **override)
    with pytest.raises(DataError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        load_dataset("mnist", folder)
    out = tmp_path / "run"
    argv = ["train", "--data", "mnist", "--data-dir", str(folder), "--quiet", "--out", str(out)]
    assert needle in _one_line_exit_2(argv, capsys)
    assert not out.exists()


def test_gzip_bomb_is_bounded(tmp_path, monkeypatch):
    folder = tmp_path / "idx"
    _write_set(folder)
    stem = IDX_FILES["train_images"]
    (folder / stem).unlink()
    (folder / f"{stem}.gz").write_bytes(gzip.compress(bytes(1 << 20)))  # 1 MiB of zeros: ~1 KiB
    monkeypatch.setattr(data_module, "MAX_IDX_BYTES", 1 << 16)
    with pytest.raises(DataError, match="decompresses to more than"):
        load_dataset("mnist", folder)


def test_a_small_valid_idx_set_trains(tmp_path, capsys):
    folder = tmp_path / "idx"
    _write_set(folder)
    out = tmp_path / "run"
    argv = ["train", "--data", "mnist", "--data-dir", str(folder), "--cell", "lif", "--hidden", "4"]
    argv += ["--steps", "3", "--epochs", "1", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    assert (out / "model.safetensors").is_file()
