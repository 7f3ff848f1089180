"""NMD benchmark 1 port (studies/nmd_bench1): environment, networks, PPO-KL mechanics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modspike.studies.nmd_bench1.env import (
    PAPER_HIGH,
    REDUCED_HIGH,
    REDUCED_LOW,
    FeedbackFreePolicy,
    MovingTargetB1,
    ProbePolicy,
    normalised_score,
    scripted_return,
)
from modspike.studies.nmd_bench1.networks import (
    AuthorsGRU,
    NMDCopy,
    RNNCopy,
    build_copies,
    count_parameters,
)
from modspike.studies.nmd_bench1.ppo import (
    PPOKL,
    PPOConfig,
    gae,
    gaussian_kl,
    to_windows,
    window_states,
)

GRID = -10 + 20 * (np.arange(2000) + 0.5) / 2000  # offsets: a quadrature of U(-10, 10)


# --- environment -------------------------------------------------------------------------------


def test_env_step_rules():
    env = MovingTargetB1(4, horizon=3, rng=np.random.default_rng(0))
    obs = env.reset(offsets=[2.0, 2.0, -3.0, 9.0])
    p = env.pos.copy()
    assert np.allclose(obs[:, 0], p) and np.all(obs[:, 1:] == 0)
    # raw actions: x5 then clipped to +-20; slot 0 hits (within 1), 1 misses by 1.5, 3 is clipped
    raw = np.array([(p[0] + 2.4) / 5, (p[1] + 3.5) / 5, (p[2] - 3.0) / 5, 100.0])
    obs, reward, done = env.step(raw)
    assert reward[0] == 10.0 and env.pos[0] != p[0]  # hit: reward 10, new position
    assert reward[1] == pytest.approx(-1.5) and env.pos[1] == p[1]  # miss: -distance, p stays
    assert reward[2] == 10.0
    assert obs[3, 1] == 20.0 and reward[3] == pytest.approx(-(20.0 - p[3] - 9.0), rel=1e-6)
    assert np.allclose(obs[:, 1], np.clip(raw * 5, -20, 20)) and np.allclose(obs[:, 2], reward)
    assert np.all(np.abs(env.pos) <= 5) and not done
    env.step(np.zeros(4))
    assert env.step(np.zeros(4))[2]  # done after `horizon` steps


def test_env_rewards_clipped_at_minus_20():
    env = MovingTargetB1(1, rng=np.random.default_rng(1))
    env.reset(offsets=[10.0])
    _, reward, _ = env.step(np.array([-4.0]))  # action -20, target >= 5: distance > 20
    assert reward[0] == -20.0


def test_env_draws_cover_the_authors_ranges():
    env = MovingTargetB1(20000, rng=np.random.default_rng(2))
    env.reset()
    assert env.offset.min() < -9.9 and env.offset.max() > 9.9 and np.abs(env.offset).max() <= 10
    assert env.pos.min() < -4.99 and env.pos.max() > 4.99 and np.abs(env.pos).max() <= 5


def test_scripted_policies_pin_the_normalisation_constants():
    """fidelity.md 2.4: -388.2 (a = p; exact expectation -387.9), 958.8 (naive probe), 964.3
    (probe at p + 7.75) on 400 steps, gamma 0.99; 4679.0 on the paper's protocol."""
    assert scripted_return(FeedbackFreePolicy(), GRID).mean() == pytest.approx(REDUCED_LOW, abs=0.5)
    assert scripted_return(ProbePolicy(0.0), GRID).mean() == pytest.approx(958.8, abs=0.3)
    assert scripted_return(ProbePolicy(7.75), GRID).mean() == pytest.approx(REDUCED_HIGH, abs=0.3)
    paper = scripted_return(ProbePolicy(7.75), GRID, horizon=1400, gamma=0.998).mean()
    assert paper == pytest.approx(PAPER_HIGH, abs=0.5)
    assert normalised_score(REDUCED_HIGH) == pytest.approx(1.0)
    assert normalised_score(REDUCED_LOW) == pytest.approx(0.0)


