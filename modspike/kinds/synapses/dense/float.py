"""Dense projection in float: ``x @ W.T + b`` (``torch.nn.functional.linear``, one fused call)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def apply(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, attrs) -> torch.Tensor:
    if x.dim() > 2:  # a dense layer flattens what it receives (NIR's Flatten before Linear)
        x = x.flatten(1)
    return F.linear(x, weight, bias)
