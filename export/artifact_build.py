"""Build, import and open deployable artifacts (``modspike export`` / ``import-nir``)."""

from __future__ import annotations

import copy
import datetime as _dt
import importlib.metadata
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from modspike import __version__
from modspike.artifact import (
    BASELINE_FILE,
    MODEL_FILE,
    Artifact,
    load_manifest,
    sha256_file,
    write_artifact,
)
from modspike.data import NO_OPTIONS, load_dataset
from modspike.encoding import encode_batch, generator, static_view
from modspike.errors import ArtifactError, ConfigError, ModspikeError, NIRError
from modspike.fixedpoint import FORMAT_VERSION, SRCFormat, WeightFormat
from modspike.kinds.nir_schema import DEFAULT_DT
from modspike.network import (
    NETWORK_SCHEMA,
    PLASTIC_NETWORK_SCHEMA,
    Network,
    Provenance,
    network_equal,
)
from modspike.quantize import quantize
from modspike.step import compile, run
from modspike.train.modules import encoding_of, is_ann, to_network
from modspike.train.qat import fidelity
from modspike.train.trainer import load_model

from .nir.file import read_nir_file, write_nir_file
from .nir.read import from_nir, import_nir
from .nir.write import to_nir
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


def accuracy_record(report: dict, trained_test_accuracy: float | None) -> dict:
    """The manifest's ``accuracy``: the quantisation check's report (float against quantised on
    the test split) and, for a trained run, the test accuracy the run recorded."""
    return {
        "trained_test_accuracy": trained_test_accuracy,
        "float": report["float_accuracy"],
        "quantized": report["quantized_accuracy"],
        "loss_points": report["accuracy_loss_points"],
        "jaccard": report["jaccard"],
        "prediction_flips": report["prediction_flips"],
        "input_seed": report["input_seed"],
    }


def nir_manifest_head(file, info: dict, kinds: list[str]) -> dict:
    """The manifest fields every artifact made from a NIR file starts with: when and by what it
    was made, the file and whose conventions it was read with, its cell kinds, the schema."""
    return {
        "created": _now(),
        "created_by": tool_versions(),
        "source": {
            "kind": "nir",
            "file": str(file),
            "sha256": sha256_file(file),
            "producer": info.get("producer", "nir"),
            "reset": info.get("producer_reset"),
        },
        "cell": kinds[0] if len(set(kinds)) == 1 else "mixed",
        "layers": kinds,
        "network_schema": NETWORK_SCHEMA,
    }


def _verify_nir(path: Path, qnet: Network, model, tcfg, data) -> None:
    """Re-import the written file: the same network, whose integer model replays test spikes
    bit for bit."""
    back = import_nir(path)
    x = torch.as_tensor(data.x_test[:VERIFY_SAMPLES])
    spikes = encode_batch(model, x, tcfg, generator(tcfg.seed + 2)).numpy()
    want = run(compile(qnet), spikes)
    got = run(compile(back), spikes) if back.quantized else None
    same = got is not None and np.array_equal(want.total, got.total)
    same = same and all(np.array_equal(a, b) for a, b in zip(want.records, got.records))
    same = same and all(
        network_equal(a.cell.fixed, b.cell.fixed) for a, b in zip(qnet.layers, back.layers)
    )
    if not same:
        raise ArtifactError(f"{path}: re-imported network differs from the exported one (bug)")


def _baseline(baseline_dir, n_in: int, data, manifest: dict):
    ann, ann_cfg, ann_metrics = load_model(baseline_dir)
    if not is_ann(ann_cfg.cell):
        raise ConfigError(f"--baseline {baseline_dir}: a {ann_cfg.cell!r} run, not an ANN run")
    if ann.config.n_in != n_in or ann_cfg.data != data.name:
        raise ConfigError(f"--baseline {baseline_dir}: trained on other data than the spiking run")

    def write(path: Path) -> None:
        export_onnx(ann, path, n_in)
        check = check_onnx(path, ann, static_view(data.x_test), data.y_test)
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
    if is_ann(tcfg.cell):
        raise ConfigError(
            f"{run_dir} is an ANN run; export a spiking run and pass this one as --baseline"
        )
    fmt, sfmt = WeightFormat(bits, granularity), SRCFormat()
    encoding = encoding_of(tcfg)
    net = to_network(
        model,
        encoding,
        dt,
        Provenance(
            source="run",
            origin=str(run_dir),
            train_config=asdict(tcfg),
            model_config=model.config.to_dict(),
        ),
    )
    qnet = quantize(net, fmt, sfmt)
    options = tcfg.event_options() if hasattr(tcfg, "event_options") else NO_OPTIONS
    data = load_dataset(tcfg.data, data_dir or tcfg.data_dir, tcfg.split_seed, options, ("test",))
    report = fidelity(model, qnet, data.x_test, data.y_test, tcfg, seed=tcfg.seed + 2)
    encoding = encoding.to_dict()
    info = {"encoding": encoding, "data": tcfg.data, "run_dir": str(run_dir)}
    graph = to_nir(qnet, info)
    warnings: list[str] = []
    manifest = {
        "created": _now(),
        "created_by": tool_versions(),
        "source": {"kind": "run", "run_dir": str(run_dir), "train_config": asdict(tcfg)},
        "cell": tcfg.cell,
        "layers": qnet.kinds,
        "network_schema": NETWORK_SCHEMA,
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
            "src_frac_bits": sfmt.frac_bits if _has_frac_bits(qnet) else None,
            "qat": bool(getattr(tcfg, "qat", False)),
        },
        "accuracy": accuracy_record(report, metrics.get("test_accuracy")),
        "warnings": warnings,
    }

    def write_model(path: Path) -> None:
        write_nir_file(path, graph)
        _verify_nir(path, qnet, model, tcfg, data)

    writers = {MODEL_FILE: write_model}
    if baseline is not None:
        writers[BASELINE_FILE] = _baseline(baseline, qnet.n_in, data, manifest)
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


