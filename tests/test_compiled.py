"""The compiled steps (numba) compute what the numpy steps compute, bit for bit, for every kind in
the registry that has one; a kind without one falls back to its numpy step; the simulator's
compact outputs hold the same values as the reference program's rasters."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
import torch
from conftest import build_network

from modspike import registry
from modspike.compiled import accelerate, compiled_layers
from modspike.fixedpoint import WeightFormat, saturate
from modspike.hw.backends import simulate
from modspike.hw.backends.sim import count_dtype, simulate_fixed, smallest_int_dtype
from modspike.kinds.types import CellKind, FixedArith, FloatArith, Output, Quantizer
from modspike.modulation import Modulation
from modspike.network import FixedCell
from modspike.quantize import quantize
from modspike.step import Precision, compile, run
from modspike.train.modules import ModelConfig, build_model, to_network

FIXED_KINDS = registry.cell_names("fixed")
STEPS, BATCH, N_IN = 12, 7, 10


def random_network(kind: str, seed: int, scale: float, recurrent: bool = True, per_neuron=False):
    """A random quantised 3-layer network of ``kind`` (its training module's initialisation,
    synaptic weights times ``scale``, every float parameter jittered; where the kind names a bias
    its modulation reaches, that bias drawn from [-1, 2] so that deep layers fire)."""
    fmt = WeightFormat(8, "neuron" if per_neuron else "layer")  # one exponent per row, or one
    if kind not in registry.cell_names("trainable"):
        if kind not in UNTRAINED_PARAMS:
            pytest.fail(f"no random-network builder for kind {kind!r} (not trainable): add one")
        return quantize(untrained_network(kind, seed, scale, recurrent), fmt)
    torch.manual_seed(seed)
    cfg = ModelConfig(cell=kind, n_in=N_IN, hidden=9, layers=3, n_out=4, recurrent=recurrent)
    model = build_model(cfg)
    with torch.no_grad():
        for layer in model.layers:
            layer.synapse.weight.mul_(scale)
            for p in layer.cell.parameters():
                p.mul_(1 + 0.3 * torch.rand_like(p)).add_(0.2 * torch.randn_like(p))
            targets = registry.cell(kind).modulation
            if targets is not None:
                getattr(layer.cell, targets.bias).uniform_(-1.0, 2.0)
    return quantize(to_network(model), fmt)


# Kinds without a training module (read from other libraries' NIR files): random float
# parameters in the ranges their producers use, per neuron.
UNTRAINED_PARAMS = {
    "multispike": lambda rng, n: {
        "alpha": rng.uniform(0.0, 0.9, n),
        "gain_syn": np.ones(n),
        "beta": rng.uniform(0.5, 1.0, n),
        "gain": np.ones(n),  # the fixed-point LIF registers have no gain and no leak
        "leak": np.zeros(n),
        "threshold": rng.uniform(0.5, 1.5, n),
    },
}


def untrained_network(kind: str, seed: int, scale: float, recurrent: bool):
    rng = np.random.default_rng(seed)
    sizes, specs = [N_IN, 9, 9, 9], []
    for n_in, n in zip(sizes, sizes[1:]):
        w = rng.normal(0.3, 0.4, (n, n_in)) * scale / 2
        rec = rng.normal(0.0, 0.3, (n, n)) if recurrent else None
        specs.append((kind, w, UNTRAINED_PARAMS[kind](rng, n), None, rec))
    return build_network(specs, readout=rng.normal(size=(4, 9)))


def random_modulation(rng, net, steps: int, batch: int):
    """Per layer whose kind has a modulation port: gain 1 +- 0.5, offsets +- 1/2 (in the unit the
    integer modulation uses, ``2**-out_exp``)."""
    mods = []
    for layer in net.layers:
        if layer.cell.kind.modulation is None:
            mods.append(None)
            continue
        one = 2 ** int(-layer.cell.fixed.out_exp)
        shape = (steps, batch, layer.n)
        hs0 = rng.integers(-one // 2, one // 2, shape)
        if layer.cell.kind.modulation.fixed_hs0 is None:
            hs0 = np.zeros(shape, np.int64)
        gain = rng.integers(one // 2, 3 * one // 2 + 1, shape)
        mods.append(Modulation(gain, rng.integers(-one // 2, one // 2, shape), hs0))
    return mods


def assert_programs_agree(net, spikes, modulation=None):
    ref = compile(net, Precision.FIXED)
    fast = accelerate(ref, net)
    a = run(ref, spikes, modulation=modulation)
    b = run(fast, spikes, modulation=modulation)
    for k, (x, y) in enumerate(zip(a.records, b.records)):
        assert np.array_equal(x, y), (k, np.argwhere(x != y)[:5])
    for (pa, sa), (pb, sb) in zip(a.state, b.state):  # the final states too (warm-up resumes)
        assert np.array_equal(pa, pb)
        assert all(np.array_equal(u, v) for u, v in zip(sa, sb))
    assert np.array_equal(ref.readout(a.total, len(spikes)), fast.readout(b.total, len(spikes)))
    return a, fast


@pytest.mark.parametrize("kind", FIXED_KINDS)
def test_compiled_step_is_bit_exact_with_the_numpy_step(kind):
    """Random recurrent 3-layer networks, plain (one weight exponent per row) and with weights
    1000x (the registers saturate), random input, and a random modulation per neuron and step
    where the kind takes one."""
    rng = np.random.default_rng(sum(map(ord, kind)))
    spikes = (rng.random((STEPS, BATCH, N_IN)) < 0.4).astype(np.uint8)
    active = np.zeros(3, bool)
    for scale in (2.0, 1000.0):
        net = random_network(kind, seed=len(kind), scale=scale, per_neuron=scale < 10)
        mods = [None, random_modulation(rng, net, STEPS, BATCH)]
        for modulation in mods:
            out, fast = assert_programs_agree(net, spikes, modulation)
            active |= [bool(r.any()) for r in out.records]
    assert active.all()  # not a vacuous match: every layer fired in some run
    has = registry.cell(kind).fixed.compiled is not None
    assert len(compiled_layers(fast)) == (3 if has else 0)


def jittered(params, rng):
    """Every integer array of a kind's parameters moved at random (signs flip, zeros become
    non-zero): the identity holds for any integers, not only for the quantiser's."""
    out = {}
    for name, value in params._asdict().items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "i":
            spread = np.abs(value) // 2 + 4
            value = value + rng.integers(-spread, spread)
        out[name] = value
    return type(params)(**out)


