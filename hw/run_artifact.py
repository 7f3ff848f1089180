"""``modspike run``: an artifact on one backend over a data split, with accuracy and spike counts.

Backends: ``torch`` (the artifact's float dynamics, export/runner.py), ``sim`` (the batched
integer simulator, ``IntNetwork``), ``lava`` (Lava's CPU simulator, fixed_pt models, all samples
in one run), ``lava-float`` (Lava's floating_pt models on the float network) and ``loihi2`` (needs Intel's extension; a clear error elsewhere). Input spikes are
drawn once per call from the artifact's encoding with ``seed``, so every backend sees the same
spikes. ``seconds`` is the simulation itself: no imports, no graph building, no Lava start-up.
With ``keep_rasters=True`` the input spikes and every layer's output raster (in the network's
own units: 0/1 spikes, graded SRC outputs as floats) come back next to the dictionary, for
``modspike.runtime.counters``; they are never written to RESULT.json.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from modspike.data import NO_OPTIONS, EventOptions, load_dataset
from modspike.encoding import EVENTS, encode
from modspike.errors import ConfigError, HardwareError
from modspike.export.artifact_build import open_artifact
from modspike.hw import backends


def backend_names() -> list[str]:
    return backends.names()


def encode_split(manifest: dict, x: np.ndarray, seed: int) -> np.ndarray:
    """Input spikes ``(T, N, n_in)`` (uint8) for intensities ``x`` as the artifact's encoding says
    (``events``: the binned frames ``x`` (N, T, ...) replayed, one bin per step, flattened)."""
    enc = manifest.get("encoding") or {}
    if "name" not in enc or "steps" not in enc:
        raise ConfigError("the artifact's manifest names no input encoding (name, steps)")
    gen = torch.Generator().manual_seed(seed)
    kw = {"gain": enc.get("gain", 1.0), "prefix": enc.get("prefix", 0), "generator": gen}
    threshold = enc.get("threshold")  # latency code (older artifacts: the default)
    if threshold is not None and enc["name"] != EVENTS:
        kw["threshold"] = threshold
    xt = torch.as_tensor(np.asarray(x) if enc["name"] == EVENTS else x, dtype=torch.float32)
    spikes = encode(xt, enc["name"], enc["steps"], **kw).numpy()
    if enc["name"] == EVENTS and spikes.max(initial=0) > np.iinfo(np.uint8).max:
        raise ConfigError("event counts above 255 per bin cannot be replayed")
    return spikes.reshape(*spikes.shape[:2], -1).astype(np.uint8)


def input_options(manifest: dict) -> EventOptions:
    """How to bin event data so that the input equals what the artifact was made with."""
    enc = manifest.get("encoding") or {}
    return EventOptions.from_encoding(enc) if enc.get("name") == EVENTS else NO_OPTIONS


def _join(chunks: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Per-chunk, per-layer spike counts (batch, n) -> per-layer counts over all samples."""
    return [np.concatenate(layer) for layer in zip(*chunks)]


def _run_backend(net, spikes: np.ndarray, name: str, batch: int, progress: bool, keep):
    """All samples on one backend, in chunks of ``batch`` (one chunk for Lava: start-up once)."""
    chosen = backends.backend(name)
    if chosen.one_run:
        chunks = [(0, spikes.shape[1])]
    else:
        chunks = [(s, min(s + batch, spikes.shape[1])) for s in range(0, spikes.shape[1], batch)]
    logits, counts, seconds, config = [], [], 0.0, {}
    for lo, hi in tqdm(chunks, desc=name, disable=not progress or len(chunks) == 1):
        # without rasters Lava reads back only its counting sinks (n x samples per layer)
        res = backends.simulate(
            net, spikes[:, lo:hi], name, progress=progress, record=keep is not None
        )
        seconds += res.seconds
        config = res.config
        logits.append(res.logits)
        counts.append([np.asarray(e, dtype=np.int64) for e in res.events])
        if keep is not None:  # outputs in the network's units (2**out_exp per integer unit)
            keep.append(
                [
                    r
                    if chosen.precision == "float" or layer.cell.fixed.out_exp == 0
                    else r * 2.0**layer.cell.fixed.out_exp
                    for r, layer in zip(res.rasters, net.layers)
                ]
            )
    return np.concatenate(logits), _join(counts), seconds, config


def run_artifact(
    artifact_dir: str | Path,
    backend: str = "sim",
    data: str | None = None,
    data_dir: str | None = None,
    split: str = "test",
    limit: int | None = None,
    seed: int = 0,
    batch: int = 2048,
    progress: bool = True,
    keep_rasters: bool = False,
):
    """Run ``artifact_dir`` on ``backend`` over a data split; returns the RESULT.json dictionary.

    With ``keep_rasters`` returns ``(result, rasters)``: ``rasters`` holds ``x`` (the samples'
    intensities, as the encoder saw them), ``inputs`` (T, N, n_in) uint8, ``outputs`` (one (T, N, n) array per layer) and ``layers`` (their names)."""
    if backend not in backends.names():
        raise ConfigError(
            f"unknown backend {backend!r}; choose one of {', '.join(backends.names())}"
        )
    chosen = backends.backend(backend)
    if limit is not None and limit < 1:
        raise ConfigError("--limit must be at least 1")
    artifact, net = open_artifact(artifact_dir)
    manifest = artifact.manifest
    recorded = manifest.get("data")
    recorded = recorded if isinstance(recorded, dict) else {"name": recorded or "digits"}
    data = data or recorded.get("name", "digits")
    split_seed = int(recorded.get("split_seed", 0)) if data == recorded.get("name") else 0
    options = input_options(manifest)
    loaded = load_dataset(data, data_dir, split_seed, options, (split,), progress)
    x, y = loaded.split(split)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    spikes = encode_split(manifest, x, seed)
    if spikes.shape[2] != net.n_in:
        raise ConfigError(
            f"data set {data!r} has {spikes.shape[2]} inputs, the network expects {net.n_in}"
        )
    if chosen.precision == "fixed" and not net.quantized:
        raise HardwareError(
            f"{artifact_dir}: the artifact carries no fixed-point model; only the float backends"
            " (torch, lava-float) can run it"
        )
    keep: list | None = [] if keep_rasters else None
    logits, counts, seconds, config = _run_backend(net, spikes, backend, batch, progress, keep)
    pred = logits.argmax(axis=1)
    n = len(y)
    layers = [layer.name for layer in net.layers]
    result = {
        "artifact": str(artifact_dir),
        "backend": backend,
        "backend_config": {**config, "batch": batch},
        "data": data,
        "split": split,
        "seed": seed,
        "n_samples": n,
        "steps": int(spikes.shape[0]),
        "accuracy": float((pred == y).mean()),
        "predictions": pred.astype(int).tolist(),
        "labels": np.asarray(y).astype(int).tolist(),
        "spike_counts": {
            name: {
                "total": int(c.sum()),
                "per_sample_mean": float(c.sum(axis=1).mean()),
                "per_neuron": c.sum(axis=0).astype(int).tolist(),
            }
            for name, c in zip(layers, counts)
        },
        "input_spikes_per_sample": float(spikes.sum() / n),
        "seconds": seconds,
        "samples_per_second": n / seconds if seconds > 0 else None,
    }
    if keep is None:
        return result
    outputs = [np.concatenate(chunk, axis=1) for chunk in zip(*keep)]  # over the sample axis
    return result, {"x": x, "inputs": spikes, "outputs": outputs, "layers": layers}
