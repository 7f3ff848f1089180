"""The synaptic-operation regulariser of ``modspike train --reg-synops LAMBDA``.

``R = sum_l fan_out_l * events_l / sum_l fan_out_l * n_l * T`` in [0, 1]: the fraction of the
synaptic operations the hidden layers' output events can cause (each event of layer ``l`` is read
by its ``fan_out_l`` targets: the next layer, the readout, its own recurrence). ``events_l`` is the
L1 norm of the layer's output over steps and neurons, mean over the batch: the spike count for
binary cells (its surrogate gradient is the spikes'), the output's magnitude for graded cells (SRC
family), whose event count has no gradient. The loss becomes ``CE + LAMBDA * R``; with LAMBDA = 0
the trainer does not compute R at all (training is bit-identical to a run without the option).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def fan_outs(widths: Sequence[int], n_out: int, recurrent: bool) -> list[int]:
    """Targets of one output event of each hidden layer (``widths``: the layers' sizes)."""
    nxt = [*widths[1:], n_out]
    return [f + (w if recurrent else 0) for w, f in zip(widths, nxt)]


def synops_fraction(records: Sequence[torch.Tensor], fans: Sequence[int]) -> torch.Tensor:
    """``R`` of the module docstring from per-layer outputs ``(T, B, n_l)``."""
    if not records:
        raise ValueError("the synaptic-operation regulariser needs the hidden layers' outputs")
    num = sum(f * r.abs().sum(dim=(0, 2)).mean() for r, f in zip(records, fans))
    den = sum(f * r.shape[0] * r.shape[2] for r, f in zip(records, fans))
    return num / den
