"""Reading a ``.nir`` (HDF5) file with typed errors: missing, truncated or corrupted files, unknown
node types, shape (type) mismatches. Nothing else in modspike calls ``nir.read`` on a user's file."""

from __future__ import annotations

import io
from pathlib import Path

import nir
import numpy as np

from modspike.errors import ModspikeError, NIRError
from modspike.hdf5_guard import load_checked
from modspike.kinds.nir_schema import META_KEY
from modspike.validate import check_graph_meta

NIR_PRIMITIVES = (
    "Input Output Affine Linear Conv1d Conv2d Delay Flatten I IF LI LIF CubaLI CubaLIF Scale"
    " SumPool2d AvgPool2d Threshold NIRGraph"
).split()


def _scan_node_types(group, where: str) -> None:
    """Name the first node whose type NIR does not know (nir.read would fail with a bare assert)."""
    if "type" not in group:
        raise NIRError(f"{where}: node has no 'type'")
    raw = group["type"][()]
    tname = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    if tname not in NIR_PRIMITIVES:
        raise NIRError(
            f"node {where!r} has type {tname!r}, which is not a NIR primitive"
            f" ({', '.join(NIR_PRIMITIVES[:-1])}); modspike cannot run it"
        )
    if tname == "NIRGraph":
        if "nodes" not in group:
            raise NIRError(f"{where}: graph without nodes")
        for name, sub in group["nodes"].items():
            _scan_node_types(sub, f"{where}/{name}" if where != "graph" else name)


def read_nir_file(path: str | Path, repairs: list[str] | None = None) -> nir.NIRGraph:
    """``nir.read`` with typed errors: missing, truncated or corrupted files, files that are not
    self-contained (external links / storage, soft links, virtual datasets: refused before any data
    is read, ``modspike.hdf5_guard``), unknown node types, shape (type) mismatches.

    With a ``repairs`` list, a graph whose only type errors are batch dimensions of size 1 in its
    Input / Output types (Rockpool writes ``[1, 12]`` and ``[1, 1, 5]``; snntorch with a batched
    sample ``[1, 12]``) is repaired instead of refused, and what was dropped is appended to it.

    The file is read once into memory; the checked bytes are the parsed bytes."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise NIRError(f"{path}: no such NIR file")
    buffer = load_checked(path)
    try:
        with h5py.File(buffer, "r") as f:
            if "node" not in f:
                raise NIRError(f"{path}: not a NIR file (no 'node' group)")
            _scan_node_types(f["node"], "graph")
    except ModspikeError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError, ... on corrupt files
        raise NIRError(f"{path}: not a readable NIR (HDF5) file ({_short(exc)})") from None
    buffer.seek(0)
    try:
        graph = nir.read(buffer)
    except Exception as exc:  # nir raises AssertionError, ValueError, KeyError, TypeError, ...
        graph = _repaired(buffer, repairs) if repairs is not None else None
        if graph is None:
            raise NIRError(f"{path}: invalid NIR graph ({_short(exc)})") from None
    if not isinstance(graph, nir.NIRGraph):
        raise NIRError(f"{path}: the file holds a single {type(graph).__name__}, not a graph")
    meta = graph.metadata if isinstance(graph.metadata, dict) else {}
    check_graph_meta(meta.get(META_KEY), str(path))
    return graph


def _squeezed(shape) -> np.ndarray | None:
    """``shape`` without its leading size-1 dimensions, or None if it has none (or is 1-D)."""
    arr = np.asarray(shape).reshape(-1)
    k = 0
    while k < arr.size - 1 and arr[k] == 1:
        k += 1
    return arr[k:] if k else None


def _repaired(buffer, repairs: list[str]) -> nir.NIRGraph | None:
    """The graph read without nir's type check, its Input / Output types stripped of leading
    size-1 dimensions where that makes them match their neighbours; None if it still fails."""
    buffer.seek(0)
    try:
        graph = nir.read(buffer, type_check=False)
    except Exception:  # any failure other than the types: refused by the caller
        return None
    if not isinstance(graph, nir.NIRGraph):
        return None
    done = []
    for a, b in graph.edges:
        pre, post = graph.nodes.get(a), graph.nodes.get(b)
        if isinstance(pre, nir.Input) and post is not None and post.input_type:
            want = next(iter(post.input_type.values()))
            got = _squeezed(pre.output_type["output"])
            if got is not None and want is not None and np.array_equal(got, want):
                done.append(f"Input {a!r} {list(pre.output_type['output'])} -> {list(got)}")
                pre.input_type = {"input": got}
                pre.output_type = {"output": got}
        if isinstance(post, nir.Output) and pre is not None and pre.output_type:
            want = next(iter(pre.output_type.values()))
            got = _squeezed(post.input_type["input"])
            if got is not None and want is not None and np.array_equal(got, want):
                done.append(f"Output {b!r} {list(post.input_type['input'])} -> {list(got)}")
                post.input_type = {"input": got}
                post.output_type = {"output": got}
    try:
        graph.check_types()
    except Exception:  # still inconsistent: not only batch dimensions
        return None
    if done:
        repairs.append("dropped batch dimensions of size 1 from the types: " + "; ".join(done))
    return graph


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def nir_bytes(graph: nir.NIRGraph) -> bytes:
    """A NIR graph serialised in memory (``nir.write`` into a buffer); a graph nir or h5py cannot
    serialise is a :class:`NIRError`."""
    buffer = io.BytesIO()
    try:
        nir.write(buffer, graph)
    except Exception as exc:  # h5py / nir cannot serialise something in the graph
        raise NIRError(f"cannot write the graph ({_short(exc)})") from None
    return buffer.getvalue()


def write_nir_file(path: str | Path, graph: nir.NIRGraph) -> None:
    """``nir.write`` through memory: HDF5 fills a buffer, then one plain write puts it on disk.

    h5py writing straight to a full disk fails inside its close (an ``OSError`` at best, a crash
    at worst); a plain ``write`` of the finished bytes fails cleanly with ``ENOSPC``, which the
    atomic writers of :mod:`modspike.outputs` turn into ``OutOfSpaceError`` (nothing left)."""
    Path(path).write_bytes(nir_bytes(graph))
