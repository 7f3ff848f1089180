"""Heterogeneous populations: per-neuron cell parameters through every stage.

Drawn from named distributions (``modspike.kinds.heterogeneity``), optionally trained, written to
NIR as per-neuron arrays and read back bit for bit (float and quantised), run on the simulator and
on Lava's fixed-point LIF with the same spikes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modspike.errors import ConfigError
from modspike.export.nir.file import read_nir_file, write_nir_file
from modspike.export.nir.read import from_nir
from modspike.export.nir.write import to_nir
from modspike.kinds import heterogeneity as het
from modspike.network import network_equal
from modspike.quantize import quantize
from modspike.train.modules import ModelConfig, build_model, to_network


def test_parse_and_describe():
    spec = het.parse("tau=gamma:20:3; threshold=normal:1:0.1 ; learn")
    assert spec.params == ("tau", "threshold")
    assert spec.learn == ("tau", "threshold")
    assert spec.learns("beta") and spec.draw("beta").param == "tau"
    assert het.parse(spec.text()) == spec
    only = het.parse("learn=beta")
    assert only.draws == () and only.learns("beta") and not only.learns("threshold")
    assert het.parse(None) is None and het.parse("  ") is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("tau=gamma:20", "takes 2 numbers"),
        ("tau=uniform:5:1", "LO <= HI"),
        ("tau=gamma:0:3", "MEAN > 0"),
        ("hs0=types:1=0.5,2=0.4", "sum to 1"),
        ("hs0=types:1=0.5,1=0.5", "twice"),
        ("tau=zipf:1:2", "unknown distribution"),
        ("tau=uniform:1:x", "not a number"),
        ("tau=uniform:1:2;tau=uniform:1:2", "drawn twice"),
        ("tau=uniform:5:10;beta=uniform:0.1:0.2", "not both"),
        ("learn", "needs a drawn parameter"),
        ("threshold", "expected PARAM=DIST"),
    ],
)
def test_invalid_specs_are_one_line_errors(text, message):
    with pytest.raises(ConfigError, match=message) as err:
        het.parse(text)
    assert "\n" not in str(err.value)


def test_parameters_are_checked_against_the_kind():
    from modspike import registry

    het.check(het.parse("tau_syn=uniform:2:5"), registry.cell("cubalif"))
    with pytest.raises(ConfigError, match="no per-neuron parameter 'tau_syn'"):
        het.check(het.parse("tau_syn=uniform:2:5"), registry.cell("lif"))
    with pytest.raises(ConfigError, match="no heterogeneous parameters"):
        het.check(het.parse("hs0=uniform:0:1"), registry.cell("src"))


def test_type_mixtures_have_exact_counts():
    from modspike.kinds.cells.msrc.float_step import MSRCConstants, hs0_types

    torch.manual_seed(0)
    types = hs0_types(MSRCConstants())
    values = het.sample(het.parse("hs0=types:1=0.3,2=0.5,2*=0.2").draws[0], 64, types)
    counts = {name: int(np.sum(values == v)) for name, v in types.items()}
    assert counts == {"1": 19, "2": 32, "2*": 13}  # 19.2, 32, 12.8 by largest remainder
    assert types["1"] == pytest.approx(np.sqrt(0.75))  # the type-1 point at r = 4
    assert len(set(np.flatnonzero(values == types["2"])[:5])) == 5  # shuffled, not blocks
    assert not np.all(np.diff(np.flatnonzero(values == types["2"])) == 1)


def test_gamma_time_constants_set_the_decays():
    torch.manual_seed(1)
    beta = het.decay_values(het.parse("tau=gamma:20:3"), "beta", 0.9, 4000, 4095 / 4096)
    tau = -1.0 / np.log(beta)
    assert tau.mean() == pytest.approx(20, rel=0.05)
    assert tau.var() == pytest.approx(20**2 / 3, rel=0.15)  # gamma: mean^2 / k


SPECS = {
    "lif": "tau=gamma:8:3;threshold=uniform:0.8:1.2",
    "cubalif": "tau=gamma:8:3;tau_syn=uniform:2:6;threshold=normal:1:0.05;learn=beta",
    "msrc": "hs0=types:1=0.25,2=0.5,2*=0.25",
}


def _model(cell: str, spec: str):
    torch.manual_seed(3)
    cfg = ModelConfig(cell=cell, n_in=64, hidden=12, layers=2, heterogeneous=spec)
    model = build_model(cfg)
    with torch.no_grad():
        for layer in model.layers:
            layer.synapse.weight.mul_(3.0)
            if cell == "msrc":
                layer.cell.b.uniform_(3.0, 6.0)
    return model.eval()


def _first_param(net, name):
    return np.asarray(getattr(net.layers[0].cell.params, name))


@pytest.mark.parametrize("cell", sorted(SPECS))
def test_heterogeneous_parameters_survive_export_nir_import(cell, tmp_path):
    model = _model(cell, SPECS[cell])
    net = to_network(model)
    varied = {"lif": "beta", "cubalif": "alpha", "msrc": "hs0"}[cell]
    assert np.unique(_first_param(net, varied)).size > 2  # really per neuron
    for stage, network in (("float", net), ("quantised", quantize(net))):
        path = tmp_path / f"{stage}.nir"
        write_nir_file(path, to_nir(network))
        back = from_nir(read_nir_file(path))
        for a, b in zip(network.layers, back.layers):
            assert network_equal(a.cell.params, b.cell.params), (stage, a.name)
            assert network_equal(a.cell.fixed, b.cell.fixed), (stage, a.name)
    fixed = quantize(net).layers[0].cell.fixed.params
    if cell != "msrc":  # per-neuron integer decays / thresholds
        assert np.unique(fixed.dv).size > 2 and np.unique(fixed.vth).size > 2
    else:
        assert np.unique(fixed.hs0).size == 3


def test_learned_parameters_get_gradients_and_fixed_ones_do_not():
    model = _model("cubalif", SPECS["cubalif"])
    cell = model.layers[0].cell
    names = {n for n, _ in cell.named_parameters()}
    assert names == {"het_beta"}  # learn=beta: alpha and threshold are buffers
    assert {n for n, _ in cell.named_buffers()} == {"het_alpha", "het_threshold"}
    x = (torch.rand(10, 4, 64) < 0.3).float()
    model.train()
    model(x).sum().backward()
    assert cell.het_beta.grad is not None and torch.any(cell.het_beta.grad != 0)


def test_homogeneous_modules_are_unchanged():
    """No --heterogeneous: the cells keep their scalar parameters (golden runs depend on it)."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(cell="lif", n_in=64, hidden=8))
    params = model.layers[0].cell.float_params()
    assert params.beta.ndim == 0 and params.threshold.ndim == 0
    assert not any(k.startswith("layers.0.cell.") for k in model.state_dict())


