"""NIR export and import: round trips, metadata, the SRC extension, files from other tools,
snntorch interop, and bad files."""

from __future__ import annotations

from dataclasses import dataclass

import nir
import numpy as np
import pytest
import snntorch as snn
import torch
from conftest import export_graph, run_fixed, run_float

from modspike.cli import main
from modspike.encoding import encode_batch, generator
from modspike.errors import NIRError
from modspike.export.nir.read import import_nir
from modspike.fixedpoint import WeightFormat
from modspike.network import network_equal
from modspike.step import Precision, fixed_shifts
from modspike.train.modules import NetworkModule
from modspike.train.trainer import TrainConfig


def per_step_outputs(net, x) -> torch.Tensor:
    """The Output node's value at every step: the readout applied to each step's output."""
    _, records = run_float(net, x)
    last = records[-1]
    if net.readout is None:
        return last
    syn = net.readout.synapse
    w = torch.tensor(syn.weight, dtype=torch.float32)
    b = None if syn.bias is None else torch.tensor(syn.bias, dtype=torch.float32)
    return torch.nn.functional.linear(last, w, b)


CASES = [
    ("src", 2, True),
    ("msrc", 2, False),
    ("bsrc", 1, True),
    ("lif", 2, True),
    ("cubalif", 1, True),
]


def _spikes(data, n=24, steps=12, seed=1):
    x = torch.as_tensor(data.x_test[:n])
    return encode_batch(torch.nn.Module(), x, TrainConfig(steps=steps), generator(seed))


def _export(model, path, fmt=None):
    graph, qnet = export_graph(model, fmt or WeightFormat(), info={"test": True})
    nir.write(path, graph)
    return qnet


@pytest.mark.parametrize("cell,layers,recurrent", CASES)
def test_export_import_round_trip(
    cell, layers, recurrent, tmp_path, export_make_model, export_digits
):
    model = export_make_model(cell, layers=layers, recurrent=recurrent)
    path = tmp_path / "m.nir"
    qnet = _export(model, path, WeightFormat(8, "neuron" if cell == "msrc" else "layer"))
    assert isinstance(nir.read(path), nir.NIRGraph)  # plain nir loads our file
    net = import_nir(path)
    assert net.kinds == [cell] * layers and net.dt == 1e-4
    assert net.provenance.dt_source == "metadata"
    spikes = _spikes(export_digits)
    # the integer model: identical parameters and identical outputs, bit for bit
    want, want_rec = run_fixed(qnet, spikes.numpy())
    got, got_rec = run_fixed(net, spikes.numpy())
    assert np.array_equal(want, got) and all(
        np.array_equal(a, b) for a, b in zip(want_rec, got_rec)
    )
    for a, b in zip(qnet.layers, net.layers):
        assert np.array_equal(a.synapse.fixed.mantissa, b.synapse.fixed.mantissa)
        assert all(np.array_equal(x, y) for x, y in zip(fixed_shifts(a), fixed_shifts(b)))
        assert network_equal(a.cell.fixed.params, b.cell.fixed.params)
    with torch.no_grad():
        fixed = NetworkModule(net, Precision.FIXED)(spikes)
    assert np.array_equal(fixed.numpy(), want)
    # the float network on the grid: identical parameters and outputs on the torch backend
    for a, b in zip(qnet.layers, net.layers):
        for x, y in ((a.synapse, b.synapse), (a.recurrent, b.recurrent)):
            assert (x is None) == (y is None)
            if x is not None:
                assert np.array_equal(x.weight.astype(np.float32), y.weight)
                assert (x.bias is None) == (y.bias is None)
    a, rec_a = run_float(qnet, spikes)
    b, rec_b = run_float(net, spikes)
    assert torch.equal(a, b) and all(torch.equal(x, y) for x, y in zip(rec_a, rec_b))


def test_metadata_records_dt_reset_scales_and_format(tmp_path, export_make_model):
    model = export_make_model("lif", layers=1, recurrent=True)
    _export(model, tmp_path / "m.nir")
    g = nir.read(tmp_path / "m.nir")
    assert g.metadata["dt"] == 1e-4 and g.metadata["reset_mode"] == "zero"
    meta = g.metadata["modspike"]
    assert meta["schema"] == "modspike-nir/1" and meta["format"] == "modspike-fxp/1"
    assert meta["weight_bits"] == 8
    syn = g.nodes["layer0.synapse"]
    assert isinstance(syn, nir.Affine) and syn.metadata["modspike"]["exponent"].shape == (16,)
    cell = g.nodes["layer0.cell"]
    assert isinstance(cell, nir.LIF) and np.all(cell.v_reset == 0)
    assert cell.metadata["dt"] == 1e-4 and cell.metadata["reset_mode"] == "zero"
    assert {"du", "dv", "vth"} <= set(cell.metadata["modspike"]["fixed_point"])
    # recurrence is a cycle
    assert ("layer0.cell", "layer0.recurrent") in g.edges
    assert ("layer0.recurrent", "layer0.cell") in g.edges


