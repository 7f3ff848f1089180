"""Our counters against NeuroBench 2.3 on the same snntorch LIF network and the same input spikes.

NeuroBench runs the network through its own harness (``SNNTorchModel`` + ``Benchmark``); we
record the same network's spikes with forward hooks and count them with
``modspike.runtime.counters.count_layers``. Where the definitions coincide the numbers must be
equal: ``SynapticOperations`` (Effective_ACs, Effective_MACs, Dense), ``ActivationSparsity``,
``ConnectionSparsity``; ``MembraneUpdates`` only for a non-leaky, non-spiking integrator, where a
membrane changes exactly when the neuron receives an event (docs/energy.md says why the two
differ otherwise).
"""

from __future__ import annotations

import pytest
import snntorch as snn
import torch
from conftest import build_network, lif_params
from neurobench.benchmarks import Benchmark  # a dev dependency (pyproject.toml): never skipped
from neurobench.metrics.static import ConnectionSparsity
from neurobench.metrics.workload import ActivationSparsity, MembraneUpdates, SynapticOperations
from neurobench.models import SNNTorchModel
from torch import nn

from modspike.runtime.counters import connection_sparsity, count_layers

T, B, N_IN, HIDDEN, N_OUT = 12, 6, 20, 16, 5


def _lif_net(seed: int, bias: bool = True, **neuron) -> nn.Sequential:
    """Linear -> Leaky -> Linear -> Leaky, with a fifth of the weights set to zero."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Linear(N_IN, HIDDEN, bias=bias),
        snn.Leaky(init_hidden=True, **neuron),
        nn.Linear(HIDDEN, N_OUT, bias=bias),
        snn.Leaky(init_hidden=True, output=True, **neuron),
    )
    with torch.no_grad():
        for lin in (net[0], net[2]):
            lin.weight.mul_(3.0)
            lin.weight[torch.rand_like(lin.weight) < 0.2] = 0.0
    return net.eval()


def _spikes(seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(B, T, N_IN, generator=gen) < 0.3).float()  # NeuroBench: (batch, T, ...)


def _neurobench(net, data, metrics) -> dict:
    dataset = torch.utils.data.TensorDataset(data, torch.zeros(B, dtype=torch.long))
    loader = torch.utils.data.DataLoader(dataset, batch_size=B, shuffle=False)
    model = SNNTorchModel(net)
    bench = Benchmark(model, loader, [], [lambda spikes: spikes.sum(1).argmax(-1)], metrics)
    return bench.run(quiet=True)


def _ours(net, data):
    """Record each Leaky's spikes over the same T steps and count them."""
    records: list[list[torch.Tensor]] = [[], []]
    leaky = [net[1], net[3]]
    hooks = [
        m.register_forward_hook(
            lambda mod, inp, out, k=k: records[k].append(
                (out[0] if isinstance(out, tuple) else out).detach()
            )
        )
        for k, m in enumerate(leaky)
    ]
    snn.utils.reset(net)
    with torch.no_grad():
        for t in range(T):
            net(data[:, t])
    for h in hooks:
        h.remove()
    weights = [net[0].weight.detach().numpy(), net[2].weight.detach().numpy()]
    layers = build_network([("lif", w, lif_params(w.shape[0]), None) for w in weights])
    outputs = [torch.stack(r).numpy() for r in records]  # (T, B, n)
    inputs = data.transpose(0, 1).numpy()  # (T, B, n_in)
    return layers, inputs, outputs


def test_synops_and_sparsity_equal_neurobench():
    net, data = _lif_net(0, beta=0.9), _spikes(0)
    layers, inputs, outputs = _ours(net, data)
    assert all(o.any() for o in outputs)  # both layers do spike: the counts are not trivial
    ours = count_layers(layers, inputs, outputs)
    nb = _neurobench(net, data, [[ConnectionSparsity], [SynapticOperations, ActivationSparsity]])
    syn = nb["SynapticOperations"]
    assert sum(c["effective_acs"].sum() for c in ours) / B == pytest.approx(syn["Effective_ACs"])
    assert sum(c["effective_macs"].sum() for c in ours) / B == syn["Effective_MACs"] == 0
    assert sum(c["dense"].sum() for c in ours) / B == pytest.approx(syn["Dense"])
    spikes = sum(int((o != 0).sum()) for o in outputs)
    slots = sum(o.size for o in outputs)
    assert 1 - spikes / slots == pytest.approx(nb["ActivationSparsity"])
    assert round(connection_sparsity(layers), 4) == pytest.approx(nb["ConnectionSparsity"])


def test_graded_input_is_counted_as_macs_like_neurobench():
    """A graded input (not in {-1, 0, 1}) makes the first layer's operations MACs in both."""
    net, data = _lif_net(1, beta=0.9), _spikes(1) * 0.5
    layers, inputs, outputs = _ours(net, data)
    ours = count_layers(layers, inputs, outputs)
    syn = _neurobench(net, data, [[], [SynapticOperations]])["SynapticOperations"]
    assert ours[0]["effective_macs"].sum() > 0 and ours[0]["effective_acs"].sum() == 0
    assert ours[0]["effective_macs"].sum() / B == pytest.approx(syn["Effective_MACs"])
    assert ours[1]["effective_acs"].sum() / B == pytest.approx(syn["Effective_ACs"])
    # ours also weighs each event by its value (Sinabs / Norse convention); NeuroBench does not
    assert ours[0]["graded_weighted"].sum() == pytest.approx(0.5 * ours[0]["effective"].sum())


def test_membrane_updates_where_the_definitions_coincide():
    """Integrator without leak, bias, reset or spikes: its membrane changes iff it receives an
    event (a bias current or a leak changes it at every step; our counters see neither).

    NeuroBench counts every neuron at the first step, then the changed membranes; ours counts the
    neurons that received an event, so at t = 0 we add the neurons that did not."""
    neuron = dict(beta=1.0, threshold=1e9, reset_mechanism="none")
    net, data = _lif_net(2, bias=False, **neuron), _spikes(2)
    layers, inputs, outputs = _ours(net, data)
    assert not any(o.any() for o in outputs)
    per_step = count_layers(layers, inputs, outputs, per_step=True)
    ours = sum(
        c["neuron_active"][1:].sum() + c["neuron_active"][0].size * ly.n
        for c, ly in zip(per_step, layers.layers)
    )
    nb = _neurobench(net, data, [[], [MembraneUpdates]])
    assert per_step[0]["neuron_active"][1:].sum() > 0
    assert ours / B == pytest.approx(nb["MembraneUpdates"])


def test_membrane_updates_of_a_leaky_network_exceed_our_active_neurons():
    """With a leak every non-zero membrane changes every step: NeuroBench's MembraneUpdates
    counts those, our neuron_active (event-driven, as Loihi prices it) does not."""
    net, data = _lif_net(0, beta=0.9), _spikes(0)
    layers, inputs, outputs = _ours(net, data)
    ours = sum(c["neuron_active"].sum() for c in count_layers(layers, inputs, outputs)) / B
    nb = _neurobench(net, data, [[], [MembraneUpdates]])["MembraneUpdates"]
    assert nb > ours
    assert nb <= T * (HIDDEN + N_OUT)
