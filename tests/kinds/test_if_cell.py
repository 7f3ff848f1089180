"""The IF cell kind: trainable, quantised onto Lava's LIF arithmetic with du = 4095, dv = 0, written
to NIR as an ``IF`` node, read back bit for bit, and run by Lava (generic StepLayer) bit-exactly
with the simulator."""

from __future__ import annotations

import multiprocessing

import nir
import numpy as np
import pytest
import torch
from conftest import run_fixed

from modspike import registry
from modspike.errors import QuantizationError
from modspike.export.nir.file import write_nir_file
from modspike.export.nir.read import import_nir
from modspike.export.nir.write import to_nir
from modspike.fixedpoint import DECAY_MAX
from modspike.kinds.cells.if_ import int_step as if_int
from modspike.kinds.cells.lif import int_step as lif_int
from modspike.train.modules import ModelConfig, build_model
from modspike.train.qat import QuantizedNet, quantize_network


def _model(seed: int = 0, hidden: int = 16, recurrent: bool = False):
    torch.manual_seed(seed)
    model = build_model(ModelConfig(cell="if", n_in=64, hidden=hidden, recurrent=recurrent))
    with torch.no_grad():
        model.layers[0].synapse.weight.mul_(3.0)
        model.layers[0].synapse.bias.uniform_(-0.1, 0.2)
    return model.eval()


def _spikes(seed=1, steps=12, batch=6):
    return (np.random.default_rng(seed).random((steps, batch, 64)) < 0.3).astype(np.float32)


def test_if_is_a_trainable_kind_with_a_fixed_point_model():
    kind = registry.cell("if")
    assert "if" in registry.cell_names("trainable")
    assert kind.fixed is not None and kind.quant is not None and kind.nir.write is not None


def test_integer_step_is_lavas_lif_without_leak():
    """Step for step what the LIF model (bit-exact with Lava's PyLifModelBitAcc elsewhere) gives
    with du = 4095 and dv = 0, including the 24-bit wrap of u and the saturation of v."""
    rng = np.random.default_rng(0)
    n, batch = 40, 5
    vth = rng.integers(0, 3000, n)
    bias = rng.integers(-50, 50, n)
    a = rng.integers(-(1 << 18), 1 << 18, (60, batch, n))  # drives large enough to wrap u
    a[::7] = rng.integers(-(1 << 12), 1 << 12, (len(a[::7]), batch, n))
    p_if = if_int.IFIntParams(vth, bias)
    p_lif = lif_int.LIFIntParams(np.full(n, DECAY_MAX), np.zeros(n, np.int64), vth, bias)
    s_if, s_lif = if_int.initial_state(batch, n), lif_int.initial_state(batch, n)
    fired = 0
    for t in range(len(a)):
        o_if, s_if = if_int.step(a[t], s_if, p_if)
        o_lif, s_lif = lif_int.step(a[t], s_lif, p_lif)
        assert np.array_equal(o_if, o_lif) and np.array_equal(s_if.v, s_lif.v)
        fired += int(o_if.sum())
    assert 0 < fired < a.size


def test_qat_forward_is_the_exported_integer_network():
    model = _model()
    spikes = torch.as_tensor(_spikes())
    qnet = quantize_network(model)
    want_logits, want = run_fixed(qnet, spikes.numpy())
    assert want[0].sum() > 0
    with torch.no_grad():
        logits, records = QuantizedNet(model)(spikes, record=True)
    assert np.array_equal(logits.numpy(), want_logits)
    assert np.array_equal(records[0].numpy(), want[0])
    logits = QuantizedNet(model).train()(spikes)
    logits.pow(2).mean().backward()
    assert model.layers[0].synapse.weight.grad.abs().sum() > 0


def test_float_network_tracks_the_integer_one():
    """The float IF and its 8-bit twin agree on most spikes (the quantisation error only)."""
    model = _model()
    spikes = torch.as_tensor(_spikes(steps=20, batch=16))
    with torch.no_grad():
        _, rec = model(spikes, record=True)
    _, want = run_fixed(quantize_network(model), spikes.numpy())
    f, q = rec[0].numpy() > 0, want[0] > 0
    assert (f & q).sum() / (f | q).sum() > 0.8


@pytest.mark.parametrize("recurrent", [False, True])
def test_nir_round_trip_is_bit_exact(tmp_path, recurrent):
    qnet = quantize_network(_model(recurrent=recurrent))
    graph = to_nir(qnet)
    assert any(isinstance(node, nir.IF) for node in graph.nodes.values())
    path = tmp_path / "if.nir"
    write_nir_file(path, graph)
    back = import_nir(path)
    assert back.kinds == ["if"] and back.quantized
    spikes = _spikes()
    want_logits, want = run_fixed(qnet, spikes)
    got_logits, got = run_fixed(back, spikes)
    assert np.array_equal(want_logits, got_logits)
    assert all(np.array_equal(a, b) for a, b in zip(want, got))


def test_gain_or_reset_without_fixed_point_form_is_refused():
    from dataclasses import replace

    from modspike.quantize import quantize
    from modspike.train.modules import to_network

    net = to_network(_model())
    layer = net.layers[0]
    p = layer.cell.params._replace(gain=np.full(layer.n, 0.5))
    bad = replace(net, layers=(replace(layer, cell=replace(layer.cell, params=p)),))
    with pytest.raises(QuantizationError, match="gain"):
        quantize(bad)


@pytest.mark.lava
def test_lava_runs_if_bit_exactly():
    from modspike.hw.backends import simulate

    qnet = quantize_network(_model())
    spikes = _spikes(steps=10, batch=3)
    _, want = run_fixed(qnet, spikes)
    lava = simulate(qnet, spikes, "lava")
    assert all(np.array_equal(a, b) for a, b in zip(want, lava.rasters))
    assert not multiprocessing.active_children()