def test_src_extension_is_built_from_primitives(tmp_path, export_make_model):
    model = export_make_model("src", layers=1, recurrent=False)
    _export(model, tmp_path / "m.nir")
    g = nir.read(tmp_path / "m.nir")
    sub = g.nodes["layer0.cell"]
    assert isinstance(sub, nir.NIRGraph)
    types = {type(n).__name__ for n in sub.nodes.values()}
    assert types == {"Input", "LI", "Threshold", "Output"}
    ext = sub.metadata["modspike"]
    assert ext["extension"] == "src" and ext["schema"] == "modspike-nir-src/1"
    consts = ext["constants"]
    assert consts["rho"] == 3.0 and consts["r"] == 2.0 and consts["rs"] == -7.0
    assert ext["params"]["bh"].shape == (16,)
    assert {"tanh", "gate", "squash"} <= set(ext["fixed_point"]["tables"])
    # the LI node is exactly the input synapse: 1 - dt/tau = alpha, r*dt/tau = 1
    li = sub.nodes["synapse"]
    assert np.allclose(1 - 1e-4 / li.tau.astype(np.float64), 0.9)
    assert np.allclose(li.r * 1e-4 / li.tau, 1.0)
    # other tools fail loudly instead of silently running something else
    from snntorch.import_nir import import_from_nir

    with pytest.raises(ValueError, match="Threshold"):
        import_from_nir(g)


def _euler_lif(x, w, b, tau, r, thr, dt):
    k = dt / tau.astype(np.float64)
    v = np.zeros((x.shape[1], w.shape[0]))
    out = []
    for t in range(x.shape[0]):
        v = (1 - k) * v + k * r * (x[t] @ w.T + b)
        s = v > thr
        v = np.where(s, 0.0, v)
        out.append(s)
    return np.array(out)


def _foreign_lif_graph(metadata=None):
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.8, (6, 4)).astype(np.float32)
    b = rng.normal(0, 0.1, 6).astype(np.float32)
    tau = np.full(6, 2e-3, np.float32)
    lif = nir.LIF(
        tau=tau,
        r=np.full(6, 20.0, np.float32),
        v_leak=np.zeros(6, np.float32),
        v_threshold=np.ones(6, np.float32),
        v_reset=np.zeros(6, np.float32),
    )
    g = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type=np.array([4])),
            "fc": nir.Affine(weight=w, bias=b),
            "lif": lif,
            "out": nir.Output(output_type=np.array([6])),
        },
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")],
        metadata=metadata or {},
    )
    return g, (w, b, tau, np.full(6, 20.0), 1.0)


@pytest.mark.parametrize(
    "metadata,cli_dt,want_dt,source",
    [({}, None, 1e-4, "default"), ({}, 5e-4, 5e-4, "--dt"), ({"dt": 2e-4}, 5e-4, 2e-4, "metadata")],
)
def test_foreign_lif_network_imports_and_runs(tmp_path, metadata, cli_dt, want_dt, source):
    """A LIF net written directly with nir primitives, as any NIR producer writes it."""
    g, (w, b, tau, r, thr) = _foreign_lif_graph(metadata)
    nir.write(tmp_path / "f.nir", g)
    net = import_nir(tmp_path / "f.nir", dt=cli_dt)
    assert net.dt == want_dt and net.provenance.dt_source == source
    assert not net.quantized and net.readout is None
    x = (np.random.default_rng(1).random((30, 5, 4)) < 0.5).astype(np.float32)
    out = per_step_outputs(net, x).numpy()
    want = _euler_lif(x.astype(np.float64), w, b, tau, r, thr, want_dt)
    assert want.sum() > 10 and np.mean(out.astype(bool) == want) > 0.999
    if source == "metadata":
        assert any("--dt" in note for note in net.provenance.notes)  # says --dt was ignored


def test_import_nir_cli_says_which_dt(tmp_path, capsys):
    g, _ = _foreign_lif_graph()
    nir.write(tmp_path / "f.nir", g)
    assert main(["import-nir", str(tmp_path / "f.nir"), "--out", str(tmp_path / "a")]) == 0
    assert "dt = 0.0001 s (default" in capsys.readouterr().err
    assert (
        main(["import-nir", str(tmp_path / "f.nir"), "--dt", "0.001", "--out", str(tmp_path / "b")])
        == 0
    )
    assert "dt = 0.001 s (from --dt)" in capsys.readouterr().err
    # the artifact's copy records the dt it was imported with
    assert nir.read(tmp_path / "b" / "model.nir").metadata["dt"] == 0.001