@pytest.mark.lava
@pytest.mark.slow
def test_heterogeneous_lif_is_spike_exact_on_lava():
    """Lava's LIF declares one du / dv / vth per process, but its CPU model broadcasts per-neuron
    arrays: the heterogeneous layer runs bit-exact (docs/plasticity.md measures the cost of the
    one-process-per-value mapping hardware needs)."""
    from modspike.hw.backends import simulate

    net = quantize(to_network(_model("lif", SPECS["lif"])))
    rng = np.random.default_rng(0)
    spikes = (rng.random((12, 6, 64)) < 0.3).astype(np.int64)
    sim = simulate(net, spikes, "sim")
    lava = simulate(net, spikes, "lava")
    assert sum(int(r.sum()) for r in sim.rasters) > 20
    for a, b in zip(sim.rasters, lava.rasters):
        assert np.array_equal(a, b)
    assert np.array_equal(sim.logits, lava.logits)


def test_train_cli_refuses_bad_specs_in_one_line(tmp_path, capsys):
    from modspike.cli import main

    for spec, message in (("tau=gamma:1", "takes 2 numbers"), ("hs0=uniform:0:1", "no per-neuron")):
        code = main(["train", "--cell", "lif", "--heterogeneous", spec, "--out",
                     str(tmp_path / "run"), "--quiet"])  # fmt: skip
        err = capsys.readouterr().err.strip()
        assert code == 2 and message in err and "\n" not in err, err
        assert not (tmp_path / "run").exists()


def test_a_heterogeneous_run_reloads_and_exports(tmp_path):
    """The drawn (buffer) and learned (parameter) per-neuron values are saved with the run and
    come back in the exported artifact, per neuron."""
    from modspike.export.artifact_build import export_run, open_artifact
    from modspike.train.trainer import TrainConfig, load_model, train

    spec = "tau=gamma:8:3;threshold=uniform:0.8:1.2;learn=beta"
    cfg = TrainConfig(cell="lif", hidden=12, steps=10, epochs=1, limit=100, heterogeneous=spec)
    model, _ = train(cfg, out=tmp_path / "run", progress=False)
    back, back_cfg, _ = load_model(tmp_path / "run")
    assert back_cfg.heterogeneous == spec
    for name in ("het_beta", "het_threshold"):
        assert torch.equal(getattr(model.layers[0].cell, name), getattr(back.layers[0].cell, name))
    export_run(tmp_path / "run", tmp_path / "art")
    _, net = open_artifact(tmp_path / "art")
    beta = np.asarray(net.layers[0].cell.params.beta)
    expected = model.layers[0].cell.per_neuron_values()[0].detach().double().numpy()
    assert np.array_equal(beta, expected) and np.unique(beta).size == 12
