"""Plastic connections on Lava: modspike rules <-> Lava learning rules, and a closed-loop runner.

* :func:`lava_learning_rule` writes a :class:`modspike.plasticity.rules.LearningRule` as Lava's
  ``Loihi2FLearningRule`` / ``Loihi3FLearningRule`` (rule strings Lava's parser turns back into the
  same products); :func:`rule_from_lava` reads any Lava rule (e.g. ``STDPLoihi``,
  ``RewardModulatedSTDP``) into modspike's form.
* :func:`run_lava` runs :class:`modspike.plasticity.sim.PlasticNet` s on Lava's CPU simulator
  (``fixed_pt``), all in one runtime, and returns the same per-step records as
  :func:`modspike.plasticity.sim.simulate`, read from :class:`RecordedLearningDense` files and a
  spike sink.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from modspike.errors import HardwareError, PlasticityError
from modspike.hw.lava.support import import_lava
from modspike.plasticity.rules import Factor, LearningRule, Product, Trace
from modspike.plasticity.sim import RECORDED, PlasticNet

SIGN_MODES = {"mixed": "MIXED", "excitatory": "EXCITATORY", "inhibitory": "INHIBITORY"}


def _factor_string(f: Factor) -> str:
    if f.const is None or f.const == 0:
        inner = f.var
    else:
        inner = f"({f.var} {'+' if f.const > 0 else '-'} {abs(f.const)})"
    if f.sgn:
        return f"sgn({inner.strip('()')})"
    return inner


def _product_string(p: Product, decimate_exponent: int | None) -> str:
    dep = f"u{decimate_exponent}" if p.dependency == "u" else p.dependency
    parts = [f"({p.mantissa}) * 2 ^ {p.exponent}", dep, *(_factor_string(f) for f in p.factors)]
    return " * ".join(parts)


def rule_strings(rule: LearningRule) -> dict[str, str | None]:
    """``{"dw": ..., "dd": ..., "dt": ...}`` in Lava's rule syntax (None where no rule)."""
    out = {}
    for target in ("dw", "dd", "dt"):
        products = getattr(rule, target)
        out[target] = (
            " + ".join(_product_string(p, rule.decimate_exponent) for p in products)
            if products
            else None
        )
    return out


def lava_learning_rule(rule: LearningRule):
    """The Lava learning-rule object for ``rule`` (same products, traces, epoch and seed)."""
    import_lava()
    from lava.magma.core.learning.learning_rule import Loihi2FLearningRule, Loihi3FLearningRule

    kw = dict(rule_strings(rule), t_epoch=rule.t_epoch, rng_seed=rule.rng_seed)
    for name in ("x1", "x2"):
        kw[f"{name}_impulse"] = getattr(rule, name).impulse
        kw[f"{name}_tau"] = getattr(rule, name).tau
    if rule.three_factor:
        return Loihi3FLearningRule(**kw)
    for name in ("y1", "y2", "y3"):
        kw[f"{name}_impulse"] = getattr(rule, name).impulse
        kw[f"{name}_tau"] = getattr(rule, name).tau
    return Loihi2FLearningRule(**kw)


def rule_from_lava(lava_rule) -> LearningRule:
    """A Lava ``LoihiLearningRule`` (parsed products, traces, epoch, seed) in modspike's form."""
    import_lava()
    from lava.magma.core.learning.learning_rule import Loihi3FLearningRule

    def products(series) -> tuple[Product, ...]:
        if series is None:
            return ()
        out = []
        for p in series.products:
            factors = tuple(Factor(f.state_var, f.const, f.is_sgn) for f in p.factors)
            out.append(Product(p.dependency, p.s_mantissa, p.s_exp - 7, factors))
        return tuple(out)

    def trace(name: str) -> Trace:
        return Trace(getattr(lava_rule, f"{name}_impulse"), getattr(lava_rule, f"{name}_tau"))

    return LearningRule(
        dw=products(lava_rule.dw),
        dd=products(lava_rule.dd),
        dt=products(lava_rule.dt),
        **{n: trace(n) for n in ("x1", "x2", "y1", "y2", "y3")},
        t_epoch=int(lava_rule.t_epoch),
        rng_seed=int(lava_rule.rng_seed),
        three_factor=isinstance(lava_rule, Loihi3FLearningRule),
        decimate_exponent=lava_rule.decimate_exponent,
        name=type(lava_rule).__name__,
    )