def test_our_lif_export_runs_identically_in_snntorch(tmp_path, export_make_model, export_digits):
    from snntorch import utils
    from snntorch.import_nir import import_from_nir

    model = export_make_model("lif", layers=1, recurrent=False, hidden=24)
    _export(model, tmp_path / "m.nir")
    spikes = _spikes(export_digits, n=40, steps=20)
    ours = import_nir(tmp_path / "m.nir")
    net = import_from_nir(nir.read(tmp_path / "m.nir"))
    leaky = [m for m in net.modules() if isinstance(m, snn.Leaky)]
    assert len(leaky) == 1
    seen = []
    leaky[0].register_forward_hook(lambda mod, inp, out: seen.append(out))
    want, want_rec = run_float(ours, spikes)
    want_steps = per_step_outputs(ours, spikes)
    with torch.no_grad():
        utils.reset(net)
        state, outs = None, []
        for t in range(spikes.shape[0]):
            out, state = net(spikes[t], state)
            outs.append(out)
    assert want_rec[0].sum() > 0
    assert torch.equal(torch.stack(seen), want_rec[0])  # identical LIF spikes
    assert torch.equal(torch.stack(outs), want_steps)  # identical per-step readout


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_snntorch_export_imports_with_its_spikes(tmp_path):
    """snntorch 1.0 export_to_nir works with nir 1.0.8 given per-neuron beta/threshold tensors."""
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)
    n = 12
    net = torch.nn.Sequential(
        torch.nn.Linear(8, n),
        snn.Leaky(
            beta=torch.full((n,), 0.9),
            threshold=torch.ones(n),
            init_hidden=True,
            reset_mechanism="zero",
        ),
        torch.nn.Linear(n, 3),
    )
    with torch.no_grad():
        net[0].weight.mul_(3)
    nir.write(tmp_path / "s.nir", export_to_nir(net, torch.rand(8)))
    imported = import_nir(tmp_path / "s.nir")
    assert imported.kinds == ["lif"] and imported.provenance.dt_source == "default"
    x = (torch.rand(25, 16, 8) < 0.5).float()
    seen = []
    net[1].register_forward_hook(lambda mod, inp, out: seen.append(out))
    with torch.no_grad():
        from snntorch import utils

        utils.reset(net)
        for t in range(x.shape[0]):
            net(x[t])
    _, rec = run_float(imported, x)
    assert rec[0].sum() > 20
    assert torch.equal(torch.stack(seen), rec[0])


# --------------------------------------------------------------------------- bad files


@dataclass(eq=False)
class Mystery(nir.LIF):
    """A node type outside NIR's primitives (nir.write writes it, nir.read asserts)."""


def _write_bad(tmp_path, kind: str):
    path = tmp_path / f"{kind}.nir"
    g, _ = _foreign_lif_graph()
    if kind == "truncated":
        nir.write(path, g)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "corrupted":
        nir.write(path, g)
        data = bytearray(path.read_bytes())
        data[: len(data) // 2] = bytes(len(data) // 2)
        path.write_bytes(bytes(data))
    elif kind == "not_hdf5":
        path.write_text("this is not a NIR file\n")
    elif kind == "unknown_type":
        lif = g.nodes["lif"]
        g.nodes["lif"] = Mystery(
            tau=lif.tau, r=lif.r, v_leak=lif.v_leak, v_threshold=lif.v_threshold
        )
        nir.write(path, g)
    elif kind == "shapes":
        g.nodes["fc"] = nir.Affine(weight=np.ones((6, 5), np.float32), bias=np.zeros(6, np.float32))
        g2 = nir.NIRGraph(nodes=g.nodes, edges=g.edges, type_check=False)
        nir.write(path, g2)
    elif kind == "nan":
        g.nodes["fc"].weight[0, 0] = np.nan
        nir.write(path, g)
    elif kind == "inf_tau":
        g.nodes["lif"].tau[2] = np.inf
        nir.write(path, g)
    elif kind == "skip":  # a second path from the input straight to the output
        g.nodes["fc2"] = nir.Affine(
            weight=np.ones((6, 4), np.float32), bias=np.zeros(6, np.float32)
        )
        g2 = nir.NIRGraph(nodes=g.nodes, edges=g.edges + [("in", "fc2"), ("fc2", "out")])
        nir.write(path, g2)
    elif kind == "newer_schema":
        g.metadata = {"modspike": {"schema": "modspike-nir/7"}}
        nir.write(path, g)
    elif kind == "missing":
        pass
    return path


BAD = {
    "truncated": "not a readable NIR",
    "corrupted": "not a readable NIR",
    "not_hdf5": "not a readable NIR",
    "unknown_type": "type 'Mystery'",
    "shapes": "mismatch",
    "nan": "NaN or Inf",
    "inf_tau": "NaN or Inf",
    "skip": "unsupported topology",
    "newer_schema": "newer than this modspike reads",
    "missing": "no such NIR file",
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_nir_files_give_one_line_and_exit_2(kind, tmp_path, capsys):
    path = _write_bad(tmp_path, kind)
    with pytest.raises(NIRError, match=BAD[kind]):
        import_nir(path)
    out = tmp_path / "artifact"
    assert main(["import-nir", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("modspike import-nir: error:"), err
    assert "Traceback" not in err[0]
    assert not out.exists()  # no partial artifact
