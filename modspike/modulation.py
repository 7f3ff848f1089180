"""A neuromodulation signal per layer: a gain on the drive, a bias offset and an ``h_s0`` offset.

The same record carries float signals (torch tensors, from a neuromodulatory network) and integer
ones (numpy int64 in state units: gain ``2**frac_bits`` means 1). :class:`Modulation` holds one
value per step, ``(T, batch, n)`` fields, and :meth:`Modulation.at` picks step ``t``;
:class:`HeldModulation` holds ``(batch, n)`` fields for every step (an environment step held over
the network's micro-steps). How a signal enters a cell is decided once per precision in
:mod:`modspike.step`, for the parameter fields the cell kind names (``ModTargets``).
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Modulation(NamedTuple):
    gain: Any
    bias: Any
    hs0: Any

    def at(self, t: int) -> HeldModulation:
        return HeldModulation(self.gain[t], self.bias[t], self.hs0[t])


class HeldModulation(NamedTuple):
    gain: Any
    bias: Any
    hs0: Any

    def at(self, t: int) -> HeldModulation:
        return self


IntModulation = Modulation
"""The integer form has the same fields (state units); kept as a name for readability."""
