"""Build, import and open deployable artifacts (``modspike export`` / ``import-nir``)."""

from __future__ import annotations

import copy
import datetime as _dt
import importlib.metadata
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from modspike.train.qat import fidelity, quantize_network
from modspike.train.trainer import load_model

from modspike import __version__
from modspike.artifact import (
    BASELINE_FILE,
    MODEL_FILE,
    Artifact,
    load_manifest,
    sha256_file,
    write_artifact,
)
from modspike.data import load_dataset
from modspike.encoding import encode_batch, generator
from modspike.errors import ArtifactError, ConfigError, ModspikeError, NIRError
from modspike.fixedpoint import FORMAT_VERSION, SRCFormat, WeightFormat
from modspike.outputs import nir_bytes, write_nir

from .netspec import NetSpec
from .nir_export import export_graph
from .nir_import import graph_to_spec, import_nir, read_nir_file
from .nir_schema import DEFAULT_DT
from .onnx_export import check_onnx, export_onnx

VERIFY_SAMPLES = 32  # test samples replayed through the re-imported file before it is accepted


def tool_versions() -> dict:
    """Versions of the packages an artifact depends on (None where not installed)."""
    out = {"modspike": __version__}
    for dist in ("nir", "nirtorch", "torch", "lava-nc", "snntorch", "onnx", "onnxruntime", "numpy"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _verify_nir(path: Path, qnet, model, tcfg, data) -> None:
    """Re-import the written file; its integer model must replay test spikes bit for bit."""
    spec = import_nir(path)
    x = torch.as_tensor(data.x_test[:VERIFY_SAMPLES])
    spikes = encode_batch(model, x, tcfg, generator(tcfg.seed + 2)).numpy()
    want = qnet.run(spikes, record=True)
    got = spec.quantized.run(spikes, record=True) if spec.quantized is not None else None
    same = got is not None and np.array_equal(want[0], got[0])
    same = same and all(np.array_equal(a, b) for a, b in zip(want[1], got[1]))
    if not same:
        raise ArtifactError(f"{path}: re-imported network differs from the exported one (bug)")


def _baseline(baseline_dir, n_in: int, data, manifest: dict):
    ann, ann_cfg, ann_metrics = load_model(baseline_dir)
    if ann_cfg.cell != "ann":
        raise ConfigError(f"--baseline {baseline_dir}: a {ann_cfg.cell!r} run, not an ANN run")
    if ann.config.n_in != n_in or ann_cfg.data != data.name:
        raise ConfigError(f"--baseline {baseline_dir}: trained on other data than the spiking run")

    def write(path: Path) -> None:
        export_onnx(ann, path, n_in)
        check = check_onnx(path, ann, data.x_test, data.y_test)
        manifest["baseline"] = {
            "file": BASELINE_FILE,
            "run_dir": str(baseline_dir),
            "trained_test_accuracy": ann_metrics.get("test_accuracy"),
            **check,
        }

    return write


def export_run(
    run_dir: str | Path,
    out: str | Path,
    bits: int = 8,
    granularity: str = "layer",
    baseline: str | Path | None = None,
    data_dir: str | None = None,
    dt: float = DEFAULT_DT,
) -> dict:
    """``modspike export``: quantise a trained run, measure fidelity, write the artifact."""
    model, tcfg, metrics = load_model(run_dir)
    if tcfg.cell == "ann":
        raise ConfigError(
            f"{run_dir} is an ANN run; export a spiking run and pass this one as --baseline"
        )
    fmt, sfmt = WeightFormat(bits, granularity), SRCFormat()
    qnet = quantize_network(model, fmt, sfmt)
    data = load_dataset(tcfg.data, data_dir or tcfg.data_dir, tcfg.split_seed)
    report = fidelity(model, qnet, data.x_test, data.y_test, tcfg, seed=tcfg.seed + 2)
    encoding = {
        "name": tcfg.encoding,
        "steps": tcfg.steps,
        "gain": tcfg.gain,
        "prefix": tcfg.prefix,
    }
    info = {"encoding": encoding, "data": tcfg.data, "run_dir": str(run_dir)}
    graph = export_graph(model, qnet, fmt, dt, info)
    warnings = []
    if tcfg.cell == "cubalif" and getattr(model.layers[0].cell.neuron, "reset_delay", False):
        warnings.append(
            "the CubaLIF cell was trained with snntorch's delayed zero reset (the membrane is held at"
            " 0 for one step after a spike); NIR CubaLIF and Lava reset at once, so the float"
            " dynamics of this file differ from training (see the Jaccard)"
        )
    manifest = {
        "created": _now(),
        "created_by": tool_versions(),
        "source": {"kind": "run", "run_dir": str(run_dir), "train_config": asdict(tcfg)},
        "cell": tcfg.cell,
        "layers": [q.kind for q in qnet.layers],
        "encoding": encoding,
        "steps": tcfg.steps + tcfg.prefix,
        "dt": dt,
        "dt_source": "export",
        "data": {
            "name": tcfg.data,
            "split_seed": tcfg.split_seed,
            "test_samples": len(data.x_test),
        },
        "quantization": {
            "format": FORMAT_VERSION,
            "weight_bits": fmt.bits,
            "granularity": fmt.granularity,
            "src_frac_bits": sfmt.frac_bits if tcfg.cell in ("src", "msrc", "bsrc") else None,
            "qat": bool(getattr(tcfg, "qat", False)),
        },
        "accuracy": {
            "trained_test_accuracy": metrics.get("test_accuracy"),
            "float": report["float_accuracy"],
            "quantized": report["quantized_accuracy"],
            "loss_points": report["accuracy_loss_points"],
            "jaccard": report["jaccard"],
            "prediction_flips": report["prediction_flips"],
            "input_seed": report["input_seed"],
        },
        "warnings": warnings,
    }

    def write_model(path: Path) -> None:
        write_nir(path, graph)  # through memory: a full disk fails cleanly (modspike.outputs)
        _verify_nir(path, qnet, model, tcfg, data)

    writers = {MODEL_FILE: write_model}
    if baseline is not None:
        writers[BASELINE_FILE] = _baseline(baseline, model.config.n_in, data, manifest)
    write_artifact(out, writers, manifest)
    summary = {
        "artifact": str(out),
        "cell": tcfg.cell,
        "weight_bits": fmt.bits,
        "float_accuracy": report["float_accuracy"],
        "quantized_accuracy": report["quantized_accuracy"],
        "jaccard": report["jaccard"],
    }
    if "baseline" in manifest:
        summary["baseline_onnx_accuracy"] = manifest["baseline"]["onnx_accuracy"]
    return summary


def import_to_artifact(file: str | Path, out: str | Path, dt: float | None = None) -> dict:
    """``modspike import-nir``: check a NIR file (any producer), record its dt, write an artifact."""
    file = Path(file)
    graph = read_nir_file(file)
    try:
        spec = graph_to_spec(graph, dt)
    except ModspikeError:
        raise
    except Exception as exc:  # an untrusted file: as import_nir does, a typed error
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise NIRError(
            f"{file}: cannot interpret the graph ({type(exc).__name__}: {first})"
        ) from None
    graph = copy.copy(graph)
    graph.metadata = {**(graph.metadata if isinstance(graph.metadata, dict) else {}), "dt": spec.dt}
    info = spec.metadata.get("info", {}) if isinstance(spec.metadata.get("info"), dict) else {}
    manifest = {
        "created": _now(),
        "created_by": tool_versions(),
        "source": {"kind": "nir", "file": str(file), "sha256": sha256_file(file)},
        "cell": spec.kinds[0] if len(set(spec.kinds)) == 1 else "mixed",
        "layers": spec.kinds,
        "encoding": info.get("encoding"),
        "steps": (info.get("encoding") or {}).get("steps"),
        "dt": spec.dt,
        "dt_source": spec.dt_source,
        "data": {"name": info["data"]} if "data" in info else None,
        "quantization": None
        if spec.quantized is None
        else {
            "format": FORMAT_VERSION,
            "weight_bits": spec.weight_bits,
            "granularity": spec.granularity,
        },
        "accuracy": None,
        "warnings": list(spec.notes),
    }

    def write_model(path: Path) -> None:
        try:
            data = nir_bytes(graph)
        except Exception as exc:  # h5py / nir cannot serialise something in the foreign graph
            raise NIRError(
                f"{file}: cannot re-write the graph ({type(exc).__name__}: {exc})"
            ) from None
        path.write_bytes(data)  # a full disk raises OSError here: OutOfSpaceError, nothing left
        import_nir(path)  # what we wrote must read back

    write_artifact(out, {MODEL_FILE: write_model}, manifest)
    return {
        "artifact": str(out),
        "layers": spec.kinds,
        "neurons": [layer.n for layer in spec.layers],
        "dt": spec.dt,
        "dt_source": spec.dt_source,
        "quantized": spec.quantized is not None,
        "notes": spec.notes,
    }


def open_artifact(artifact_dir: str | Path) -> tuple[Artifact, NetSpec]:
    """Verify an artifact and interpret its network; only :class:`ModspikeError` escapes."""
    artifact = load_manifest(artifact_dir)
    try:
        spec = import_nir(artifact.file(MODEL_FILE))
    except ModspikeError as exc:
        raise ArtifactError(f"{artifact.path}: {exc}") from None
    return artifact, spec


def load_artifact_runner(artifact_dir: str | Path, mode: str = "fixed") -> torch.nn.Module:
    """The torch backend for an artifact: its integer model (``"fixed"``) or float dynamics."""
    from .runner import build_runner

    _, spec = open_artifact(artifact_dir)
    return build_runner(spec, mode)
