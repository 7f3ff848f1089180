"""LIF and current-based LIF baselines, through snntorch (``Leaky`` and ``Synaptic``).

Reset is *to zero*, the only reset Lava's LIF implements, so the trained model is the one that
deploys (cells are exported to NIR ``LIF`` / ``CubaLIF`` nodes with ``v_reset = 0``).
"""

from __future__ import annotations

import snntorch as snn
import torch
from torch import nn


class LIFCell(nn.Module):
    """snntorch ``Leaky`` with membrane decay ``beta`` and threshold ``threshold``."""

    kind = "lif"
    spiking = True
    in_multiplicity = 1

    def __init__(self, n: int, beta: float = 0.9, threshold: float = 1.0):
        super().__init__()
        self.n = n
        self.beta, self.threshold = beta, threshold
        self.neuron = snn.Leaky(beta=beta, threshold=threshold, reset_mechanism="zero")

    def initial_state(self, batch: int, device=None) -> torch.Tensor:
        return torch.zeros(batch, self.n, device=device)

    def forward(self, a_in: torch.Tensor, mem: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spk, mem = self.neuron(a_in, mem)
        return spk, mem

    def init_synapse_(self, weight: torch.Tensor) -> None:  # keep torch's Linear default
        pass


class CubaLIFCell(nn.Module):
    """snntorch ``Synaptic``: synaptic current decay ``alpha``, membrane decay ``beta``."""

    kind = "cubalif"
    spiking = True
    in_multiplicity = 1

    def __init__(self, n: int, alpha: float = 0.8, beta: float = 0.9, threshold: float = 1.0):
        super().__init__()
        self.n = n
        self.alpha, self.beta, self.threshold = alpha, beta, threshold
        self.neuron = snn.Synaptic(
            alpha=alpha, beta=beta, threshold=threshold, reset_mechanism="zero", reset_delay=False
        )  # reset at once, as NIR CubaLIF and Lava's LIF do (snntorch's default holds v one step)

    def initial_state(self, batch: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.zeros(batch, self.n, device=device)
        return z, z.clone()

    def forward(self, a_in: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        spk, syn, mem = self.neuron(a_in, state[0], state[1])
        return spk, (syn, mem)

    def init_synapse_(self, weight: torch.Tensor) -> None:
        pass