def interpret_file(
    file: str | Path,
    dt: float | None = None,
    producer: str | None = None,
    reset: str | None = None,
):
    """``(graph, network)`` of a NIR file read as ``producer`` wrote it (typed errors only; batch
    dimensions of size 1 in its types are dropped, and the network's notes say so)."""
    file = Path(file)
    repairs: list[str] = []
    graph = read_nir_file(file, repairs)
    try:
        net = from_nir(graph, dt, producer, reset)
    except ModspikeError:
        raise
    except Exception as exc:  # an untrusted file: as import_nir does, a typed error
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise NIRError(
            f"{file}: cannot interpret the graph ({type(exc).__name__}: {first})"
        ) from None
    if repairs:
        prov = net.provenance
        net = net.replace(provenance=replace(prov, notes=(*prov.notes, *repairs)))
    return graph, net


def import_to_artifact(
    file: str | Path,
    out: str | Path,
    dt: float | None = None,
    producer: str | None = None,
    reset: str | None = None,
) -> dict:
    """``modspike import-nir``: check a NIR file (any producer), record its dt (and the producer
    whose conventions it follows), write an artifact."""
    file = Path(file)
    graph, net = interpret_file(file, dt, producer, reset)
    graph = copy.copy(graph)
    recorded = {"dt": net.dt}
    info = dict(net.provenance.info)
    if "producer" in info:
        recorded.update(producer=info["producer"], producer_reset=info["producer_reset"])
    graph.metadata = {**(graph.metadata if isinstance(graph.metadata, dict) else {}), **recorded}
    manifest = {
        **nir_manifest_head(file, info, net.kinds),
        "encoding": info.get("encoding"),
        "steps": (info.get("encoding") or {}).get("steps"),
        "dt": net.dt,
        "dt_source": net.provenance.dt_source,
        "data": {"name": info["data"]} if "data" in info else None,
        "quantization": None
        if not net.quantized
        else {
            "format": FORMAT_VERSION,
            "weight_bits": net.weight_format.bits,
            "granularity": net.weight_format.granularity,
        },
        "accuracy": None,
        "warnings": list(net.provenance.notes),
    }

    def write_model(path: Path) -> None:
        write_nir_file(path, graph)
        import_nir(path)  # what we wrote must read back

    write_artifact(out, {MODEL_FILE: write_model}, manifest)
    return {
        "artifact": str(out),
        "layers": net.kinds,
        "neurons": [layer.n for layer in net.layers],
        "dt": net.dt,
        "dt_source": net.provenance.dt_source,
        "producer": info.get("producer", "nir"),
        "quantized": net.quantized,
        "notes": list(net.provenance.notes),
    }


def _has_frac_bits(net: Network) -> bool:
    return any(hasattr(layer.cell.fixed.params, "frac_bits") for layer in net.layers)


def _check_network_schema(artifact) -> None:
    found = artifact.manifest.get("network_schema", "modspike-network/1")
    name, _, version = PLASTIC_NETWORK_SCHEMA.partition("/")  # the newest this modspike reads
    if not isinstance(found, str) or not found.startswith(name + "/"):
        raise ArtifactError(f"{artifact.path}: unknown network schema {str(found)[:80]!r}")
    tail = found.partition("/")[2]
    if not tail.isdigit() or int(tail) > int(version):
        raise ArtifactError(
            f"{artifact.path}: written with network schema {found!r}, newer than this modspike"
            f" reads ({PLASTIC_NETWORK_SCHEMA!r}); upgrade modspike"
        )


def open_artifact(artifact_dir: str | Path) -> tuple[Artifact, Network]:
    """Verify an artifact and interpret its network; only :class:`ModspikeError` escapes."""
    artifact = load_manifest(artifact_dir)
    _check_network_schema(artifact)
    try:
        net = import_nir(artifact.file(MODEL_FILE))
    except ModspikeError as exc:
        raise ArtifactError(f"{artifact.path}: {exc}") from None
    return artifact, net


def load_artifact_runner(artifact_dir: str | Path, mode: str = "fixed") -> torch.nn.Module:
    """The artifact's network as a torch module: its integer model (``"fixed"``) or float
    dynamics (``"float"``)."""
    from modspike.step import Precision
    from modspike.train.modules import NetworkModule

    precisions = {"fixed": Precision.FIXED, "float": Precision.FLOAT}
    if mode not in precisions:
        raise ConfigError(f"unknown run mode {mode!r}; use float or fixed")
    _, net = open_artifact(artifact_dir)
    return NetworkModule(net, precisions[mode]).eval()
