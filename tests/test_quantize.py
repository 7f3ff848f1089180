"""Post-training quantisation, quantisation-aware training on the export grid, and fidelity."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import run_fixed

from modspike.cli import main
from modspike.encoding import encode_batch, generator
from modspike.errors import ConfigError, QuantizationError
from modspike.fixedpoint import WeightFormat
from modspike.train.qat import QuantizedNet, fidelity, quantize_network
from modspike.train.trainer import TrainConfig, load_model

CASES = [
    ("src", 2, True),
    ("msrc", 2, False),
    ("bsrc", 1, True),
    ("lif", 2, True),
    ("cubalif", 1, True),
]


def _spikes(export_digits, n=24, steps=12, seed=0):
    cfg = TrainConfig(steps=steps)
    x = torch.as_tensor(export_digits.x_test[:n])
    return encode_batch(torch.nn.Module(), x, cfg, generator(seed))


@pytest.mark.parametrize("cell,layers,recurrent", CASES)
def test_qat_forward_is_the_exported_integer_network(
    cell, layers, recurrent, export_make_model, export_digits
):
    """QAT forward == integer model scaled back, exactly (no grad), and to float32 (with grad)."""
    model = export_make_model(cell, layers=layers, recurrent=recurrent)
    spikes = _spikes(export_digits)
    qnet = quantize_network(model)
    want_logits, want_records = run_fixed(qnet, spikes.numpy())
    assert all(r.sum() > 0 for r in want_records), "the test network must be active"
    wrapped = QuantizedNet(model)
    with torch.no_grad():
        logits, records = wrapped(spikes, record=True)
    assert np.array_equal(logits.numpy(), want_logits)
    for rec, want, layer in zip(records, want_records, qnet.layers):
        assert np.array_equal(rec.numpy(), want * 2.0**layer.cell.fixed.out_exp)
    logits, records = wrapped(spikes, record=True)  # training mode: straight-through
    assert np.array_equal(logits.detach().numpy(), want_logits.astype(np.float32))
    for rec, want, layer in zip(records, want_records, qnet.layers):
        assert np.array_equal(
            rec.detach().numpy(), (want * 2.0**layer.cell.fixed.out_exp).astype(np.float32)
        )
    logits.pow(2).mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.layers[0].synapse.weight.grad.abs().sum() > 0
    assert model.readout.weight.grad.abs().sum() > 0


def test_fake_quantised_weights_lie_on_the_grid(export_make_model):
    model = export_make_model("src", layers=1)
    with torch.no_grad():  # rows of very different magnitudes
        model.layers[0].synapse.weight.mul_(torch.logspace(-3, 0, 16, base=2)[:, None])
    qnet = quantize_network(model, WeightFormat(4, "neuron"))
    weights = qnet.layers[0].synapse.fixed
    assert np.abs(weights.mantissa).max() <= 7
    assert len(set(weights.exponent.tolist())) > 1  # one exponent per output neuron
    w = model.layers[0].synapse.weight.detach().double().numpy()
    assert np.all(np.abs(weights.dequantize() - w) <= np.exp2(weights.exponent)[:, None] / 2)


def test_ptq_fidelity_on_a_trained_src_run(export_src_run, export_digits):
    """8-bit PTQ on identical input spikes: small accuracy change, Jaccard >= 0.9, and fidelity
    falls with fewer bits."""
    model, cfg, _ = load_model(export_src_run)
    data = export_digits
    reports = {}
    for bits in (8, 4):
        qnet = quantize_network(model, WeightFormat(bits))
        reports[bits] = fidelity(model, qnet, data.x_test, data.y_test, cfg, seed=cfg.seed + 2)
    r8, r4 = reports[8], reports[4]
    assert r8["float_accuracy"] > 0.6  # the fixture really learned something
    assert abs(r8["accuracy_loss_points"]) <= 2.0
    assert r8["jaccard"][0] >= 0.9
    assert r4["jaccard"][0] < r8["jaccard"][0]
    assert 0 < r8["active_fraction_quantized"][0] < 0.5


def test_train_qat_cli_writes_before_after_and_matches_export(tmp_path, capsys):
    run = tmp_path / "qat"
    args = ["train", "--cell", "src", "--qat", "--epochs", "1", "--limit", "64", "--steps", "8"]
    assert main([*args, "--hidden", "16", "--quiet", "--out", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    q = metrics["quantization"]
    assert q["qat"] is True and q["weight_bits"] == 8
    assert {"float_accuracy", "quantized_accuracy", "jaccard"} <= set(q)
    # the model the training loop evaluated is, value for value, the integer network
    assert metrics["test_accuracy"] == q["quantized_accuracy"]
    art = tmp_path / "art"
    assert main(["export", str(run), "--out", str(art)]) == 0
    manifest = json.loads((art / "manifest.json").read_text())
    assert manifest["accuracy"]["quantized"] == q["quantized_accuracy"]
    assert manifest["accuracy"]["jaccard"] == q["jaccard"]
    assert manifest["quantization"]["qat"] is True


def test_qat_refuses_cells_without_fixed_point_model(tmp_path, capsys):
    code = main(["train", "--cell", "brc", "--qat", "--epochs", "1", "--out", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no fixed-point model" in err[0]
    with pytest.raises(ConfigError):
        quantize_network(export_ann_like())
    assert not (tmp_path / "r").exists()


def export_ann_like():
    from modspike.train.modules import ANN, ModelConfig

    return ANN(ModelConfig(cell="ann", n_in=4, hidden=3))


def test_lif_threshold_beyond_17_bits_is_a_clear_error(export_make_model):
    model = export_make_model("lif", layers=1, recurrent=False)
    with torch.no_grad():
        model.layers[0].synapse.weight.mul_(1e-4)  # tiny weights: threshold = 2**20 weight steps
    with pytest.raises(QuantizationError, match="17-bit vth"):
        quantize_network(model)