@pytest.mark.parametrize("expand", [True, False])
@pytest.mark.parametrize("kind", [k for k in FIXED_KINDS if registry.cell(k).fixed.compiled])
def test_compiled_step_on_random_integers(kind, expand, monkeypatch):
    """One step from random parameters, states and drives up to 2**26 (saturation, Lava's wrap,
    every optional term of the step switched on by a non-zero parameter); tables expanded into
    one value per point, and interpolated (tables too wide to expand)."""
    from modspike import kernels

    if not expand:
        monkeypatch.setattr(kernels, "FULL_TABLE_POINTS", 0)
        monkeypatch.setattr(kernels, "_TABLES", {})
    rng = np.random.default_rng(11)
    arith = registry.cell(kind).fixed
    for seed in range(4):
        layer = random_network(kind, seed=seed, scale=3.0).layers[1]
        params = jittered(layer.cell.fixed.params, rng)
        step = arith.compiled(params)
        state = arith.initial_state(64, layer.n)
        state = type(state)(*(rng.integers(-(1 << 24), 1 << 24, s.shape) for s in state))
        for bound in (1 << 10, 1 << 26):
            a = rng.integers(-bound, bound, (64, layer.n))
            want_out, want = arith.step(a, state, params)
            got_out, got = step(a, state, params)
            assert np.array_equal(want_out, got_out)
            assert all(np.array_equal(u, v) for u, v in zip(want, got))


