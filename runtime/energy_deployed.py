"""Tier (iii), deployed mode (the headline): the SNN and the ANN at their deployed bit widths, on
one technology (``profiles/horowitz45.toml``), memory priced by buffer size, readout and input
encoding in the same technology, each as a low / central / high band.

Every formula is in docs/energy-model.md, "Deployed mode"; the part names here are the rows of
its tables. Nothing in this module divides an SNN energy by an ANN energy: use
:func:`modspike.runtime.energy_result.energy_ratio` on two results of the same band.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from modspike.errors import ConfigError

from .energy_facts import (
    GRADED_SYNAPTIC_EVENTS,
    INPUT_EVENTS,
    NEURON_UPDATES,
    RECURRENT_INPUT_EVENTS,
    SPIKES,
    SYNAPTIC_EVENTS,
    AnnLayerFacts,
    LayerFacts,
    ReadoutFacts,
    check_encoding,
    count,
    time_sum_bits,
)
from .energy_result import TierEnergy
from .energy_tech import BAND_NAMES, Band, Technology, technology


class _Terms:
    """Sum of ``count * unit energy`` terms, grouped by part, remembering what prices each part
    (the unit energy of its largest term)."""

    def __init__(self):
        self.parts: dict[str, float] = {}
        self.prices: dict[str, str] = {}
        self._largest: dict[str, float] = {}

    def add(self, part: str, n: float, unit_pj: float, price: str) -> None:
        e = float(n) * float(unit_pj)
        self.parts[part] = self.parts.get(part, 0.0) + e
        if part not in self.prices or e > self._largest[part]:
            self.prices[part] = price
            self._largest[part] = e

    def total(self) -> float:
        return float(sum(self.parts.values()))


def _bit_price(t: Technology, size: float, band: Band) -> tuple[float, str]:
    e = t.e_bit(size, band)
    if size < band.floor_bytes:
        return e, f"E_bit({band.floor_bytes:g} B, the floor; buffer {size:g} B) = {e:.6g} pJ/bit"
    return e, f"E_bit({size:g} B) = {e:.6g} pJ/bit"


def _result(side: str, terms: _Terms, t: Technology, band: Band, label: str, notes=()):
    return TierEnergy(
        tier="deployed",
        side=side,
        constant_set=f"{t.name}/{band.name}",
        total_pj=terms.total(),
        parts_pj=dict(terms.parts),
        prices=dict(terms.prices),
        scope="core",
        node_nm=t.node_nm,
        status="estimated",
        evidence="secondary",
        label=label,
        notes=tuple(notes),
    )


# ------------------------------------------------------------------------------------ ANN


def _ann_layer(
    terms: _Terms,
    ly: AnnLayerFacts,
    t: Technology,
    band: Band,
    nonzero_inputs: float | None,
    part_prefix: str = "",
) -> None:
    """One ANN layer: weights and bias read from an ``S_w``-byte buffer, MACs, activations read
    and written, and per output the 32-bit bias add, the requantising multiply and the ReLU or
    argmax; with ``nonzero_inputs`` (zero-skip) weights and MACs scale by ``nz / n_in`` and each
    input pays a zero test."""
    b_a, b_w = ly.act_bits, ly.weight_bits
    bias_bits = t.ann_bias_bits if ly.bias else 0
    s_w = (ly.stored_weights * b_w + ly.n_out * bias_bits) / 8
    f = 1.0
    if nonzero_inputs is not None:
        if not 0 <= nonzero_inputs <= ly.n_in:
            raise ConfigError(f"{nonzero_inputs} non-zero inputs of a layer with {ly.n_in} inputs")
        f = nonzero_inputs / ly.n_in
    e_w, price_w = _bit_price(t, s_w, band)
    terms.add(part_prefix + "weight_reads", ly.stored_weights * b_w * f, e_w, price_w)
    if ly.bias:
        terms.add(part_prefix + "bias_reads", ly.n_out * bias_bits, e_w, price_w)
    e_mac = t.e_mul(b_w, b_a) + t.e_add(t.ann_acc_bits)
    terms.add(
        part_prefix + "macs",
        ly.dense_macs * f,
        e_mac,
        f"E_mul({b_w},{b_a}) + E_add({t.ann_acc_bits}) = {e_mac:.6g} pJ",
    )
    act_bytes = (ly.n_in + ly.n_out) * b_a / 8
    e_a, price_a = _bit_price(t, act_bytes, band)
    terms.add(part_prefix + "activations", (ly.n_in + ly.n_out) * b_a, e_a, price_a)
    e_post = t.e_add(t.ann_acc_bits) + t.e_mul(t.ann_acc_bits, t.requantise_bits) + t.e_add(b_a)
    terms.add(
        part_prefix + "post",
        ly.n_out,
        e_post,
        f"E_add({t.ann_acc_bits}) + E_mul({t.ann_acc_bits},{t.requantise_bits}) + E_add({b_a})"
        f" = {e_post:.6g} pJ",
    )
    if nonzero_inputs is not None:
        e_z = t.e_add(b_a)
        terms.add(part_prefix + "zero_tests", ly.n_in, e_z, f"E_add({b_a}) = {e_z:.6g} pJ")


def deployed_ann(
    layers: Sequence[AnnLayerFacts],
    *,
    nonzero_inputs: Sequence[float] | None = None,
    band: str = "central",
    profile: str | Technology | None = None,
) -> TierEnergy:
    """Deployed-mode energy of an ANN per inference (pJ).

    ``layers``: the ANN's layers in order. ``nonzero_inputs``: per layer, the mean number of
    non-zero input activations (``nz(x_l)``); given, the ANN skips zero inputs (zero-skip
    variant), else every MAC of the shapes is done (dense). The low-bit ANN is the same call with
    ``act_bits = ceil(log2(T + 1))`` on every layer."""
    if not layers:
        raise ConfigError("an ANN needs at least one layer")
    if nonzero_inputs is not None and len(nonzero_inputs) != len(layers):
        raise ConfigError(
            f"{len(nonzero_inputs)} non-zero input counts for {len(layers)} ANN layers"
        )
    t = technology(profile)
    b = t.band(band)
    terms = _Terms()
    for k, ly in enumerate(layers):
        _ann_layer(terms, ly, t, b, None if nonzero_inputs is None else float(nonzero_inputs[k]))
    variant = "dense" if nonzero_inputs is None else "zero-skip"
    bits = sorted({ly.act_bits for ly in layers})
    label = f"ANN {variant}, {'/'.join(map(str, bits))}-bit activations"
    return _result("ann", terms, t, b, label)


# ------------------------------------------------------------------------------------ SNN


def _encoding(terms: _Terms, encoding: str, steps: int, n_in: int, t: Technology, band: Band):
    b_in = t.input_bits
    e_px, _ = _bit_price(t, n_in * b_in / 8, band)
    if encoding == "rate":
        e = b_in * e_px + t.e_add(t.rng_bits) + t.e_add(b_in)
        terms.add(
            "encoding",
            steps * n_in,
            e,
            f"{b_in} E_bit({n_in * b_in / 8:g} B) + E_add({t.rng_bits}) + E_add({b_in})"
            f" = {e:.6g} pJ per input and step",
        )
    elif encoding == "latency":
        once = b_in * e_px + t.e_mul(b_in, b_in) + t.e_add(b_in)
        terms.add(
            "encoding",
            n_in,
            once,
            f"{b_in} E_bit + E_mul({b_in},{b_in}) + E_add({b_in}) = {once:.6g} pJ per input",
        )
        terms.add("encoding", steps * n_in, t.e_add(b_in), f"E_add({b_in}) per input and step")


def _synapses(
    terms: _Terms, ly: LayerFacts, c: Mapping, k: int, t: Technology, band: Band, direct: bool
):
    """Event routing and synaptic events of layer ``k`` (for a directly driven first layer,
    only its recurrent events: the feed-forward part is a dense layer)."""
    x = count(c, INPUT_EVENTS, k)
    y = count(c, SYNAPTIC_EVENTS, k)
    y_graded = count(c, GRADED_SYNAPTIC_EVENTS, k, 0.0)
    if y_graded > y:
        raise ConfigError(f"layer {k}: more graded synaptic events than synaptic events")
    if direct:
        x = count(c, RECURRENT_INPUT_EVENTS, k, 0.0)
        y = x * ly.n
        y_graded = y if ly.graded_output else 0.0
    b_acc = t.snn_acc_bits
    if not band.registers:
        q = ly.sources * t.event_bits / 8
        e_q, price_q = _bit_price(t, q, band)
        terms.add("routing", x * 2 * t.event_bits, e_q, price_q)
        e_acc, price_acc = _bit_price(t, ly.n * b_acc / 8, band)
        terms.add("synaptic_accumulator_rmw", y * 2 * b_acc, e_acc, price_acc)
    e_w, price_w = _bit_price(t, ly.weight_bytes, band)
    terms.add("weight_reads", y * ly.weight_bits, e_w, price_w)
    terms.add("synaptic_adds", y, t.e_add(b_acc), f"E_add({b_acc}) = {t.e_add(b_acc):.6g} pJ")
    if y_graded:
        e_g = t.e_mul(ly.weight_bits, ly.state_bits)
        terms.add(
            "graded_multiplies",
            y_graded,
            e_g,
            f"E_mul({ly.weight_bits},{ly.state_bits}) = {e_g:.6g} pJ",
        )


def _neurons(terms: _Terms, ly: LayerFacts, u: float, t: Technology, band: Band):
    ops = t.cell(ly.cell)
    b_s = ly.state_bits
    e_st, price_st = _bit_price(t, ly.state_bytes, band)
    terms.add("neuron_state", u * (2 * ly.state_words * b_s + ly.param_bits), e_st, price_st)
    e_ar = ops.mults * t.e_mul(b_s, ops.mult_bits) + ops.adds * t.e_add(b_s)
    terms.add(
        "neuron_arithmetic",
        u,
        e_ar,
        f"{ops.mults} E_mul({b_s},{ops.mult_bits}) + {ops.adds} E_add({b_s}) = {e_ar:.6g} pJ",
    )
    if ops.table_reads:
        if ly.shared_bits <= 0:
            raise ConfigError(f"cell {ly.cell} reads tables but the layer has no shared_bits")
        e_t, price_t = _bit_price(t, ly.table_bytes, band)
        terms.add("neuron_tables", u * ops.table_reads * b_s, e_t, price_t)
    if not band.registers:
        e_acc, price_acc = _bit_price(t, ly.n * t.snn_acc_bits / 8, band)
        terms.add("accumulator_read_clear", u * 2 * t.snn_acc_bits, e_acc, price_acc)


def _readout(
    terms: _Terms,
    ro: ReadoutFacts,
    last: LayerFacts,
    x_h: float,
    steps: int,
    t: Technology,
    band: Band,
):
    n, c = last.n, ro.classes
    b_sum = time_sum_bits(steps, last.graded_output, t.graded_sum_bits)
    e_add = t.e_add(b_sum)
    terms.add("readout_time_sum", x_h, e_add, f"E_add({b_sum}) = {e_add:.6g} pJ")
    e_sum, price_sum = _bit_price(t, n * b_sum / 8, band)
    if not band.registers:  # the per-event read-modify-write of a time sum
        terms.add("readout_time_sum", x_h * 2 * b_sum, e_sum, price_sum)
    # the readout reads the n time sums once, from a buffer in every band (the spec's golden
    # values price this read in the low band too)
    terms.add("readout", n * b_sum, e_sum, price_sum)
    b_acc = t.readout_acc_bits
    e_mac = t.e_mul(ro.weight_bits, b_sum) + t.e_add(b_acc)
    terms.add(
        "readout",
        c * n,
        e_mac,
        f"E_mul({ro.weight_bits},{b_sum}) + E_add({b_acc}) = {e_mac:.6g} pJ",
    )
    e_w, price_w = _bit_price(t, c * n * ro.weight_bits / 8, band)
    terms.add("readout", c * n * ro.weight_bits, e_w, price_w)
    terms.add("readout", c, t.e_add(b_acc), f"E_add({b_acc}) (argmax)")


def deployed_snn(
    layers: Sequence[LayerFacts],
    counts: Sequence[Mapping[str, float]],
    *,
    steps: int,
    encoding: str,
    readout: ReadoutFacts | None,
    band: str = "central",
    profile: str | Technology | None = None,
) -> TierEnergy:
    """Deployed-mode energy of a spiking network per inference (pJ).

    ``layers`` and ``counts`` go together, one per spiking layer; each count mapping holds
    ``input_events``, ``synaptic_events`` (``graded_synaptic_events``, ``recurrent_input_events``
    optional, 0 when absent), ``neuron_updates`` and, for the last layer when ``readout`` is
    given, ``spikes`` (X_h). ``encoding`` prices turning the ``layers[0].n_in`` inputs into events:
    ``rate`` and ``latency`` in the same technology, ``direct`` as a dense first layer computed
    once (the ANN formula) plus one 24-bit add per neuron and step, ``events`` not at all (the
    input already is events, e.g. from an event sensor)."""
    if not layers:
        raise ConfigError("a spiking network needs at least one layer")
    if len(counts) != len(layers):
        raise ConfigError(f"{len(counts)} count sets for {len(layers)} layers")
    check_encoding(encoding)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise ConfigError(f"steps must be a positive integer, got {steps!r}")
    for k in range(1, len(layers)):
        if layers[k].n_in != layers[k - 1].n:
            raise ConfigError(
                f"layer {k} has {layers[k].n_in} inputs, layer {k - 1} {layers[k - 1].n} neurons"
            )
    t = technology(profile)
    b = t.band(band)
    terms = _Terms()
    _encoding(terms, encoding, steps, layers[0].n_in, t, b)
    for k, (ly, c) in enumerate(zip(layers, counts)):
        direct = encoding == "direct" and k == 0
        if direct:
            tmp = _Terms()
            first = AnnLayerFacts(ly.n_in, ly.n, True, ly.weight_bits, t.input_bits)
            _ann_layer(tmp, first, t, b, None)
            e_first = tmp.total()
            terms.add("direct_input_layer", 1, e_first, "the ANN formula for the first layer, once")
            terms.add(
                "direct_input_adds",
                ly.n * steps,
                t.e_add(ly.state_bits),
                f"E_add({ly.state_bits}) per neuron and step",
            )
        _synapses(terms, ly, c, k, t, b, direct)
        _neurons(terms, ly, count(c, NEURON_UPDATES, k), t, b)
    if readout is not None:
        x_h = count(counts[-1], SPIKES, len(layers) - 1)
        _readout(terms, readout, layers[-1], x_h, steps, t, b)
    cells = "/".join(dict.fromkeys(ly.cell for ly in layers))
    label = f"SNN {cells}, T = {steps}, {encoding} input"
    return _result("snn", terms, t, b, label)


# ------------------------------------------------------------------------- band, break-even


def band_of(fn: Callable[..., TierEnergy], *args, **kwargs) -> dict[str, TierEnergy]:
    """``fn(*args, band=b, **kwargs)`` for b in low, central, high: one constant set at a time."""
    return {b: fn(*args, band=b, **kwargs) for b in BAND_NAMES}


def band_summary(band: Mapping[str, TierEnergy]) -> dict:
    """JSON block of a band: the three totals, the central parts and the dominating term."""
    central = band["central"]
    return {
        "kind": "modeled",
        "tier": "deployed",
        "label": central.label,
        "energy_pj": {b: band[b].total_pj for b in BAND_NAMES},
        "parts_pj": {b: dict(band[b].parts_pj) for b in BAND_NAMES},
        "dominant": central.dominant(),
        "constant_sets": [band[b].constant_set for b in BAND_NAMES],
    }


def _single_layer_counts(layer: LayerFacts, steps: int, x_in: float, x_h: float) -> list[dict]:
    return [
        {
            INPUT_EVENTS: x_in,
            SYNAPTIC_EVENTS: x_in * layer.n,
            NEURON_UPDATES: layer.n * steps,
            SPIKES: x_h,
        }
    ]


def break_even_coefficients(
    layer: LayerFacts,
    readout: ReadoutFacts,
    *,
    steps: int,
    encoding: str,
    band: str = "central",
    profile: str | Technology | None = None,
) -> dict[str, float]:
    """``E_SNN = e0 + e_in * X_0 + e_h * X_h`` for one hidden layer with dense weight storage
    (the model is affine in the event counts, so three evaluations give it exactly)."""
    if layer.recurrent:
        raise ConfigError("the break-even is defined for one feed-forward hidden layer")

    def energy(x_in: float, x_h: float) -> float:
        c = _single_layer_counts(layer, steps, x_in, x_h)
        return deployed_snn(
            [layer], c, steps=steps, encoding=encoding, readout=readout, band=band, profile=profile
        ).total_pj

    e0 = energy(0.0, 0.0)
    return {"e0": e0, "e_in": energy(1.0, 0.0) - e0, "e_h": energy(0.0, 1.0) - e0}


def break_even_input_events(
    e_ann_pj: float, coefficients: Mapping[str, float], x_h: float = 0.0
) -> float | None:
    """X_0* = (E_ANN - e0 - e_h X_h) / e_in: the input events per inference below which the SNN
    costs at most the ANN; ``None`` when even no input event would do (``e0 + e_h X_h >= E_ANN``)."""
    rest = e_ann_pj - coefficients["e0"] - coefficients["e_h"] * x_h
    if rest <= 0:
        return None
    return rest / coefficients["e_in"]


def max_break_even_steps(
    e_ann_pj: float, e0_of_steps: Callable[[int], float], limit: int = 10_000
) -> int:
    """T_max = the largest T with E_0(T) <= E_ANN (0 when none); E_0 is non-decreasing in T
    (encoding and neuron updates grow with T, the time-sum width with log2(T + 1))."""
    best = 0
    for steps in range(1, limit + 1):
        if e0_of_steps(steps) > e_ann_pj:
            break
        best = steps
    return best
