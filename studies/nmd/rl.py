"""A2C with GAE and full-episode BPTT for the moving-target task (cells.md section 5.6).

One update per iteration: ``batch`` parallel episodes of ``horizon`` steps are rolled out with the
current policy, the whole episode is backpropagated (recurrent context included), GAE gives the
advantages, Adam takes one step. The entropy bonus is annealed linearly from ``entropy_start`` to
``entropy_end``. Runs on one torch thread: on a loaded 2-core machine two threads made the small
recurrent forward pass 100-250x slower (section 5.6).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from .agent import Agent, build_agent, count_parameters
from .envs import MovingTarget

EVAL_SEED = 12345  # the same evaluation episodes for every agent and seed


@dataclass
class A2CConfig:
    iterations: int = 600
    batch: int = 64
    horizon: int = 50
    gamma: float = 0.95
    lam: float = 0.95
    lr: float = 3e-3
    entropy_start: float = 0.02
    entropy_end: float = 0.001
    value_coef: float = 0.5
    max_grad_norm: float = 1.0
    seed: int = 0
    eval_episodes: int = 1024
    threads: int = 1

    def entropy_coef(self, iteration: int) -> float:
        frac = iteration / max(1, self.iterations - 1)
        return self.entropy_start + frac * (self.entropy_end - self.entropy_start)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` intra-op threads, then restore the previous setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def rollout(
    agent: Agent,
    env: MovingTarget,
    greedy: bool = False,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """One batch of full episodes. Returns (T, B) tensors: ``logp``, ``entropy``, ``value``
    (with graph, for the update), ``reward``, ``action``, and the hidden ``target`` (B,)."""
    obs = env.reset()
    batch = env.batch
    state = agent.initial_state(batch)
    prev_a = torch.full((batch,), -1, dtype=torch.long)
    prev_r = torch.zeros(batch)
    out: dict[str, list[torch.Tensor]] = {
        k: [] for k in ("logp", "entropy", "value", "reward", "action")
    }
    done = False
    while not done:
        logits, value, state = agent.step(obs, prev_a, prev_r, state)
        logp_all = torch.log_softmax(logits, -1)
        if greedy:
            action = logits.argmax(-1)
        else:
            action = torch.multinomial(logp_all.detach().exp(), 1, generator=generator).squeeze(-1)
        obs, reward, done = env.step(action)
        out["logp"].append(logp_all.gather(-1, action.unsqueeze(-1)).squeeze(-1))
        out["entropy"].append(-(logp_all.exp() * logp_all).sum(-1))
        out["value"].append(value)
        out["reward"].append(reward)
        out["action"].append(action)
        prev_a, prev_r = action, reward
    result = {k: torch.stack(v) for k, v in out.items()}
    result["target"] = env.hidden_target
    return result


def gae(
    rewards: torch.Tensor, values: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over full episodes (value after the last step = 0).

    ``rewards``, ``values``: (T, B). Returns ``(advantages, returns)``, both detached.
    """
    values = values.detach()
    adv = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    next_value = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        delta = rewards[t] + gamma * next_value - values[t]
        running = delta + gamma * lam * running
        adv[t] = running
        next_value = values[t]
    return adv, adv + values


def a2c_loss(batch: dict[str, torch.Tensor], cfg: A2CConfig, ent_coef: float) -> torch.Tensor:
    adv, returns = gae(batch["reward"], batch["value"], cfg.gamma, cfg.lam)
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    policy_loss = -(batch["logp"] * adv).mean()
    value_loss = (batch["value"] - returns).pow(2).mean()
    return policy_loss + cfg.value_coef * value_loss - ent_coef * batch["entropy"].mean()


def train_a2c(
    agent: Agent, cfg: A2CConfig, log_every: int = 50, progress: bool = False
) -> list[dict]:
    """Train ``agent`` in place; returns the history (iteration, mean sampled return, seconds)."""
    with torch_threads(cfg.threads):
        return _train(agent, cfg, log_every, progress)