def test_fused_drive_equals_from_accumulators():
    """The simulator's one-pass drive (branch-free shifts, float GEMM results converted inside)
    gives ``from_accumulators``' values: per-neuron shifts of both signs up to 70 bits (clipped
    as the reference clips them), int64, float32 and float64 sums, with and without bias and
    recurrent sum."""
    from modspike.fixedpoint import apply_exponent
    from modspike.kernels import drive, shift_parts

    rng = np.random.default_rng(4)
    n = 37
    shift = rng.integers(-70, 71, n)
    rec_shift = rng.integers(-20, 21, n)
    bias = rng.integers(-1000, 1000, n)
    for dtype, top in ((np.int64, 1 << 40), (np.float32, 1 << 20), (np.float64, 1 << 40)):
        acc = rng.integers(-top, top, (9, n)).astype(dtype)
        rec = rng.integers(-top, top, (9, n)).astype(dtype)
        a, r = acc.astype(np.int64), rec.astype(np.int64)
        for has_bias, has_rec in ((False, False), (True, False), (True, True), (False, True)):
            want = apply_exponent(a, shift) + (bias if has_bias else 0)
            if has_rec:
                want = want + apply_exponent(r, rec_shift)
            got = drive(
                acc, shift_parts(shift), bias, rec, shift_parts(rec_shift), has_bias, has_rec
            )
            assert got.dtype == np.int64 and np.array_equal(got, want)


def test_src_int32_states_are_exact_where_the_bound_holds():
    """The SRC kernel's narrow path (int32 states, :func:`narrow_bound`): quantised layers take
    it, and it gives the numpy step's values over steps that feed its own int32 states back,
    from states at the bound and drives up to 2**26 (saturation); parameters outside the bound
    (a negative leak mix) run the int64 path, and so do states beyond it."""
    from modspike.kinds.cells.src.int_kernel import STATE_LIMIT, bind, narrow_bound

    rng = np.random.default_rng(3)
    arith = registry.cell("src").fixed
    for seed in range(3):
        params = random_network("src", seed=seed, scale=3.0).layers[1].cell.fixed.params
        if seed == 2:  # the leaky mix switched on (z in [0, 1])
            params = params._replace(z=rng.integers(0, 1 << params.frac_bits, params.z.shape))
        assert narrow_bound(params)
        step = bind(params)
        assert step.narrow
        top = 1 << (params.state_bits - 1)
        n = params.alpha.shape[-1] if np.ndim(params.alpha) else 9
        want = arith.initial_state(64, n)
        want = type(want)(
            rng.integers(-top + 1, top, (64, n)),
            rng.integers(-STATE_LIMIT + 1, STATE_LIMIT, (64, n)),
            rng.integers(-STATE_LIMIT + 1, STATE_LIMIT, (64, n)),
        )
        got = want
        for t in range(6):
            a = (
                rng.integers(-(1 << 26), 1 << 26, (64, n))
                if t % 2
                else rng.integers(-99, 99, (64, n))
            )
            want_out, want = arith.step(a, want, params)
            got_out, got = step(a, got, params)
            assert np.array_equal(want_out, got_out)
            assert all(np.array_equal(u, v) for u, v in zip(want, got))
            assert all(s.dtype == np.int32 for s in got)
        beyond = type(got)(got.i, got.h, np.full_like(got.hs, STATE_LIMIT, dtype=np.int64))
        want_out, want = arith.step(a, beyond, params)
        got_out, got = step(a, beyond, params)
        assert np.array_equal(want_out, got_out) and all(s.dtype == np.int64 for s in got)
        assert all(np.array_equal(u, v) for u, v in zip(want, got))
    negative = params._replace(z=-params.z - 1)
    assert not narrow_bound(negative) and not bind(negative).narrow


@pytest.mark.parametrize("kind", [k.name for k in registry.synapses() if k.compiled])
def test_compiled_accumulation_equals_the_reference(kind):
    """Exact on spikes, on graded values cut into digits, on signed inputs up to 2**40, on
    all-zero weights and on fan-ins too wide for float32."""
    from modspike.fixedpoint import int_matmul

    syn = registry.synapse(kind)
    rng = np.random.default_rng(1)
    for fan_in, top in ((16, 1), (64, 1), (300, 4096), (300, 1 << 40), (70000, 1000)):
        m = rng.integers(-127, 128, (5, fan_in))
        acc = syn.compiled(m, {})
        for x in (
            rng.integers(0, top + 1, (9, fan_in)),
            rng.integers(-top, top + 1, (9, fan_in)),
            np.full((2, fan_in), -top),
        ):
            assert np.array_equal(acc(x), int_matmul(x, m))
        assert np.array_equal(syn.compiled(0 * m, {})(x), np.zeros((2, 5), np.int64))
    spikes = rng.integers(0, 2, (4, 3, 8), dtype=np.uint8)  # a dense synapse flattens its input
    m = rng.integers(-127, 128, (6, 24))
    assert np.array_equal(syn.compiled(m, {})(spikes), syn.accumulate(spikes, m, {}))


