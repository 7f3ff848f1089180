"""Write golden NIR files from other SNN libraries, with the producers' own spikes on fixed input.

Runs in a separate virtual environment that holds the producers (never in the project's):

    python3 -m uv venv /work/peers-venv --python 3.10
    python3 -m uv pip install --python /work/peers-venv/bin/python \
        -r benchmarks/peers/requirements-py310.txt
    /work/peers-venv/bin/python benchmarks/peers/make_peer_goldens.py \
        --only snntorch,norse,sinabs,rockpool,spyx
    # SpikingJelly 2.0 needs Python 3.11: a second venv from requirements-py311.txt, then
    /work/peers-venv311/bin/python benchmarks/peers/make_peer_goldens.py --only spikingjelly

For every producer that imports, the script builds small networks in the producer's own API with
fixed parameters, runs them on a fixed input spike tensor, exports each with the producer's own
NIR exporter and writes tests/data/peers/<producer>/<net>.nir and <net>.npz. Before writing, it
runs the numpy reference of tests/peer_reference.py on the file just written (read back with
nir.read) and stops if the reference does not reproduce the producer's spikes: the reference is
the written-down meaning of each producer's files (docs/nir-producers.md).

npz keys (all plain arrays; np.load needs no pickle):
    input                 (T, *input_shape) float32, the input spikes (no batch dimension)
    output                (T, *output_shape) float32, the producer's output (spike counts)
    spikes.<node>         (T, *shape) the producer's output of each neuron node of the NIR graph
    v.<node>              (T, *shape) the producer's membrane potential after the step, where
                          the producer exposes it
    meta.<key>            0-d strings: producer, producer_version, nir_version, nirtorch_version,
                          torch_version/jax_version, python, dt, reset, multispike, fixes, net
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import platform
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nir
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import peer_reference as ref  # noqa: E402

T = 30
N_IN, N_HID, N_OUT = 12, 16, 5
IMG = (1, 8, 8)  # (C, H, W)
OUT_DIR = ROOT / "tests" / "data" / "peers"


@dataclass
class Golden:
    net: str
    graph: nir.NIRGraph
    x: np.ndarray  # (T, *in)
    out: np.ndarray  # (T, *out)
    spikes: dict[str, np.ndarray]  # NIR node name -> (T, *shape)
    v: dict[str, np.ndarray] = field(default_factory=dict)
    reset: str = ""
    dt: float = 0.0
    fixes: str = "none"
    raw: nir.NIRGraph | None = None  # the file as the producer wrote it, where it had to be fixed


def dense_input(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((T, N_IN)) < 0.3).astype(np.float32)


def conv_input(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((T, *IMG)) < 0.3).astype(np.float32)


def param(shape: tuple[int, ...], seed: int, mean: float, std: float) -> np.ndarray:
    """A fixed parameter tensor (numpy, float32): the same numbers for every producer."""
    return np.random.default_rng(seed).normal(mean, std, shape).astype(np.float32)


def version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "absent"


# ----------------------------------------------------------------------------------------------
# torch helpers


def torch_record(net, names: list[str], x: np.ndarray, step: Callable) -> dict[str, np.ndarray]:
    """Run `step(x_t)` for every t, recording the outputs of the named submodules via hooks."""
    import torch

    rec: dict[str, list] = {n: [] for n in names}
    mods = dict(net.named_modules())
    handles = []
    for n in names:

        def hook(_m, _i, out, n=n):
            o = out[0] if isinstance(out, tuple) else out
            rec[n].append(o.detach().reshape(o.shape[1:]).numpy().copy())

        handles.append(mods[n].register_forward_hook(hook))
    with torch.no_grad():
        for t in range(x.shape[0]):
            step(torch.from_numpy(x[t][None]))
    for h in handles:
        h.remove()
    return {n: np.stack(v).astype(np.float32) for n, v in rec.items()}


def torch_record_unbatched(net, names, x, step) -> dict[str, np.ndarray]:
    """torch_record for producers run without a batch dimension."""
    import torch

    rec: dict[str, list] = {n: [] for n in names}
    mods = dict(net.named_modules())
    handles = []
    for n in names:

        def hook(_m, _i, out, n=n):
            o = out[0] if isinstance(out, tuple) else out
            rec[n].append(o.detach().numpy().copy())

        handles.append(mods[n].register_forward_hook(hook))
    with torch.no_grad():
        for t in range(x.shape[0]):
            step(torch.from_numpy(x[t][None]))
    for h in handles:
        h.remove()
    return {n: np.stack(v).astype(np.float32) for n, v in rec.items()}


def set_linear(lin, w: np.ndarray, b: np.ndarray | None) -> None:
    import torch

    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w))
        if b is not None:
            lin.bias.copy_(torch.from_numpy(b))


# ----------------------------------------------------------------------------------------------
# snntorch


def make_snntorch() -> list[Golden]:
    import snntorch as snn
    import torch
    from snntorch import utils as snn_utils
    from snntorch.export_nir import export_to_nir

    dt = 1e-4  # hard-coded in snntorch/export_nir.py
    out: list[Golden] = []

    def leaky(shape, beta, reset="subtract"):
        # Per-neuron tensors: a scalar beta/threshold gives `input: []` and type inference fails.
        return snn.Leaky(
            beta=torch.full(shape, beta),
            threshold=torch.ones(shape),
            init_hidden=True,
            reset_mechanism=reset,
        )

    def run_and_export(name, net, x, neuron_names, reset, mem_of=None, fixes="none"):
        snn_utils.reset(net)
        mems: dict[str, list] = {n: [] for n in (mem_of or {})}

        def step(xt):
            net(xt)
            for n, m in (mem_of or {}).items():
                mems[n].append(m.mem.detach()[0].numpy().copy())

        rec = torch_record(net, neuron_names, x, step)
        snn_utils.reset(net)
        sample = torch.zeros((1, *x.shape[1:]))
        # ignore_dims=[0]: a batch dimension in sample_data is otherwise kept in the Input type
        # and fails type inference; without a batch, Conv2d/Flatten cannot be traced.
        graph = export_to_nir(net, sample, ignore_dims=[0])
        v = {n: np.stack(m).astype(np.float32) for n, m in mems.items()}
        return Golden(name, graph, x, rec[neuron_names[-1]], rec, v, reset, dt, fixes)

    xd = dense_input()
    w1, b1 = param((N_HID, N_IN), 10, 0.25, 0.5), param((N_HID,), 11, 0.0, 0.1)
    w2, b2 = param((N_OUT, N_HID), 12, 0.05, 0.4), param((N_OUT,), 13, 0.0, 0.1)

    for reset in ("subtract", "zero"):
        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Linear(N_IN, N_HID),
            leaky((N_HID,), 0.85, reset),
            torch.nn.Linear(N_HID, N_OUT),
            leaky((N_OUT,), 0.9, reset),
        )
        set_linear(net[0], w1, b1)
        set_linear(net[2], w2, b2)
        name = "dense_lif" if reset == "subtract" else "dense_lif_zero"
        out.append(
            run_and_export(name, net, xd, ["1", "3"], reset, mem_of={"1": net[1], "3": net[3]})
        )

    # recurrent: RLeaky with an all-to-all recurrent Linear (exported as a nested subgraph)
    torch.manual_seed(0)
    rl = snn.RLeaky(
        beta=torch.full((N_HID,), 0.85),
        threshold=torch.ones(N_HID),
        linear_features=N_HID,
        init_hidden=True,
    )
    net = torch.nn.Sequential(
        torch.nn.Linear(N_IN, N_HID), rl, torch.nn.Linear(N_HID, N_OUT), leaky((N_OUT,), 0.9)
    )
    set_linear(net[0], w1, b1)
    set_linear(rl.recurrent, param((N_HID, N_HID), 14, -0.05, 0.3), param((N_HID,), 15, 0, 0.05))
    set_linear(net[2], w2, b2)
    out.append(
        run_and_export("recurrent_lif", net, xd, ["1", "3"], "subtract", mem_of={"3": net[3]})
    )

    # CubaLIF: Synaptic
    for reset in ("subtract", "zero"):
        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Linear(N_IN, N_HID),
            snn.Synaptic(
                alpha=torch.full((N_HID,), 0.7),
                beta=torch.full((N_HID,), 0.85),
                threshold=torch.ones(N_HID),
                init_hidden=True,
                reset_mechanism=reset,
            ),
            torch.nn.Linear(N_HID, N_OUT),
            snn.Synaptic(
                alpha=torch.full((N_OUT,), 0.6),
                beta=torch.full((N_OUT,), 0.9),
                threshold=torch.ones(N_OUT),
                init_hidden=True,
                reset_mechanism=reset,
            ),
        )
        set_linear(net[0], 0.6 * w1, b1)
        set_linear(net[2], 0.6 * w2, b2)
        name = "cuba_lif" if reset == "subtract" else "cuba_lif_zero"
        out.append(
            run_and_export(name, net, xd, ["1", "3"], reset, mem_of={"1": net[1], "3": net[3]})
        )

    # conv: Conv2d -> Leaky -> AvgPool2d -> Flatten -> Linear -> Leaky (no MaxPool/SumPool export)
    xc = conv_input()
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        leaky((4, 8, 8), 0.85),  # per-neuron beta of the full (C, H, W) shape, see leaky()
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(64, N_OUT),
        leaky((N_OUT,), 0.9),
    )
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(param((4, 1, 3, 3), 20, 0.25, 0.4)))
        net[0].bias.copy_(torch.from_numpy(param((4,), 21, 0.0, 0.1)))
    set_linear(net[4], param((N_OUT, 64), 22, 0.0, 0.25), param((N_OUT,), 23, 0, 0.1))
    out.append(run_and_export("conv", net, xc, ["1", "5"], "subtract", mem_of={"5": net[5]}))
    return out


# ----------------------------------------------------------------------------------------------
# norse


def make_norse() -> list[Golden]:
    import nirtorch
    import norse.torch as norse
    import torch
    from norse.torch.utils import export_nir as norse_export

    dt = 1e-3  # norse's default integration step, also the default of norse.torch.to_nir
    out: list[Golden] = []
    fixes = (
        "neuron parameters given per neuron (norse's scalar defaults make nir.write fail: "
        "'Scalar datasets don't support chunk/filter options'); sample_data without a batch "
        "dimension (otherwise the Input type keeps it)"
    )

    def box_p(shape, tau_mem_inv=100.0):
        return norse.LIFBoxParameters(
            tau_mem_inv=torch.full(shape, tau_mem_inv),
            v_leak=torch.zeros(shape),
            v_th=torch.ones(shape),
            v_reset=torch.zeros(shape),
        )

    def cuba_p(shape, tau_syn_inv=200.0, tau_mem_inv=100.0):
        return norse.LIFParameters(
            tau_syn_inv=torch.full(shape, tau_syn_inv),
            tau_mem_inv=torch.full(shape, tau_mem_inv),
            v_leak=torch.zeros(shape),
            v_th=torch.ones(shape),
            v_reset=torch.zeros(shape),
        )

    def extract(module):
        # norse 1.1.0 maps no pooling and no Flatten (nirtorch then fails with
        # "'NoneType' object has no attribute 'input_type'"): map them here, as norse's main does.
        node = norse_export._extract_norse_module(module, dt=dt)
        if node is None and isinstance(module, torch.nn.AvgPool2d):
            node = nir.AvgPool2d(
                kernel_size=np.array(torch.nn.modules.utils._pair(module.kernel_size)),
                stride=np.array(torch.nn.modules.utils._pair(module.stride or module.kernel_size)),
                padding=np.array(torch.nn.modules.utils._pair(module.padding)),
            )
        if node is None and isinstance(module, torch.nn.Flatten):
            node = nir.Flatten(input_type=None, start_dim=module.start_dim, end_dim=module.end_dim)
        return node

    def run_and_export(name, net, x, neuron_names, extra_fix=""):
        state = None

        def step(xt):
            nonlocal state
            _, state = net(xt[0], state)  # unbatched, like the sample given to the exporter

        rec = torch_record_unbatched(net, neuron_names, x, step)
        sample = torch.zeros(x.shape[1:])
        if extra_fix:
            graph = nirtorch.extract_nir_graph(net, extract, sample, model_name="norse")
            # Conv2d is written with input_shape=None, which nir.write cannot store ("One of
            # data, shape or dtype must be specified"): type inference fills it in.
            graph.infer_types()
        else:
            graph = norse.to_nir(net, sample, dt=dt)
        return Golden(name, graph, x, rec[neuron_names[-1]], rec, {}, "zero", dt, fixes + extra_fix)

    xd = dense_input()
    w1, b1 = param((N_HID, N_IN), 10, 0.25, 0.5), param((N_HID,), 11, 0.0, 0.1)
    w2, b2 = param((N_OUT, N_HID), 12, 0.05, 0.4), param((N_OUT,), 13, 0.0, 0.1)

    net = norse.SequentialState(
        torch.nn.Linear(N_IN, N_HID),
        norse.LIFBoxCell(box_p((N_HID,)), dt=dt),
        torch.nn.Linear(N_HID, N_OUT),
        norse.LIFBoxCell(box_p((N_OUT,), 150.0), dt=dt),
    )
    set_linear(net[0], 6 * w1, 6 * b1)
    set_linear(net[2], 8 * w2, 8 * b2)
    out.append(run_and_export("dense_lif", net, xd, ["1", "3"]))

    net = norse.SequentialState(
        torch.nn.Linear(N_IN, N_HID),
        norse.LIFCell(cuba_p((N_HID,)), dt=dt),
        torch.nn.Linear(N_HID, N_OUT),
        norse.LIFCell(cuba_p((N_OUT,), 250.0, 150.0), dt=dt),
    )
    set_linear(net[0], 2 * w1, 2 * b1)
    set_linear(net[2], 3 * w2, 3 * b2)
    out.append(run_and_export("cuba_lif", net, xd, ["1", "3"]))

    xc = conv_input()
    net = norse.SequentialState(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        norse.LIFCell(cuba_p((4, 8, 8)), dt=dt),
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(start_dim=0),  # unbatched run and sample (see fixes)
        torch.nn.Linear(64, N_OUT),
        norse.LIFCell(cuba_p((N_OUT,)), dt=dt),
    )
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(2 * param((4, 1, 3, 3), 20, 0.25, 0.4)))
        net[0].bias.copy_(torch.from_numpy(2 * param((4,), 21, 0.0, 0.1)))
    set_linear(net[4], 3 * param((N_OUT, 64), 22, 0.0, 0.25), param((N_OUT,), 23, 0, 0.1))
    out.append(
        run_and_export(
            "conv",
            net,
            xc,
            ["1", "5"],
            "; AvgPool2d and Flatten mapped by a wrapper around norse's module mapper "
            "(norse 1.1.0 exports neither); graph.infer_types() before nir.write (fills "
            "Conv2d.input_shape, written as None)",
        )
    )
    return out


# ----------------------------------------------------------------------------------------------
# sinabs


def make_sinabs() -> list[Golden]:
    import sinabs.layers as sl
    import torch
    from sinabs.nir import to_nir

    out: list[Golden] = []
    base_fix = (
        "tau_mem and spike_threshold given per neuron (a scalar tensor is written as a 0-d "
        "dataset, which nir.write refuses: 'Scalar datasets don't support chunk/filter options')"
    )

    def lif(n, tau, tau_syn=None):
        return sl.LIFSqueeze(
            tau_mem=torch.full((n,), tau),
            tau_syn=None if tau_syn is None else torch.full((n,), tau_syn),
            spike_threshold=torch.ones(n),
            batch_size=1,
        )

    def run_and_export(name, net, x, neuron_names, fixes=base_fix):
        for m in net.modules():
            if hasattr(m, "reset_states"):
                m.reset_states()

        def step(xt):
            net(xt)

        rec = torch_record(net, neuron_names, x, step)
        for m in net.modules():
            if hasattr(m, "reset_states"):
                m.reset_states()
        graph = to_nir(net, torch.zeros((1, *x.shape[1:])))
        if any(isinstance(n, nir.Conv2d) for n in graph.nodes.values()):
            # Conv2d is written with input_shape=None, which nir.write cannot store ("One of
            # data, shape or dtype must be specified"): type inference fills it in.
            graph.infer_types()
            fixes += "; graph.infer_types() before nir.write (fills Conv2d.input_shape)"
        return Golden(name, graph, x, rec[neuron_names[-1]], rec, {}, "subtract", 1.0, fixes)

    xd = dense_input()
    w1, b1 = param((N_HID, N_IN), 10, 0.25, 0.5), param((N_HID,), 11, 0.0, 0.1)
    w2, b2 = param((N_OUT, N_HID), 12, 0.05, 0.4), param((N_OUT,), 13, 0.0, 0.1)

    net = torch.nn.Sequential(
        torch.nn.Linear(N_IN, N_HID),
        lif(N_HID, 5.0),
        torch.nn.Linear(N_HID, N_OUT),
        lif(N_OUT, 8.0),
    )
    set_linear(net[0], 4 * w1, 4 * b1)
    set_linear(net[2], 4 * w2, 4 * b2)
    out.append(run_and_export("dense_lif", net, xd, ["1", "3"]))

    # LIF with tau_syn: sinabs writes a plain LIF and drops tau_syn. Fix: write the CubaLIF it is.
    net = torch.nn.Sequential(
        torch.nn.Linear(N_IN, N_HID),
        lif(N_HID, 5.0, 3.0),
        torch.nn.Linear(N_HID, N_OUT),
        lif(N_OUT, 8.0, 4.0),
    )
    set_linear(net[0], 2 * w1, 2 * b1)
    set_linear(net[2], 2 * w2, 2 * b2)
    g = run_and_export(
        "cuba_lif",
        net,
        xd,
        ["1", "3"],
        base_fix + "; LIF(tau_syn=...) is exported as a plain LIF without tau_syn: each such "
        "node replaced by CubaLIF(tau_syn=tau_syn, w_in=1) with the same tau_mem, r, threshold",
    )
    for name in ("1", "3"):
        node, mod = g.graph.nodes[name], net[int(name)]
        g.graph.nodes[name] = nir.CubaLIF(
            tau_syn=mod.tau_syn.detach().numpy().copy(),
            tau_mem=np.asarray(node.tau),
            r=np.asarray(node.r),
            v_leak=np.asarray(node.v_leak),
            v_threshold=np.asarray(node.v_threshold),
            w_in=np.ones_like(np.asarray(node.r)),
        )
    out.append(g)

    # conv: Conv2d -> IAF -> SumPool2d -> Flatten -> Linear -> LIF (the Speck-style layer stack)
    xc = conv_input()
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        sl.IAFSqueeze(batch_size=1),
        sl.SumPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(64, N_OUT),
        lif(N_OUT, 8.0),
    )
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(0.6 * param((4, 1, 3, 3), 20, 0.25, 0.4)))
        net[0].bias.copy_(torch.from_numpy(0.6 * param((4,), 21, 0.0, 0.1)))
    set_linear(net[4], 2 * param((N_OUT, 64), 22, 0.0, 0.25), param((N_OUT,), 23, 0, 0.1))
    out.append(run_and_export("conv", net, xc, ["1", "5"]))
    return out


# ----------------------------------------------------------------------------------------------
# rockpool


def strip_batch(graph: nir.NIRGraph) -> nir.NIRGraph:
    """Rockpool's fix: drop the leading batch (and time) dimensions from Input/Output types."""
    nodes = dict(graph.nodes)
    for name, node in nodes.items():
        if isinstance(node, nir.Input):
            shape = np.asarray(node.input_type["input"])
            nodes[name] = nir.Input(input_type=shape[1:] if shape[0] == 1 else shape)
    first = {b: a for a, b in graph.edges}
    g = nir.NIRGraph(nodes={**nodes}, edges=list(graph.edges), type_check=False)
    for name, node in nodes.items():
        if isinstance(node, nir.Output):
            src = nodes[first[name]]
            g.nodes[name] = nir.Output(output_type=np.asarray(src.output_type["output"]))
    g.infer_types()
    return g


