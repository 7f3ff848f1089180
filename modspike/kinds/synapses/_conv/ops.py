"""The arithmetic of a convolution stage: float (torch, one fused call), exact integers and float64
counts (numpy im2col + a GEMM guarded as ``int_matmul`` is), and the NeuroBench operation counts.

Every input and output is flattened per sample: ``x`` is ``(batch, C_in * prod(spatial))`` in C
order of ``(C, *spatial)``, the result ``(batch, C_out * prod(out_spatial))``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .geometry import Geometry, geometry

MAX_COLUMNS = 1 << 24  # im2col values per chunk (128 MiB of float64): larger batches go in pieces


def geometry_of(weight, attrs: Mapping) -> Geometry:
    """The checked geometry of a weight array / tensor and its attributes."""
    shape = tuple(int(s) for s in weight.shape)
    return geometry(shape, attrs, len(shape) - 2)


# --------------------------------------------------------------------------- float (torch)


def apply_float(x, weight, bias, attrs: Mapping):
    """``conv(x, weight) + bias`` in torch (``F.conv1d`` / ``F.conv2d``), flattened."""
    import torch.nn.functional as F

    g = geometry_of(weight, attrs)
    conv = F.conv1d if g.dims == 1 else F.conv2d
    y = conv(
        x.reshape(x.shape[0], *g.in_shape),
        weight,
        bias,
        stride=g.stride,
        padding=g.padding,
        dilation=g.dilation,
        groups=g.groups,
    )
    return y.flatten(1)


# --------------------------------------------------------------------------- numpy


def _as_2d(g: Geometry) -> Geometry:
    """A 1-d geometry as a 2-d one of height 1 (one code path for both)."""
    if g.dims == 2:
        return g
    c, n = g.in_shape
    return Geometry(
        (c, 1, n),
        g.c_out,
        (1, g.kernel[0]),
        (1, g.stride[0]),
        (0, g.padding[0]),
        (1, g.dilation[0]),
        g.groups,
    )


def im2col(x: np.ndarray, g: Geometry) -> np.ndarray:
    """Patches of ``x`` (batch, C*H*W): ``(batch, groups, Ho*Wo, C/groups * kh * kw)``."""
    g2 = _as_2d(g)
    b = x.shape[0]
    c, h, w = g2.in_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = g2.kernel, g2.stride, g2.padding, g2.dilation
    xp = np.zeros((b, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    xp[:, :, ph : ph + h, pw : pw + w] = x.reshape(b, c, h, w)
    ho, wo = g2.out_spatial
    # windows[b, c, i, j, a, e] = xp[b, c, i*sh + a*dh, j*sw + e*dw]
    s = xp.strides
    windows = np.lib.stride_tricks.as_strided(
        xp,
        shape=(b, c, ho, wo, kh, kw),
        strides=(s[0], s[1], s[2] * sh, s[3] * sw, s[2] * dh, s[3] * dw),
        writeable=False,
    )
    cg = c // g2.groups
    cols = windows.reshape(b, g2.groups, cg, ho, wo, kh, kw).transpose(0, 1, 3, 4, 2, 5, 6)
    return cols.reshape(b, g2.groups, ho * wo, cg * kh * kw)


def _chunks(batch: int, g: Geometry):
    per_sample = max(1, g.in_shape[0] * int(np.prod(g.kernel)) * int(np.prod(g.out_spatial)))
    step = max(1, MAX_COLUMNS // per_sample)
    return [(lo, min(lo + step, batch)) for lo in range(0, batch, step)]


def _gemm_dtype(x: np.ndarray, w: np.ndarray, fan_in: int):
    """The cheapest exact GEMM type for integer ``x`` and ``w``: float32 while every partial sum
    provably stays below 2**24, float64 below 2**53 (as ``int_matmul``), int64 beyond. Any
    summation order is exact then: every partial sum is an integer the type holds."""
    bound = float(np.abs(x).max(initial=0)) * float(np.abs(w).max(initial=0)) * max(fan_in, 1)
    if bound < 2.0**24:
        return np.float32
    return np.float64 if bound < 2.0**53 else np.int64


def _depthwise(x: np.ndarray, weight: np.ndarray, g: Geometry, exact: bool) -> np.ndarray:
    """A convolution with one input channel per group (pooling, depthwise): a sum over the
    kernel taps of shifted input slices (exact in int64), no im2col."""
    g2 = _as_2d(g)
    b = x.shape[0]
    c, h, w = g2.in_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = g2.kernel, g2.stride, g2.padding, g2.dilation
    ho, wo = g2.out_spatial
    dtype = np.int64 if exact else np.float64
    if ph == pw == 0:
        xp = x.astype(dtype, copy=False).reshape(b, c, h, w)
    else:
        xp = np.zeros((b, c, h + 2 * ph, w + 2 * pw), dtype=dtype)
        xp[:, :, ph : ph + h, pw : pw + w] = x.reshape(b, c, h, w)
    per = g.c_out // g.groups
    if per > 1:  # a channel multiplier: each input channel feeds ``per`` outputs
        xp = np.repeat(xp, per, axis=1)
    wk = np.asarray(weight, dtype=dtype).reshape(g.c_out, kh, kw)
    out = np.zeros((b, g.c_out, ho, wo), dtype=dtype)
    for i in range(kh):
        for j in range(kw):
            patch = xp[
                :,
                :,
                i * dh : i * dh + sh * (ho - 1) + 1 : sh,
                j * dw : j * dw + sw * (wo - 1) + 1 : sw,
            ]
            tap = wk[:, i, j]
            if np.all(tap == 1):
                out += patch
            elif np.any(tap):
                out += tap[None, :, None, None] * patch
    return out.reshape(b, -1)


def _conv_numpy(x: np.ndarray, weight: np.ndarray, g: Geometry, exact: bool) -> np.ndarray:
    """``conv(x, weight)`` flattened; ``exact``: int64 in and out (an exact GEMM per group)."""
    x = np.asarray(x)
    b = x.shape[0]
    if g.c_in == g.groups == g.c_out:  # pooling, depthwise
        return _depthwise(x, weight, g, exact)
    p = int(np.prod(g.out_spatial))
    per_group = g.c_out // g.groups
    w = np.asarray(weight).reshape(g.groups, per_group, -1)
    dtype = _gemm_dtype(x, w, w.shape[-1]) if exact else np.float64
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    out = np.zeros((b, g.c_out, p), dtype=np.int64 if exact else np.float64)
    for lo, hi in _chunks(b, g):
        cols = im2col(x[lo:hi], g)  # (b', groups, P, K)
        for k in range(g.groups):
            y = cols[:, k].reshape(-1, cols.shape[-1]) @ w[k].T
            out[lo:hi, k * per_group : (k + 1) * per_group] = y.reshape(hi - lo, p, -1).transpose(
                0, 2, 1
            )
    return out.reshape(b, -1)


def accumulate(x: np.ndarray, mantissa: np.ndarray, attrs: Mapping) -> np.ndarray:
    """The exact integer convolution ``conv(x, mantissa)`` (int64), float64 GEMMs where every
    partial sum provably stays below 2**53 (``int_matmul``), integer arithmetic otherwise."""
    x = np.asarray(x)
    if x.ndim > 2:
        x = x.reshape(x.shape[0], -1)
    g = geometry_of(mantissa, attrs)
    return _conv_numpy(
        x.astype(np.int64, copy=False), np.asarray(mantissa, dtype=np.int64), g, exact=True
    )


def conv_float64(x: np.ndarray, weight: np.ndarray, attrs: Mapping) -> np.ndarray:
    """``conv(x, weight)`` in float64 numpy (counts, the Lava float stage)."""
    x = np.asarray(x, dtype=np.float64)
    g = geometry_of(weight, attrs)
    return _conv_numpy(x.reshape(x.shape[0], -1), np.asarray(weight, np.float64), g, exact=False)


# --------------------------------------------------------------------------- counts


def events(x: np.ndarray, weight: np.ndarray, attrs: Mapping):
    """NeuroBench's ``SynapticOperations`` of a convolution, per step and sample: the binary copy
    of the layer (non-zero weights -> 1) on the binary input (non-zero -> 1), summed over the
    outputs. Returns ``(effective (T, B), graded (T, B), received (T, B, n_out))``."""
    x = np.asarray(x)
    steps, batch = x.shape[:2]
    flat = x.reshape(steps * batch, -1)
    nzw = (np.asarray(weight) != 0).astype(np.float64)
    per_out = conv_float64((flat != 0).astype(np.float64), nzw, attrs)
    graded = conv_float64(np.abs(flat).astype(np.float64), nzw, attrs).sum(-1)
    effective = np.rint(per_out.sum(-1)).astype(np.int64)
    received = per_out > 0
    return (
        effective.reshape(steps, batch),
        graded.reshape(steps, batch),
        received.reshape(steps, batch, -1),
    )


def dense_ops(synapse, in_shape) -> int:
    """NeuroBench's ``Dense`` count of one evaluation: the all-ones layer on an all-ones input,
    i.e. every (input, weight) pair that exists (padding positions excluded)."""
    g = geometry_of(synapse.weight, synapse.attrs)
    ones = np.ones((1, int(np.prod(g.in_shape))))
    return int(np.rint(conv_float64(ones, np.ones(synapse.weight.shape), synapse.attrs).sum()))


def fan_in(synapse) -> int:
    return geometry_of(synapse.weight, synapse.attrs).fan_in


def out_shape_of(dims: int):
    """The ``out_shape`` of a ``dims``-d conv-like kind (its weight must have ``dims + 2`` axes)."""

    def out_shape(synapse, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return _out_shape(synapse, in_shape, dims)

    return out_shape


def _out_shape(synapse, in_shape: tuple[int, ...], dims: int) -> tuple[int, ...]:
    """The output shape ``(C_out, *out_spatial)``; a :class:`ConfigError` for bad geometry or an
    input that is not the shape the stage was built for."""
    from modspike.errors import ConfigError

    g = geometry(tuple(int(s) for s in synapse.weight.shape), synapse.attrs, dims)
    if int(np.prod(in_shape)) != int(np.prod(g.in_shape)) or (
        len(in_shape) > 1 and tuple(in_shape) != g.in_shape
    ):
        raise ConfigError(
            f"a convolution built for input {g.in_shape} gets input of shape {tuple(in_shape)}"
        )
    return g.out_shape
