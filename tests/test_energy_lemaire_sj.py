"""Lemaire mode against SpikingJelly 2.0.0 itself, on random networks and inputs.

SpikingJelly is not a dependency: its 2.0.0 wheel requires Python >= 3.11 (the project runs 3.10)
and pulls in torchvision, tensorboard and more. To run these tests, install it beside the project
without its dependencies (it runs on 3.10 with the locked torch):

    python -m pip install --no-deps --ignore-requires-python --target /tmp/sjpkg \\
        spikingjelly==2.0.0 loguru
    PYTHONPATH=/tmp/sjpkg .venv/bin/python -m pytest tests/test_energy_lemaire_sj.py

Without it they are skipped; the golden values of tests/test_energy_tiers.py (produced with
SpikingJelly 2.0.0) still pin the model."""

from __future__ import annotations

import pytest

sj_energy = pytest.importorskip("spikingjelly.activation_based.op_counter.analytical_energy")
torch = pytest.importorskip("torch")

from importlib.metadata import version  # noqa: E402

from spikingjelly.activation_based import layer, neuron  # noqa: E402
from torch import nn  # noqa: E402

from modspike.runtime.energy_facts import AnnLayerFacts, LayerFacts, ReadoutFacts  # noqa: E402
from modspike.runtime.energy_lemaire import lemaire_ann, lemaire_snn  # noqa: E402

if version("spikingjelly") != "2.0.0":
    pytest.skip("the reference is SpikingJelly 2.0.0 exactly", allow_module_level=True)


class MappedSNN(nn.Module):
    """A modspike spiking layer as the Lemaire mapping puts it, readout on the time sum."""

    def __init__(self, n_in, n, classes, rule, graded):
        super().__init__()
        self.graded = graded
        self.fc = layer.Linear(n_in, n, bias=False, step_mode="m")
        self.cell = (neuron.IFNode if rule == "if" else neuron.LIFNode)(step_mode="m")
        self.readout = nn.Linear(n, classes, bias=False) if classes else None

    def forward(self, x):
        s = self.cell(self.fc(x))
        self.spikes = s
        return s if self.readout is None else self.readout(s.sum(0))


class ANN(nn.Module):
    def __init__(self, sizes, bias):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in zip(sizes, sizes[1:]))

    def forward(self, x):
        for k, ly in enumerate(self.layers):
            x = ly(x)
            if k < len(self.layers) - 1:
                x = torch.relu(x)
        return x


@pytest.mark.parametrize("seed", range(6))
def test_spiking_layer_equals_spikingjelly(seed):
    g = torch.Generator().manual_seed(seed)
    steps = int(torch.randint(4, 12, (1,), generator=g))
    n_in = int(torch.randint(4, 300, (1,), generator=g))
    n = int(torch.randint(2, 200, (1,), generator=g))
    classes = [0, 10][seed % 2]
    rule = ["if", "lif"][(seed // 2) % 2]
    graded = seed >= 4
    net = MappedSNN(n_in, n, classes, rule, graded)
    with torch.no_grad():
        net.fc.weight.copy_(torch.randn(n, n_in, generator=g) * 1.5)
    x = (torch.rand(steps, 1, n_in, generator=g) < 0.3).float()
    if graded:
        x = x * torch.rand(steps, 1, n_in, generator=g) * 3
    report = sj_energy.estimate_lemaire_energy(net, x)
    s = net.spikes
    if classes:  # the readout is priced on the dense branch: its time sum must not be 0/1 only
        summed = s.sum(0)
        assert bool(torch.any(summed > 1)), "a 0/1 time sum would take the event branch"
    facts = LayerFacts(
        n_in=n_in, n=n, weight_bits=8, state_words=2, state_bits=24, param_bits=0, cell=rule
    )
    counts = {"input_events": float(x.count_nonzero()), "spikes": float(s.count_nonzero())}
    if graded:
        counts["graded_synaptic_events"] = counts["input_events"] * n
    ours = lemaire_snn(
        [facts], [counts], steps=steps, readout=ReadoutFacts(classes) if classes else None
    )
    assert ours.total_pj == pytest.approx(report.total_pj, rel=1e-12)
    for key, value in report.breakdown_pj.items():
        if key != "memory_pj":
            assert ours.parts_pj[key] == pytest.approx(value, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_ann_equals_spikingjelly(seed):
    g = torch.Generator().manual_seed(100 + seed)
    sizes = [int(v) for v in torch.randint(2, 400, (2 + seed % 3,), generator=g)]
    bias = seed != 1
    net = ANN(sizes, bias)
    x = torch.rand(1, sizes[0], generator=g) + 0.1
    report = sj_energy.estimate_lemaire_energy(net, x)
    layers = [AnnLayerFacts(a, b, bias=bias) for a, b in zip(sizes, sizes[1:])]
    assert lemaire_ann(layers).total_pj == pytest.approx(report.total_pj, rel=1e-12)
