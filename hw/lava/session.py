"""A network kept running on Lava for a closed loop, one environment step at a time."""

from __future__ import annotations

import numpy as np

from modspike.network import Network

from .graph import LavaGraph
from .synapses import hops


class LavaSession:
    """A network kept running on Lava for a closed loop, one environment step at a time.

    Each :meth:`advance` sends ``window`` steps of input (and modulation) for a batch of one,
    runs one period (``window + layers`` Lava steps, so the last layer has finished), and returns
    the last layer's outputs of those ``window`` steps. Layers hold their state between calls, as
    the simulator does when it resumes from a state. Use as a context manager: the runtime is always stopped.
    """

    def __init__(
        self, net: Network, window: int, precision: str = "fixed", graded_input: bool = True
    ):
        self.window = window
        self.offsets = hops(net)  # each layer's delay: its synapse processes so far
        self.n_layers = self.offsets[-1]
        self.period = window + self.n_layers
        self.graph = LavaGraph(
            net,
            precision,
            self.period,
            window,
            self.period,
            reset=False,
            modulated=True,
            graded_input=graded_input,
            record=True,
        )

    def __enter__(self) -> LavaSession:
        return self

    def __exit__(self, *exc) -> None:
        self.graph.stop()

    def _set(self, var, value: np.ndarray) -> None:
        value = value.astype(var.init.dtype)
        if self.graph.steps_done:
            var.set(value)
        else:
            var.init = value

    def advance(self, inputs: np.ndarray, modulation: list) -> np.ndarray:
        """``inputs`` (window, n_in); ``modulation[k]`` a ``(gain, bias, hs0)`` triple of (n_k,)
        arrays held over the window; returns the last layer's outputs ``(window, n_last)``."""
        w, p = self.window, self.period
        data = np.zeros((inputs.shape[1], p))
        data[:, :w] = np.asarray(inputs).T
        self._set(self.graph.source.data, data)
        for k, (layer, mod) in enumerate(zip(self.graph.layers, modulation), start=1):
            m = np.zeros((3, len(mod[0]), p))
            off = self.offsets[k - 1]
            m[:, :, off : off + w] = np.stack([np.asarray(f) for f in mod])[:, :, None]
            self._set(layer.mod.data, m)
        self.graph.run(p)
        rec = np.asarray(self.graph.layers[-1].sink.data.get())
        return rec[:, self.n_layers : self.n_layers + w].T
