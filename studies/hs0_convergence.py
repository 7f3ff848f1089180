"""Learnable ``h_s0`` trained to convergence, in the thesis setting (fidelity.md 5).

The thesis (Bernard 2023) trains 42-neuron mSRC networks on rate- and latency-coded MNIST, first with
every neuron fixed to one type, then with ``h_s0`` learned from a random start, and reports that the
learned networks settle on a single type. How the 42 neurons are arranged is not published; two
layouts are built here:

* ``L1``: 32 hidden + 10 output mSRC neurons, the class read out by the output spike count
  (:class:`SpikeCountNet`: the sum over time of the output layer's ``ReLU(h)``);
* ``L2``: 42 hidden mSRC neurons and the project's linear readout (``TorchNetwork``).

Training runs until ``h_s0`` stops moving (``max |h_s0(e) - h_s0(e - 10)| < tol``, checked every 10
epochs) *and* the validation loss has not improved for ``patience`` epochs, or ``max_epochs``.
Each neuron's learned ``h_s0`` is then classified with the excitability analysis (r = 4, b = 0, the
drive entering directly), as ``benchmarks/hs0_training.py`` does.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from modspike import registry
from modspike.data import Dataset, load_dataset
from modspike.encoding import encode_batch, generator
from modspike.kinds.cells.msrc.float_step import MSRCCell, MSRCConstants
from modspike.step import run
from modspike.studies.excitability.analysis import analyze
from modspike.train.modules import ModelConfig, TorchLayer, build_model, program_of
from modspike.train.trainer import evaluate

LAYOUTS = ("L1", "L2")
DRIVES = np.linspace(0.0, 16.0, 161)  # as benchmarks/hs0_training.py: onsets up to h_s0 ~ 2.4
TYPE1_BAND = (0.855, 0.875)  # r = 4


@dataclass
class HS0Config:
    """One convergence run. The encoding fields are what ``modspike.encoding.encode_batch`` reads."""

    data: str = "digits"
    data_dir: str | None = None
    encoding: str = "rate"
    steps: int = 25
    gain: float = 0.8
    prefix: int = 0
    layout: str = "L1"
    hs0: str = "0.5:1.5"
    fix_hs0: bool = False
    seed: int = 0
    split_seed: int = 0
    lr: float = 5e-3
    batch_size: int = 64
    max_epochs: int = 500
    check_every: int = 10
    tol: float = 0.01
    patience: int = 20

    def to_dict(self) -> dict:
        return asdict(self)


class SpikeCountNet(nn.Module):
    """Layout L1: mSRC layers all the way to the output; logits = output spike count."""

    static_input = False

    def __init__(self, n_in: int, hidden: int, n_out: int, hs0: str, learn_hs0: bool):
        super().__init__()
        consts = MSRCConstants()
        kind = registry.cell("msrc")
        self.layers = nn.ModuleList(
            TorchLayer(a, kind, MSRCCell(b, consts, hs0_init=hs0, learn_hs0=learn_hs0), False)
            for a, b in ((n_in, hidden), (hidden, n_out))
        )

    def forward(self, spikes: torch.Tensor, record: bool = False):
        out = run(program_of(self.layers, device=spikes.device), spikes, record=record)
        return (out.total, out.records) if record else out.total


def build_hs0_model(cfg: HS0Config, n_in: int, n_out: int) -> nn.Module:
    """The 42-neuron network of layout ``cfg.layout`` (the seed is set by the caller)."""
    if cfg.layout == "L1":
        return SpikeCountNet(n_in, 32, n_out, cfg.hs0, not cfg.fix_hs0)
    if cfg.layout == "L2":
        mc = ModelConfig(cell="msrc", n_in=n_in, hidden=42, n_out=n_out, hs0=cfg.hs0,
                         learn_hs0=not cfg.fix_hs0)  # fmt: skip
        return build_model(mc)
    raise ValueError(f"unknown layout {cfg.layout!r}; use one of {', '.join(LAYOUTS)}")


def msrc_cells(model: nn.Module) -> list[MSRCCell]:
    return [layer.cell for layer in model.layers]


def all_hs0(model: nn.Module) -> np.ndarray:
    return np.concatenate([c.hs0.detach().double().numpy() for c in msrc_cells(model)])


def classify(hs0: np.ndarray) -> list[str]:
    """Excitability class of each ``h_s0`` (r = 4, b = 0, drive entering directly)."""
    values, inverse = np.unique(np.round(np.asarray(hs0, dtype=float), 4), return_inverse=True)
    classes = analyze("msrc", hs0=values, drives=DRIVES).classes
    return [classes[i] for i in inverse]


def modal_type(classes: list[str], active: np.ndarray) -> tuple[str | None, float, dict]:
    """``(modal class, its share, counts)`` among the active neurons."""
    counts = Counter(c for c, a in zip(classes, active) if a)
    if not counts:
        return None, 0.0, {}
    name, n = counts.most_common(1)[0]
    return name, n / sum(counts.values()), dict(counts)


def train_to_convergence(
    cfg: HS0Config, data: Dataset | None = None, log: Callable[[str], None] | None = None
) -> dict:
    """Train one network as ``cfg`` says; the record of fidelity.md 6 (``hs0_convergence.json``)."""
    data = data if data is not None else load_dataset(cfg.data, cfg.data_dir, cfg.split_seed)
    torch.manual_seed(cfg.seed)
    model = build_hs0_model(cfg, data.n_features, data.n_classes)
    hs0_init = all_hs0(model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    loss_fn = nn.CrossEntropyLoss()
    gen, order_rng = generator(cfg.seed), np.random.default_rng(cfg.seed)
    snapshots = {0: hs0_init}
    trajectory, best = [], (math.inf, 0)
    stop, t0 = "cap", time.perf_counter()
    epoch = 0
    for epoch in range(1, cfg.max_epochs + 1):
        model.train()
        order = order_rng.permutation(len(data.x_train))
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            inp = encode_batch(model, torch.as_tensor(data.x_train[idx]), cfg, gen)
            loss = loss_fn(model(inp), torch.as_tensor(data.y_train[idx]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        val = evaluate(model, data.x_val, data.y_val, cfg, seed=cfg.seed + 1)
        if not math.isfinite(val["loss"]):
            stop = "diverged"
            break
        if val["loss"] < best[0]:
            best = (val["loss"], epoch)
        if epoch % cfg.check_every == 0:
            now = all_hs0(model)
            change = float(np.abs(now - snapshots[epoch - cfg.check_every]).max())
            snapshots[epoch] = now
            trajectory.append({"epoch": epoch, "hs0_mean": float(now.mean()),
                               "hs0_sd": float(now.std()), "max_change_10": change,
                               "val_loss": val["loss"], "val_accuracy": val["accuracy"]})  # fmt: skip
            if log is not None:
                log(f"epoch {epoch}: val loss {val['loss']:.4f} acc {val['accuracy']:.3f}, "
                    f"h_s0 {now.mean():.3f} +- {now.std():.3f}, max change {change:.4f}")  # fmt: skip
            if change < cfg.tol and epoch - best[1] >= cfg.patience:
                stop = "converged"
                break
    test = evaluate(model, data.x_test, data.y_test, cfg, seed=cfg.seed + 2, record=True)
    active = np.concatenate([f > 0 for f in test["active_fraction"]])
    hs0_final = all_hs0(model)
    classes = classify(hs0_final)
    modal, share, counts = modal_type(classes, active)
    return {
        **cfg.to_dict(),
        "test_accuracy": test["accuracy"],
        "epochs_run": epoch,
        "stop_reason": stop,
        "best_val_epoch": best[1],
        "hs0_init": np.round(hs0_init, 5).tolist(),
        "hs0_final": np.round(hs0_final, 5).tolist(),
        "bias_final": np.round(
            np.concatenate([c.b.detach().double().numpy() for c in msrc_cells(model)]), 5
        ).tolist(),
        "active": active.tolist(),
        "classes": classes,
        "class_counts": counts,
        "modal_type": modal,
        "modal_fraction": share,
        "claim_single_new_type": bool(share >= 0.8 and modal in ("type1", "type2*")),
        "trajectory": trajectory,
        "seconds": time.perf_counter() - t0,
    }
