"""The NMD task family with reward as the third factor (``modspike learn --task moving-target``).

The moving-target environment of ``studies/nmd/envs.py`` (position observed, target hidden and
redrawn every episode, five moves, reward +1 on the target, else minus the distance). The agent:
the position as a place code (``n_in`` Gaussian place fields over [-1, 1], rate-coded over
``window`` steps) into the artifact's first layer (frozen), then a new plastic layer of five LIF
action neurons (R-STDP, initial weights 0); the action is the neuron with the most spikes (stay if
none). Exploration spikes (:func:`.loop.kicks`) make the first actions random. Dopamine: the
change of reward after each move, ``delta = r_t - r_{t-1}``, sent to the neuron that chose the move
as ``32 * clip(round(delta / 0.1), -3, 3)`` (a host-side critic: the reward the environment gives
is the third factor; no NMD context network is involved). The weights carry over from episode to
episode: the agent must re-learn where the target is each time, online.

The closed loop streams its inputs (the next observation depends on the last action), so the
learners take them sample by sample (``feed``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from modspike import registry
from modspike.errors import ConfigError
from modspike.fixedpoint import SRCFormat
from modspike.network import Cell, FixedWeights, Layer, Network, Synapse
from modspike.plasticity.online import FloatLearner, SimLearner, Timing
from modspike.plasticity.spec import Plasticity, attach, rule_kind
from modspike.studies.nmd.envs import ACTION_MOVES, MovingTarget, scripted_return

from .loop import kicks, summary_totals

TASK_RULE = dict(
    learning_rate=0.5, a_plus=1, a_minus=0, eligibility_trace_decay_tau=0.0625, t_epoch=1
)


@dataclass(frozen=True)
class TargetConfig:
    episodes: int = 40
    horizon: int = 50
    window: int = 8
    gap: int = 3
    rate: float = 0.5  # peak spike probability of a place field per step
    width: float = 0.15  # place-field width (position units)
    explore: float = 0.03
    seed: int = 0

    def __post_init__(self):
        if self.episodes < 1 or self.horizon < 1 or self.window < 1:
            raise ConfigError("moving-target task: episodes, horizon and window must be >= 1")
        if not 0 < self.rate <= 1 or not self.width > 0:
            raise ConfigError("moving-target task: rate in (0, 1], width > 0")


def place_code(x: float, n: int, cfg: TargetConfig, rng: np.random.Generator) -> np.ndarray:
    """``(window, n)`` spikes of ``n`` place fields centred over [-1, 1] for position ``x``."""
    centres = np.linspace(-1.0, 1.0, n)
    p = cfg.rate * np.exp(-0.5 * ((x - centres) / cfg.width) ** 2)
    return (rng.random((cfg.window, n)) < p).astype(np.int64)


def action_network(net: Network, threshold: float = 1.0, unit_exp: int = -6) -> Network:
    """The artifact's first layer (frozen) and five new LIF action neurons, weights 0 at
    ``2**unit_exp`` per mantissa step, quantised (the plastic synapse is attached by the task)."""
    first = net.layers[0]
    if first.cell.kind.output.value != "binary":
        raise ConfigError(f"{first.name}: the action layer needs spiking features")
    lif = registry.cell("lif")
    n, m = len(ACTION_MOVES), first.n
    params = lif.float_params(
        np.full(n, 0.9), np.full(n, float(threshold)), np.ones(n), np.zeros(n), np.zeros(n)
    )
    fixed_w = FixedWeights(np.zeros((n, m), dtype=np.int64), np.full(n, unit_exp), 0)
    cell = Cell(lif, params)
    fixed_cell = lif.quant.quantize(cell, fixed_w, None, None, net.weight_format, SRCFormat())
    layer = Layer(
        "actions",
        Synapse(first.synapse.kind, fixed_w.dequantize(), None, {}, fixed_w),
        Cell(lif, params, None, fixed_cell),
        None,
        (m,),
        (n,),
    )
    return net.replace(layers=(first, layer), readout=None)


def dopamine(delta: float) -> int:
    return int(32 * np.clip(np.rint(delta / 0.1), -3, 3))


def _learner(backend: str, plastic: Network, timing: Timing, total: int, noise):
    if backend == "sim":
        return SimLearner(plastic, None, timing, total, noise=noise, count=False)
    if backend == "float":
        return FloatLearner(plastic, None, timing, total, noise=noise)
    if backend == "lava":
        from modspike.hw.lava.plasticity import LavaLearner

        return LavaLearner(plastic, None, timing, total, noise=noise)
    raise ConfigError(f"unknown learning backend {backend!r}")


def play(backend: str, plastic: Network, cfg: TargetConfig, learn: bool = True, progress=False):
    """Episodes in closed loop; returns ``(returns per episode, actions, learner weights,
    post spike raster, pre spikes)``."""
    from tqdm.auto import tqdm

    samples = cfg.episodes * cfg.horizon
    timing = Timing(window=cfg.window, period=cfg.window + 2 + cfg.gap, prefix=1)
    total = timing.total(samples)
    noise = kicks(plastic, total, cfg.explore, cfg.seed + 3)
    learner = _learner(backend, plastic, timing, total, noise)
    env = MovingTarget(1, cfg.horizon, seed=cfg.seed)
    rng = np.random.default_rng(cfg.seed + 1)
    n_in = plastic.n_in
    returns, actions, posts = [], [], []
    s = 0
    try:
        bar = tqdm(range(cfg.episodes), desc=f"moving target ({backend})", disable=not progress)
        for _ in bar:
            obs = float(env.reset()[0, 0])
            total_r, prev = 0.0, None
            done = False
            while not done:
                learner.feed(s, place_code(obs, n_in, cfg, rng))
                post = learner.advance(timing.decide(s))
                posts.append(post)
                counts = post[-cfg.window :].sum(axis=0)
                a = int(counts.argmax()) if counts.max() > 0 else 2
                obs_t, r, done = env.step(torch.tensor([a]))
                obs, r = float(obs_t[0, 0]), float(r[0])
                total_r += r
                third = np.zeros(len(ACTION_MOVES), dtype=np.int64)
                if learn and prev is not None:
                    third[a] = dopamine(r - prev)
                d = timing.decide(s)
                learner.set_third_factor(third, d + 1, d + timing.reward_steps)
                prev = r
                actions.append(a)
                s += 1
            returns.append(total_r)
        posts.append(learner.advance(total))
        weights = learner.weights
        pre = learner.pre[:total].copy() if hasattr(learner, "pre") else None
    finally:
        close = getattr(learner, "close", None)
        if close is not None:
            close()
    return np.asarray(returns), np.asarray(actions), weights, np.concatenate(posts), pre


def run_task(
    net: Network,
    rule: str,
    params: dict,
    backend: str = "sim",
    cfg: TargetConfig | None = None,
    progress: bool = False,
    baselines: bool = True,
) -> tuple[Network, dict]:
    from modspike.plasticity.counters import count_trains
    from modspike.plasticity.online import with_learned

    cfg = cfg or TargetConfig()
    if not rule_kind(rule).three_factor:
        raise ConfigError("the moving-target task is rewarded: use a three-factor rule (rstdp)")
    plasticity = Plasticity(rule, {**TASK_RULE, **params})
    plastic = attach(action_network(net), 1, plasticity)
    returns, actions, weights, post, pre = play(backend, plastic, cfg, progress=progress)
    learned = with_learned(plastic, weights)
    report = {
        "task": "moving-target",
        "config": asdict(cfg),
        "rule": plasticity.to_dict(),
        "backend": backend,
        "returns_per_episode": returns.tolist(),
        "mean_return": float(returns.mean()),
        "mean_return_last_10": float(returns[-10:].mean()),
        "action_histogram": np.bincount(actions, minlength=len(ACTION_MOVES)).tolist(),
    }
    if pre is None:  # Lava: the same spikes as the simulator (bit-exact); count from them
        _, _, _, _, pre = play("sim", plastic, cfg)
    report["learning"] = summary_totals(count_trains(pre, post, plasticity.engine(0)))
    if baselines:
        frozen, *_ = play("sim", plastic, cfg, learn=False)
        report["frozen_mean_return"] = float(frozen.mean())
        episodes = cfg.episodes
        report["scripted"] = {
            p: scripted_return(p, episodes, cfg.horizon, cfg.seed)["return"]
            for p in ("go_to_zero", "oracle")
        }
    return learned, report
