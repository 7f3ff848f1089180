"""Surrogate gradients: the SRC family's straight-through ReLU and snntorch's arctan spike."""

from __future__ import annotations

import math

import torch


class _StraightThroughReLU(torch.autograd.Function):
    """Forward ``max(h, 0)``; backward passes the gradient unchanged (slope 1 everywhere).

    The SRC's config calls this ``surrogate_relu``: without it a silent neuron (h near -1) would
    receive no gradient at all (cells.md section 3.4).
    """

    @staticmethod
    def forward(ctx, h: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return h.clamp(min=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return grad


def straight_through_relu(h: torch.Tensor) -> torch.Tensor:
    """ReLU in the forward pass, identity in the backward pass."""
    return _StraightThroughReLU.apply(h)


class _ArcTanSpike(torch.autograd.Function):
    """Forward ``x > 0`` as 0/1; backward ``alpha/2 / (1 + (pi/2 alpha x)^2)``.

    snntorch 1.0's default surrogate (``snntorch.surrogate.atan``, alpha = 2), written with the
    same operations in the same order, so that LIF gradients equal snntorch's bit for bit.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float, inclusive: bool) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).float() if inclusive else (x > 0).float()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # noqa: D102
        (x,) = ctx.saved_tensors
        slope = ctx.alpha / 2 / (1 + (math.pi / 2 * ctx.alpha * x).pow_(2)) * grad.clone()
        return slope, None, None


def arctan_spike(x: torch.Tensor, alpha: float = 2.0, inclusive: bool = False) -> torch.Tensor:
    """A spike where ``x > 0`` (``x >= 0`` if ``inclusive``), with snntorch's arctan surrogate
    gradient."""
    return _ArcTanSpike.apply(x, alpha, inclusive)
