"""Learning rules as data: Loihi's sum-of-products form, and the STDP / R-STDP rules of Lava 0.10.

A rule updates up to three synaptic variables (weight ``w``, delay ``d`` = Lava's ``tag_2``, tag
``t`` = Lava's ``tag_1``). Each update is a sum of :class:`Product` terms::

    dz = sum_k  m_k * 2**e_k * D_k * F_k1 * F_k2 * ...

with a dependency ``D`` (``x0``: the pre-synaptic neuron spiked in this learning epoch, ``y0``: the
post-synaptic one did, ``u``: every epoch, or every ``2**k``-th with ``u<k>``), a scale mantissa
``m`` in ``-8..7`` and exponent ``e`` in ``-7..8``, and factors: traces ``x1 x2 y1 y2 y3``, the
synaptic variables ``w d t`` (optionally ``sgn(.)``) or the other spike dependency, each with an
optional added constant. This is exactly what Lava's ``ProductSeries`` holds
(``lava/magma/core/learning/product_series.py``); the integer engine (:mod:`.engine`) evaluates it
bit for bit like Lava's ``LearningRuleApplierBitApprox``.

:func:`stdp` and :func:`rstdp` build the rules of ``lava.proc.learning_rules.STDPLoihi`` and
``RewardModulatedSTDP`` from the same arguments, including Lava's conversion of each float
parameter to ``mantissa * 2**exponent`` (:func:`literal`), so the products are identical (a test
checks them against Lava's own parser).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from modspike.errors import PlasticityError

# Widths of Lava's fixed-point learning engine (lava/magma/core/learning/constants.py)
TRACE_BITS = 7  # x1 x2 y1 y2 y3 are 7-bit unsigned: 0..127
TRACE_MAX = (1 << TRACE_BITS) - 1
TRACE_FRACTION_BITS = 8  # fractional part of an impulse, in 1/256
EPOCH_BITS = 6  # within-epoch spike times tx, ty
T_EPOCH_MAX = (1 << EPOCH_BITS) - 1
SCALE_MANTISSA_BITS = 4
ACCUMULATOR_BITS = 15  # unsigned width of the synaptic-change accumulator
SYNVAR_BITS = 8  # unsigned width of w, d, t (signed width 9)
THREE_FACTOR_Y_TAU = 65535  # Loihi3FLearningRule sets every y tau to np.iinfo(np.uint16).max

DEPENDENCIES = ("x0", "y0", "u")
TRACES = ("x1", "x2", "y1", "y2", "y3")
SYNAPTIC_VARIABLES = ("w", "d", "t")
FACTOR_WIDTH = {"x0": 1, "y0": 1, "x1": 7, "x2": 7, "y1": 7, "y2": 7, "y3": 7}
FACTOR_WIDTH.update({"w": 9, "d": 9, "t": 9})
TARGETS = {"dw": "weights", "dd": "tag_2", "dt": "tag_1"}  # rule target -> Lava Var name


@dataclass(frozen=True)
class Factor:
    """One factor of a product: ``var + const`` (or ``sgn(var + const)`` for ``w d t``).

    (Lava's parser folds every literal into the product's scale, so a bare constant factor cannot
    arise from a rule string; it is not offered here.)
    """

    var: str
    const: int | None = None
    sgn: bool = False

    def __post_init__(self):
        if self.var not in FACTOR_WIDTH:
            raise PlasticityError(
                f"unknown learning-rule factor {self.var!r}; use one of {sorted(FACTOR_WIDTH)}"
            )
        if self.sgn and self.var not in SYNAPTIC_VARIABLES:
            raise PlasticityError(f"sgn() applies only to w, d or t, not to {self.var!r}")
        if self.const is not None and not isinstance(self.const, int):
            raise PlasticityError(f"factor constant {self.const!r} must be an integer")

    @property
    def width(self) -> int:
        return FACTOR_WIDTH[self.var]


@dataclass(frozen=True)
class Product:
    """``mantissa * 2**exponent * dependency * factors...`` (one term of a sum of products).

    The scale is kept in Lava's normal form (an even mantissa beyond 7 in magnitude is halved while
    the exponent is below 8): the engine's rounding depends on the form, not only on the value.
    """

    dependency: str
    mantissa: int
    exponent: int
    factors: tuple[Factor, ...] = ()

    def __post_init__(self):
        m, e = self.mantissa, self.exponent
        while abs(m) > 7 and m % 2 == 0 and e < 8:  # Lava's normal form: -8 * 2**e -> -4 * 2**(e+1)
            m, e = m // 2, e + 1
        object.__setattr__(self, "mantissa", m)
        object.__setattr__(self, "exponent", e)
        if self.dependency not in DEPENDENCIES:
            raise PlasticityError(
                f"unknown dependency {self.dependency!r}; use x0, y0 or u (u<k> sets k on the rule)"
            )
        if not -8 <= self.mantissa <= 7:
            raise PlasticityError(
                f"scale mantissa {self.mantissa} is outside -8..7 (4-bit signed): "
                "the learning engine cannot represent this scale"
            )
        if not -7 <= self.exponent <= 8:
            raise PlasticityError(f"scale exponent {self.exponent} is outside -7..8")

    @property
    def width_sum(self) -> int:
        """Bits of the raw product (factor widths plus the 4-bit mantissa)."""
        return sum(f.width for f in self.factors) + SCALE_MANTISSA_BITS

    @property
    def shift(self) -> int:
        """Right shift that brings the raw product back to the 15-bit accumulator."""
        return max(0, self.width_sum - ACCUMULATOR_BITS)

    @property
    def scale(self) -> float:
        """The real factor the engine applies to ``dependency * factors`` (in synaptic units)."""
        return self.mantissa * 2.0 ** (self.exponent - self.shift)


@dataclass(frozen=True)
class Trace:
    """Impulse added on each spike (7.8 fixed point) and decay time constant (0: no memory)."""

    impulse: float = 0.0
    tau: float = 0.0


@dataclass(frozen=True)
class LearningRule:
    """A Loihi learning rule: sums of products for ``dw``, ``dd``, ``dt`` and the trace settings.

    ``three_factor``: the post-synaptic traces ``y1 y2 y3`` are computed by the post-synaptic
    neuron and sent with its spikes (Lava's ``Loihi3FLearningRule``; the reward / dopamine signal
    enters that way), otherwise the connection keeps them (``Loihi2FLearningRule``).
    ``rng_seed`` seeds the stochastic rounding (Lava draws one when it is None; modspike needs it).
    ``params`` records the user-level parameters the rule was built from (for manifests).
    """

    dw: tuple[Product, ...] = ()
    dd: tuple[Product, ...] = ()
    dt: tuple[Product, ...] = ()
    x1: Trace = Trace()
    x2: Trace = Trace()
    y1: Trace = Trace()
    y2: Trace = Trace()
    y3: Trace = Trace()
    t_epoch: int = 1
    rng_seed: int = 0
    three_factor: bool = False
    decimate_exponent: int | None = None
    name: str = "custom"
    params: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self):
        if self.three_factor:  # the neuron sends y1 y2 y3: the connection neither adds nor forgets
            for name in ("y1", "y2", "y3"):
                tr = getattr(self, name)
                if tr == Trace():
                    object.__setattr__(self, name, Trace(0, THREE_FACTOR_Y_TAU))
                elif tr != Trace(0, THREE_FACTOR_Y_TAU):
                    raise PlasticityError(
                        f"a three-factor rule takes {name} from the post neuron: leave its "
                        "impulse and tau unset"
                    )
        if not (self.dw or self.dd or self.dt):
            raise PlasticityError("a learning rule needs at least one of dw, dd, dt")
        for target in TARGETS:
            for p in getattr(self, target):
                if not isinstance(p, Product):
                    raise PlasticityError(f"{target} must be a tuple of Product, got {p!r}")
        for name in TRACES:
            tr = getattr(self, name)
            _check_number(f"{name} impulse", tr.impulse)
            _check_number(f"{name} tau", tr.tau)
            if tr.impulse < 0:
                raise PlasticityError(f"{name} impulse {tr.impulse} must not be negative")
            if tr.impulse > TRACE_MAX:
                raise PlasticityError(
                    f"{name} impulse {tr.impulse} exceeds {TRACE_MAX}: traces are 7-bit"
                )
            if tr.tau < 0:
                raise PlasticityError(f"{name} decay time constant {tr.tau} must not be negative")
        if isinstance(self.t_epoch, bool) or not isinstance(self.t_epoch, int):
            raise PlasticityError(f"t_epoch {self.t_epoch!r} must be an integer")
        if not 1 <= self.t_epoch <= T_EPOCH_MAX:
            raise PlasticityError(
                f"t_epoch {self.t_epoch} must be in 1..{T_EPOCH_MAX} (6-bit spike times)"
            )
        if isinstance(self.rng_seed, bool) or not isinstance(self.rng_seed, int):
            raise PlasticityError(f"rng_seed {self.rng_seed!r} must be an integer")
        if not 0 <= self.rng_seed < 2**31 - 4:
            raise PlasticityError(f"rng_seed {self.rng_seed} must be in 0..2**31-5")
        uses_u = any(p.dependency == "u" for p in self.products())
        if uses_u and self.decimate_exponent is None:
            raise PlasticityError("a rule with a u dependency needs decimate_exponent (u<k>)")
        if self.decimate_exponent is not None and not 0 <= self.decimate_exponent <= 9:
            raise PlasticityError(f"decimate exponent {self.decimate_exponent} must be in 0..9")

    def products(self) -> tuple[Product, ...]:
        return self.dw + self.dd + self.dt

    def active_targets(self) -> dict[str, tuple[Product, ...]]:
        """``{Lava Var name: products}`` for each target with a rule, in Lava's order (w, d, t)."""
        return {var: getattr(self, t) for t, var in TARGETS.items() if getattr(self, t)}

    def traces_used(self) -> set[str]:
        """Traces that appear as factors in some product."""
        return {f.var for p in self.products() for f in p.factors if f.var in TRACES}