# --- networks ----------------------------------------------------------------------------------


def test_parameter_counts_match_the_authors_code():
    """fidelity.md 2.2: NMD 9592 / 9541, RNN 9302 / 9291 (3.1 % apart), GRU(51) 9636 / 9625."""
    counts = {a: [count_parameters(m) for m in build_copies(a)] for a in ("nmd", "rnn")}
    assert counts == {"nmd": [9592, 9541], "rnn": [9302, 9291]}
    assert [count_parameters(m) for m in build_copies("rnn", gru_hidden=51)] == [9636, 9625]


def test_authors_gru_equations():
    torch.manual_seed(0)
    gru = AuthorsGRU(3, 5)
    assert gru.b.numel() == 10  # one bias per gate (z, r), none on the candidate
    x, h = torch.randn(1, 4, 3), torch.randn(4, 5)
    U, W, (bz, br) = gru.U, gru.W, gru.b.split(5)
    z = torch.sigmoid(x[0] @ U[:, :5] + h @ W[:, :5] + bz)
    r = torch.sigmoid(x[0] @ U[:, 5:10] + h @ W[:, 5:10] + br)
    c = torch.tanh(x[0] @ U[:, 10:] + r * (h @ W[:, 10:]))
    assert torch.allclose(gru.sequence(x, h)[0], (1 - z) * c + z * h, atol=1e-6)
    assert gru.U.abs().max() <= 0.2  # truncated normal, std 0.1, cut at 2 std


@pytest.mark.parametrize("copy", [NMDCopy(2), NMDCopy(2, z_lag=False), RNNCopy(2)])
def test_sequence_equals_stepping_and_windows_carry_state(copy):
    torch.manual_seed(1)
    obs = torch.randn(8, 3, 3)
    full, trace = copy.sequence(obs, copy.initial_state(3))
    state, steps = copy.initial_state(3), []
    for t in range(8):
        out, state = copy.step(obs[t], state)
        steps.append(out)
    assert torch.allclose(full, torch.stack(steps), atol=1e-5)
    starts = window_states(copy, trace, obs, 4)
    win, _ = copy.sequence(to_windows(obs, 4), starts)
    assert torch.allclose(win, to_windows(full, 4), atol=1e-5)


def test_nmd_hidden_layer_reads_the_previous_z():
    """With the authors' layer order, changing the NMN changes the hidden layer only one step
    later; the heads see z_t at once."""
    torch.manual_seed(2)
    net = NMDCopy(1)
    obs = torch.randn(3, 2, 3)
    base, _ = net.sequence(obs, net.initial_state(2))
    with torch.no_grad():
        net.hidden.Ws.zero_()
        net.hidden.Wb.zero_()
    no_mod, _ = net.sequence(obs, net.initial_state(2))
    assert torch.allclose(base[0], no_mod[0])  # z_{-1} = 0: the hidden layer is unmodulated at t=0
    assert not torch.allclose(base[1:], no_mod[1:])


# --- PPO-KL ------------------------------------------------------------------------------------


def test_gae_and_value_targets_by_hand():
    r = np.array([[1.0, -2.0, 3.0]])
    v = np.array([[0.5, 0.1, -0.2]])
    g, lam = 0.9, 0.5
    rs = r * (1 - g)  # gamma < 0.999: rewards scaled by 1 - gamma
    delta = rs - v + np.array([[g * 0.1, g * -0.2, 0.0]])
    adv = [delta[0, 0] + g * lam * delta[0, 1] + (g * lam) ** 2 * delta[0, 2]]
    got_adv, got_tgt = gae(r, v, g, lam)
    assert got_adv[0, 0] == pytest.approx(adv[0])
    assert got_adv[0, 2] == pytest.approx(delta[0, 2])
    assert got_tgt[0, 0] == pytest.approx(rs[0, 0] + g * rs[0, 1] + g * g * rs[0, 2])
    _, unscaled = gae(r, v, 0.999, lam)
    assert unscaled[0, 2] == pytest.approx(3.0)


