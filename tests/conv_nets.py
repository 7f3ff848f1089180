"""Convolutional test networks (shared by the conv tests): untrained, but active on digits."""

from __future__ import annotations

import numpy as np
import torch


def conv_model(cell: str, arch: str, seed: int = 0, scale: float = 3.0, image=(8, 8)):
    """A :class:`TorchNetwork` built from ``--arch`` with weights scaled so that it fires."""
    from modspike.train.modules import build_model
    from modspike.train.trainer import TrainConfig

    torch.manual_seed(seed)
    cfg = TrainConfig(cell=cell, arch=arch).model_config(int(np.prod(image)), 10, (1, *image))
    model = build_model(cfg)
    with torch.no_grad():
        for layer in model.layers:
            layer.synapse.weight.mul_(scale)
            if cell == "src":
                layer.cell.bh.uniform_(-4.6, -3.0)
            elif cell in ("msrc", "bsrc"):
                layer.cell.b.uniform_(3.0, 6.0)
            elif layer.synapse.bias is not None:
                layer.synapse.bias.uniform_(-0.1, 0.2)
    return model.eval()


def digit_spikes(n: int = 16, steps: int = 10, seed: int = 1) -> np.ndarray:
    """Rate-coded digits ``(T, n, 64)`` as int64 0/1."""
    from modspike.data import load_dataset
    from modspike.encoding import encode, generator

    x = torch.as_tensor(load_dataset("digits").x_test[:n])
    return encode(x, "rate", steps, 1.0, generator=generator(seed)).numpy().astype(np.int64)
