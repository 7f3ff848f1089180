"""Copy-first-input generator and models, GRU / LSTM layers, warm-up on them (fidelity.md 4)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from modspike.step import run
from modspike.studies.copy_first_input import (
    CopyConfig,
    CopyModel,
    copy_data,
    evaluate_mse,
    train_copy,
)
from modspike.studies.rnn_cells import rnn_layer
from modspike.studies.warmup import cell_state_vector, measure_vaa, warmup_
from modspike.train.modules import program_of

TORCH_RNN = {"gru": nn.GRU, "lstm": nn.LSTM}


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


def _torch_twin(cell: str, layer, rows: slice, cols: slice) -> nn.Module:
    """torch's own GRU / LSTM holding the weights of one cell (``rows`` of every gate, ``cols``
    of the recurrent matrix) of a study layer."""
    n_gates = layer.kind.in_multiplicity
    n = layer.cell.n

    def gate_rows(t):
        return torch.cat([t[g * n : (g + 1) * n][rows] for g in range(n_gates)])

    width = cols.stop - cols.start
    twin = TORCH_RNN[cell](layer.synapse.in_features, width)
    p = layer.cell.float_params()
    with torch.no_grad():
        twin.weight_ih_l0.copy_(gate_rows(layer.synapse.weight))
        twin.bias_ih_l0.copy_(gate_rows(layer.synapse.bias))
        twin.weight_hh_l0.copy_(gate_rows(p.wh)[:, cols])
        twin.bias_hh_l0.copy_(gate_rows(p.bh))
    return twin


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("halves", [False, True])
def test_layers_step_as_torch_rnns(cell, halves):
    """The step loop on a study layer gives torch.nn.GRU / LSTM's outputs; a two-halves layer
    gives two independent half-width cells side by side."""
    torch.manual_seed(0)
    n = 6
    layer = rnn_layer(cell, 2, n, halves)
    with torch.no_grad():  # non-zero biases, so that their placement is tested too
        layer.synapse.bias.uniform_(-0.5, 0.5)
        layer.cell.bh.uniform_(-0.5, 0.5)
    x = torch.randn(9, 3, 2)
    out = run(program_of([layer]), x, record=True)
    parts = [slice(0, n // 2), slice(n // 2, n)] if halves else [slice(0, n)]
    ref = torch.cat([_torch_twin(cell, layer, s, s)(x)[0] for s in parts], -1)
    assert torch.allclose(out.records[0], ref, atol=1e-5)


def test_gru_initialisation_follows_the_warmup_repository():
    torch.manual_seed(0)
    layer = rnn_layer("gru", 3, 8)
    for block in layer.cell.wh.chunk(3, 0):
        assert torch.allclose(block @ block.T, torch.eye(8), atol=1e-5)  # orthogonal per gate
    assert not layer.synapse.bias.detach().any() and not layer.cell.bh.detach().any()
    half = rnn_layer("gru", 3, 8, halves=True)
    for block in half.cell.wh.chunk(3, 0):
        assert torch.allclose(block[:4, :4] @ block[:4, :4].T, torch.eye(4), atol=1e-5)
        assert not block[:4, 4:].any() and not block[4:, :4].any()


def test_lstm_state_vector_is_h_and_c():
    layer = rnn_layer("lstm", 2, 5)
    out = run(program_of([layer]), torch.randn(1, 4, 2), record=False)
    assert cell_state_vector(layer, out.state[0][1]).shape == (4, 10)
    half = rnn_layer("lstm", 2, 6, halves=True)
    out = run(program_of([half]), torch.randn(1, 4, 2), record=False)
    h, c = out.state[0][1]
    assert torch.equal(
        cell_state_vector(half, out.state[0][1]), torch.cat([h[:, :3], c[:, :3]], -1)
    )
    with pytest.raises(ValueError):
        rnn_layer("rnn", 2, 5)
    with pytest.raises(ValueError):
        rnn_layer("gru", 2, 5, halves=True)


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
    last = model.layers[-1]

    def halves():  # every gate's rows of the first / second cell
        rows = torch.arange(24).view(3, 8)
        first, second = rows[:, :4].flatten(), rows[:, 4:].flatten()
        tensors = [last.synapse.weight, last.synapse.bias, last.cell.wh, last.cell.bh]
        return [t[first].clone() for t in tensors], [t[second].clone() for t in tensors]

    first, second = halves()
    warmup_(model.layers, copy_data(64, 10, torch.Generator().manual_seed(1))[0], steps=3)
    first_after, second_after = halves()
    assert all(torch.equal(a, b) for a, b in zip(second, second_after))
    assert any(not torch.equal(a, b) for a, b in zip(first, first_after))


def test_copy_model_refuses_unknown_cells_and_halves_of_brc():
    with pytest.raises(ValueError, match="unknown cell"):
        CopyModel("rnn")
    with pytest.raises(ValueError, match="GRU and LSTM"):
        CopyModel("brc", hidden=4, halves=True)


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