def test_kl_is_kl_old_new():
    old_mu, old_lv, mu, lv = (torch.tensor([v]) for v in (0.3, -1.0, -0.2, -0.5))
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(old_mu, (old_lv / 2).exp()),
        torch.distributions.Normal(mu, (lv / 2).exp()),
    )
    assert torch.allclose(gaussian_kl(old_mu, old_lv, mu, lv), ref, atol=1e-5)


def _tiny(arch: str = "nmd", **kw) -> PPOKL:
    torch.manual_seed(0)
    cfg = PPOConfig(episodes=8, batch=4, horizon=20, train_cut=20, window=10, policy_steps=2,
                    critic_epochs=1, critic_minibatch=4, initial_episodes=2, **kw)  # fmt: skip
    return PPOKL(*build_copies(arch), cfg, seed=0)


def test_shared_noise_is_one_draw_per_step():
    ppo = _tiny()
    batch = ppo.rollout(4)
    heads, _ = ppo.actor.sequence(batch.obs, ppo.actor.initial_state(4))
    mu, logvar = ppo.mean_logvar(heads)
    eps = (batch.actions - mu) / (logvar / 2).exp()
    assert torch.allclose(eps, eps[:, :1].expand_as(eps), atol=1e-4)
    independent = _tiny(shared_noise=False).rollout(4).actions
    assert not torch.allclose(independent[:, 0], independent[:, 1])


def test_a_large_step_is_reverted_with_beta_up_2_25():
    ppo = _tiny(policy_lr=0.5)  # steps far past 4 x kl_target
    before = {k: v.clone() for k, v in ppo.actor.state_dict().items()}
    info = ppo.update(ppo.rollout(4))
    assert info["reverted"] and info["kl"] > 4 * ppo.cfg.kl_target
    assert all(torch.equal(before[k], v) for k, v in ppo.actor.state_dict().items())
    assert ppo.beta == pytest.approx(2.25)
    assert not ppo.policy_opt.state  # the Adam state is restored too (empty before the first step)


def test_a_tiny_step_lowers_beta_and_keeps_the_update():
    ppo = _tiny(policy_lr=1e-7)
    before = {k: v.clone() for k, v in ppo.actor.state_dict().items()}
    critic_before = {k: v.clone() for k, v in ppo.critic.state_dict().items()}
    info = ppo.update(ppo.rollout(4))
    assert not info["reverted"] and info["kl"] < ppo.cfg.kl_target / 2
    assert ppo.beta == pytest.approx(1 / 1.5)
    assert any(not torch.equal(before[k], v) for k, v in ppo.actor.state_dict().items())
    assert any(not torch.equal(critic_before[k], v) for k, v in ppo.critic.state_dict().items())


def test_train_logs_every_episode():
    ppo = _tiny("rnn")
    history = ppo.train()
    assert len(history["discounted_return"]) == 8 and len(history["updates"]) == 2
    assert len(history["initial_discounted_return"]) == 2
    assert set(ppo.evaluate(episodes=3)) == {"sampled", "mean"}


# --- spiking extension -------------------------------------------------------------------------


def _reference_body_step(actor, x, states, mods):
    """The mSRC equations written out (``msrc_step`` per micro-step and layer, the gain on the
    synaptic drive, the offsets on ``b`` and ``h_s0``): what the step loop must compute."""
    from modspike.kinds.cells.msrc.float_step import msrc_step

    states, total = list(states), 0.0
    for _ in range(actor.body.micro_steps):
        s = x
        for k, (layer, m) in enumerate(zip(actor.body.layers, mods)):
            a_in = layer.synapse(s) * m.gain
            b, hs0 = layer.cell.b + m.bias, layer.cell.hs0 + m.hs0
            s, cell_state = msrc_step(a_in, states[k][1], b, hs0, layer.cell.constants)
            states[k] = (s, cell_state)
        total = total + (s if actor.options.readout == "rate" else cell_state.h)
    return total / actor.body.micro_steps, states