@pytest.mark.parametrize("kind", FIXED_KINDS)
def test_simulator_equals_the_reference_program(kind):
    """``sim`` (compiled steps, compact rasters, counts on the fly, threads) holds the values of
    the numpy program's int64 rasters, with and without rasters."""
    rng = np.random.default_rng(5)
    net = random_network(kind, seed=3, scale=3.0)
    spikes = (rng.random((STEPS, 600, N_IN)) < 0.4).astype(np.uint8)
    ref = run(compile(net, Precision.FIXED), spikes)
    full = simulate_fixed(net, spikes, threads=2)
    counts = simulate_fixed(net, spikes, threads=2, record=False)
    assert full.threads == 2 and counts.rasters is None
    for k, r in enumerate(ref.records):
        got = full.rasters[k]
        assert np.array_equal(got, r)
        assert got.dtype == smallest_int_dtype(int(r.min()), int(r.max()))
        for out in (full, counts):
            assert np.array_equal(out.totals[k], r.sum(axis=0))
            assert np.array_equal(out.events[k], (r != 0).sum(axis=0))
            assert out.events[k].dtype == count_dtype(STEPS)
    res = simulate(net, spikes, "sim", record=False)
    assert res.rasters is None and res.config["bytes_per_sample"]["rasters"] is None
    assert np.array_equal(res.logits, compile(net, Precision.FIXED).readout(ref.total, STEPS))


def test_the_raster_widens_when_a_step_needs_it():
    """Outputs that start small and grow (0/1, then graded, then beyond 16 bits) keep their
    values: the raster is widened in place of being clipped."""
    big = registry.cell("src")
    rng = np.random.default_rng(0)
    net = random_network(big.name, seed=1, scale=1.0, recurrent=False)
    prog = compile(net, Precision.FIXED)
    values = [np.ones((2, 9), np.int64), np.full((2, 9), 300), np.full((2, 9), -(1 << 20))]

    from modspike.hw.backends.sim import _Recorder

    rec = _Recorder(prog, 3, 2, record=True)
    for t, v in enumerate(values):
        rec(t, 0, (v, None))
    assert rec.rasters[0].dtype == np.int32
    assert np.array_equal(rec.rasters[0], np.stack(values))
    assert rng is not None


# --------------------------------------------------------------------------- plug-in kinds


class IntParams(NamedTuple):
    vth: np.ndarray


class IntState(NamedTuple):
    v: np.ndarray


def iaf_step(a, state, p):
    v = saturate(state.v + a)
    spikes = v > p.vth
    return spikes.astype(np.int64), IntState(np.where(spikes, 0, v))


def iaf_compiled(params):
    """A plug-in's own numba kernel (defined in a test file: numba caches it like any other)."""
    from modspike.kernels import jit, per_neuron
    from modspike.kernels import saturate as sat

    @jit
    def kernel(a, v0, vth):
        out, v1 = np.empty_like(a), np.empty_like(a)
        for b in range(a.shape[0]):
            for j in range(a.shape[1]):
                v = sat(v0[b, j] + a[b, j], 24)
                out[b, j] = 1 if v > vth[b, j] else 0
                v1[b, j] = 0 if v > vth[b, j] else v
        return out, v1

    def step(a, state, p):
        a = np.asarray(a, np.int64)
        out, v = kernel(a, state.v, per_neuron(p.vth, a.shape))
        return out, IntState(v)

    return step


class Params(NamedTuple):
    threshold: torch.Tensor


class State(NamedTuple):
    v: torch.Tensor


