"""Plasticity as a concern of the network description, and online learning of whole networks.

* the ``Plasticity`` record: defaults, validation (one-line errors), the NIR extension and its
  refusal by readers that do not know it (schema ``modspike-nir/2``, ``requires``, network schema
  ``/2``);
* the closed loop on random networks (static LIF layers, a plastic layer, rewards, exploration
  drive): the simulator equals Lava's fixed-point learning engine step by step over >= 1000 steps
  (weights, tags, traces, synaptic output, pre and post spikes); counts from spike trains equal
  the engine's per-step counts; streaming inputs equal batch inputs;
* float vs integer at the network level (the continual task's learning curve).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modspike.errors import NIRError, PlasticityError
from modspike.export.nir.file import read_nir_file, write_nir_file
from modspike.export.nir.read import from_nir
from modspike.export.nir.write import to_nir
from modspike.network import network_equal
from modspike.plasticity.counters import count_trains, total_counts
from modspike.plasticity.online import SimLearner, Timing, pre_trains, with_learned
from modspike.plasticity.spec import (
    Plasticity,
    attach,
    check_learnable,
    network_schema,
    parse_rule_params,
    readout_as_layer,
)
from modspike.quantize import quantize
from modspike.train.modules import ModelConfig, build_model, to_network

N_IN, N_OUT = 20, 5


def _classifier(seed: int, layers: int = 1, cell: str = "lif", hidden: int = 16):
    torch.manual_seed(seed)
    model = build_model(
        ModelConfig(cell=cell, n_in=N_IN, hidden=hidden, layers=layers, n_out=N_OUT)
    )
    with torch.no_grad():
        for layer in model.layers:
            layer.synapse.weight.mul_(3.0)
            if layer.synapse.bias is not None:
                layer.synapse.bias.uniform_(-0.1, 0.2)
        model.readout.weight.mul_(4.0)
    return to_network(model)


def _plastic(seed: int, plasticity: Plasticity, layers: int = 1, threshold: float = 0.5):
    net = quantize(readout_as_layer(_classifier(seed, layers), beta=0.95, threshold=threshold))
    return attach(net, layers, plasticity)


RSTDP = dict(learning_rate=1, a_plus=2, a_minus=-2, eligibility_trace_decay_tau=0.25)


# --------------------------------------------------------------------------- the record


def test_plasticity_record_defaults_and_round_trip():
    p = Plasticity("rstdp", {"learning_rate": 0.5, "rng_seed": 3})
    assert p.params["a_plus"] == 1 and p.params["rng_seed"] == 3
    assert p.three_factor and p.third_factor == "reward"
    assert p.post_trace[0] == 16
    back = Plasticity.from_json(p.to_json())
    assert network_equal(p, back)
    stdp = Plasticity("stdp")
    assert not stdp.three_factor and stdp.post_trace is None


@pytest.mark.parametrize(
    "rule, params, message",
    [
        ("rstdp", {"learning_rate": 0.001}, "exponent"),
        ("rstdp", {"learning_rate": 3, "a_plus": 3}, "4 bits"),
        ("stdp", {"t_epoch": 0}, "t_epoch"),
        ("stdp", {"tau_plus": -1}, "negative"),
        ("stdp", {"x1_impulse": 300}, "7-bit"),
        ("stdp", {"colour": 1}, "unexpected keyword"),
        ("hebb", {}, "unknown learning rule"),
    ],
)
def test_invalid_rules_are_one_line_errors(rule, params, message):
    with pytest.raises(PlasticityError, match=message) as err:
        Plasticity(rule, params)
    assert "\n" not in str(err.value)


def test_rule_options_of_the_cli():
    assert parse_rule_params(["learning_rate=0.25", "t_epoch=2"]) == {
        "learning_rate": 0.25,
        "t_epoch": 2,
    }
    for bad in (["learning_rate"], ["t_epoch=two"], ["a=inf"]):
        with pytest.raises(PlasticityError):
            parse_rule_params(bad)
    with pytest.raises(PlasticityError, match="no third factor"):
        Plasticity("stdp", third_factor="reward")


def test_kinds_that_cannot_learn_are_refused():
    src = _classifier(0, cell="src")
    with pytest.raises(PlasticityError, match="src cell cannot learn"):
        check_learnable(src, 0)
    with pytest.raises(PlasticityError, match="src cell cannot learn"):
        attach(quantize(src), 0, Plasticity("stdp"))
    # a LIF layer fed by graded SRC outputs: the engine takes binary spikes
    lif_after_src = readout_as_layer(_classifier(0, cell="src"), threshold=0.5)
    with pytest.raises(PlasticityError, match="graded outputs"):
        check_learnable(lif_after_src, 1)
    rec = quantize(
        to_network(build_model(ModelConfig(cell="lif", n_in=N_IN, hidden=8, recurrent=True)))
    )
    with pytest.raises(PlasticityError, match="recurrent"):
        check_learnable(rec, 0)


def test_the_engine_grid_keeps_the_float_weights():
    net = quantize(readout_as_layer(_classifier(1), threshold=0.5))
    plastic = attach(net, 1, Plasticity("stdp"))
    before, after = net.layers[1].synapse, plastic.layers[1].synapse
    assert np.array_equal(before.weight, after.weight)
    assert np.array_equal(after.fixed.mantissa, 2 * before.fixed.mantissa)
    assert np.array_equal(after.fixed.exponent, before.fixed.exponent - 1)
    assert network_schema(net).endswith("/1") and network_schema(plastic).endswith("/2")


# --------------------------------------------------------------------------- NIR extension


def test_plastic_networks_survive_nir_with_learned_weights(tmp_path):
    plastic = _plastic(2, Plasticity("rstdp", RSTDP))
    rng = np.random.default_rng(0)
    learned = with_learned(plastic, rng.integers(-256, 256, (N_OUT, 16)))  # odd, 9-bit
    path = tmp_path / "learned.nir"
    write_nir_file(path, to_nir(learned))
    back = from_nir(read_nir_file(path))
    for a, b in zip(learned.layers, back.layers):
        assert network_equal(a.synapse.fixed, b.synapse.fixed)
        assert network_equal(a.synapse.plasticity, b.synapse.plasticity)
        assert network_equal(a.cell.fixed, b.cell.fixed)
    meta = read_nir_file(path).metadata["modspike"]
    assert meta["schema"] == "modspike-nir/2" and meta["requires"] == "plasticity/1"


def test_readers_that_do_not_know_plasticity_refuse_it(tmp_path):
    from modspike.kinds.nir_schema import schema_version

    graph = to_nir(_plastic(3, Plasticity("stdp")))
    # a reader of schema /1 (modspike before plasticity) refuses the file in one line
    with pytest.raises(NIRError, match="upgrade modspike"):
        schema_version(graph.metadata["modspike"]["schema"], "modspike-nir/1", "graph")
    # and this reader refuses extensions it does not know
    graph.metadata["modspike"]["requires"] = "plasticity/1,learning-delays/1"
    path = tmp_path / "future.nir"
    write_nir_file(path, graph)
    with pytest.raises(NIRError, match="learning-delays/1.*upgrade modspike"):
        from_nir(read_nir_file(path))


def test_learned_artifact_schema_is_refused_by_older_readers(tmp_path):
    from modspike.export.artifact_build import _check_network_schema

    class Fake:
        path = tmp_path

        def __init__(self, schema):
            self.manifest = {"network_schema": schema}

    _check_network_schema(Fake("modspike-network/2"))  # this reader knows plasticity
    with pytest.raises(Exception, match="upgrade modspike"):
        _check_network_schema(Fake("modspike-network/3"))


# --------------------------------------------------------------------------- closed loops

STEPS_MIN = 1000


def _loop(learner, timing: Timing, samples: int, rewards: np.ndarray) -> np.ndarray:
    posts = []
    for s in range(samples):
        posts.append(learner.advance(timing.decide(s)))
        d = timing.decide(s)
        learner.set_third_factor(rewards[s], d + 1, d + timing.reward_steps)
    posts.append(learner.advance(timing.total(samples)))
    return np.concatenate(posts)


CASES = {
    # name: (seed, plasticity, static layers, window, period, reward steps, exploration rate)
    "rstdp_k1": (11, Plasticity("rstdp", {**RSTDP, "rng_seed": 11}), 1, 12, 20, 3, 0.05),
    "rstdp_k2_epoch2": (
        12, Plasticity("rstdp", {**RSTDP, "t_epoch": 2, "rng_seed": 12}), 2, 10, 18, 2, 0.0,
    ),
    "stdp_k0": (
        13, Plasticity("stdp", {"a_plus": 2, "a_minus": -1, "t_epoch": 3, "rng_seed": 13}),
        0, 12, 16, 1, 0.02,
    ),
    "stdp_k1_excitatory": (
        14, Plasticity("stdp", {"learning_rate": 2, "rng_seed": 14}, sign_mode="excitatory"),
        1, 12, 16, 1, 0.0,
    ),
}  # fmt: skip


def _case(name: str):
    seed, plasticity, k, window, period, reward_steps, explore = CASES[name]
    if k == 0:
        torch.manual_seed(seed)
        w = torch.rand(N_OUT, N_IN) * (0.4 if plasticity.sign_mode == "excitatory" else 0.8)
        from conftest import build_network

        params = {"beta": np.full(N_OUT, 0.9), "threshold": np.full(N_OUT, 0.6), "gain": 1,
                  "leak": 0, "v_reset": 0}  # fmt: skip
        params = {k: np.broadcast_to(np.asarray(v, float), (N_OUT,)) for k, v in params.items()}
        net = attach(quantize(build_network([("lif", w.numpy() - 0.2, params, None)])), 0,
                     plasticity)  # fmt: skip
    else:
        net = _classifier(seed, layers=k)
        if plasticity.sign_mode == "excitatory":
            ro = net.readout.synapse
            net = net.replace(
                readout=type(net.readout)(type(ro)(ro.kind, np.abs(ro.weight), None, ro.attrs))
            )
        net = attach(quantize(readout_as_layer(net, beta=0.95, threshold=0.5)), k, plasticity)
    timing = Timing(window=window, period=period, reward_steps=reward_steps, prefix=k)
    samples = -(-STEPS_MIN // period) + 1
    rng = np.random.default_rng(seed)
    x = (rng.random((window, samples, N_IN)) < 0.3).astype(np.int64)
    rewards = rng.choice([-64, -32, 0, 32, 64, 96], size=(samples, N_OUT))
    total = timing.total(samples)
    noise = None
    if explore:
        vth = net.layers[-1].cell.fixed.params.vth
        noise = ((rng.random((total, N_OUT)) < explore) * 32 * vth).astype(np.int64)
    return net, timing, samples, x, rewards, noise


@pytest.mark.lava
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_online_learning_is_bit_exact_on_lava(name):
    from modspike.hw.lava.plasticity import LavaLearner

    net, timing, samples, x, rewards, noise = _case(name)
    total = timing.total(samples)
    assert total >= STEPS_MIN
    pre = pre_trains(net, x, timing)
    sim = SimLearner(net, pre, timing, total, noise=noise, record=True)
    sim_post = _loop(sim, timing, samples, rewards)
    with LavaLearner(net, x, timing, total, noise=noise, record=True) as lava:
        lava_post = _loop(lava, timing, samples, rewards)
        rec = lava.recorded()
        weights = lava.weights
    ref = sim.recorded()
    assert np.array_equal(sim_post, lava_post)
    for key in ("weights", "tag_1", "tag_2", "x1", "x2", "y1", "y2", "y3", "a_buff"):
        diff = np.nonzero((rec[key] != ref[key]).reshape(total, -1).any(axis=1))[0]
        assert diff.size == 0, f"{name}: {key} differs first at step {diff[:1] + 1}"
    assert np.array_equal(rec["pre"], pre[:total])  # Lava's static layers sent what we computed
    assert np.array_equal(weights, sim.weights)
    assert sim_post.sum() > 50 and pre[:total].sum() > 100
    assert np.abs(np.diff(ref["weights"], axis=0)).sum() > 200  # it learned
    # the engine's per-step counts equal the counts from the spike trains (Lava's counts)
    assert total_counts(sim.counts) == count_trains(pre[:total], sim_post, net.layers[-1]
                                                    .synapse.plasticity.engine(0))  # fmt: skip


def test_weights_reach_their_bounds_in_the_closed_loop():
    """Saturation of the sign mode's range is exercised (simulator; Lava equals it above)."""
    hit = {}
    for name in ("rstdp_k1", "stdp_k1_excitatory"):
        net, timing, samples, x, rewards, noise = _case(name)
        learner = SimLearner(net, pre_trains(net, x, timing), timing, timing.total(samples),
                             noise=noise)  # fmt: skip
        _loop(learner, timing, samples, rewards)
        lo, hi = net.layers[-1].synapse.plasticity.weight_range
        hit[name] = bool(np.any(learner.weights == lo) or np.any(learner.weights == hi))
    assert all(hit.values()), hit


