"""Learning rules and the engine's arithmetic against Lava's own classes (no Lava runtime needed):
rule parsing, random streams, the product evaluation (int32 wrap included), trace impulses and
decays; invalid parameters; update counters and their energy price."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from modspike.errors import EnergyProfileError, PlasticityError
from modspike.plasticity.counters import count_updates, total_counts
from modspike.plasticity.engine import (
    EngineParams,
    add_impulse,
    decay_trace,
    evaluate_products,
    initial_state,
    is_learning_step,
    learning_phase,
    random_streams,
    spike_phase,
)
from modspike.plasticity.rules import (
    Factor,
    LearningRule,
    Product,
    Trace,
    build_rule,
    effective_value,
    literal,
    rstdp,
    stdp,
)


@pytest.fixture(scope="module")
def lava():
    from modspike.hw.lava.support import import_lava

    return import_lava()


def _same_rule(a: LearningRule, b: LearningRule) -> bool:
    return dataclasses.replace(a, name="x") == dataclasses.replace(b, name="x")


STDP_GRID = list(
    itertools.product([1, 0.5, 2, 0.3, 1.5, 3, 0.001], [1, 2, 4, 3.7], [-1, -2, -3, -0.25])
)


@pytest.mark.parametrize("lr,a_plus,a_minus", STDP_GRID)
def test_stdp_equals_lava_stdploihi(lava, lr, a_plus, a_minus):
    from lava.proc.learning_rules.stdp_learning_rule import STDPLoihi

    from modspike.hw.lava.plasticity import rule_from_lava

    kw = dict(learning_rate=lr, A_plus=a_plus, A_minus=a_minus, tau_plus=10, tau_minus=7)
    try:
        theirs = STDPLoihi(**kw, t_epoch=2, rng_seed=5)
    except ValueError:  # Lava refuses the scale: so must modspike, with a typed one-liner
        with pytest.raises(PlasticityError):
            stdp(learning_rate=lr, a_plus=a_plus, a_minus=a_minus, tau_plus=10, tau_minus=7)
        return
    ours = stdp(
        learning_rate=lr, a_plus=a_plus, a_minus=a_minus, tau_plus=10, tau_minus=7,
        t_epoch=2, rng_seed=5,
    )  # fmt: skip
    assert _same_rule(rule_from_lava(theirs), ours)


@pytest.mark.parametrize("lr,a_plus,a_minus", STDP_GRID[::3])
@pytest.mark.parametrize("tau_e", [0.5, 0.25, 2.4, 1, 3])
def test_rstdp_equals_lava_reward_modulated_stdp(lava, lr, a_plus, a_minus, tau_e):
    from lava.proc.learning_rules.r_stdp_learning_rule import RewardModulatedSTDP

    from modspike.hw.lava.plasticity import rule_from_lava

    kw = dict(
        pre_trace_decay_tau=10, post_trace_decay_tau=12, pre_trace_kernel_magnitude=16,
        post_trace_kernel_magnitude=20, eligibility_trace_decay_tau=tau_e, t_epoch=1, rng_seed=3,
    )  # fmt: skip
    try:
        theirs = RewardModulatedSTDP(learning_rate=lr, A_plus=a_plus, A_minus=a_minus, **kw)
    except ValueError:
        with pytest.raises(PlasticityError):
            rstdp(learning_rate=lr, a_plus=a_plus, a_minus=a_minus, **kw)
        return
    ours = rstdp(learning_rate=lr, a_plus=a_plus, a_minus=a_minus, **kw)
    assert ours.three_factor
    assert _same_rule(rule_from_lava(theirs), ours)


def test_literal_is_lavas_float_to_literal(lava):
    from lava.magma.core.learning.utils import float_to_literal

    for v in [1, 0.5, 0.3, 1.5, 3.7, -2, -0.25, 0.001, 7, 10, 0]:
        text = float_to_literal(v)
        if text == "0":
            expected = (0, 0)
        elif "^" in text:
            m, e = text.split(" * 2 ^ ")
            expected = (int(m.strip("()")), int(e))
        else:
            expected = (int(text.strip("()")), 0)
        assert literal(v) == expected
        assert effective_value(v) == expected[0] * 2.0 ** expected[1]
    assert effective_value(0.3) == 0.25 and effective_value(1.5) == 2.0


CUSTOM = LearningRule(
    dw=(
        Product("x0", -3, -1, (Factor("y1", const=-2),)),
        Product("y0", 5, -2, (Factor("x1"), Factor("x2", const=3))),
        Product("u", -1, 0, (Factor("w", sgn=True),)),
        Product("y0", 1, 1, (Factor("x0"),)),
    ),
    dd=(Product("x0", 1, -3, (Factor("y2"),)), Product("u", -1, -2, (Factor("d", const=-3),))),
    dt=(Product("u", 7, 8, (Factor("t", const=4), Factor("y3"), Factor("w"))),),
    x1=Trace(20, 6),
    x2=Trace(9.5, 25),
    y1=Trace(12.25, 10),
    t_epoch=3,
    rng_seed=9,
    decimate_exponent=2,
)


def test_rule_strings_round_trip_through_lavas_parser(lava):
    from modspike.hw.lava.plasticity import lava_learning_rule, rule_from_lava

    for rule in (CUSTOM, stdp(learning_rate=0.5, a_plus=2, a_minus=-3, tau_plus=5, tau_minus=5)):
        assert _same_rule(rule_from_lava(lava_learning_rule(rule)), rule)
    r = rstdp(
        learning_rate=1, a_plus=1, a_minus=-1, pre_trace_decay_tau=10, post_trace_decay_tau=10,
        pre_trace_kernel_magnitude=16, post_trace_kernel_magnitude=16,
        eligibility_trace_decay_tau=0.5,
    )  # fmt: skip
    assert _same_rule(rule_from_lava(lava_learning_rule(r)), r)


def test_random_streams_are_lavas_generators(lava):
    from lava.magma.core.learning.random import ConnVarRandom, TraceRandom

    rule = dataclasses.replace(CUSTOM, rng_seed=123)
    s = random_streams(rule, 300)
    x, y, c = TraceRandom(123, 124), TraceRandom(125, 126), ConnVarRandom()
    for k in range(2 * 300 + 1):
        assert s.x_decay[k] == x.random_trace_decay and s.x_impulse[k] == x.random_impulse_addition
        assert s.y_decay[k] == y.random_trace_decay and s.y_impulse[k] == y.random_impulse_addition
        x.advance()
        y.advance()
    for m in range(300 // rule.t_epoch + 1):
        assert s.conn[m] == c.random_stochastic_round
        c.advance()


def _random_products(rng, n: int) -> tuple[Product, ...]:
    out = []
    for _ in range(n):
        dep = str(rng.choice(["x0", "y0", "u"]))
        factors = []
        for _ in range(rng.integers(0, 5)):
            var = str(rng.choice(["x0", "y0", "x1", "x2", "y1", "y2", "y3", "w", "d", "t"]))
            sgn = var in ("w", "d", "t") and bool(rng.random() < 0.3)
            const = None if rng.random() < 0.5 else int(rng.integers(-40, 40))
            factors.append(Factor(var, const, sgn))
        out.append(Product(dep, int(rng.integers(-8, 8)), int(rng.integers(-7, 9)), tuple(factors)))
    return tuple(out)


def _applier_case(rng, products: tuple[Product, ...], u: int | None = None):
    """Lava's and modspike's evaluation of ``products`` on one random state."""
    from lava.magma.core.learning.learning_rule_applier import LearningRuleApplierBitApprox

    from modspike.hw.lava.plasticity import lava_learning_rule

    rule = LearningRule(dw=products, decimate_exponent=0)
    theirs = LearningRuleApplierBitApprox(lava_learning_rule(rule).dw)
    n_post, n_pre = 4, 5
    w = rng.integers(-256, 256, (n_post, n_pre)).astype(np.int32)
    d = rng.integers(0, 256, (n_post, n_pre))
    t = rng.integers(-257, 256, (n_post, n_pre))
    args = {
        "shape": (n_post, n_pre),
        "x0": rng.random((1, n_pre)) < 0.5,
        "y0": rng.random((n_post, 1)) < 0.5,
        "u": int(rng.integers(0, 2)) if u is None else u,
        "weights": w,
        "tag_2": d,
        "tag_1": t,
    }
    shapes = {"x0": (1, n_pre), "y0": (n_post, n_pre), "u": (1, n_pre)}
    for tr in ("x1", "x2"):
        for dep, shape in shapes.items():
            args[f"{tr}_{dep}"] = rng.integers(0, 128, shape)
    shapes = {"x0": (n_post, n_pre), "y0": (n_post, 1), "u": (n_post, 1)}
    for tr in ("y1", "y2", "y3"):
        for dep, shape in shapes.items():
            args[f"{tr}_{dep}"] = rng.integers(-60, 128, shape)
    acc = w << 7
    expected = theirs.apply(acc.copy(), **args)
    ours_args = {k: v for k, v in args.items() if k not in ("weights", "tag_2", "tag_1")}
    ours_args.update(
        w=w.astype(np.int64), d=d, t=t,
        x0=args["x0"].astype(np.int64), y0=args["y0"].astype(np.int64),
    )  # fmt: skip
    return evaluate_products(products, acc.astype(np.int64), ours_args), expected


def test_product_evaluation_equals_lava_bitapprox(lava):
    """300 random rules on random states against Lava's applier (scale normal form, constants,
    sgn, dependencies as factors, saturation)."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        got, expected = _applier_case(rng, _random_products(rng, 6))
        np.testing.assert_array_equal(got, expected)


