"""Warm-up initialisation (Lambrechts et al., Neural Networks 2023; cells.md section 6).

Before supervised training, each recurrent layer is pushed towards multistability: many distinct
stable states reachable from the states the data leads to. The measure is VAA ("variability
amongst attractors", the fraction of distinct final states) and its differentiable proxy VAA*.
One warm-up step:

1. draw the stabilisation length ``T_s ~ U{1 .. min(1 + 10 step, 200)}``;
2. initial states: run the network on a random-length prefix of each of ``n`` training sequences;
3. for each layer separately, feed one random constant input ``u ~ N(0, I)`` (of the layer's input
   size) for ``T_s`` steps from those states and compute VAA* of the final states;
4. loss = mean over layers of ``(VAA* - 0.95)^2``; Adam (lr 1e-2) over all parameters.

Works on any model whose ``.layers`` is a sequence of :class:`~modspike.train.modules.TorchLayer`
(``TorchNetwork`` and the benchmark models) of a cell kind with an attractor state
(``CellKind.attractor``): BRC / nBRC (state ``h``), SRC and mSRC (state ``(h, h_s)``; the input
current ``i`` converges to the same value for every sample under a constant input and is left
out). Every run goes through the package's one step loop (:func:`modspike.step.run`). For the SRC family the recurrence is *not* detached during warm-up
(``keep_state_grad=True``): with the detached recurrence of training, the final state would depend
on the weights only through the last step and VAA* would see nothing of the attractors.
Caveat for spiking cells: final states of a neuron on a limit cycle differ by phase, so VAA counts
phases as distinct "attractors"; it measures multistability cleanly only for BRC / nBRC.

Measured (docs/neuromodulation.md section 3): as specified, warm-up raises the VAA of nBRC layers
(and speeds up learning copy-first-input) but *lowers* that of BRC layers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import cycle

import torch
from torch import nn

from modspike.registry import require
from modspike.step import run
from modspike.train.modules import program_of

EPSILON_INVERSE = 1e-6


def vaa_star(h: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Differentiable VAA* of final states ``h`` (n, d): ``mean_i 1 / sum_j C_ij`` with
    ``d_ij = ||tanh h_i - tanh h_j||`` and ``C_ij = 1 - ReLU(d_ij - eps) / (d_ij + 1e-6)``."""
    t = torch.tanh(h)
    # cdist's backward is NaN at zero distance (the diagonal); the squared form is safe
    d2 = (t.unsqueeze(0) - t.unsqueeze(1)).pow(2).sum(-1)
    d = torch.sqrt(d2 + 1e-20)
    close = 1 - torch.relu(d - eps) / (d + EPSILON_INVERSE)
    return (1.0 / close.sum(1)).mean()


@torch.no_grad()
def vaa(h: torch.Tensor, eps: float = 1e-4) -> float:
    """VAA (not differentiable): ``mean_i 1 / |{j : ||h_j - h_i|| < eps}|`` = distinct states / n."""
    d = (h.unsqueeze(0) - h.unsqueeze(1)).norm(dim=-1)  # exact zeros on the diagonal
    return float((1.0 / (d < eps).sum(1).float()).mean())


def cell_state_vector(layer: nn.Module, cell_state) -> torch.Tensor:
    """The part of a layer's cell state that VAA compares, flattened to (n, d)."""
    attractor = require(layer.kind, "attractor", "warm-up")
    return attractor(cell_state)


def _where(mask: torch.Tensor, new, old):
    """``torch.where`` over a nested tuple / NamedTuple of (B, ...) tensors; ``mask`` is (B,)."""
    if isinstance(new, torch.Tensor):
        return torch.where(mask.view(-1, *([1] * (new.dim() - 1))), new, old)
    items = [_where(mask, a, b) for a, b in zip(new, old)]
    return type(new)(*items) if hasattr(new, "_fields") else type(new)(items)


def _layers(model: nn.Module | Sequence[nn.Module]) -> list[nn.Module]:
    layers = getattr(model, "layers", model)
    return list(layers)


@contextmanager
def state_gradients(layers: Sequence[nn.Module], keep: bool = True) -> Iterator[None]:
    """Temporarily turn off ``detach_rec`` in the SRC-family cells of ``layers``."""
    saved = []
    try:
        for layer in layers:
            consts = getattr(layer.cell, "constants", None)
            if keep and consts is not None and getattr(consts, "detach_rec", False):
                saved.append((layer.cell, consts))
                layer.cell.constants = dataclasses.replace(consts, detach_rec=False)
        yield
    finally:
        for cell, consts in saved:
            cell.constants = consts


def sample_initial_states(
    layers: Sequence[nn.Module], sequences: torch.Tensor, generator: torch.Generator | None = None
) -> list:
    """Each sequence of ``sequences`` (T, n, n_in) cut at a random length in 1..T; returns the
    per-layer states ``(previous output, cell state)`` reached at those lengths (with graph)."""
    steps, n = sequences.shape[:2]
    lengths = torch.randint(1, steps + 1, (n,), generator=generator)
    prog = program_of(layers, device=sequences.device)
    captured = prog.initial_state(n)
    current = list(captured)
    last = len(layers) - 1

    def capture(t: int, k: int, state) -> None:
        nonlocal captured
        current[k] = state
        at = lengths == t + 1
        if k == last and at.any():
            captured = [_where(at, new, old) for new, old in zip(current, captured)]

    run(prog, sequences[: int(lengths.max())], record=False, probe=capture)
    return captured


