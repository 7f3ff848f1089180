"""modspike's importer reproduces each producer's own spikes from its NIR file (``--producer``).

The goldens in tests/data/peers/ were written by snntorch, Norse, Sinabs, Rockpool, SpikingJelly
and Spyx with their own exporters, next to the spikes the producer itself computed on a fixed
input (docs/nir-producers.md). Our float program (torch float32, the ``torch`` backend) of the
imported file must give those spikes exactly, every layer, every step. The integer model of the
producers' conventions is checked against the float one where the integer arithmetic is exact,
and against Lava (StepLayer) bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import peer_reference as ref
import pytest
import torch

from modspike import registry
from modspike.errors import ModspikeError, NIRError
from modspike.export.nir.read import from_nir, import_nir
from modspike.export.nir.write import to_nir
from modspike.fixedpoint import WeightFormat
from modspike.kinds import producers
from modspike.kinds.cells.lif.int_step import LIFIntParams, LIFIntState
from modspike.kinds.cells.lif.int_step import step as int_step
from modspike.kinds.cells.lif.rule import FIRES, RESET_TIMES, SpikeRule
from modspike.kinds.cells.lif.rule import float_step as rule_float_step
from modspike.quantize import quantize
from modspike.step import Precision, compile, run

DATA = Path(__file__).parent / "data" / "peers"
GOLDENS = sorted(p for p in DATA.glob("*/*.nir") if not p.name.endswith(".as_exported.nir"))
IDS = [f"{p.parent.name}/{p.stem}" for p in GOLDENS]


def load(path: Path):
    with np.load(path.with_suffix(".npz"), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = {k[5:]: str(v) for k, v in arrays.items() if k.startswith("meta.")}
    return arrays, meta


def float_records(net, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's outputs ``(T, *shape)`` for one unbatched input ``x`` (T, *in)."""
    out = run(compile(net, Precision.FLOAT), torch.as_tensor(x[:, None], dtype=torch.float32))
    return {L.name: r[:, 0].numpy() for L, r in zip(net.layers, out.records)}


@pytest.mark.parametrize("path", GOLDENS, ids=IDS)
def test_float_run_gives_the_producers_spikes(path: Path) -> None:
    arrays, meta = load(path)
    # the producer's defaults: dt from the producer (Rockpool: recovered from the file);
    # snntorch's reset is not in the file: the zero-reset goldens need --reset zero
    reset = "zero" if meta["producer"] == "snntorch" and meta["reset"] == "zero" else None
    net = import_nir(path, producer=meta["producer"], reset=reset)
    assert net.dt == pytest.approx(float(meta["dt"]), rel=1e-9)
    rec = float_records(net, arrays["input"])
    graph = nir.read(str(path))
    for key, want in arrays.items():
        if key.startswith("spikes."):
            got = rec[ref.node_key(graph, key[7:])].reshape(want.shape)
            np.testing.assert_array_equal(got, want, err_msg=key)
    last = net.layers[-1].name
    np.testing.assert_array_equal(rec[last].reshape(arrays["output"].shape), arrays["output"])


@pytest.mark.parametrize(
    "producer, net, wrong",
    [
        ("snntorch", "dense_lif", {}),  # NIR's plain reading: zero reset at once, dt 1e-4
        ("snntorch", "dense_lif", {"producer": "snntorch", "reset": "zero"}),
        ("snntorch", "cuba_lif", {}),
        ("norse", "cuba_lif", {"dt": 1e-6}),  # NIR's reading: the file's tau is dt * tau
        ("spyx", "dense_lif", {}),
        ("sinabs", "dense_lif", {"producer": "snntorch"}),
        ("rockpool", "cuba_lif", {"producer": "rockpool", "dt": 1e-4}),
    ],
)
def test_the_producer_matters(producer: str, net: str, wrong: dict) -> None:
    """Another reading of the same file gives other spikes: the option is not decoration."""
    path = DATA / producer / f"{net}.nir"
    arrays, _ = load(path)
    got = float_records(import_nir(path, **wrong), arrays["input"])
    last = list(got)[-1]
    assert not np.array_equal(got[last].reshape(arrays["output"].shape), arrays["output"])


def test_rockpool_file_as_exported_is_repaired() -> None:
    """Rockpool's own file has batch dimensions in its Input / Output types (nir.read refuses
    it); the importer drops them, says so, and recovers dt from r."""
    path = DATA / "rockpool" / "cuba_lif.as_exported.nir"
    net = import_nir(path, producer="rockpool")
    assert net.input_shape == (12,) and net.dt == pytest.approx(1e-3)
    assert net.provenance.dt_source == "producer"
    assert any("batch dimensions" in note for note in net.provenance.notes)
    arrays, _ = load(DATA / "rockpool" / "cuba_lif.nir")
    rec = float_records(net, arrays["input"])
    np.testing.assert_array_equal(rec["3_LIFTorch"], arrays["output"])


