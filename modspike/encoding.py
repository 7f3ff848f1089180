"""Input coding: static intensities in [0, 1] to spike trains of shape (time, batch, features)
(``rate``, ``latency``), and ``events``: pre-binned event frames ``(batch, T, *shape)`` replayed
one bin per step as ``(T, batch, *shape)`` (the counts themselves: a bin with several events is a
graded input)."""

from __future__ import annotations

import torch

ENCODINGS = ("rate", "latency", "events")
EVENTS = "events"
LATENCY_THRESHOLD = 0.01  # latency code: intensities at or below it never spike


def rate_encode(
    x: torch.Tensor,
    steps: int,
    gain: float = 1.0,
    prefix: int = 0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Bernoulli rate code: at each of ``steps`` steps a feature spikes with probability ``gain*x``.

    ``prefix`` silent steps come first (the SRC MNIST setup used 20). Deterministic for a seeded
    ``generator``. Returns a float tensor of 0/1 with shape ``(prefix + steps, *x.shape)``.
    """
    if steps < 1 or prefix < 0:
        raise ValueError("steps must be >= 1 and prefix >= 0")
    p = (gain * x).clamp(0.0, 1.0)
    u = torch.rand(
        (steps, *x.shape),
        generator=generator,
        device=x.device if generator is None else generator.device,
    )
    spikes = (u.to(x.device) < p.unsqueeze(0)).to(x.dtype)
    if prefix:
        spikes = torch.cat([spikes.new_zeros((prefix, *x.shape)), spikes], dim=0)
    return spikes


def latency_encode(
    x: torch.Tensor, steps: int, threshold: float = 0.01, prefix: int = 0
) -> torch.Tensor:
    """Time-to-first-spike code: one spike per feature at ``t = round((1 - x) * (steps - 1))``.

    Brighter features spike earlier; features at or below ``threshold`` never spike.
    """
    if steps < 1 or prefix < 0:
        raise ValueError("steps must be >= 1 and prefix >= 0")
    t_fire = torch.round((1.0 - x.clamp(0.0, 1.0)) * (steps - 1)).long()
    t_fire = torch.where(x > threshold, t_fire, torch.full_like(t_fire, steps))  # never
    times = torch.arange(steps, device=x.device).view(steps, *([1] * x.dim()))
    spikes = (times == t_fire.unsqueeze(0)).to(x.dtype)
    if prefix:
        spikes = torch.cat([spikes.new_zeros((prefix, *x.shape)), spikes], dim=0)
    return spikes


def encode(
    x: torch.Tensor,
    encoding: str,
    steps: int,
    gain: float = 1.0,
    prefix: int = 0,
    generator: torch.Generator | None = None,
    threshold: float = LATENCY_THRESHOLD,
) -> torch.Tensor:
    """Dispatch on the encoding name (``rate``, ``latency`` or ``events``; ``threshold``:
    latency only).

    The code's size is checked before it is drawn: ``(prefix + steps) x samples x features``
    float values must fit in memory (a :class:`~modspike.errors.ConfigError` otherwise)."""
    from .validate import MAX_GAIN, MAX_STEPS, check_allocation, integer, number

    integer(steps, "steps", lo=1, hi=MAX_STEPS)
    integer(prefix, "prefix", lo=0, hi=MAX_STEPS)
    number(gain, "gain", lo=0.0, hi=MAX_GAIN)
    if encoding == EVENTS:
        return replay_events(x, steps, prefix)
    check_allocation(
        8.0 * (steps + prefix) * x.numel(),
        f"the input spikes ({steps + prefix} steps x {x.numel()} values)",
    )
    if encoding == "rate":
        return rate_encode(x, steps, gain=gain, prefix=prefix, generator=generator)
    if encoding == "latency":
        number(threshold, "latency threshold", lo=0.0, hi=1.0)
        return latency_encode(x, steps, threshold=threshold, prefix=prefix)
    raise ValueError(f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")


def replay_events(frames: torch.Tensor, steps: int, prefix: int = 0) -> torch.Tensor:
    """Binned event frames ``(batch, T, *shape)`` as network input ``(prefix + T, batch, *shape)``
    (float32 counts); ``T`` must be ``steps``."""
    from .errors import ConfigError
    from .validate import check_allocation

    if frames.dim() < 3 or frames.shape[1] != steps:
        raise ConfigError(
            f"event frames of shape {tuple(frames.shape)} do not hold {steps} time bins"
            " (expected (samples, bins, ...))"
        )
    check_allocation(4.0 * (steps + prefix) * frames[:, 0].numel(), "the event frames")
    x = frames.transpose(0, 1).to(torch.float32)
    if prefix:
        x = torch.cat([x.new_zeros((prefix, *x.shape[1:])), x], dim=0)
    return x


def static_view(x):
    """What a static-input model (the ANN baseline) sees of a batch: intensities ``(N, n)`` as
    they are; binned event frames ``(N, T, ...)`` as one event-count image per sample, the frames
    summed over their time bins and flattened ``(N, C*H*W)`` (the usual frame-based ANN baseline
    of event-camera data). Works on numpy arrays and torch tensors."""
    if x.ndim <= 2:
        return x
    return x.sum(1).reshape(x.shape[0], -1)


def encode_batch(model, x: torch.Tensor, cfg, gen: torch.Generator | None) -> torch.Tensor:
    """The network input for a batch of intensities as a training config says (``cfg.encoding``,
    ``steps``, ``gain``, ``prefix``, ``latency_threshold``): for a static-input model (the ANN
    baseline) the intensities themselves, or the event-count image of event frames
    (:func:`static_view`)."""
    if getattr(model, "static_input", False):
        return static_view(x).to(torch.float32)
    threshold = getattr(cfg, "latency_threshold", LATENCY_THRESHOLD)
    return encode(x, cfg.encoding, cfg.steps, cfg.gain, cfg.prefix, gen, threshold)


def generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (input spikes are drawn on the CPU everywhere)."""
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen
