"""The integer learning engine equals Lava 0.10's fixed-point ``LearningDense`` bit for bit.

One Lava runtime runs seven random closed loops (spike source -> LearningDense -> LIF, the LIF's
spikes back as the post-synaptic input of the learning rule) for 1000 steps: STDP with three seeds,
learning epochs 1-3, mixed / excitatory / inhibitory weights, weight exponents and weight bit widths;
R-STDP with three seeds, a rectangular reward schedule with negative rewards, epochs 1-3; and a
custom rule using a delay target, ``sgn(w)``, constants and a decimated ``u`` dependency. Every
learning-engine variable, the synaptic output and the post spikes are compared at every step.
"""

from __future__ import annotations

import numpy as np
import pytest

from modspike.plasticity.engine import EngineParams, post_trace_decay
from modspike.plasticity.rules import Factor, LearningRule, Product, Trace, rstdp, stdp
from modspike.plasticity.sim import LIFConfig, PlasticNet, PostTrace, simulate

pytestmark = [pytest.mark.lava, pytest.mark.slow]

STEPS = 1000
COMPARED = ("weights", "tag_1", "tag_2", "x1", "x2", "y1", "y2", "y3", "a_buff", "post")


def _stdp_net(seed: int, t_epoch: int, sign_mode: str, weight_exp: int, bits: int) -> PlasticNet:
    rng = np.random.default_rng(seed)
    n_pre, n_post = 6, 3
    lo, hi = {"mixed": (-120, 120), "excitatory": (0, 200), "inhibitory": (-60, 0)}[sign_mode]
    rule = stdp(
        learning_rate=1, a_plus=2, a_minus=-1, tau_plus=8, tau_minus=12,
        x1_impulse=16, y1_impulse=20, t_epoch=t_epoch, rng_seed=seed,
    )  # fmt: skip
    params = EngineParams(rule, sign_mode=sign_mode, weight_exp=weight_exp, num_weight_bits=bits)
    # inhibited neurons need a drive of their own: bias (2000..4000) << 2
    bias, bias_exp = ((2000, 4000), 2) if sign_mode == "inhibitory" else ((0, 250), 0)
    return PlasticNet(
        name=f"stdp{seed}",
        pre_spikes=(rng.random((n_pre, STEPS)) < 0.15).astype(np.int64),
        weights=rng.integers(lo, hi + 1, (n_post, n_pre)),
        params=params,
        lif=LIFConfig(
            du=4095, dv=600, vth=150, bias_mant=rng.integers(*bias, n_post), bias_exp=bias_exp
        ),
    )


def _rstdp_net(seed: int, t_epoch: int) -> PlasticNet:
    rng = np.random.default_rng(seed)
    n_pre, n_post = 5, 3
    rule = rstdp(
        learning_rate=1, a_plus=2, a_minus=-2, pre_trace_decay_tau=10, post_trace_decay_tau=10,
        pre_trace_kernel_magnitude=16, post_trace_kernel_magnitude=16,
        eligibility_trace_decay_tau=0.5, t_epoch=t_epoch, rng_seed=seed,
    )  # fmt: skip
    reward = np.zeros((n_post, STEPS), dtype=np.int64)
    for start in range(0, STEPS, 100):  # episodes of 30 steps, some punished
        reward[:, start + 40 : start + 70] = rng.integers(-12, 40, (n_post, 1))
    return PlasticNet(
        name=f"rstdp{seed}",
        pre_spikes=(rng.random((n_pre, STEPS)) < 0.2).astype(np.int64),
        weights=rng.integers(-100, 150, (n_post, n_pre)),
        params=EngineParams(rule),
        lif=LIFConfig(du=3000, dv=600, vth=120, bias_mant=rng.integers(0, 250, n_post)),
        reward=reward,
        post_trace=PostTrace(impulse=16, decay=post_trace_decay(10)),
    )


