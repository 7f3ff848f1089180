"""The deployable artifact: export, inspect, the torch runner, atomic writes, bad input, and a
hypothesis fuzz of the loader."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import nir
import numpy as np
import pytest
import torch
from conftest import build_network, export_graph, lif_params
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modspike.artifact import load_manifest, sha256_file
from modspike.cli import main
from modspike.errors import ArtifactError, ModspikeError
from modspike.export.artifact_build import load_artifact_runner, open_artifact
from modspike.export.summary import summarize
from modspike.fixedpoint import WeightFormat
from modspike.train.trainer import evaluate, load_model


def test_export_writes_a_complete_manifest(export_src_artifact, export_src_run):
    root = export_src_artifact
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["schema"] == "modspike-artifact/1"
    versions = manifest["created_by"]
    for dist in ("modspike", "nir", "torch", "lava-nc"):
        assert versions[dist], dist
    assert manifest["cell"] == "src" and manifest["layers"] == ["src"]
    assert manifest["encoding"]["name"] == "rate" and manifest["steps"] == 25
    assert manifest["dt"] == 1e-4 and manifest["data"]["name"] == "digits"
    acc = manifest["accuracy"]
    assert {"float", "quantized", "jaccard", "trained_test_accuracy"} <= set(acc)
    assert acc["trained_test_accuracy"] == acc["float"]  # same weights, same input spikes
    assert manifest["quantization"]["weight_bits"] == 8
    assert set(manifest["files"]) == {"model.nir", "baseline.onnx"}
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == sha256_file(root / name)
        assert entry["bytes"] == (root / name).stat().st_size
    assert manifest["baseline"]["identical_predictions"] is True
    assert sorted(p.name for p in root.iterdir()) == ["baseline.onnx", "manifest.json", "model.nir"]


def test_artifact_runner_reproduces_the_exported_accuracy(
    export_src_artifact, export_src_run, export_digits
):
    manifest = json.loads((export_src_artifact / "manifest.json").read_text())
    _, cfg, _ = load_model(export_src_run)
    runner = load_artifact_runner(export_src_artifact, "fixed")
    data = export_digits
    result = evaluate(runner, data.x_test, data.y_test, cfg, seed=cfg.seed + 2)
    assert result["accuracy"] == manifest["accuracy"]["quantized"]
    float_runner = load_artifact_runner(export_src_artifact, "float")
    assert isinstance(float_runner, torch.nn.Module)


def test_inspect_prints_a_readable_summary(export_src_artifact, capsys):
    assert main(["inspect", str(export_src_artifact)]) == 0
    text = capsys.readouterr().out
    for needle in (
        "src",
        "8-bit weights",
        "Jaccard",
        "layer0.cell",
        "readout",
        "Loihi 2",
        "fits one neurocore",
        "baseline.onnx",
    ):
        assert needle in text, needle
    assert main(["inspect", str(export_src_artifact), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["totals"]["neurons"] == 48 + 10
    assert summary["totals"]["synapses"] == 64 * 48 + 48 * 10
    assert summary["loihi2_core"]["fits"] is True
    assert summary["layers"][0]["weight_bits"] == 8


def test_inspect_explains_why_a_network_does_not_fit():
    big = build_network([("lif", np.zeros((9000, 5000)), lif_params(9000), None)])
    from modspike.artifact import Artifact

    summary = summarize(Artifact(Path("."), {}), big)
    reasons = " ".join(summary["loihi2_core"]["reasons"])
    assert not summary["loihi2_core"]["fits"]
    for needle in ("float32", "9000 neurons", "KiB", "5000 input axons"):
        assert needle in reasons, needle


def test_import_nir_artifact_runs(tmp_path, export_make_model):
    model = export_make_model("lif", layers=1, recurrent=False)
    nir.write(tmp_path / "m.nir", export_graph(model, WeightFormat())[0])
    assert main(["import-nir", str(tmp_path / "m.nir"), "--out", str(tmp_path / "a")]) == 0
    artifact, net = open_artifact(tmp_path / "a")
    assert artifact.manifest["dt_source"] == "metadata"
    assert net.quantized  # our own file keeps its integer model


# --------------------------------------------------------------------------- bad input


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _rewrite_manifest(root: Path, edit) -> None:
    manifest = json.loads((root / "manifest.json").read_text())
    edit(manifest)
    (root / "manifest.json").write_text(json.dumps(manifest))


def _break(kind: str, root: Path) -> None:
    model = root / "model.nir"
    if kind == "checksum":
        data = bytearray(model.read_bytes())
        data[len(data) // 2] ^= 0xFF
        model.write_bytes(bytes(data))
    elif kind == "truncated":
        model.write_bytes(model.read_bytes()[:1000])
    elif kind == "newer_schema":
        _rewrite_manifest(root, lambda m: m.update(schema="modspike-artifact/2"))
    elif kind == "missing_file":
        model.unlink()
    elif kind == "no_manifest":
        (root / "manifest.json").unlink()
    elif kind == "bad_json":
        (root / "manifest.json").write_text("{not json")
    elif kind == "corrupt_nir_valid_checksum":
        model.write_bytes(model.read_bytes()[:5000])
        digest, size = sha256_file(model), model.stat().st_size
        _rewrite_manifest(root, lambda m: m["files"]["model.nir"].update(sha256=digest, bytes=size))


BROKEN = {
    "checksum": "checksum mismatch",
    "truncated": "truncated or replaced",
    "newer_schema": "newer than this modspike reads",
    "missing_file": "missing",
    "no_manifest": "not a modspike artifact",
    "bad_json": "not valid JSON",
    "corrupt_nir_valid_checksum": "not a readable NIR",
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_artifacts_give_one_line_and_exit_2(kind, tmp_path, export_src_artifact, capsys):
    root = _copy(export_src_artifact, tmp_path / "art")
    _break(kind, root)
    with pytest.raises(ArtifactError, match=BROKEN[kind]):
        open_artifact(root)
    assert main(["inspect", str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("modspike inspect: error:"), err


def _nan_run(src: Path, dst: Path) -> Path:
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    state = load_file(str(dst / "model.safetensors"))
    state["layers.0.synapse.weight"][0, 0] = float("nan")
    save_file(state, str(dst / "model.safetensors"))
    return dst


@pytest.mark.parametrize(
    "case,message",
    [
        ("bits", "weight bits"),
        ("nan", "NaN or Inf"),
        ("baseline_not_ann", "not an ANN run"),
        ("ann_as_model", "is an ANN run"),
        ("missing_run", "no such run directory"),
    ],
)
def test_failed_exports_leave_nothing_behind(
    case, message, tmp_path, export_src_run, export_ann_run, capsys
):
    out = tmp_path / "artifact"
    args = ["export", str(export_src_run), "--out", str(out)]
    if case == "bits":
        args += ["--bits", "9"]
    elif case == "nan":
        args[1] = str(_nan_run(export_src_run, tmp_path / "nan_run"))
    elif case == "baseline_not_ann":
        args += ["--baseline", str(export_src_run)]  # fails after model.nir was written
    elif case == "ann_as_model":
        args[1] = str(export_ann_run)
    elif case == "missing_run":
        args[1] = str(tmp_path / "nowhere")
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".artifact")]  # no temp left


# --------------------------------------------------------------------------- fuzz


@pytest.fixture(scope="module")
def export_small_artifact(tmp_path_factory, export_make_model):
    """A small real artifact (SRC, recurrent) whose bytes the fuzzers mutate."""
    from modspike.artifact import write_artifact

    model = export_make_model("src", layers=1, recurrent=True, hidden=6)
    graph = export_graph(model, WeightFormat())[0]
    root = tmp_path_factory.mktemp("fuzz") / "art"
    write_artifact(root, {"model.nir": lambda p: nir.write(p, graph)}, {"cell": "src", "dt": 1e-4})
    open_artifact(root)  # valid to begin with
    return {
        "manifest": json.loads((root / "manifest.json").read_text()),
        "model": (root / "model.nir").read_bytes(),
    }


@pytest.fixture(scope="module")
def export_make_model():  # module scope for the fuzz fixture (the conftest one is per test)
    from conftest import export_active_model

    return export_active_model


def _open(manifest_bytes: bytes, model_bytes: bytes | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "manifest.json").write_bytes(manifest_bytes)
        if model_bytes is not None:
            (root / "model.nir").write_bytes(model_bytes)
        try:
            open_artifact(root)
        except ModspikeError:
            pass  # the only exception allowed out


json_leaf = (
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=30)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
MANIFEST_KEYS = ["schema", "files", "cell", "dt", "model.nir", "sha256", "bytes", "layers"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_manifest(data, export_small_artifact):
    """Random manifests (mutated from a valid one, or arbitrary JSON / bytes)."""
    manifest = json.loads(json.dumps(export_small_artifact["manifest"]))
    choice = data.draw(st.integers(0, 4))
    if choice == 0:  # replace a key anywhere in the top level or the file entry
        key = data.draw(st.sampled_from(MANIFEST_KEYS))
        target = (
            manifest
            if key in manifest or data.draw(st.booleans())
            else manifest["files"]["model.nir"]
        )
        target[key] = data.draw(json_value)
        raw = json.dumps(manifest).encode()
    elif choice == 1:  # delete keys
        for key in data.draw(st.lists(st.sampled_from(MANIFEST_KEYS), max_size=3)):
            manifest.pop(key, None)
            manifest["files"].get("model.nir", {}).pop(key, None) if isinstance(
                manifest.get("files"), dict
            ) else None
        raw = json.dumps(manifest).encode()
    elif choice == 2:  # schema strings
        manifest["schema"] = data.draw(
            st.from_regex(r"modspike-artifact/[0-9]{1,8}|[a-z/-]{0,20}", fullmatch=True)
        )
        raw = json.dumps(manifest).encode()
    elif choice == 3:  # arbitrary JSON
        raw = json.dumps(data.draw(json_value)).encode()
    else:  # arbitrary bytes
        raw = data.draw(st.binary(max_size=200))
    keep_model = data.draw(st.booleans()) or choice != 1
    _open(raw, export_small_artifact["model"] if keep_model else None)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # nir.write on odd metadata values
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_model_file_with_valid_checksums(data, export_small_artifact):
    """Corrupted, truncated or edited model.nir whose manifest checksum *matches*: the loader must
    get past the checksum and still raise only typed errors."""
    model = bytearray(export_small_artifact["model"])
    how = data.draw(st.integers(0, 2))
    if how == 0:  # flip bytes
        for _ in range(data.draw(st.integers(1, 8))):
            pos = data.draw(st.integers(0, len(model) - 1))
            model[pos] = data.draw(st.integers(0, 255))
    elif how == 1:  # truncate
        model = model[: data.draw(st.integers(0, len(model)))]
    else:  # a graph with edited values
        model = bytearray(_edited_graph_bytes(data, export_small_artifact["model"]))
    manifest = json.loads(json.dumps(export_small_artifact["manifest"]))
    with tempfile.NamedTemporaryFile() as f:
        f.write(bytes(model))
        f.flush()
        manifest["files"]["model.nir"] = {"sha256": sha256_file(f.name), "bytes": len(model)}
    _open(json.dumps(manifest).encode(), bytes(model))


def _edited_graph_bytes(data, model_bytes: bytes) -> bytes:
    """Read the valid graph, replace one attribute or metadata value, write it again."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.nir"
        path.write_bytes(model_bytes)
        graph = nir.read(path)
        nodes = list(graph.nodes.items())
        name, node = nodes[data.draw(st.integers(0, len(nodes) - 1))]
        if isinstance(node, nir.NIRGraph) and data.draw(st.booleans()):
            target = node.metadata["modspike"]
        elif node.metadata.get("modspike") and data.draw(st.booleans()):
            target = node.metadata["modspike"]
        else:
            target = node.__dict__
        keys = [k for k in target if k not in ("input_type", "output_type", "nodes", "edges")]
        if not keys:
            return model_bytes
        key = data.draw(st.sampled_from(sorted(keys)))
        value = data.draw(
            st.sampled_from(
                [
                    np.array([np.nan], np.float32),
                    np.array([np.inf]),
                    np.zeros((3, 2), np.float32),
                    np.array([1e30]),
                    np.array([-5]),
                    "none",
                    "modspike-nir/99",
                    np.array([], np.float32),
                    np.array([0.5]),
                ]
            )
        )
        target[key] = value
        try:
            nir.write(path, graph)
        except Exception:  # nir itself cannot write this edit: keep the original graph
            return model_bytes
        return path.read_bytes()


def test_manifest_loader_accepts_the_real_thing(export_src_artifact):
    artifact = load_manifest(export_src_artifact)
    assert artifact.file("model.nir").is_file()
    with pytest.raises(ArtifactError, match="no nothing.bin"):
        artifact.file("nothing.bin")


def test_a_newer_network_schema_is_refused_in_one_line(export_src_artifact, tmp_path, capsys):
    art = tmp_path / "art"
    shutil.copytree(export_src_artifact, art)
    manifest = json.loads((art / "manifest.json").read_text())
    assert manifest["network_schema"] == "modspike-network/1"
    manifest["network_schema"] = "modspike-network/9"
    (art / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="newer than this modspike reads"):
        open_artifact(art)
    assert main(["inspect", str(art)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "modspike-network/9" in err[0]
    del manifest["network_schema"]  # artifacts of the previous version have none: /1
    (art / "manifest.json").write_text(json.dumps(manifest))
    open_artifact(art)