def layer_final_states(layer: nn.Module, state0, u: torch.Tensor, steps: int) -> torch.Tensor:
    """Run ``layer`` from ``state0`` for ``steps`` steps of the constant input ``u`` (1, n_in)."""
    n = state0[0].shape[0]
    x = u.expand(n, -1)
    out = run(
        program_of([layer], device=x.device), x.expand(steps, *x.shape), [state0], record=False
    )
    return cell_state_vector(layer, out.state[0][1])


@dataclass
class WarmupConfig:
    steps: int = 100
    n: int = 32  # sequences (initial states) per warm-up step
    lr: float = 1e-2
    eps: float = 1e-4
    target: float = 0.95
    stab_increment: int = 10
    stab_max: int = 200
    keep_state_grad: bool = True
    seed: int = 0


def _sequence_source(sequences, n: int, gen: torch.Generator) -> Iterator[torch.Tensor]:
    """Batches of ``n`` sequences (T, n, n_in): random columns of a tensor, or an iterable cycled."""
    if isinstance(sequences, torch.Tensor):
        while True:
            idx = torch.randint(0, sequences.shape[1], (n,), generator=gen)
            yield sequences[:, idx]
    else:
        for batch in cycle(sequences):
            yield batch[:, :n]


def warmup_(
    model: nn.Module | Sequence[nn.Module],
    sequences: torch.Tensor | Iterable[torch.Tensor],
    steps: int = 100,
    config: WarmupConfig | None = None,
    progress: bool = False,
) -> list[dict]:
    """Warm up ``model`` in place (cells.md section 6); returns the per-step history.

    ``sequences``: training inputs (T, N, n_in), from which ``n`` are drawn per step, or an
    iterable of such batches. ``steps`` overrides ``config.steps``.
    """
    cfg = dataclasses.replace(config or WarmupConfig(), steps=steps)
    layers = _layers(model)
    params = [p for layer in layers for p in layer.parameters()]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    source = _sequence_source(sequences, cfg.n, gen)
    history = []
    with state_gradients(layers, cfg.keep_state_grad):
        for step in range(cfg.steps):
            bound = min(1 + step * cfg.stab_increment, cfg.stab_max)
            stab = int(torch.randint(1, bound + 1, (), generator=gen))
            h0 = sample_initial_states(layers, next(source), gen)
            values = []
            for layer, state0 in zip(layers, h0):
                u = torch.randn(1, layer.synapse.in_features, generator=gen)
                values.append(vaa_star(layer_final_states(layer, state0, u, stab), cfg.eps))
            vs = torch.stack(values)
            loss = (vs - cfg.target).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            history.append({"step": step + 1, "stabilisation": stab, "vaa_star": vs.tolist()})
            if progress and (step + 1) % 10 == 0:
                print(
                    f"  warm-up {step + 1}/{cfg.steps}: VAA* {[round(v, 3) for v in vs.tolist()]}"
                )
    return history


@torch.no_grad()
def measure_vaa(
    model: nn.Module | Sequence[nn.Module],
    sequences: torch.Tensor,
    stabilisation: int = 1000,
    estimates: int = 10,
    n: int = 32,
    eps: float = 1e-4,
    seed: int = 0,
) -> float:
    """VAA of the whole stack (all layers' states concatenated), averaged over ``estimates``.

    Each estimate: ``n`` initial states from random prefixes of the sequences, one random constant
    network input for ``stabilisation`` steps (the paper uses 10,000), VAA of the final states.
    """
    layers = _layers(model)
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    for _ in range(estimates):
        idx = torch.randint(0, sequences.shape[1], (n,), generator=gen)
        states = sample_initial_states(layers, sequences[:, idx], gen)
        x = torch.randn(1, layers[0].synapse.in_features, generator=gen).expand(n, -1)
        prog = program_of(layers, device=x.device)
        out = run(prog, x.expand(stabilisation, *x.shape), states, record=False)
        h = torch.cat([cell_state_vector(L, st[1]) for L, st in zip(layers, out.state)], -1)
        total += vaa(h, eps)
    return total / estimates


@torch.no_grad()
def measure_layer_vaa_star(
    model: nn.Module | Sequence[nn.Module],
    sequences: torch.Tensor,
    stabilisation: int = 200,
    n: int = 32,
    eps: float = 1e-4,
    seed: int = 0,
) -> list[float]:
    """VAA* per layer, as the warm-up loss sees it (one draw, fixed ``stabilisation``)."""
    layers = _layers(model)
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, sequences.shape[1], (n,), generator=gen)
    h0 = sample_initial_states(layers, sequences[:, idx], gen)
    out = []
    for layer, state0 in zip(layers, h0):
        u = torch.randn(1, layer.synapse.in_features, generator=gen)
        out.append(float(vaa_star(layer_final_states(layer, state0, u, stabilisation), eps)))
    return out


def warmup_hook(model: nn.Module, x_train, cfg, gen: torch.Generator) -> dict:
    """The trainer's ``prepare`` hook: warm ``model`` up for ``cfg.warmup_steps`` steps on the
    encoded first 512 training samples; returns what the run's metrics record."""
    from modspike.encoding import encode_batch

    n = min(len(x_train), 512)
    seqs = encode_batch(model, torch.as_tensor(x_train[:n]), cfg, gen).to(cfg.device)
    history = warmup_(model, seqs, steps=cfg.warmup_steps, config=WarmupConfig(seed=cfg.seed))
    return {
        "steps": cfg.warmup_steps,
        "vaa_star_first": history[0]["vaa_star"],
        "vaa_star_last": history[-1]["vaa_star"],
    }
