"""The run directory written by ``modspike train`` and read by later stages.

Layout (schema ``modspike-run/1``)::

    RUN_DIR/config.json        {"schema", "modspike_version", "model": {...}, "train": {...}}
    RUN_DIR/model.safetensors  the weights (no pickle)
    RUN_DIR/metrics.json       test_accuracy, val_accuracy, epochs, seconds, ...

Writes go to a temporary sibling folder that is renamed into place at the end, so an interrupted
or failed run never leaves a half-written directory behind (``modspike.outputs``).

``config.json`` also records ``environment``: the torch thread count and library versions that
decide whether a run can be reproduced bit for bit (``docs/reliability.md``).
"""

from __future__ import annotations

import json
from pathlib import Path

from . import __version__
from .errors import CheckpointError
from .outputs import atomic_directory
from .validate import check_finite_tensors, check_run_config, load_json_text

__all__ = ["atomic_directory", "environment", "load_run", "save_run", "write_json"]

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


def environment() -> dict:
    """What decides bit-for-bit reproducibility besides the seed: torch's intra-op thread count
    (reductions split differently with another count) and the library versions."""
    import numpy
    import torch

    return {
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
    }


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
                "environment": environment(),
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
    config = load_json_text(
        _read(run_dir / CONFIG_FILE), str(run_dir / CONFIG_FILE), CheckpointError
    )
    if not isinstance(config, dict) or config.get("schema") != RUN_SCHEMA:
        raise CheckpointError(
            f"{run_dir / CONFIG_FILE}: schema {config.get('schema') if isinstance(config, dict) else None!r}"
            f" is not {RUN_SCHEMA!r}"
        )
    check_run_config(config, str(run_dir / CONFIG_FILE))
    try:
        state = load_file(str(run_dir / WEIGHTS_FILE))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{run_dir / WEIGHTS_FILE}: unreadable weights ({str(exc).splitlines()[0][:160]})"
        ) from None
    check_finite_tensors(state, str(run_dir / WEIGHTS_FILE))
    metrics_path = run_dir / METRICS_FILE
    metrics = {}
    if metrics_path.is_file():
        metrics = load_json_text(
            _read(metrics_path), str(metrics_path), CheckpointError, allow_nan=True
        )
        if not isinstance(metrics, dict):
            raise CheckpointError(f"{metrics_path}: must be a JSON object")
    return config, state, metrics


MAX_JSON_BYTES = 16 << 20


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise CheckpointError(f"{path}: implausibly large ({path.stat().st_size} bytes)")
        return path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
