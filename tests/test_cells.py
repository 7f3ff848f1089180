"""Behaviour of the cell step functions: SRC regimes (cells.md 3.5), BRC bistability, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modspike import registry
from modspike.kinds.cells.brc.float_step import BRCCell, BRCState
from modspike.kinds.cells.msrc.float_step import (
    MSRCCell,
    MSRCConstants,
    msrc_initial_state,
    msrc_step,
)
from modspike.kinds.cells.src.float_step import SRCCell, SRCConstants, SRCState, src_step
from modspike.step import run
from modspike.train.modules import TorchLayer, program_of


def src_layer(n_in: int, cell: SRCCell) -> TorchLayer:
    return TorchLayer(n_in, registry.cell("src"), cell, recurrent=False)


# constant-drive analysis: no input synapse, no squash, no clamp, so the drive u = x + b_h exactly
DRIVE_ONLY = SRCConstants(alpha=0.0, rho=None, r=2.0, rs=-7.0, zs_hyp=0.9, zs_dep=0.0, bh_max=None)


def simulate_src(u: torch.Tensor, steps: int = 600) -> np.ndarray:
    """h over time for neurons under constant drive ``u`` started at h = -0.5, h_s = 0."""
    n = u.shape[0]
    state = SRCState(
        torch.zeros(n, dtype=torch.float64),
        torch.full((n,), -0.5, dtype=torch.float64),
        torch.zeros(n, dtype=torch.float64),
    )
    bh = torch.zeros(n, dtype=torch.float64)
    trace = []
    for _ in range(steps):
        _, state = src_step(u, state, bh, DRIVE_ONLY)
        trace.append(state.h.numpy().copy())
    return np.stack(trace)


def upward_crossings(trace: np.ndarray, level: float = 0.5) -> list[np.ndarray]:
    above = trace > level
    onsets = above[1:] & ~above[:-1]
    return [np.flatnonzero(onsets[:, k]) + 1 for k in range(trace.shape[1])]


def test_src_rest_tonic_and_depolarisation_block():
    drives = torch.tensor([-6.0, -5.0, -4.5, 0.0, 6.5, 7.0, 9.0], dtype=torch.float64)
    spikes = upward_crossings(simulate_src(drives))
    rest = spikes[:3]
    assert all(len(s) == 0 for s in rest), "u <= -4.5 must stay at rest"
    tonic = spikes[3]
    assert len(tonic) > 20
    isi = np.diff(tonic[5:])  # after the transient
    assert abs(isi.mean() - 13.0) <= 1.0
    assert all(len(s) == 0 for s in spikes[4:]), "u >= 6.5 must be in depolarisation block"


def test_src_spikes_are_graded_relu_of_h():
    drives = torch.zeros(1, dtype=torch.float64)
    zero = torch.zeros(1, dtype=torch.float64)
    state = SRCState(zero, zero - 0.5, zero)
    outs = []
    for _ in range(60):
        out, state = src_step(drives, state, torch.zeros(1, dtype=torch.float64), DRIVE_ONLY)
        assert torch.equal(out, state.h.clamp(min=0))
        outs.append(float(out))
    assert max(outs) > 0.9 and min(outs) == 0.0


def test_src_bias_clamp_limits_excitability():
    consts = SRCConstants(alpha=0.0, rho=None, bh_max=-4.0)
    state = SRCState(torch.zeros(1), torch.full((1,), -0.5), torch.zeros(1))
    clamped, unclamped = [], []
    s1 = s2 = state
    for _ in range(100):
        o1, s1 = src_step(torch.zeros(1), s1, torch.tensor([8.0]), consts)
        o2, s2 = src_step(
            torch.zeros(1), s2, torch.tensor([8.0]), SRCConstants(alpha=0.0, rho=None, bh_max=None)
        )
        clamped.append(float(s1.h))
        unclamped.append(float(s2.h))
    # b_h = 8 (depolarisation block) is clamped to -4: spiking (h crosses 0.5 repeatedly) instead of a stuck-high state
    assert min(clamped) < -0.5 and max(clamped) > 0.5
    assert min(unclamped[20:]) > 0.5


def test_gradients_reach_weights_and_bias_of_silent_src_neurons():
    torch.manual_seed(0)
    layer = src_layer(8, SRCCell(4, bh_init=-9.0))
    spikes = (torch.rand(20, 3, 8) < 0.2).float()
    outs = run(program_of([layer]), spikes).records[0]
    total = outs.sum()
    assert outs.abs().sum() == 0, "the neurons must really be silent"
    total.backward()
    assert layer.synapse.weight.grad.abs().sum() > 0
    assert (layer.cell.bh.grad.abs() > 0).all()


def test_detached_recurrence_is_a_flag():
    x = torch.randn(5, 2, 3)

    def grad_norm(detach: bool) -> float:
        torch.manual_seed(1)
        layer = src_layer(3, SRCCell(4, SRCConstants(detach_rec=detach), bh_init=-4.2))
        losses = []
        run(
            program_of([layer]), x, probe=lambda t, k, state: losses.append((state[1].h ** 2).sum())
        )
        sum(losses).backward()
        return float(layer.synapse.weight.grad.norm())

    assert grad_norm(True) != pytest.approx(grad_norm(False))


@pytest.mark.parametrize("a_bias, keeps_sign", [(1.0, True), (-1.0, False)])
def test_brc_is_bistable_when_a_exceeds_one(a_bias, keeps_sign):
    cell = BRCCell(2)
    with torch.no_grad():
        cell.wa.zero_()  # a = 1 + tanh(b_a): > 1 for b_a = 1, < 1 for b_a = -1
        cell.ba.fill_(a_bias)
        cell.wc.zero_()
    state = BRCState(torch.tensor([[0.5, -0.5]]))
    zero = torch.zeros(1, 6)
    for _ in range(300):
        _, state = cell(zero, state)
    h = state.h
    if keeps_sign:
        assert h[0, 0] > 0.3 and h[0, 1] < -0.3
    else:
        assert h.abs().max() < 1e-3


def test_nbrc_uses_full_gate_matrices():
    cell = BRCCell(3, neuromodulated=True)
    assert cell.wa.shape == (3, 3) and cell.neuromodulated
    out, state = cell(torch.randn(2, 9), BRCState(torch.zeros(2, 3)))
    assert out.shape == (2, 3) and torch.equal(out, state.h)


def test_msrc_hs0_learnable_or_fixed():
    learn = MSRCCell(5, hs0_init="0.5:1.5")
    fixed = MSRCCell(5, hs0_init=0.9, learn_hs0=False)
    assert isinstance(learn.hs0, torch.nn.Parameter)
    assert 0.5 <= float(learn.hs0.detach().min()) and float(learn.hs0.detach().max()) <= 1.5
    assert learn.hs0.std() > 0
    assert not isinstance(fixed.hs0, torch.nn.Parameter) and torch.allclose(
        fixed.hs0, torch.full((5,), 0.9)
    )
    state = learn.initial_state(2)
    loss = 0
    for _ in range(10):
        out, state = learn(torch.full((2, 5), 3.0), state)
        loss = loss + state.h.sum()
    loss.backward()
    assert learn.hs0.grad is not None and learn.hs0.grad.abs().sum() > 0


def test_msrc_modulation_signal_acts_like_parameters():
    c = MSRCConstants(alpha=0.0, rho=None)
    cell = MSRCCell(3, c, b_init=0.0, hs0_init=1.0)
    a_in = torch.full((2, 3), 2.5)
    st1 = st2 = cell.initial_state(2)
    mod = (torch.full((2, 3), -0.5), torch.full((2, 3), -0.3))
    for _ in range(30):
        o1, st1 = cell(a_in, st1, modulation=mod)
        o2, st2 = msrc_step(a_in, st2, torch.full((3,), -0.5), torch.full((3,), 0.7), c)
        assert torch.allclose(o1, o2)
    st = msrc_initial_state((1, 1))
    assert len(st) == 4
