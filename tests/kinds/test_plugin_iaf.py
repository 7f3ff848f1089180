"""A new cell kind defined here, in the test suite alone, runs through the whole pipeline without
editing the package: float network -> quantise -> NIR file -> import -> simulator (bit-exact with
the network it came from) -> counters and memory -> Lava (generic StepLayer).

The kind is a plain integrate-and-fire cell, ``v = v + a``, a spike where ``v > threshold``, reset
to 0; in fixed point ``v`` is a saturating 24-bit integer and ``vth`` the threshold on the drive's
grid. Its NIR form is an extension subgraph of its own schema.
"""

from __future__ import annotations

import multiprocessing
from typing import NamedTuple

import nir
import numpy as np
import pytest
import torch
from conftest import build_network, run_fixed, run_float

from modspike import registry
from modspike.errors import NIRError
from modspike.export.nir.file import write_nir_file
from modspike.export.nir.read import import_nir
from modspike.export.nir.write import to_nir
from modspike.fixedpoint import round_half_up, saturate
from modspike.hw.backends import simulate
from modspike.kinds.types import (
    CellKind,
    FixedArith,
    FloatArith,
    MemoryFigures,
    NirCodec,
    Output,
    Quantizer,
)
from modspike.memory import layer_footprint
from modspike.network import FixedCell
from modspike.quantize import quantize
from modspike.runtime.counters import count_layers

SCHEMA = "test-iaf/1"


class Params(NamedTuple):
    threshold: torch.Tensor


class State(NamedTuple):
    v: torch.Tensor


class IntParams(NamedTuple):
    vth: np.ndarray


class IntState(NamedTuple):
    v: np.ndarray


def float_step(a, state, p, constants=None):
    v = state.v + a
    spikes = (v > p.threshold).to(v.dtype)
    return spikes, State(v * (1 - spikes))


def int_step(a, state, p):
    v = saturate(state.v + a)
    spikes = v > p.vth
    return spikes.astype(np.int64), IntState(np.where(spikes, 0, v))


def quantize_cell(cell, synapse, recurrent, bias, fmt, sfmt):
    e_v = synapse.exponent + synapse.input_exponent
    vth = round_half_up(np.asarray(cell.params.threshold) / np.exp2(e_v))
    n = cell.n
    return FixedCell(IntParams(vth), np.zeros(n, np.int64), e_v, 0)


def write(layer, dt):
    n = layer.n
    meta = {
        "modspike": {
            "extension": "iaf",
            "schema": SCHEMA,
            "threshold": np.asarray(layer.cell.params.threshold),
        }
    }
    if layer.cell.fixed is not None:
        meta["modspike"]["fixed_point"] = {"vth": layer.cell.fixed.params.vth}
        meta["modspike"]["state_exp"] = layer.cell.fixed.state_exp
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([n])),
            "output": nir.Output(output_type=np.array([n])),
        },
        edges=[("input", "output")],
        metadata=meta,
    )


def read(node, name, n, dt, kind):
    meta = node.metadata["modspike"]
    if meta.get("schema") != SCHEMA:
        raise NIRError(f"{name}: not a {SCHEMA} node")
    fixed = meta.get("fixed_point")
    if fixed is not None:
        fixed = {**fixed, "state_exp": meta["state_exp"]}
    return Params(np.asarray(meta["threshold"], dtype=np.float64)), None, fixed


def from_dict(d, n):
    exp = np.asarray(d["state_exp"], dtype=np.int64)
    return FixedCell(IntParams(np.asarray(d["vth"], np.int64)), np.zeros(n, np.int64), exp, 0)


IAF = CellKind(
    name="iaf",
    output=Output.BINARY,
    float_params=Params,
    floating=FloatArith(
        initial_state=lambda batch, n, device=None: State(torch.zeros(batch, n, device=device)),
        step=float_step,
    ),
    fixed=FixedArith(
        initial_state=lambda batch, n: IntState(np.zeros((batch, n), np.int64)),
        step=int_step,
        drive_exponent=lambda fixed: fixed.state_exp,
        ste_fields=(("v", "v"),),
    ),
    quant=Quantizer(
        quantize=quantize_cell,
        out_exponent=lambda sfmt: 0,
        to_dict=lambda fixed: {"vth": fixed.params.vth},
        from_dict=from_dict,
    ),
    nir=NirCodec(write=write, read=read, extension="iaf"),
    memory=MemoryFigures(state_words=1, param_bits=17),
    description="test-only integrate-and-fire",
)


@pytest.fixture
def iaf_network():
    rng = np.random.default_rng(0)
    with registry.scoped():
        registry.register(IAF)
        net = build_network(
            [
                ("iaf", rng.normal(0.4, 0.6, (12, 8)), {"threshold": np.full(12, 1.5)}, None),
                ("iaf", rng.normal(0.3, 0.5, (6, 12)), {"threshold": np.full(6, 1.0)}, None),
            ],
            readout=rng.normal(size=(3, 6)),
        )
        yield net
    assert "iaf" not in registry.cell_names()  # the registration did not outlive the test


@pytest.mark.lava
def test_a_kind_defined_in_the_tests_runs_through_the_pipeline(iaf_network, tmp_path):
    spikes = (np.random.default_rng(1).random((15, 5, 8)) < 0.5).astype(np.float32)
    qnet = quantize(iaf_network)
    path = tmp_path / "iaf.nir"
    write_nir_file(path, to_nir(qnet))
    back = import_nir(path)
    assert back.kinds == ["iaf", "iaf"] and back.quantized
    want_logits, want = run_fixed(qnet, spikes)
    got_logits, got = run_fixed(back, spikes)
    assert all(r.sum() > 0 for r in want)  # the layers fire
    assert np.array_equal(want_logits, got_logits)
    assert all(np.array_equal(a, b) for a, b in zip(want, got))
    # the float network reads back too, and runs
    float_logits, float_rasters = run_float(back, spikes)
    assert float_rasters[0].sum() > 0 and float_logits.shape == (5, 3)
    # counters and the memory model read the kind's figures
    counts = count_layers(back, spikes, got)
    assert counts[0]["spikes"].sum() == want[0].sum()
    assert counts[0]["footprint_bits"] == layer_footprint(back.layers[0], back).bits
    assert layer_footprint(back.layers[0], back).bits == 12 * 8 * 8 + 12 * (24 + 17)
    # Lava runs it in the generic StepLayer, bit for bit with the simulator
    lava = simulate(back, spikes, "lava")
    assert all(np.array_equal(a, b) for a, b in zip(want, lava.rasters))
    assert not multiprocessing.active_children()


def test_an_unregistered_extension_is_refused_clearly(tmp_path):
    path = tmp_path / "iaf.nir"
    with registry.scoped():
        registry.register(IAF)
        net = build_network([("iaf", np.ones((4, 3)), {"threshold": np.ones(4)}, None)])
        write_nir_file(path, to_nir(quantize(net)))
    with pytest.raises(NIRError, match="unknown modspike extension 'iaf'"):
        import_nir(path)  # outside the registration: this reader does not know the kind
