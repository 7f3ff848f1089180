"""Convolution and pooling synapse kinds in every stage but Lava (tests/test_conv_lava.py):
geometry and its typed errors, float vs exact integer arithmetic, per-channel quantisation, the
composite synapse (pooling stages), NIR round trips, counters and memory, training from --arch,
QAT == export, and the Loihi 2 mapping report."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import nir
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import run_fixed, run_float
from conv_nets import conv_model, digit_spikes
from nir.ir.utils import calculate_conv_output

from modspike import registry
from modspike.cli import main
from modspike.errors import ConfigError, NIRError, QuantizationError
from modspike.export.nir.read import import_nir
from modspike.export.nir.write import to_nir
from modspike.fixedpoint import WeightFormat
from modspike.kinds.synapses._conv.geometry import make_attrs
from modspike.kinds.synapses._conv.pool import pool_synapse_parts
from modspike.memory import synapse_count
from modspike.network import Synapse, network_equal
from modspike.quantize import quantize
from modspike.runtime.counters import count_layers
from modspike.train.modules import to_network
from modspike.train.qat import QuantizedNet

CONV2D = registry.synapse("conv2d")
CONV1D = registry.synapse("conv1d")

GEOMETRIES = [  # (C_in, H, W, C_out, k, stride, padding, dilation, groups)
    (1, 8, 8, 4, 3, 1, 1, 1, 1),
    (4, 9, 7, 6, 3, 2, 1, 1, 2),
    (2, 8, 8, 4, 3, 1, 2, 2, 1),
    (3, 5, 6, 3, 2, 1, 0, 1, 3),
    (6, 11, 11, 4, 5, 3, 2, 1, 2),
]


def _conv(rng, c, h, w, co, k, s, p, d, g, low=-9, high=10):
    weight = rng.integers(low, high, (co, c // g, k, k))
    return Synapse(CONV2D, weight, None, make_attrs((c, h, w), s, p, d, g))


@pytest.mark.parametrize("geom", GEOMETRIES)
def test_conv2d_float_and_exact_integers_agree_with_torch(geom):
    rng = np.random.default_rng(sum(geom))
    c, h, w, co, k, s, p, d, g = geom
    syn = _conv(rng, *geom)
    x = rng.integers(0, 4, (5, c * h * w))
    want = F.conv2d(
        torch.tensor(x, dtype=torch.float64).reshape(5, c, h, w),
        torch.tensor(syn.weight),
        stride=s,
        padding=p,
        dilation=d,
        groups=g,
    )
    out_shape = tuple(want.shape[1:])
    assert CONV2D.out_shape(syn, (c, h, w)) == out_shape
    # NIR's shape inference is the formula the kind uses
    assert tuple(calculate_conv_output((h, w), p, d, k, s)) == out_shape[1:]
    got = CONV2D.accumulate(x, syn.weight.astype(np.int64), syn.attrs)
    assert got.dtype == np.int64 and np.array_equal(got, want.flatten(1).numpy())
    f = CONV2D.apply_float(
        torch.tensor(x, dtype=torch.float32), torch.tensor(syn.weight).float(), None, syn.attrs
    )
    assert torch.allclose(f.double(), want.flatten(1), atol=1e-4)


def test_exact_accumulation_beyond_2_pow_53_stays_exact():
    """Past the float64 bound the integer path is taken (as int_matmul does for dense)."""
    syn = _conv(np.random.default_rng(0), 2, 4, 4, 2, 3, 1, 1, 1, 1)
    q = np.full(syn.weight.shape, 127, dtype=np.int64)
    x = np.full((1, 32), 2**46, dtype=np.int64)
    got = CONV2D.accumulate(x, q, syn.attrs)
    assert got[0, 5] == 18 * 127 * 2**46  # an inner position: 2 channels x 9 taps
    assert got[0, 5] > 2**53


def test_conv1d_matches_torch():
    rng = np.random.default_rng(3)
    weight = rng.integers(-5, 6, (4, 1, 3))
    attrs = make_attrs((2, 10), 2, 1, 2, 2)
    syn = Synapse(CONV1D, weight, None, attrs)
    x = rng.integers(0, 2, (3, 20))
    want = F.conv1d(
        torch.tensor(x, dtype=torch.float64).reshape(3, 2, 10),
        torch.tensor(weight, dtype=torch.float64),
        stride=2,
        padding=1,
        dilation=2,
        groups=2,
    )
    assert np.array_equal(CONV1D.accumulate(x, weight, attrs), want.flatten(1).numpy())
    assert CONV1D.out_shape(syn, (2, 10)) == tuple(want.shape[1:])


@pytest.mark.parametrize("average", [False, True])
def test_pooling_is_torch_pooling(average):
    kind = registry.synapse("avgpool2d" if average else "sumpool2d")
    weight, attrs = pool_synapse_parts((3, 8, 6), 2, None, 0, average)
    x = torch.rand(4, 3 * 8 * 6)
    want = F.avg_pool2d(x.reshape(4, 3, 8, 6), 2) * (1 if average else 4)
    got = kind.apply_float(x, torch.tensor(weight, dtype=torch.float32), None, attrs)
    assert torch.allclose(got, want.flatten(1))
    spikes = (np.random.default_rng(0).random((4, 144)) < 0.5).astype(np.int64)
    mant = np.ones_like(weight, dtype=np.int64)
    sums = F.avg_pool2d(torch.tensor(spikes, dtype=torch.float64).reshape(4, 3, 8, 6), 2) * 4
    assert np.array_equal(kind.accumulate(spikes, mant, attrs), sums.flatten(1).numpy())


BAD = [
    # (weight shape, attrs, input shape, words the message must hold)
    ((4, 1, 9, 9), {"in_shape": (1, 8, 8)}, (1, 8, 8), "larger than the input"),
    ((4, 2, 3, 3), {"in_shape": (3, 8, 8), "groups": 2}, (3, 8, 8), "groups = 2 must divide"),
    ((4, 1, 3, 3), {"in_shape": (1, 8, 8), "padding": -1}, (1, 8, 8), "padding"),
    ((4, 1, 3, 3), {"in_shape": (1, 8, 8), "stride": 0}, (1, 8, 8), "stride"),
    ((4, 1, 3, 3), {"in_shape": (1, 8, 8), "dilation": 4}, (1, 8, 8), "dilation 4"),
    ((4, 2, 3, 3), {"in_shape": (1, 8, 8)}, (1, 8, 8), "input channels"),
    ((4, 1, 3), {"in_shape": (1, 8, 8)}, (1, 8, 8), "weight is"),
]


@pytest.mark.parametrize("shape,attrs,in_shape,needle", BAD)
def test_bad_geometry_is_a_typed_error(shape, attrs, in_shape, needle):
    syn = Synapse(CONV2D, np.ones(shape), None, attrs)
    with pytest.raises(ConfigError, match=needle):
        CONV2D.out_shape(syn, in_shape)


def test_per_channel_exponents_reduce_every_axis_but_the_first():
    w = np.zeros((3, 2, 3, 3))
    w[0, 1, 2, 2], w[1, 0, 0, 1], w[2, 1, 1, 0] = 1.0, -0.1, 12.0
    per = CONV2D.weight_exponents(w, WeightFormat(8, "neuron"))
    assert per.tolist() == [-6, -10, -3]  # 127 * 2**e covers each channel's max |w|
    shared = CONV2D.weight_exponents(w, WeightFormat(8, "layer"))
    assert shared.tolist() == [-3, -3, -3]


def test_average_pooling_over_nine_values_has_no_fixed_point_form():
    net = to_network(conv_model("lif", "c4k3-a3s3-d8"))
    with pytest.raises(QuantizationError, match="1/9"):
        quantize(net)
    quantize(to_network(conv_model("lif", "c4k3-a2-d8")))  # 1/4 is exact


ARCHS = [
    ("lif", "c6k3-p2-c8k3s2-d16"),
    ("cubalif", "c4k3p0-a2-d12"),
    ("src", "c4k3-c6k3g2-p2"),
    ("msrc", "c4k3s2-d12"),
]


def _same_but_names(a, b) -> bool:
    b = replace(
        b,
        layers=tuple(replace(y, name=x.name) for x, y in zip(a.layers, b.layers)),
        provenance=a.provenance,
    )
    return network_equal(a, b)


@pytest.mark.parametrize("cell,arch", ARCHS)
def test_nir_round_trip_is_exact_and_structure_preserving(cell, arch, tmp_path):
    net = to_network(conv_model(cell, arch))
    for fmt in (None, WeightFormat(8), WeightFormat(6, "neuron")):
        want = net if fmt is None else quantize(net, fmt)
        path = tmp_path / "m.nir"
        nir.write(path, to_nir(want))
        back = import_nir(path)
        assert _same_but_names(want, back), (cell, arch, fmt)
        graph = nir.read(path)  # plain nir reads it (types check: Conv2d -> neuron shapes)
        kinds = [type(graph.nodes[b]).__name__ for a, b in graph.edges if a != b]
        assert kinds.count("Conv2d") == arch.count("c") and "Output" in kinds


def test_nir_node_sequence_of_a_peer_graph_survives_import_and_export(tmp_path):
    """snntorch's Conv2d -> LIF -> AvgPool2d -> Flatten -> Affine -> LIF comes back in order."""
    src = Path(__file__).parent / "data" / "peers" / "snntorch" / "conv.nir"
    net = import_nir(src)
    assert [s.kind.name for s in net.layers[1].synapse.pre] == ["avgpool2d"]
    assert net.input_shape == (1, 8, 8) and net.layers[0].out_shape == (4, 8, 8)

    def order(graph):
        nodes, cur, out = graph.nodes, "input", []
        succ = dict(graph.edges)
        while cur in succ:
            cur = succ[cur]
            out.append(type(nodes[cur]).__name__)
        return out

    nir.write(tmp_path / "again.nir", to_nir(net))
    assert order(nir.read(tmp_path / "again.nir")) == order(nir.read(src))