def make_rockpool() -> list[Golden]:
    import torch
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFTorch, LinearTorch
    from rockpool.nn.modules.torch.nir import to_nir

    dt = 1e-3  # LIFTorch's default
    fix = (
        "Input type [1, 12] and Output type [1, 1, 5] carry batch (and time) dimensions, so "
        "nir.read refuses the file ('type mismatch: input.output: [[ 1 12]] -> "
        "0_LinearTorch.input: [[12]]'): leading dimensions dropped (strip_batch); the file as "
        "exported is kept as <net>.as_exported.nir"
    )

    def lif(n, tau_mem, tau_syn, rec=False):
        return LIFTorch(
            n,
            tau_mem=torch.full((n,), tau_mem),
            tau_syn=torch.full((n,), tau_syn),
            threshold=torch.ones(n),
            dt=dt,
            has_rec=rec,
        )

    xd = dense_input()
    w1, b1 = param((N_HID, N_IN), 10, 0.25, 0.5), param((N_HID,), 11, 0.0, 0.1)
    w2, b2 = param((N_OUT, N_HID), 12, 0.05, 0.4), param((N_OUT,), 13, 0.0, 0.1)
    net = Sequential(
        LinearTorch(
            (N_IN, N_HID),
            weight=torch.from_numpy(0.3 * w1.T),
            bias=torch.from_numpy(0.3 * b1),
            has_bias=True,
        ),
        lif(N_HID, 0.02, 0.005),
        LinearTorch(
            (N_HID, N_OUT),
            weight=torch.from_numpy(0.15 * w2.T),
            bias=torch.from_numpy(0.15 * b2),
            has_bias=True,
        ),
        lif(N_OUT, 0.03, 0.008),
    )
    with torch.no_grad():
        _, _, rec = net(torch.from_numpy(xd[None]), record=True)
    names = ["1_LIFTorch", "3_LIFTorch"]
    spikes = {n: rec[n]["spikes"][0].numpy().astype(np.float32) for n in names}
    v = {n: rec[n]["vmem"][0].numpy().astype(np.float32) for n in names}
    raw = to_nir(net)
    g = Golden("cuba_lif", strip_batch(raw), xd, spikes[names[-1]], spikes, v, "subtract", dt, fix)
    g.raw = raw
    return [g]