def test_product_evaluation_wraps_like_lavas_int32(lava, monkeypatch):
    """A product beyond 2**31 wraps around in Lava's int32 arithmetic, and in the engine (without
    the wrap the result would differ)."""
    from modspike.plasticity import engine

    big = (Product("u", 7, 8, (Factor("w"), Factor("w"), Factor("t"), Factor("x1"))),)
    got, expected = _applier_case(np.random.default_rng(1), big, u=1)
    np.testing.assert_array_equal(got, expected)
    monkeypatch.setattr(engine, "_wrap32", lambda x: np.asarray(x, dtype=np.int64))
    unwrapped, _ = _applier_case(np.random.default_rng(1), big, u=1)
    assert not np.array_equal(unwrapped, expected)


def test_trace_decay_and_impulse_equal_lava(lava):
    from lava.magma.core.model.py.connection import LearningConnectionModelBitApproximate as M

    rng = np.random.default_rng(0)
    for _ in range(200):
        vals = rng.integers(-40, 128, 9)
        tau = float(rng.choice([1, 3.5, 10, 65535]))
        r = float(rng.random())
        np.testing.assert_array_equal(
            decay_trace(vals, tau, r), M._decay_trace(vals[None], 1, np.array([[tau]]), r)[0]
        )
        imp = float(rng.choice([0, 16, 9.5, 12.25, 0.75, 127]))
        ri = int(rng.integers(0, 128))
        i_int, i_frac = M._decompose_impulses(np.array([imp]))
        np.testing.assert_array_equal(
            add_impulse(vals, ri, imp), M._add_impulse(vals, ri, i_int[0], i_frac[0])
        )


