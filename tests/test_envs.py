"""The moving-target environment (cells.md 5.6): rewards, clipping, hidden target, determinism."""

from __future__ import annotations

import pytest
import torch

from modspike.studies.nmd.envs import ACTION_MOVES, MovingTarget, scripted_return


def test_rewards_follow_the_distance_to_the_hidden_target():
    env = MovingTarget(batch=512, horizon=50, seed=3)
    env.reset()
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        x_before, target = env.x.clone(), env.hidden_target
        actions = torch.randint(0, 5, (512,), generator=gen)
        _, reward, _ = env.step(actions)
        x_after = (x_before + torch.tensor(ACTION_MOVES)[actions]).clamp(-1, 1)
        dist = (x_after - target).abs()
        expected = torch.where(dist < 0.1, torch.ones_like(dist), -dist)
        assert torch.allclose(env.x, x_after)
        assert torch.allclose(reward, expected)
    # both branches of the reward were exercised
    assert (reward == 1).any() and (reward < 0).any()


def test_position_is_clipped_to_the_line():
    env = MovingTarget(batch=64, seed=1)
    env.reset()
    for _ in range(12):
        obs, _, _ = env.step(torch.full((64,), 4))
    assert torch.all(obs == 1.0)
    for _ in range(12):
        obs, _, _ = env.step(torch.full((64,), 0))
    assert torch.all(obs == -1.0)
    env.step(torch.full((64,), 2))  # "stay" keeps x
    assert torch.all(env.x == -1.0)


def test_target_is_never_observed_only_reward_reveals_it():
    a, b = MovingTarget(batch=256, seed=5), MovingTarget(batch=256, seed=5)
    obs_a = a.reset()
    b.reset()
    assert obs_a.shape == (256, 1) and torch.equal(obs_a[:, 0], a.x)
    b._target = -a.hidden_target  # same positions, other hidden targets
    actions = torch.randint(0, 5, (256,), generator=torch.Generator().manual_seed(0))
    (oa, ra, _), (ob, rb, _) = a.step(actions), b.step(actions)
    assert torch.equal(oa, ob), "the observation must not depend on the target"
    assert not torch.equal(ra, rb), "the reward must"
    first = a.hidden_target
    a.reset()
    assert not torch.allclose(first, a.hidden_target), "each episode draws a new target"
    assert a.hidden_target.abs().max() <= 1.0


def test_same_seed_same_episodes_other_seed_other_episodes():
    def trace(seed: int) -> torch.Tensor:
        env = MovingTarget(batch=32, horizon=10, seed=seed)
        gen = torch.Generator().manual_seed(7)
        out = []
        for _ in range(2):  # two consecutive batches of episodes
            out.append(env.reset())
            done = False
            while not done:
                obs, r, done = env.step(torch.randint(0, 5, (32,), generator=gen))
                out += [obs, r.unsqueeze(-1)]
        return torch.cat(out, -1)

    assert torch.equal(trace(11), trace(11))
    assert not torch.equal(trace(11), trace(12))


def test_episode_ends_at_the_horizon_and_actions_are_checked():
    env = MovingTarget(batch=4, horizon=3)
    env.reset()
    dones = [env.step(torch.zeros(4, dtype=torch.long))[2] for _ in range(3)]
    assert dones == [False, False, True]
    with pytest.raises(RuntimeError):
        env.step(torch.zeros(4, dtype=torch.long))
    env.reset()
    with pytest.raises(ValueError):
        env.step(torch.full((4,), 5))
    with pytest.raises(ValueError):
        env.step(torch.zeros(3, dtype=torch.long))


def test_reference_returns_of_scripted_policies():
    """cells.md 5.6: go-to-0 (best without adapting) about -19.6, oracle about 46.4."""
    oracle = scripted_return("oracle", episodes=8192, seed=0)
    centre = scripted_return("go_to_zero", episodes=8192, seed=0)
    assert oracle["return"] == pytest.approx(46.4, abs=0.6)
    assert centre["return"] == pytest.approx(-19.8, abs=0.6)
    assert oracle["reward_per_step"][-1] == 1.0  # the oracle sits on the target at the end
    # the go-to-0 policy's reward is flat after the first few steps: nothing to adapt to
    late = centre["reward_per_step"][10:]
    assert max(late) - min(late) < 0.05