# ----------------------------------------------------------------------------------------------
# spyx (jax + haiku)


def make_spyx() -> list[Golden]:
    import haiku as hk
    import jax
    import jax.numpy as jnp
    import spyx.nn as snn
    from spyx.nir import to_nir

    class Chain(hk.RNNCore):
        """Layers in order; returns every neuron layer's spikes (layers built outside keep
        their top-level names, which spyx.nir.to_nir parses: linear, LIF, linear_1, ...)."""

        def __init__(self, layers):
            super().__init__(name="chain")
            self.layers = layers

        def __call__(self, x, state):
            outs, new, k = [], [], 0
            for layer in self.layers:
                if isinstance(layer, hk.RNNCore):
                    x, st = layer(x, state[k])
                    new.append(st)
                    outs.append(x)
                    k += 1
                else:
                    x = layer(x)
            return tuple(outs), tuple(new)

        def initial_state(self, batch_size):
            return tuple(
                layer.initial_state(batch_size)
                for layer in self.layers
                if isinstance(layer, hk.RNNCore)
            )

    fix = (
        "spyx.nir.to_nir chains the parameter dict in its key order (haiku sorts it: LIF, "
        "LIF_1, linear, linear_1) and writes haiku's (in, out) weights, so nir.NIRGraph's type "
        "inference raises 'type mismatch: input.output: [[12]] -> linear.input: [[16]]': "
        "to_nir is given the layers in network order with w transposed to NIR's (out, in); "
        "decays given per neuron (a scalar beta is written as a 0-d dataset, which nir.write "
        "refuses)"
    )
    xd = dense_input()
    w1, b1 = param((N_HID, N_IN), 10, 0.25, 0.5), param((N_HID,), 11, 0.0, 0.1)
    w2, b2 = param((N_OUT, N_HID), 12, 0.05, 0.4), param((N_OUT,), 13, 0.0, 0.1)
    out: list[Golden] = []

    for net, neuron, decays in (
        ("dense_lif", snn.LIF, {"LIF": {"beta": 0.85}, "LIF_1": {"beta": 0.9}}),
        (
            "cuba_lif",
            snn.CuBaLIF,
            {"CuBaLIF": {"alpha": 0.7, "beta": 0.85}, "CuBaLIF_1": {"alpha": 0.6, "beta": 0.9}},
        ),
    ):

        def fwd(x, neuron=neuron):
            layers = [
                hk.Linear(N_HID, with_bias=True),
                neuron((N_HID,)),  # beta=None: a per-neuron parameter
                hk.Linear(N_OUT, with_bias=True),
                neuron((N_OUT,)),
            ]
            core = Chain(layers)
            outs, _ = hk.dynamic_unroll(core, x, core.initial_state(x.shape[1]), time_major=True)
            return outs

        f = hk.without_apply_rng(hk.transform(fwd))
        x = jnp.asarray(xd[:, None, :])
        params = f.init(jax.random.PRNGKey(0), x)
        gain = 1.0 if net == "dense_lif" else 0.6
        params = {k: dict(v) for k, v in params.items()}
        params["linear"] = {"w": jnp.asarray(gain * w1.T), "b": jnp.asarray(gain * b1)}
        params["linear_1"] = {"w": jnp.asarray(gain * w2.T), "b": jnp.asarray(gain * b2)}
        names = list(decays)
        sizes = {names[0]: N_HID, names[1]: N_OUT}
        for n, d in decays.items():
            params[n] = {k: jnp.full((sizes[n],), val, jnp.float32) for k, val in d.items()}
        outs = f.apply(params, x)
        spikes = {n: np.asarray(o[:, 0]).astype(np.float32) for n, o in zip(names, outs)}
        ordered = {
            "linear": {k: np.asarray(v).T for k, v in params["linear"].items()},
            names[0]: params[names[0]],
            "linear_1": {k: np.asarray(v).T for k, v in params["linear_1"].items()},
            names[1]: params[names[1]],
        }
        graph = to_nir(ordered, [N_IN], [N_OUT])
        out.append(Golden(net, graph, xd, spikes[names[1]], spikes, {}, "subtract", 1.0, fix))
    return out


