"""``modspike learn``: run a deployed artifact's online learning task and write the learned artifact.

The learned artifact is a folder like any artifact (``manifest.json``, ``model.nir``) plus
``learning.json`` (the task's full report: accuracy or reward per episode, the learning engine's
event counts and their modeled energy). Its network carries the plastic synapse and the rule in
modspike's NIR extension (``network_schema`` ``modspike-network/2``: readers that predate
plasticity refuse it), with the learned engine weights; ``modspike run`` runs it with the weights
frozen, ``modspike learn`` learns on from them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from modspike.artifact import MODEL_FILE, sha256_file, write_artifact
from modspike.errors import ArtifactError, ConfigError
from modspike.export.artifact_build import _now, open_artifact, tool_versions
from modspike.export.nir.file import write_nir_file
from modspike.export.nir.read import import_nir
from modspike.export.nir.write import to_nir
from modspike.network import network_equal
from modspike.plasticity.spec import network_schema

from . import continual, distal, moving_target
from .loop import LEARN_BACKENDS

TASKS = ("continual", "distal", "moving-target")
REPORT_FILE = "learning.json"


def _run(task: str, net, manifest: dict, rule: str, params: dict, backend: str, options: dict):
    seed = int(options.get("seed", 0))
    progress = bool(options.get("progress", False))
    samples, episodes = options.get("samples"), options.get("episodes")
    if task == "continual":
        cfg = continual.ContinualConfig(seed=seed)
        if samples is not None:
            cfg = replace(cfg, after=int(samples))
        return continual.run_task(net, manifest, rule, params, backend, cfg, progress)
    if task == "distal":
        cfg = distal.DistalConfig(seed=seed)
        if samples is not None:
            cfg = replace(cfg, samples=int(samples))
        return distal.run_task(net, rule, params, backend, cfg, progress)
    if task == "moving-target":
        cfg = moving_target.TargetConfig(seed=seed)
        if episodes is not None:
            cfg = replace(cfg, episodes=int(episodes))
        return moving_target.run_task(net, rule, params, backend, cfg, progress)
    raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")


def headline(report: dict) -> dict:
    """The few numbers ``modspike learn`` prints and the manifest records."""
    keys = (
        "task", "backend", "samples", "steps", "pre_switch_accuracy", "post_switch_last_episode",
        "recovered_fraction", "test_accuracy_after", "weight_before", "weight_after",
        "percentile_after", "events", "rewards", "mean_return", "mean_return_last_10",
        "frozen_mean_return",
    )  # fmt: skip
    out = {k: report[k] for k in keys if k in report}
    learning = report.get("learning", {})
    out["synapse_updates"] = learning.get("counts", {}).get("synapse_updates")
    out["learning_energy_uJ"] = learning.get("energy_pJ", {}).get("total", 0.0) / 1e6
    return out


def learn_artifact(
    artifact_dir: str | Path,
    out: str | Path,
    rule: str = "rstdp",
    params: dict | None = None,
    task: str = "continual",
    backend: str = "sim",
    **options,
) -> dict:
    """Learn online on ``backend`` and write the learned artifact to ``out``; the headline."""
    if backend not in LEARN_BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(LEARN_BACKENDS)}")
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    artifact, net = open_artifact(artifact_dir)
    if not net.quantized:
        raise ConfigError(f"{artifact_dir}: learning runs the artifact's integer model; export it"
                          " quantised")  # fmt: skip
    params = dict(params or {})
    learned, report = _run(task, net, artifact.manifest, rule, params, backend, options)
    layers = tuple(replace(layer, name=f"layer{k}") for k, layer in enumerate(learned.layers))
    learned = learned.replace(layers=layers)  # NIR node names layer<k>.synapse / .cell
    manifest = _manifest(artifact, learned, report)
    info = {
        "encoding": manifest.get("encoding"),
        "data": (manifest.get("data") or {}).get("name"),
        "learned_from": str(artifact_dir),
        "task": task,
    }
    info = {k: v for k, v in info.items() if v is not None}
    graph = to_nir(learned, info)

    def write_model(path: Path) -> None:
        write_nir_file(path, graph)
        back = import_nir(path)
        same = all(
            network_equal(a.synapse.fixed, b.synapse.fixed)
            and network_equal(a.synapse.plasticity, b.synapse.plasticity)
            and network_equal(a.cell.fixed, b.cell.fixed)
            for a, b in zip(learned.layers, back.layers)
        )
        if not same or len(back.layers) != len(learned.layers):
            raise ArtifactError(f"{path}: the re-imported learned network differs (bug)")

    def write_report(path: Path) -> None:
        path.write_text(json.dumps(report, indent=1, default=_json_default))

    write_artifact(out, {MODEL_FILE: write_model, REPORT_FILE: write_report}, manifest)
    return {"artifact": str(out), **headline(report)}


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _manifest(artifact, learned, report: dict) -> dict:
    base = artifact.manifest
    keep_input = report["task"] != "moving-target"  # the agent's input is a place code
    kinds = learned.kinds
    return {
        "created": _now(),
        "created_by": tool_versions(),
        "source": {
            "kind": "learn",
            "artifact": str(artifact.path),
            "model_sha256": sha256_file(artifact.file(MODEL_FILE)),
        },
        "cell": kinds[0] if len(set(kinds)) == 1 else "mixed",
        "layers": kinds,
        "network_schema": network_schema(learned),
        "encoding": base.get("encoding") if keep_input else None,
        "steps": base.get("steps") if keep_input else None,
        "dt": base.get("dt"),
        "dt_source": base.get("dt_source"),
        "data": base.get("data") if keep_input else None,
        "quantization": base.get("quantization"),
        "accuracy": None,
        "learning": headline(report),
        "warnings": [],
    }