def test_rockpool_dt_is_recovered_from_r() -> None:
    graph = nir.read(str(DATA / "rockpool" / "cuba_lif.nir"))
    cells = [n for n in graph.nodes.values() if isinstance(n, nir.CubaLIF)]
    assert producers.producer("rockpool").infer_dt(cells) == pytest.approx(1e-3, rel=1e-6)


@pytest.mark.parametrize(
    "producer, net", [("snntorch", "dense_lif"), ("spyx", "cuba_lif"), ("sinabs", "cuba_lif")]
)
def test_written_and_read_back_keeps_the_producers_spikes(producer, net, tmp_path) -> None:
    """An imported network written by modspike carries its spike rule (and multispike kind) in
    metadata: read back with no option, it gives the producer's spikes."""
    path = DATA / producer / f"{net}.nir"
    arrays, _ = load(path)
    first = import_nir(path, producer=producer)
    back = from_nir(to_nir(first))
    assert [L.cell.kind for L in back.layers] == [L.cell.kind for L in first.layers]
    assert [L.cell.constants for L in back.layers] == [L.cell.constants for L in first.layers]
    rec = float_records(back, arrays["input"])
    np.testing.assert_array_equal(rec[back.layers[-1].name], arrays["output"])


def test_import_nir_artifact_records_the_producer(tmp_path) -> None:
    from modspike.export.artifact_build import import_to_artifact, open_artifact

    path = DATA / "spyx" / "dense_lif.nir"
    summary = import_to_artifact(path, tmp_path / "a", producer="spyx")
    assert summary["producer"] == "spyx" and summary["dt_source"] == "producer"
    artifact, net = open_artifact(tmp_path / "a")
    assert artifact.manifest["source"]["producer"] == "spyx"
    arrays, _ = load(path)
    rec = float_records(net, arrays["input"])
    np.testing.assert_array_equal(rec["LIF_1"], arrays["output"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"producer": "norse", "reset": "subtract"}, "norse's neurons reset by zero"),
        ({"producer": "keras"}, "unknown producer 'keras'"),
    ],
)
def test_bad_producer_options(kwargs, message) -> None:
    with pytest.raises(NIRError, match=message):
        import_nir(DATA / "norse" / "dense_lif.nir", **kwargs)


def test_producer_option_refused_on_modspike_files(tmp_path) -> None:
    net = import_nir(DATA / "snntorch" / "dense_lif_zero.nir", producer="snntorch", reset="zero")
    with pytest.raises(NIRError, match="written by modspike"):
        from_nir(to_nir(net), producer="snntorch")


# --------------------------------------------------------------------------- fixed point


RULES = [
    SpikeRule(reset, at, fire, delay)
    for reset in ("zero", "subtract")
    for at in RESET_TIMES
    for fire in FIRES
    for delay in (False, True)
    if not (at == "both" and reset != "subtract") and not (fire == "count" and reset != "subtract")
]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.reset}-{r.reset_at}-{r.fire}-{r.delay}")
def test_integer_rule_equals_float_rule_where_arithmetic_is_exact(rule) -> None:
    """No leak (dv = 0), no current (du = 4095), integer drives: Lava's registers and the float
    step hold the same integers, so every rule gives the same spikes and membranes (the default
    rule is Lava's own LIF)."""
    rng = np.random.default_rng(7)
    n, steps = 40, 30
    drive = rng.integers(-3, 8, size=(steps, 2, n))
    thr = rng.integers(1, 12, size=n)
    p_int = LIFIntParams(np.full(n, 4095), np.zeros(n, np.int64), thr, np.zeros(n, np.int64), rule)
    state = LIFIntState(np.zeros((2, n), np.int64), np.zeros((2, n), np.int64))

    class P:
        threshold = torch.as_tensor(thr << 6, dtype=torch.float64)
        v_reset = None

    v = torch.zeros((2, n), dtype=torch.float64)
    for t in range(steps):
        s_int, state = int_step(drive[t], state, p_int)
        a = torch.as_tensor(drive[t] << 6, dtype=torch.float64)
        s_f, v = rule_float_step(v, lambda v, a=a: v + a, P, rule)
        np.testing.assert_array_equal(s_int, s_f.numpy(), err_msg=f"step {t}")
        if not rule.is_default:  # Lava's own LIF keeps v after its reset, a rule before it
            np.testing.assert_array_equal(state.v, v.numpy(), err_msg=f"step {t}")


