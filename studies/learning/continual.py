"""Continual learning after deployment: a spiking classifier whose output layer adapts online with
reward-modulated STDP after its labels are permuted (``modspike learn --task continual``).

The deployed classifier (hidden LIF layers + readout) gets a spiking output layer: the readout's
weights feed ten LIF neurons (:func:`modspike.plasticity.spec.readout_as_layer`, the threshold set
so that the winner fires about ``spikes`` times per sample on the training split), the class is
the neuron with the most spikes, and that synapse learns with R-STDP. Samples of the training
split stream by in a seeded random order; after ``before`` samples the labels are permuted (a
derangement: every class moves). After each sample the host answers with a third factor per
output neuron (the teacher knows the label, not the weights): ``+reward_correct`` to the labelled
neuron while it fires fewer than ``target`` spikes (``-reward`` above ``2 target``), ``-reward`` to
the strongest other neuron unless the labelled one wins by ``margin`` spikes, and to every other
neuron firing more than ``target``. Rewards are multiples of 32 so that the engine's ``t * y2 / 32``
is exact (``docs/plasticity.md``, float vs integer). Exploration: each output neuron fires now
and then regardless of its input (:func:`.loop.kicks`), so a neuron the old weights silence gets
eligibility traces and can learn its new class.

Compared with the frozen network on the same stream, and with retraining the readout by backprop
(online cross-entropy SGD on the same hidden spike counts, one sample at a time).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from modspike.data import load_dataset
from modspike.errors import ConfigError
from modspike.hw.run_artifact import encode_split
from modspike.network import Network
from modspike.plasticity.online import Timing
from modspike.plasticity.spec import Plasticity, attach, readout_as_layer, rule_kind
from modspike.step import compile, run

from .loop import kicks, run_online, summary_totals

TASK_RULE = dict(
    learning_rate=0.0625, a_plus=1, a_minus=0, eligibility_trace_decay_tau=0.0625, t_epoch=1
)
"""R-STDP parameters the task uses unless overridden: Hebbian eligibility (no depression term:
random exploration spikes must leave a positive trace), tags decaying by 1/16 per step."""


@dataclass(frozen=True)
class ContinualConfig:
    before: int = 300  # samples with the original labels
    after: int = 3000  # samples after the permutation
    episode: int = 100  # samples per reported episode
    spikes: float = 5.0  # calibration: winner spikes per sample
    beta: float = 0.9  # output neurons' decay
    target: int = 5
    margin: int = 1
    reward: int = 32
    reward_correct: int = 64
    explore: float = 0.03  # exploration spikes per neuron and step
    gap: int = 12  # silent steps after each sample's window (reward included)
    seed: int = 0
    backprop_lr: float = 0.05

    def __post_init__(self):
        for name in ("before", "after", "episode", "target", "gap"):
            if getattr(self, name) < 1:
                raise ConfigError(f"continual task: {name} must be >= 1")
        for name in ("reward", "reward_correct"):
            value = getattr(self, name)
            if value % 32 or not 0 < value <= 96:
                raise ConfigError(f"continual task: {name} must be 32, 64 or 96")


def derangement(n: int, seed: int) -> np.ndarray:
    """A seeded permutation of ``range(n)`` that moves every element."""
    rng = np.random.default_rng(seed)
    while True:
        p = rng.permutation(n)
        if np.all(p != np.arange(n)):
            return p


def third_factor(counts: np.ndarray, label: int, cfg: ContinualConfig) -> np.ndarray:
    """The host's answer after one sample (see the module docstring)."""
    c = np.asarray(counts)
    out = np.zeros(c.size, dtype=np.int64)
    if c[label] < cfg.target:
        out[label] = cfg.reward_correct
    elif c[label] > 2 * cfg.target:
        out[label] = -cfg.reward
    others = np.where(np.arange(c.size) == label, -1, c)
    w = int(np.argmax(others))
    if c[w] > 0 and c[w] >= c[label] - cfg.margin + 1:
        out[w] = -cfg.reward
    out[(others > cfg.target)] = -cfg.reward
    return out


def predictions(counts: np.ndarray) -> np.ndarray:
    """The neuron with the most spikes (-1 when none fired)."""
    c = np.asarray(counts)
    return np.where(c.max(axis=-1) > 0, c.argmax(axis=-1), -1)


def spiking_classifier(net: Network, manifest: dict, cfg: ContinualConfig) -> Network:
    """The deployed classifier with its readout turned into LIF neurons (threshold calibrated on
    the training split)."""
    data = _data(manifest)
    spikes = encode_split(manifest, data.x_train, cfg.seed + 11).astype(np.int64)
    prog = compile(net)
    logits = prog.readout(run(prog, spikes, record=False).total, spikes.shape[0])
    top = float(np.median(logits.max(axis=1)))
    if not top > 0:
        raise ConfigError("the classifier's readout is never positive: cannot calibrate")
    return readout_as_layer(net, beta=cfg.beta, threshold=top / cfg.spikes)


def _data(manifest: dict):
    recorded = manifest.get("data")
    recorded = recorded if isinstance(recorded, dict) else {"name": recorded or "digits"}
    return load_dataset(recorded.get("name", "digits"), None, int(recorded.get("split_seed", 0)))