def test_grouped_convolution_is_written_as_its_dense_equivalent(tmp_path):
    net = to_network(conv_model("src", "c4k3-c8k3g4"))
    graph = to_nir(net)
    conv = graph.nodes["layer1.synapse"]
    assert conv.groups == 1 and conv.weight.shape == (8, 4, 3, 3)
    assert np.count_nonzero(conv.weight) <= 8 * 1 * 9  # block-diagonal
    nir.write(tmp_path / "g.nir", graph)
    back = import_nir(tmp_path / "g.nir")
    assert back.layers[1].synapse.attrs["groups"] == 4
    assert back.layers[1].synapse.weight.shape == (8, 1, 3, 3)


def test_float_and_integer_programs_agree_on_a_quantised_conv_network():
    model = conv_model("lif", "c6k3-p2-c8k3-p2-d16")
    qnet = quantize(to_network(model))
    spikes = digit_spikes(24, 12)
    logits_q, rec_q = run_fixed(qnet, spikes)
    logits_f, rec_f = run_float(qnet, spikes)  # the snapped float weights
    assert all(r.any() for r in rec_q), "every layer must fire"
    agree = np.mean(logits_q.argmax(1) == logits_f.numpy().argmax(1))
    assert agree >= 0.9
    # the model's own forward pass is the network's FLOAT program
    with torch.no_grad():
        own = model(torch.as_tensor(spikes, dtype=torch.float32))
    ref, _ = run_float(to_network(model), spikes)
    assert torch.equal(own, ref)


