"""Deployment of the benchmark-1 spiking actor: artifact round trip, closed loops on torch, sim and
Lava against the benchmark-1 environment (``studies/nmd_bench1/deploy.py``)."""

from __future__ import annotations

import json
import multiprocessing

import numpy as np
import pytest
import torch

from modspike.errors import ArtifactError, ConfigError
from modspike.fixedpoint import WeightFormat, quantize_weights
from modspike.studies.nmd import closed_loop
from modspike.studies.nmd.deploy import HOST_CONFIG, HOST_WEIGHTS, load_agent_artifact
from modspike.studies.nmd_bench1.deploy import (
    BENCH1,
    export_actor,
    load_actor_artifact,
    run_actor_closed_loop,
)
from modspike.studies.nmd_bench1.ppo import PPOConfig
from modspike.studies.nmd_bench1.spiking import SpikingNMDCopy, _ppo

ENV_SEED = 3  # the first position (-4.1) drives most neurons of the fixture's network
HORIZON = 30


def _actor() -> SpikingNMDCopy:
    """An untrained actor made lively: excitable neurons (h_s0 in [0, 0.6], the default 1.0 keeps
    an untrained layer silent), a visible modulation and heads, 8-bit grid weights (so that the
    deployed network is the float network up to the state rounding)."""
    torch.manual_seed(0)
    actor = SpikingNMDCopy()
    with torch.no_grad():
        m = actor.modulator
        for p in (*m.Ws, *m.Wb, *m.Wh):
            p.mul_(5.0)
        for head in actor.heads:
            for p in head.parameters():
                p.mul_(5.0)
        for layer in actor.body.layers:
            layer.cell.hs0.uniform_(0.0, 0.6)
            q = quantize_weights(layer.synapse.weight.double().numpy(), WeightFormat(8))
            layer.synapse.weight.copy_(torch.as_tensor(q.dequantize(), dtype=torch.float32))
    return actor.eval()


