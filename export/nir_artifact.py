"""``modspike export FILE.nir``: any NIR file to a deployable artifact in one command.

The file is read as its producer wrote it (``--producer``, docs/nir-producers.md), given the
input encoding of a named data set, quantised with :func:`modspike.quantize.quantize` (data-free:
the weights set the grid, the thresholds follow in weight steps), and checked on that data set:
the float network and its integer twin see the same input and their accuracies, prediction flips
and per-layer Jaccard overlap go into the manifest. The written ``model.nir`` is re-imported and
must replay the integer network bit for bit before the artifact is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from modspike import data as datasets
from modspike.artifact import MODEL_FILE, write_artifact
from modspike.data import NO_OPTIONS, EventOptions, load_dataset
from modspike.encoding import EVENTS, encode_batch, generator
from modspike.errors import ArtifactError, ConfigError
from modspike.fixedpoint import FORMAT_VERSION, WeightFormat
from modspike.network import Encoding, Network, network_equal
from modspike.quantize import quantize
from modspike.step import Precision, compile, run
from modspike.train.modules import NetworkModule
from modspike.train.qat import fidelity

from .artifact_build import VERIFY_SAMPLES, accuracy_record, interpret_file, nir_manifest_head
from .nir.file import write_nir_file
from .nir.read import import_nir
from .nir.write import to_nir

DEFAULT_STEPS = 25
DEFAULT_GAIN = 1.0  # a foreign network was trained on its own input: spike probability = intensity


@dataclass(frozen=True)
class InputSpec:
    """The data set and input code an imported network is checked (and deployed) with."""

    data: str
    encoding: str | None = None  # default: the data set's first (rate, or events)
    steps: int | None = None  # default 25; event data: the bins
    gain: float = DEFAULT_GAIN
    prefix: int = 0
    options: EventOptions = NO_OPTIONS
    split_seed: int = 0

    def resolve(self) -> Encoding:
        """The :class:`~modspike.network.Encoding` the artifact records."""
        src = datasets.source(self.data)
        name = self.encoding or src.encodings[0]
        if name not in src.encodings:
            raise ConfigError(
                f"--encoding {name} does not fit {self.data} ({src.kind}); use"
                f" {' or '.join(src.encodings)}"
            )
        if src.kind != datasets.EVENTS:
            return Encoding(name, self.steps or DEFAULT_STEPS, self.gain, self.prefix)
        options = self.options
        if self.steps is not None and options.bins is None and options.bin_us is None:
            options = EventOptions(self.steps, None, options.duration_us, options.polarity,
                                   options.downsample)  # fmt: skip
        record = datasets.event_encoding(self.data, self.split_seed, options)
        if self.steps is not None and self.steps != record["bins"]:
            raise ConfigError(
                f"--steps {self.steps}: the event frames have {record['bins']} time bins (one per"
                " step); set the bins with --bins or --bin-us"
            )
        extra = {k: v for k, v in record.items() if k != "name"}
        return Encoding(EVENTS, int(record["bins"]), 1.0, self.prefix, extra)

    def event_options(self, encoding: Encoding) -> EventOptions:
        if encoding.name != EVENTS:
            return NO_OPTIONS
        return EventOptions.from_encoding(encoding.to_dict())


@dataclass(frozen=True)
class _Code:
    """What :func:`~modspike.encoding.encode_batch` reads from a training config."""

    encoding: str
    steps: int
    gain: float
    prefix: int


def _code(encoding: Encoding) -> _Code:
    return _Code(encoding.name, int(encoding.steps), float(encoding.gain), int(encoding.prefix))


def _verify(path: Path, qnet: Network, spikes: np.ndarray) -> None:
    """The written file, re-imported, is the same integer network: same spikes, same model."""
    back = import_nir(path)
    want, got = run(compile(qnet), spikes), run(compile(back), spikes) if back.quantized else None
    same = got is not None and np.array_equal(want.total, got.total)
    same = same and all(np.array_equal(a, b) for a, b in zip(want.records, got.records))
    same = same and all(
        network_equal(a.cell.fixed, b.cell.fixed) for a, b in zip(qnet.layers, back.layers)
    )
    if not same:
        raise ArtifactError(f"{path}: re-imported network differs from the exported one (bug)")


def export_nir_file(
    file: str | Path,
    out: str | Path,
    spec: InputSpec,
    bits: int = 8,
    granularity: str = "layer",
    dt: float | None = None,
    producer: str | None = None,
    reset: str | None = None,
    data_dir: str | None = None,
    seed: int = 0,
    limit: int | None = None,
    progress: bool = True,
) -> dict:
    """``modspike export FILE.nir``: read, quantise, check on ``spec.data``, write the artifact."""
    file = Path(file)
    fmt = WeightFormat(bits, granularity)
    _, net = interpret_file(file, dt, producer, reset)
    encoding = spec.resolve()
    src = datasets.source(spec.data)
    options = spec.event_options(encoding)
    if src.features(options) != net.n_in:
        raise ConfigError(
            f"{file}: the network takes {net.n_in} inputs per step, {spec.data} gives"
            f" {src.features(options)} ({'x'.join(map(str, src.input_shape(options)))})"
        )
    if len(src.input_shape(options)) > 1 and len(net.input_shape) == 1:
        net = _shaped(net, src.input_shape(options))
    net = net.replace(encoding=encoding)
    qnet = quantize(net, fmt)
    data = load_dataset(spec.data, data_dir, spec.split_seed, options, ("test",), progress)
    x, y = data.x_test, data.y_test
    if limit is not None:
        x, y = x[:limit], y[:limit]
    code = _code(encoding)
    report = fidelity(NetworkModule(net, Precision.FLOAT), qnet, x, y, code, seed)
    check = encode_batch(torch.nn.Module(), torch.as_tensor(x[:VERIFY_SAMPLES]), code,
                         generator(seed)).numpy()  # fmt: skip
    info = dict(net.provenance.info)
    warnings = list(net.provenance.notes)
    if net.n_out != data.n_classes:
        warnings.append(
            f"the network has {net.n_out} outputs and {spec.data} {data.n_classes} classes:"
            " its accuracy (argmax of the outputs) is no measure of the network"
        )
    record = encoding.to_dict()
    meta_info = {
        "encoding": record,
        "data": spec.data,
        "source_file": str(file),
        "producer": info.get("producer", "nir"),
    }
    graph = to_nir(qnet, meta_info)
    manifest = {
        **nir_manifest_head(file, info, qnet.kinds),
        "encoding": record,
        "steps": int(encoding.steps) + int(encoding.prefix),
        "dt": net.dt,
        "dt_source": net.provenance.dt_source,
        "data": {"name": spec.data, "split_seed": spec.split_seed, "test_samples": len(x)},
        "quantization": {
            "format": FORMAT_VERSION,
            "weight_bits": fmt.bits,
            "granularity": fmt.granularity,
            "src_frac_bits": None,
            "qat": False,
        },
        "accuracy": accuracy_record(report, None),
        "warnings": warnings,
    }

    def write_model(path: Path) -> None:
        write_nir_file(path, graph)
        _verify(path, qnet, check)

    write_artifact(out, {MODEL_FILE: write_model}, manifest)
    return {
        "artifact": str(out),
        "layers": qnet.kinds,
        "producer": info.get("producer", "nir"),
        "dt": net.dt,
        "weight_bits": fmt.bits,
        "float_accuracy": report["float_accuracy"],
        "quantized_accuracy": report["quantized_accuracy"],
        "prediction_flips": report["prediction_flips"],
        "jaccard": report["jaccard"],
        "notes": warnings,
    }


def _shaped(net: Network, shape: tuple[int, ...]) -> Network:
    """A flat-input network given the data's (C, H, W) input shape (its dense first layer
    flattens it, as the file's flat Input did)."""
    from dataclasses import replace

    first = replace(net.layers[0], in_shape=tuple(shape))
    return net.replace(input_shape=tuple(shape), layers=(first, *net.layers[1:]))