def _check_number(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PlasticityError(f"{name} must be a finite number, got {value!r}")


def literal(value: float, name: str = "parameter") -> tuple[int, int]:
    """Lava's ``float_to_literal``: ``value ~ mantissa * 2**exponent`` with ``mantissa`` the integer
    part (at least 1 in magnitude) and ``exponent = round(log2(|value| / |mantissa|))``.

    So 0.3 becomes 2**-2 = 0.25, 1.5 becomes 2 and 3.7 becomes 3 (``lava/magma/core/learning/
    utils.py``); :func:`effective_value` gives the number the engine really uses.
    """
    _check_number(name, value)
    if value == 0:
        return 0, 0
    sign = 1 if value > 0 else -1
    mag = abs(float(value))
    mantissa = max(int(mag), 1)
    remainder = mag / mantissa
    if remainder == 1:
        return sign * mantissa, 0
    return sign * mantissa, int(round(math.log2(remainder)))


def effective_value(value: float) -> float:
    m, e = literal(value)
    return m * 2.0**e


def combine(*literals: tuple[int, int], what: str = "product") -> tuple[int, int]:
    """Multiply literals into one scale and normalise it like Lava's ``ProductSeries``.

    Mantissas multiply and exponents add; an even mantissa beyond 7 in magnitude is halved (and
    the exponent raised) while the exponent stays below 8. Raises :class:`PlasticityError` when
    the result does not fit the engine's 4-bit mantissa / -7..8 exponent.
    """
    mantissa, exponent = 1, 0
    for m, e in literals:
        mantissa *= m
        exponent += e
    while abs(mantissa) > 7 and mantissa % 2 == 0 and exponent < 8:
        mantissa //= 2
        exponent += 1
    if not -8 <= mantissa <= 7:
        raise PlasticityError(
            f"{what}: scale mantissa {mantissa} does not fit 4 bits (-8..7); choose parameters "
            "whose product is m * 2**e with |m| <= 7"
        )
    if not -7 <= exponent <= 8:
        raise PlasticityError(f"{what}: scale exponent {exponent} is outside -7..8")
    return mantissa, exponent


def _sign(value: float) -> tuple[int, int]:
    return (-1 if value < 0 else 1), 0


def stdp(
    *,
    learning_rate: float,
    a_plus: float,
    a_minus: float,
    tau_plus: float,
    tau_minus: float,
    x1_impulse: float = 16,
    y1_impulse: float = 16,
    t_epoch: int = 1,
    rng_seed: int = 0,
) -> LearningRule:
    """Pair-based STDP as Lava's ``STDPLoihi`` (a two-factor rule)::

        dw = lr * A_minus * x0 * y1  +  lr * A_plus * y0 * x1

    ``x1`` (pre trace, ``tau_plus``) and ``y1`` (post trace, ``tau_minus``) rise by their impulse
    on each spike. ``a_minus`` is given with its sign (negative for depression), as in Lava.
    """
    lr, ap, am = (
        literal(v, n)
        for v, n in ((learning_rate, "learning_rate"), (a_plus, "A_plus"), (a_minus, "A_minus"))
    )
    dw = (
        Product("x0", *combine(lr, am, what="lr*A_minus"), (Factor("y1"),)),
        Product("y0", *combine(lr, ap, what="lr*A_plus"), (Factor("x1"),)),
    )
    return LearningRule(
        dw=dw,
        x1=Trace(x1_impulse, tau_plus),
        y1=Trace(y1_impulse, tau_minus),
        t_epoch=t_epoch,
        rng_seed=rng_seed,
        name="stdp",
        params=dict(
            learning_rate=learning_rate, a_plus=a_plus, a_minus=a_minus, tau_plus=tau_plus,
            tau_minus=tau_minus, x1_impulse=x1_impulse, y1_impulse=y1_impulse,
        ),
    )  # fmt: skip


def rstdp(
    *,
    learning_rate: float,
    a_plus: float,
    a_minus: float,
    pre_trace_decay_tau: float,
    post_trace_decay_tau: float,
    pre_trace_kernel_magnitude: float,
    post_trace_kernel_magnitude: float,
    eligibility_trace_decay_tau: float,
    t_epoch: int = 1,
    rng_seed: int = 0,
) -> LearningRule:
    """Reward-modulated STDP as Lava's ``RewardModulatedSTDP`` (Frémaux & Gerstner 2016)::

        dt = lr * A_minus * x0 * y1  +  lr * A_plus * y0 * x1  -  u0 * t * eligibility_trace_decay_tau
        dw = u0 * t * y2

    The tag ``t`` is the eligibility trace; ``y2`` carries the reward (third factor) and ``y1`` the
    post-synaptic trace, both sent by the post-synaptic neuron (a three-factor rule), which uses
    ``post_trace_decay_tau`` / ``post_trace_kernel_magnitude`` (see :mod:`.engine`).

    Note Lava's semantics: ``eligibility_trace_decay_tau`` *multiplies* the tag (0.5 halves it every
    epoch; 1 erases it; 2 flips its sign) — it is a rate, not a time constant.
    """
    lr, ap, am = (
        literal(v, n)
        for v, n in ((learning_rate, "learning_rate"), (a_plus, "A_plus"), (a_minus, "A_minus"))
    )
    tau_e = literal(eligibility_trace_decay_tau, "eligibility_trace_decay_tau")
    _check_number("post_trace_decay_tau", post_trace_decay_tau)
    _check_number("post_trace_kernel_magnitude", post_trace_kernel_magnitude)
    if post_trace_decay_tau < 0 or post_trace_kernel_magnitude < 0:
        raise PlasticityError("post_trace_decay_tau and post_trace_kernel_magnitude must be >= 0")
    dt = (
        Product("x0", *combine(lr, am, what="lr*A_minus"), (Factor("y1"),)),
        Product("y0", *combine(lr, ap, what="lr*A_plus"), (Factor("x1"),)),
        Product("u", *combine((-1, 0), tau_e, what="eligibility decay"), (Factor("t"),)),
    )
    dw = (Product("u", 1, 0, (Factor("t"), Factor("y2"))),)
    y = Trace(0, THREE_FACTOR_Y_TAU)
    return LearningRule(
        dw=dw,
        dt=dt,
        x1=Trace(pre_trace_kernel_magnitude, pre_trace_decay_tau),
        y1=y,
        y2=y,
        y3=y,
        t_epoch=t_epoch,
        rng_seed=rng_seed,
        three_factor=True,
        decimate_exponent=0,
        name="rstdp",
        params=dict(
            learning_rate=learning_rate, a_plus=a_plus, a_minus=a_minus,
            pre_trace_decay_tau=pre_trace_decay_tau, post_trace_decay_tau=post_trace_decay_tau,
            pre_trace_kernel_magnitude=pre_trace_kernel_magnitude,
            post_trace_kernel_magnitude=post_trace_kernel_magnitude,
            eligibility_trace_decay_tau=eligibility_trace_decay_tau,
        ),
    )  # fmt: skip


RULES = {"stdp": stdp, "rstdp": rstdp}


def build_rule(name: str, **params) -> LearningRule:
    """A named rule (``stdp`` / ``rstdp``) from keyword parameters; unknown names or keywords are
    one-line :class:`PlasticityError` s (for the CLI and the network description)."""
    if name not in RULES:
        raise PlasticityError(f"unknown learning rule {name!r}; known: {', '.join(RULES)}")
    try:
        return RULES[name](**params)
    except TypeError as exc:
        raise PlasticityError(f"learning rule {name}: {exc}") from None
