"""The hw stage: the same quantised network on our numpy simulator and on Lava's CPU simulator."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
from conftest import build_network, msrc_params, run_float, src_params

from modspike import registry
from modspike.errors import HardwareError
from modspike.fixedpoint import VTH_SHIFT, WeightFormat
from modspike.hw.backends import simulate
from modspike.kinds.cells.lif.int_step import LIFIntParams
from modspike.kinds.cells.msrc.float_step import MSRCConstants
from modspike.kinds.cells.src.float_step import SRCConstants
from modspike.modulation import Modulation
from modspike.network import Cell, FixedCell, FixedWeights, Layer, Network, Readout, Synapse
from modspike.quantize import quantize, quantize_synapse


def _lif_net(rng) -> Network:
    """Two hand-made integer LIF / CubaLIF layers (no quantiser): random mantissas and shifts."""
    dense = registry.synapse("dense")

    def layer(name, kind, n, n_in, shift, du, dv, vth):
        q = rng.integers(-60, 61, (n, n_in))
        z = np.zeros(n, np.int64)
        p = LIFIntParams(np.full(n, du), np.full(n, dv), rng.integers(vth // 2, vth, n), z)
        exponent = np.full(n, shift + VTH_SHIFT)  # shift = exponent - (state_exp + 6), state_exp 0
        fixed = FixedWeights(q, exponent, 0)
        kind_ = registry.cell(kind)
        ones, zeros = np.ones(n), np.zeros(n)
        fields = {
            f: ones if f in ("gain", "gain_syn") else zeros for f in kind_.float_params._fields
        }
        fields.update(beta=np.full(n, 0.9), threshold=np.full(n, 1.0))
        if "alpha" in fields:
            fields["alpha"] = np.full(n, 0.8)
        cell = Cell(kind_, kind_.float_params(**fields), None, FixedCell(p, z, z, 0))
        synapse = Synapse(dense, fixed.dequantize(), None, {}, fixed)
        return Layer(name, synapse, cell, None, (n_in,), (n,))

    layers = (
        layer("layer0", "lif", 24, 16, 2, 4095, 410, 200),
        layer("layer1", "cubalif", 10, 24, 0, 800, 300, 60),
    )
    ro = Synapse(dense, rng.normal(size=(3, 10)))
    ro = Synapse(dense, ro.weight, None, {}, quantize_synapse(ro, WeightFormat(8), 0, "readout"))
    ro = Synapse(dense, ro.fixed.dequantize(), None, {}, ro.fixed)
    return Network((16,), layers, Readout(ro), weight_format=WeightFormat(8))


def _src_net(rng, saturate: bool) -> Network:
    scale = 1000.0 if saturate else 1.0  # huge weights drive i and pre into their 24-bit clip
    c = SRCConstants()
    w1, r1, b1 = rng.normal(size=(20, 16)) * scale, rng.normal(size=(20, 20)), rng.normal(size=20)
    w2 = rng.normal(size=(12, 20)) * scale
    mc = MSRCConstants()
    w3, r3 = rng.normal(size=(6, 12)), rng.normal(size=(6, 6))
    net = build_network(
        [
            ("src", w1, src_params(b1 * 0.3), c, r1),
            ("src", w2, src_params(np.zeros(12)), c),
            ("msrc", w3, msrc_params(np.zeros(6), np.zeros(6)), mc, r3),
        ],
        readout=rng.normal(size=(3, 6)),
    )
    return quantize(net)


def _assert_same(net, spikes, modulation=None):
    sim = simulate(net, spikes, "sim", modulation=modulation)
    lava = simulate(net, spikes, "lava", modulation=modulation)
    assert len(sim.rasters) == len(lava.rasters)
    for k, (a, b) in enumerate(zip(sim.rasters, lava.rasters)):
        assert a.shape == b.shape, k
        assert np.array_equal(a, b), (k, np.argwhere(a != b)[:5])
    for name in ("totals", "events"):  # the counting sinks agree with the rasters
        for a, b in zip(getattr(sim, name), getattr(lava, name)):
            assert np.array_equal(a, b), name
    assert np.array_equal(sim.logits, lava.logits)
    return sim, lava


def _msrc_net(rng, graded_input: bool = False) -> Network:
    mc = MSRCConstants(alpha=0.5)
    in_exp = -12 if graded_input else 0
    w1, r1 = rng.normal(size=(10, 4)) * 2, rng.normal(size=(10, 10)) * 0.5
    b1 = rng.uniform(-1, 1, 10)
    w2, b2 = rng.normal(size=(5, 10)), rng.uniform(-1, 1, 5)
    net = build_network(
        [
            ("msrc", w1, msrc_params(b1, np.full(10, 1.0)), mc, r1),
            ("msrc", w2, msrc_params(b2, np.full(5, 0.8)), mc),
        ],
        readout=rng.normal(size=(3, 5)),
    )
    return quantize(net, input_exponent=in_exp)


def _random_modulation(rng, net, steps, batch):
    """Per layer a Modulation of (T, batch, n): gain ~ 1 +- 0.3, offsets +- 0.5 (state units)."""
    mods = []
    for layer in net.layers:
        one = 1 << layer.cell.fixed.params.frac_bits
        shape = (steps, batch, layer.n)
        mods.append(
            Modulation(
                rng.integers(int(0.7 * one), int(1.3 * one), shape),
                rng.integers(-one // 2, one // 2, shape),
                rng.integers(-one // 2, one // 2, shape),
            )
        )
    return mods


@pytest.mark.lava
@pytest.mark.parametrize("seed", [1, 2])
def test_lif_network_is_spike_exact_on_lava(seed):
    rng = np.random.default_rng(seed)
    net = _lif_net(rng)
    spikes = (rng.random((12, 6, 16)) < 0.4).astype(np.uint8)
    sim, _ = _assert_same(net, spikes)
    assert all(r.sum() > 0 for r in sim.rasters)  # not a vacuous match


@pytest.mark.lava
@pytest.mark.parametrize("saturate", [False, True])
def test_src_network_is_bit_exact_on_lava(saturate):
    """Recurrent SRC -> SRC -> recurrent mSRC, graded messages, samples back to back."""
    rng = np.random.default_rng(7 + saturate)
    net = _src_net(rng, saturate)
    spikes = (rng.random((10, 5, 16)) < 0.3).astype(np.uint8)
    sim, _ = _assert_same(net, spikes)
    assert all(r.sum() > 0 for r in sim.rasters)


@pytest.mark.lava
def test_exported_digits_artifact_is_bit_exact_on_lava(export_src_artifact):
    from modspike.data import load_digits_dataset
    from modspike.export.artifact_build import open_artifact
    from modspike.hw.run_artifact import encode_split

    artifact, net = open_artifact(export_src_artifact)
    x, y = load_digits_dataset().split("test")
    spikes = encode_split(artifact.manifest, x[:20], seed=0)
    sim, lava = _assert_same(net, spikes)
    assert lava.config["period"] == spikes.shape[0] + 1
    assert (sim.logits.argmax(1) == y[:20]).mean() > 0.5  # a working classifier, not noise


@pytest.mark.lava
def test_modulated_msrc_network_is_bit_exact_on_lava():
    """The modulation port: per-step, per-neuron gain, bias and h_s0 offsets, sim == Lava."""
    rng = np.random.default_rng(11)
    net = _msrc_net(rng)
    spikes = (rng.random((8, 4, 4)) < 0.5).astype(np.uint8)
    mods = _random_modulation(rng, net, 8, 4)
    sim, _ = _assert_same(net, spikes, mods)
    plain = simulate(net, spikes, "sim")
    assert not all(np.array_equal(a, b) for a, b in zip(plain.rasters, sim.rasters))


@pytest.mark.lava
def test_closed_loop_session_matches_the_simulator_step_by_step():
    """LavaSession holds state between environment steps, as the simulator's program does."""
    from modspike.hw.lava.session import LavaSession
    from modspike.step import Precision, compile, run

    rng = np.random.default_rng(5)
    net = _msrc_net(rng, graded_input=True)
    prog = compile(net, Precision.FIXED)
    window, state = 3, prog.initial_state(1)
    with LavaSession(net, window) as session:
        for _ in range(4):
            obs = rng.integers(-4096, 4096, (1, 4))
            inputs = np.repeat(obs, window, axis=0)  # (window, n_in), held over the window
            mod = [tuple(f[0, 0] for f in m) for m in _random_modulation(rng, net, 1, 1)]
            sim_mod = [
                Modulation(*(np.broadcast_to(f, (window, 1, len(f))) for f in m)) for m in mod
            ]
            result = run(prog, inputs[:, None, :], state, modulation=sim_mod)
            out, state = result.records, result.state
            lava_out = session.advance(inputs, [tuple(m) for m in mod])
            assert np.array_equal(out[-1][:, 0, :], lava_out)
    assert not multiprocessing.active_children()