def _custom_net(seed: int) -> PlasticNet:
    """Delay target, sgn(w), factor constants, a dependency as factor, u1 (every other epoch)."""
    rng = np.random.default_rng(seed)
    n_pre, n_post = 4, 3
    rule = LearningRule(
        dw=(
            Product("x0", -3, -1, (Factor("y1", const=-2),)),
            Product("y0", 5, -2, (Factor("x1"), Factor("x2", const=3))),
            Product("u", -1, 0, (Factor("w", sgn=True),)),
            Product("y0", 1, 1, (Factor("x0"),)),
        ),
        dd=(Product("x0", 1, -3, (Factor("y2"),)), Product("u", -1, -2, (Factor("d", const=-3),))),
        x1=Trace(20, 6),
        x2=Trace(9.5, 25),
        y1=Trace(12.25, 10),
        y2=Trace(30, 0),
        t_epoch=2,
        rng_seed=seed,
        decimate_exponent=1,
    )
    return PlasticNet(
        name=f"custom{seed}",
        pre_spikes=(rng.random((n_pre, STEPS)) < 0.25).astype(np.int64),
        weights=rng.integers(-200, 200, (n_post, n_pre)),
        params=EngineParams(rule),
        lif=LIFConfig(du=4095, dv=300, vth=100, bias_mant=rng.integers(50, 300, n_post)),
    )


NETS = [
    _stdp_net(11, t_epoch=1, sign_mode="mixed", weight_exp=0, bits=8),
    _stdp_net(12, t_epoch=2, sign_mode="excitatory", weight_exp=-1, bits=7),
    _stdp_net(13, t_epoch=3, sign_mode="inhibitory", weight_exp=1, bits=8),
    _rstdp_net(21, t_epoch=1),
    _rstdp_net(22, t_epoch=2),
    _rstdp_net(23, t_epoch=3),
    _custom_net(31),
]


@pytest.fixture(scope="module")
def lava_records():
    from modspike.hw.lava.plasticity import run_lava

    return run_lava(NETS, STEPS, monitor_weights=True)


@pytest.fixture(scope="module")
def sim_records():
    return [simulate(net, STEPS) for net in NETS]


@pytest.mark.parametrize("i", range(len(NETS)), ids=[n.name for n in NETS])
def test_engine_equals_lava_every_step(i, lava_records, sim_records):
    lava, sim = lava_records[i], sim_records[i]
    for key in COMPARED:
        assert lava[key].shape == sim[key].shape, key
        diff = np.nonzero((lava[key] != sim[key]).reshape(STEPS, -1).any(axis=1))[0]
        assert diff.size == 0, f"{NETS[i].name}: {key} differs first at step {diff[:1] + 1}"
    # Lava received the inputs we meant, and learned (weights moved, neurons fired)
    np.testing.assert_array_equal(lava["pre"].T, NETS[i].pre_spikes)
    np.testing.assert_array_equal(lava["bap"], lava["post"])
    assert lava["post"].sum() > 20
    assert np.abs(np.diff(lava["weights"], axis=0)).sum() > 100


def test_weights_saturate_in_each_rule_family(lava_records):
    """Saturation is reached (the clip to the sign mode's 8-bit range is exercised)."""
    bounds = {"mixed": (-256, 255), "excitatory": (0, 255), "inhibitory": (-255, 0)}
    hit = {}
    for net, rec in zip(NETS, lava_records):
        lo, hi = bounds[net.params.sign_mode]
        w = rec["weights"]
        hit[net.name] = bool((w == lo).any() or (w == hi).any())
    assert any(hit[n] for n in ("stdp11", "stdp12", "stdp13")), hit
    assert any(hit[n] for n in ("rstdp21", "rstdp22", "rstdp23")), hit
    assert hit["custom31"], hit


def test_recorder_matches_lava_monitor(lava_records):
    """The recording LearningDense reports what Lava's own Monitor reads."""
    rec = lava_records[0]
    np.testing.assert_array_equal(rec["monitor_weights"], rec["weights"])
