"""Reading NIR node parameters into discrete time, with typed errors (shared by the kinds' NIR
codecs). NIR has no time step: decays are ``1 - dt/tau`` at the ``dt`` the reader resolved."""

from __future__ import annotations

import numpy as np

from modspike.errors import NIRError

from .nir_schema import META_KEY, RESET_MODE

GAIN_SNAP = 1e-6  # gains within float32 rounding of 1 (snntorch writes r = 9.999997) count as 1


def modspike_meta(node) -> dict:
    """The ``modspike`` part of a node's (or graph's) metadata, or ``{}``."""
    meta = getattr(node, "metadata", None)
    if not isinstance(meta, dict):
        return {}
    value = meta.get(META_KEY)
    return value if isinstance(value, dict) else {}


def array(node, attr: str, name: str, n: int | None = None) -> np.ndarray:
    """``node.attr`` (or ``node[attr]`` for a dict) as finite float64, optionally n per neuron."""
    value = node.get(attr) if isinstance(node, dict) else getattr(node, attr, None)
    if value is None:
        raise NIRError(f"{name}: missing {attr!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise NIRError(f"{name}: {attr!r} is not numeric") from None
    if not np.all(np.isfinite(arr)):
        raise NIRError(f"{name}: {attr!r} contains NaN or Inf values")
    if n is not None:
        if arr.ndim == 0:
            arr = np.full(n, float(arr))
        arr = arr.reshape(-1) if arr.size == n else arr
        if arr.shape != (n,):
            raise NIRError(
                f"{name}: {attr!r} has shape {arr.shape}, expected ({n},) (mismatched shapes)"
            )
    return arr


def snap(gain: np.ndarray) -> np.ndarray:
    return np.where(np.abs(gain - 1.0) <= GAIN_SNAP, 1.0, gain)


def rate(tau: np.ndarray, dt: float, name: str, attr: str = "tau") -> np.ndarray:
    """``dt / tau``, refusing a forward-Euler step longer than the time constant."""
    if np.any(tau <= 0):
        raise NIRError(f"{name}: {attr} must be positive")
    k = dt / tau
    if np.any(k > 1.0 + GAIN_SNAP):
        raise NIRError(
            f"{name}: dt/{attr} = {k.max():.3g} > 1 at dt = {dt:g}: a forward-Euler step that long is"
            " unstable; pass a smaller --dt"
        )
    return np.minimum(k, 1.0)


def check_reset(node, name: str) -> None:
    mode = (getattr(node, "metadata", None) or {}).get("reset_mode", RESET_MODE)
    if isinstance(mode, bytes):
        mode = mode.decode(errors="replace")
    if mode != RESET_MODE:
        raise NIRError(f"{name}: reset mode {mode!r} is not supported (modspike resets to v_reset)")


def node_rule(node, name: str):
    """The spike rule a node's metadata records (modspike writes ``modspike.rule`` for a layer
    imported with another tool's conventions, and ``reset_mode``): a
    :class:`~modspike.kinds.cells.lif.rule.SpikeRule`, or None for the default."""
    from .cells.lif.rule import SpikeRule

    meta = getattr(node, "metadata", None) or {}
    mode = meta.get("reset_mode", RESET_MODE) if isinstance(meta, dict) else RESET_MODE
    if isinstance(mode, bytes):
        mode = mode.decode(errors="replace")
    recorded = modspike_meta(node).get("rule")
    if recorded is None:
        if mode == RESET_MODE:
            return None
        if mode == "subtract":
            return SpikeRule(reset="subtract")
        raise NIRError(f"{name}: reset mode {mode!r} is not supported (zero or subtract)")
    rule = SpikeRule.from_dict(recorded, f"{name}: modspike.rule")
    if rule.reset != mode:
        raise NIRError(f"{name}: reset_mode {mode!r} disagrees with the recorded spike rule")
    return None if rule.is_default else rule


def v_reset(node, name: str, n: int) -> np.ndarray:
    if getattr(node, "v_reset", None) is None:  # files from before NIR PR #129
        return np.zeros(n)
    return array(node, "v_reset", name, n)
