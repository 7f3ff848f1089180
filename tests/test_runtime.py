"""Hand-computed counts on a tiny network: 2 inputs, 3 neurons, 2 steps, batch 1.

W = [[1,0],[2,3],[0,0]]: input 0 has 2 non-zero outgoing weights (rows 0,1), input 1 has 1 (row 1).
"""

import numpy as np
import pytest
from conftest import build_network, lif_params

from modspike.memory import layer_footprint
from modspike.quantize import quantize
from modspike.runtime.counters import count_layers

W = np.array([[1, 0], [2, 3], [0, 0]])
OUT = np.array([[[1, 0, 0]], [[0, 1, 1]]])  # (T=2, B=1, n=3)


def net_of(*layers):
    """A quantised LIF network of the given (weight, recurrent weight) pairs: 8-bit mantissas keep
    the zeros of these small integer matrices, which are what the counts read."""
    specs = [("lif", w, lif_params(w.shape[0]), None, rec) for w, rec in layers]
    return quantize(build_network(specs))


# the one memory model: weights * 8 + n * (2 state words * 24 + 30 parameter bits) + 24 shared
LIF_NEURON_BITS = 2 * 24 + 30


def test_binary_feedforward():
    x = np.array([[[1, 1]], [[0, 1]]])
    net = net_of((W, None))
    (c,) = count_layers(net, x, [OUT])
    # effective: t0 in0+in1 -> 2+1=3; t1 in1 -> 1; total 4, all ACs (binary input)
    assert c["effective"][0] == 4 and c["effective_acs"][0] == 4 and c["effective_macs"][0] == 0
    assert c["dense"][0] == 12  # 3*2 synapses * 2 steps
    assert c["spikes"][0] == 3  # 1 at t0, 2 at t1
    # active t0: received {0,1} | out {0} = 2; t1: received {1} | out {1,2} = 2 -> 4; inactive 6-4
    assert c["neuron_active"][0] == 4 and c["neuron_inactive"][0] == 2
    assert c["activation_sparsity"][0] == pytest.approx(0.5)  # 1 - 3/6
    assert c["connection_sparsity"] == pytest.approx(0.5)  # 3 of 6 weights are zero
    assert c["footprint_bits"] == 6 * 8 + 3 * LIF_NEURON_BITS + 24
    assert c["footprint_bits"] == layer_footprint(net.layers[0], net).bits


def test_per_step():
    x = np.array([[[1, 1]], [[0, 1]]])
    (c,) = count_layers(net_of((W, None)), x, [OUT], per_step=True)
    assert c["effective"][:, 0].tolist() == [3, 1]
    assert c["neuron_active"][:, 0].tolist() == [2, 2]


def test_graded_input():
    x = np.array([[[2, 0]], [[0, 3]]])
    (c,) = count_layers(net_of((W, None)), x, [OUT])
    # t0: in0 (value 2) -> fan-out 2; t1: in1 (value 3) -> fan-out 1: 3 MACs, no ACs
    assert c["effective_macs"][0] == 3 and c["effective_acs"][0] == 0
    assert c["graded_weighted"][0] == pytest.approx(2 * 2 + 3 * 1)


def test_recurrent():
    x = np.array([[[1, 1]], [[0, 1]]])
    R = np.array([[0, 1, 0], [0, 0, 0], [1, 0, 0]])
    (c,) = count_layers(net_of((W, R)), x, [OUT])
    # rec input t0 = 0, t1 = out t0 = [1,0,0]; neuron 0 fans out to row 2 only -> +1 AC
    assert c["effective_acs"][0] == 5
    assert c["dense"][0] == (6 + 9) * 2
    assert c["footprint_bits"] == 15 * 8 + 3 * LIF_NEURON_BITS + 24
    assert c["connection_sparsity"] == pytest.approx((3 + 7) / 15)


def test_two_layers_graded_hidden():
    x = np.array([[[1, 1]], [[0, 1]]])
    hidden = np.array([[[0.5, 0, 0]], [[0, 2.0, 0]]])
    W2 = np.array([[1, 1, 1]])  # 1 neuron, each hidden unit fans out to 1
    out2 = np.array([[[1]], [[0]]])
    c = count_layers(net_of((W, None), (W2, None)), x, [hidden, out2])
    # layer 2 sees graded input: 1 event per step -> 2 MACs, graded weighted 0.5 + 2.0
    assert c[1]["effective_macs"][0] == 2 and c[1]["effective_acs"][0] == 0
    assert c[1]["graded_weighted"][0] == pytest.approx(2.5)