def test_lava_float_model_does_not_shift_wide_products(lava):
    """Pitfall (docs/plasticity.md): Lava's floating_pt R-STDP weight change is 32 times the
    fixed_pt one, because only the fixed-point applier shifts ``t * y2`` right by 5."""
    from lava.magma.core.learning.learning_rule_applier import (
        LearningRuleApplierBitApprox,
        LearningRuleApplierFloat,
    )
    from lava.proc.learning_rules.r_stdp_learning_rule import RewardModulatedSTDP

    rule = RewardModulatedSTDP(
        learning_rate=1, A_plus=1, A_minus=-1, pre_trace_decay_tau=10, post_trace_decay_tau=10,
        pre_trace_kernel_magnitude=16, post_trace_kernel_magnitude=16,
        eligibility_trace_decay_tau=0.5, rng_seed=0,
    )  # fmt: skip
    t = np.array([[64, -96, 32]])
    y2 = np.array([[64]])
    fixed = LearningRuleApplierBitApprox(rule.dw).apply(
        np.zeros((1, 3), np.int32), shape=(1, 3), u=1, tag_1=t, y2_u=y2
    )
    flt = LearningRuleApplierFloat(rule.dw).apply(np.zeros((1, 3)), u=1, tag_1=t, y2_u=y2, np=np)
    np.testing.assert_array_equal(flt / (fixed / 128), np.full((1, 3), 32.0))