def iaf_float_step(a, state, p, constants=None):
    v = state.v + a
    spikes = (v > p.threshold).to(v.dtype)
    return spikes, State(v * (1 - spikes))


def iaf_quantize(cell, synapse, recurrent, bias, fmt, sfmt):
    e_v = synapse.exponent + synapse.input_exponent
    vth = np.floor(np.asarray(cell.params.threshold) / np.exp2(e_v)).astype(np.int64)
    return FixedCell(IntParams(vth), np.zeros(cell.n, np.int64), e_v, 0)


def iaf_kind(compiled) -> CellKind:
    """A plug-in integrate-and-fire kind (as tests/kinds/test_plugin_iaf.py), with or without a
    compiled step."""
    return CellKind(
        name="iaf-test",
        output=Output.BINARY,
        float_params=Params,
        floating=FloatArith(
            initial_state=lambda batch, n, device=None: State(torch.zeros(batch, n)),
            step=iaf_float_step,
        ),
        fixed=FixedArith(
            initial_state=lambda batch, n: IntState(np.zeros((batch, n), np.int64)),
            step=iaf_step,
            drive_exponent=lambda fixed: fixed.state_exp,
            ste_fields=(("v", "v"),),
            compiled=compiled,
        ),
        quant=Quantizer(
            quantize=iaf_quantize, out_exponent=lambda sfmt: 0, to_dict=dict, from_dict=dict
        ),
    )


@pytest.mark.parametrize("compiled", [None, iaf_compiled])
def test_a_plugin_kind_runs_its_own_kernel_or_falls_back(compiled):
    rng = np.random.default_rng(2)
    with registry.scoped():
        kind = registry.register(iaf_kind(compiled))
        net = build_network(
            [
                (kind.name, rng.normal(0.4, 0.6, (12, 8)), {"threshold": np.full(12, 1.5)}, None),
                (kind.name, rng.normal(0.3, 0.5, (6, 12)), {"threshold": np.full(6, 1.0)}, None),
            ],
            readout=rng.normal(size=(3, 6)),
        )
        qnet = quantize(net)
        spikes = (rng.random((15, 5, 8)) < 0.5).astype(np.uint8)
        out, fast = assert_programs_agree(qnet, spikes)
        assert all(r.any() for r in out.records)
        if compiled is None:  # the numpy step itself, untouched
            assert all(L.step is iaf_step for L in fast.layers) and not compiled_layers(fast)
        else:
            assert compiled_layers(fast) == ["layer0", "layer1"]
        res = simulate(qnet, spikes, "sim")
        assert res.config["compiled_layers"] == compiled_layers(fast)
        assert all(np.array_equal(a, b) for a, b in zip(res.rasters, out.records))


CONV_ARCH = "c4k3-p2-c6k3s2-a2-d12"  # conv, sum pooling, a strided conv, average pooling, dense


@pytest.mark.parametrize("kind", ["lif", "cubalif", "src", "msrc"])
def test_conv_networks_compiled_and_simulated_equal_the_reference(kind):
    """Convolutional networks (pooling stages, stride, saturating scale, per-channel exponents,
    modulation where the kind takes one): the accelerated program and ``sim`` (compact rasters,
    threads) hold the numpy reference program's values."""
    from conv_nets import conv_model, digit_spikes

    spikes = digit_spikes(n=40, steps=STEPS)
    rng = np.random.default_rng(3)
    for scale, granularity in ((3.0, "layer"), (300.0, "neuron")):
        model = conv_model(kind, CONV_ARCH, seed=1, scale=scale)
        net = quantize(to_network(model), WeightFormat(8, granularity))
        assert any(layer.synapse.pre for layer in net.layers)
        mods = random_modulation(rng, net, STEPS, spikes.shape[1])
        ref, _ = assert_programs_agree(net, spikes, mods)
        assert sum(int(np.abs(r).sum()) for r in ref.records) > 0
        full = simulate_fixed(net, spikes, mods, threads=2)
        for k, r in enumerate(ref.records):
            assert np.array_equal(full.rasters[k], r)
            assert np.array_equal(full.totals[k], r.sum(axis=0))
