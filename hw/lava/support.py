"""Make Lava importable in any process, and say clearly when it (or Loihi 2) is not there.

lava-nc 0.10.0 calls ``multiprocessing.set_start_method('fork')`` at import
(``lava/magma/runtime/message_infrastructure/multiprocessing.py``), which raises ``RuntimeError``
when anything already fixed the default context (tqdm's multiprocessing lock does). Clearing the
start method first makes that call succeed; Lava then runs with ``fork``, which it needs anyway.
"""

from __future__ import annotations

import importlib
import multiprocessing
from types import ModuleType

from modspike.errors import HardwareError

_LAVA: ModuleType | None = None


def import_lava() -> ModuleType:
    """Import and return the ``lava`` package; raises :class:`HardwareError` if it is missing."""
    global _LAVA
    if _LAVA is not None:
        return _LAVA
    if multiprocessing.get_start_method(allow_none=True) is not None:
        multiprocessing.set_start_method(None, force=True)
    try:
        lava = importlib.import_module("lava")
        importlib.import_module("lava.magma.core.run_configs")
    except ImportError as exc:
        raise HardwareError(
            f"the Lava backend needs lava-nc 0.10.0 (Python 3.10), which is not importable: {exc}"
        ) from None
    _LAVA = lava
    return lava


def loihi2_available() -> bool:
    """True when the Loihi 2 hardware extension (lava-loihi) is importable."""
    try:
        import_lava()
        # run_configs.Loihi2HwCfg needs the NeuroCore models, which only lava-loihi ships
        importlib.import_module("lava.magma.core.model.nc.model")
        importlib.import_module("lava.magma.core.run_configs").Loihi2HwCfg  # noqa: B018
    except (HardwareError, ImportError):
        return False
    return True


LOIHI2_MESSAGE = (
    "--backend loihi2 needs Intel's lava-loihi extension and access to Loihi 2 hardware"
    " (Intel INRC); it is not installed here. Use --backend lava to run the same fixed-point"
    " network bit-exactly on Lava's CPU simulator."
)


def require_loihi2() -> None:
    """Raise :class:`HardwareError` with :data:`LOIHI2_MESSAGE` unless Loihi 2 can be used."""
    if not loihi2_available():
        raise HardwareError(LOIHI2_MESSAGE)
