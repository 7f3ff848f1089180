"""Shared fixtures. Fixtures of the export stage are prefixed ``export_``."""

from __future__ import annotations

import pytest
import torch


def export_active_model(
    cell: str, layers: int = 2, recurrent: bool = True, hidden: int = 16, seed: int = 0
):
    """An untrained network whose neurons do fire on rate-coded digits (for identity tests)."""
    from modspike.train.modules import ModelConfig, build_model

    torch.manual_seed(seed)
    model = build_model(
        ModelConfig(cell=cell, n_in=64, hidden=hidden, layers=layers, recurrent=recurrent)
    )
    with torch.no_grad():
        for layer in model.layers:
            layer.synapse.weight.mul_(3.0)
            if cell == "src":
                layer.cell.bh.uniform_(-4.6, -3.0)
            elif cell in ("msrc", "bsrc"):
                layer.cell.b.uniform_(3.0, 6.0)
            elif layer.synapse.bias is not None:
                layer.synapse.bias.uniform_(-0.1, 0.2)
    return model.eval()


@pytest.fixture(scope="session")
def export_digits():
    from modspike.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="session")
def export_src_run(tmp_path_factory):
    """A small trained SRC run (digits, T = 25), shared by the export tests."""
    from modspike.train.trainer import TrainConfig, train

    out = tmp_path_factory.mktemp("export_runs") / "src"
    cfg = TrainConfig(cell="src", hidden=48, steps=25, epochs=3, limit=400, seed=0)
    train(cfg, out=out, progress=False)
    return out


@pytest.fixture(scope="session")
def export_lif_run(tmp_path_factory):
    from modspike.train.trainer import TrainConfig, train

    out = tmp_path_factory.mktemp("export_runs") / "lif"
    train(
        TrainConfig(cell="lif", hidden=32, steps=15, epochs=2, limit=300), out=out, progress=False
    )
    return out


@pytest.fixture(scope="session")
def export_ann_run(tmp_path_factory):
    from modspike.train.trainer import TrainConfig, train

    out = tmp_path_factory.mktemp("export_runs") / "ann"
    train(TrainConfig(cell="ann", hidden=32, epochs=3, limit=400), out=out, progress=False)
    return out


@pytest.fixture(scope="session")
def export_src_artifact(tmp_path_factory, export_src_run, export_ann_run):
    """``modspike export`` of the SRC run with the ANN baseline."""
    from modspike.cli import main

    out = tmp_path_factory.mktemp("export_artifacts") / "src"
    code = main(
        ["export", str(export_src_run), "--baseline", str(export_ann_run), "--out", str(out)]
    )
    assert code == 0
    return out


@pytest.fixture
def export_make_model():
    """Factory fixture: ``export_make_model(cell, layers=2, recurrent=True, hidden=16)``."""
    return export_active_model


def run_fixed(net, spikes):
    """``(logits, rasters)`` of a quantised network's integer program (the simulator)."""
    import numpy as np

    from modspike.step import Precision, compile, run

    prog = compile(net, Precision.FIXED)
    x = np.asarray(spikes)
    out = run(prog, x)
    return prog.readout(out.total, x.shape[0]), out.records


def run_float(net, spikes, modulation=None):
    """``(logits, rasters)`` of a network's float program (the torch backend), as tensors."""
    from modspike.step import Precision, compile, run

    prog = compile(net, Precision.FLOAT)
    x = torch.as_tensor(spikes, dtype=torch.float32)
    with torch.no_grad():
        out = run(prog, x, modulation=modulation)
        return prog.readout(out.total, x.shape[0]), out.records


def export_graph(model, fmt=None, info=None, input_exp: int = 0):
    """The NIR graph ``modspike export`` writes for ``model`` (quantised at ``fmt``), and the
    quantised network."""
    from modspike.export.nir.write import to_nir
    from modspike.quantize import quantize
    from modspike.train.modules import to_network

    qnet = quantize(to_network(model), fmt, input_exponent=input_exp)
    return to_nir(qnet, info), qnet


def build_network(layers, readout=None, input_shape=None):
    """A float :class:`Network` from per-layer tuples ``(kind, weight, params, constants[, rec
    weight[, synapse bias]])`` (test builder); ``params`` is the kind's float-parameter NamedTuple
    or a dict of per-neuron arrays; ``readout`` (n_out, n_last) or None."""
    import numpy as np

    from modspike import registry
    from modspike.network import Cell, Layer, Network, Readout, Synapse

    dense = registry.synapse("dense")
    out, shape = [], input_shape or (int(np.asarray(layers[0][1]).shape[1]),)
    for k, spec in enumerate(layers):
        kind_name, w, p, constants, *rest = spec
        rec = rest[0] if rest else None
        bias = rest[1] if len(rest) > 1 else None
        kind = registry.cell(kind_name)
        p = p if hasattr(p, "_fields") else kind.float_params(**p)
        n = int(np.asarray(w).shape[0]) // kind.in_multiplicity
        out.append(
            Layer(
                f"layer{k}",
                Synapse(dense, w, bias),
                Cell(kind, p, constants),
                None if rec is None else Synapse(dense, rec),
                tuple(shape),
                (n,),
            )
        )
        shape = (n,)
    ro = None if readout is None else Readout(Synapse(dense, readout))
    return Network(input_shape=out[0].in_shape, layers=tuple(out), readout=ro)


def float_network(kind: str, weights, params, constants=None, rec_weights=None, readout=None):
    """One cell kind throughout: ``weights[k]``, ``params[k]``, ``rec_weights[k]`` or None."""
    recs = rec_weights or [None] * len(weights)
    return build_network(
        [(kind, w, p, constants, r) for w, p, r in zip(weights, params, recs)], readout
    )


def src_params(bh):
    from modspike.kinds.cells.src.float_step import SRCParams

    return SRCParams(bh)


def msrc_params(b, hs0):
    from modspike.kinds.cells.msrc.float_step import MSRCParams

    return MSRCParams(b, hs0)


def lif_params(n, beta=0.9, threshold=1.0):
    import numpy as np

    from modspike.kinds.cells.lif.float_step import LIFParams

    return LIFParams(np.full(n, beta), np.full(n, threshold), np.ones(n), np.zeros(n), np.zeros(n))


def torch_layer(kind: str, n_in: int, cell, recurrent: bool = False):
    """A trainable layer (synapse -> ``cell`` module of ``kind``), as ``TorchNetwork`` builds."""
    from modspike import registry
    from modspike.train.modules import TorchLayer

    return TorchLayer(n_in, registry.cell(kind), cell, recurrent)


def layer_step(layer, s, state):
    """One step of a trainable layer by hand: ``(output, (output, cell state))``."""
    L = layer.compiled("layer")
    prev, cell_state = state
    out, cell_state = L.step(L.drive(s, prev), cell_state, L.params)
    return out, (out, cell_state)


def layer_initial_state(layer, batch: int):
    return layer.compiled("layer").initial_state(batch)