def stream(manifest: dict, cfg: ContinualConfig):
    """``(inputs (T, S, n_in), labels before the switch, labels as taught, permutation)``."""
    data = _data(manifest)
    n = cfg.before + cfg.after
    rng = np.random.default_rng(cfg.seed)
    order = np.concatenate(
        [rng.permutation(len(data.x_train)) for _ in range(n // len(data.x_train) + 1)]
    )[:n]
    inputs = encode_split(manifest, data.x_train[order], cfg.seed + 1).astype(np.int64)
    original = data.y_train[order].astype(np.int64)
    perm = derangement(int(data.y_train.max()) + 1, cfg.seed + 2)
    taught = original.copy()
    taught[cfg.before :] = perm[original[cfg.before :]]
    return inputs, original, taught, perm


def episodes(correct: np.ndarray, size: int) -> list[float]:
    return [float(np.mean(correct[i : i + size])) for i in range(0, len(correct), size)]


def backprop_baseline(
    net: Network, inputs: np.ndarray, taught: np.ndarray, cfg: ContinualConfig
) -> np.ndarray:
    """Online backprop on the same stream: the readout's float weights trained by SGD on the
    cross-entropy of each sample's hidden spike counts (the deployed integer hidden layers), one
    sample at a time, predicting before each update. Returns per-sample correctness."""
    hidden = net.replace(readout=None)
    counts = run(compile(hidden), inputs, record=False).total.astype(np.float32)
    w = torch.tensor(np.asarray(net.readout.synapse.weight), dtype=torch.float32)
    w.requires_grad_(True)
    opt = torch.optim.SGD([w], lr=cfg.backprop_lr)
    correct = np.zeros(len(taught), dtype=bool)
    x = torch.as_tensor(counts)
    for s in range(len(taught)):
        logits = x[s] @ w.T
        correct[s] = int(logits.argmax()) == int(taught[s])
        loss = torch.nn.functional.cross_entropy(logits[None], torch.tensor([int(taught[s])]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return correct


def test_accuracy(net: Network, manifest: dict, perm: np.ndarray, seed: int) -> dict:
    """The (learned) spiking classifier on the test split, reset per sample: accuracy on the
    original and on the permuted labels."""
    data = _data(manifest)
    spikes = encode_split(manifest, data.x_test, seed).astype(np.int64)
    pred = predictions(run(compile(net), spikes, record=False).total)
    y = data.y_test.astype(np.int64)
    return {
        "original_labels": float(np.mean(pred == y)),
        "permuted_labels": float(np.mean(pred == perm[y])),
    }


def run_task(
    net: Network,
    manifest: dict,
    rule: str,
    params: dict,
    backend: str = "sim",
    cfg: ContinualConfig | None = None,
    progress: bool = False,
    baselines: bool = True,
) -> tuple[Network, dict]:
    """The continual-learning run: ``(plastic network after learning, report)``."""
    from modspike.plasticity.online import with_learned

    cfg = cfg or ContinualConfig()
    if net.readout is None:
        raise ConfigError("the continual task needs a classifier artifact with a readout")
    classifier = spiking_classifier(net, manifest, cfg)
    k = len(classifier.layers) - 1
    if not rule_kind(rule).three_factor:
        raise ConfigError("the continual task is rewarded: use a three-factor rule (rstdp)")
    plasticity = Plasticity(rule, {**TASK_RULE, **params})
    plastic = attach(classifier, k, plasticity)
    inputs, original, taught, perm = stream(manifest, cfg)
    timing = Timing(window=inputs.shape[0], period=inputs.shape[0] + k + 1 + cfg.gap, prefix=k)
    noise = kicks(plastic, timing.total(inputs.shape[1]), cfg.explore, cfg.seed + 3)
    result = run_online(
        backend,
        plastic,
        inputs,
        timing,
        lambda s, counts, window: third_factor(counts, int(taught[s]), cfg),
        noise=noise,
        progress=progress,
        desc=f"learn ({backend})",
    )
    learned = with_learned(plastic, result.weights)
    correct = predictions(result.counts) == taught
    report = {
        "task": "continual",
        "config": asdict(cfg),
        "rule": plasticity.to_dict(),
        "backend": backend,
        "permutation": perm.tolist(),
        "samples": int(len(taught)),
        "steps": result.steps,
        "timing": asdict(timing),
        "online_accuracy_per_episode": episodes(correct, cfg.episode),
        "pre_switch_accuracy": float(correct[: cfg.before].mean()),
        "post_switch_last_episode": float(correct[-cfg.episode :].mean()),
        "learning": summary_totals(result.totals),
        "test_accuracy_after": test_accuracy(learned, manifest, perm, cfg.seed + 5),
    }
    report["recovered_fraction"] = (
        report["post_switch_last_episode"] / report["pre_switch_accuracy"]
        if report["pre_switch_accuracy"] > 0
        else None
    )
    if baselines:
        frozen = predictions(run(compile(plastic), inputs, record=False).total) == taught
        report["frozen_accuracy_per_episode"] = episodes(frozen, cfg.episode)
        bp = backprop_baseline(net, inputs, taught, cfg)
        report["backprop_readout_accuracy_per_episode"] = episodes(bp, cfg.episode)
    return learned, report