# ----------------------------------------------------------------------------------------------
# spikingjelly (2.0 needs Python >= 3.11: requirements-py311.txt)


def make_spikingjelly() -> list[Golden]:
    import torch
    from spikingjelly.activation_based import functional, layer, neuron
    from spikingjelly.activation_based.nir_exchange.to_nir import export_to_nir

    dt = 1e-4  # export_to_nir's default
    out: list[Golden] = []

    def run_and_export(name, net, x, neuron_names):
        functional.reset_net(net)
        rec = torch_record(net, neuron_names, x, lambda xt: net(xt))
        functional.reset_net(net)
        graph = export_to_nir(net, torch.zeros((1, *x.shape[1:])), dt=dt)
        functional.reset_net(net)
        rec = {f"_{n}": s for n, s in rec.items()}  # nirtorch.torch_to_nir names nodes _0, _1...
        return Golden(name, graph, x, rec[f"_{neuron_names[-1]}"], rec, {}, "zero", dt)

    xd = dense_input()
    w1, b1 = param((N_HID, N_IN), 10, 0.25, 0.5), param((N_HID,), 11, 0.0, 0.1)
    w2, b2 = param((N_OUT, N_HID), 12, 0.05, 0.4), param((N_OUT,), 13, 0.0, 0.1)
    net = torch.nn.Sequential(
        layer.Linear(N_IN, N_HID),
        neuron.LIFNode(tau=4.0),
        layer.Linear(N_HID, N_OUT),
        neuron.LIFNode(tau=6.0, decay_input=False),
    )
    set_linear(net[0], 3 * w1, 3 * b1)
    set_linear(net[2], 0.6 * w2, 0.6 * b2)
    out.append(run_and_export("dense_lif", net, xd, ["1", "3"]))

    xc = conv_input()
    net = torch.nn.Sequential(
        layer.Conv2d(1, 4, 3, padding=1),
        neuron.LIFNode(tau=4.0),
        layer.AvgPool2d(2),
        layer.Flatten(),
        layer.Linear(64, N_OUT),
        neuron.LIFNode(tau=4.0),
    )
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(2 * param((4, 1, 3, 3), 20, 0.25, 0.4)))
        net[0].bias.copy_(torch.from_numpy(2 * param((4,), 21, 0.0, 0.1)))
    set_linear(net[4], 8 * param((N_OUT, 64), 22, 0.0, 0.25), param((N_OUT,), 23, 0, 0.1))
    out.append(run_and_export("conv", net, xc, ["1", "5"]))
    return out


