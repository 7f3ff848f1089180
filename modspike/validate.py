"""Checks of untrusted numbers at every boundary: CLI options, manifest fields, run-directory
configs and weights, NIR metadata arrays and tables.

Each check raises the caller's typed error (``error=``, a :class:`ModspikeError` subclass) with a
one-line message that names the field, *before* any work or allocation: finite values, ranges,
real numeric dtypes (no complex, bytes, strings or objects), integer-valued where integers are
meant, and size limits that protect memory. Array-level (numpy in, numpy out), so that the network
code can call them wherever it reads a dictionary.
"""

from __future__ import annotations

import argparse
import math
import numbers
import os
from collections.abc import Mapping

import numpy as np

from .errors import ArtifactError, CheckpointError, ConfigError, ModspikeError, NIRError

# --------------------------------------------------------------------------- limits

MAX_STEPS = 1_000_000  # time steps per sample (the memory check below is the real bound)
MAX_WARMUP_STEPS = 100_000  # the warm-up runs step by step: 1e5 steps is already hours
MAX_HIDDEN = 16_384  # a recurrent 16384 x 16384 float32 matrix is 1 GiB
MAX_LAYERS = 64
MAX_EPOCHS = 1_000_000
MAX_BATCH = 1 << 20
MAX_COUNT = 1 << 40  # --limit and sample counts
MAX_SEED = (1 << 32) - 1  # scikit-learn's random_state and numpy's legacy seeds stop here
MAX_GAIN = 1e6
MAX_LR = 1e3
MAX_DT = 1.0  # seconds per step
MAX_ARRAY_ELEMENTS = 1 << 26  # one metadata array (64 Mi elements = 512 MiB of float64)
MAX_TABLE_VALUES = (1 << 16) + 1  # a piecewise-linear table (ours have 513)
MAX_TABLE_MAGNITUDE = 1 << 40  # table values and x_min are state-unit integers
MAX_JSON_DEPTH = 64
ENCODING_NAMES = ("rate", "latency", "events")  # modspike.encoding.ENCODINGS (imports this)
MEMORY_FRACTION = 0.5  # one allocation may take at most this share of the available memory


def available_memory() -> int:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``; else 8 GiB)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 8 << 30


def check_allocation(nbytes: float, what: str, error: type[ModspikeError] = ConfigError) -> None:
    """Refuse an allocation of ``nbytes`` that cannot fit in memory (before it is attempted)."""
    limit = MEMORY_FRACTION * available_memory()
    if not nbytes <= limit:
        raise error(
            f"{what} would need {nbytes / 2**30:.3g} GiB of memory; at most {limit / 2**30:.3g} GiB"
            " are available to one array here: use fewer steps, samples or a smaller batch"
        )


# --------------------------------------------------------------------------- scalars


def _is_real_number(value) -> bool:
    return isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


def number(
    value,
    name: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    error: type[ModspikeError] = ConfigError,
) -> float:
    """A finite real number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""
    if not _is_real_number(value):
        raise error(f"{name} must be a number, got {_show(value)}")
    x = float(value)
    if not math.isfinite(x):
        raise error(f"{name} must be finite, got {x!r}")
    if lo is not None and (x < lo or (lo_open and x == lo)):
        raise error(f"{name} must be {'>' if lo_open else '>='} {lo:g}, got {x:g}")
    if hi is not None and x > hi:
        raise error(f"{name} must be <= {hi:g}, got {x:g}")
    return x


def integer(
    value,
    name: str,
    *,
    lo: int | None = None,
    hi: int | None = None,
    error: type[ModspikeError] = ConfigError,
) -> int:
    """An integer (not a bool, not a float) in ``[lo, hi]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise error(f"{name} must be an integer, got {_show(value)}")
    x = int(value)
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise error(f"{name} must lie in [{lo}, {hi}], got {x}")
    return x


