"""``sim-torch`` (the FIXED program on torch int64 tensors) equals ``sim`` bit for bit, on the CPU,
for every kind in the registry with an integer model; a kind that does not run on tensors is
bridged through numpy, layer by layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import build_network
from test_compiled import (
    FIXED_KINDS,
    N_IN,
    STEPS,
    iaf_compiled,
    iaf_kind,
    random_modulation,
    random_network,
)

from modspike import registry
from modspike.hw.backends import names, simulate
from modspike.hw.backends.sim_torch import torch_program
from modspike.quantize import quantize
from modspike.step import Precision, compile, run
from modspike.train.modules import to_network


@pytest.fixture(autouse=True)
def _cpu(monkeypatch):
    monkeypatch.setenv("MODSPIKE_DEVICE", "cpu")


def assert_same(net, spikes, modulation=None, record=True):
    ref = simulate(net, spikes, "sim", modulation=modulation, record=record)
    got = simulate(net, spikes, "sim-torch", modulation=modulation, record=record)
    assert got.config["device"] == "cpu"
    if record:
        for k, (a, b) in enumerate(zip(ref.rasters, got.rasters)):
            assert a.dtype == b.dtype and np.array_equal(a, b), k
    else:
        assert got.rasters is None
    for name in ("totals", "events"):
        for a, b in zip(getattr(ref, name), getattr(got, name)):
            assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert np.array_equal(ref.logits, got.logits)
    return ref, got


@pytest.mark.parametrize("kind", FIXED_KINDS)
def test_sim_torch_is_bit_exact_with_sim(kind):
    """Random recurrent networks, normal and saturating, with a random modulation where the kind
    takes one, with and without rasters."""
    rng = np.random.default_rng(sum(map(ord, kind)) + 1)
    spikes = (rng.random((STEPS, 9, N_IN)) < 0.4).astype(np.uint8)
    for scale in (2.0, 1000.0):
        net = random_network(kind, seed=7, scale=scale)
        mods = random_modulation(rng, net, STEPS, 9)
        ref, got = assert_same(net, spikes, mods)
        assert any(r.any() for r in ref.rasters)
        assert_same(net, spikes, record=False)
    on_device = registry.cell(kind).fixed.tensors
    assert got.config["layers_on_device"] == ([L.name for L in net.layers] if on_device else [])


@pytest.mark.parametrize("kind", FIXED_KINDS)
def test_tensor_program_ends_in_the_same_states(kind):
    """Every register of every layer after the run (not only what the layers send)."""
    rng = np.random.default_rng(2)
    spikes = (rng.random((STEPS, 9, N_IN)) < 0.4).astype(np.uint8)
    net = random_network(kind, seed=5, scale=1000.0)
    mods = random_modulation(rng, net, STEPS, 9)
    want = run(compile(net, Precision.FIXED), spikes, modulation=mods)
    tmods = [None if m is None else type(m)(*(torch.as_tensor(f) for f in m)) for m in mods]
    got = run(torch_program(net, "cpu"), torch.as_tensor(spikes), modulation=tmods)
    for (pw, sw), (pg, sg) in zip(want.state, got.state):  # a bridged layer keeps numpy state
        assert np.array_equal(pw, np.asarray(pg))
        assert all(np.array_equal(u, np.asarray(v)) for u, v in zip(sw, sg))


@pytest.mark.parametrize("compiled", [None, iaf_compiled])
def test_a_kind_without_tensors_is_bridged(compiled):
    rng = np.random.default_rng(3)
    with registry.scoped():
        kind = registry.register(iaf_kind(compiled))
        net = build_network(
            [
                (kind.name, rng.normal(0.4, 0.6, (12, 8)), {"threshold": np.full(12, 1.5)}, None),
                ("lif", rng.normal(0.3, 0.5, (6, 12)), _lif(6), None),
            ],
            readout=rng.normal(size=(3, 6)),
        )
        spikes = (rng.random((15, 5, 8)) < 0.5).astype(np.uint8)
        ref, got = assert_same(quantize(net), spikes)
        assert got.config["layers_on_device"] == ["layer1"]
        assert all(r.any() for r in ref.rasters)


def _lif(n):
    from conftest import lif_params

    return lif_params(n, threshold=0.5)


PEERS = Path(__file__).parent / "data" / "peers"
DENSE_PEERS = [p for p in sorted(PEERS.glob("*/*.nir")) if "conv" not in p.stem]


@pytest.mark.parametrize(
    "path", DENSE_PEERS, ids=[f"{p.parent.name}/{p.stem}" for p in DENSE_PEERS]
)
def test_imported_peer_networks_run_on_tensors(path):
    """Layers under another library's spike rule (subtract resets, late resets, ``>=``, spike
    counts, delays) step on tensors too, identical to ``sim``."""
    from modspike.export.nir.read import import_nir

    reset = "zero" if path.stem.endswith("_zero") else None
    net = quantize(import_nir(path, producer=path.parent.name, reset=reset))
    spikes = (np.random.default_rng(4).random((20, 5, *net.input_shape)) < 0.3).astype(np.uint8)
    ref, got = assert_same(net, spikes)
    assert sum(int(r.sum()) for r in ref.rasters) > 0
    assert got.config["layers_on_device"] == [L.name for L in net.layers]


@pytest.mark.parametrize("kind", ["lif", "src"])
def test_conv_networks_on_sim_torch_equal_sim(kind):
    """Convolution and pooling layers step on numpy inside ``sim-torch`` (their synapse kinds do
    not declare tensors): the results are still ``sim``'s, and the config says where each layer ran."""
    from conv_nets import conv_model, digit_spikes

    from modspike.fixedpoint import WeightFormat

    net = quantize(
        to_network(conv_model(kind, "c4k3-p2-c6k3s2-a2-d12", seed=2)), WeightFormat(8, "neuron")
    )
    ref, got = assert_same(net, digit_spikes(n=12, steps=8).astype(np.uint8))
    assert sum(int(r.sum()) for r in ref.rasters) > 0
    on_tensors = [
        layer.name
        for layer in net.layers
        if all(s.kind.tensors for s in (*layer.synapse.pre, layer.synapse))
    ]
    assert got.config["layers_on_device"] == on_tensors


def test_sim_torch_is_listed():
    assert "sim-torch" in names()