def test_energy_arithmetic(tmp_path):
    from modspike.runtime.energy import snn_energy

    x = np.array([[[1, 1]], [[0, 1]]])
    c = count_layers(net_of((W, None)), x, [OUT])
    e = snn_energy(c, "loihi")
    # 4 synops*23.6 + 4 active*81 + 2 inactive*52 + 3 spikes*1.7
    assert e["kind"] == "modeled"
    assert e["total"] == pytest.approx(4 * 23.6 + 4 * 81 + 2 * 52 + 3 * 1.7)


def test_profile_errors(tmp_path):
    from modspike.errors import EnergyProfileError
    from modspike.runtime.energy import load_profile

    with pytest.raises(EnergyProfileError, match="not found"):
        load_profile(tmp_path / "nope.toml")
    p = tmp_path / "p.toml"
    p.write_text("[cost]\nsynop = 1.0\n")
    with pytest.raises(EnergyProfileError, match="neuron_active"):
        load_profile(p, ("synop", "neuron_active"))
    p.write_text('[cost]\nsynop = "cheap"\n')
    with pytest.raises(EnergyProfileError, match="not a number"):
        load_profile(p)
    for name in ("loihi", "horowitz45", "spinnaker2_proto28"):
        assert load_profile(name)["cost"]
    with pytest.raises(EnergyProfileError, match="renamed"):
        load_profile("spinnaker2")


def test_onnx_macs(tmp_path):
    torch = pytest.importorskip("torch")
    from modspike.runtime.ann_cost import ann_energy, onnx_macs

    net = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    p = tmp_path / "mlp.onnx"
    torch.onnx.export(net, torch.zeros(1, 4), str(p), dynamo=False)
    rows = onnx_macs(p)
    assert [r["macs"] for r in rows] == [4 * 5, 5 * 3]  # 20 and 15 MACs
    assert ann_energy(rows)["total"] == pytest.approx(35 * (0.2 + 0.1))  # 8-bit mult, 32-bit add
    assert ann_energy(rows, "fp32")["total"] == pytest.approx(35 * 4.6)


def test_counts_read_the_deployed_weights(export_src_artifact):
    from modspike.export.artifact_build import open_artifact
    from modspike.runtime.counters import deployed_weights

    artifact, net = open_artifact(export_src_artifact)
    for layer in net.layers:
        w, rec = deployed_weights(layer, net)
        assert w.shape == (layer.n, layer.n_in) and w.dtype == np.int64
        assert (rec is None) == (layer.recurrent is None)
        # the file's weights are the dequantised integers: the same synapses are zero
        assert np.array_equal(w != 0, np.asarray(layer.synapse.weight) != 0)
    assert net.weight_format.bits == artifact.manifest["quantization"]["weight_bits"]


@pytest.mark.lava
def test_counts_from_every_backend(export_src_artifact):
    """sim and Lava give identical per-layer, per-sample and per-step counts (one Lava run);
    the float torch backend's counts follow the same definitions on its own rasters."""
    from modspike.export.artifact_build import open_artifact
    from modspike.hw.run_artifact import run_artifact

    _, net = open_artifact(export_src_artifact)
    got = {}
    for backend in ("sim", "lava", "torch"):
        result, rasters = run_artifact(
            export_src_artifact, backend, limit=6, progress=False, keep_rasters=True
        )
        assert "outputs" not in result and "inputs" not in result  # never in RESULT.json
        inputs, outputs = rasters["inputs"], rasters["outputs"]
        assert inputs.shape == (result["steps"], 6, net.n_in)
        assert [o.shape for o in outputs] == [(result["steps"], 6, ly.n) for ly in net.layers]
        per_sample = count_layers(net, inputs, outputs)
        per_step = count_layers(net, inputs, outputs, per_step=True)
        for name, c, s in zip(rasters["layers"], per_sample, per_step):
            assert c["spikes"].sum() == result["spike_counts"][name]["total"]
            assert np.array_equal(s["effective"].sum(0), c["effective"])
        got[backend] = (per_sample, per_step, inputs)
    for a, b in zip(got["sim"][0] + got["sim"][1], got["lava"][0] + got["lava"][1]):
        assert a.keys() == b.keys()
        assert all(np.array_equal(a[k], b[k]) for k in a)
    # same input spikes everywhere; the first (feed-forward) layer's synops depend on them only
    assert np.array_equal(got["sim"][2], got["torch"][2])
    assert np.array_equal(got["sim"][0][0]["effective"], got["torch"][0][0]["effective"])
