"""``loihi2``: Intel's hardware through lava-loihi; a clear error where it is not installed."""

from __future__ import annotations

from modspike.errors import HardwareError
from modspike.network import Network

from . import Backend, register


def _run(net: Network, spikes, record=True, modulation=None, progress=False):
    from modspike.hw.lava.support import require_loihi2

    require_loihi2()
    raise HardwareError("--backend loihi2: the Loihi 2 mapping is not written yet")


LOIHI2 = register(Backend("loihi2", "fixed", _run, one_run=True, description="Loihi 2 hardware"))