BAD_RULES = [
    (stdp, dict(learning_rate=3, a_plus=3, a_minus=-1, tau_plus=10, tau_minus=10)),  # mantissa 9
    (stdp, dict(learning_rate=0.001, a_plus=1, a_minus=-1, tau_plus=10, tau_minus=10)),  # 2**-10
    (stdp, dict(learning_rate=1, a_plus=1, a_minus=-1, tau_plus=-1, tau_minus=10)),
    (stdp, dict(learning_rate=1, a_plus=1, a_minus=-1, tau_plus=10, tau_minus=10, x1_impulse=-1)),
    (stdp, dict(learning_rate=1, a_plus=1, a_minus=-1, tau_plus=10, tau_minus=10, y1_impulse=200)),
    (stdp, dict(learning_rate=1, a_plus=1, a_minus=-1, tau_plus=10, tau_minus=10, t_epoch=0)),
    (stdp, dict(learning_rate=1, a_plus=1, a_minus=-1, tau_plus=10, tau_minus=10, t_epoch=64)),
    (stdp, dict(learning_rate=1, a_plus=1, a_minus=-1, tau_plus=10, tau_minus=10, t_epoch=1.5)),
    (stdp, dict(learning_rate=1, a_plus=1, a_minus=-1, tau_plus=10, tau_minus=10, rng_seed=-3)),
    (stdp, dict(learning_rate=float("nan"), a_plus=1, a_minus=-1, tau_plus=10, tau_minus=10)),
    (stdp, dict(learning_rate=1, a_plus="1", a_minus=-1, tau_plus=10, tau_minus=10)),
    (
        rstdp,
        dict(
            learning_rate=1,
            a_plus=1,
            a_minus=-1,
            pre_trace_decay_tau=10,
            post_trace_decay_tau=10,
            pre_trace_kernel_magnitude=16,
            post_trace_kernel_magnitude=16,
            eligibility_trace_decay_tau=9,
        ),
    ),  # fmt: skip
]


@pytest.mark.parametrize("fn,kw", BAD_RULES)
def test_invalid_rule_parameters_are_one_line_errors(fn, kw):
    with pytest.raises(PlasticityError) as exc:
        fn(**kw)
    assert "\n" not in str(exc.value) and str(exc.value)


def test_invalid_connections_and_rule_names_are_one_line_errors():
    rule = stdp(learning_rate=1, a_plus=1, a_minus=-1, tau_plus=10, tau_minus=10)
    cases = [
        lambda: EngineParams(rule, sign_mode="both"),
        lambda: EngineParams(rule, weight_exp=20),
        lambda: EngineParams(rule, num_weight_bits=9),
        lambda: EngineParams("stdp"),
        lambda: initial_state(np.full((2, 3), 300), EngineParams(rule)),
        lambda: initial_state(np.full((2, 3), 5), EngineParams(rule, sign_mode="inhibitory")),
        lambda: initial_state(np.full((2, 3), 0.5), EngineParams(rule)),
        lambda: initial_state(np.zeros(3), EngineParams(rule)),
        lambda: build_rule("hebb"),
        lambda: build_rule("stdp", learning_rate=1),
        lambda: LearningRule(),
        lambda: LearningRule(dw=(Product("z0", 1, 0),)),
        lambda: LearningRule(dw=(Product("u", 1, 0, (Factor("t"),)),)),  # u needs u<k>
        lambda: Product("x0", 9, 0),
        lambda: Factor("x1", sgn=True),
        lambda: Factor("q"),
        lambda: LearningRule(dw=(Product("x0", 1, 0),), three_factor=True, y1=Trace(16, 10)),
    ]
    for case in cases:
        with pytest.raises(PlasticityError) as exc:
            case()
        assert "\n" not in str(exc.value)
    three = rstdp(
        learning_rate=1, a_plus=1, a_minus=-1, pre_trace_decay_tau=10, post_trace_decay_tau=10,
        pre_trace_kernel_magnitude=16, post_trace_kernel_magnitude=16,
        eligibility_trace_decay_tau=0.5,
    )  # fmt: skip
    params = EngineParams(three)
    state = initial_state(np.zeros((2, 3), int), params)
    with pytest.raises(PlasticityError, match="y1, y2, y3"):
        spike_phase(state, params, random_streams(three, 5), np.ones(3), np.ones(2))


def test_initial_weights_are_truncated_like_lava():
    rule = stdp(learning_rate=1, a_plus=1, a_minus=-1, tau_plus=10, tau_minus=10)
    w = np.array([[-3, -2, 5, 255]])
    np.testing.assert_array_equal(initial_state(w, EngineParams(rule)).weights, [[-4, -2, 4, 254]])
    ex = EngineParams(rule, sign_mode="excitatory", num_weight_bits=6)
    np.testing.assert_array_equal(initial_state(abs(w), ex).weights, [[0, 0, 4, 252]])
    inh = EngineParams(rule, sign_mode="inhibitory", num_weight_bits=7)
    np.testing.assert_array_equal(initial_state(-abs(w), inh).weights, [[-2, -2, -4, -254]])


