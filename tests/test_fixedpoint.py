"""The fixed-point format (core/fixedpoint.py, core/fxpnet.py): rounding, weight grid, Lava's LIF,
the SRC tables and integer steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import float_network, src_params

from modspike.errors import QuantizationError
from modspike.fixedpoint import (
    SRCFormat,
    WeightFormat,
    quantize_weights,
    shift_round,
    slow_gate_table,
    squash_table,
    tanh_table,
    weights_from_grid,
)
from modspike.kinds.cells.lif.int_step import LIFIntParams as LIFParams
from modspike.kinds.cells.lif.int_step import LIFIntState as LIFState
from modspike.kinds.cells.lif.int_step import step as lif_step
from modspike.kinds.cells.lif.quantize import lif_decays
from modspike.kinds.cells.src.float_step import SRCConstants, src_step
from modspike.kinds.cells.src.float_step import src_initial_state as float_src_state
from modspike.kinds.cells.src.int_step import initial_state as src_initial_state
from modspike.kinds.cells.src.int_step import step as src_step_int
from modspike.quantize import quantize
from modspike.step import fixed_layer


def quantize_src_layer(w, rec, bh, constants: SRCConstants, in_exp: int):
    """A quantised one-layer SRC network's layer description and its compiled integer layer."""
    net = quantize(float_network("src", [w], [src_params(bh)], constants), input_exponent=in_exp)
    return net.layers[0], fixed_layer(net.layers[0])


def int_step(L, x, state):
    return L.step(L.drive(x, None), state, L.params)


def test_shift_round_is_round_half_up_and_exact_left_shift():
    x = np.array([-7, -6, -5, -3, -2, -1, 0, 1, 2, 3, 5, 6, 7])
    assert shift_round(x, 1).tolist() == np.floor(x / 2 + 0.5).astype(int).tolist()
    assert shift_round(x, 2).tolist() == np.floor(x / 4 + 0.5).astype(int).tolist()
    assert shift_round(x, -3).tolist() == (x * 8).tolist()
    per_row = shift_round(np.array([[5, 5, 5]]), np.array([0, 1, -1]))
    assert per_row.tolist() == [[5, 3, 10]]


@pytest.mark.parametrize("granularity", ["layer", "neuron"])
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_weight_grid_identities(bits, granularity):
    rng = np.random.default_rng(bits)
    w = rng.normal(size=(12, 9)) * rng.uniform(0.01, 3.0, size=(12, 1))
    q = quantize_weights(w, WeightFormat(bits, granularity))
    qmax = 2 ** (bits - 1) - 1
    assert q.mantissa.dtype == np.int64 and np.abs(q.mantissa).max() <= qmax
    # the largest magnitude uses the top bit: the exponent is the smallest that fits
    rows = np.abs(q.mantissa).max(axis=1)
    assert (rows.max() if granularity == "layer" else rows.min()) > qmax // 2
    step = np.exp2(q.exponent)[:, None]
    assert np.all(np.abs(q.dequantize() - w) <= step / 2 + 1e-12)
    assert np.array_equal(q.dequantize().astype(np.float32).astype(np.float64), q.dequantize())
    if granularity == "layer":
        assert len(set(q.exponent.tolist())) == 1
    again = weights_from_grid(q.dequantize(), q.exponent, q.fmt)
    assert np.array_equal(again.mantissa, q.mantissa)


def test_per_neuron_exponents_keep_small_rows_precise():
    w = np.array([[1.0, -0.5, 0.25], [0.01, -0.004, 0.003]])
    per_layer = quantize_weights(w, WeightFormat(8, "layer"))
    per_neuron = quantize_weights(w, WeightFormat(8, "neuron"))
    assert np.abs(per_layer.mantissa[1]).max() <= 2
    assert np.abs(per_neuron.mantissa[1]).max() > 64
    err_layer = np.abs(per_layer.dequantize() - w)[1].max()
    err_neuron = np.abs(per_neuron.dequantize() - w)[1].max()
    assert err_neuron < err_layer / 50


def test_zero_weights_and_bad_weights():
    q = quantize_weights(np.zeros((3, 4)), WeightFormat())
    assert not q.mantissa.any() and not q.exponent.any()
    for bad in (np.nan, np.inf, -np.inf):
        w = np.ones((2, 2))
        w[0, 1] = bad
        with pytest.raises(QuantizationError, match="NaN or Inf"):
            quantize_weights(w, WeightFormat())
    for bits in (0, 1, 9, 16):
        with pytest.raises(QuantizationError, match="bits"):
            WeightFormat(bits)
    with pytest.raises(QuantizationError, match="granularity"):
        WeightFormat(8, "channel")


def test_weights_off_grid_or_too_wide_are_refused():
    fmt = WeightFormat(4)
    with pytest.raises(QuantizationError, match="not on the declared"):
        weights_from_grid(np.array([[0.3, 0.5]]), np.array([-2]), fmt)
    with pytest.raises(QuantizationError, match="do not fit 4 bits"):
        weights_from_grid(np.array([[8.0, 1.0]]), np.array([0]), fmt)


def _lava_lif_model():
    from modspike.hw.lava.support import import_lava

    import_lava()  # never skip: Lava is a locked dependency and CI runs it
    from lava.proc.lif.models import PyLifModelBitAcc

    return PyLifModelBitAcc({})


