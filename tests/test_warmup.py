"""Warm-up initialisation (cells.md 6): VAA / VAA* on constructed states, the warm-up loop."""

from __future__ import annotations

import pytest
import torch
from conftest import layer_step, torch_layer

from modspike.kinds.cells.brc.float_step import BRCCell
from modspike.kinds.cells.msrc.float_step import MSRCCell
from modspike.kinds.cells.src.float_step import SRCCell
from modspike.studies.warmup import (
    WarmupConfig,
    measure_vaa,
    sample_initial_states,
    state_gradients,
    vaa,
    vaa_star,
    warmup_,
)
from modspike.train.modules import ModelConfig, TorchNetwork, program_of


def _clusters(sizes: list[int], dim: int = 4, spread: float = 1.0) -> torch.Tensor:
    """Identical states within a cluster, clusters ``spread`` apart."""
    centres = spread * torch.eye(dim)[: len(sizes)]
    return torch.cat([c.expand(k, dim) for c, k in zip(centres, sizes)])


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [([8], 1 / 8), ([4, 4], 2 / 8), ([6, 2], 2 / 8), ([1, 1, 1, 1], 1.0), ([5, 1, 1, 1], 4 / 8)],
)
def test_vaa_counts_distinct_attractors(sizes, expected):
    h = _clusters(sizes)
    assert vaa(h) == pytest.approx(expected)
    # VAA* agrees when clusters are far apart (C_ij -> 0) and members identical (C_ij = 1)
    assert float(vaa_star(h)) == pytest.approx(expected, rel=1e-3)


def test_vaa_star_is_a_smooth_proxy_around_epsilon():
    eps = 1e-4
    base = torch.zeros(2, 3)
    below = base.clone()
    below[1, 0] = 0.5 * eps  # within eps: one attractor
    assert float(vaa_star(below, eps)) == pytest.approx(0.5)
    far = base.clone()
    far[1, 0] = 1.0  # tanh(1) apart: two attractors
    assert float(vaa_star(far, eps)) == pytest.approx(1.0, abs=1e-3)
    # just above eps: in between, and the gradient pushes the two states apart
    near = base.clone()
    near[1, 0] = 3 * eps
    near.requires_grad_(True)
    v = vaa_star(near, eps)
    assert 0.5 < float(v.detach()) < 1.0
    v.backward()
    assert torch.isfinite(near.grad).all()
    assert near.grad[1, 0] > 0 and near.grad[0, 0] < 0


def test_vaa_star_gradient_is_finite_for_identical_states():
    h = torch.zeros(4, 3, requires_grad=True)
    vaa_star(h).backward()
    assert torch.isfinite(h.grad).all()


def test_initial_states_are_the_states_at_each_prefix_length():
    torch.manual_seed(0)
    layers = torch.nn.ModuleList(
        [torch_layer("brc", 2, BRCCell(5)), torch_layer("nbrc", 5, BRCCell(5, True))]
    )
    seqs = torch.randn(12, 6, 2)
    gen = torch.Generator().manual_seed(3)
    states = sample_initial_states(layers, seqs, gen)
    lengths = torch.randint(1, 13, (6,), generator=torch.Generator().manual_seed(3))
    for n in range(6):
        st = program_of(layers).initial_state(1)
        for t in range(int(lengths[n])):
            s = seqs[t, n : n + 1]
            for k, layer in enumerate(layers):
                s, st[k] = layer_step(layer, s, st[k])
        for k in range(2):
            assert torch.allclose(states[k][1].h[n], st[k][1].h[0], atol=1e-6)


def test_state_gradients_turns_off_detach_and_restores_it():
    layers = [torch_layer("src", 3, SRCCell(4)), torch_layer("msrc", 4, MSRCCell(4))]
    with state_gradients(layers):
        assert not any(layer.cell.constants.detach_rec for layer in layers)
    assert all(layer.cell.constants.detach_rec for layer in layers)


def test_warmup_runs_on_a_spiking_src_network_and_changes_it():
    torch.manual_seed(0)
    net = TorchNetwork(ModelConfig(cell="src", n_in=6, hidden=8, layers=2, n_out=3))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    seqs = (torch.rand(15, 20, 6) < 0.3).float()
    hist = warmup_(net, seqs, steps=4, config=WarmupConfig(n=8, stab_max=20))
    assert len(hist) == 4 and all(len(h["vaa_star"]) == 2 for h in hist)
    assert all(0.0 < v <= 1.0 for h in hist for v in h["vaa_star"])
    changed = [k for k, v in net.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("layers.0.") for k in changed)
    assert all(layer.cell.constants.detach_rec for layer in net.layers)  # restored


@pytest.mark.slow
def test_warmup_raises_vaa_of_an_nbrc_layer():
    """cells.md 6 as specified (60 steps here) raises the VAA of a recurrently neuromodulated
    BRC layer; measured 0.100 -> 0.290, 0.056 -> 0.163, 0.087 -> 0.388 for seeds 0-2 (16 units)."""
    torch.manual_seed(0)
    layers = torch.nn.ModuleList([torch_layer("nbrc", 1, BRCCell(16, neuromodulated=True))])
    seqs = torch.randn(50, 512, 1)
    before = measure_vaa(layers, seqs, stabilisation=1000, estimates=5, seed=7)
    warmup_(layers, seqs, steps=60, config=WarmupConfig(seed=0))
    after = measure_vaa(layers, seqs, stabilisation=1000, estimates=5, seed=7)
    assert after >= before + 0.1, (before, after)