def _build(net: PlasticNet, steps: int, workdir: Path, index: int):
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.utils.weightutils import SignMode

    from modspike.hw.lava.procs.plastic_processes import RecordedLearningDense, RewardLIF

    params = net.params
    n_post, _ = np.shape(net.weights)
    src = RingBuffer(data=np.asarray(net.pre_spikes[:, :steps], dtype=np.int32))
    path = workdir / f"net{index}.npz"
    dense = RecordedLearningDense(
        weights=np.asarray(net.weights, dtype=np.int32),
        learning_rule=lava_learning_rule(params.rule),
        sign_mode=getattr(SignMode, SIGN_MODES[params.sign_mode]),
        weight_exp=params.weight_exp,
        num_weight_bits=params.num_weight_bits,
        record_path=str(path),
        record_steps=steps,
        name=f"{net.name}_dense{index}",
    )
    lif_kw = dict(
        shape=(n_post,),
        du=net.lif.du,
        dv=net.lif.dv,
        vth=net.lif.vth,
        bias_mant=np.broadcast_to(np.asarray(net.lif.bias_mant), (n_post,)).copy(),
        bias_exp=net.lif.bias_exp,
        name=f"{net.name}_post{index}",
    )
    src.s_out.connect(dense.s_in)
    keep = [src, dense]
    if params.rule.three_factor:
        post = RewardLIF(y1_impulse=net.post_trace.impulse, y1_decay=net.post_trace.decay, **lif_kw)
        reward = RingBuffer(data=np.asarray(net.reward[:, :steps], dtype=np.int32))
        reward.s_out.connect(post.a_third_factor_in)
        post.s_out_bap.connect(dense.s_in_bap)
        post.s_out_y1.connect(dense.s_in_y1)
        post.s_out_y2.connect(dense.s_in_y2)
        post.s_out_y3.connect(dense.s_in_y3)
        keep.append(reward)
    else:
        post = LIF(**lif_kw)
        post.s_out.connect(dense.s_in_bap)
    dense.a_out.connect(post.a_in)
    keep.append(post)
    return dense, post, path, keep


def run_lava(
    nets: list[PlasticNet], steps: int | None = None, monitor_weights: bool = False
) -> list[dict[str, np.ndarray]]:
    """Run every net for ``steps`` (default: the shortest input) in one Lava runtime (``fixed_pt``).

    Returns per net the records of :func:`modspike.plasticity.sim.simulate` (``weights``, tags,
    traces, ``a_buff`` after each step, ``post`` spikes from a sink) plus ``pre`` / ``bap``: the
    spikes the Lava connection received. ``monitor_weights`` also records the first net's weights
    with Lava's own ``Monitor`` (``monitor_weights`` key) to cross-check the recorder.
    """
    if not nets:
        raise PlasticityError("run_lava needs at least one net")
    steps = min(n.steps for n in nets) if steps is None else steps
    if steps < 1 or steps > min(n.steps for n in nets):
        raise PlasticityError(f"steps {steps} must be in 1..{min(n.steps for n in nets)}")
    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.monitor.process import Monitor

    from modspike.hw.lava.procs.plastic_processes import MAX_JOIN, SpikeJoin

    if len(nets) > MAX_JOIN:
        raise PlasticityError(f"run_lava runs at most {MAX_JOIN} nets at once, got {len(nets)}")

    with tempfile.TemporaryDirectory(prefix="modspike-lava-plastic-") as tmp:
        workdir = Path(tmp)
        built = [_build(n, steps, workdir, i) for i, n in enumerate(nets)]
        sizes = [int(np.shape(n.weights)[0]) for n in nets]
        join_path = workdir / "post.npz"
        join = SpikeJoin(shapes=[(s,) for s in sizes], record_path=join_path, record_steps=steps)
        for i, (_, post, _, _) in enumerate(built):
            post.s_out.connect(getattr(join, f"in_{i}"))
        monitor = None
        if monitor_weights:
            monitor = Monitor()
            monitor.probe(built[0][0].weights, steps)
        try:
            join.run(
                condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt")
            )
            mon = None
            if monitor is not None:
                dense0 = built[0][0]
                mon = monitor.get_data()[dense0.name]["weights"]
        except Exception as exc:  # Lava raises bare exceptions from its worker processes
            raise HardwareError(f"Lava learning run failed: {type(exc).__name__}: {exc}") from exc
        finally:
            join.stop()
        if not join_path.is_file():
            raise HardwareError("the Lava spike recorder wrote no file")
        with np.load(join_path) as f:
            posts = [f[f"in_{i}"] for i in range(len(nets))]
        results = []
        for (_, _, path, _), post in zip(built, posts):
            if not path.is_file():
                raise HardwareError(f"the Lava learning recorder wrote no {path.name}")
            with np.load(path) as f:
                rec = {k: f[k] for k in f.files}
            missing = [k for k in RECORDED if k not in rec]
            if missing:
                raise HardwareError(f"Lava recorder wrote no {missing} to {path.name}")
            rec["post"] = post
            results.append(rec)
        if mon is not None:
            results[0]["monitor_weights"] = np.asarray(mon).astype(np.int64)
    return results


