"""Golden fixtures written before the network-description redesign (tests/data/golden/): the
redesigned code must reproduce them bit for bit: integer outputs, float outputs, the exported NIR
graph, gradients in float and QAT training, and two epochs of training."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nir
import numpy as np
import pytest
import torch
from conftest import export_graph, run_fixed, run_float

from modspike.export.nir.read import import_nir
from modspike.fixedpoint import WeightFormat
from modspike.modulation import Modulation
from modspike.step import Precision, compile, run
from modspike.studies.warmup import warmup_hook
from modspike.train.qat import QuantizedNet
from modspike.train.trainer import TrainConfig, load_model, train

GOLDEN = Path(__file__).parent / "data" / "golden"
CASES = {
    "src_rec": WeightFormat(8),
    "msrc_rec": WeightFormat(8, "neuron"),
    "bsrc": WeightFormat(8),
    "lif": WeightFormat(8),
    "cubalif": WeightFormat(8),
    "src_4bit_neuron": WeightFormat(4, "neuron"),
}


def _load(name: str) -> dict:
    with np.load(GOLDEN / f"{name}.npz") as f:
        return dict(f)


def _rasters(data: dict, prefix: str) -> list[np.ndarray]:
    out, k = [], 0
    while f"{prefix}{k}" in data:
        out.append(data[f"{prefix}{k}"])
        k += 1
    return out


def _same_list(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("name", CASES)
def test_golden_integer_network(name):
    data = _load(name)
    logits, rasters = run_fixed(import_nir(GOLDEN / f"{name}.nir"), data["spikes"])
    assert np.array_equal(logits, data["int_logits"])
    assert _same_list(rasters, _rasters(data, "int_raster"))


@pytest.mark.parametrize("name", CASES)
def test_golden_float_runner(name):
    data = _load(name)
    logits, rec = run_float(import_nir(GOLDEN / f"{name}.nir"), data["spikes"])
    assert np.array_equal(logits.numpy(), data["float_logits"])
    assert _same_list([r.numpy() for r in rec], _rasters(data, "float_raster"))


def _graph_dict(graph) -> dict:
    d = graph.to_dict()
    meta = d.get("metadata", {}).get("modspike", {})
    meta.pop("modspike_version", None)
    return d


def _equal(a, b, path="") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (path, sorted(a), sorted(b))
        for key in a:
            _equal(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _equal(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        x, y = np.asarray(a), np.asarray(b)
        assert x.dtype == y.dtype and np.array_equal(x, y), path
    else:
        assert a == b, (path, a, b)


@pytest.mark.parametrize("name", CASES)
def test_golden_export_writes_the_same_graph(name, tmp_path):
    model, _, _ = load_model(GOLDEN / name / "run")
    path = tmp_path / "m.nir"
    nir.write(path, export_graph(model, CASES[name], info={"golden": name})[0])
    _equal(_graph_dict(nir.read(GOLDEN / f"{name}.nir")), _graph_dict(nir.read(path)))


def _grads(model, spikes) -> dict:
    model.zero_grad(set_to_none=True)
    logits = model(torch.as_tensor(spikes))
    (logits * torch.linspace(-1, 1, logits.shape[1])).sum().backward()
    return {n: p.grad.numpy() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("name", CASES)
def test_golden_training_forward_and_gradients(name):
    data = _load(name)
    model, _, _ = load_model(GOLDEN / name / "run")
    with torch.no_grad():
        assert np.array_equal(model(torch.as_tensor(data["spikes"])).numpy(), data["model_logits"])
    grads = _grads(model, data["spikes"])
    want = {k.removeprefix("grad:"): v for k, v in data.items() if k.startswith("grad:")}
    assert set(grads) == set(want)
    for key in want:
        assert np.array_equal(grads[key], want[key]), key
    qat = QuantizedNet(model, CASES[name]).train()
    grads = _grads(qat, data["spikes"])
    want = {k.removeprefix("qatgrad:"): v for k, v in data.items() if k.startswith("qatgrad:")}
    assert set(grads) == set(want)
    for key in want:
        assert np.array_equal(grads[key], want[key]), key


def test_golden_modulated_graded_network():
    data = _load("msrc_graded")
    net = import_nir(GOLDEN / "msrc_graded.nir")
    mods = [
        Modulation(data[f"mod{k}_gain"], data[f"mod{k}_bias"], data[f"mod{k}_hs0"])
        for k in range(len(net.layers))
    ]
    prog = compile(net, Precision.FIXED)
    out = run(prog, data["inputs"], modulation=mods)
    logits, rasters = prog.readout(out.total, data["inputs"].shape[0]), out.records
    assert np.array_equal(logits, data["int_logits"])
    assert _same_list(rasters, _rasters(data, "int_raster"))


def test_golden_foreign_file():
    data = _load("foreign")
    logits, rec = run_float(import_nir(GOLDEN / "foreign.nir", dt=1e-4), data["spikes"])
    assert np.array_equal(logits.numpy(), data["float_logits"])
    assert _same_list([r.numpy() for r in rec], _rasters(data, "float_raster"))


def test_golden_two_epochs_of_training():
    """Same seed and thread count as the fixture: identical losses and weights."""
    record = json.loads((GOLDEN / "training.json").read_text())
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for tag, want in record.items():
            cell = tag.split("-")[0]
            cfg = TrainConfig(cell=cell, hidden=24, steps=20, epochs=2, limit=300, **want["config"])
            model, metrics = train(cfg, progress=False, prepare=warmup_hook)
            digest = hashlib.sha256()  # the learned parameters (buffer names changed on purpose)
            for key, value in sorted(model.named_parameters()):
                digest.update(key.encode())
                digest.update(value.detach().numpy().tobytes())
            assert [h["loss"] for h in metrics["history"]] == want["losses"], tag
            assert [h["val_loss"] for h in metrics["history"]] == want["val_loss"], tag
            assert metrics["test_accuracy"] == want["test_accuracy"], tag
            assert digest.hexdigest() == want["parameters_sha256"], tag
    finally:
        torch.set_num_threads(threads)