@pytest.mark.parametrize("cell", ["lif", "src"])
def test_qat_forward_is_the_exported_integer_conv_network(cell):
    model = conv_model(cell, "c4k3-p2-c6k3-a2-d12")
    spikes = torch.as_tensor(digit_spikes(8, 10), dtype=torch.float32)
    qnet = quantize(to_network(model))
    want, _ = run_fixed(qnet, spikes.numpy().astype(np.int64))
    wrapped = QuantizedNet(model)
    with torch.no_grad():
        assert np.array_equal(wrapped(spikes).numpy(), want)
    logits = wrapped(spikes)  # straight-through: the integer values forward, float gradients
    assert np.array_equal(logits.detach().numpy(), want.astype(np.float32))
    logits.pow(2).mean().backward()
    assert model.layers[0].synapse.weight.grad.abs().sum() > 0


def test_counters_of_a_conv_layer_follow_neurobench_definitions():
    """Effective = conv of the binary input with the binary kernel (padding excluded); dense =
    all (input, weight) pairs that exist; after a pooling stage the synapse sees graded values."""
    net = quantize(to_network(conv_model("lif", "c3k3-p2-d8")))
    spikes = digit_spikes(6, 5)
    _, rec = run_fixed(net, spikes)
    counts = count_layers(net, spikes, rec, per_step=True)
    conv = net.layers[0].synapse
    nz = (conv.fixed.mantissa != 0).astype(np.float64)
    x = torch.tensor(spikes.reshape(-1, 1, 8, 8), dtype=torch.float64)
    per_out = F.conv2d((x != 0).double(), torch.tensor(nz), padding=1)
    assert np.array_equal(counts[0]["effective"].reshape(-1), per_out.sum((1, 2, 3)).numpy())
    ones = F.conv2d(torch.ones(1, 1, 8, 8), torch.ones(3, 1, 3, 3), padding=1)
    assert counts[0]["dense"][0, 0] == int(ones.sum()) < 3 * 9 * 64  # the border has fewer
    assert counts[0]["effective_acs"].sum() > 0 and counts[0]["effective_macs"].sum() == 0
    assert counts[1]["effective_macs"].sum() > 0 and counts[1]["effective_acs"].sum() == 0
    assert counts[1]["stage_effective"].sum() == (rec[0] != 0).sum()  # each spike once
    assert synapse_count(net.layers[0]) == 3 * 9
    assert synapse_count(net.layers[1]) == 8 * 3 * 4 * 4 + 3 * 4  # dense + the pooling kernel


