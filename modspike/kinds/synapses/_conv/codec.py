"""Reading conv-like NIR node fields (numbers, tuples, ``"same"`` / ``"valid"``) with typed
errors; the kinds' ``nir.py`` codecs build on these."""

from __future__ import annotations

import numpy as np

from modspike.errors import ConfigError, NIRError
from modspike.kinds.nir_values import modspike_meta

from .geometry import make_attrs, same_padding


def text(value) -> str | None:
    """A string field (NIR stores ``padding="same"`` as bytes in HDF5), or None."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.ndarray) and value.dtype.kind in "SU" and value.size == 1:
        return text(value.reshape(-1)[0].item())
    return value if isinstance(value, str) else None


def field(node, attr: str, name: str, default=None):
    value = getattr(node, attr, None)
    if value is None:
        if default is None:
            raise NIRError(f"{name}: missing {attr!r}")
        return default
    return value


def padding(value, kernel, dilation, stride, name: str):
    """Explicit padding from a NIR value: ints, ``"valid"`` (0) or ``"same"`` (symmetric)."""
    word = text(value)
    if word is None:
        return value
    if word == "valid":
        return 0
    if word == "same":
        try:
            return same_padding(kernel, dilation, stride)
        except ConfigError as exc:
            raise NIRError(f"{name}: {exc}") from None
    raise NIRError(f"{name}: padding must be a number, 'same' or 'valid', got {word!r}")


def attrs(in_shape, stride, pad, dilation, groups, dims: int, name: str) -> dict:
    try:
        return make_attrs(in_shape, stride, pad, dilation, groups, dims=dims)
    except ConfigError as exc:
        raise NIRError(f"{name}: {exc}") from None


def check_input_shape(node, in_shape: tuple[int, ...], name: str) -> None:
    """A node that declares its spatial input (``Conv2d.input_shape``) must get that input."""
    declared = getattr(node, "input_shape", None)
    if declared is None:
        return
    spatial = tuple(int(v) for v in np.asarray(declared).reshape(-1))
    if spatial != tuple(in_shape[1:]):
        raise NIRError(
            f"{name}: declares spatial input {spatial} but receives {tuple(in_shape)}"
            " (mismatched shapes)"
        )


def bias_or_none(node, n_out: int, name: str) -> np.ndarray | None:
    """NIR's Conv nodes always carry a bias: all zeros reads as no bias (modspike writes zeros
    for a convolution without one)."""
    from modspike.kinds.nir_values import array

    value = getattr(node, "bias", None)
    if value is None:
        return None
    b = array(node, "bias", name)
    if b.ndim == 0:
        b = np.full(n_out, float(b))
    if b.shape != (n_out,):
        raise NIRError(f"{name}: bias has shape {b.shape}, expected ({n_out},)")
    return None if not np.any(b) else b


GROUPS_KEY = "groups"
"""modspike metadata of a grouped convolution written as its dense equivalent (see below)."""


def expand_groups(weight: np.ndarray, groups: int) -> np.ndarray:
    """A grouped weight ``(C_out, C_in/g, *k)`` as the equivalent ``groups = 1`` weight
    ``(C_out, C_in, *k)``, zero outside the diagonal blocks.

    nir 1.0.8 types a convolution's input as ``weight.shape[1]`` channels whatever ``groups``
    says, so a grouped node fails its own type check on ``nir.read``; the dense equivalent
    computes the same and reads everywhere, and modspike's metadata restores the groups."""
    c_out, c_group = weight.shape[:2]
    out = np.zeros((c_out, c_group * groups, *weight.shape[2:]), dtype=weight.dtype)
    per = c_out // groups
    for g in range(groups):
        out[g * per : (g + 1) * per, g * c_group : (g + 1) * c_group] = weight[
            g * per : (g + 1) * per
        ]
    return out


def compress_groups(weight: np.ndarray, groups, name: str) -> np.ndarray:
    """The inverse of :func:`expand_groups`; a weight that is not block-diagonal is refused."""
    try:
        g = int(np.asarray(groups).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        raise NIRError(f"{name}: metadata groups is not an integer") from None
    c_out, c_in = weight.shape[:2]
    if g < 1 or c_out % g or c_in % g:
        raise NIRError(f"{name}: metadata groups {g} does not divide {c_in} -> {c_out} channels")
    per, c_group = c_out // g, c_in // g
    out = np.stack(
        [weight[k * per : (k + 1) * per, k * c_group : (k + 1) * c_group] for k in range(g)]
    ).reshape(c_out, c_group, *weight.shape[2:])
    if not np.array_equal(expand_groups(out, g), weight):
        raise NIRError(f"{name}: metadata says {g} groups but the weight is not block-diagonal")
    return out


def read_conv(node, name: str, in_shape: tuple[int, ...], w: np.ndarray, dims: int):
    """``(weight, bias or None, attrs)`` of a ``dims``-d convolution node whose weight ``w`` and
    input ``in_shape`` the kind has checked: groups (modspike's expanded form compressed back),
    stride, dilation, padding (numbers, ``"same"``, ``"valid"``), the bias."""
    check_input_shape(node, in_shape, name)
    groups = field(node, "groups", name, 1)
    meta_groups = modspike_meta(node).get(GROUPS_KEY)
    if meta_groups is not None and int(np.asarray(groups).reshape(-1)[0]) == 1:
        w, groups = compress_groups(w, meta_groups, name), meta_groups
    stride = field(node, "stride", name, 1)
    dilation = field(node, "dilation", name, 1)
    dil = attrs(in_shape, stride, 0, dilation, groups, dims, name)["dilation"]
    pad = padding(field(node, "padding", name, 0), w.shape[2:], dil, stride, name)
    return (
        w,
        bias_or_none(node, w.shape[0], name),
        attrs(in_shape, stride, pad, dilation, groups, dims, name),
    )
