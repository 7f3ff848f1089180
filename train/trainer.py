"""Supervised training: rate/latency-coded inputs, readout integrated over time, cross-entropy, Adam."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from modspike import data as datasets
from modspike import registry
from modspike.data import Dataset, EventOptions, load_dataset
from modspike.encoding import ENCODINGS, EVENTS, encode_batch, generator
from modspike.errors import CheckpointError, ConfigError, ModspikeError
from modspike.rundir import load_run, save_run
from modspike.validate import check_allocation, check_train_values, number

from .distributed import DataParallel, data_parallel, is_main
from .modules import ModelConfig, build_model, is_ann, model_names
from .sparsity import fan_outs, synops_fraction

ANN_EPOCHS = 200
"""The ANN baseline's default epochs at lr 1e-3: the best of a small search on digits
(``benchmarks/ann_defaults.py``: 30 epochs gave 0.955, 200 give 0.970 over 3 seeds)."""


@dataclass
class TrainConfig:
    cell: str = "src"
    data: str = "digits"
    data_dir: str | None = None
    encoding: str | None = None  # rate (default) / latency for images; events for event data
    steps: int | None = None  # coded time steps T (default 25); event data: the number of bins
    gain: float = 0.8  # rate code: spike probability per step = gain * intensity
    prefix: int = 0  # silent steps before the code
    hidden: int = 64
    layers: int = 1
    recurrent: bool = False
    keep_state_grad: bool = False  # SRC family: keep gradients through h, h_s (default: detached)
    hs0: str = "1.0"
    fix_hs0: bool = False
    epochs: int | None = None  # default: 30; the ANN baseline 200 (benchmarks/ann_defaults.py)
    batch_size: int = 64
    lr: float | None = None  # default: 5e-3 for spiking cells, 1e-3 for the ANN
    seed: int = 0
    split_seed: int = 0
    device: str = "cpu"
    limit: int | None = None  # use only the first N training samples (quick checks)
    qat: bool = False  # quantisation-aware training on the export grid (train/qat.py)
    warmup_steps: int = 0  # cells.md 6: VAA* warm-up before training (BRC, nBRC, SRC family)
    reg_synops: float = 0.0  # loss + reg_synops * synaptic-operation fraction (train/sparsity.py)
    latency_threshold: float = 0.01  # latency code: intensities at or below it never spike
    bins: int | None = None  # event data: time bins (= steps) over the window, or
    bin_us: int | None = None  # ... bins of this many microseconds
    downsample: int = 1  # event data: k x k pixel blocks summed
    arch: str | None = None  # conv / dense layer string (train/arch.py); None: --hidden/--layers
    heterogeneous: str | None = None  # per-neuron cell parameters (modspike.kinds.heterogeneity)

    def __post_init__(self) -> None:
        """Defaults that depend on the model family and the data set: the epochs (a default
        baseline is trained to its best), the encoding (``events`` for event data, else ``rate``)
        and the steps (event data: the number of bins, ``--steps`` meaning ``--bins``)."""
        if self.epochs is None:
            self.epochs = ANN_EPOCHS if is_ann(self.cell) else 30
        kind = None
        if isinstance(self.data, str) and self.data in datasets.names():
            kind = datasets.source(self.data).kind
        if self.encoding is None:
            self.encoding = EVENTS if kind == datasets.EVENTS else "rate"
        if kind == datasets.EVENTS and self.bins is None and self.bin_us is None:
            self.bins = self.steps
        if self.steps is None:
            self.steps = 25
            if kind == datasets.EVENTS:
                try:
                    self.steps = self._event_steps()
                except ModspikeError:
                    pass  # validate() names the bad option

    def _event_steps(self) -> int:
        from modspike.events.datasets import binning_of

        return binning_of(self.data, **vars(self.event_options())).bins

    def event_options(self) -> EventOptions:
        """How event data are binned for this run."""
        return EventOptions(bins=self.bins, bin_us=self.bin_us, downsample=self.downsample)

    def validate(self) -> None:
        """Every field's type and range (``modspike.validate``), before any data is loaded."""
        check_train_values(vars(self))
        src = datasets.source(self.data)
        if self.encoding not in src.encodings:
            raise ConfigError(
                f"--encoding {self.encoding} does not fit {self.data} ({src.kind}); use"
                f" {' or '.join(src.encodings)}"
            )
        features = src.features(self.event_options())
        if src.kind == datasets.EVENTS:
            bins = self._event_steps()
            if self.steps != bins:
                raise ConfigError(
                    f"--steps {self.steps}: the event frames have {bins} time bins (one per step);"
                    " set the bins with --bins or --bin-us"
                )
        check_allocation(
            4.0 * (self.steps + self.prefix) * max(self.batch_size, 512) * features,
            f"the input spikes of one batch ({self.steps + self.prefix} steps)",
        )
        square = self.hidden * self.hidden * (self.layers - 1 + self.layers * self.recurrent)
        weights = self.hidden * (features + 10) + square
        check_allocation(16.0 * weights, f"{weights} weights with their gradients and Adam state")
        if self.cell not in model_names():
            raise ConfigError(
                f"unknown cell {self.cell!r}; choose one of {', '.join(model_names())}"
            )
        if self.encoding not in ENCODINGS:
            raise ConfigError(
                f"unknown encoding {self.encoding!r}; choose one of {', '.join(ENCODINGS)}"
            )
        for name in ("steps", "hidden", "layers", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
        if self.prefix < 0 or not self.gain > 0 or (self.lr is not None and not self.lr > 0):
            raise ConfigError("--prefix must be >= 0, --gain and --lr must be positive")
        if self.warmup_steps < 0:
            raise ConfigError("--warmup-steps must be >= 0")
        warmable = registry.cell_names("attractor")
        if self.warmup_steps > 0 and self.cell not in warmable:
            raise ConfigError(
                f"--warmup-steps applies to the recurrent cells ({', '.join(warmable)}), "
                f"not to {self.cell}"
            )
        if self.arch is not None:
            from .arch import parse

            parse(self.arch)  # the syntax now; the shapes once the data set is known
            if is_ann(self.cell):
                raise ConfigError("--arch builds spiking networks; the ANN baseline is dense")
        if self.limit is not None and self.limit < 1:
            raise ConfigError("--limit must be at least 1")
        number(self.reg_synops, "--reg-synops", lo=0.0, hi=1e6)
        number(self.latency_threshold, "--latency-threshold", lo=0.0, hi=1.0)
        if self.reg_synops > 0 and is_ann(self.cell):
            raise ConfigError("--reg-synops applies to spiking cells, not to the ANN baseline")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError("--device cuda asked for, but torch sees no CUDA device here")
        if self.device not in ("cpu",) and not self.device.startswith("cuda"):
            raise ConfigError(f"unknown device {self.device!r}; use cpu or cuda[:N]")
        if self.heterogeneous is not None:
            from modspike.kinds import heterogeneity

            if is_ann(self.cell):
                raise ConfigError("--heterogeneous applies to spiking cells, not to the ANN")
            heterogeneity.check(heterogeneity.parse(self.heterogeneous), registry.cell(self.cell))
        try:
            from modspike.kinds.cells.msrc.float_step import parse_hs0_init

            parse_hs0_init(self.hs0)
        except ValueError as exc:
            raise ConfigError(f"--hs0: {exc}") from None

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else (1e-3 if is_ann(self.cell) else 5e-3)

    def model_config(
        self, n_in: int, n_out: int, in_shape: tuple[int, ...] | None = None
    ) -> ModelConfig:
        """The model of this run; ``in_shape``: one step's input shape when it is not flat
        (``(1, H, W)`` images for ``--arch``)."""
        shape = None if in_shape is None else [int(v) for v in in_shape]
        return ModelConfig(
            arch=self.arch,
            in_shape=shape,
            cell=self.cell,
            n_in=n_in,
            hidden=self.hidden,
            layers=self.layers,
            n_out=n_out,
            recurrent=self.recurrent,
            detach_rec=not self.keep_state_grad,
            hs0=str(self.hs0),
            learn_hs0=not self.fix_hs0,
            heterogeneous=self.heterogeneous,
        )


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    cfg: TrainConfig,
    seed: int,
    batch_size: int = 512,
    record: bool = False,
) -> dict:
    """Accuracy on ``(x, y)`` with input spikes drawn from a generator seeded by ``seed``.

    With ``record=True`` also returns, per hidden layer, how often each neuron was active
    (output > 0) over all samples and steps.
    """
    model.eval()
    device = next(model.parameters(), next(model.buffers(), torch.zeros(0))).device
    gen = generator(seed)
    correct, preds, loss_sum = 0, [], 0.0
    active_counts: list[torch.Tensor] | None = None
    n_steps = 0
    for start in range(0, len(x), batch_size):
        xb = torch.as_tensor(x[start : start + batch_size])
        inp = encode_batch(model, xb, cfg, gen).to(device)
        logits, recs = model(inp, record=True)
        yb = torch.as_tensor(y[start : start + batch_size])
        loss_sum += float(nn.functional.cross_entropy(logits.cpu(), yb, reduction="sum"))
        pred = logits.argmax(-1).cpu()
        preds.append(pred)
        correct += int((pred == yb).sum())
        if record and recs:
            counts = [(r > 0).sum(dim=(0, 1)).cpu() for r in recs]
            active_counts = (
                counts if active_counts is None else [a + c for a, c in zip(active_counts, counts)]
            )
            n_steps += recs[0].shape[0] * recs[0].shape[1]
    out = {
        "accuracy": correct / len(x),
        "loss": loss_sum / len(x),
        "predictions": torch.cat(preds).numpy(),
    }
    if record and active_counts is not None:
        out["active_fraction"] = [(c.float() / n_steps).numpy() for c in active_counts]
    return out