def test_train_arch_cli_writes_a_conv_run_that_exports(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "--cell", "lif", "--arch", "c4k3-p2-d16", "--epochs", "1", "--limit", "96"]
    assert main([*argv, "--steps", "6", "--quiet", "--out", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["arch"] == "c4k3-p2-d16" and config["model"]["in_shape"] == [1, 8, 8]
    art = tmp_path / "art"
    assert main(["export", str(run), "--out", str(art)]) == 0
    capsys.readouterr()
    assert main(["inspect", str(art), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["layers"][0]["shape"] == [4, 8, 8]
    assert summary["layers"][1]["synapse"] == "sumpool2d+dense"
    mapping = summary["loihi2_mapping"]
    assert mapping["cores"] == len(summary["layers"]) and mapping["feasible"]
    assert summary["loihi2_core"]["fits"] is True


def test_loihi2_mapping_of_a_small_and_a_large_conv_net():
    from modspike.export.loihi2 import place

    small = place(quantize(to_network(conv_model("lif", "c8k3-p2-c16k3-p2-d64"))))
    assert small["cores"] == 3 and small["feasible"] and small["binding_limit"] == "layer"
    assert [x["cores"] for x in small["layers"]] == [1, 1, 1]
    large = place(quantize(to_network(conv_model("lif", "c32k5-p2-c64k3-p2-d512", image=(28, 28)))))
    dense = large["layers"][-1]
    assert not large["feasible"] and dense["binding_limit"] == "input_axons"
    assert dense["fan_in"] == 12544 and "exceeds 4096 input axons" in dense["note"]
    assert large["layers"][0]["feasible"] and large["layers"][0]["cores"] > 1


@pytest.mark.parametrize(
    "arch,needle",
    [
        ("c4k9p0", "larger than the input"),
        ("c4k3-c6k3g4", "groups = 4 must divide"),
        ("c4k3-p9", "larger than the input"),
        ("d16-c4k3", "needs an image"),
        ("c4x3", "not understood"),
        ("p2", "no layer with neurons"),
        ("c0k3", "channels must lie in"),
    ],
)
def test_bad_arch_is_one_line_exit_2(arch, needle, tmp_path, capsys):
    argv = ["train", "--arch", arch, "--epochs", "1", "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def _conv_graph(weight, **fields) -> nir.NIRGraph:
    """Input (C, 8, 8) -> Conv2d -> LIF -> Output, the LIF shaped as nir infers the Conv2d's
    output (so that nir.read accepts the file and modspike's own checks are what refuse it)."""
    conv = dict(input_shape=(8, 8), stride=1, padding=0, dilation=1, groups=1)
    conv.update(fields)
    node = nir.Conv2d(weight=weight, bias=np.zeros(weight.shape[0]), **conv)
    shape = tuple(int(v) for v in node.output_type["output"])
    lif = nir.LIF(
        tau=np.full(shape, 1e-3),
        r=np.full(shape, 10.0),
        v_leak=np.zeros(shape),
        v_threshold=np.ones(shape),
        v_reset=np.zeros(shape),
    )
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([weight.shape[1], 8, 8])),
            "conv": node,
            "lif": lif,
            "output": nir.Output(np.array(shape)),
        },
        edges=[("input", "conv"), ("conv", "lif"), ("lif", "output")],
    )


@pytest.mark.parametrize(
    "weight,fields,needle",
    [
        (np.ones((4, 1, 9, 9)), {}, "larger than the input"),
        (np.ones((4, 1, 3, 3)), {"padding": -1}, "padding"),
        (np.ones((3, 1, 3, 3)), {"groups": 3}, "groups = 3 must divide"),
        (np.ones((4, 1, 2, 2)), {"padding": "same"}, "uneven padding"),
        (np.ones((4, 1, 3, 3)), {"dilation": 0}, "dilation"),
    ],
)
def test_bad_geometry_in_a_nir_file_is_one_line_exit_2(weight, fields, needle, tmp_path, capsys):
    path = tmp_path / "bad.nir"
    nir.write(path, _conv_graph(weight, **fields))
    with pytest.raises(NIRError, match=needle):
        import_nir(path)
    assert main(["import-nir", str(path), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err
