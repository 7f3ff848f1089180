"""Reliability, manifest family (issue 14, defects 5 and 6) and the agent artifact loader
(defect 7): generated manifest mutations through ``inspect`` and ``run``, and host networks that
are never unpickled."""

from __future__ import annotations

import copy
import json
import pickle
import shutil

import nir
import numpy as np
import pytest
import torch
from conftest import export_active_model, export_graph

from modspike.artifact import sha256_file
from modspike.cli import main
from modspike.errors import ArtifactError
from modspike.fixedpoint import WeightFormat
from modspike.studies.nmd.agent import build_agent
from modspike.studies.nmd.deploy import HOST_CONFIG, HOST_WEIGHTS, export_agent, load_agent_artifact

ENCODING = {"name": "rate", "steps": 8, "gain": 0.8, "prefix": 0}


@pytest.fixture(scope="module")
def small_artifact(tmp_path_factory):
    """An untrained 1-layer LIF network on digits, wrapped by ``import-nir`` (no training)."""
    tmp = tmp_path_factory.mktemp("reliability_artifact")
    model = export_active_model("lif", layers=1, recurrent=False, hidden=8)
    graph = export_graph(
        model,
        WeightFormat(),
        info={"encoding": ENCODING, "data": "digits"},
    )[0]
    nir.write(tmp / "m.nir", graph)
    assert main(["import-nir", str(tmp / "m.nir"), "--out", str(tmp / "art")]) == 0
    return tmp / "art"


def _set(manifest: dict, path: str, value) -> None:
    keys = path.split(".")
    target = manifest
    for key in keys[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[keys[-1]] = value


FIELDS = [
    "cell",
    "layers",
    "encoding",
    "encoding.name",
    "encoding.steps",
    "encoding.gain",
    "encoding.prefix",
    "steps",
    "dt",
    "data",
    "data.name",
    "data.split_seed",
    "quantization",
    "quantization.weight_bits",
    "quantization.granularity",
    "accuracy",
    "accuracy.float",
    "accuracy.jaccard",
    "baseline",
    "baseline.file",
    "baseline.onnx_accuracy",
    "created_by",
    "created_by.torch",
    "warnings",
    "dt_source",
]
HOSTILE = [
    "text",
    7,
    -1,
    0,
    1.5,
    1e308,
    True,
    None,
    [],
    {},
    [1, "a", None],
    {"name": {"x": 1}},
    10**30,
]


def _cases():
    return [(field, i) for field in FIELDS for i in range(len(HOSTILE))]


def _check_cli(argv, capsys, command: str) -> int:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err
    if code == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"modspike {command}: error:"), lines
    return code


def test_generated_manifest_mutations_give_exit_0_or_one_line_exit_2(
    small_artifact, tmp_path, capsys
):
    """Every known field x every hostile value: inspect either works or refuses in one line."""
    root = tmp_path / "art"
    shutil.copytree(small_artifact, root)
    original = json.loads((root / "manifest.json").read_text())
    codes = {0: 0, 2: 0}
    for field, which in _cases():
        manifest = copy.deepcopy(original)
        _set(manifest, field, HOSTILE[which])
        (root / "manifest.json").write_text(json.dumps(manifest))
        try:
            codes[_check_cli(["inspect", str(root)], capsys, "inspect")] += 1
        except AssertionError as exc:
            raise AssertionError(f"{field} = {HOSTILE[which]!r}: {exc}") from None
    assert codes[2] > codes[0] > 0, codes  # mostly refused; valid variants (None, ...) still load


@pytest.mark.parametrize(
    "field,value,needle",
    [
        ("encoding.gain", float("nan"), "not valid JSON"),  # the NaN token
        ("encoding.gain", "RAW 1e400", "finite"),  # json reads the literal 1e400 as inf
        ("encoding.steps", 10**12, "encoding steps"),
        ("encoding.steps", 2.5, "integer"),
        ("encoding.name", "morse", "encoding name"),
        ("data", 3, "'data'"),
        ("data.split_seed", -4, "split_seed"),
        ("quantization", "8 bits", "'quantization'"),
        ("accuracy", [0.9], "'accuracy'"),
        ("baseline.file", 12, "'baseline'"),
    ],
)
def test_bad_manifest_values_are_refused_before_any_work(
    field, value, needle, small_artifact, tmp_path, capsys
):
    root = tmp_path / "art"
    shutil.copytree(small_artifact, root)
    manifest = json.loads((root / "manifest.json").read_text())
    raw = isinstance(value, str) and value.startswith("RAW ")
    _set(manifest, field, "@RAW@" if raw else value)
    text = json.dumps(manifest)  # a float NaN becomes the non-standard NaN token
    (root / "manifest.json").write_text(text.replace('"@RAW@"', value[4:]) if raw else text)
    for command, argv in (
        ("inspect", ["inspect", str(root)]),
        ("run", ["run", str(root), "--limit", "3", "--quiet"]),
    ):
        assert _check_cli(argv, capsys, command) == 2
    assert main(["inspect", str(root)]) == 2
    assert needle in capsys.readouterr().err


