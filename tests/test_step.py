"""The one step loop (modspike.step): resuming from a state, one layer alone, probes, modulation
refused where a kind has no port, and the float program equal to the trainable model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from modspike.errors import ConfigError
from modspike.export.nir.read import import_nir
from modspike.modulation import Modulation
from modspike.step import Precision, compile, run
from modspike.train.modules import to_network

GOLDEN = Path(__file__).parent / "data" / "golden"


def _spikes(steps=12, batch=5, n=64, seed=0):
    return (np.random.default_rng(seed).random((steps, batch, n)) < 0.3).astype(np.int64)


@pytest.mark.parametrize("name", ["src_rec", "msrc_rec", "lif", "cubalif"])
def test_resuming_from_a_state_equals_one_run(name):
    prog = compile(import_nir(GOLDEN / f"{name}.nir"), Precision.FIXED)
    x = _spikes()
    whole = run(prog, x)
    first = run(prog, x[:5])
    second = run(prog, x[5:], first.state)
    for k, rec in enumerate(whole.records):
        assert np.array_equal(rec, np.concatenate([first.records[k], second.records[k]]))
    assert rec.sum() > 0


def test_one_layer_alone_and_the_probe_see_the_same_steps():
    prog = compile(import_nir(GOLDEN / "src_rec.nir"), Precision.FIXED)
    x = _spikes()
    seen = []
    whole = run(prog, x, probe=lambda t, k, state: seen.append((t, k, state[0].copy())))
    assert [(t, k) for t, k, _ in seen] == [(t, k) for t in range(12) for k in range(2)]
    assert all(np.array_equal(out, whole.records[k][t]) for t, k, out in seen)
    alone = run(prog.sub(0), x)
    assert np.array_equal(alone.records[0], whole.records[0])


def test_modulating_a_layer_without_a_modulation_port_is_refused():
    net = import_nir(GOLDEN / "lif.nir")
    prog = compile(net, Precision.FIXED)
    zeros = np.zeros((1, 1, 1))
    mods = [Modulation(zeros, zeros, zeros)] * len(net.layers)
    with pytest.raises(ConfigError, match="takes no modulation"):
        run(prog, _spikes(), modulation=mods)
    with pytest.raises(ConfigError, match="modulation signals for"):
        run(prog, _spikes(), modulation=mods[:1])


def test_the_float_program_of_a_network_is_the_trainable_model(export_make_model):
    model = export_make_model("msrc", layers=2, recurrent=True)
    x = torch.as_tensor(_spikes(), dtype=torch.float32)
    prog = compile(to_network(model), Precision.FLOAT)
    with torch.no_grad():
        want = model(x)
        out = run(prog, x)
        got = prog.readout(out.total, x.shape[0])
    assert torch.equal(want, got)