@pytest.mark.lava
def test_float_lava_agrees_with_the_float_torch_model(export_src_artifact):
    """Lava floating_pt (our SRCLayer float model, Lava's Dense) vs the torch backend."""

    from modspike.data import load_digits_dataset
    from modspike.export.artifact_build import open_artifact
    from modspike.hw.run_artifact import encode_split

    artifact, net = open_artifact(export_src_artifact)
    x, _ = load_digits_dataset().split("test")
    spikes = encode_split(artifact.manifest, x[:100], seed=0)
    lava = simulate(net, spikes, "lava-float", record=False)
    ref = run_float(net, spikes)[0].numpy()
    agree = (lava.logits.argmax(1) == ref.argmax(1)).mean()
    assert agree >= 0.99
    assert np.allclose(lava.logits, ref, atol=1e-2 * np.abs(ref).max())


@pytest.mark.lava
def test_exported_digits_lif_artifact_on_lava_fixed_and_float(export_lif_run, tmp_path):
    """A trained LIF network on the digits test split: sim == Lava fixed_pt spike for spike, and
    Lava floating_pt (Lava's own LIFReset and Dense) gives the float torch model's predictions."""

    from modspike.cli import main
    from modspike.data import load_digits_dataset
    from modspike.export.artifact_build import open_artifact
    from modspike.hw.run_artifact import encode_split

    assert main(["export", str(export_lif_run), "--out", str(tmp_path / "lif")]) == 0
    artifact, net = open_artifact(tmp_path / "lif")
    x, _ = load_digits_dataset().split("test")
    spikes = encode_split(artifact.manifest, x[:40], seed=0)
    sim, _ = _assert_same(net, spikes)
    assert all(r.sum() > 0 for r in sim.rasters)
    lava = simulate(net, spikes, "lava-float", record=False)
    ref = run_float(net, spikes)[0].numpy()
    assert (lava.logits.argmax(1) == ref.argmax(1)).mean() >= 0.99


