"""Copy-first-input generator and models, GRU / LSTM layers, warm-up on them (fidelity.md 4)."""

from __future__ import annotations

import pytest
import torch
from modspike.studies.copy_first_input import (
    CopyConfig,
    CopyModel,
    copy_data,
    evaluate_mse,
    train_copy,
)
from modspike.studies.rnn_cells import RNNLayer
from modspike.studies.warmup import cell_state_vector, measure_vaa, warmup_


def test_copy_data_targets_are_the_first_inputs():
    x, y = copy_data(4000, 7, torch.Generator().manual_seed(0))
    assert x.shape == (7, 4000, 1) and y.shape == (4000,)
    assert torch.equal(y, x[0, :, 0])
    assert abs(float(x.mean())) < 0.02 and abs(float(x.var()) - 1) < 0.03  # i.i.d. N(0, 1)
    assert float(y.pow(2).mean()) == pytest.approx(1.0, abs=0.05)  # predicting 0 scores ~1
    x2, _ = copy_data(4000, 7, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)
    with pytest.raises(ValueError):
        copy_data(0, 7, torch.Generator())


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("halves", [False, True])
def test_sequence_and_step_paths_agree(cell, halves):
    torch.manual_seed(0)
    model = CopyModel(cell, hidden=6, halves=halves)
    x = torch.randn(9, 3, 1)
    states = [layer.initial_state(3) for layer in model.layers]
    for t in range(9):
        s = x[t]
        for k, layer in enumerate(model.layers):
            s, states[k] = layer(s, states[k])
    assert torch.allclose(model(x), model.readout(s).squeeze(-1), atol=1e-5)


def test_gru_initialisation_follows_the_warmup_repository():
    torch.manual_seed(0)
    rnn = RNNLayer("gru", 3, 8).cell.rnn
    for block in rnn.weight_hh_l0.chunk(3, 0):
        assert torch.allclose(block @ block.T, torch.eye(8), atol=1e-5)  # orthogonal per gate
    assert not rnn.bias_ih_l0.detach().any() and not rnn.bias_hh_l0.detach().any()


def test_lstm_state_vector_is_h_and_c():
    layer = RNNLayer("lstm", 2, 5)
    state = layer.initial_state(4)
    _, state = layer(torch.randn(4, 2), state)
    assert cell_state_vector(layer.cell, state[1]).shape == (4, 10)
    half = RNNLayer("lstm", 2, 6, halves=True)
    _, hs = half(torch.randn(4, 2), half.initial_state(4))
    assert cell_state_vector(half.cell, hs[1]).shape == (4, 12)
    assert cell_state_vector(half.cell, hs[1], warmup=True).shape == (4, 6)  # first half only


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_warmup_runs_on_gru_and_lstm_layers(cell):
    torch.manual_seed(0)
    model = CopyModel(cell, hidden=8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, _ = copy_data(64, 10, torch.Generator().manual_seed(1))
    history = warmup_(model.layers, x, steps=3)
    assert len(history) == 3 and all(len(h["vaa_star"]) == 2 for h in history)
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert 0 < measure_vaa(model.layers, x, stabilisation=20, estimates=2) <= 1


def test_partial_warmup_leaves_the_second_half_of_the_last_layer_alone():
    torch.manual_seed(0)
    model = CopyModel("gru", hidden=8, halves=True)
    last = model.layers[-1].cell
    second = {k: v.clone() for k, v in last.second.state_dict().items()}
    first = {k: v.clone() for k, v in last.first.state_dict().items()}
    warmup_(model.layers, copy_data(64, 10, torch.Generator().manual_seed(1))[0], steps=3)
    assert all(torch.equal(second[k], v) for k, v in last.second.state_dict().items())
    assert any(not torch.equal(first[k], v) for k, v in last.first.state_dict().items())


def test_train_copy_stops_below_the_threshold():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    data, test = copy_data(512, 3, gen), copy_data(256, 3, gen)
    cfg = CopyConfig(length=3, hidden=16, batch=64, lr=1e-2, cap=400, eval_every=25)
    model = CopyModel("gru", hidden=16)
    start = evaluate_mse(model, *test)
    out = train_copy(model, data, test, cfg)
    assert out["steps_to_0_1"] is not None and out["final_test_mse"] < 0.1 < start
    assert out["steps_run"] == out["steps_to_0_1"] and out["steps_run"] % 25 == 0