def test_streamed_inputs_equal_inputs_given_up_front():
    net, timing, samples, x, rewards, noise = _case("rstdp_k1")
    total = timing.total(samples)
    batch = SimLearner(net, pre_trains(net, x, timing), timing, total, noise=noise)
    stream = SimLearner(net, None, timing, total, noise=noise)
    a, b = [], []
    for s in range(samples):
        stream.feed(s, x[:, s])
        for learner, out in ((batch, a), (stream, b)):
            out.append(learner.advance(timing.decide(s)))
            d = timing.decide(s)
            learner.set_third_factor(rewards[s], d + 1, d + timing.reward_steps)
    assert np.array_equal(np.concatenate(a), np.concatenate(b))
    assert np.array_equal(batch.weights, stream.weights)
    with pytest.raises(PlasticityError, match="fed after"):
        stream.feed(0, x[:, 0])


# --------------------------------------------------------------------------- modspike learn


@pytest.fixture(scope="module")
def lif_artifact(export_lif_run, tmp_path_factory):
    from modspike.cli import main

    out = tmp_path_factory.mktemp("learn") / "lif"
    assert main(["export", str(export_lif_run), "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--param", "t_epoch=0"], "t_epoch"),
        (["--param", "learning_rate=0.001"], "exponent"),
        (["--param", "colour=3"], "unexpected keyword"),
        (["--param", "learning_rate"], "KEY=VALUE"),
        (["--rule", "stdp"], "three-factor rule"),
    ],
)
def test_learn_refuses_bad_rules_in_one_line(lif_artifact, tmp_path, capsys, extra, message):
    from modspike.cli import main

    code = main(["learn", str(lif_artifact), "--out", str(tmp_path / "x"), "--quiet", *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and "\n" not in err, err
    assert not (tmp_path / "x").exists()


def test_learn_refuses_a_kind_that_cannot_learn(export_src_artifact, tmp_path, capsys):
    from modspike.cli import main

    code = main(["learn", str(export_src_artifact), "--task", "distal", "--out",
                 str(tmp_path / "x"), "--quiet"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and "src cell cannot learn" in err and "\n" not in err, err


@pytest.mark.slow
def test_learn_writes_a_learned_artifact(lif_artifact, tmp_path, capsys):
    import json

    from modspike.cli import main
    from modspike.export.artifact_build import open_artifact

    out = tmp_path / "learned"
    code = main(["learn", str(lif_artifact), "--task", "continual", "--samples", "100",
                 "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    artifact, net = open_artifact(out)
    assert artifact.manifest["network_schema"] == "modspike-network/2"
    assert net.layers[-1].synapse.plasticity.rule == "rstdp"
    report = json.loads((out / "learning.json").read_text())
    assert report["samples"] == 400 and len(report["online_accuracy_per_episode"]) == 4
    assert summary["synapse_updates"] == report["learning"]["counts"]["synapse_updates"] > 0
    assert report["learning"]["pJ_per_synaptic_update"] == 120.0
    # the learned weights moved, and the artifact runs (frozen) on the simulator
    assert main(["run", str(out), "--limit", "20", "--quiet"]) == 0


@pytest.mark.lava
@pytest.mark.slow
def test_closed_loop_with_an_environment_is_bit_exact_on_lava(lif_artifact):
    """The moving-target agent (streamed observations, actions from the post spikes, dopamine
    from the rewards): the same returns, actions and learned weights on Lava."""
    from modspike.export.artifact_build import open_artifact
    from modspike.studies.learning.moving_target import TargetConfig, action_network, play

    _, net = open_artifact(lif_artifact)
    plastic = attach(action_network(net), 1, Plasticity("rstdp", {"learning_rate": 0.5,
                                                                  "a_minus": 0}))  # fmt: skip
    cfg = TargetConfig(episodes=3, horizon=25)
    sim = play("sim", plastic, cfg)
    lava = play("lava", plastic, cfg)
    assert np.array_equal(sim[1], lava[1])  # actions
    assert np.array_equal(sim[0], lava[0])  # returns
    assert np.array_equal(sim[2], lava[2])  # learned weights
    assert np.array_equal(sim[3], lava[3])  # post spikes, every step
    assert np.abs(sim[2]).sum() > 0


@pytest.mark.slow
def test_float_and_integer_learning_curves_agree(lif_artifact):
    """Network level: the continual task's per-episode accuracy, float rules + float cells vs the
    integer engine + fixed-point cells, within the tolerance docs/plasticity.md states."""
    from modspike.export.artifact_build import open_artifact
    from modspike.studies.learning.continual import ContinualConfig, run_task

    artifact, net = open_artifact(lif_artifact)
    cfg = ContinualConfig(before=200, after=600, episode=100)
    curves = {}
    for backend in ("sim", "float"):
        _, report = run_task(net, artifact.manifest, "rstdp", {}, backend, cfg, baselines=False)
        curves[backend] = np.asarray(report["online_accuracy_per_episode"])
    assert np.abs(curves["sim"] - curves["float"]).max() <= 0.15, curves
    assert curves["sim"][-1] > curves["sim"][2] + 0.2  # both learn after the switch
