"""Where commands write: the ``--out`` policy and atomic writes.

Promises (``docs/reliability.md``):

* nothing the user did not ask to replace is replaced: an existing non-empty ``--out`` is refused
  unless ``--force``; ``--force`` replaces only an earlier modspike output (a run directory,
  artifact, report or analysis folder, or a file where a file is written), never an arbitrary
  folder;
* ``--out .`` (or any folder that holds the current one), a parent path that is a file, a target
  that is, contains or lies inside one of the command's inputs: one-line :class:`OutputError`;
* writes go to a temporary sibling (``.NAME.modspike-tmp-PID-XXXX``) that replaces the target
  only once complete; the previous content stays intact until then (with ``renameat2``'s
  ``RENAME_EXCHANGE`` the swap itself is atomic);
* out of space (``ENOSPC``/``EDQUOT``/``EFBIG``) -> :class:`OutOfSpaceError`, a read-only or
  forbidden place -> :class:`OutputError`; the temporary sibling is removed either way;
* temporary siblings of a process that no longer exists (killed with SIGKILL) are removed the next
  time anything is written next to them.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from . import interrupts
from .errors import OutOfSpaceError, OutputError

TMP_TAG, OLD_TAG = "modspike-tmp", "modspike-old"
_STALE = re.compile(rf"^\..+\.(?:{TMP_TAG}|{OLD_TAG})-(\d+)-[A-Za-z0-9_]+$")
SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
ACCESS_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}
MARKERS = ("config.json", "manifest.json", "report.json", "excitability.json", "sweep.json")
"""A folder holding one of these is an earlier modspike output, which ``--force`` may replace."""

_FORCE: contextvars.ContextVar[bool | None] = contextvars.ContextVar("modspike_force", default=None)


@contextlib.contextmanager
def output_policy(force: bool) -> Iterator[None]:
    """While active, :func:`atomic_directory` / :func:`atomic_file` refuse a target that became
    non-empty since the command checked it, unless ``force`` (the CLI sets this from --force)."""
    token = _FORCE.set(bool(force))
    try:
        yield
    finally:
        _FORCE.reset(token)


# --------------------------------------------------------------------------- checks


def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(os.path.expanduser(os.fspath(path))))


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def _occupied(path: Path) -> bool:
    """True when replacing ``path`` would lose something: a file, a link, a non-empty folder."""
    if not os.path.lexists(path):
        return False
    if path.is_symlink() or not path.is_dir():
        return True
    try:
        return any(True for _ in os.scandir(path))
    except OSError:
        return True


def is_modspike_output(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and any((path / m).is_file() for m in MARKERS)


def _check_place(target: Path, label: str) -> None:
    """The checks that hold for every write, also outside the CLI."""
    raw = os.fspath(target)
    if not raw.strip():
        raise OutputError(f"{label}: empty path")
    if Path(raw).name in ("", ".", ".."):
        raise OutputError(f"{label} {raw}: name a new folder or file, not {raw!r}")
    real, cwd = _real(target), _real(Path.cwd())
    if _inside(cwd, real):
        raise OutputError(
            f"{label} {raw}: is the current folder or one of its parents; name a new folder"
        )
    parent = Path(os.path.abspath(os.path.expanduser(raw))).parent
    probe = parent
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"{label} {raw}: {probe} is a file, not a folder")
    if probe == parent and not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{label} {raw}: cannot write in {parent} (permission denied)")


def check_target(
    target: str | Path,
    *,
    force: bool = False,
    kind: str = "dir",
    sources: Iterable[str | Path] = (),
    protects: Iterable[str | Path] = (),
    label: str = "--out",
) -> Path:
    """Check an output target before any work starts; raise :class:`OutputError` (one line).

    ``kind``: ``"dir"`` (a folder is written) or ``"file"``. ``sources``: the command's inputs
    (runs, artifacts, NIR files); the target may not be one of them, lie inside one, or contain
    one. ``protects``: folders the target may lie in but not be or contain (a data folder).
    """
    if kind not in ("dir", "file"):
        raise ValueError(f"kind must be 'dir' or 'file', not {kind!r}")
    path = Path(os.path.expanduser(os.fspath(target)))
    _check_place(path, label)
    real = _real(path)
    for source in sources:
        if source is None:
            continue
        src = _real(source)
        if _inside(real, src) or _inside(src, real):
            raise OutputError(
                f"{label} {target}: overlaps the input {source}; write somewhere else"
            )
    for folder in protects:
        if folder is not None and _inside(_real(folder), real):
            raise OutputError(f"{label} {target}: would replace {folder}; write somewhere else")
    if path.is_dir() and not path.is_symlink() and kind == "file":
        raise OutputError(f"{label} {target}: is a folder; name a file to write")
    if not _occupied(path):
        return path
    if not path.is_dir() and kind == "dir" and not path.is_symlink():
        raise OutputError(f"{label} {target}: is a file; name a folder to write")
    if not force:
        raise OutputError(
            f"{label} {target}: already exists and is not empty; pass --force to replace it"
            " (the old content stays until the new one is complete)"
        )
    if kind == "dir" and not path.is_symlink() and not is_modspike_output(path):
        raise OutputError(
            f"{label} {target}: is not an earlier modspike output (no {', '.join(MARKERS)});"
            " --force replaces only those: remove it yourself or choose another name"
        )
    return path


# --------------------------------------------------------------------------- stale temporaries


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(folder: str | Path) -> list[Path]:
    """Remove our temporary siblings in ``folder`` whose process is gone; returns them."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _STALE.match(entry.name)
        if match and int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1))):
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()
            removed.append(path)
    return removed