@pytest.mark.lava
def test_lava_is_stopped_after_an_exception():
    from modspike.hw.lava.graph import run_lava

    rng = np.random.default_rng(3)
    net = _lif_net(rng)
    spikes = (rng.random((4, 2, 16)) < 0.4).astype(np.uint8)
    with pytest.raises(HardwareError, match="injected"):
        run_lava(net, spikes, fail_at_step=3)
    assert not multiprocessing.active_children()  # every Lava worker was shut down


def test_threaded_simulator_equals_one_thread():
    """The batch split over threads changes nothing, modulation included."""
    from modspike.hw.backends.sim import run_sim

    rng = np.random.default_rng(4)
    net = _msrc_net(rng)
    spikes = (rng.random((6, 700, 4)) < 0.5).astype(np.uint8)
    mods = _random_modulation(rng, net, 6, 700)
    one, used_one = run_sim(net, spikes, mods, threads=1)
    many, used = run_sim(net, spikes, mods, threads=3)
    assert (used_one, used) == (1, 2)  # 700 samples: at most 2 shares of >= 256
    assert all(np.array_equal(a, b) for a, b in zip(one, many)) and one[0].any()


def test_loihi2_and_bad_backends_have_clear_messages():
    from modspike.hw.lava.support import loihi2_available

    net = _lif_net(np.random.default_rng(0))
    spikes = np.zeros((2, 1, 16), np.uint8)
    if not loihi2_available():
        with pytest.raises(HardwareError, match="lava-loihi"):
            simulate(net, spikes, "loihi2")
    with pytest.raises(HardwareError, match="unknown backend"):
        simulate(net, spikes, "gpu")
    with pytest.raises(HardwareError, match="shape"):
        simulate(net, spikes[:, :, :3], "sim")


def test_import_lava_works_after_the_start_method_was_fixed():
    """tqdm (and others) fix the start method; Lava's import-time set_start_method would raise."""
    import subprocess
    import sys

    code = (
        "import multiprocessing as mp; mp.set_start_method('spawn')\n"
        "from modspike.hw.lava.support import import_lava; import_lava()\n"
        "from lava.proc.lif.process import LIF; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_missing_lava_is_a_clear_hardware_error(monkeypatch):
    import sys

    from modspike.hw.lava import support as lava_support

    monkeypatch.setattr(lava_support, "_LAVA", None)
    monkeypatch.setitem(sys.modules, "lava", None)  # makes `import lava` raise ImportError
    with pytest.raises(HardwareError, match="lava-nc"):
        lava_support.import_lava()
    assert not lava_support.loihi2_available()
