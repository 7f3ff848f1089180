"""The report's tier assembly (runtime/energy_report.py, runtime/energy_network.py): facts from the
network description, counts from rasters, the break-even against the spec's golden numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from test_energy_tiers import ANN, READOUT, close, demo_counts, hidden

from modspike.runtime.energy_deployed import band_of, deployed_ann, deployed_snn
from modspike.runtime.energy_network import layer_facts, readout_facts, spiking_counts
from modspike.runtime.energy_report import break_even, price_tiers
from modspike.runtime.energy_tech import technology
from modspike.train.modules import ModelConfig, build_model
from modspike.train.qat import quantize_network


@dataclass
class _Total:
    total_pj: float


def _flat(pj: float) -> dict:
    return {b: _Total(pj) for b in ("low", "central", "high")}


@pytest.mark.parametrize(
    "cell, words, params, shared",
    [("if", 1, 17, 0), ("lif", 2, 30, 24), ("src", 3, 24, 3 * 513 * 24), ("msrc", 3, 48, None)],
)
def test_layer_facts_come_from_the_deployed_network(cell, words, params, shared):
    """State words and parameter bits of the energy model's cell table, 24-bit states once
    quantised, weight bits of the format: from the network, never from a default."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(cell=cell, n_in=64, hidden=12, layers=2, recurrent=True))
    qnet = quantize_network(model)
    facts = layer_facts(qnet)
    assert [f.n_in for f in facts] == [64, 12] and all(f.n == 12 for f in facts)
    for f in facts:
        assert (f.state_words, f.param_bits, f.state_bits, f.weight_bits) == (words, params, 24, 8)
        assert f.recurrent and f.stored_weights == 12 * f.n_in + 12 * 12
        if shared is not None:
            assert f.shared_bits == shared
    assert facts[0].graded_output == (cell in ("src", "msrc"))
    assert readout_facts(qnet).classes == 10
    from modspike.train.modules import to_network

    float_facts = layer_facts(to_network(model))  # the float network: 32-bit words
    assert float_facts[0].state_bits == 32 and float_facts[0].weight_bits == 32


def test_spiking_counts_of_a_two_layer_network():
    torch.manual_seed(1)
    model = build_model(ModelConfig(cell="lif", n_in=8, hidden=5, layers=2, recurrent=True))
    net = quantize_network(model)
    rng = np.random.default_rng(0)
    x = (rng.random((6, 3, 8)) < 0.4).astype(np.float32)
    o0 = (rng.random((6, 3, 5)) < 0.3).astype(np.float32)
    o1 = (rng.random((6, 3, 5)) < 0.3).astype(np.float32)
    c0, c1 = spiking_counts(net, x, [o0, o1])
    ff0, ff1 = x.sum((0, 2)), o0.sum((0, 2))
    rec0, rec1 = o0[:-1].sum((0, 2)), o1[:-1].sum((0, 2))
    assert np.array_equal(c0["input_events"], ff0 + rec0)
    assert np.array_equal(c1["input_events"], ff1 + rec1)
    assert np.array_equal(c1["synaptic_events"], (ff1 + rec1) * 5)
    assert np.array_equal(c0["neuron_updates"], np.full(3, 30.0))
    assert not c0["graded_synaptic_events"].any()


def test_break_even_reproduces_the_spec_table():
    """Section 4: X_0* at T = 5 (rate, X_h = 0) and T_max, against the dense ANN (G3) and the
    run's zero-skip ANN (3248.9 pJ), from measured counts anywhere on the line."""
    dense = band_of(deployed_ann, ANN)
    anns = {"int8_dense": dense, "int8_zero_skip": _flat(3248.9)}
    table = {"lif": ("16.9", None, (9, 4)), "if": ("28.7", "11.3", (21, 11))}
    for cell, (x_dense, x_skip, t_max) in table.items():
        counts = demo_counts(50.0, 0.0, 5)  # any measured X_0: the line is the same
        snn = band_of(
            deployed_snn, [hidden(cell)], counts, steps=5, encoding="rate", readout=READOUT
        )
        be = break_even(
            [hidden(cell)], counts, snn, anns, steps=5, encoding="rate", readout=READOUT,
            tech=technology(),
        )  # fmt: skip
        row = be["break_even_input_events"]
        close(row["int8_dense"]["central"], x_dense)
        if x_skip is None:
            assert row["int8_zero_skip"]["central"] is None
        else:
            close(row["int8_zero_skip"]["central"], x_skip)
        assert (be["t_max"]["int8_dense"], be["t_max"]["int8_zero_skip"]) == t_max
        close(be["e_in_pj_per_input_event"]["central"], "147.11")