@pytest.fixture(scope="module")
def actor_artifact(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench1") / "artifact"
    export_actor(_actor(), out)
    return out


@pytest.fixture(scope="module")
def torch_run(actor_artifact):
    return run_actor_closed_loop(actor_artifact, "torch", horizon=HORIZON, seed=ENV_SEED)


@pytest.fixture(scope="module")
def sim_run(actor_artifact):
    return run_actor_closed_loop(actor_artifact, "sim", horizon=HORIZON, seed=ENV_SEED)


def test_actor_artifact_round_trips(actor_artifact):
    deploy, actor, net = load_actor_artifact(actor_artifact)
    assert deploy["family"] == BENCH1.name and deploy["kind"] == "nmd-msrc"
    assert deploy["micro_steps"] == 3 and deploy["n_in"] == 1 and deploy["readout_scale"] == 1.0
    assert net.input_shape == (1,) and [layer.n for layer in net.layers] == [10]
    config = json.loads((actor_artifact / HOST_CONFIG).read_text())
    assert config["kwargs"] == SpikingNMDCopy().options.to_dict()
    names = {p.name for p in actor_artifact.iterdir()}
    assert HOST_WEIGHTS in names and "host_agent.pt" not in names
    ref = _actor()
    assert isinstance(actor, SpikingNMDCopy) and actor.options == ref.options
    for (name, a), (_, b) in zip(actor.state_dict().items(), ref.state_dict().items()):
        assert torch.equal(a, b), name  # host networks and the float body, bit for bit
    # the deployed network: the body's weights on the 8-bit grid, its biases and h_s0
    w = net.layers[0].synapse.weight.reshape(-1)
    assert np.allclose(w, ref.body.layers[0].synapse.weight.detach().double().numpy().reshape(-1))
    assert net.layers[0].cell.fixed is not None


def test_a_family_loads_only_its_own_artifacts(actor_artifact):
    with pytest.raises(ArtifactError, match="family 'nmd-benchmark1'") as exc:
        load_agent_artifact(actor_artifact)  # the project task's loader
    assert "\n" not in str(exc.value)


def test_torch_closed_loop_is_the_trained_agents_mean_action(actor_artifact, torch_run):
    """The host adapter (z_t from step t-1 data, p_t / 5 input, the mu head) reproduces the
    actor's own greedy rollout, as PPOKL evaluates it, action for action."""
    actor = _actor()
    batch = _ppo(actor, PPOConfig(horizon=HORIZON)).rollout(
        1, np.random.default_rng(ENV_SEED), mode="mean"
    )
    applied = np.clip(batch.actions[:, 0].double().numpy() * 5.0, -20.0, 20.0)
    assert np.array_equal(np.array(torch_run["actions"][0]), applied)
    assert np.allclose(torch_run["rewards"][0], batch.rewards[0], atol=1e-5)
    assert np.ptp(applied) > 1.0  # the actions move (the agent is not stuck at one value)
    gammas = 0.99 ** np.arange(HORIZON)
    assert np.isclose(torch_run["discounted_returns"][0], gammas @ batch.rewards[0])


def test_closed_loop_sim_follows_the_float_actor(torch_run, sim_run):
    """8-bit weights, 12-bit states: the deployed network tracks the float one in the loop (the
    modulation reaching the network included: without it the outputs differ by ~200 %)."""
    a, b = np.array(torch_run["outputs"]), np.array(sim_run["outputs"])
    assert a.shape == b.shape == (1, HORIZON, 10)
    assert (a.sum(-1) > 0).mean() > 0.7 and len({tuple(o) for o in b[0]}) > 5  # lively network
    assert np.abs(a - b).mean() < 0.05 * np.abs(a).mean()
    da = np.abs(np.array(torch_run["actions"]) - np.array(sim_run["actions"]))
    assert np.mean(da < 1.0) >= 0.95


def test_without_the_modulation_the_deployed_network_departs(actor_artifact, sim_run, monkeypatch):
    """The check above has teeth: an identity modulation gives other outputs and actions."""
    identity = closed_loop.quantize_modulation
    monkeypatch.setattr(
        closed_loop, "quantize_modulation", lambda mods, net, batch: identity(None, net, batch)
    )
    bare = run_actor_closed_loop(actor_artifact, "sim", horizon=HORIZON, seed=ENV_SEED)
    a, b = np.array(sim_run["outputs"]), np.array(bare["outputs"])
    assert np.abs(a - b).mean() > 0.5 * np.abs(a).mean()
    assert bare["actions"] != sim_run["actions"]


@pytest.mark.lava
def test_closed_loop_actions_are_identical_on_sim_and_lava(actor_artifact):
    horizon = 25
    sim = run_actor_closed_loop(actor_artifact, "sim", horizon=horizon, seed=ENV_SEED)
    lava = run_actor_closed_loop(actor_artifact, "lava", horizon=horizon, seed=ENV_SEED)
    assert sim["actions"] == lava["actions"]
    assert sim["outputs"] == lava["outputs"]  # the network's outputs, step for step
    assert sim["rewards"] == lava["rewards"]
    outputs = np.array(sim["outputs"][0])
    assert outputs.any() and len({tuple(o) for o in outputs}) > 5  # a live, changing network
    assert not multiprocessing.active_children()


@pytest.mark.parametrize(
    "options,needle",
    [({"readout": "membrane"}, "readout 'membrane' cannot be deployed"),
     ({"reset_each_step": True}, "reset_each_step")],
)  # fmt: skip
def test_undeployable_actors_are_refused_in_one_line(options, needle, tmp_path):
    with pytest.raises(ConfigError, match=needle) as exc:
        export_actor(SpikingNMDCopy(**options), tmp_path / "x")
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "x").exists()


def test_an_edited_membrane_artifact_is_refused_on_load(actor_artifact, tmp_path):
    import shutil

    from modspike.artifact import sha256_file

    root = tmp_path / "edited"
    shutil.copytree(actor_artifact, root)
    config = json.loads((root / HOST_CONFIG).read_text())
    config["kwargs"]["readout"] = "membrane"
    (root / HOST_CONFIG).write_text(json.dumps(config))
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"][HOST_CONFIG] = {
        "sha256": sha256_file(root / HOST_CONFIG),
        "bytes": (root / HOST_CONFIG).stat().st_size,
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="membrane"):
        load_actor_artifact(root)
