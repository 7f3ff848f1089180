"""The authors' PPO with an adaptive KL penalty (fidelity.md 2.3), for the copies of ``networks``.

Source: ``nvecoven/nmd_net@af43e17`` ``ReinforcementLearning/PPO/PPO_manager.py`` and
``PPO_networks.py``, ``Models/NetworkCreation/Network.py`` (``fit_full_batch``, ``fit_epoch``,
``predict``) and the cost layers. One update per batch of ``batch`` parallel episodes:

1. values of the critic over the whole episodes (once, before both updates); value targets and GAE
   with rewards scaled by ``1 - gamma`` when ``gamma < 0.999``; advantages normalised over the batch;
2. policy: the old means / log-variances and the TBPTT window start states from one forward pass;
   ``policy_steps`` Adam steps on the *same* full batch (all episodes, cut into ``window``-step
   windows) of ``-mean(A e^{log pi - log pi_old}) + beta mean(KL) + eta mean(max(0, KL - 2 kl_target)^2)``
   with KL(old || new) of the diagonal Gaussians; no ratio clipping, no entropy bonus, no gradient
   clipping; the Adam state persists across updates;
3. KL over the batch with the new policy: above ``4 kl_target`` (or NaN) the update is reverted
   (parameters, Adam state, beta and the learning-rate multiplier) and beta grows by 1.5; then the
   servo: KL above ``2 kl_target`` -> beta x 1.5 (max 35; learning rate / 1.5 when beta > 30), below
   ``kl_target / 2`` -> beta / 1.5 (min 1/35; learning rate x 1.5 when beta < 1/30);
4. critic: ``critic_epochs`` epochs over the last ``critic_buffer`` batches, minibatches of
   ``critic_minibatch`` windows, MSE, its own Adam; window start states from a forward pass of the
   current critic.

The policy is Gaussian: ``mu`` = head 0, ``log sigma^2 = head 1 + init_logvar``; actions are
``mu + sigma eps`` with, by default, one ``eps`` per step shared by all parallel episodes
(``SampleNormalLayer.py:15``, ``shared_noise``).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy.signal import lfilter
from torch import nn

from .env import MovingTargetB1
from .networks import map_states, stack_states


@dataclass
class PPOConfig:
    """fidelity.md 2.3 and 2.5 (the reduced protocol: 400 steps, gamma 0.99, 6000 episodes)."""

    episodes: int = 6000
    batch: int = 50
    horizon: int = 400
    train_cut: int = 400  # train on the first steps of each episode (the authors' 400 of 1400)
    gamma: float = 0.99
    lam: float = 0.98
    window: int = 200  # TBPTT
    policy_steps: int = 20
    critic_epochs: int = 10
    critic_buffer: int = 3  # batches
    critic_minibatch: int = 25  # windows
    policy_lr: float = 2e-4
    critic_lr: float = 6e-3
    kl_target: float = 0.003
    beta0: float = 1.0
    eta: float = 50.0
    init_logvar: float = -1.0
    initial_episodes: int = 20  # logged before training, not trained on
    shared_noise: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def discount(x: np.ndarray, gamma: float) -> np.ndarray:
    """``y_t = sum_k gamma^k x_{t+k}`` along the last axis."""
    return lfilter([1.0], [1.0, -gamma], x[..., ::-1], axis=-1)[..., ::-1]


def gae(
    rewards: np.ndarray, values: np.ndarray, gamma: float, lam: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(advantages, value targets)`` for (B, T) arrays, as ``PPO_manager.py:245-270``.

    ``delta_t = r_t - V_t + gamma V_{t+1}`` with ``V_T = 0``; rewards are scaled by ``1 - gamma``
    when ``gamma < 0.999``.
    """
    r = rewards * (1 - gamma) if gamma < 0.999 else rewards
    next_v = np.concatenate([values[:, 1:] * gamma, np.zeros_like(values[:, :1])], 1)
    return discount(r - values + next_v, gamma * lam), discount(r, gamma)


