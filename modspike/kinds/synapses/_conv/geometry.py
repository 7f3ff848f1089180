"""The geometry of a convolution or pooling stage, checked once, with typed errors.

A conv-like synapse holds its weight ``(C_out, C_in / groups, *kernel)`` (NIR's and torch's
layout) and, in ``Synapse.attrs``, the normal form ``{"in_shape": (C, *spatial), "stride",
"padding", "dilation": tuples with one int per spatial axis, "groups": int}``. Pooling is a
depthwise convolution with a fixed kernel (``groups = C``, weight ones or ``1 / kernel size``).
Neurons and inputs are flattened channel-major (``(C, H, W)`` in C order), as NIR shapes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from modspike.errors import ConfigError

from .nir import output_spatial

MAX_EXTENT = 1 << 16  # one spatial axis, a kernel or a channel count (a bound against absurd files)


def _ints(value, dims: int, name: str, lo: int) -> tuple[int, ...]:
    """An int, or one int per spatial axis (a sequence of 1 or ``dims``), each ``>= lo``."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be integers, got {value!r}") from None
    if arr.dtype == object or arr.dtype.kind not in "iuf" or arr.ndim > 1:
        raise ConfigError(f"{name} must be an integer or {dims} integers, got {value!r}")
    flat = arr.reshape(-1)
    if flat.size not in (1, dims) or not np.all(np.isfinite(flat)):
        raise ConfigError(f"{name} must be an integer or {dims} integers, got {value!r}")
    if np.any(flat != np.rint(flat)):
        raise ConfigError(f"{name} must be integers, got {value!r}")
    ints = tuple(int(v) for v in np.broadcast_to(flat, (dims,)))
    if any(v < lo or v > MAX_EXTENT for v in ints):
        raise ConfigError(f"{name} must be integers in [{lo}, {MAX_EXTENT}], got {ints}")
    return ints


@dataclass(frozen=True)
class Geometry:
    """A checked convolution: shapes, stride, padding, dilation, groups."""

    in_shape: tuple[int, ...]  # (C_in, *spatial)
    c_out: int
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int

    @property
    def dims(self) -> int:
        return len(self.kernel)

    @property
    def c_in(self) -> int:
        return self.in_shape[0]

    @property
    def out_spatial(self) -> tuple[int, ...]:
        return output_spatial(
            self.in_shape[1:], self.kernel, self.stride, self.padding, self.dilation
        )

    @property
    def out_shape(self) -> tuple[int, ...]:
        return (self.c_out, *self.out_spatial)

    @property
    def fan_in(self) -> int:
        """Inputs of one output neuron (padding included): ``C_in / groups * prod(kernel)``."""
        return self.c_in // self.groups * int(np.prod(self.kernel))

    def attrs(self) -> dict:
        return {
            "in_shape": self.in_shape,
            "stride": self.stride,
            "padding": self.padding,
            "dilation": self.dilation,
            "groups": self.groups,
        }


def make_attrs(
    in_shape, stride=1, padding=0, dilation=1, groups: int = 1, dims: int | None = None
) -> dict:
    """Attributes in normal form (unchecked against a weight; :func:`geometry` checks them)."""
    shape = _shape(in_shape, "input shape")
    dims = len(shape) - 1 if dims is None else dims
    return {
        "in_shape": shape,
        "stride": _ints(stride, dims, "stride", 1),
        "padding": _ints(padding, dims, "padding", 0),
        "dilation": _ints(dilation, dims, "dilation", 1),
        "groups": _ints(groups, 1, "groups", 1)[0],
    }


def _shape(value, what: str) -> tuple[int, ...]:
    try:
        arr = np.asarray(value).reshape(-1)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be integers, got {value!r}") from None
    if arr.dtype.kind not in "iuf" or not np.all(np.isfinite(arr)) or np.any(arr != np.rint(arr)):
        raise ConfigError(f"{what} must be positive integers, got {value!r}")
    out = tuple(int(v) for v in arr)
    if not out or any(v < 1 or v > MAX_EXTENT for v in out):
        raise ConfigError(f"{what} must be positive integers up to {MAX_EXTENT}, got {out}")
    return out


def geometry(weight_shape: tuple[int, ...], attrs: Mapping, dims: int) -> Geometry:
    """Check a weight shape against attributes; a :class:`ConfigError` that says what is wrong
    (a kernel larger than its padded input, channels that ``groups`` does not divide, a negative
    padding, a zero stride, ...)."""
    if len(weight_shape) != dims + 2:
        raise ConfigError(
            f"a {dims}-d convolution weight is (C_out, C_in/groups, {', '.join(['k'] * dims)}),"
            f" got shape {tuple(weight_shape)}"
        )
    if any(int(s) < 1 for s in weight_shape):
        raise ConfigError(f"convolution weight of shape {tuple(weight_shape)} has an empty axis")
    try:
        in_shape = _shape(attrs["in_shape"], "input shape")
        stride = _ints(attrs.get("stride", 1), dims, "stride", 1)
        padding = _ints(attrs.get("padding", 0), dims, "padding", 0)
        dilation = _ints(attrs.get("dilation", 1), dims, "dilation", 1)
        groups = _ints(attrs.get("groups", 1), 1, "groups", 1)[0]
    except KeyError:
        raise ConfigError("a convolution needs its input shape (C, *spatial)") from None
    if len(in_shape) != dims + 1:
        raise ConfigError(
            f"a {dims}-d convolution takes input of shape (C, {', '.join(['n'] * dims)}), got"
            f" {in_shape}"
        )
    c_out, c_group = int(weight_shape[0]), int(weight_shape[1])
    kernel = tuple(int(k) for k in weight_shape[2:])
    c_in = in_shape[0]
    if c_in % groups or c_out % groups:
        raise ConfigError(
            f"groups = {groups} must divide the input channels ({c_in}) and the output channels"
            f" ({c_out})"
        )
    if c_group * groups != c_in:
        raise ConfigError(
            f"the weight takes {c_group} channels per group x {groups} groups = {c_group * groups}"
            f" input channels, the input has {c_in}"
        )
    for axis, (n, k, p, d) in enumerate(zip(in_shape[1:], kernel, padding, dilation)):
        span = d * (k - 1) + 1
        if span > n + 2 * p:
            raise ConfigError(
                f"kernel {k} (dilation {d}: spans {span}) is larger than the input along axis"
                f" {axis + 1} ({n}, padded {n + 2 * p})"
            )
    return Geometry(in_shape, c_out, kernel, stride, padding, dilation, groups)


def same_padding(kernel: tuple[int, ...], dilation: tuple[int, ...], stride) -> tuple[int, ...]:
    """NIR / torch ``padding="same"`` as explicit symmetric padding (odd effective kernels with
    stride 1 only: the others pad unevenly, which a symmetric padding cannot express)."""
    stride = tuple(np.broadcast_to(np.asarray(stride).reshape(-1), (len(kernel),)).tolist())
    out = []
    for k, d, s in zip(kernel, dilation, stride):
        total = d * (k - 1)
        if int(s) != 1 or total % 2:
            raise ConfigError(
                f'padding "same" with kernel {k}, dilation {d}, stride {s} needs uneven padding,'
                " which modspike does not support; give explicit padding"
            )
        out.append(total // 2)
    return tuple(out)