@pytest.mark.parametrize("options", [{}, {"readout": "membrane", "layers": 2}])
def test_spiking_body_step_is_the_msrc_equations(options):
    from modspike.studies.nmd_bench1.spiking import SpikingNMDCopy

    torch.manual_seed(3)
    actor = SpikingNMDCopy(micro_steps=4, **options)
    x = torch.randn(5, 1)
    mods = actor.modulator(torch.rand(5, 20))
    state = actor.body.initial_state(5)
    ours, ours_state = actor.body_step(x, state, mods)
    ref, ref_state = _reference_body_step(actor, x, state, mods)
    assert torch.allclose(ours, ref, atol=1e-6)
    assert torch.allclose(ours_state[-1][1].h, ref_state[-1][1].h, atol=1e-6)
    if actor.options.readout == "rate":  # the deployable stack's own forward agrees
        stack, _ = actor.body(x, state, mods)
        assert torch.allclose(ours, stack)


@pytest.mark.parametrize("options", [{}, {"readout": "membrane", "layers": 2, "micro_steps": 2}])
def test_spiking_copy_sequence_equals_stepping(options):
    from modspike.studies.nmd_bench1.spiking import SpikingNMDCopy

    torch.manual_seed(4)
    copy = SpikingNMDCopy(**options)
    obs = torch.randn(6, 3, 3)
    full, trace = copy.sequence(obs, copy.initial_state(3))
    state, steps = copy.initial_state(3), []
    for t in range(6):
        out, state = copy.step(obs[t], state)
        steps.append(out)
    assert torch.allclose(full, torch.stack(steps), atol=1e-5)
    win, _ = copy.sequence(to_windows(obs, 3), window_states(copy, trace, obs, 3))
    assert torch.allclose(win, to_windows(full, 3), atol=1e-5)


def test_cloning_uses_the_frozen_teacher_nmn_and_lowers_the_loss():
    from modspike.studies.nmd_bench1.spiking import (
        clone,
        cloning_share,
        modulator_gradients,
        student_from_teacher,
        teacher_data,
    )

    torch.manual_seed(5)
    teacher = NMDCopy(2)
    cfg = PPOConfig(horizon=20)
    obs, mu = teacher_data(teacher, cfg, episodes=8)
    assert obs.shape == (20, 8, 3) and mu.shape == (20, 8, 2)
    student = student_from_teacher(teacher, micro_steps=2)
    assert torch.equal(student.gru.U, teacher.gru.U)
    nmn = [p.clone() for p in student.nmn_parameters()]
    losses = clone(student, obs, mu, steps=30, batch=4, window=10, lr=1e-2)
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert all(torch.equal(a, b) for a, b in zip(nmn, student.nmn_parameters()))
    assert 0.0 <= cloning_share(student, obs, mu) <= 1.0
    grads = {d: modulator_gradients(student_from_teacher(teacher, detach_rec=d), obs, mu)
             for d in (True, False)}  # fmt: skip
    assert all(v > 0 for g in grads.values() for v in g.values())


def test_ppo_trains_the_spiking_actor():
    from modspike.studies.nmd_bench1.spiking import SpikingNMDCopy

    torch.manual_seed(6)
    cfg = PPOConfig(episodes=4, batch=4, horizon=10, train_cut=10, window=5, policy_steps=1,
                    critic_epochs=1, critic_minibatch=4, initial_episodes=1)  # fmt: skip
    ppo = PPOKL(SpikingNMDCopy(micro_steps=2), NMDCopy(1), cfg)
    history = ppo.train()
    assert len(history["discounted_return"]) == 4 and np.isfinite(history["updates"][0]["kl"])
