"""Izhikevich's distal-reward problem (Cerebral Cortex 17:2443, 2007) on a deployed layer
(``modspike learn --task distal``).

The first layer of the artifact (its input synapses and LIF neurons) receives random input spikes
(each input fires with probability ``rate`` per step). One synapse ``(i*, j*)`` is chosen: every
time input ``i*`` fires and neuron ``j*`` fires 1..``window_pair`` steps later, a reward follows
after a random delay of ``delay_min..delay_max`` samples (each sample is ``period`` steps, so the
reward comes tens of steps after the pairing, with many other pairings in between). The reward is
a global dopamine signal: every neuron gets the same third factor. R-STDP's eligibility tag (the
"synaptic tag" of Izhikevich's model) bridges the delay: only the rewarded synapse is
consistently tagged when dopamine arrives, so it alone should grow. Reported: its weight against
the other synapses over time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from modspike.errors import ConfigError
from modspike.network import Network
from modspike.plasticity.online import Timing
from modspike.plasticity.spec import Plasticity, attach, rule_kind

from .loop import run_online, summary_totals

TASK_RULE = dict(
    learning_rate=0.25, a_plus=1, a_minus=-2, eligibility_trace_decay_tau=0.0625, t_epoch=1
)
"""Depression-dominated STDP (as Izhikevich's): chance pairings leave negative tags on average,
the rewarded one a positive tag; tags decay by 1/16 per step."""


@dataclass(frozen=True)
class DistalConfig:
    samples: int = 3000
    window: int = 10  # steps of input per sample
    gap: int = 2  # silent steps after each window (the reward falls there)
    rate: float = 0.02  # input spike probability per step
    window_pair: int = 2  # pre i* then post j* within this many steps counts as the event
    delay_min: int = 1  # reward delay, in samples
    delay_max: int = 3
    dopamine: int = 32
    seed: int = 0
    track_every: int = 50  # samples between weight snapshots

    def __post_init__(self):
        if not 0 < self.rate < 1:
            raise ConfigError("distal task: rate must be in (0, 1)")
        if self.delay_min < 1 or self.delay_max < self.delay_min:
            raise ConfigError("distal task: need 1 <= delay_min <= delay_max")
        if self.dopamine % 32 or not 0 < self.dopamine <= 96:
            raise ConfigError("distal task: dopamine must be 32, 64 or 96")


def first_layer(net: Network) -> Network:
    """The artifact's first layer alone (no readout)."""
    return net.replace(layers=net.layers[:1], readout=None)


def choose_synapse(net: Network, inputs: np.ndarray, seed: int) -> tuple[int, int]:
    """A synapse from an input to a neuron that fires on this input, with a non-negative weight
    (a random one among them)."""
    from modspike.step import compile, run

    counts = run(compile(net), inputs[:, :50], record=False).total.sum(axis=0)
    w = net.layers[0].synapse.fixed.mantissa
    active = np.flatnonzero(counts > 0)
    if active.size == 0:
        raise ConfigError("no neuron of the first layer fires on the random input; raise --rate")
    rng = np.random.default_rng(seed)
    pairs = [(i, j) for j in active for i in np.flatnonzero(w[j] >= 0)]
    i, j = pairs[int(rng.integers(len(pairs)))]
    return int(i), int(j)


def run_task(
    net: Network,
    rule: str,
    params: dict,
    backend: str = "sim",
    cfg: DistalConfig | None = None,
    progress: bool = False,
) -> tuple[Network, dict]:
    from modspike.plasticity.online import with_learned

    cfg = cfg or DistalConfig()
    layer_net = first_layer(net)
    if not rule_kind(rule).three_factor:
        raise ConfigError("the distal-reward task needs a three-factor rule (rstdp)")
    plasticity = Plasticity(rule, {**TASK_RULE, **params})
    plastic = attach(layer_net, 0, plasticity)
    rng = np.random.default_rng(cfg.seed)
    inputs = (rng.random((cfg.window, cfg.samples, net.n_in)) < cfg.rate).astype(np.int64)
    i_star, j_star = choose_synapse(plastic, inputs, cfg.seed + 1)
    timing = Timing(window=cfg.window, period=cfg.window + 1 + cfg.gap, reward_steps=cfg.gap)
    due: dict[int, int] = {}
    events, rewards = [], []
    n_post = plastic.layers[0].n
    delay_rng = np.random.default_rng(cfg.seed + 2)

    def respond(s: int, counts: np.ndarray, window: np.ndarray):
        pre = inputs[:, s, i_star]  # (window,) input spikes of i*; post row u is 1 + u - t later
        post = window[:, j_star]
        hit = any(
            pre[t] and post[u] for t in range(cfg.window) for u in range(cfg.window)
            if 1 <= 1 + u - t <= cfg.window_pair
        )  # fmt: skip
        if hit:
            events.append(s)
            later = s + int(delay_rng.integers(cfg.delay_min, cfg.delay_max + 1))
            due[later] = due.get(later, 0) + 1
        if due.pop(s, 0):
            rewards.append(s)
            return np.full(n_post, cfg.dopamine)
        return None

    result = run_online(
        backend,
        plastic,
        inputs,
        timing,
        respond,
        progress=progress,
        desc=f"distal ({backend})",
        track_every=cfg.track_every,
    )
    w0 = plastic.layers[0].synapse.fixed.mantissa
    w1 = result.weights
    others = np.delete(w1.reshape(-1), j_star * w1.shape[1] + i_star)
    learned = with_learned(plastic, w1)
    rank = float((others < w1[j_star, i_star]).mean())
    report = {
        "task": "distal",
        "config": asdict(cfg),
        "rule": plasticity.to_dict(),
        "backend": backend,
        "synapse": {"pre": i_star, "post": j_star},
        "events": len(events),
        "rewards": len(rewards),
        "weight_before": int(w0[j_star, i_star]),
        "weight_after": int(w1[j_star, i_star]),
        "others_before_mean": float(
            np.delete(w0.reshape(-1), j_star * w0.shape[1] + i_star).mean()
        ),
        "others_after_mean": float(others.mean()),
        "others_after_sd": float(others.std()),
        "percentile_after": rank,
        "steps": result.steps,
        "learning": summary_totals(result.totals),
    }
    flat = j_star * w1.shape[1] + i_star
    report["trajectory"] = [
        {
            "sample": s,
            "rewarded": int(w[j_star, i_star]),
            "others_mean": float(np.delete(w.reshape(-1), flat).mean()),
            "others_p99": float(np.percentile(np.delete(w.reshape(-1), flat), 99)),
        }
        for s, w in (result.tracked or [])
    ]
    return learned, report
