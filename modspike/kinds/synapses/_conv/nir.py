"""NIR's shape inference for convolutions and pooling (``nir.ir.utils.calculate_conv_output``),
the one formula every conv-like kind uses for its output shape."""

from __future__ import annotations

import numpy as np
from nir.ir.utils import calculate_conv_output


def output_spatial(
    spatial: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
) -> tuple[int, ...]:
    """The spatial output shape of a convolution (NIR's formula, torch's convention:
    ``floor((n + 2p - d(k - 1) - 1) / s) + 1`` per axis)."""
    shape = np.asarray(spatial).tolist()
    out = calculate_conv_output(
        shape if len(shape) > 1 else shape[0],
        list(padding),
        list(dilation),
        list(kernel),
        list(stride),
    )
    return tuple(int(v) for v in np.asarray(out).reshape(-1))