# ----------------------------------------------------------------------------------------------
# driver

PRODUCERS: dict[str, tuple[str, Callable[[], list[Golden]]]] = {
    "snntorch": ("snntorch", make_snntorch),
    "norse": ("norse", make_norse),
    "sinabs": ("sinabs", make_sinabs),
    "rockpool": ("rockpool", make_rockpool),
    "spyx": ("spyx", make_spyx),
    "spikingjelly": ("spikingjelly", make_spikingjelly),
}


def check_and_write(producer: str, dist: str, g: Golden, out_dir: Path) -> dict:
    """Write g's .nir, read it back, assert the reference reproduces the producer, write .npz."""
    d = out_dir / producer
    d.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{g.net}.nir"
        nir.write(str(path), g.graph)
        graph = nir.read(str(path))
        sem = ref.semantics(producer, reset=g.reset or None, dt=g.dt or None)
        y, rec = ref.run_graph(graph, sem, g.x.astype(np.float64))
        report = {"net": g.net, "exact": bool(np.array_equal(y, g.out))}
        for n, s in g.spikes.items():
            report[n] = int(np.sum(rec[ref.node_key(graph, n)] != s))
        report["spikes"] = {n: float(s.sum()) for n, s in g.spikes.items()}
        if not report["exact"] or any(report[n] for n in g.spikes):
            raise SystemExit(f"{producer}/{g.net}: reference differs from the producer: {report}")
        path.replace(d / f"{g.net}.nir")
        if g.raw is not None:
            nir.write(str(d / f"{g.net}.as_exported.nir"), g.raw)
    meta = {
        "producer": producer,
        "producer_version": version(dist),
        "nir_version": version("nir"),
        "nirtorch_version": version("nirtorch"),
        "torch_version": version("torch"),
        "jax_version": version("jax"),
        "python": platform.python_version(),
        "dt": repr(sem.dt),
        "reset": sem.reset,
        "multispike": str(sem.multispike),
        "fixes": g.fixes,
        "net": g.net,
    }
    arrays = {"input": g.x.astype(np.float32), "output": g.out.astype(np.float32)}
    arrays.update({f"spikes.{n}": s.astype(np.float32) for n, s in g.spikes.items()})
    arrays.update({f"v.{n}": v.astype(np.float32) for n, v in g.v.items()})
    arrays.update({f"meta.{k}": np.array(v) for k, v in meta.items()})
    np.savez_compressed(d / f"{g.net}.npz", **arrays)
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated producers (default: all)")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    args = ap.parse_args(argv)
    wanted = [p for p in args.only.split(",") if p] or list(PRODUCERS)
    warnings.simplefilter("ignore")
    status = 0
    for producer in wanted:
        dist, make = PRODUCERS[producer]
        try:
            goldens = make()
        except ImportError as e:
            print(f"{producer}: not installed here ({e})")
            status = 1
            continue
        for g in goldens:
            r = check_and_write(producer, dist, g, args.out)
            print(
                f"{producer} {version(dist)} {g.net}: reference exact={r['exact']} spikes={r['spikes']}"
            )
    return status


if __name__ == "__main__":
    raise SystemExit(main())