def test_deeply_nested_manifest_is_one_line(small_artifact, tmp_path, capsys):
    root = tmp_path / "art"
    shutil.copytree(small_artifact, root)
    manifest = json.loads((root / "manifest.json").read_text())
    for depth in (100, 100_000):
        text = json.dumps(manifest)[:-1] + ', "extra": ' + "[" * depth + "]" * depth + "}"
        (root / "manifest.json").write_text(text)
        assert _check_cli(["inspect", str(root)], capsys, "inspect") == 2


def test_run_on_the_unmodified_artifact_works(small_artifact, tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["run", str(small_artifact), "--limit", "3", "--quiet", "--out", str(out)]
    assert _check_cli(argv, capsys, "run") == 0
    assert json.loads(out.read_text())["n_samples"] == 3


# --------------------------------------------------------------------------- agent artifacts

KWARGS = {"sizes": [6], "micro_steps": 2, "hs0_init": 0.4, "b_range": [0.0, 1.5]}


@pytest.fixture(scope="module")
def agent_dir(tmp_path_factory):
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("agent") / "artifact"
    export_agent(build_agent("nmd-msrc", **KWARGS), KWARGS, out)
    return out


def test_agent_host_networks_are_safetensors_and_json(agent_dir):
    names = {p.name for p in agent_dir.iterdir()}
    assert {HOST_WEIGHTS, HOST_CONFIG} <= names and "host_agent.pt" not in names
    assert (agent_dir / HOST_WEIGHTS).read_bytes()[:8] != b"\x80\x02"  # no pickle header
    config = json.loads((agent_dir / HOST_CONFIG).read_text())
    assert config["kind"] == "nmd-msrc" and config["kwargs"] == KWARGS
    _, agent, _ = load_agent_artifact(agent_dir)
    assert agent.kind == "nmd-msrc"


class _Trap:
    """Unpickling this object creates a marker file: proof that a pickle was executed."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _relist(root, **changes) -> None:
    manifest = json.loads((root / "manifest.json").read_text())
    for name in list(manifest["files"]):
        if not (root / name).exists():
            del manifest["files"][name]
    for name in changes.get("files", []):
        manifest["files"][name] = {
            "sha256": sha256_file(root / name),
            "bytes": (root / name).stat().st_size,
        }
    if "schema" in changes:
        manifest["agent"]["schema"] = changes["schema"]
    (root / "manifest.json").write_text(json.dumps(manifest))


def test_legacy_pickled_agent_artifact_is_refused_unread(agent_dir, tmp_path):
    root = tmp_path / "legacy"
    shutil.copytree(agent_dir, root)
    marker = tmp_path / "pickle_was_executed"
    (root / "host_agent.pt").write_bytes(pickle.dumps({"state_dict": _Trap(str(marker))}))
    (root / HOST_WEIGHTS).unlink()
    (root / HOST_CONFIG).unlink()
    _relist(root, files=["host_agent.pt"], schema="modspike-nmd-agent/1")
    with pytest.raises(ArtifactError, match="modspike-nmd-agent/1.*re-export") as exc:
        load_agent_artifact(root)
    assert "\n" not in str(exc.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "case,needle",
    [
        ("kwargs_huge", "magnitude"),
        ("kwargs_nan", "not valid JSON"),
        ("unknown_kind", "cannot build the agent"),
        ("shape_mismatch", "does not match"),
        ("nan_weights", "NaN or Inf"),
        ("not_safetensors", "unreadable"),
    ],
)
def test_bad_agent_host_files_give_typed_errors(case, needle, agent_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    root = tmp_path / "bad"
    shutil.copytree(agent_dir, root)
    config = json.loads((root / HOST_CONFIG).read_text())
    if case == "kwargs_huge":
        config["kwargs"]["sizes"] = [10**9]
    elif case == "kwargs_nan":
        config["kwargs"]["hs0_init"] = float("nan")
    elif case == "unknown_kind":
        config["kind"] = "transformer"
    elif case == "shape_mismatch":
        config["kwargs"]["sizes"] = [7]
    state = load_file(str(root / HOST_WEIGHTS))
    if case == "nan_weights":
        key = next(k for k, v in state.items() if v.is_floating_point())
        state[key] = torch.full_like(state[key], float("nan"))
    save_file(state, str(root / HOST_WEIGHTS))
    if case == "not_safetensors":
        (root / HOST_WEIGHTS).write_bytes(np.arange(50, dtype=np.uint8).tobytes())
    (root / HOST_CONFIG).write_text(json.dumps(config))
    _relist(root, files=[HOST_WEIGHTS, HOST_CONFIG])
    with pytest.raises(ArtifactError, match=needle) as exc:
        load_agent_artifact(root)
    assert "\n" not in str(exc.value)