@pytest.mark.parametrize("path", GOLDENS, ids=IDS)
def test_imported_goldens_quantise(path: Path) -> None:
    """Every golden (dense and convolutional) quantises (input gains and recurrent biases folded into the weights)
    and its integer twin stays close to the float network on random input (8-bit weights)."""
    _, meta = load(path)
    reset = "zero" if meta["producer"] == "snntorch" and meta["reset"] == "zero" else None
    net = import_nir(path, producer=meta["producer"], reset=reset)
    q = quantize(net, WeightFormat(8))
    x = (np.random.default_rng(0).random((30, 32, *net.input_shape)) < 0.3).astype(np.int64)
    f = run(compile(net, Precision.FLOAT), torch.as_tensor(x, dtype=torch.float32))
    i = run(compile(q, Precision.FIXED), x)
    for a, b in zip(f.records, i.records):
        assert (a.numpy() == b).mean() > 0.8


@pytest.mark.slow
def test_producer_rules_sim_equals_lava(tmp_path) -> None:
    """Layers Lava's own LIF cannot run (snntorch's late subtract, Spyx's double subtract and
    delay, spike counts, a CubaLIF synapse bias, a recurrent LIF) run in modspike's StepLayer:
    bit-exact with sim, and lava-float gives the torch backend's spikes."""
    pytest.importorskip("lava")
    from modspike.hw import backends

    x = (np.random.default_rng(1).random((30, 6, 12)) < 0.3).astype(np.int64)
    for producer, name in [
        ("snntorch", "cuba_lif"),
        ("spyx", "cuba_lif"),
        ("rockpool", "cuba_lif"),
        ("norse", "cuba_lif"),
        ("snntorch", "recurrent_lif"),  # a recurrent LIF: LIFReset would leak it across samples
    ]:
        net = import_nir(DATA / producer / f"{name}.nir", producer=producer)
        q = quantize(net, WeightFormat(8))
        sim = backends.simulate(q, x, "sim", record=True)
        lava = backends.simulate(q, x, "lava", record=True)
        for a, b in zip(sim.rasters, lava.rasters):
            np.testing.assert_array_equal(a, b, err_msg=producer)
        ft = backends.simulate(net, x.astype(np.float32), "torch", record=True)
        fl = backends.simulate(net, x.astype(np.float32), "lava-float", record=True)
        for a, b in zip(ft.rasters, fl.rasters):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=producer)


def test_multispike_counts_reach_the_next_layer_as_graded_values() -> None:
    """Sinabs' layers emit counts > 1 and the next layer integrates them as counts."""
    path = DATA / "sinabs" / "dense_lif.nir"
    arrays, _ = load(path)
    assert arrays["spikes.1"].max() > 1  # the golden itself has multi-spike steps
    net = import_nir(path, producer="sinabs")
    assert all(L.cell.kind.output is registry.Output.GRADED for L in net.layers)


def test_a_node_the_producer_does_not_write_is_a_typed_error() -> None:
    from modspike.kinds.cells.cubalif.nir import read_foreign

    node = nir.CubaLIF(
        tau_syn=np.ones(2), tau_mem=np.ones(2), r=np.ones(2), v_leak=np.zeros(2),
        v_threshold=np.ones(2),
    )  # fmt: skip
    with pytest.raises(ModspikeError, match="does not know how spikingjelly means a CubaLIF"):
        read_foreign(node, "x", 2, producers.Reading("spikingjelly", 1e-4, "zero"))


# --------------------------------------------------------------------------- one command


def _snntorch_file(path: Path, reset: str = "subtract") -> torch.nn.Module:
    """A 64 -> 24 -> 10 snntorch network (random weights, snntorch's default subtract reset)
    written by snntorch's own exporter (per-neuron beta: a scalar fails nir's type check)."""
    snn = pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(3)
    net = torch.nn.Sequential(
        torch.nn.Linear(64, 24),
        snn.Leaky(beta=torch.full((24,), 0.9), threshold=torch.ones(24), init_hidden=True,
                  reset_mechanism=reset),
        torch.nn.Linear(24, 10),
        snn.Leaky(beta=torch.full((10,), 0.8), threshold=torch.ones(10), init_hidden=True,
                  reset_mechanism=reset, output=True),
    )  # fmt: skip
    with torch.no_grad():
        net[0].weight.mul_(4)
        net[2].weight.mul_(4)
    nir.write(str(path), export_to_nir(net, torch.zeros(1, 64), ignore_dims=[0]))
    return net


