"""Make Lava importable in any process, and say clearly when it (or Loihi 2) is not there.

lava-nc 0.10.0 calls ``multiprocessing.set_start_method('fork')`` at import
(``lava/magma/runtime/message_infrastructure/multiprocessing.py``), which raises ``RuntimeError``
when anything already fixed the default context (tqdm's multiprocessing lock does). Clearing the
start method first makes that call succeed; Lava then runs with ``fork``, which it needs anyway.

Lava's worker processes must never outlive the command: :func:`import_lava` makes every child
forked from then on die with its parent (``modspike.interrupts.children_die_with_parent``, also
on SIGKILL of the parent), and gives multiprocessing a temporary folder named after this process
(``modspike-mp-PID-XXXX`` instead of ``pymp-XXXX``), so that a folder left by a killed process can
be recognised and removed the next time Lava starts (:func:`clean_stale_mp_dirs`).
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import re
import shutil
import tempfile
from pathlib import Path
from types import ModuleType

from modspike.errors import HardwareError
from modspike.interrupts import children_die_with_parent, register_temp
from modspike.outputs import pid_alive

MP_PREFIX = "modspike-mp-"
_MP_DIR = re.compile(rf"^{MP_PREFIX}(\d+)-[A-Za-z0-9_]+$")

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
    children_die_with_parent()
    clean_stale_mp_dirs()
    _own_mp_tempdir()
    _LAVA = lava
    return lava


def clean_stale_mp_dirs(folder: str | Path | None = None) -> list[Path]:
    """Remove ``modspike-mp-PID-*`` folders whose process is gone; returns them."""
    folder = Path(folder or tempfile.gettempdir())
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _MP_DIR.match(entry.name)
        if match and entry.is_dir(follow_symlinks=False) and not pid_alive(int(match.group(1))):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


def _own_mp_tempdir() -> None:
    """Give multiprocessing (Lava's shared-memory manager address) a temporary folder that
    names this process; removed at exit like multiprocessing's own ``pymp-*`` folder."""
    from multiprocessing import process, util

    config = process.current_process()._config
    if config.get("tempdir") is not None:  # already created (it is reused for the process)
        return
    path = tempfile.mkdtemp(prefix=f"{MP_PREFIX}{os.getpid()}-")
    util.Finalize(None, shutil.rmtree, args=(path, True), exitpriority=-100)
    config["tempdir"] = path
    register_temp(path)  # an interrupted command removes it too (modspike.interrupts)


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
