"""The run directory written by ``modspike train`` and read by later stages.

Layout (schema ``modspike-run/1``)::

    RUN_DIR/config.json        {"schema", "modspike_version", "model": {...}, "train": {...}}
    RUN_DIR/model.safetensors  the weights (no pickle)
    RUN_DIR/metrics.json       test_accuracy, val_accuracy, epochs, seconds, ...

Writes go to a temporary sibling folder that is renamed into place at the end, so an interrupted
or failed run never leaves a half-written directory behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from . import __version__
from .errors import CheckpointError

RUN_SCHEMA = "modspike-run/1"
CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE = "config.json", "model.safetensors", "metrics.json"


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n")


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``target``, on failure it is deleted."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_run(
    out: str | Path, model_config: dict, train_config: dict, state_dict: dict, metrics: dict
) -> Path:
    """Write a complete run directory atomically and return its path."""
    from safetensors.torch import save_file

    with atomic_directory(out) as tmp:
        write_json(
            tmp / CONFIG_FILE,
            {
                "schema": RUN_SCHEMA,
                "modspike_version": __version__,
                "model": model_config,
                "train": train_config,
            },
        )
        tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
        save_file(tensors, str(tmp / WEIGHTS_FILE))
        write_json(tmp / METRICS_FILE, metrics)
    return Path(out)


def load_run(run_dir: str | Path) -> tuple[dict, dict, dict]:
    """Read ``(config, state_dict, metrics)`` from a run directory, with clear errors."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: no such run directory")
    missing = [n for n in (CONFIG_FILE, WEIGHTS_FILE) if not (run_dir / n).is_file()]
    if missing:
        raise CheckpointError(
            f"{run_dir}: not a modspike run directory (missing {', '.join(missing)})"
        )
    try:
        config = json.loads((run_dir / CONFIG_FILE).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{run_dir / CONFIG_FILE}: not valid JSON ({exc})") from None
    if not isinstance(config, dict) or config.get("schema") != RUN_SCHEMA:
        raise CheckpointError(
            f"{run_dir / CONFIG_FILE}: schema {config.get('schema') if isinstance(config, dict) else None!r}"
            f" is not {RUN_SCHEMA!r}"
        )
    try:
        state = load_file(str(run_dir / WEIGHTS_FILE))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{run_dir / WEIGHTS_FILE}: unreadable weights ({exc})") from None
    metrics_path = run_dir / METRICS_FILE
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    return config, state, metrics
