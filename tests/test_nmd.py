"""Neuromodulation (cells.md 5): the 5.2 equations, the mSRC modulation path, its effect on a
neuron's excitability, and a CI-sized A2C run that shows adaptation (5.6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modspike.kinds.cells.msrc.float_step import MSRCConstants, msrc_step
from modspike.studies.nmd.agent import (
    AdaptiveLinear,
    Modulation,
    MSRCModulator,
    MSRCStack,
    build_agent,
    context_features,
)
from modspike.studies.nmd.envs import MovingTarget
from modspike.studies.nmd.rl import A2CConfig, adaptation_metrics, gae, rollout, run

# constant drive straight into the fast equation (cells.md 4.7 method): no synapse, no squash
DIRECT = MSRCConstants(alpha=0.0, rho=None, detach_rec=True)


def test_adaptive_linear_is_the_section_5_2_equation():
    torch.manual_seed(0)
    layer = AdaptiveLinear(3, 4, z_dim=2)
    with torch.no_grad():
        layer.b.copy_(torch.tensor([0.5, -0.5, 1.0, 0.0]))
    y, z = torch.randn(5, 3), torch.rand(5, 2)
    expected = (y @ layer.W) * (1 + z @ layer.Ws) + layer.b + z @ layer.Wb
    assert torch.allclose(layer(y, z), expected)
    # z = 0: no modulation at all; the gain multiplies W y only, never the bias
    assert torch.allclose(layer(y, torch.zeros(5, 2)), y @ layer.W + layer.b)


def test_context_features_encode_previous_action_and_reward():
    obs = torch.tensor([[0.3], [-0.2]])
    c = context_features(obs, torch.tensor([-1, 3]), torch.tensor([0.0, 1.0]), 5)
    assert c.shape == (2, 7)
    assert torch.equal(c[0], torch.tensor([0.3, 0, 0, 0, 0, 0, 0.0]))  # first step: no action
    assert torch.equal(c[1], torch.tensor([-0.2, 0, 0, 0, 1, 0, 1.0]))


def _single_neuron_stack(hs0: float, micro_steps: int = 1) -> MSRCStack:
    """One mSRC neuron whose synapse passes the drive unchanged, bias 0."""
    stack = MSRCStack(1, (1,), micro_steps, constants=DIRECT, hs0_init=hs0, b_range=(0.0, 0.0))
    with torch.no_grad():
        stack.layers[0].synapse.weight.fill_(1.0)
    return stack


@torch.no_grad()
def _spikes(stack: MSRCStack, drive: float, mods, steps: int = 400, kick: bool = False) -> int:
    """Upward crossings of h = 0.5 under a constant drive, from rest (or from h = +1)."""
    x = torch.tensor([[drive]], dtype=torch.float32)
    states = stack.initial_state(1)
    out, cell_state = states[0]
    cell_state = cell_state._replace(h=torch.full((1, 1), 1.0 if kick else -1.0))
    cell_state = cell_state._replace(hs=torch.full((1, 1), 1.0 if kick else -1.0))
    states = [(out, cell_state)]
    hs = []
    for _ in range(steps):
        _, states = stack(x, states, mods)
        hs.append(float(states[0][1].h))
    h = np.array(hs[100:])  # after the transient
    return int(((h[1:] > 0.5) & (h[:-1] <= 0.5)).sum())


def _modulator_for(
    dhs0: float, db: float = 0.0, gain: float = 1.0
) -> tuple[MSRCModulator, torch.Tensor]:
    """A modulator whose first z component sets exactly these offsets (z = e_1)."""
    mod = MSRCModulator(z_dim=2, sizes=(1,))
    with torch.no_grad():
        for p in (*mod.Ws, *mod.Wb, *mod.Wh):
            p.zero_()
        mod.Ws[0][0, 0], mod.Wb[0][0, 0], mod.Wh[0][0, 0] = gain - 1.0, db, dhs0
    return mod, torch.tensor([[1.0, 0.0]])


def test_zero_modulation_is_the_unmodulated_network():
    torch.manual_seed(0)
    stack = MSRCStack(1, (8, 8), micro_steps=3)
    mod = MSRCModulator(4, (8, 8))
    x = torch.rand(6, 1) * 2 - 1
    s0 = stack.initial_state(6)
    y_mod, _ = stack(x, s0, mod(torch.zeros(6, 4)))
    y_plain, _ = stack(x, s0, None)
    assert torch.equal(y_mod, y_plain)


def test_stack_applies_modulation_through_the_cell_step():
    """Gain on the synaptic drive, offsets on b and h_s0, each per sample and per neuron."""
    torch.manual_seed(1)
    stack = MSRCStack(1, (5,), micro_steps=1)
    layer = stack.layers[0]
    x = torch.rand(3, 1)
    m = Modulation(torch.rand(3, 5) + 0.5, torch.randn(3, 5), 0.3 * torch.randn(3, 5))
    s0 = stack.initial_state(3)
    y, states = stack(x, s0, [m])
    ref_out, ref_state = msrc_step(
        layer.synapse(x) * m.gain, s0[0][1], layer.cell.b + m.bias, layer.cell.hs0 + m.hs0,
        layer.cell.constants,
    )  # fmt: skip
    assert torch.allclose(y, ref_out) and torch.allclose(states[0][1].h, ref_state.h)
    # and the cell's own modulated forward gives the same
    via_cell, _ = layer.cell(layer.synapse(x) * m.gain, s0[0][1], (m.bias, m.hs0))
    assert torch.allclose(via_cell, ref_out)


def test_hs0_modulation_silences_a_spiking_neuron_under_the_same_drive():
    """cells.md 4.7: at drive 3.0, h_s0 = 0.9 spikes (onset 2.16); h_s0 = 1.5 rests (onset 4.92)."""
    stack = _single_neuron_stack(hs0=0.9)
    none, z_off = _modulator_for(dhs0=0.0)
    up, z_up = _modulator_for(dhs0=0.6)
    assert _spikes(stack, 3.0, none(z_off)) >= 5
    assert _spikes(stack, 3.0, up(z_up)) == 0
    # the gain path: the same neuron with its synaptic drive scaled to 0 is silent too
    mute, z_mute = _modulator_for(dhs0=0.0, gain=0.0)
    assert _spikes(stack, 3.0, mute(z_mute)) == 0


def test_hs0_modulation_makes_a_neuron_type_2_star_with_hysteresis():
    """h_s0 = 0.5 (type 2*): at drive 2.5 it rests when started at rest, spikes when started
    excited; the unmodulated h_s0 = 0.9 neuron has no such window (rests from both)."""
    stack = _single_neuron_stack(hs0=0.9)
    down, z = _modulator_for(dhs0=-0.4)
    assert _spikes(stack, 2.5, down(z)) == 0
    assert _spikes(stack, 2.5, down(z), kick=True) >= 5
    none, z0 = _modulator_for(dhs0=0.0)
    assert _spikes(stack, 2.0, none(z0)) == 0 and _spikes(stack, 2.0, none(z0), kick=True) == 0


@pytest.mark.slow
def test_modulation_changes_the_excitability_class_measured_by_the_analysis_module():
    excitability = pytest.importorskip("modspike.studies.excitability.analysis")
    base = 1.0
    mod = MSRCModulator(z_dim=2, sizes=(1,))
    with torch.no_grad():
        for p in (*mod.Ws, *mod.Wb, *mod.Wh):
            p.zero_()
        mod.Wh[0][0, 0], mod.Wh[0][1, 0] = -0.5, 0.5  # z = e1 lowers h_s0, z = e2 raises it
    contexts = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    hs0 = (base + mod(contexts)[0].hs0[:, 0]).tolist()
    assert hs0 == pytest.approx([1.0, 0.5, 1.5])
    res = excitability.analyze("msrc", hs0=hs0, drives=np.linspace(0.0, 8.0, 33))
    classes = dict(zip((round(h, 2) for h in hs0), res.classes))
    assert classes[0.5] == "type2*"
    assert classes[1.0] != "type2*" and classes[1.5] != "type2*"
    # the modulation moves the onset: higher h_s0, higher onset drive (cells.md 4.7 table)
    onset = dict(zip((round(h, 2) for h in hs0), res.onset))
    assert onset[0.5] > onset[1.0] and onset[1.5] > onset[1.0] + 2.0


def test_modulation_is_trained_end_to_end():
    torch.manual_seed(0)
    agent = build_agent("nmd-msrc", sizes=(8,), micro_steps=2)
    env = MovingTarget(batch=8, horizon=5, seed=0)
    batch = rollout(agent, env, generator=torch.Generator().manual_seed(0))
    adv, _ = gae(batch["reward"], batch["value"], 0.95, 0.95)
    loss = -(batch["logp"] * adv).mean() + batch["value"].pow(2).mean()
    loss.backward()
    for name in ("context.gru.weight_hh", "modulator.Wh.0", "modulator.Wb.0", "modulator.Ws.0"):
        grad = dict(agent.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


@pytest.mark.parametrize("kind", ["nmd-msrc", "msrc", "nmd-mlp", "mlp", "gru"])
def test_every_agent_steps_with_the_same_interface(kind):
    torch.manual_seed(0)
    agent = build_agent(kind)
    state = agent.initial_state(4)
    logits, value, state = agent.step(
        torch.zeros(4, 1), torch.full((4,), -1), torch.zeros(4), state
    )
    assert logits.shape == (4, 5) and value.shape == (4,)
    with pytest.raises(ValueError):
        build_agent("lstm")


def test_gae_matches_a_hand_computed_example():
    rewards = torch.tensor([[1.0], [0.0], [2.0]])
    values = torch.tensor([[0.5], [0.2], [1.0]])
    adv, ret = gae(rewards, values, gamma=0.9, lam=0.5)
    d2 = 2.0 - 1.0
    d1 = 0.0 + 0.9 * 1.0 - 0.2
    d0 = 1.0 + 0.9 * 0.2 - 0.5
    a1 = d1 + 0.45 * d2
    assert torch.allclose(adv[:, 0], torch.tensor([d0 + 0.45 * a1, a1, d2]))
    assert torch.allclose(ret, adv + values)


def test_adaptation_metrics_of_a_constructed_reward_curve():
    # 4 episodes: on target from step 3 on (reward 1), before that -0.5
    r = torch.full((20, 4), -0.5)
    r[2:] = 1.0
    m = adaptation_metrics(r)
    assert m["steps_to_adapt"] == 3 and m["first_hit_median"] == 3
    assert m["late_reward"] == 1.0 and m["return"] == pytest.approx(18 - 1.0)
    assert m["early_reward"] == pytest.approx((-1.0 + 3.0) / 5)
    r[-1, :] = -0.5  # falls off at the end: never "adapted" by the stays-above rule
    assert adaptation_metrics(r)["steps_to_adapt"] is None


@pytest.mark.slow
def test_a2c_ci_run_shows_adaptation():
    """cells.md 5.6 CI-sized check on the GRU agent (the cheapest that adapts): return above
    -10 and late reward >= early reward + 0.3 (go-to-0, the best non-adapting policy: -20)."""
    threads = torch.get_num_threads()
    cfg = A2CConfig(iterations=400, batch=64, lr=3e-3, seed=0, eval_episodes=256)
    res = run("gru", cfg)
    m = res["sampled"]
    assert m["return"] > -10.0, m
    assert m["late_reward"] >= m["early_reward"] + 0.3, m
    assert res["history"][-1]["train_return"] > res["history"][0]["train_return"] + 10
    assert torch.get_num_threads() == threads  # one thread while training, then restored