def test_price_tiers_keeps_tiers_apart_and_refuses_scopes():
    counts = demo_counts(389.0, 83.0, 25)
    nb = {"effective": 389.0 * 60, "neuron_active": 1600.0, "neuron_inactive": 0.0, "spikes": 83.0}
    tiers = price_tiers(
        [hidden("src")],
        counts,
        nb,
        steps=25,
        encoding="rate",
        readout=READOUT,
        ann_layers=ANN,
        ann_nonzero=[32.0, 45.0],
        snn_platforms=["loihi", "truenorth_28nm"],
        ann_platforms=["simba_16nm"],
    )
    d = tiers["deployed"]
    close(d["snn"]["energy_pj"]["central"], 116624.2891553)  # G4
    close(d["ann"]["int8_dense"]["energy_pj"]["central"], 5803.397554)  # G3
    close(d["ann"]["int8_zero_skip"]["energy_pj"]["central"], 3201.506641)
    assert d["low_bit_activation_bits"] == 5
    close(d["ann"]["low_bit"]["energy_pj"]["central"] / 1e3, "5.43")
    assert d["ratios"]["int8_dense"]["central"]["ratio"] == pytest.approx(
        116624.2891553 / 5803.397554
    )
    close(tiers["lemaire"]["snn"]["energy_pj"], 364994.2541666667)  # D1 (SRC maps to LIFNode)
    close(tiers["lemaire"]["ann"]["energy_pj"], 73206.2765625)  # A2
    ratios = {tuple(r["constant_sets"]): r for r in tiers["platform"]["ratios"]}
    assert ratios[("loihi", "simba_16nm")]["ratio"] is None
    assert "across scopes" in ratios[("loihi", "simba_16nm")]["refused"]
    assert ratios[("truenorth_28nm", "simba_16nm")]["ratio"] > 0
    assert "_energies" in tiers and all(k in tiers for k in ("counts", "lemaire", "platform"))


def test_time_base_static_power_and_flip():
    from modspike.runtime.energy_report import TimeBase

    counts = demo_counts(32.63, 43.66, 5)
    kw = dict(steps=5, encoding="latency", readout=READOUT, ann_layers=ANN, ann_nonzero=None)
    nb = {"effective": 1000.0}
    plain = price_tiers([hidden("lif")], counts, nb, snn_platforms=["seneca_22nm"], **kw)
    assert plain["deployed"]["time"] is None
    tb = TimeBase(step_s=1e-6, macs_per_s=1e9, static_w=1e-3)
    timed = price_tiers([hidden("lif")], counts, nb, snn_platforms=["seneca_22nm"], time=tb, **kw)
    t = timed["deployed"]["time"]
    assert t["seconds"]["snn"] == pytest.approx(5e-6)
    assert t["seconds"]["ann"] == pytest.approx(4736 / 1e9)
    e0 = plain["deployed"]["snn"]["energy_pj"]["central"]
    e1 = timed["deployed"]["snn"]["energy_pj"]["central"]
    assert e1 == pytest.approx(e0 + 1e-3 * 5e-6 * 1e12)
    assert t["edp_pj_s"]["snn"] == pytest.approx(e1 * 5e-6)
    with pytest.raises(Exception, match="time base"):
        price_tiers([hidden("lif")], counts, nb, time=TimeBase(static_w=1.0), **kw)
