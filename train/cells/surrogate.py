"""Surrogate gradients shared by the SRC family."""

from __future__ import annotations

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