class LavaLearner:
    """Online learning on Lava (``fixed_pt``): the Lava twin of
    :class:`modspike.plasticity.online.SimLearner`, step for step.

    Graph: ``RingBuffer`` (every sample's input columns, back to back) -> the static layers
    (``LavaGraph``: ``Dense`` + ``LIFReset`` each, reset every period) -> :class:`PlasticDense`
    (Lava's bit-approximate learning Dense) -> the post cells (``RewardLIF`` for three-factor
    rules, Lava's ``LIF`` otherwise; no reset) -> a spike sink; a second ``RingBuffer`` of one period
    carries the third factor, rewritten by the host before each chunk. ``advance`` runs at most one
    period per Lava ``run`` call. Use as a context manager (the runtime is always stopped).
    """

    def __init__(
        self, net, inputs: np.ndarray | None, timing, total, noise=None, record: bool = False
    ):
        import_lava()
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.io.sink import RingBuffer as Sink
        from lava.proc.io.source import RingBuffer as Source
        from lava.proc.lif.process import LIF
        from lava.utils.weightutils import SignMode

        from modspike.hw.lava.cells import native
        from modspike.hw.lava.cells.lif import fixed_kwargs
        from modspike.hw.lava.graph import LavaGraph
        from modspike.hw.lava.procs import plastic_models  # noqa: F401  (registers the models)
        from modspike.hw.lava.procs.plastic_processes import PlasticDense, RewardLIF
        from modspike.plasticity.online import plastic_index, prefix_network

        k = plastic_index(net)
        for layer in net.layers:
            if native(layer.cell.kind) is None:
                raise HardwareError(
                    f"{layer.name}: online learning on Lava runs layers on Lava's LIF; a"
                    f" {layer.cell.kind.name} layer has no such mapping (use --backend sim)"
                )
        self.timing, self.total, self.t = timing, int(total), 0
        P = timing.period
        self.streaming = inputs is None  # one period of columns, rewritten by feed()
        if self.streaming:
            columns = np.zeros((net.n_in, P), dtype=np.int32)
        else:
            x = np.asarray(inputs)
            samples = x.shape[1]
            columns = np.zeros((net.n_in, (samples + 1) * P), dtype=np.int32)
            block = np.zeros((net.n_in, samples, P), dtype=np.int32)
            block[:, :, : timing.window] = np.moveaxis(x, (0, 1, 2), (2, 1, 0))
            columns[:, : samples * P] = block.reshape(net.n_in, samples * P)
        prefix = prefix_network(net, k)
        self.graph = None
        if prefix is not None:
            self.graph = LavaGraph(prefix, "fixed", P, timing.window, columns.shape[1])
            self.graph.source.data.init = columns
            root, pre_port = self.graph.source, self.graph.layers[-1].cell.s_out
        else:
            root = Source(data=columns)
            pre_port = root.s_out
        self.source, self.n_in = root, net.n_in
        layer = net.layers[k]
        p = layer.synapse.plasticity
        self.tmp = tempfile.TemporaryDirectory(prefix="modspike-lava-online-")
        self.record_path = Path(self.tmp.name) / "plastic.npz"
        self.dense = PlasticDense(
            weights=np.asarray(layer.synapse.fixed.mantissa, dtype=np.int32),
            learning_rule=lava_learning_rule(p.learning_rule),
            sign_mode=getattr(SignMode, SIGN_MODES[p.sign_mode]),
            weight_exp=0,
            num_weight_bits=8,
            record_path=str(self.record_path),
            record_steps=self.total if record else 0,
        )
        kw = fixed_kwargs(layer)
        n_post = layer.n
        self.reward = None  # the third factor's buffer (three-factor rules only)
        if p.three_factor:
            self.reward = Source(data=np.zeros((n_post, P), dtype=np.int32))
            impulse, decay, _ = p.post_trace
            post = RewardLIF(y1_impulse=impulse, y1_decay=decay, **kw)
            self.reward.s_out.connect(post.a_third_factor_in)
            post.s_out_bap.connect(self.dense.s_in_bap)
            post.s_out_y1.connect(self.dense.s_in_y1)
            post.s_out_y2.connect(self.dense.s_in_y2)
            post.s_out_y3.connect(self.dense.s_in_y3)
        else:
            post = LIF(**kw)
            post.s_out.connect(self.dense.s_in_bap)
        pre_port.connect(self.dense.s_in)
        self.dense.a_out.connect(post.a_in)
        self.sink = Sink(shape=(n_post,), buffer=P)
        post.s_out.connect(self.sink.a_in)
        if noise is not None:  # the host's exploration drive, step by step (summed on a_in)
            extra = np.asarray(noise, dtype=np.int64)[: self.total].T.astype(np.int32)
            self.noise = Source(data=np.ascontiguousarray(extra))
            self.noise.s_out.connect(post.a_in)
        self.post, self.root, self.n_post = post, root, n_post
        self.run_cfg = Loihi2SimCfg(select_tag="fixed_pt")
        self.third = np.zeros(n_post, dtype=np.int64)
        self.third_steps = (0, 0)
        self.buffer = np.zeros((n_post, P), dtype=np.int32)
        self.started = False
        self.record = record

    def __enter__(self) -> LavaLearner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.root.stop()  # a no-op when no runtime was started
        finally:
            self.tmp.cleanup()

    def feed(self, s: int, x: np.ndarray) -> None:
        """Streaming: sample ``s``'s input ``(window, n_in)``, before the run passes
        ``timing.decide(s - 1)`` (the source holds one period: this sample's columns)."""
        if not self.streaming:
            raise PlasticityError("this learner was given all its inputs up front")
        if self.t > (self.timing.decide(s - 1) if s > 0 else 0):
            raise PlasticityError(f"sample {s} fed after its first step was run")
        cols = np.zeros((self.n_in, self.timing.period), dtype=np.int32)
        cols[:, : self.timing.window] = np.asarray(x, dtype=np.int32).T
        if self.started:
            self.source.data.set(cols)
        else:
            self.source.data.init = cols

    def set_third_factor(self, value: np.ndarray, first: int, last: int) -> None:
        self.third = np.asarray(value, dtype=np.int64)
        self.third_steps = (first, last)

    def _load_third(self, start: int, stop: int) -> None:
        """The reward buffer for Lava steps ``start..stop`` (at most one period): column
        ``(tau - 1) % period`` holds what post neurons receive on step ``tau``."""
        if self.reward is None:  # a two-factor rule reads no third factor
            return
        P = self.timing.period
        want = np.zeros_like(self.buffer)
        first, last = self.third_steps
        for tau in range(max(start, first), min(stop, last) + 1):
            want[:, (tau - 1) % P] = self.third
        if not np.array_equal(want, self.buffer):
            if self.started:
                self.reward.data.set(want)
            else:
                self.reward.data.init = want
            self.buffer = want

    def advance(self, until: int) -> np.ndarray:
        from lava.magma.core.run_conditions import RunSteps

        if until > self.total:
            raise PlasticityError(f"step {until} is beyond the run's {self.total} steps")
        P, out = self.timing.period, []
        while self.t < until:
            stop = min(until, self.t + P)
            self._load_third(self.t + 1, stop)
            try:
                self.root.run(condition=RunSteps(num_steps=stop - self.t), run_cfg=self.run_cfg)
                data = np.asarray(self.sink.data.get())
            except Exception as exc:  # Lava raises bare exceptions from its workers
                raise HardwareError(
                    f"Lava learning run failed: {type(exc).__name__}: {exc}"
                ) from exc
            self.started = True
            cols = [(tau - 1) % P for tau in range(self.t + 1, stop + 1)]
            out.append(data[:, cols].T.astype(np.int64))
            self.t = stop
        if not out:
            return np.zeros((0, self.n_post), dtype=np.int64)
        return np.concatenate(out)

    @property
    def weights(self) -> np.ndarray:
        try:
            return np.asarray(self.dense.weights.get()).astype(np.int64)
        except Exception as exc:
            raise HardwareError(f"reading Lava's learned weights failed: {exc}") from exc

    def recorded(self) -> dict[str, np.ndarray]:
        """Per-step records of the learning Dense (``record=True``, after ``total`` steps)."""
        if not self.record_path.is_file():
            raise HardwareError("the Lava learning recorder wrote no file (run all steps first)")
        with np.load(self.record_path) as f:
            return {k: f[k] for k in f.files}
