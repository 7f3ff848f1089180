"""Reliability, output-target and full-disk families (issue 14, defects 2 and 4): the ``--out``
policy, ``--force`` replacing atomically, stale temporary folders, and out-of-space errors (an
injected ``ENOSPC``, and a real small tmpfs where this machine lets a test mount one)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nir
import pytest
import torch
from conftest import export_active_model, export_graph

from modspike import outputs
from modspike.cli import main
from modspike.errors import OutOfSpaceError, OutputError
from modspike.fixedpoint import WeightFormat
from modspike.rundir import save_run
from modspike.train.modules import ModelConfig, build_model
from modspike.train.trainer import TrainConfig

MODSPIKE = [sys.executable, "-m", "modspike"]


@pytest.fixture(scope="module")
def nir_file(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reliability_outputs")
    model = export_active_model("lif", layers=1, recurrent=False, hidden=8)
    path = tmp / "m.nir"
    info = {"encoding": {"name": "rate", "steps": 4, "gain": 0.8, "prefix": 0}, "data": "digits"}
    nir.write(path, export_graph(model, WeightFormat(), info=info)[0])
    return path


def _run_dir(root: Path, hidden: int = 8) -> Path:
    torch.manual_seed(0)
    cfg = ModelConfig(cell="lif", n_in=64, hidden=hidden, layers=1, n_out=10)
    train = vars(TrainConfig(cell="lif", hidden=hidden, steps=4))
    return save_run(root, cfg.to_dict(), train, build_model(cfg).state_dict(), {})


def _ok(argv, capsys) -> None:
    assert main(argv) == 0, argv
    capsys.readouterr()  # the notes of a successful command


def _exit_2(argv, capsys, needle: str) -> None:
    assert main(argv) == 2, argv
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"modspike {argv[0]}: error:"), err
    assert needle in err[0], err


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# --------------------------------------------------------------------------- the --out policy


def test_existing_output_is_kept_unless_force(nir_file, tmp_path, capsys):
    out = tmp_path / "art"
    argv = ["import-nir", str(nir_file), "--out", str(out)]
    _ok(argv, capsys)
    before = _tree(out)
    _exit_2(argv, capsys, "pass --force")
    assert _tree(out) == before
    (out / "stale.txt").write_text("from the old artifact")
    _ok([*argv, "--force"], capsys)
    assert not (out / "stale.txt").exists() and (out / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"]  # no temporary left


def test_force_never_replaces_a_folder_that_is_not_a_modspike_output(nir_file, tmp_path, capsys):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"precious")
    for extra in ([], ["--force"]):
        argv = ["import-nir", str(nir_file), "--out", str(out), *extra]
        _exit_2(argv, capsys, "--force" if not extra else "not an earlier modspike output")
    assert (out / "holiday.jpg").read_bytes() == b"precious"


def test_an_empty_folder_is_used_without_force(nir_file, tmp_path, capsys):
    out = tmp_path / "empty"
    out.mkdir()
    _ok(["import-nir", str(nir_file), "--out", str(out)], capsys)
    assert (out / "model.nir").is_file()


def test_force_keeps_the_old_output_when_the_new_one_fails(tmp_path, capsys):
    """export --force whose baseline check fails after model.nir was written: the old artifact
    stays complete, byte for byte."""
    run = _run_dir(tmp_path / "run")
    out = tmp_path / "art"
    _ok(["export", str(run), "--out", str(out)], capsys)
    before = _tree(out)
    argv = ["export", str(run), "--baseline", str(run), "--force", "--out", str(out)]
    _exit_2(argv, capsys, "not an ANN run")
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art", "run"]


@pytest.mark.parametrize(
    "case,needle",
    [
        ("dot", "name a new folder"),
        ("dotdot", "name a new folder"),
        ("cwd_parent", "current folder or one of its parents"),
        ("empty", "name a new folder"),
        ("parent_is_file", "is a file, not a folder"),
        ("inside_source", "overlaps the input"),
        ("contains_source", "overlaps the input"),
        ("same_file", "overlaps the input"),
        ("file_for_folder", "is a file; name a folder"),
        ("folder_for_file", "is a folder; name a file"),
        ("existing_result", "pass --force"),
        ("data_dir", "would replace"),
    ],
)
def test_unsafe_targets_give_one_line(case, needle, nir_file, tmp_path, capsys, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("keep")
    monkeypatch.chdir(work)
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(nir_file, src / "m.nir")
    (tmp_path / "a_file").write_text("x")
    art = tmp_path / "art"
    if case in ("folder_for_file", "existing_result"):
        _ok(["import-nir", str(nir_file), "--out", str(art)], capsys)
    nir_path = str(src / "m.nir")
    argv = {
        "dot": ["import-nir", nir_path, "--out", "."],
        "dotdot": ["import-nir", nir_path, "--out", ".."],
        "cwd_parent": ["import-nir", nir_path, "--out", str(tmp_path), "--force"],
        "empty": ["import-nir", nir_path, "--out", ""],
        "parent_is_file": ["import-nir", nir_path, "--out", str(tmp_path / "a_file" / "x")],
        "inside_source": ["import-nir", nir_path, "--out", str(src / "m.nir" / "a")],
        "contains_source": ["import-nir", nir_path, "--out", str(src), "--force"],
        "same_file": ["import-nir", nir_path, "--out", nir_path, "--force"],
        "file_for_folder": ["import-nir", nir_path, "--out", str(tmp_path / "a_file"), "--force"],
        "folder_for_file": ["run", str(art), "--out", str(tmp_path), "--force"],
        "existing_result": ["run", str(art), "--out", str(tmp_path / "a_file")],
        "data_dir": ["run", str(art), "--data-dir", str(work), "--out", str(tmp_path), "--force"],
    }[case]
    if case == "parent_is_file":
        needle = "is a file"
    if case == "inside_source":
        needle = "is a file"  # the parent m.nir is a file: caught first
    if case in ("folder_for_file", "data_dir"):
        needle = "current folder or one of its parents" if case == "folder_for_file" else needle
    if case == "data_dir":
        argv = ["run", str(art), "--data-dir", str(work), "--out", str(work / "..")]
        needle = "name a new folder"
    _exit_2(argv, capsys, needle)
    assert (work / "keep.txt").read_text() == "keep" and (src / "m.nir").is_file()
    assert sorted(p.name for p in work.iterdir()) == ["keep.txt"]


def test_run_result_file_policy(nir_file, tmp_path, capsys):
    art = tmp_path / "art"
    _ok(["import-nir", str(nir_file), "--out", str(art)], capsys)
    (tmp_path / "digits").mkdir()
    (tmp_path / "res").mkdir()
    _exit_2(["run", str(art), "--limit", "2", "--quiet", "--out", str(tmp_path / "res")], capsys,
            "is a folder")  # fmt: skip
    result = tmp_path / "r.json"
    result.write_text("old")
    argv = ["run", str(art), "--data", "digits", "--limit", "2", "--quiet", "--out", str(result)]
    _exit_2(argv, capsys, "pass --force")
    assert result.read_text() == "old"


# --------------------------------------------------------------------------- stale temporaries


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporaries_of_dead_processes_are_removed(nir_file, tmp_path, capsys):
    dead = _dead_pid()
    stale_dir = tmp_path / f".art.{outputs.TMP_TAG}-{dead}-abcd1234"
    stale_old = tmp_path / f".other.{outputs.OLD_TAG}-{dead}-ef56"
    stale_file = tmp_path / f".r.json.{outputs.TMP_TAG}-{dead}-0a0b"
    alive = tmp_path / f".x.{outputs.TMP_TAG}-{os.getppid()}-cafe"
    lookalike = tmp_path / f".x.{outputs.TMP_TAG}-{dead}-no.such"  # not our naming: kept
    for p in (stale_dir, stale_old, alive, lookalike):
        p.mkdir()
        (p / "partial").write_text("x")
    stale_file.write_text("{")
    _ok(["import-nir", str(nir_file), "--out", str(tmp_path / "art")], capsys)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["art", alive.name, lookalike.name]), left


# --------------------------------------------------------------------------- full disk


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_out_of_space_inside_a_writer_leaves_nothing(tmp_path):
    target = tmp_path / "new" / "parents" / "out"  # the parents it created go too
    with pytest.raises(OutOfSpaceError, match="no space left"):
        with outputs.atomic_directory(target) as tmp:
            (tmp / "a").write_text("partial")
            _no_space()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OutputError, match="cannot write there"):
        with outputs.atomic_file(tmp_path / "r.json"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["import-nir", "export", "run", "train"])
def test_out_of_space_via_the_cli_is_one_line_and_leaves_nothing(
    command, nir_file, tmp_path, capsys, monkeypatch
):
    run = _run_dir(tmp_path / "inputs" / "run")
    art = tmp_path / "inputs" / "art"
    _ok(["import-nir", str(nir_file), "--out", str(art)], capsys)
    out_root = tmp_path / "disk"
    out_root.mkdir()
    real_write_bytes, real_write_text = Path.write_bytes, Path.write_text

    def full(method):
        def write(self, *args, **kwargs):
            if out_root in self.parents:
                _no_space()
            return method(self, *args, **kwargs)

        return write

    monkeypatch.setattr(Path, "write_bytes", full(real_write_bytes))
    monkeypatch.setattr(Path, "write_text", full(real_write_text))
    import safetensors.torch

    monkeypatch.setattr(safetensors.torch, "save_file", lambda *a, **k: _no_space())
    argv = {
        "import-nir": ["import-nir", str(nir_file)],
        "export": ["export", str(run)],
        "run": ["run", str(art), "--limit", "2", "--quiet"],
        "train": ["train", "--cell", "lif", "--hidden", "4", "--steps", "2", "--epochs", "1"]
        + ["--limit", "40", "--quiet"],
    }[command]
    out = out_root / ("r.json" if command == "run" else "out")
    _exit_2([*argv, "--out", str(out)], capsys, "no space left")
    assert list(out_root.iterdir()) == []


def _can_mount_tmpfs() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=16k tmpfs /mnt 2>/dev/null"],
        capture_output=True,
        timeout=20,
    )
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _can_mount_tmpfs(), reason="no user namespace to mount a tmpfs in")
def test_a_real_full_tmpfs_gives_one_line_and_nothing_left(tmp_path):
    """A 32 KiB tmpfs (mounted in a private user + mount namespace): import-nir of a 70 KB file
    and export of a run fail with one line and leave the file system empty."""
    model = export_active_model("lif", layers=1, recurrent=False, hidden=256)
    big = tmp_path / "big.nir"
    nir.write(big, export_graph(model, WeightFormat())[0], "lzf")
    assert big.stat().st_size > 40_000
    run = _run_dir(tmp_path / "run", hidden=256)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    cmd = " ".join(MODSPIKE)
    script = f"""
mount -t tmpfs -o size=32k tmpfs {mnt} || exit 99
{cmd} import-nir {big} --out {mnt}/a 2> {tmp_path}/err1; echo "rc1=$?"
{cmd} export {run} --out {mnt}/b 2> {tmp_path}/err2; echo "rc2=$?"
echo "left=$(ls -A {mnt} | wc -l)"
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert "rc1=2" in proc.stdout and "rc2=2" in proc.stdout and "left=0" in proc.stdout, (
        proc.stdout,
        proc.stderr,
    )
    for name in ("err1", "err2"):
        lines = (tmp_path / name).read_text().strip().splitlines()
        assert len(lines) == 1 and "no space left" in lines[0], lines


def test_write_json_results_are_complete_json(nir_file, tmp_path):
    """The atomic file writer used by run --out produces the whole document."""
    outputs.write_text_atomic(tmp_path / "x.json", json.dumps({"a": list(range(1000))}))
    assert len(json.loads((tmp_path / "x.json").read_text())["a"]) == 1000
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
