"""Benchmark 1 of the NMD paper: the authors' ``MovingTarget`` environment, vectorised.

Port of ``nvecoven/nmd_net@af43e17:ReinforcementLearning/Environments/MovingTarget.py`` with the
benchmark-1 arguments of ``Training/meta_rl_launcher.py:69-72`` (``intra_variation_frequency = 0``,
``act_multiplicator = 5``; fidelity.md 2.1):

* at reset: position ``p ~ U(-5, 5)`` and a hidden offset ``o ~ U(-10, 10)``, fixed for the episode;
  the target is ``g = p + o``;
* action: one real number, multiplied by 5 and clipped to [-20, 20];
* hit (``|g - a| < 1``): reward 10 and a new position ``p ~ U(-5, 5)``; otherwise reward
  ``clip(-|g - a|, -20, 20)`` and ``p`` stays;
* observation ``[p_t, a_{t-1}, r_{t-1}]`` with the scaled, clipped action; ``[p_0, 0, 0]`` at reset.

The authors' episodes last 1400 steps; the reduced protocol uses 400 (``horizon``).

Also here: the scripted reference policies of fidelity.md 2.4, which fix the normalised score
``(R - LOW) / (HIGH - LOW)`` of the reduced protocol.
"""

from __future__ import annotations

import numpy as np

ACT_MULTIPLICATOR = 5.0
MAX_BOUND = 10.0  # positions in +-MAX_BOUND/2, actions and rewards clipped to +-2*MAX_BOUND
MARGIN = 1.0
HIT_REWARD = 10.0
OFFSET_RANGE = 10.0

# fidelity.md 2.4: discounted returns of scripted policies on this port
REDUCED_LOW = -388.2  # a = p (400 steps, gamma 0.99): the best policy that ignores feedback
REDUCED_HIGH = 964.3  # probe at p + 7.75, then exploit (the best scripted policy found)
PAPER_LOW = -1853.0  # the same on the paper's protocol (1400 steps, gamma 0.998)
PAPER_HIGH = 4679.0  # = the paper's Bayes-optimal return [secondary]
PAPER_NMD_RETURN = 4534.0  # the paper's NMD after 20 000 episodes [secondary]


def normalised_score(ret, low: float = REDUCED_LOW, high: float = REDUCED_HIGH):
    """``(R - low) / (high - low)``: 0 = ignores feedback, 1 = the best scripted policy."""
    return (np.asarray(ret, dtype=np.float64) - low) / (high - low)


def applied_action(raw_action: np.ndarray) -> np.ndarray:
    """The action the environment applies (env units, float64): the policy's raw output times
    ``ACT_MULTIPLICATOR``, clipped to ``+-2 * MAX_BOUND``."""
    return np.clip(
        np.asarray(raw_action, dtype=np.float64) * ACT_MULTIPLICATOR, -2 * MAX_BOUND, 2 * MAX_BOUND
    )


class MovingTargetB1:
    """``batch`` parallel episodes of benchmark 1 drawn from ``rng`` (a numpy ``Generator``)."""

    obs_dim = 3
    act_dim = 1

    def __init__(self, batch: int, horizon: int = 400, rng: np.random.Generator | None = None):
        if batch < 1 or horizon < 1:
            raise ValueError("batch and horizon must be at least 1")
        self.batch, self.horizon = batch, horizon
        self.rng = rng if rng is not None else np.random.default_rng()
        self.pos = np.zeros(batch)
        self.offset = np.zeros(batch)
        self.t = 0

    def _positions(self, n: int) -> np.ndarray:
        return (self.rng.random(n) - 0.5) * MAX_BOUND

    def reset(self, offsets: np.ndarray | None = None) -> np.ndarray:
        """New episodes; ``offsets`` fixes the hidden offsets (tests), else U(-10, 10)."""
        self.pos = self._positions(self.batch)
        if offsets is None:
            self.offset = (self.rng.random(self.batch) - 0.5) * 2.0 * OFFSET_RANGE
        else:
            self.offset = np.broadcast_to(np.asarray(offsets, dtype=np.float64), (self.batch,))
            self.offset = self.offset.copy()
        self.t = 0
        zeros = np.zeros(self.batch)
        return np.stack([self.pos, zeros, zeros], -1).astype(np.float32)

    @property
    def target(self) -> np.ndarray:
        return self.pos + self.offset

    def step(self, raw_action: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """``raw_action`` (B,) as the policy outputs it -> ``(obs (B, 3), reward (B,), done)``."""
        a = applied_action(np.asarray(raw_action).reshape(self.batch))
        dist = np.abs(self.target - a)
        hit = dist < MARGIN
        new_pos = self._positions(self.batch)
        reward = np.where(hit, HIT_REWARD, np.clip(-dist, -2 * MAX_BOUND, 2 * MAX_BOUND))
        self.pos = np.where(hit, new_pos, self.pos)
        self.t += 1
        obs = np.stack([self.pos, a, reward], -1).astype(np.float32)
        return obs, reward, self.t >= self.horizon


# --- scripted reference policies (env units; divide by ACT_MULTIPLICATOR for a raw action) -------


class FeedbackFreePolicy:
    """``a = p``: the best policy that ignores the rewards (it assumes offset 0)."""

    def reset(self, batch: int) -> None:
        pass

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return obs[:, 0].astype(np.float64)


class ProbePolicy:
    """Probe at ``p + probe``; the reward's distance leaves two candidate offsets ``probe +- d``;
    keep the one inside [-10, 10] if only one is, else try ``probe - d`` then ``probe + d``; then
    exploit ``a = p + offset``. ``probe = 0`` is the naive two-probe policy, ``probe = 7.75`` the
    best found (fidelity.md 2.4)."""

    def __init__(self, probe: float = 7.75):
        self.probe = probe

    def reset(self, batch: int) -> None:
        # 0 first step, 1 probe sent, 2 first candidate sent, 3 offset known
        self.phase = np.zeros(batch, dtype=np.int64)
        self.guess = np.full(batch, float(self.probe))
        self.other = np.zeros(batch)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        p, prev_reward = obs[:, 0].astype(np.float64), obs[:, 2].astype(np.float64)
        hit = prev_reward == HIT_REWARD
        phase = self.phase.copy()
        d = -prev_reward
        low, high = self.probe - d, self.probe + d
        low_ok, high_ok = np.abs(low) <= OFFSET_RANGE, np.abs(high) <= OFFSET_RANGE
        sure = hit | ~(low_ok & high_ok)
        single = np.where(hit, self.probe, np.where(low_ok, low, high))
        probed = phase == 1
        self.guess = np.where(probed, np.where(sure, single, low), self.guess)
        self.other = np.where(probed, high, self.other)
        tried = phase == 2
        self.guess = np.where(tried & ~hit, self.other, self.guess)
        self.phase = np.select([phase == 0, probed], [1, np.where(sure, 3, 2)], 3)
        return p + self.guess


def scripted_return(
    policy,
    offsets: np.ndarray,
    horizon: int = 400,
    gamma: float = 0.99,
    seed: int = 0,
) -> np.ndarray:
    """Discounted return of a scripted ``policy`` (env units) in one episode per offset."""
    env = MovingTargetB1(len(offsets), horizon, np.random.default_rng(seed))
    obs = env.reset(offsets)
    policy.reset(env.batch)
    total, disc = np.zeros(env.batch), 1.0
    done = False
    while not done:
        action = policy(obs) / ACT_MULTIPLICATOR
        obs, reward, done = env.step(action)
        total += disc * reward
        disc *= gamma
    return total
