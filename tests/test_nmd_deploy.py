"""Deployment of a neuromodulated agent: artifact round trip and closed loops on sim and Lava."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
import torch

from modspike.errors import ArtifactError, ConfigError
from modspike.fixedpoint import WeightFormat, quantize_weights
from modspike.step import Precision, compile, fixed_shifts, run
from modspike.studies.nmd.agent import build_agent
from modspike.studies.nmd.closed_loop import quantize_modulation, run_closed_loop
from modspike.studies.nmd.deploy import export_agent, load_agent_artifact

KWARGS = {"sizes": [12, 6], "micro_steps": 3, "hs0_init": 0.4, "b_range": [0.0, 1.5]}


@pytest.fixture(scope="module")
def agent_artifact(tmp_path_factory):
    torch.manual_seed(0)
    agent = build_agent("nmd-msrc", **KWARGS)
    with torch.no_grad():  # a visible modulation: an untrained projection is tiny
        for p in (*agent.modulator.Ws, *agent.modulator.Wb, *agent.modulator.Wh):
            p.mul_(5.0)
        # weights on the 8-bit grid, so the exported float network is the agent's own network
        for layer in agent.body.layers:
            for lin in (layer.synapse, layer.rec):
                if lin is not None:
                    q = quantize_weights(lin.weight.double().numpy(), WeightFormat(8))
                    lin.weight.copy_(torch.as_tensor(q.dequantize(), dtype=torch.float32))
    out = tmp_path_factory.mktemp("agent") / "artifact"
    export_agent(agent, KWARGS, out)
    return out


def test_agent_artifact_round_trips(agent_artifact):
    deploy, agent, net = load_agent_artifact(agent_artifact)
    assert deploy["micro_steps"] == 3 and deploy["modulation"] == "host"
    assert net.kinds == ["msrc", "msrc"]
    shifts = [fixed_shifts(layer)[0] for layer in net.layers]
    assert shifts[0][0] < shifts[1][0] + 12
    assert agent.kind == "nmd-msrc" and agent.context is not None


def test_modulation_reaches_the_deployed_network(agent_artifact):
    """The host's modulation is quantised per neuron and changes the network's output."""
    deploy, agent, net = load_agent_artifact(agent_artifact)
    z = torch.rand(2, agent.context.z_dim)
    mods = quantize_modulation(agent.modulator(z), net, 2)
    ident = quantize_modulation(None, net, 2)
    assert all(np.any(m.gain != i.gain) and np.any(m.hs0 != 0) for m, i in zip(mods, ident))
    x = np.full((10, 2, 1), 2048)  # observation 0.5, held for 10 steps
    prog = compile(net, Precision.FIXED)
    a = run(prog, x, modulation=mods).records
    b = run(prog, x, modulation=ident).records
    assert a[0].any() and not np.array_equal(a[0], b[0])


@pytest.mark.lava
def test_closed_loop_actions_are_identical_on_sim_and_lava(agent_artifact):
    sim = run_closed_loop(agent_artifact, "sim", episodes=1, horizon=8, seed=3)
    lava = run_closed_loop(agent_artifact, "lava", episodes=1, horizon=8, seed=3)
    assert sim["actions"] == lava["actions"]
    assert sim["rewards"] == lava["rewards"]
    assert sim["outputs"] == lava["outputs"]  # the network's outputs, step for step
    outputs = np.array(sim["outputs"][0])
    assert outputs.any() and len({tuple(o) for o in outputs}) > 1  # a live, changing network
    assert not multiprocessing.active_children()


@pytest.mark.lava
def test_float_closed_loop_on_lava_follows_the_float_agent(agent_artifact):
    """Lava floating_pt, float observation and modulation through mod_in: the torch agent's run."""
    ref = run_closed_loop(agent_artifact, "torch", episodes=1, horizon=8, seed=3)
    lava = run_closed_loop(agent_artifact, "lava-float", episodes=1, horizon=8, seed=3)
    assert lava["actions"] == ref["actions"]
    a, b = np.array(ref["outputs"]), np.array(lava["outputs"])
    assert a.any() and np.allclose(a, b, rtol=1e-4, atol=1e-3 * np.abs(a).max())
    assert not multiprocessing.active_children()


def test_closed_loop_sim_follows_the_float_agent(agent_artifact):
    """8-bit weights, 12-bit states: the deployed network tracks the float network in the loop."""
    ref = run_closed_loop(agent_artifact, "torch", episodes=2, horizon=10, seed=0)
    sim = run_closed_loop(agent_artifact, "sim", episodes=2, horizon=10, seed=0)
    a, b = np.array(ref["outputs"]), np.array(sim["outputs"])
    assert a.shape == b.shape and a.any()
    assert np.abs(a - b).mean() < 0.1 * np.abs(a).mean()
    assert np.mean(np.array(ref["actions"]) == np.array(sim["actions"])) > 0.8


def test_bad_requests_give_clear_errors(agent_artifact, tmp_path):
    with pytest.raises(ConfigError, match="unknown backend"):
        run_closed_loop(agent_artifact, "gpu")
    with pytest.raises(ArtifactError):
        run_closed_loop(tmp_path, "sim")
    with pytest.raises(ConfigError, match="mSRC"):
        export_agent(build_agent("gru"), {}, tmp_path / "x")
    assert not (tmp_path / "x").exists()
