"""SIGINT / SIGTERM for the ``modspike`` command: stop, clean up, say so in one line, exit 130/143.

Two ways out of a signal:

* **unwind** (no child processes): the handler raises :class:`Interrupted`, a ``BaseException``
  that no library ``except Exception`` swallows, so every ``finally`` and every atomic writer's
  clean-up runs (``modspike.outputs`` removes its temporary folders). A watchdog ends the process
  anyway if unwinding takes longer than :data:`GRACE_SECONDS`;
* **hard exit** (a Lava run is going on, or a second signal arrives): Lava's ``stop()`` waits for
  answers from worker processes that may already be gone, so it cannot be unwound. The handler
  kills the workers, asks Lava's shared-memory manager to free its segments, removes the
  registered temporary paths and calls ``os._exit``.

Children forked while a handler is installed (Lava's workers) ignore SIGINT (a Ctrl-C in the
terminal reaches the whole process group; the parent stops them) and get ``PR_SET_PDEATHSIG``
(Linux): they die with their parent even when the parent is killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

GRACE_SECONDS = 20.0  # unwinding longer than this after a signal ends in a hard exit
HANDLED = (signal.SIGINT, signal.SIGTERM)
_PR_SET_PDEATHSIG = 1

_temp_paths: set[str] = set()
_lock = threading.Lock()
_state = {"owner": None, "command": "modspike", "handling": False, "watchdog": None}
_fork_hook = {"registered": False, "parent": None}


class Interrupted(BaseException):
    """Raised in the main thread by the SIGINT / SIGTERM handler of the ``modspike`` command."""

    def __init__(self, signum: int):
        self.signum = int(signum)
        super().__init__(signal.Signals(self.signum).name)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


# --------------------------------------------------------------------------- temporary paths


def register_temp(path: str | Path) -> None:
    """Remember a temporary file or folder to delete if the process is interrupted."""
    with _lock:
        _temp_paths.add(os.fspath(path))


def unregister_temp(path: str | Path) -> None:
    with _lock:
        _temp_paths.discard(os.fspath(path))


def remove_temp_paths() -> None:
    """Delete every registered temporary path (those that are still there)."""
    with _lock:
        paths = list(_temp_paths)
        _temp_paths.clear()
    for path in paths:
        _remove(path)


def _remove(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.unlink(path)
    except OSError:
        pass


# --------------------------------------------------------------------------- child processes


def _proc_table() -> dict[int, int]:
    """pid -> parent pid of every process this user can see (Linux /proc)."""
    table = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(b")", 1)[-1].split()
        if len(fields) > 1 and fields[0] != b"Z":  # skip zombies: they are already dead
            table[int(entry)] = int(fields[1])
    return table


def descendants(pid: int | None = None) -> list[int]:
    """Living descendants of ``pid`` (default: this process), children first."""
    root = os.getpid() if pid is None else pid
    table = _proc_table()
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop(0)
        kids = [p for p, pp in table.items() if pp == parent and p not in found]
        found += kids
        frontier += kids
    return found


def _resource_tracker_pid() -> int | None:
    """multiprocessing's resource tracker frees leaked shared memory once everyone has exited:
    it must outlive the workers, so it is never killed."""
    try:
        from multiprocessing import resource_tracker

        return getattr(resource_tracker._resource_tracker, "_pid", None)
    except Exception:  # pragma: no cover - private API changed
        return None


def _live_children() -> list[int]:
    keep = _resource_tracker_pid()
    return [p for p in descendants() if p != keep]


def _started_shm_managers() -> list:
    """multiprocessing SharedMemoryManagers of this process that are running (Lava has one)."""
    try:
        from multiprocessing.managers import SharedMemoryManager, State
    except ImportError:  # pragma: no cover
        return []
    found = []
    for obj in gc.get_objects():
        if issubclass(type(obj), SharedMemoryManager):  # type(): no __class__ lookups
            state = getattr(obj, "_state", None)
            if state is not None and state.value == State.STARTED:
                found.append(obj)
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    for pid in pids:  # reap our own children so that no zombie is left behind
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not our child (a grandchild) or already reaped
                break
            if done:
                break
            time.sleep(0.01)


def stop_children() -> None:
    """Kill every descendant process (Lava's workers), except multiprocessing's resource tracker,
    and let Lava's shared-memory managers free their segments."""
    managers = _started_shm_managers()
    server_pids = set()
    for manager in managers:
        process = getattr(manager, "_process", None)
        if process is not None and process.pid:
            server_pids.add(process.pid)
    _kill([p for p in _live_children() if p not in server_pids])
    for manager in managers:  # the server unlinks its segments on shutdown

        def shutdown(m=manager):
            with contextlib.suppress(Exception):
                m.shutdown()

        worker = threading.Thread(target=shutdown, daemon=True)
        worker.start()
        worker.join(5.0)
    _kill(_live_children())


# --------------------------------------------------------------------------- forked children


def _libc_prctl():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):  # not Linux
        return None


def _before_fork() -> None:
    _fork_hook["parent"] = os.getpid()


def _after_fork_in_child() -> None:
    """Runs in every child forked by this process (Lava's workers)."""
    _state["owner"] = None  # the child is not the command: never run the command's clean-up
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    prctl = _libc_prctl()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    parent = _fork_hook["parent"]
    if parent is not None and os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def children_die_with_parent() -> None:
    """From now on, every child forked by this process dies with it (idempotent)."""
    if not _fork_hook["registered"] and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
        _fork_hook["registered"] = True


# --------------------------------------------------------------------------- the handler


def _message(signum: int, hard: bool) -> str:
    name = signal.Signals(signum).name
    what = "stopped the worker processes and removed partial output" if hard else "stopped"
    return f"modspike {_state['command']}: interrupted by {name}: {what}"


def hard_exit(signum: int) -> None:
    """Kill the children, delete registered temporary paths, print one line, ``os._exit``."""
    with contextlib.suppress(Exception):
        stop_children()
    with contextlib.suppress(Exception):
        remove_temp_paths()
    with contextlib.suppress(Exception):
        sys.stderr.write(_message(signum, hard=True) + "\n")
        sys.stderr.flush()
    os._exit(128 + signum)


def _handler(signum, frame) -> None:
    if _state["owner"] != os.getpid():  # a forked child that still has our handler
        os._exit(128 + signum)
    if _state["handling"] or _live_children():
        hard_exit(signum)
    _state["handling"] = True
    watchdog = threading.Timer(GRACE_SECONDS, hard_exit, args=(signum,))
    watchdog.daemon = True
    watchdog.start()
    _state["watchdog"] = watchdog
    raise Interrupted(signum)


def finish_interrupt(exc: Interrupted) -> str:
    """After an :class:`Interrupted` unwound: stop children, clean up, return the one line."""
    watchdog = _state.get("watchdog")
    if watchdog is not None:
        watchdog.cancel()
    stop_children()
    remove_temp_paths()
    return _message(exc.signum, hard=False)


@contextlib.contextmanager
def handle_signals(command: str) -> Iterator[None]:
    """Install the SIGINT / SIGTERM handler for one ``modspike`` command (main thread only);
    the previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in HANDLED}
    saved = dict(_state)
    _state.update(owner=os.getpid(), command=command, handling=False, watchdog=None)
    children_die_with_parent()
    try:
        for sig in HANDLED:
            if previous[sig] is signal.SIG_IGN and sig == signal.SIGINT:
                continue  # started in the background with SIGINT ignored: keep it so
            signal.signal(sig, _handler)
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        watchdog = _state.get("watchdog")
        if watchdog is not None:
            watchdog.cancel()
        _state.update(saved)