def gaussian_log_prob(a: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``NormalLogProbLayer``: the log-density without its constant (1-D actions)."""
    return -0.5 * logvar - 0.5 * (a - mu).pow(2) / (logvar.exp() + 1e-6)


def gaussian_kl(
    old_mu: torch.Tensor, old_logvar: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> torch.Tensor:
    """``KlLayer``: KL(old || new) of 1-D Gaussians given by mean and log-variance."""
    return 0.5 * (
        logvar
        - old_logvar
        + (old_logvar - logvar).exp()
        + (mu - old_mu).pow(2) / (logvar.exp() + 1e-6)
        - 1
    )


def policy_loss(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    actions: torch.Tensor,
    advantages: torch.Tensor,
    old_mu: torch.Tensor,
    old_logvar: torch.Tensor,
    beta: float,
    eta: float,
    kl_target: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The authors' three policy costs summed; returns ``(loss, mean KL)``."""
    ratio = (
        gaussian_log_prob(actions, mu, logvar) - gaussian_log_prob(actions, old_mu, old_logvar)
    ).exp()
    kl = gaussian_kl(old_mu, old_logvar, mu, logvar)
    loss = (
        -(advantages * ratio).mean()
        + beta * kl.mean()
        + eta * torch.relu(kl - 2.0 * kl_target).pow(2).mean()
    )
    return loss, kl.mean()


@dataclass
class Batch:
    """One batch of episodes, time-major: ``obs`` (T, B, 3) float32 tensor (what the policy saw),
    ``actions`` (T, B) raw policy outputs, ``rewards`` (B, T) float64."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: np.ndarray

    def discounted_returns(self, gamma: float) -> np.ndarray:
        return self.rewards @ (gamma ** np.arange(self.rewards.shape[1]))

    def returns(self) -> np.ndarray:
        return self.rewards.sum(1)


def to_windows(x: torch.Tensor, window: int) -> torch.Tensor:
    """(T, B, ...) -> (window, B * T / window, ...), window k of episode b at batch ``k B + b``."""
    steps, batch = x.shape[:2]
    if steps % window:
        raise ValueError(f"episode length {steps} is not a multiple of the window {window}")
    n = steps // window
    return (
        x.reshape(n, window, batch, *x.shape[2:])
        .transpose(0, 1)
        .reshape(window, n * batch, *x.shape[2:])
    )


def window_states(net: nn.Module, trace, obs: torch.Tensor, window: int) -> object:
    """Start states of the windows of :func:`to_windows`: zero, then the state after the previous
    window's last step in the forward pass ``trace`` (``Network.py:409-463``)."""
    batch = obs.shape[1]
    starts = [net.initial_state(batch)]
    for t in range(window - 1, obs.shape[0] - 1, window):
        starts.append(net.state_at(trace, obs, t))
    return stack_states(starts)


class PPOKL:
    """PPO-KL for one ``(actor, critic)`` pair; ``train`` runs the whole protocol."""

    def __init__(self, actor: nn.Module, critic: nn.Module, cfg: PPOConfig, seed: int = 0):
        self.actor, self.critic, self.cfg = actor, critic, cfg
        self.policy_opt = torch.optim.Adam(actor.parameters(), lr=cfg.policy_lr)
        self.critic_opt = torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr)
        self.beta, self.lr_multiplier = cfg.beta0, 1.0
        self.rng = np.random.default_rng(seed)
        self.noise = torch.Generator().manual_seed(seed + 7919)
        self.critic_buffer: list[tuple[torch.Tensor, torch.Tensor]] = []

    # --- acting --------------------------------------------------------------------------------

    def mean_logvar(self, heads: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return heads[..., 0], heads[..., 1] + self.cfg.init_logvar

    @torch.no_grad()
    def rollout(
        self,
        episodes: int,
        rng: np.random.Generator | None = None,
        mode: str = "train",
        noise: torch.Generator | None = None,
    ) -> Batch:
        """``episodes`` parallel episodes. ``mode``: ``train`` (sampled, shared noise if
        configured), ``sampled`` (independent noise per episode) or ``mean`` (``a = mu``)."""
        env = MovingTargetB1(episodes, self.cfg.horizon, rng if rng is not None else self.rng)
        gen = noise if noise is not None else self.noise
        obs = torch.from_numpy(env.reset())
        state = self.actor.initial_state(episodes)
        all_obs, actions, rewards = [], [], []
        done = False
        while not done:
            heads, state = self.actor.step(obs, state)
            mu, logvar = self.mean_logvar(heads)
            if mode == "mean":
                a = mu
            else:
                shared = mode == "train" and self.cfg.shared_noise
                eps = torch.randn(1 if shared else episodes, generator=gen)
                a = mu + (logvar / 2).exp() * eps
            all_obs.append(obs)
            actions.append(a)
            obs_np, reward, done = env.step(a.numpy())
            obs = torch.from_numpy(obs_np)
            rewards.append(reward)
        return Batch(torch.stack(all_obs), torch.stack(actions), np.stack(rewards, 1))

    # --- one update ----------------------------------------------------------------------------

    @torch.no_grad()
    def values(self, obs: torch.Tensor) -> np.ndarray:
        out, _ = self.critic.sequence(obs, self.critic.initial_state(obs.shape[1]))
        return out[..., 0].T.double().numpy()

    def update(self, batch: Batch) -> dict:
        cfg = self.cfg
        t0 = time.perf_counter()
        adv, targets = gae(batch.rewards, self.values(batch.obs), cfg.gamma, cfg.lam)
        cut = min(cfg.train_cut, batch.obs.shape[0])
        obs, actions = batch.obs[:cut], batch.actions[:cut]
        adv, targets = adv[:, :cut], targets[:, :cut]
        adv = (adv - adv.mean()) / (adv.std() + 1e-6)
        adv_t = torch.as_tensor(adv.T.copy(), dtype=torch.float32)
        targets_t = torch.as_tensor(targets.T.copy(), dtype=torch.float32)
        info = self.update_policy(obs, actions, adv_t)
        self.critic_buffer = (self.critic_buffer + [(obs, targets_t)])[-cfg.critic_buffer :]
        info["critic_loss"] = self.update_critic()
        info["seconds"] = time.perf_counter() - t0
        return info

    def update_policy(self, obs: torch.Tensor, actions: torch.Tensor, adv: torch.Tensor) -> dict:
        cfg = self.cfg
        saved = (
            copy.deepcopy(self.actor.state_dict()),
            copy.deepcopy(self.policy_opt.state_dict()),
            self.beta,
            self.lr_multiplier,
        )
        with torch.no_grad():
            heads, trace = self.actor.sequence(obs, self.actor.initial_state(obs.shape[1]))
            old_mu, old_logvar = self.mean_logvar(heads)
            starts = window_states(self.actor, trace, obs, cfg.window)
        w = cfg.window
        win_obs, win_act, win_adv = (to_windows(x, w) for x in (obs, actions, adv))
        win_mu, win_logvar = to_windows(old_mu, w), to_windows(old_logvar, w)
        for group in self.policy_opt.param_groups:
            group["lr"] = cfg.policy_lr * self.lr_multiplier
        for _ in range(cfg.policy_steps):
            heads, _ = self.actor.sequence(win_obs, starts)
            mu, logvar = self.mean_logvar(heads)
            loss, _ = policy_loss(
                mu, logvar, win_act, win_adv, win_mu, win_logvar, self.beta, cfg.eta, cfg.kl_target
            )
            self.policy_opt.zero_grad(set_to_none=True)
            loss.backward()
            self.policy_opt.step()
        with torch.no_grad():
            heads, _ = self.actor.sequence(obs, self.actor.initial_state(obs.shape[1]))
            mu, logvar = self.mean_logvar(heads)
            kl = float(gaussian_kl(old_mu, old_logvar, mu, logvar).mean())
            entropy = float((0.5 * (math.log(2 * math.pi) + 1) + 0.5 * logvar).mean())
        reverted = not kl <= 4 * cfg.kl_target  # NaN reverts too
        if reverted:
            self.actor.load_state_dict(saved[0])
            self.policy_opt.load_state_dict(saved[1])
            self.beta, self.lr_multiplier = saved[2], saved[3]
            self.beta = min(35.0, 1.5 * self.beta)
        if not kl <= 2 * cfg.kl_target:
            self.beta = min(35.0, 1.5 * self.beta)
            if self.beta > 30:
                self.lr_multiplier /= 1.5
        elif kl < cfg.kl_target / 2:
            self.beta = max(1 / 35, self.beta / 1.5)
            if self.beta < 1 / 30:
                self.lr_multiplier *= 1.5
        return {
            "kl": kl,
            "beta": self.beta,
            "lr_multiplier": self.lr_multiplier,
            "reverted": reverted,
            "entropy": entropy,
        }

    def update_critic(self) -> float:
        cfg, w = self.cfg, self.cfg.window
        obs = torch.cat([o for o, _ in self.critic_buffer], 1)
        targets = torch.cat([t for _, t in self.critic_buffer], 1)
        with torch.no_grad():
            _, trace = self.critic.sequence(obs, self.critic.initial_state(obs.shape[1]))
            starts = window_states(self.critic, trace, obs, w)
        win_obs, win_tgt = to_windows(obs, w), to_windows(targets, w)
        n = win_obs.shape[1]
        last = 0.0
        for _ in range(cfg.critic_epochs):
            order = torch.from_numpy(self.rng.permutation(n))
            for start in range(0, n, cfg.critic_minibatch):
                idx = order[start : start + cfg.critic_minibatch]
                out, _ = self.critic.sequence(win_obs[:, idx], _index_state(starts, idx))
                loss = (out[..., 0] - win_tgt[:, idx]).pow(2).mean()
                self.critic_opt.zero_grad(set_to_none=True)
                loss.backward()
                self.critic_opt.step()
                last = float(loss.detach())
        return last

    # --- the protocol --------------------------------------------------------------------------

    def train(self, log: Callable[[dict], None] | None = None) -> dict:
        """Initial episodes, then updates until ``episodes`` training episodes; returns the log."""
        cfg = self.cfg
        initial = self.rollout(cfg.initial_episodes)
        history = {
            "initial_discounted_return": initial.discounted_returns(cfg.gamma).tolist(),
            "discounted_return": [],
            "return": [],
            "updates": [],
        }
        n_updates = math.ceil(cfg.episodes / cfg.batch)
        for k in range(n_updates):
            t0 = time.perf_counter()
            batch = self.rollout(cfg.batch)
            rollout_s = time.perf_counter() - t0
            info = self.update(batch)
            info["seconds"] += rollout_s
            history["discounted_return"] += batch.discounted_returns(cfg.gamma).tolist()
            history["return"] += batch.returns().tolist()
            history["updates"].append(info)
            if log is not None:
                log({"update": k + 1, "of": n_updates, "episodes": (k + 1) * cfg.batch,
                     "mean_discounted_return": float(batch.discounted_returns(cfg.gamma).mean()),
                     **info})  # fmt: skip
        return history

    def evaluate(self, episodes: int = 1000, seed: int = 12345) -> dict:
        """Fresh episodes (the same for every agent): sampled actions (independent noise per
        episode) and the mean action; mean discounted return and mean return of each."""
        out = {}
        for mode in ("sampled", "mean"):
            batch = self.rollout(
                episodes,
                np.random.default_rng(seed),
                mode=mode,
                noise=torch.Generator().manual_seed(seed),
            )
            disc = batch.discounted_returns(self.cfg.gamma)
            out[mode] = {
                "discounted_return": float(disc.mean()),
                "return": float(batch.returns().mean()),
            }
        return out


def _index_state(state, idx: torch.Tensor):
    return map_states(lambda x: x[idx], state)
