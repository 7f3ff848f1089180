"""``modspike learn``: online learning of a deployed artifact in closed loop."""

from __future__ import annotations

import argparse
import json

from .options import COUNT, SEED, add_out

NAME = "learn"
HELP = "learn online after deployment (R-STDP / STDP) and write the learned artifact"


def add(sub: argparse._SubParsersAction) -> None:
    from modspike.plasticity.spec import RULE_REGISTRY
    from modspike.studies.learning.learn import TASKS
    from modspike.studies.learning.loop import LEARN_BACKENDS

    p = sub.add_parser(
        NAME,
        help=HELP,
        description=(
            "Run ARTIFACT_DIR in closed loop with a plastic synapse (Loihi's learning engine: "
            "sim = the bit-exact integer twin, lava = Lava's fixed_pt LearningDense, float = the "
            "float rules) on a task, and write the learned artifact (model.nir with the rule in "
            "modspike's NIR extension, learning.json with the per-episode record, counts and "
            "energy). Tasks: continual = the classifier's output layer adapts with R-STDP after "
            "its labels are permuted (vs frozen and vs backprop); distal = Izhikevich's "
            "distal-reward problem on the first layer; moving-target = the NMD moving-target "
            "environment, reward as the third factor. See docs/plasticity.md."
        ),
    )
    p.add_argument("artifact", metavar="ARTIFACT_DIR")
    p.add_argument(
        "--rule", choices=sorted(RULE_REGISTRY), default="rstdp", help="(default: rstdp)"
    )
    p.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="a rule parameter (repeatable), e.g. learning_rate=0.125, a_minus=-2, t_epoch=2,"
        " eligibility_trace_decay_tau=0.0625, rng_seed=3; the task's defaults otherwise",
    )
    p.add_argument("--task", choices=TASKS, default="continual", help="(default: continual)")
    p.add_argument("--backend", choices=LEARN_BACKENDS, default="sim", help="(default: sim)")
    p.add_argument(
        "--samples",
        type=COUNT,
        metavar="N",
        help="continual: samples after the label permutation (default 3000); distal: samples"
        " (default 3000)",
    )
    p.add_argument(
        "--episodes", type=COUNT, metavar="N", help="moving-target: episodes (default 40)"
    )
    p.add_argument("--seed", type=SEED, default=0, help="seed of the stream / environment")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_out(p, "ARTIFACT_DIR2", "the learned artifact", sources=lambda a: (a.artifact,))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from modspike.plasticity.spec import parse_rule_params
    from modspike.studies.learning.learn import learn_artifact

    params = parse_rule_params(args.param)
    summary = learn_artifact(
        args.artifact,
        args.out,
        rule=args.rule,
        params=params,
        task=args.task,
        backend=args.backend,
        samples=args.samples,
        episodes=args.episodes,
        seed=args.seed,
        progress=not args.quiet,
    )
    print(json.dumps(summary))
    return 0