# --------------------------------------------------------------------------- atomic writes


def _translate(exc: OSError, target: Path) -> OutputError | None:
    if exc.errno in SPACE_ERRNOS:
        return OutOfSpaceError(
            f"{target}: no space left on the device (or over quota) while writing;"
            " nothing was written"
        )
    if exc.errno in ACCESS_ERRNOS:
        return OutputError(f"{target}: cannot write there ({os.strerror(exc.errno)})")
    return None


_RENAME_EXCHANGE, _AT_FDCWD = 2, -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False when not supported here."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(
        _AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), ctypes.c_uint(_RENAME_EXCHANGE)
    )
    return result == 0


def _put_in_place(tmp: Path, target: Path) -> None:
    """``tmp`` becomes ``target``; an existing target survives until the new one is in place."""
    if not os.path.lexists(target):
        try:
            os.rename(tmp, target)
            return
        except OSError as exc:  # appeared meanwhile (race): fall through to the swap
            if not os.path.lexists(target):
                raise exc
    if _exchange(tmp, target):
        interrupts.register_temp(tmp)
        _delete(tmp)  # now holds the old content
        interrupts.unregister_temp(tmp)
        return
    old = target.with_name(f".{target.name}.{OLD_TAG}-{os.getpid()}-{os.urandom(4).hex()}")
    interrupts.register_temp(old)
    os.rename(target, old)
    try:
        os.rename(tmp, target)
    except OSError:
        os.rename(old, target)  # put the old content back
        raise
    _delete(old)
    interrupts.unregister_temp(old)


def _delete(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _prepare(target: str | Path) -> tuple[Path, list[Path]]:
    """Check the place again, create missing parent folders; returns them (deepest first) so that
    a failed write can remove them too."""
    target = Path(os.path.expanduser(os.fspath(target)))
    _check_place(target, "output")
    if _FORCE.get() is False and _occupied(target):
        raise OutputError(f"{target}: appeared while the command ran; not replaced (use --force)")
    created, folder = [], Path(os.path.abspath(target)).parent
    while not os.path.lexists(folder) and folder != folder.parent:
        created.append(folder)
        folder = folder.parent
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _remove_folders(created)
        raise (_translate(exc, target) or OutputError(f"{target}: {exc.strerror}")) from None
    clean_stale(target.parent)
    return target, created


def _remove_folders(folders: list[Path]) -> None:
    for folder in folders:  # deepest first; only if still empty
        with contextlib.suppress(OSError):
            os.rmdir(folder)


@contextlib.contextmanager
def _guarded(tmp: Path, target: Path, created: list[Path]) -> Iterator[None]:
    interrupts.register_temp(tmp)
    try:
        yield
        _put_in_place(tmp, target)
    except OSError as exc:
        _delete(tmp)
        _remove_folders(created)
        mapped = _translate(exc, target)
        if mapped is None:
            raise
        raise mapped from None
    except BaseException:
        _delete(tmp)
        _remove_folders(created)
        raise
    finally:
        interrupts.unregister_temp(tmp)


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder next to ``target``; on success it replaces ``target``, on any
    failure (or interrupt) it is deleted and ``target`` is untouched."""
    target, created = _prepare(target)
    try:
        tmp = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.{TMP_TAG}-{os.getpid()}-", dir=target.parent)
        )
    except OSError as exc:
        _remove_folders(created)
        raise (_translate(exc, target) or OutputError(f"{target}: {exc.strerror}")) from None
    with _guarded(tmp, target, created):
        yield tmp


@contextlib.contextmanager
def atomic_file(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target`` to write; it replaces ``target`` on success."""
    target, created = _prepare(target)
    tmp = target.with_name(f".{target.name}.{TMP_TAG}-{os.getpid()}-{os.urandom(4).hex()}")
    with _guarded(tmp, target, created):
        yield tmp


def write_text_atomic(target: str | Path, text: str) -> Path:
    """Write ``text`` to ``target`` atomically (typed errors, nothing partial left)."""
    with atomic_file(target) as tmp:
        tmp.write_text(text)
    return Path(target)
