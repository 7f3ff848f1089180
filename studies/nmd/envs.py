"""A vectorised moving-target task with an unobservable change (cells.md section 5.6).

``B`` parallel episodes of ``T`` steps. Each episode draws a start position ``x0`` and a hidden
target ``g`` from U(-1, 1). Five discrete actions move ``x`` by {-0.2, -0.1, 0, +0.1, +0.2}; ``x`` is
clipped to [-1, 1]. The reward for landing on ``x`` is +1 if ``|x - g| < 0.1``, else ``-|x - g|``.
The agent observes ``x`` only: the target changes between episodes and is never part of the
observation, so a good return needs an agent that infers ``g`` from the rewards it receives
(meta-RL in the spirit of NMD's first benchmark).

Reference returns (T = 50): a scripted go-to-0 policy, the best a non-adapting agent can do in
expectation, about -19.6; an oracle that knows ``g``, about 46.4.
"""

from __future__ import annotations

import torch

ACTION_MOVES = (-0.2, -0.1, 0.0, 0.1, 0.2)


class MovingTarget:
    """``batch`` parallel episodes of the moving-target task, drawn from a seeded generator.

    ``reset()`` starts a new episode in every slot (new hidden targets); ``step(actions)`` applies one
    action per slot. Same ``seed`` -> the same sequence of episodes, whatever the actions.
    """

    n_actions = len(ACTION_MOVES)
    obs_dim = 1

    def __init__(
        self,
        batch: int,
        horizon: int = 50,
        seed: int = 0,
        tolerance: float = 0.1,
        bound: float = 1.0,
    ):
        if batch < 1 or horizon < 1:
            raise ValueError("batch and horizon must be at least 1")
        self.batch, self.horizon = batch, horizon
        self.tolerance, self.bound = tolerance, bound
        self.moves = torch.tensor(ACTION_MOVES)
        self.generator = torch.Generator().manual_seed(seed)
        self.x = torch.zeros(batch)
        self._target = torch.zeros(batch)
        self.t = 0

    def _uniform(self) -> torch.Tensor:
        return (2 * torch.rand(self.batch, generator=self.generator) - 1) * self.bound

    def reset(self) -> torch.Tensor:
        """New episodes in all slots; returns the observation ``x`` of shape (B, 1)."""
        self.x = self._uniform()
        self._target = self._uniform()
        self.t = 0
        return self.observation()

    def observation(self) -> torch.Tensor:
        """What the agent sees: the position only, (B, 1). The target is not in it."""
        return self.x.unsqueeze(-1).clone()

    def reward_at(self, x: torch.Tensor) -> torch.Tensor:
        dist = (x - self._target).abs()
        return torch.where(dist < self.tolerance, torch.ones_like(dist), -dist)

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """Apply ``actions`` (B,) int64 in [0, 5); returns ``(observation, reward (B,), done)``."""
        if self.t >= self.horizon:
            raise RuntimeError("episode is over; call reset()")
        actions = actions.long()
        if actions.shape != (self.batch,) or actions.min() < 0 or actions.max() >= self.n_actions:
            raise ValueError(f"actions must be ({self.batch},) integers in [0, {self.n_actions})")
        self.x = (self.x + self.moves[actions]).clamp(-self.bound, self.bound)
        reward = self.reward_at(self.x)
        self.t += 1
        return self.observation(), reward, self.t >= self.horizon

    # --- scripted reference policies (they read the hidden target; for baselines and tests) ---

    def oracle_actions(self) -> torch.Tensor:
        """The action that brings ``x`` closest to the hidden target (an agent that knows ``g``)."""
        cand = (self.x.unsqueeze(-1) + self.moves).clamp(-self.bound, self.bound)
        return (cand - self._target.unsqueeze(-1)).abs().argmin(-1)

    def go_to_zero_actions(self) -> torch.Tensor:
        """The best non-adapting policy: move to 0, the centre of the target distribution."""
        cand = (self.x.unsqueeze(-1) + self.moves).clamp(-self.bound, self.bound)
        return cand.abs().argmin(-1)

    @property
    def hidden_target(self) -> torch.Tensor:
        """The targets of the current episodes (for analysis and scripted baselines only)."""
        return self._target.clone()


def scripted_return(policy: str, episodes: int = 4096, horizon: int = 50, seed: int = 0) -> dict:
    """Mean return and mean reward per step of ``'oracle'`` or ``'go_to_zero'``."""
    env = MovingTarget(episodes, horizon, seed)
    env.reset()
    rewards = []
    done = False
    while not done:
        acts = env.oracle_actions() if policy == "oracle" else env.go_to_zero_actions()
        _, r, done = env.step(acts)
        rewards.append(r)
    per_step = torch.stack(rewards)  # (T, B)
    return {
        "return": float(per_step.sum(0).mean()),
        "reward_per_step": per_step.mean(1).tolist(),
    }