@pytest.mark.parametrize("du,dv,vth", [(4095, 410, 30), (818, 410, 64), (0, 0, 5), (100, 4095, 1)])
def test_lif_step_is_lavas_bit_accurate_lif(du, dv, vth):
    """Our integer LIF against Lava's own PyLifModelBitAcc methods, on wrap- and clip-heavy input."""
    model = _lava_lif_model()
    n, rng = 32, np.random.default_rng(du + dv)
    model.u, model.v = np.zeros(n, np.int32), np.zeros(n, np.int32)
    model.du, model.dv, model.vth = du, dv, vth
    model.bias_mant = rng.integers(-200, 200, n).astype(np.int16)
    model.bias_exp = np.full(n, 2, np.int16)
    model.scale_bias()
    model.scale_threshold()
    ours = LIFState(np.zeros((1, n), np.int64), np.zeros((1, n), np.int64))
    p = LIFParams(
        np.full(n, du), np.full(n, dv), np.full(n, vth), model.effective_bias.astype(np.int64)
    )
    for t in range(300):
        scale = 40 if t < 150 else 40000  # the second half drives u through its 24-bit wrap
        a = rng.integers(-scale, scale, n).astype(np.int32)
        model.subthr_dynamics(activation_in=a)
        spikes = model.spiking_activation()
        model.reset_voltage(spike_vector=spikes)
        out, ours = lif_step(a[None, :], ours, p)
        assert np.array_equal(out[0], spikes.astype(np.int64)), t
        assert np.array_equal(ours.u[0], model.u) and np.array_equal(ours.v[0], model.v), t


def test_lif_decays_match_snntorch_semantics():
    du, dv = lif_decays(np.array([0.9]))
    assert du.tolist() == [4095] and dv.tolist() == [410]
    du, dv = lif_decays(np.array([0.9]), np.array([0.8]))
    assert du.tolist() == [4095 - 3277]
    with pytest.raises(QuantizationError):
        lif_decays(np.array([1.5]))


def test_tables_are_accurate_monotone_and_saturate():
    fmt = SRCFormat()
    one = fmt.one
    x = np.linspace(-12, 12, 20001)
    xi = np.floor(x * one + 0.5).astype(np.int64)
    for table, fn in [
        (tanh_table(fmt), np.tanh),
        (squash_table(3.0, fmt), lambda v: 3.0 * np.tanh(v / 3.0)),
    ]:
        y = table(xi)
        assert np.abs(y / one - fn(xi / one)).max() < 1.5 / one  # within about one LSB
        assert np.all(np.diff(y) >= 0)
    gate = slow_gate_table(0.9, 0.0, 10.0, 0.5, fmt)
    h = np.arange(-one, one + 1)
    z = gate(h) / one
    want = 0.9 - 0.9 / (1 + np.exp(-10 * (h / one - 0.5)))
    assert np.abs(z - want).max() < 3.0 / one
    assert gate(np.array([-10 * one]))[0] == gate(np.array([-one]))[0]  # held at the ends


def test_integer_src_step_tracks_the_float_cell():
    """Same drive, float src_step vs src_step_int over 100 steps of tonic firing: active steps
    (h > 0) overlap with Jaccard > 0.9 and h agrees to a few LSB most of the time."""
    consts = SRCConstants()
    n, steps = 8, 100
    rng = np.random.default_rng(0)
    w = rng.uniform(0.0, 0.4, size=(n, 1))
    desc, layer = quantize_src_layer(w, None, np.full(n, -5.0), consts, in_exp=0)
    drive = (rng.random((steps, 1, 1)) < 0.6).astype(np.int64)
    state_i = src_initial_state(1, n)
    state_f = float_src_state((1, n), dtype=torch.float64)
    w_f = torch.tensor(desc.synapse.weight)
    bh = torch.full((n,), -5.0, dtype=torch.float64)
    h_i, h_f = [], []
    for t in range(steps):
        out_i, state_i = int_step(layer, drive[t], state_i)
        a = torch.as_tensor(drive[t], dtype=torch.float64) @ w_f.T
        out_f, state_f = src_step(a, state_f, bh, consts)
        h_i.append(state_i.h[0] / 2**12)
        h_f.append(state_f.h[0].numpy())
    h_i, h_f = np.array(h_i), np.array(h_f)
    active_i, active_f = h_i > 0, h_f > 0
    assert active_f.sum() > 20  # the test drive really makes them fire
    jaccard = (active_i & active_f).sum() / (active_i | active_f).sum()
    assert jaccard > 0.9
    assert np.median(np.abs(h_i - h_f)) < 1e-3  # a few LSB, except around shifted upstrokes


def test_integer_states_stay_integers_and_saturate():
    consts = SRCConstants(rho=None, bh_max=None)
    _, layer = quantize_src_layer(np.full((2, 1), 1000.0), None, np.zeros(2), consts, in_exp=0)
    state = src_initial_state(1, 2)
    for _ in range(50):
        out, state = int_step(layer, np.array([[1]]), state)
    assert state.i.dtype == np.int64 and out.dtype == np.int64
    assert np.abs(state.i).max() == 2**23 - 1  # saturates at 24 bits, never wraps
    out, state = src_step_int(np.zeros((1, 2), np.int64), state, layer.params)
    assert np.all(out >= 0)
