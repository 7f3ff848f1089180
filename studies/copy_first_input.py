"""Copy-first-input (the BRC paper's benchmark 1, fidelity.md 4): models, data, training.

Task (``nvecoven/BRC@5563e1e:benchmark1.py:43-46``): a sequence of ``T`` i.i.d. N(0, 1) scalars; the
target is the first one, read out after the last step; MSE. Predicting 0 scores 1.0.

Models: two recurrent layers (``TorchLayer`` s of the BRC / nBRC cell kinds, or of the GRU / LSTM
kinds of :mod:`.rnn_cells`), run by the package's step loop, and a linear readout of the last
layer's last output. Training (the authors' ``9713007`` rule): Adam,
batches drawn from a fixed training set, test MSE every ``eval_every`` steps, stop once it is below
``stop_below`` or at ``cap`` steps. Updates whose gradients are not finite are skipped
(``1b99539:Models/CustomRNN.py:22-28``) and counted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from modspike import registry
from modspike.step import run
from modspike.train.modules import TorchLayer, program_of

from .rnn_cells import RNN_TYPES, rnn_layer


def _kind_layer(cell: str, n_in: int, n: int, halves: bool) -> TorchLayer:
    if halves:
        raise ValueError("partial warm-up (two half-width cells) is for GRU and LSTM layers")
    kind = registry.cell(cell)
    return TorchLayer(n_in, kind, registry.require(kind, "trainable")(n, None), recurrent=False)


def _rnn_builder(cell: str):
    return lambda n_in, n, halves: rnn_layer(cell, n_in, n, halves)


COPY_MODELS = {
    "brc": lambda n_in, n, halves: _kind_layer("brc", n_in, n, halves),
    "nbrc": lambda n_in, n, halves: _kind_layer("nbrc", n_in, n, halves),
    **{cell: _rnn_builder(cell) for cell in RNN_TYPES},
}
"""The copy task's layers by name: the BRC / nBRC cell kinds, the GRU / LSTM baselines."""


def copy_data(n: int, length: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` sequences ``x`` (length, n, 1) of N(0, 1) scalars and their targets ``x[0]`` (n,)."""
    if n < 1 or length < 1:
        raise ValueError("n and length must be at least 1")
    x = torch.randn(length, n, 1, generator=gen)
    return x, x[0, :, 0].clone()


class CopyModel(nn.Module):
    """``layers`` recurrent layers of ``hidden`` units and a linear readout of the last step.

    ``halves=True`` (GRU / LSTM only): each layer is two half-width cells, for partial warm-up.
    """

    def __init__(
        self, cell: str, hidden: int = 100, layers: int = 2, n_in: int = 1, halves: bool = False
    ):
        super().__init__()
        if cell not in COPY_MODELS:
            raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(COPY_MODELS)}")
        self.cell = cell
        sizes = [n_in] + [hidden] * layers
        build = COPY_MODELS[cell]
        self.layers = nn.ModuleList(build(a, hidden, halves) for a in sizes[:-1])
        self.readout = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (T, B, n_in) -> prediction (B,)."""
        out = run(program_of(self.layers, device=x.device), x, record=False)
        return self.readout(out.state[-1][0]).squeeze(-1)


@dataclass
class CopyConfig:
    length: int = 100  # T
    hidden: int = 100
    layers: int = 2
    batch: int = 100
    lr: float = 1e-3
    cap: int = 30000  # training steps
    eval_every: int = 500
    stop_below: float = 0.1  # test MSE
    train: int = 45000
    test: int = 5000

    def to_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def evaluate_mse(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    total = 0.0
    for start in range(0, x.shape[1], batch):
        pred = model(x[:, start : start + batch])
        total += float((pred - y[start : start + batch]).pow(2).sum())
    return total / x.shape[1]


def train_copy(
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    cfg: CopyConfig,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Train until the test MSE is below ``cfg.stop_below`` or ``cfg.cap`` steps; the curve."""
    x, y = data
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    curve = [{"step": 0, "test_mse": evaluate_mse(model, *test)}]
    skipped, reached, t0 = 0, None, time.perf_counter()
    step = 0
    while step < cfg.cap and reached is None:
        step += 1
        idx = torch.randint(0, x.shape[1], (cfg.batch,), generator=gen)
        loss = (model(x[:, idx]) - y[idx]).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        finite = all(
            p.grad is None or bool(torch.isfinite(p.grad).all()) for p in model.parameters()
        )
        if finite:
            opt.step()
        else:
            skipped += 1
        if step % cfg.eval_every == 0 or step == cfg.cap:
            mse = evaluate_mse(model, *test)
            curve.append({"step": step, "test_mse": mse})
            if mse < cfg.stop_below:
                reached = step
            if log is not None:
                log(f"step {step}: test MSE {mse:.4f} ({time.perf_counter() - t0:.0f} s)")
            if not math.isfinite(mse):
                break
    return {
        "curve": curve,
        "steps_to_0_1": reached,
        "final_test_mse": curve[-1]["test_mse"],
        "best_test_mse": min(c["test_mse"] for c in curve),
        "steps_run": step,
        "skipped_updates": skipped,
        "seconds": time.perf_counter() - t0,
    }
