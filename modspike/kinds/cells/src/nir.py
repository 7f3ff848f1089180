"""The SRC family in NIR: modspike's extension subgraph ``Input -> LI -> Threshold -> Output``
(``docs/nir-extensions.md``). The LI node is the input synapse exactly (``i = alpha*i + a``); the
Threshold node only marks where the nonlinear core sits: a consumer that does not read the metadata
runs Heaviside(i), which is *not* the SRC. The metadata carries the constants, the learned
parameters and the complete integer model."""

from __future__ import annotations

import nir
import numpy as np

from modspike.errors import NIRError
from modspike.fixedpoint import FORMAT_VERSION
from modspike.validate import check_extension

from ...nir_schema import (
    META_KEY,
    SRC_EXTENSION_SCHEMA,
    decode_constants,
    encode_constants,
    float32_tau_for_decay,
    schema_version,
)
from ...values import per_neuron


def write_extension(layer, dt: float, params: dict) -> nir.NIRGraph:
    """The extension subgraph of an SRC-family layer; ``params``: the learned arrays by name."""
    cell, n = layer.cell, layer.n
    alpha = float(cell.constants.alpha)
    tau = float32_tau_for_decay(np.full(n, alpha), dt)
    synapse = nir.LI(
        tau=tau,
        r=np.asarray(tau.astype(np.float64) / dt, dtype=np.float32),
        v_leak=np.zeros(n, dtype=np.float32),
        metadata={"modspike_role": "SRC input synapse i[t] = alpha*i[t-1] + a[t] (exact)"},
    )
    core = nir.Threshold(
        threshold=np.zeros(n, dtype=np.float32),
        metadata={"modspike_role": "placeholder for the SRC core: run it from the metadata"},
    )
    meta = {
        "dt": float(dt),
        META_KEY: {
            "extension": cell.kind.nir.extension,
            "schema": SRC_EXTENSION_SCHEMA,
            "format": FORMAT_VERSION,
            "constants": encode_constants(cell.constants.to_dict()),
            "params": params,
            "output": "graded: max(h, 0)",
        },
    }
    if cell.fixed is not None:
        meta[META_KEY]["fixed_point"] = cell.kind.quant.to_dict(cell.fixed)
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([n])),
            "synapse": synapse,
            "core": core,
            "output": nir.Output(output_type=np.array([n])),
        },
        edges=[("input", "synapse"), ("synapse", "core"), ("core", "output")],
        metadata=meta,
    )


def read_extension(node, name: str, n: int, kind, names: tuple[str, ...]):
    """``(params by name, constants, fixed-point dict or None)`` of an extension subgraph."""
    meta = node.metadata.get(META_KEY) if isinstance(node.metadata, dict) else None
    if not isinstance(meta, dict):
        raise NIRError(f"{name}: the {kind.name} extension lacks its metadata")
    check_extension(meta, name, n)  # finite real constants and parameters
    schema_version(meta.get("schema"), SRC_EXTENSION_SCHEMA, name)
    constants, params = meta.get("constants"), meta.get("params")
    if not isinstance(constants, dict) or not isinstance(params, dict):
        raise NIRError(f"{name}: the {kind.name} extension lacks its constants or parameters")
    missing = [p for p in names if p not in params]
    if missing:
        raise NIRError(f"{name}: the {kind.name} extension lacks parameters {', '.join(names)}")
    try:
        values = {p: per_neuron(params[p], n, f"{name}: {p}") for p in names}
    except Exception as exc:  # QuantizationError or numpy's own on odd values
        raise NIRError(f"{name}: {exc}") from None
    decoded = decode_constants(constants)
    known = kind.constants.__dataclass_fields__
    try:
        consts = kind.constants(**{k: v for k, v in decoded.items() if k in known})
    except (TypeError, ValueError) as exc:
        raise NIRError(f"{name}: bad {kind.name} constants ({exc})") from None
    fixed = meta.get("fixed_point")
    return values, consts, fixed if isinstance(fixed, dict) else None


def write(layer, dt: float) -> nir.NIRGraph:
    return write_extension(layer, dt, {"bh": np.asarray(layer.cell.params.bh)})


def read(node, name: str, n: int, dt: float, kind):
    from .float_step import SRCParams

    values, consts, fixed = read_extension(node, name, n, kind, ("bh",))
    return SRCParams(values["bh"]), consts, fixed
