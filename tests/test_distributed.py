"""Data-parallel training (``torchrun``, DDP with gloo on the CPU): two processes give the result of
one process on the same global batches, and only rank 0 writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file

from modspike.cli import main
from modspike.train.distributed import DataParallel

# an odd global batch (the shares differ by one) that does not divide the 150 samples either
ARGS = ["train", "--cell", "src", "--hidden", "12", "--steps", "6", "--epochs", "2"]
ARGS += ["--limit", "150", "--batch-size", "37", "--quiet"]


def test_shares_cover_the_global_batch():
    for world in (1, 2, 3):
        for n in (1, 2, 37, 64):
            parts = [DataParallel(r, world, "gloo").share(n) for r in range(world)]
            got = np.concatenate([np.arange(n)[p] for p in parts])
            assert np.array_equal(got, np.arange(n))


def _torchrun(out, tmp_path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [*cmd, "-m", "modspike", *ARGS, "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_two_processes_train_what_one_process_trains(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert main([*ARGS, "--out", str(one)]) == 0
    proc = _torchrun(two, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # rank 0 wrote the run directory and printed the summary once; nothing else was written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())
    assert proc.stdout.count('"run_dir"') == 1
    w1, w2 = load_file(one / "model.safetensors"), load_file(two / "model.safetensors")
    assert w1.keys() == w2.keys()
    for k in w1:  # the same weights, up to float summation order
        np.testing.assert_allclose(w2[k], w1[k], rtol=1e-4, atol=1e-5, err_msg=k)
    m1 = json.loads((one / "metrics.json").read_text())
    m2 = json.loads((two / "metrics.json").read_text())
    assert m2["data_parallel"] == {"world_size": 2, "backend": "gloo"}
    for h1, h2 in zip(m1["history"], m2["history"]):
        for key in ("loss", "val_loss", "val_accuracy"):
            assert h2[key] == pytest.approx(h1[key], rel=1e-4), key
    assert m2["best_epoch"] == m1["best_epoch"]
    assert m2["test_accuracy"] == m1["test_accuracy"]