def _show(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


# --------------------------------------------------------------------------- arrays


def numeric_array(
    value,
    name: str,
    *,
    error: type[ModspikeError] = NIRError,
    sizes: tuple[int, ...] | None = None,
    max_elements: int = MAX_ARRAY_ELEMENTS,
    integer_valued: bool = False,
    lo: float | None = None,
    hi: float | None = None,
) -> np.ndarray:
    """A real, finite numeric array (bools, complex, bytes, strings and objects are refused);
    ``sizes``: the element counts allowed; ``integer_valued``: every value a whole number."""
    if isinstance(value, (str, bytes, Mapping)) or value is None:
        raise error(f"{name} must be numeric, got {_show(value)}")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError, OverflowError):
        raise error(f"{name} is not a numeric array") from None
    if arr.dtype.kind not in "iuf":
        raise error(f"{name} must hold real numbers, not {arr.dtype} values")
    if arr.size > max_elements:
        raise error(f"{name} has {arr.size} values; at most {max_elements} are accepted")
    if sizes is not None and arr.size not in sizes:
        raise error(f"{name} has {arr.size} values, expected {' or '.join(map(str, sizes))}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise error(f"{name} contains NaN or Inf values")
    if integer_valued and arr.dtype.kind == "f" and not np.array_equal(arr, np.rint(arr)):
        raise error(f"{name} must hold whole numbers")
    if arr.size and (
        (lo is not None and np.min(arr) < lo) or (hi is not None and np.max(arr) > hi)
    ):
        raise error(f"{name} must lie in [{lo:g}, {hi:g}]")
    return arr


# --------------------------------------------------------------------------- NIR metadata


def check_table(table, name: str, error: type[ModspikeError] = NIRError) -> None:
    """A piecewise-linear table as ``fixedpoint.PWLTable.to_dict`` writes it."""
    if not isinstance(table, Mapping):
        raise error(f"{name}: a table must be a group of values, got {_show(table)}")
    for key in ("values", "x_min", "step_shift"):
        if key not in table:
            raise error(f"{name}: table lacks {key!r}")
    values = numeric_array(
        table["values"],
        f"{name}.values",
        error=error,
        max_elements=MAX_TABLE_VALUES,
        integer_valued=True,
        lo=-MAX_TABLE_MAGNITUDE,
        hi=MAX_TABLE_MAGNITUDE,
    )
    if values.ndim > 1 or values.size < 2 or (values.size - 1) & (values.size - 2):
        raise error(f"{name}.values must be 2**k + 1 values in a row, got shape {values.shape}")
    m = MAX_TABLE_MAGNITUDE
    numeric_array(table["x_min"], f"{name}.x_min", error=error, sizes=(1,), integer_valued=True,
                  lo=-m, hi=m)  # fmt: skip
    numeric_array(table["step_shift"], f"{name}.step_shift", error=error, sizes=(1,),
                  integer_valued=True, lo=0, hi=47)  # fmt: skip


def check_fixed_point_fields(cell, fields, n: int, name: str = "fixed_point") -> None:
    """Integer cell parameters (a kind's ``to_dict`` output) before the kind's ``from_dict``
    reads them: a group whose listed fields are real whole numbers, 1 or ``n`` of them."""
    if not isinstance(cell, Mapping):
        raise NIRError(f"{name}: fixed-point parameters must be a group, got {_show(cell)}")
    for key in fields:
        if key in cell:
            numeric_array(
                cell[key], f"{name}.{key}", sizes=(1, n), integer_valued=True, lo=-(2.0**62),
                hi=2.0**62,
            )  # fmt: skip


def check_src_format(cell, name: str = "fixed_point") -> None:
    """The SRC family's state format and tables: bounded integers, 2**k + 1 table values."""
    if not isinstance(cell, Mapping):
        raise NIRError(f"{name}: fixed-point parameters must be a group, got {_show(cell)}")
    for key, lo, hi in (("frac_bits", 7, 16), ("state_bits", 16, 32)):
        if key not in cell:
            raise NIRError(f"{name}: lacks {key!r}")
        numeric_array(cell[key], f"{name}.{key}", sizes=(1,), integer_valued=True, lo=lo, hi=hi)
    tables = cell.get("tables")
    if not isinstance(tables, Mapping) or "gate" not in tables or "tanh" not in tables:
        raise NIRError(f"{name}: the SRC tables (gate, tanh) are missing")
    for key, table in tables.items():
        check_table(table, f"{name}.tables.{key}")


def check_extension(meta, name: str, n: int) -> None:
    """The metadata of a modspike SRC-family extension subgraph: constants are finite real
    scalars (or the ``"none"`` token), parameters real finite arrays of 1 or ``n`` values."""
    if not isinstance(meta, Mapping):
        raise NIRError(f"{name}: extension metadata must be a group")
    constants = meta.get("constants")
    if isinstance(constants, Mapping):
        if len(constants) > 256:
            raise NIRError(f"{name}: implausibly many constants ({len(constants)})")
        for key, value in constants.items():
            if isinstance(value, bytes):
                value = value.decode("utf-8", errors="replace")
            if isinstance(value, str):
                if value != "none":
                    raise NIRError(f"{name}: constant {key!r} must be a number, got {value[:40]!r}")
                continue
            if isinstance(value, (bool, np.bool_)):
                continue
            numeric_array(value, f"{name}: constant {key!r}", sizes=(1, n))
    params = meta.get("params")
    if isinstance(params, Mapping):
        for key, value in params.items():
            numeric_array(value, f"{name}: parameter {key!r}", sizes=(1, n))


def check_graph_meta(meta, where: str) -> None:
    """Graph-level modspike metadata of a NIR file: the embedded JSON documents parse within the
    depth limit, the weight format is a small integer and a name."""
    if not isinstance(meta, Mapping):
        return
    for key, value in meta.items():
        if str(key).endswith("_json"):
            if isinstance(value, (bytes, np.bytes_)):
                value = bytes(value)
            elif isinstance(value, np.ndarray) and value.ndim == 0:
                value = value.item()
            if not isinstance(value, (str, bytes)):
                raise NIRError(f"{where}: graph metadata {key!r} must be a JSON string")
            load_json_text(value, f"{where}: graph metadata {key!r}", NIRError)
    if "weight_bits" in meta:
        numeric_array(meta["weight_bits"], f"{where}: graph metadata 'weight_bits'", sizes=(1,),
                      integer_valued=True, lo=1, hi=32)  # fmt: skip
    if "quantized" in meta:
        value = np.asarray(meta["quantized"])
        if value.size != 1 or value.dtype.kind not in "biu":
            raise NIRError(f"{where}: graph metadata 'quantized' must be one boolean")


# --------------------------------------------------------------------------- JSON documents


def json_depth(value, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of a decoded JSON value, stopping early past ``limit`` (no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def load_json_text(
    text: str | bytes, where: str, error: type[ModspikeError], allow_nan: bool = False
):
    """``json.loads`` with typed errors (bad UTF-8, bad JSON, too deep, and unless ``allow_nan``
    the non-standard NaN / Infinity tokens)."""
    import json

    def refuse_constant(token: str):
        raise ValueError(f"{token} is not a JSON number")

    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        value = json.loads(text, parse_constant=None if allow_nan else refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise error(f"{where}: not valid JSON ({type(exc).__name__}: {str(exc)[:80]})") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise error(f"{where}: nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _require(d: Mapping, keys, where: str, error) -> None:
    missing = [k for k in keys if d.get(k) is None]
    if missing:
        raise error(f"{where} lacks {', '.join(map(repr, missing))}")


def _opt(d: Mapping, key: str, types: tuple, where: str, error, what: str) -> None:
    if key in d and d[key] is not None and not isinstance(d[key], types):
        raise error(f"{where}: {key!r} must be {what}, got {_show(d[key])}")


def _opt_number(d: Mapping, key: str, where: str, error, lo=None, hi=None) -> None:
    if d.get(key) is not None:
        number(d[key], f"{where}: {key!r}", lo=lo, hi=hi, error=error)


def check_encoding(enc, where: str, error: type[ModspikeError] = ArtifactError) -> None:
    """An input encoding record: ``{"name", "steps", "gain", "prefix"}``."""
    if not isinstance(enc, Mapping):
        raise error(f"{where}: 'encoding' must be an object, got {_show(enc)}")
    if enc.get("name") not in ENCODING_NAMES:
        raise error(f"{where}: encoding name must be one of {', '.join(ENCODING_NAMES)}")
    integer(enc.get("steps"), f"{where}: encoding steps", lo=1, hi=MAX_STEPS, error=error)
    if "gain" in enc:
        number(enc["gain"], f"{where}: encoding gain", lo=0, lo_open=True, hi=MAX_GAIN, error=error)
    if "prefix" in enc:
        integer(enc["prefix"], f"{where}: encoding prefix", lo=0, hi=MAX_STEPS, error=error)
    if enc.get("name") == "events":  # the binning that re-creates the frames (modspike.data)
        integer(enc.get("bins"), f"{where}: encoding bins", lo=1, hi=MAX_STEPS, error=error)
        integer(enc.get("duration_us"), f"{where}: encoding duration_us", lo=1,
                hi=3_600_000_000, error=error)  # fmt: skip
        integer(enc.get("downsample", 1), f"{where}: encoding downsample", lo=1, hi=64, error=error)
        if enc.get("polarity", "split") not in ("split", "merge", "none"):
            raise error(f"{where}: encoding polarity must be split, merge or none")


def check_manifest(m: Mapping, where: str) -> None:
    """Types and ranges of the manifest fields that modspike reads (others are kept as they are)."""
    err = ArtifactError
    if json_depth(m) > MAX_JSON_DEPTH:
        raise err(f"{where}: nested deeper than {MAX_JSON_DEPTH} levels")
    for key in ("cell", "dt_source", "created"):
        _opt(m, key, (str,), where, err, "a string")
    for key in ("created_by", "source", "quantization", "accuracy", "baseline", "agent"):
        _opt(m, key, (dict,), where, err, "an object")
    for key in ("layers", "warnings"):
        _opt(m, key, (list,), where, err, "a list")
        if isinstance(m.get(key), list) and not all(isinstance(x, str) for x in m[key]):
            raise err(f"{where}: {key!r} must be a list of strings")
    if m.get("encoding") is not None:
        check_encoding(m["encoding"], where, err)
    if m.get("steps") is not None:
        integer(m["steps"], f"{where}: 'steps'", lo=1, hi=2 * MAX_STEPS, error=err)
    if m.get("dt") is not None:
        number(m["dt"], f"{where}: 'dt'", lo=0, lo_open=True, hi=MAX_DT, error=err)
    data = m.get("data")
    if data is not None:
        if isinstance(data, dict):
            _opt(data, "name", (str,), where, err, "a string")
            if data.get("split_seed") is not None:
                integer(
                    data["split_seed"], f"{where}: data split_seed", lo=0, hi=MAX_SEED, error=err
                )
            if data.get("test_samples") is not None:
                integer(data["test_samples"], f"{where}: data test_samples", lo=0, hi=MAX_COUNT,
                        error=err)  # fmt: skip
        elif not isinstance(data, str):
            raise err(f"{where}: 'data' must be a name or an object, got {_show(data)}")
    q = m.get("quantization")
    if isinstance(q, dict) and q:
        _require(q, ("weight_bits", "granularity", "format"), f"{where}: 'quantization'", err)
        for key in ("weight_bits", "src_frac_bits"):
            if q.get(key) is not None:
                integer(q[key], f"{where}: quantization {key}", lo=1, hi=32, error=err)
        for key in ("granularity", "format"):
            _opt(q, key, (str,), where, err, "a string")
    acc = m.get("accuracy")
    if isinstance(acc, dict):
        for key in ("float", "quantized", "trained_test_accuracy", "prediction_flips"):
            _opt_number(acc, key, f"{where}: accuracy", err, lo=0.0, hi=1.0)
        jac = acc.get("jaccard")
        if jac is not None and not (
            isinstance(jac, list) and all(_is_real_number(j) and math.isfinite(j) for j in jac)
        ):
            raise err(f"{where}: accuracy 'jaccard' must be a list of numbers")
    b = m.get("baseline")
    if isinstance(b, dict) and b:
        keys = ("file", "torch_accuracy", "onnx_accuracy", "identical_predictions")
        _require(b, keys, f"{where}: 'baseline'", err)
        _opt(b, "identical_predictions", (bool,), where, err, "true or false")
        _opt(b, "file", (str,), where, err, "a string")
        for key in ("torch_accuracy", "onnx_accuracy", "trained_test_accuracy"):
            _opt_number(b, key, f"{where}: baseline", err, lo=0.0, hi=1.0)
    versions = m.get("created_by")
    if isinstance(versions, dict) and not all(
        v is None or isinstance(v, str) for v in versions.values()
    ):
        raise err(f"{where}: 'created_by' must map package names to version strings")


_TRAIN_INTS = {
    "steps": (1, MAX_STEPS),
    "prefix": (0, MAX_STEPS),
    "hidden": (1, MAX_HIDDEN),
    "layers": (1, MAX_LAYERS),
    "epochs": (1, MAX_EPOCHS),
    "batch_size": (1, MAX_BATCH),
    "seed": (0, MAX_SEED),
    "split_seed": (0, MAX_SEED),
    "warmup_steps": (0, MAX_WARMUP_STEPS),
}


def check_train_values(values: Mapping, error: type[ModspikeError] = ConfigError) -> None:
    """Types and ranges of a training configuration (options or a run's ``config.json``)."""
    for key, (lo, hi) in _TRAIN_INTS.items():
        if key in values:
            integer(values[key], f"--{key.replace('_', '-')}", lo=lo, hi=hi, error=error)
    if values.get("limit") is not None:
        integer(values["limit"], "--limit", lo=1, hi=MAX_COUNT, error=error)
    if "gain" in values:
        number(values["gain"], "--gain", lo=0.0, lo_open=True, hi=MAX_GAIN, error=error)
    if values.get("lr") is not None:
        number(values["lr"], "--lr", lo=0.0, lo_open=True, hi=MAX_LR, error=error)
    for key in ("cell", "data", "encoding", "hs0", "device"):
        if key in values and not isinstance(values[key], str):
            raise error(f"--{key} must be a string, got {_show(values[key])}")
    if values.get("data_dir") is not None and not isinstance(
        values["data_dir"], (str, os.PathLike)
    ):
        raise error(f"--data-dir must be a path, got {_show(values['data_dir'])}")


def check_run_config(config: Mapping, where: str) -> None:
    """A run directory's ``config.json`` after its schema check."""
    if json_depth(config) > MAX_JSON_DEPTH:
        raise CheckpointError(f"{where}: nested deeper than {MAX_JSON_DEPTH} levels")
    for key in ("model", "train"):
        if not isinstance(config.get(key), dict):
            raise CheckpointError(f"{where}: {key!r} must be an object")
    try:
        check_train_values(config["train"], error=CheckpointError)
    except CheckpointError as exc:
        raise CheckpointError(f"{where}: train config: {exc}") from None
    model = config["model"]
    options = model.get("cell_options", {})
    if not isinstance(options, dict):
        raise CheckpointError(f"{where}: model cell_options must be an object")
    for key, value in options.items():
        if value is not None and not isinstance(value, (bool, str)):
            number(value, f"{where}: model cell_options {key!r}", error=CheckpointError)
        elif isinstance(value, str):
            raise CheckpointError(f"{where}: model cell_options {key!r} must be a number")
    for key in ("cell", "hs0"):
        if key in model and not isinstance(model[key], str):
            raise CheckpointError(f"{where}: model {key} must be a string")
    for key, (lo, hi) in (("n_in", (1, 1 << 24)), ("n_out", (1, 1 << 24)),
                          ("hidden", (1, MAX_HIDDEN)), ("layers", (1, MAX_LAYERS))):  # fmt: skip
        if key in model:
            integer(model[key], f"{where}: model {key}", lo=lo, hi=hi, error=CheckpointError)


def check_finite_tensors(state: Mapping, where: str) -> None:
    """Every floating-point tensor of a state dict is finite (a NaN beta or weight is refused)."""
    import torch

    for key, tensor in state.items():
        if tensor.is_floating_point() or tensor.is_complex():
            if tensor.is_complex():
                raise CheckpointError(f"{where}: {key} holds complex values")
            if not bool(torch.isfinite(tensor).all()):
                raise CheckpointError(f"{where}: {key} contains NaN or Inf values")


# --------------------------------------------------------------------------- argparse types


def int_option(lo: int, hi: int):
    """An argparse ``type`` for an integer in ``[lo, hi]``."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{text} is outside [{lo}, {hi}]")
        return value

    parse.__name__ = "integer"
    return parse


def float_option(lo: float, hi: float, lo_open: bool = False):
    """An argparse ``type`` for a finite number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not finite")
        if value < lo or (lo_open and value == lo) or value > hi:
            low = "(" if lo_open else "["
            raise argparse.ArgumentTypeError(f"{text} is outside {low}{lo:g}, {hi:g}]")
        return value

    parse.__name__ = "number"
    return parse