def train(
    cfg: TrainConfig,
    out: str | Path | None = None,
    progress: bool = True,
    prepare: Callable | None = None,
) -> tuple[nn.Module, dict]:
    """Train a model as ``cfg`` says; write the run directory to ``out`` when given.

    The model with the best validation accuracy is kept. Returns ``(model, metrics)``. Started by
    ``torchrun`` with several processes, trains data-parallel (:mod:`.distributed`).
    """
    with data_parallel(cfg.device) as parallel:
        return _train(cfg, out, progress and is_main(), prepare, parallel)


def _train(cfg: TrainConfig, out, progress: bool, prepare, parallel) -> tuple[nn.Module, dict]:
    cfg.validate()
    data = load_dataset(
        cfg.data, cfg.data_dir, cfg.split_seed, cfg.event_options(), progress=progress
    )
    torch.manual_seed(cfg.seed)
    if data.kind == datasets.EVENTS:
        shape = data.input_shape
    elif cfg.arch and len(data.image_shape) == 2:
        shape = (1, *data.image_shape)  # --arch reads images as 1 x H x W (encoders: elementwise)
    else:
        shape = None
    model_cfg = cfg.model_config(data.n_features, data.n_classes, shape)
    model = build_model(model_cfg).to(cfg.device)
    if cfg.qat:
        from .qat import QuantizedNet, qat_report

        metrics = fit(QuantizedNet(model), data, cfg, progress, prepare, parallel)
        metrics["quantization"] = qat_report(model.cpu(), data, cfg)
    else:
        metrics = fit(model, data, cfg, progress, prepare, parallel)
    if parallel is not None:
        metrics["data_parallel"] = parallel.info()
    if out is not None and is_main():  # data-parallel: rank 0 alone writes
        save_run(out, model_cfg.to_dict(), asdict(cfg), model.state_dict(), metrics)
    return model, metrics


