"""Write the golden fixtures of tests/test_golden.py with the code of commit fdee51f.

Run once, before the network-description redesign (issue 12), from the repository root:
``.venv/bin/python tests/data/golden/make_golden.py``. The files it wrote are the reference the
redesigned code must reproduce bit for bit; this script is kept as the record of how they were
made and is not run by the suite (it uses the pre-redesign API).

Per case ``NAME``: ``NAME/run`` (a run directory: config.json + model.safetensors), ``NAME.nir``
(the exported 8-bit graph), ``NAME.npz`` (input spikes; the integer network's logits and rasters;
the float runner's logits and rasters on the imported file; the trained float model's logits and
the gradient of a fixed loss w.r.t. every parameter, in float and in QAT).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nir
import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/: conftest.py holds the builder

from conftest import export_active_model  # noqa: E402

from modspike.export.nir_export import export_graph  # noqa: E402
from modspike.export.nir_import import import_nir  # noqa: E402
from modspike.export.runner import build_runner  # noqa: E402
from modspike.fixedpoint import IntModulation, WeightFormat  # noqa: E402
from modspike.rundir import save_run  # noqa: E402
from modspike.train.qat import QuantizedNet, quantize_network  # noqa: E402

CASES = {
    "src_rec": dict(cell="src", layers=2, recurrent=True, fmt=WeightFormat(8)),
    "msrc_rec": dict(cell="msrc", layers=2, recurrent=True, fmt=WeightFormat(8, "neuron")),
    "bsrc": dict(cell="bsrc", layers=1, recurrent=True, fmt=WeightFormat(8)),
    "lif": dict(cell="lif", layers=2, recurrent=False, fmt=WeightFormat(8)),
    "cubalif": dict(cell="cubalif", layers=2, recurrent=False, fmt=WeightFormat(8)),
    "src_4bit_neuron": dict(cell="src", layers=1, recurrent=False, fmt=WeightFormat(4, "neuron")),
}


def _spikes(seed: int, steps: int = 12, batch: int = 20, n_in: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((steps, batch, n_in)) < 0.3).astype(np.float32)


def _grads(model, spikes) -> dict:
    model.zero_grad(set_to_none=True)
    logits = model(torch.as_tensor(spikes))
    loss = (logits * torch.linspace(-1, 1, logits.shape[1])).sum()
    loss.backward()
    return {
        n: p.grad.detach().numpy().copy() for n, p in model.named_parameters() if p.grad is not None
    }


def make_case(name: str, cell: str, layers: int, recurrent: bool, fmt: WeightFormat) -> None:
    model = export_active_model(cell, layers=layers, recurrent=recurrent, seed=3)
    save_run(HERE / name / "run", model.config.to_dict(), {"cell": cell}, model.state_dict(), {})
    qnet = quantize_network(model, fmt)
    path = HERE / f"{name}.nir"
    nir.write(path, export_graph(model, qnet, fmt, info={"golden": name}))
    spikes = _spikes(len(name))
    out = {"spikes": spikes}
    logits, rasters = qnet.run(spikes, record=True)
    out["int_logits"] = logits
    for k, r in enumerate(rasters):
        out[f"int_raster{k}"] = r
    runner = build_runner(import_nir(path), "float")
    with torch.no_grad():
        f_logits, f_rec = runner(torch.as_tensor(spikes), record=True)
    out["float_logits"] = f_logits.numpy()
    for k, r in enumerate(f_rec):
        out[f"float_raster{k}"] = r.numpy()
    with torch.no_grad():
        out["model_logits"] = model(torch.as_tensor(spikes)).numpy()
    for key, g in _grads(model, spikes).items():
        out[f"grad:{key}"] = g
    qat = QuantizedNet(model, fmt)
    qat.train()
    for key, g in _grads(qat, spikes).items():
        out[f"qatgrad:{key}"] = g
    np.savez_compressed(HERE / f"{name}.npz", **out)


def make_modulated() -> None:
    """A graded-input mSRC network (the agent's form) run with a modulation signal."""
    from modspike.train.cells.msrc import MSRCConstants
    from modspike.train.network import CellLayer, ModelConfig, SpikingNet

    torch.manual_seed(5)
    model = SpikingNet(ModelConfig(cell="msrc", n_in=6, hidden=10, layers=2, recurrent=True))
    consts = MSRCConstants(alpha=0.5)
    for layer in model.layers:
        assert isinstance(layer, CellLayer)
        layer.cell.constants = consts
        with torch.no_grad():
            layer.cell.b.uniform_(-1.0, 1.0)
            layer.synapse.weight.mul_(3.0)
    fmt = WeightFormat(8)
    qnet = quantize_network(model, fmt, in_exp=-12)
    nir.write(HERE / "msrc_graded.nir", export_graph(model, qnet, fmt, input_exp=-12))
    rng = np.random.default_rng(11)
    steps, batch = 9, 4
    x = rng.integers(-4096, 4096, (steps, batch, 6))
    mods = []
    for layer in qnet.layers:
        n = layer.n
        mods.append(
            IntModulation(
                rng.integers(2048, 8192, (steps, batch, n)),
                rng.integers(-2048, 2048, (steps, batch, n)),
                rng.integers(-1024, 1024, (steps, batch, n)),
            )
        )
    logits, rasters = qnet.run(x, record=True, modulation=mods)
    out = {"inputs": x, "int_logits": logits}
    for k, (r, m) in enumerate(zip(rasters, mods)):
        out[f"int_raster{k}"] = r
        out[f"mod{k}_gain"], out[f"mod{k}_bias"], out[f"mod{k}_hs0"] = m
    np.savez_compressed(HERE / "msrc_graded.npz", **out)


def make_foreign() -> None:
    """A NIR file as another tool writes it (no modspike metadata), with every foreign kind."""
    rng = np.random.default_rng(7)
    n_in, n1, n2, n3, n4, n5 = 12, 10, 8, 8, 6, 5
    f = np.float32

    def w(a, b):
        return rng.normal(size=(a, b)).astype(f)

    nodes = {
        "input": nir.Input(input_type=np.array([n_in])),
        "fc1": nir.Affine(weight=w(n1, n_in) * 2, bias=(rng.random(n1) * 0.1).astype(f)),
        "lif1": nir.LIF(
            tau=np.full(n1, 5e-3, f),
            r=np.full(n1, 2.0, f),
            v_leak=np.full(n1, 0.05, f),
            v_threshold=np.full(n1, 1.0, f),
            v_reset=np.zeros(n1, f),
        ),
        "fc2": nir.Linear(weight=w(n2, n1)),
        "cuba": nir.CubaLIF(
            tau_syn=np.full(n2, 2e-3, f),
            tau_mem=np.full(n2, 4e-3, f),
            r=np.full(n2, 1.5, f),
            v_leak=np.zeros(n2, f),
            v_threshold=np.full(n2, 0.8, f),
            v_reset=np.zeros(n2, f),
            w_in=np.full(n2, 2.0, f),
        ),
        "fc3": nir.Linear(weight=w(n3, n2)),
        "if3": nir.IF(
            r=np.full(n3, 5e3, f), v_threshold=np.full(n3, 1.0, f), v_reset=np.zeros(n3, f)
        ),
        "fc4": nir.Linear(weight=w(n4, n3)),
        "thr": nir.Threshold(threshold=np.full(n4, 0.2, f)),
        "fc5": nir.Affine(weight=w(n5, n4), bias=np.zeros(n5, f)),
        "li": nir.LI(tau=np.full(n5, 1e-3, f), r=np.ones(n5, f), v_leak=np.zeros(n5, f)),
        "output": nir.Output(output_type=np.array([n5])),
    }
    order = list(nodes)
    graph = nir.NIRGraph(nodes=nodes, edges=list(zip(order[:-1], order[1:])))
    nir.write(HERE / "foreign.nir", graph)
    spikes = _spikes(99, steps=15, batch=8, n_in=n_in)
    runner = build_runner(import_nir(HERE / "foreign.nir", dt=1e-4), "float")
    with torch.no_grad():
        logits, rec = runner(torch.as_tensor(spikes), record=True)
    out = {"spikes": spikes, "float_logits": logits.numpy()}
    for k, r in enumerate(rec):
        out[f"float_raster{k}"] = r.numpy()
    np.savez_compressed(HERE / "foreign.npz", **out)


def make_training() -> None:
    """Two epochs of training on 200 digits, for each kind the trainer knows: the losses and a
    checksum of the weights (same seed, same thread count: identical)."""
    import hashlib

    from modspike.train.trainer import TrainConfig, train

    torch.set_num_threads(2)
    record = {}
    for cell, extra in [
        ("src", {}),
        ("msrc", {"hs0": "0.5:1.5"}),
        ("lif", {}),
        ("cubalif", {}),
        ("bsrc", {}),
        ("msrc", {"recurrent": True, "layers": 2}),
        ("src", {"warmup_steps": 3, "recurrent": True}),
        ("nbrc", {"warmup_steps": 2}),
        ("brc", {}),
        ("src", {"qat": True}),
        ("lif", {"qat": True, "layers": 2}),
        ("ann", {}),
    ]:
        cfg = TrainConfig(cell=cell, hidden=24, steps=20, epochs=2, limit=300, **extra)
        model, metrics = train(cfg, progress=False)
        digest = hashlib.sha256()
        for key, value in sorted(model.state_dict().items()):
            digest.update(key.encode())
            digest.update(value.detach().numpy().tobytes())
        params = hashlib.sha256()  # learned parameters only: state_dict names of buffers changed
        for key, value in sorted(model.named_parameters()):
            params.update(key.encode())
            params.update(value.detach().numpy().tobytes())
        tag = cell + "".join(f"-{k}={v}" for k, v in sorted(extra.items()))
        record[tag] = {
            "config": extra,
            "losses": [h["loss"] for h in metrics["history"]],
            "val_loss": [h["val_loss"] for h in metrics["history"]],
            "test_accuracy": metrics["test_accuracy"],
            "weights_sha256": digest.hexdigest(),
            "parameters_sha256": params.hexdigest(),
        }
    (HERE / "training.json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    for name, kw in CASES.items():
        make_case(name, **kw)
    make_modulated()
    make_foreign()
    make_training()
    print("golden fixtures written to", HERE)