def _run_counted(rule: LearningRule, steps: int, seed: int):
    rng = np.random.default_rng(seed)
    params = EngineParams(rule)
    n_post, n_pre = 4, 6
    state = initial_state(rng.integers(-100, 100, (n_post, n_pre)), params)
    streams = random_streams(rule, steps)
    out = []
    for _ in range(steps):
        pre = rng.random(n_pre) < 0.2
        post = rng.random(n_post) < 0.2
        y = None
        if rule.three_factor:
            y = (rng.integers(0, 128, n_post), rng.integers(-20, 60, n_post), np.zeros(n_post))
        before = state.weights
        state = spike_phase(state, params, streams, pre, post, y)
        c = count_updates(state, params, pre, post)
        tx, ty = state.tx.copy(), state.ty.copy()
        if is_learning_step(state, params):
            state = learning_phase(state, params, streams)
        out.append((c, pre, post, tx, ty, before, state.weights))
    return out


def test_counters_count_the_visited_synapses():
    rule = stdp(learning_rate=1, a_plus=1, a_minus=-1, tau_plus=10, tau_minus=10, t_epoch=3)
    steps = _run_counted(rule, 300, 0)
    for c, pre, post, tx, ty, before, after in steps:
        n_post, n_pre = before.shape
        assert c.trace_updates == n_pre + n_post  # x1 and y1, once per neuron per step
        assert c.trace_impulses == pre.sum() + post.sum()
        if not c.learning:
            assert c.synapse_updates == 0 and np.array_equal(before, after)
            continue
        a, b = (tx > 0).sum(), (ty > 0).sum()  # pre / post neurons that spiked in the epoch
        assert c.synapse_updates == n_post * n_pre - (n_post - b) * (n_pre - a)
        assert c.variable_updates == c.synapse_updates  # one target (w)
        changed = before != after
        visited = (tx > 0)[None, :] | (ty > 0)[:, None]
        assert not (changed & ~visited).any()  # a weight changes only where the engine visits
    totals = total_counts([s[0] for s in steps])
    assert totals["learning"] == 100 and totals["synapse_updates"] > 0


def test_counters_of_a_u_rule_visit_every_synapse():
    rule = rstdp(
        learning_rate=1, a_plus=1, a_minus=-1, pre_trace_decay_tau=10, post_trace_decay_tau=10,
        pre_trace_kernel_magnitude=16, post_trace_kernel_magnitude=16,
        eligibility_trace_decay_tau=0.5,
    )  # fmt: skip
    for c, *_rest, before, _after in _run_counted(rule, 50, 1):
        assert c.learning and c.synapse_updates == before.size
        assert c.variable_updates == 2 * before.size  # w and t
        assert c.trace_updates == before.shape[1] + 2 * before.shape[0]  # x1; y1, y2 (neuron)


def test_learning_energy_prices_synaptic_updates(tmp_path):
    from modspike.runtime.energy import load_profile
    from modspike.runtime.learning_energy import learning_energy

    rule = stdp(learning_rate=1, a_plus=1, a_minus=-1, tau_plus=10, tau_minus=10)
    totals = total_counts([s[0] for s in _run_counted(rule, 100, 2)])
    e = learning_energy(totals, "loihi")
    assert load_profile("loihi")["cost"]["synaptic_update"] == 120.0
    assert e["total"] == pytest.approx(120.0 * totals["synapse_updates"])
    assert not e["traces_priced"] and "Table 2" in e["citation"]
    bad = tmp_path / "p.toml"
    bad.write_text('name = "x"\n[cost]\nsynop = 1.0\n')
    with pytest.raises(EnergyProfileError, match="synaptic_update"):
        learning_energy(totals, bad)


def test_negative_third_factor_pitfall():
    """Lava's three-factor y traces go through the epoch history (tau 65535: values almost always
    kept, unbiased), and a post spike in a history step clips them to 0..127: a negative third
    factor is erased for the neuron that spiked in that step (docs/plasticity.md, pitfalls)."""
    y = np.array([-8, 8, -1, 100])
    np.testing.assert_array_equal(decay_trace(y, 65535, 0.5), y)
    np.testing.assert_array_equal(add_impulse(np.array([-8, 8]), 64, 0), [0, 8])