def _train(agent: Agent, cfg: A2CConfig, log_every: int, progress: bool) -> list[dict]:
    env = MovingTarget(cfg.batch, cfg.horizon, seed=cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    opt = torch.optim.Adam(agent.parameters(), lr=cfg.lr)
    history: list[dict] = []
    recent: list[float] = []
    t0 = time.perf_counter()
    for it in range(cfg.iterations):
        agent.train()
        batch = rollout(agent, env, generator=gen)
        loss = a2c_loss(batch, cfg, cfg.entropy_coef(it))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(agent.parameters(), cfg.max_grad_norm)
        opt.step()
        recent.append(float(batch["reward"].sum(0).mean()))
        if (it + 1) % log_every == 0 or it + 1 == cfg.iterations:
            entry = {
                "iteration": it + 1,
                "train_return": float(np.mean(recent)),
                "seconds": time.perf_counter() - t0,
            }
            history.append(entry)
            recent = []
            if progress:
                print(f"  [{agent.kind} seed {cfg.seed}] {entry}", flush=True)
    return history


def steps_to_adapt(per_step: np.ndarray | list, threshold: float = 0.5) -> int | None:
    """First step (1-based) from which the mean reward per step stays >= ``threshold`` (or None)."""
    above = np.asarray(per_step) >= threshold
    if not above[-1]:
        return None
    below = np.flatnonzero(~above)
    return int(below[-1] + 2) if below.size else 1


def steps_to_90pct(per_step: np.ndarray | list, min_gain: float = 0.1) -> int | None:
    """First step at which the mean reward per step has made 90 % of its within-episode gain,
    from step 1 to the mean of the last 10 steps; None when that gain is below ``min_gain``
    (no adaptation to time)."""
    r = np.asarray(per_step, dtype=float)
    gain = r[-10:].mean() - r[0]
    if gain < min_gain:
        return None
    return int(np.argmax(r >= r[0] + 0.9 * gain) + 1)


def adaptation_metrics(rewards: torch.Tensor, threshold: float = 0.5) -> dict:
    """Summaries of a (T, B) reward array of evaluation episodes.

    ``steps_to_adapt``: see :func:`steps_to_adapt`; ``steps_to_90pct``: see
    :func:`steps_to_90pct`. ``first_hit_median``: median over episodes of the first step on the
    target (``T + 1`` for episodes that never reach it).
    """
    horizon = rewards.shape[0]
    per_step = rewards.mean(1)
    hit = rewards >= 1.0
    first = torch.where(
        hit.any(0), hit.float().argmax(0) + 1, torch.full(hit[0].shape, horizon + 1)
    )
    returns = rewards.sum(0)
    return {
        "return": float(returns.mean()),
        "return_sem": float(returns.std() / np.sqrt(returns.numel())),
        "early_reward": float(per_step[:5].mean()),
        "late_reward": float(per_step[-10:].mean()),
        "steps_to_adapt": steps_to_adapt(per_step.numpy(), threshold),
        "steps_to_90pct": steps_to_90pct(per_step.numpy()),
        "first_hit_median": float(first.float().median()),
        "on_target_last": float(hit[-1].float().mean()),
        "reward_per_step": [round(float(v), 4) for v in per_step],
    }


@torch.no_grad()
def evaluate(agent: Agent, cfg: A2CConfig, greedy: bool = True, seed: int = EVAL_SEED) -> dict:
    """Adaptation metrics on ``cfg.eval_episodes`` fresh episodes (greedy actions by default)."""
    agent.eval()
    env = MovingTarget(cfg.eval_episodes, cfg.horizon, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    batch = rollout(agent, env, greedy=greedy, generator=gen)
    return adaptation_metrics(batch["reward"])


def run(
    kind: str,
    cfg: A2CConfig,
    agent_kwargs: dict | None = None,
    progress: bool = False,
    log_every: int = 50,
    return_agent: bool = False,
) -> dict | tuple[dict, Agent]:
    """Seed, build, train and evaluate one agent; returns a JSON-ready record (and the trained
    agent with ``return_agent=True``, e.g. to save its ``state_dict`` for export)."""
    with torch_threads(cfg.threads):
        torch.manual_seed(cfg.seed)
        agent = build_agent(kind, **(agent_kwargs or {}))
        t0 = time.perf_counter()
        history = _train(agent, cfg, log_every, progress)
        seconds = time.perf_counter() - t0
        record = {
            "agent": kind,
            "seed": cfg.seed,
            "config": asdict(cfg),
            "agent_kwargs": agent_kwargs or {},
            "n_parameters": count_parameters(agent),
            "train_seconds": seconds,
            "history": history,
            "greedy": evaluate(agent, cfg, greedy=True),
            "sampled": evaluate(agent, cfg, greedy=False),
        }
    return (record, agent) if return_agent else record
