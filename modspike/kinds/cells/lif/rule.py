"""How a LIF-family neuron fires and resets: the conventions a NIR file does not record.

NIR's LIF / CubaLIF / IF say nothing about the discrete step: every library that writes them
means its own update (docs/nir-producers.md). The parts that change which spikes come out are
collected in one small record, a :class:`SpikeRule`, the ``constants`` of a LIF, CubaLIF or IF
layer (``None`` means the default: NIR's and Lava's reset to ``v_reset`` at once, ``v > θ``):

* ``reset``: ``zero`` (to ``v_reset``) or ``subtract`` (``v - s·θ``, ``s`` the spike count);
* ``reset_at``: ``now`` (the reset acts before the next step's decay: NIR, Lava, Norse, Sinabs,
  Rockpool, SpikingJelly, and snntorch's ``Leaky`` with the zero reset), ``late`` (after it:
  snntorch's ``reset_delay``, whose subtract reset is ``v = β v + x − s[t−1] θ`` and whose
  ``Synaptic`` / ``RLeaky`` zero reset zeroes the whole new value), or ``both`` (Spyx's
  ``CuBaLIF`` subtracts the threshold before and after the decay);
* ``fire``: ``gt`` (``v > θ``), ``ge`` (``v ≥ θ``, SpikingJelly) or ``count``
  (``floor(v/θ)`` spikes when ``v ≥ θ``: Sinabs' MultiSpike, Rockpool's StepPWL);
* ``delay``: the layer emits the spike of its *previous* state (Spyx reads ``s[t] = H(v[t−1]−θ)``,
  one step of delay per layer).

A layer under a rule stores its membrane *before* the reset and applies the reset of the last
step's spike when it steps (as snntorch does); the default path is left exactly as it was.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from modspike.arrays import int64, where
from modspike.errors import ConfigError, NIRError

RESETS = ("zero", "subtract")
RESET_TIMES = ("now", "late", "both")
FIRES = ("gt", "ge", "count")


@dataclass(frozen=True)
class SpikeRule:
    reset: str = "zero"
    reset_at: str = "now"
    fire: str = "gt"
    delay: bool = False

    def __post_init__(self) -> None:
        for field, value, allowed in (
            ("reset", self.reset, RESETS),
            ("reset_at", self.reset_at, RESET_TIMES),
            ("fire", self.fire, FIRES),
        ):
            if value not in allowed:
                raise ConfigError(
                    f"spike rule: {field} must be one of {', '.join(allowed)}, got {value!r}"
                )
        if not isinstance(self.delay, bool):
            raise ConfigError(f"spike rule: delay must be a boolean, got {self.delay!r}")
        if self.reset_at == "both" and self.reset != "subtract":
            raise ConfigError("spike rule: a reset before and after the decay must subtract")
        if self.fire == "count" and self.reset != "subtract":
            raise ConfigError("spike rule: several spikes per step need the subtract reset")

    @property
    def is_default(self) -> bool:
        return self == DEFAULT

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data, where: str) -> SpikeRule:
        """A rule from NIR metadata (strings may come back as bytes, booleans as numpy)."""
        if not isinstance(data, dict):
            raise NIRError(f"{where}: the spike rule must be a group, got {type(data).__name__}")
        values = {}
        for key in ("reset", "reset_at", "fire"):
            value = data.get(key, getattr(DEFAULT, key))
            if isinstance(value, bytes):
                value = value.decode(errors="replace")
            if isinstance(value, np.ndarray) and value.ndim == 0:
                value = value.item()
            values[key] = str(value)
        delay = np.asarray(data.get("delay", False))
        if delay.size != 1 or delay.dtype.kind not in "biu":
            raise NIRError(f"{where}: the spike rule's delay must be one boolean")
        try:
            return cls(**values, delay=bool(delay.reshape(-1)[0]))
        except ConfigError as exc:
            raise NIRError(f"{where}: {exc}") from None

    def describe(self) -> str:
        when = {"now": "at once", "late": "after the next decay", "both": "before and after"}
        fire = {"gt": "v > threshold", "ge": "v >= threshold", "count": "floor(v/threshold)"}
        text = f"reset {self.reset} {when[self.reset_at]}, fires {fire[self.fire]}"
        return text + (", output one step late" if self.delay else "")


DEFAULT = SpikeRule()
MULTISPIKE = SpikeRule(reset="subtract", reset_at="now", fire="count")


def rule_of(constants) -> SpikeRule:
    """The rule of a layer whose ``constants`` is a :class:`SpikeRule` or None (the default)."""
    return constants if isinstance(constants, SpikeRule) else DEFAULT


def custom(constants) -> SpikeRule | None:
    """The layer's rule when it is not the default, else None (the default code path)."""
    rule = rule_of(constants)
    return None if rule.is_default else rule


# --------------------------------------------------------------------------- float (torch)


def float_spikes(v, threshold, rule: SpikeRule):
    """This step's output from the membrane ``v``, with snntorch's arctan surrogate gradient
    (a spike count passes the surrogate of its first spike)."""
    import torch

    from ..surrogate import arctan_spike

    if rule.fire == "gt":
        return arctan_spike(v - threshold)
    if rule.fire == "ge":
        return arctan_spike(v - threshold, inclusive=True)
    first = arctan_spike(v - threshold, inclusive=True)
    count = torch.where(v >= threshold, torch.floor(v / threshold), torch.zeros_like(v))
    return first + (count - first).detach()


def reset_float(v, s, threshold, v_reset, rule: SpikeRule):
    """``v`` after the reset of spikes ``s`` (no gradient through ``s``)."""
    import torch

    if rule.reset == "subtract":
        return v - s * threshold
    if v_reset is None:
        return v * (1 - s)
    return torch.where(s > 0, v_reset, v)


def float_step(v, drive, p, rule: SpikeRule):
    """One step of a rule: ``drive(v)`` is the kind's subthreshold update of the membrane after
    the "now" reset (``beta*v + gain*a + leak``, or with the synaptic current). Returns
    ``(output, v before its own reset)``."""
    threshold, v_reset = p.threshold, getattr(p, "v_reset", None)
    s_prev = float_spikes(v, threshold, rule).detach()
    if rule.reset_at != "late":
        v = reset_float(v, s_prev, threshold, v_reset, rule)
    v = drive(v)
    if rule.reset_at != "now":
        v = reset_float(v, s_prev, threshold, v_reset, rule)
    s = float_spikes(v, threshold, rule)
    return (s_prev if rule.delay else s), v


# --------------------------------------------------------------------------- integer (numpy)


def int_spikes(v: np.ndarray, thr: np.ndarray, rule: SpikeRule) -> np.ndarray:
    """Spikes (0/1, or a count) of integer membranes ``v`` against integer thresholds ``thr``
    (numpy arrays or torch int64 tensors, both the same library)."""
    if rule.fire == "gt":
        return int64(v > thr)
    if rule.fire == "ge":
        return int64(v >= thr)
    safe = where(thr >= 1, thr, 1)  # the quantiser refuses a zero threshold for spike counts
    return int64(where(v >= thr, v // safe, 0))


def reset_int(v: np.ndarray, s: np.ndarray, thr: np.ndarray, rule: SpikeRule) -> np.ndarray:
    if rule.reset == "subtract":
        return v - s * thr
    return where(s > 0, 0, v)
