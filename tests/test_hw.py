"""The hw stage: the same IntNetwork on our numpy simulator and on Lava's CPU simulator."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
from modspike.errors import HardwareError
from modspike.fixedpoint import LIFParams, QuantizedWeights, WeightFormat
from modspike.fxpnet import (
    IntLayer,
    IntNetwork,
    IntSynapse,
    quantize_msrc_layer,
    quantize_readout,
    quantize_src_layer,
)
from modspike.hw.backends import simulate


def _lif_net(rng) -> IntNetwork:
    fmt = WeightFormat(8)

    def layer(kind, n, n_in, shift, du, dv, vth):
        q = rng.integers(-60, 61, (n, n_in))
        syn = IntSynapse(QuantizedWeights(q, np.zeros(n, np.int64), fmt), np.full(n, shift))
        z = np.zeros(n, np.int64)
        p = LIFParams(np.full(n, du), np.full(n, dv), rng.integers(vth // 2, vth, n), z)
        return IntLayer(kind, syn, None, z, p, z, 0)

    return IntNetwork(
        [layer("lif", 24, 16, 2, 4095, 410, 200), layer("cubalif", 10, 24, 0, 800, 300, 60)],
        quantize_readout(rng.normal(size=(3, 10)), 0),
    )


def _src_net(rng, saturate: bool) -> IntNetwork:
    from modspike.train.cells.msrc import MSRCConstants
    from modspike.train.cells.src import SRCConstants

    scale = 1000.0 if saturate else 1.0  # huge weights drive i and pre into their 24-bit clip
    c = SRCConstants().to_dict()
    l1 = quantize_src_layer(
        rng.normal(size=(20, 16)) * scale,
        rng.normal(size=(20, 20)),
        rng.normal(size=20) * 0.3,
        c,
        0,
    )
    l2 = quantize_src_layer(rng.normal(size=(12, 20)) * scale, None, np.zeros(12), c, -12)
    mc = MSRCConstants().to_dict()
    l3 = quantize_msrc_layer(
        "msrc", rng.normal(size=(6, 12)), rng.normal(size=(6, 6)), np.zeros(6), np.zeros(6), mc, -12
    )
    return IntNetwork([l1, l2, l3], quantize_readout(rng.normal(size=(3, 6)), -12))


def _assert_same(net, spikes):
    sim = simulate(net, spikes, "sim")
    lava = simulate(net, spikes, "lava")
    assert len(sim.rasters) == len(lava.rasters)
    for k, (a, b) in enumerate(zip(sim.rasters, lava.rasters)):
        assert a.shape == b.shape, k
        assert np.array_equal(a, b), (k, np.argwhere(a != b)[:5])
    assert np.array_equal(sim.logits, lava.logits)
    return sim, lava


@pytest.mark.lava
def test_lif_network_is_spike_exact_on_lava():
    rng = np.random.default_rng(1)
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

    artifact, spec = open_artifact(export_src_artifact)
    x, y = load_digits_dataset().split("test")
    spikes = encode_split(artifact.manifest, x[:20], seed=0)
    sim, lava = _assert_same(spec.quantized, spikes)
    assert lava.config["period"] == spikes.shape[0] + 1
    assert (sim.logits.argmax(1) == y[:20]).mean() > 0.5  # a working classifier, not noise


@pytest.mark.lava
def test_lava_is_stopped_after_an_exception():
    from modspike.hw.lava_net import run_lava

    rng = np.random.default_rng(3)
    net = _lif_net(rng)
    spikes = (rng.random((4, 2, 16)) < 0.4).astype(np.uint8)
    with pytest.raises(HardwareError, match="injected"):
        run_lava(net, spikes, fail_at_step=3)
    assert not multiprocessing.active_children()  # every Lava worker was shut down


def test_loihi2_and_bad_backends_have_clear_messages():
    from modspike.hw.lava_support import loihi2_available

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
        "from modspike.hw.lava_support import import_lava; import_lava()\n"
        "from lava.proc.lif.process import LIF; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_missing_lava_is_a_clear_hardware_error(monkeypatch):
    import sys

    from modspike.hw import lava_support

    monkeypatch.setattr(lava_support, "_LAVA", None)
    monkeypatch.setitem(sys.modules, "lava", None)  # makes `import lava` raise ImportError
    with pytest.raises(HardwareError, match="lava-nc"):
        lava_support.import_lava()
    assert not lava_support.loihi2_available()