def fit(
    model: nn.Module,
    data: Dataset,
    cfg: TrainConfig,
    progress: bool = True,
    prepare: Callable | None = None,
    parallel: DataParallel | None = None,
) -> dict:
    """The training loop proper (Adam, cross-entropy on the time-integrated readout).
    ``parallel``: this process's part in data-parallel training (:mod:`.distributed`).

    ``prepare(model, x_train, cfg, generator) -> dict`` runs once before the first epoch when
    ``cfg.warmup_steps > 0`` (the warm-up study's :func:`modspike.studies.warmup.warmup_hook`); what
    it returns is recorded as ``metrics["warmup"]``."""
    x_tr, y_tr = data.x_train, data.y_train
    if cfg.limit is not None:
        x_tr, y_tr = x_tr[: cfg.limit], y_tr[: cfg.limit]
    if parallel is not None and cfg.reg_synops > 0:
        raise ConfigError("--reg-synops is not supported in data-parallel training (torchrun) yet")
    net = model if parallel is None else parallel.wrap(model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    gen = generator(cfg.seed)
    order_rng = np.random.default_rng(cfg.seed)
    prepared = None
    if cfg.warmup_steps > 0:
        if prepare is None:
            raise ConfigError(
                "--warmup-steps needs the warm-up study's hook: call"
                " train(..., prepare=modspike.studies.warmup.warmup_hook) (the CLI does)"
            )
        prepared = prepare(getattr(model, "net", model), x_tr, cfg, gen)
    # Model selection keeps the epoch with the lowest validation loss: with 144 validation
    # samples, the best validation *accuracy* is a noisy pick that favours early epochs
    # (benchmarks/README.md, issue 2: SRC .941 with accuracy selection, .959 with loss).
    best = (math.inf, 0, -1.0, copy.deepcopy(model.state_dict()))
    history = []
    t0 = time.perf_counter()
    bar = tqdm(
        range(1, cfg.epochs + 1), desc=f"train {cfg.cell}", unit="epoch", disable=not progress
    )
    for epoch in bar:
        model.train()
        order = order_rng.permutation(len(x_tr))
        total_loss, n_batches = 0.0, 0
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            xb = torch.as_tensor(x_tr[idx])
            inp = encode_batch(model, xb, cfg, gen).to(cfg.device)
            yb = torch.as_tensor(y_tr[idx], device=cfg.device)
            if parallel is not None:  # this process's share of the global batch
                axis = 0 if getattr(model, "static_input", False) else 1
                loss, batch_loss = parallel.loss(net, inp, yb, axis)
            elif cfg.reg_synops > 0:
                logits, recs = model(inp, record=True)
                fans = fan_outs([r.shape[-1] for r in recs], logits.shape[-1], cfg.recurrent)
                loss = loss_fn(logits, yb) + cfg.reg_synops * synops_fraction(recs, fans)
                batch_loss = loss.item()
            else:
                loss = loss_fn(model(inp), yb)
                batch_loss = loss.item()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total_loss += batch_loss
            n_batches += 1
        val_eval = evaluate(model, data.x_val, data.y_val, cfg, seed=cfg.seed + 1)
        val, val_loss = val_eval["accuracy"], val_eval["loss"]
        history.append(
            {
                "epoch": epoch,
                "loss": total_loss / n_batches,
                "val_loss": val_loss,
                "val_accuracy": val,
            }
        )
        if not math.isfinite(total_loss):
            raise ConfigError(
                f"training diverged at epoch {epoch} (loss is not finite); lower --lr"
            )
        if val_loss < best[0]:
            best = (val_loss, epoch, val, copy.deepcopy(model.state_dict()))
        bar.set_postfix(loss=f"{total_loss / n_batches:.3f}", val=f"{val:.3f}")
    seconds = time.perf_counter() - t0
    model.load_state_dict(best[3])
    test = evaluate(model, data.x_test, data.y_test, cfg, seed=cfg.seed + 2, record=True)
    metrics = {
        "test_accuracy": test["accuracy"],
        "val_accuracy": best[2],
        "val_loss": best[0],
        "best_epoch": best[1],
        "selection": "lowest validation loss",
        "epochs": cfg.epochs,
        "seconds": seconds,
        "n_train": len(x_tr),
        "n_test": len(data.x_test),
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "history": history,
    }
    if prepared is not None:
        metrics["warmup"] = prepared
    if "active_fraction" in test:
        fractions = test["active_fraction"]
        metrics["never_active_neurons"] = [int((f == 0).sum()) for f in fractions]
        metrics["active_fraction_mean"] = [float(f.mean()) for f in fractions]
    return metrics


def load_model(run_dir: str | Path) -> tuple[nn.Module, TrainConfig, dict]:
    """Rebuild a trained model from its run directory: ``(model, train_config, metrics)``."""
    config, state, metrics = load_run(run_dir)
    try:
        model_cfg = ModelConfig.from_dict(config["model"])
        train_cfg = TrainConfig(
            **{k: v for k, v in config["train"].items() if k in TrainConfig.__dataclass_fields__}
        )
        model = build_model(model_cfg)
        if hasattr(model, "upgrade_state_dict"):
            state = model.upgrade_state_dict(state)
        _check_shapes(model.state_dict(), state, run_dir)
        model.load_state_dict(state)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, ModspikeError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{run_dir}: config and weights do not match ({first})") from None
    model.eval()
    return model, train_cfg, metrics


def _check_shapes(expected: dict, state: dict, run_dir) -> None:
    """Name the first missing, unexpected or mis-shaped tensor (torch lists them all, on many
    lines)."""
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        what = f"missing {missing[0]}" if missing else f"unexpected {extra[0]}"
        more = len(missing) + len(extra) - 1
        raise CheckpointError(
            f"{run_dir}: weights do not match the config ({what}"
            f"{f' and {more} more' if more else ''})"
        )
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{run_dir}: weights do not match the config ({key} has shape"
                f" {tuple(state[key].shape)}, the config builds {tuple(tensor.shape)})"
            )
