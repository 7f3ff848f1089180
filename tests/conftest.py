"""Shared fixtures. Fixtures of the export stage are prefixed ``export_``."""

from __future__ import annotations

import pytest
import torch


def export_active_model(
    cell: str, layers: int = 2, recurrent: bool = True, hidden: int = 16, seed: int = 0
):
    """An untrained network whose neurons do fire on rate-coded digits (for identity tests)."""
    from modspike.train.network import ModelConfig, build_model

    torch.manual_seed(seed)
    model = build_model(
        ModelConfig(cell=cell, n_in=64, hidden=hidden, layers=layers, recurrent=recurrent)
    )
    with torch.no_grad():
        for layer in model.layers:
            layer.synapse.weight.mul_(3.0)
            if cell == "src":
                layer.cell.bh.uniform_(-4.6, -3.0)
            elif cell in ("msrc", "bsrc"):
                layer.cell.b.uniform_(3.0, 6.0)
            elif layer.synapse.bias is not None:
                layer.synapse.bias.uniform_(-0.1, 0.2)
    return model.eval()


@pytest.fixture(scope="session")
def export_digits():
    from modspike.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="session")
def export_src_run(tmp_path_factory):
    """A small trained SRC run (digits, T = 25), shared by the export tests."""
    from modspike.train.trainer import TrainConfig, train

    out = tmp_path_factory.mktemp("export_runs") / "src"
    cfg = TrainConfig(cell="src", hidden=48, steps=25, epochs=3, limit=400, seed=0)
    train(cfg, out=out, progress=False)
    return out


@pytest.fixture(scope="session")
def export_lif_run(tmp_path_factory):
    from modspike.train.trainer import TrainConfig, train

    out = tmp_path_factory.mktemp("export_runs") / "lif"
    train(
        TrainConfig(cell="lif", hidden=32, steps=15, epochs=2, limit=300), out=out, progress=False
    )
    return out


@pytest.fixture(scope="session")
def export_ann_run(tmp_path_factory):
    from modspike.train.trainer import TrainConfig, train

    out = tmp_path_factory.mktemp("export_runs") / "ann"
    train(TrainConfig(cell="ann", hidden=32, epochs=3, limit=400), out=out, progress=False)
    return out


@pytest.fixture(scope="session")
def export_src_artifact(tmp_path_factory, export_src_run, export_ann_run):
    """``modspike export`` of the SRC run with the ANN baseline."""
    from modspike.cli import main

    out = tmp_path_factory.mktemp("export_artifacts") / "src"
    code = main(
        ["export", str(export_src_run), "--baseline", str(export_ann_run), "--out", str(out)]
    )
    assert code == 0
    return out


@pytest.fixture
def export_make_model():
    """Factory fixture: ``export_make_model(cell, layers=2, recurrent=True, hidden=16)``."""
    return export_active_model