def _snntorch_spikes(net: torch.nn.Module, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """snntorch's own hidden and output spikes ``(T, batch, n)`` for input ``x`` (T, batch, 64)."""
    from snntorch import utils

    utils.reset(net)
    hidden, out = [], []
    with torch.no_grad():
        for t in range(x.shape[0]):
            h = net[1](net[0](torch.as_tensor(x[t], dtype=torch.float32)))
            s, _ = net[3](net[2](h))
            hidden.append(h.numpy())
            out.append(s.numpy())
    return np.stack(hidden), np.stack(out)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_snntorch_exporter_file_gives_snntorchs_spikes(tmp_path, reset) -> None:
    """Live oracle: snntorch (a dependency) writes the file and runs its own network; modspike's
    float run of the file with --producer snntorch gives the same spikes on digits input."""
    from modspike.data import load_dataset
    from modspike.encoding import encode, generator

    net = _snntorch_file(tmp_path / "snn.nir", reset)
    x = load_dataset("digits").x_test[:50]
    spikes = encode(torch.as_tensor(x), "rate", 25, generator=generator(0)).numpy()
    hidden, out = _snntorch_spikes(net, spikes)
    ours = import_nir(tmp_path / "snn.nir", producer="snntorch", reset=reset)
    got = run(compile(ours, Precision.FLOAT), torch.as_tensor(spikes))
    assert out.sum() > 0 and hidden.sum() > 0
    np.testing.assert_array_equal(got.records[0].numpy(), hidden)
    np.testing.assert_array_equal(got.records[1].numpy(), out)
    plain = run(compile(import_nir(tmp_path / "snn.nir"), Precision.FLOAT), torch.as_tensor(spikes))
    assert (reset == "zero") == np.array_equal(plain.records[1].numpy(), out)


def test_export_nir_file_in_one_command(tmp_path, capsys) -> None:
    """``modspike export FILE.nir --data digits ...``: a deployable artifact whose sim run
    reproduces the check recorded in its manifest."""
    import json

    from modspike.cli import main

    _snntorch_file(tmp_path / "snn.nir")
    art = tmp_path / "art"
    argv = ["export", str(tmp_path / "snn.nir"), "--data", "digits", "--encoding", "rate"]
    argv += ["--steps", "20", "--bits", "8", "--producer", "snntorch", "--limit", "60"]
    assert main([*argv, "--quiet", "--out", str(art)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    manifest = json.loads((art / "manifest.json").read_text())
    assert manifest["encoding"]["name"] == "rate" and manifest["steps"] == 20
    assert manifest["source"]["producer"] == "snntorch" and manifest["dt"] == 1e-4
    assert manifest["quantization"]["weight_bits"] == 8 and manifest["data"]["name"] == "digits"
    assert summary["quantized_accuracy"] == manifest["accuracy"]["quantized"]
    out = tmp_path / "sim.json"
    assert (
        main(["run", str(art), "--backend", "sim", "--limit", "60", "--quiet", "--out", str(out)])
        == 0
    )
    result = json.loads(out.read_text())
    assert result["accuracy"] == manifest["accuracy"]["quantized"]
    assert result["steps"] == 20


def test_export_command_errors(tmp_path, capsys, export_src_run) -> None:
    from modspike.cli import main

    golden = str(DATA / "snntorch" / "dense_lif.nir")
    assert main(["export", golden, "--out", str(tmp_path / "a")]) == 2
    assert "needs --data" in capsys.readouterr().err
    assert main(["export", golden, "--data", "digits", "--out", str(tmp_path / "b")]) == 2
    assert "takes 12 inputs per step, digits gives 64" in capsys.readouterr().err
    assert main(["export", golden, "--data", "digits", "--encoding", "events",
                 "--out", str(tmp_path / "c")]) == 2  # fmt: skip
    assert "does not fit digits" in capsys.readouterr().err
    assert main(["export", golden, "--data", "digits", "--producer", "norse", "--reset",
                 "subtract", "--out", str(tmp_path / "d")]) == 2  # fmt: skip
    assert "reset by zero" in capsys.readouterr().err
    assert main(["export", str(export_src_run), "--data", "digits", "--steps", "9",
                 "--out", str(tmp_path / "e")]) == 2  # fmt: skip
    assert "--data, --steps: a run directory records these" in capsys.readouterr().err
    assert not any((tmp_path / k).exists() for k in "abcde")
