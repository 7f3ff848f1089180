"""Conv counters against NeuroBench 2.3's ``SynapticOperations`` on the same convolutional SNN.

snntorch's ``Conv2d -> Leaky -> AvgPool2d -> Flatten -> Linear -> Leaky`` (NeuroBench counts its
``Conv2d`` and ``Linear``; the pooled, graded values make the ``Linear``'s operations MACs), and
the same network as a modspike description: a ``conv2d`` layer, then a ``dense`` layer whose
synapse has the ``avgpool2d`` stage. Both count the same recorded spikes."""

from __future__ import annotations

import numpy as np
import pytest
import snntorch as snn
import torch
from conftest import lif_params
from neurobench.benchmarks import Benchmark
from neurobench.metrics.workload import SynapticOperations
from neurobench.models import SNNTorchModel
from torch import nn

from modspike import registry
from modspike.kinds.synapses._conv.geometry import make_attrs
from modspike.kinds.synapses._conv.pool import pool_synapse_parts
from modspike.network import Cell, Layer, Network, Synapse
from modspike.runtime.counters import count_layers

T, B = 10, 5


def _net(seed: int, padding: int, stride: int) -> nn.Sequential:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=stride, padding=padding),
        snn.Leaky(beta=0.9, init_hidden=True),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.LazyLinear(6),
        snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )
    net(torch.zeros(1, 2, 8, 8))  # materialise the lazy Linear
    with torch.no_grad():
        net[0].weight.mul_(3.0)
        net[0].weight[torch.rand_like(net[0].weight) < 0.25] = 0.0  # some zero weights
        net[4].weight.mul_(4.0)
        net[4].bias.add_(0.3)
    return net.eval()


def _record(net, data):
    records = [[], []]
    hooks = [
        m.register_forward_hook(
            lambda mod, inp, out, k=k: records[k].append(
                (out[0] if isinstance(out, tuple) else out).detach()
            )
        )
        for k, m in enumerate((net[1], net[5]))
    ]
    snn.utils.reset(net)
    with torch.no_grad():
        for t in range(T):
            net(data[:, t])
    for h in hooks:
        h.remove()
    return [torch.stack(r).flatten(2).numpy() for r in records]  # (T, B, n)


def _ours(net, conv_in_shape) -> Network:
    conv, lin = net[0], net[4]
    attrs = make_attrs(conv_in_shape, conv.stride, conv.padding, conv.dilation, conv.groups)
    syn0 = Synapse(
        registry.synapse("conv2d"), conv.weight.detach().numpy(), conv.bias.detach().numpy(), attrs
    )
    out0 = syn0.out_shape(conv_in_shape)
    weight, pool_attrs = pool_synapse_parts(out0, 2, None, 0, average=True)
    pool = Synapse(registry.synapse("avgpool2d"), weight, None, pool_attrs)
    syn1 = Synapse(
        registry.synapse("dense"),
        lin.weight.detach().numpy(),
        lin.bias.detach().numpy(),
        pre=(pool,),
    )
    lif = registry.cell("lif")
    n0 = int(np.prod(out0))
    layers = (
        Layer("conv", syn0, Cell(lif, lif_params(n0)), None, conv_in_shape, out0),
        Layer("fc", syn1, Cell(lif, lif_params(6)), None, out0, (6,)),
    )
    return Network(conv_in_shape, layers)


@pytest.mark.parametrize("padding,stride", [(1, 1), (0, 2)])
def test_conv_synops_equal_neurobench(padding, stride):
    net = _net(padding + stride, padding, stride)
    gen = torch.Generator().manual_seed(padding)
    data = (torch.rand(B, T, 2, 8, 8, generator=gen) < 0.3).float()
    outputs = _record(net, data)
    assert all(o.any() for o in outputs), "both layers must fire"
    ours = count_layers(_ours(net, (2, 8, 8)), data.transpose(0, 1).numpy(), outputs)

    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(data, torch.zeros(B, dtype=torch.long)), batch_size=B
    )
    model = SNNTorchModel(net)
    nb = Benchmark(model, loader, [], [lambda s: s.sum(1).argmax(-1)], [[], [SynapticOperations]])
    syn = nb.run(quiet=True)["SynapticOperations"]

    acs = sum(c["effective_acs"].sum() for c in ours) / B
    macs = sum(c["effective_macs"].sum() for c in ours) / B
    dense = sum(c["dense"].sum() for c in ours) / B
    assert ours[0]["effective_acs"].sum() > 0 and ours[1]["effective_macs"].sum() > 0
    assert acs == pytest.approx(syn["Effective_ACs"])
    assert macs == pytest.approx(syn["Effective_MACs"])
    assert dense == pytest.approx(syn["Dense"])
    # the pooling stage is counted apart: NeuroBench does not count pooling layers
    assert ours[1]["stage_effective"].sum() > 0
