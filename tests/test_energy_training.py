"""Energy-aware training and fair baselines: the synaptic-operation regulariser, the ANN's
per-family default budget, and the static integer ANN the deployed tier prices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modspike.cli import main
from modspike.errors import ArtifactError, ConfigError
from modspike.train.sparsity import fan_outs, synops_fraction
from modspike.train.trainer import ANN_EPOCHS, TrainConfig, train


def test_synops_fraction_by_hand():
    r0 = torch.zeros(4, 2, 3)  # T = 4, B = 2, 3 neurons
    r0[0, 0, 0] = r0[1, 0, 2] = r0[3, 1, 1] = 1.0  # 3 events over 2 samples: 1.5 per sample
    r1 = torch.zeros(4, 2, 5)
    r1[2, 1, 4] = 1.0  # 0.5 per sample
    fans = fan_outs([3, 5], 10, recurrent=False)
    assert fans == [5, 10]
    want = (5 * 1.5 + 10 * 0.5) / (5 * 3 * 4 + 10 * 5 * 4)
    assert float(synops_fraction([r0, r1], fans)) == pytest.approx(want)
    assert fan_outs([3, 5], 10, recurrent=True) == [8, 15]
    full = synops_fraction([torch.ones(4, 2, 3), torch.ones(4, 2, 5)], fans)
    assert float(full) == pytest.approx(1.0)


@pytest.mark.slow
def test_regulariser_lowers_the_hidden_activity():
    kw = dict(cell="lif", steps=10, hidden=32, epochs=2, limit=300, seed=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _, plain = train(TrainConfig(**kw), progress=False)
        _, zero = train(TrainConfig(**kw, reg_synops=0.0), progress=False)
        _, sparse = train(TrainConfig(**kw, reg_synops=30.0), progress=False)
    finally:
        torch.set_num_threads(threads)
    # lambda = 0 is training without the option, loss for loss
    assert [h["loss"] for h in zero["history"]] == [h["loss"] for h in plain["history"]]
    assert sparse["active_fraction_mean"][0] < 0.7 * plain["active_fraction_mean"][0]


def test_family_defaults_and_option_checks(tmp_path, capsys):
    assert TrainConfig(cell="ann").epochs == ANN_EPOCHS == 200
    assert TrainConfig(cell="lif").epochs == 30
    assert TrainConfig(cell="ann", epochs=7).epochs == 7
    with pytest.raises(ConfigError, match="reg-synops"):
        TrainConfig(cell="ann", reg_synops=0.1).validate()
    with pytest.raises(ConfigError, match="reg-synops"):
        TrainConfig(cell="lif", reg_synops=-1.0).validate()
    out = tmp_path / "r"
    assert main(["train", "--cell", "lif", "--reg-synops", "-2", "--out", str(out)]) == 2
    assert "--reg-synops" in capsys.readouterr().err and not out.exists()


# --------------------------------------------------------------------- the static int8 ANN


def test_static_int8_ann_matches_its_float_model(export_ann_run, export_digits, tmp_path):
    from modspike.export.onnx_export import export_onnx, onnx_predict
    from modspike.runtime.ann_int8 import evaluate_quantized, load_mlp, quantize_mlp
    from modspike.train.trainer import load_model

    model, _, _ = load_model(export_ann_run)
    path = tmp_path / "ann.onnx"
    export_onnx(model, path, 64)
    mlp = load_mlp(path)
    x, y = export_digits.x_test, export_digits.y_test
    float_logits = mlp.forward(x)[-1]
    assert np.allclose(float_logits, onnx_predict(path, x), atol=1e-4)
    q = quantize_mlp(mlp, export_digits.x_train[:500], 8)
    # the integer logits are the float network on the grid: dequantise and compare by hand
    logits, acts = q.run(x)
    assert logits.dtype == np.int64 and all(a.dtype == np.int64 for a in acts)
    assert acts[0].max() <= 255 and acts[1].max() <= 255 and acts[1].min() >= 0
    x_q = acts[0] * q.act_scales[0]
    h = np.maximum(x_q @ (q.weights[0] * q.weight_scales[0]).T + q.biases[0] * q.act_scales[0]
                   * q.weight_scales[0], 0)  # fmt: skip
    h_q = np.clip(np.floor(h / q.act_scales[1] + 0.5), 0, 255)
    assert np.mean(h_q == acts[1]) > 0.999  # float rounding of the requantisation aside
    ev = evaluate_quantized(q, x, y)
    fp32 = float((float_logits.argmax(1) == y).mean())
    assert abs(ev["accuracy"] - fp32) <= 0.02
    assert ev["nonzero_inputs"][0] == pytest.approx(float((x > 0).sum(1).mean()))
    low = evaluate_quantized(quantize_mlp(mlp, export_digits.x_train[:500], 3), x, y)
    assert low["act_bits"] == 3 and 0 <= low["accuracy"] <= 1
    facts = mlp.facts()
    assert [(f.n_in, f.n_out, f.bias) for f in facts] == [(64, 32, True), (32, 10, True)]


def test_non_mlp_onnx_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Sigmoid", ["x"], ["logits"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 4])],
    )
    path = tmp_path / "s.onnx"
    onnx.save(helper.make_model(graph), str(path))
    from modspike.runtime.ann_int8 import load_mlp

    with pytest.raises(ArtifactError, match="Sigmoid"):
        load_mlp(path)
