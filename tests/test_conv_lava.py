"""Convolution and pooling on Lava: the simulator == Lava ``fixed_pt`` spike for spike on random
conv / pool networks (states driven into their 24-bit clip) and on an exported conv artifact,
and Lava ``floating_pt`` gives the float torch model's predictions. Many samples per Lava run:
each run pays Lava's start-up once."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_float
from conv_nets import conv_model, digit_spikes

from modspike import registry
from modspike.fixedpoint import STATE_MAX
from modspike.hw.backends import simulate
from modspike.kinds.cells.lif.float_step import LIFParams
from modspike.kinds.synapses._conv.geometry import make_attrs
from modspike.network import Cell, Layer, Network, Readout, Synapse
from modspike.quantize import quantize
from modspike.step import Precision, compile, run
from modspike.train.modules import to_network

LAVA_CONV, EXACT = "lava.proc.conv.Conv", "SynapseStage (exact)"


def _same(net, spikes):
    sim = simulate(net, spikes, "sim")
    lava = simulate(net, spikes, "lava")
    for k, (a, b) in enumerate(zip(sim.rasters, lava.rasters, strict=True)):
        assert a.shape == b.shape and np.array_equal(a, b), (k, np.argwhere(a != b)[:5])
    for a, b in zip(sim.totals, lava.totals):
        assert np.array_equal(a, b)
    assert np.array_equal(sim.logits, lava.logits)
    assert all(r.any() for r in sim.rasters), "every layer must fire: not a vacuous match"
    return sim, lava


def _saturated(net, spikes) -> bool:
    """Whether some integer state reached its 24-bit clip during the run."""
    hit = []

    def probe(t, k, layer_state):
        _, state = layer_state
        hit.append(any(np.any(np.abs(np.asarray(f)) >= STATE_MAX) for f in state))

    run(compile(net, Precision.FIXED), spikes, probe=probe, record=False)
    return any(hit)


def _inhibit(model, k: int, channels: int) -> None:
    """Layer ``k``'s first ``channels`` output channels get the strongest inhibitory kernel and
    no leak: their voltage integrates down to the clip at ``-(2**23 - 1)``."""
    import torch

    layer = model.layers[k]
    with torch.no_grad():
        model.layers[k - 1].synapse.bias.add_(0.4)  # a busy layer before it
        w = layer.synapse.weight
        w[:channels] = -w.abs().max()
        if layer.synapse.bias is not None:
            layer.synapse.bias[:channels] = 0.0
    layer.cell.beta = 1.0


@pytest.mark.lava
@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_lif_conv_pool_network_is_spike_exact_on_lava(seed):
    """conv -> LIF -> sum pool -> strided conv -> LIF -> avg pool -> dense -> LIF, on Lava's
    Conv and Dense with LIFReset; inhibitory kernels clip the voltage at -(2**23 - 1)."""
    model = conv_model("lif", "c6k3-p2-c8k3s2-a2-d16", seed=seed, scale=3.0)
    _inhibit(model, 1, 3)
    net = quantize(to_network(model))
    spikes = digit_spikes(12, 32, seed=seed)
    assert _saturated(net, spikes)
    _, lava = _same(net, spikes)
    procs = lava.config["synapse_processes"]
    assert procs[0] == [LAVA_CONV] and procs[1] == [LAVA_CONV, LAVA_CONV]
    assert procs[2] == [LAVA_CONV, "lava.proc.dense.Dense"]


@pytest.mark.lava
@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_src_conv_network_is_bit_exact_on_lava(seed):
    """Graded SRC outputs into a grouped conv and pooling: a 24-bit wrap of Lava's Conv is
    reachable there, so those stages run the exact SynapseStage; states hit their clip."""
    model = conv_model("src", "c4k3-c8k3g2-p2-d12", seed=seed, scale=1000.0)
    net = quantize(to_network(model))
    spikes = digit_spikes(10, 10, seed=seed)
    assert _saturated(net, spikes)
    _, lava = _same(net, spikes)
    procs = lava.config["synapse_processes"]
    assert procs[0] == [LAVA_CONV]  # binary input spikes: Lava's own Conv is exact
    assert procs[1] == [EXACT] and procs[2] == [EXACT, "lava.proc.dense.Dense"]


@pytest.mark.lava
@pytest.mark.slow
def test_conv1d_network_is_spike_exact_on_lava():
    """A 1-d convolution runs on Lava's 2-d Conv as an image of height 1."""
    rng = np.random.default_rng(4)
    conv1d, dense, lif = registry.synapse("conv1d"), registry.synapse("dense"), registry.cell("lif")

    def params(n):
        return LIFParams(np.full(n, 0.85), np.full(n, 1.0), np.ones(n), np.zeros(n), np.zeros(n))

    attrs = make_attrs((2, 16), 2, 1, 2, 2)
    conv = Synapse(conv1d, rng.normal(size=(4, 1, 3)) * 1.5, None, attrs)
    out = conv.out_shape((2, 16))
    n = int(np.prod(out))
    layers = (
        Layer("c", conv, Cell(lif, params(n)), None, (2, 16), out),
        Layer("d", Synapse(dense, rng.normal(size=(6, n))), Cell(lif, params(6)), None, out, (6,)),
    )
    net = quantize(Network((2, 16), layers, Readout(Synapse(dense, rng.normal(size=(3, 6))))))
    spikes = (rng.random((12, 8, 32)) < 0.4).astype(np.int64)
    _, lava = _same(net, spikes)
    assert lava.config["synapse_processes"][0] == [LAVA_CONV]


@pytest.fixture(scope="module")
def conv_artifact(tmp_path_factory):
    """A briefly trained conv LIF run on digits, exported as an 8-bit artifact."""
    from modspike.cli import main
    from modspike.train.trainer import TrainConfig, train

    root = tmp_path_factory.mktemp("conv_artifact")
    cfg = TrainConfig(cell="lif", arch="c4k3-p2-d24", steps=15, epochs=2, limit=400)
    train(cfg, out=root / "run", progress=False)
    assert main(["export", str(root / "run"), "--out", str(root / "art")]) == 0
    return root / "art"


@pytest.mark.lava
@pytest.mark.slow
def test_exported_conv_artifact_on_lava_fixed_and_float(conv_artifact):
    """The exported file re-imported: sim == Lava fixed_pt on test digits, and Lava floating_pt
    (Lava's Conv, Dense and LIFReset) agrees with the float torch model on >= 99 % of them."""
    from modspike.data import load_digits_dataset
    from modspike.export.artifact_build import open_artifact
    from modspike.hw.run_artifact import encode_split

    artifact, net = open_artifact(conv_artifact)
    assert net.input_shape == (1, 8, 8) and net.layers[0].synapse.kind.name == "conv2d"
    x, y = load_digits_dataset().split("test")
    spikes = encode_split(artifact.manifest, x[:40], seed=0)
    sim, _ = _same(net, spikes)
    assert (sim.logits.argmax(1) == y[:40]).mean() > 0.5  # a working classifier
    spikes = encode_split(artifact.manifest, x[:120], seed=1)
    lava = simulate(net, spikes, "lava-float", record=False)
    ref = run_float(net, spikes)[0].numpy()
    assert (lava.logits.argmax(1) == ref.argmax(1)).mean() >= 0.99
