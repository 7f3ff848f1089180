"""Excitability of the settled mSRC / BSRC / SRC (docs/cells.md), measured by the analysis module."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modspike.cli import main
from modspike.kinds.cells.msrc.float_step import BSRC_CONSTANTS
from modspike.studies.excitability.analysis import (
    BLOCKED,
    BSRC_DEFAULT_BIAS,
    BSRC_DEFAULT_HS0,
    REST,
    SPIKING,
    analyze,
    burst_stats,
    make_population,
    trace,
)

SEED_HS0 = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5]
TYPE1_SCAN = [round(v, 2) for v in np.arange(0.81, 0.955, 0.01)]
HS0 = sorted(set(SEED_HS0 + TYPE1_SCAN))
DRIVES = np.union1d(np.round(np.linspace(0.0, 8.0, 81), 6), [2.15])


@pytest.fixture(scope="module")
def msrc():
    """r = 4 (candidate B), drive entering directly, b = 0: one batch for every test below."""
    return analyze("msrc", hs0=HS0, drives=DRIVES)


def row(res, hs0: float) -> int:
    k = int(np.argmin(np.abs(res.hs0 - hs0)))
    assert abs(res.hs0[k] - hs0) < 1e-9
    return k


def col(res, drive: float) -> int:
    j = int(np.argmin(np.abs(res.drives - drive)))
    assert abs(res.drives[j] - drive) < 1e-9
    return j


def test_hs0_1p5_is_type2_without_hysteresis(msrc):
    k = row(msrc, 1.5)
    assert msrc.classes[k] == "type2"
    assert msrc.onset[k] == pytest.approx(4.9, abs=0.1)
    assert msrc.hysteresis[k] < msrc.protocol.hysteresis_tol
    # finite frequency at onset: the onset ISI does not grow as the drive approaches onset
    assert msrc.onset_isi[k] < 60 and not msrc.isi_diverges[k]
    # the seed's example currents: rests at 0, spikes at 5 and 8
    states = msrc.state_up[k]
    assert states[col(msrc, 0.0)] == REST
    assert states[col(msrc, 5.0)] == SPIKING and states[col(msrc, 8.0)] == SPIKING


def test_hs0_0p5_is_type2_star_with_wide_hysteresis(msrc):
    k = row(msrc, 0.5)
    assert msrc.classes[k] == "type2*"
    assert msrc.hysteresis[k] > 1.0
    assert msrc.offset[k] < 2.5 < msrc.onset[k]
    # inside the window: rest when swept up, spiking when swept down
    j = col(msrc, 2.5)
    assert msrc.state_up[k, j] == REST and msrc.state_down[k, j] == SPIKING


def test_onset_isi_diverges_at_the_type1_point(msrc):
    type1 = [h for h, c in zip(msrc.hs0, msrc.classes) if c == "type1"]
    assert type1, "no type-1 neuron in the scan"
    assert min(type1) >= 0.85 and max(type1) <= 0.89
    k = row(msrc, 0.87)
    assert msrc.classes[k] == "type1"
    assert msrc.onset_isi_near[k] > 3 * msrc.onset_isi[k]
    # the onset ISI peaks at the type-1 point, and is short on both sides
    scan = np.array([row(msrc, h) for h in TYPE1_SCAN])
    peak = msrc.hs0[scan[np.nanargmax(msrc.onset_isi_near[scan])]]
    assert 0.85 <= peak <= 0.89
    for h in (0.81, 0.95):
        assert msrc.onset_isi_near[row(msrc, h)] < msrc.onset_isi_near[k] / 5
    assert msrc.classes[row(msrc, 0.81)] == "type2*" and msrc.classes[row(msrc, 0.95)] == "type2"


def test_hs0_0p9_rests_at_2p15_and_spikes_at_2p3(msrc):
    k = row(msrc, 0.9)
    assert msrc.state_up[k, col(msrc, 2.15)] == REST
    assert msrc.state_up[k, col(msrc, 2.3)] == SPIKING
    assert 2.15 < msrc.onset[k] < 2.3
    # the same from a step at rest (x = 0)
    assert np.isnan(msrc.delay_map[k, col(msrc, 2.15)])
    assert np.isfinite(msrc.delay_map[k, col(msrc, 2.3)])


def test_hs0_0p5_spikes_only_after_a_delay(msrc):
    k = row(msrc, 0.5)
    assert msrc.delay_map[k, col(msrc, 3.6)] > 10
    for drive in (2.5, 3.0):  # inside the hysteresis window: a step from rest stays at rest
        assert np.isnan(msrc.delay_map[k, col(msrc, drive)])
    first = trace("msrc", 0.5, 3.6, 200)["spikes"][0]
    assert first == msrc.delay_map[k, col(msrc, 3.6)]


def test_delay_grows_as_hs0_falls(msrc):
    delays = [msrc.delay[row(msrc, h)] for h in sorted(SEED_HS0, reverse=True)]
    assert np.all(np.isfinite(delays))
    assert np.all(np.diff(delays) > 0), delays
    assert delays[0] <= 5 and delays[-1] > 100


def test_bsrc_with_seed_constants_and_default_bias_bursts_at_zero_input():
    pop = make_population("bsrc", np.array([BSRC_DEFAULT_HS0]))
    assert pop.constants.ru == BSRC_CONSTANTS.ru == -8.5 and pop.constants.r == 4.0
    assert float(pop.bias[0]) == BSRC_DEFAULT_BIAS == -5.0 and BSRC_DEFAULT_HS0 == 0.7
    tr = trace("bsrc", BSRC_DEFAULT_HS0, drive=0.0, steps=6000, from_drive=-2.0)
    bursts = burst_stats(tr["spikes"][tr["spikes"] > 1500])
    assert bursts is not None and bursts.n_bursts >= 3
    assert bursts.spikes_per_burst >= 5
    assert bursts.burst_period > 5 * bursts.intra_burst_isi


def test_bsrc_is_classified_bursting_and_silent_far_below():
    res = analyze("bsrc", drives=np.linspace(-1.0, 1.0, 21))
    assert res.classes == ["bursting"]
    summary = res.burst_summary(0)
    assert summary["drive"] == pytest.approx(0.0)
    assert summary["spikes_per_burst"] >= 5
    assert summary["burst_period"] > 5 * summary["intra_burst_isi"]
    assert res.state_up[0, 0] == REST  # x = -1 (x + b = -6): silent


def test_src_is_type2_with_depolarisation_block():
    res = analyze("src", drives=np.linspace(-6.0, 8.0, 71))
    assert res.classes == ["type2"]
    assert res.onset[0] == pytest.approx(-4.41, abs=0.02)  # cells.md 3.5
    assert res.state_up[0, col(res, 0.0)] == SPIKING
    assert 1 / res.rate_up[0, col(res, 0.0)] == pytest.approx(13.0, abs=0.5)
    assert res.state_up[0, col(res, 7.0)] == BLOCKED


@pytest.mark.slow
def test_option_d_moves_the_type1_point_to_0p9():
    res = analyze("msrc", hs0=[0.5, 0.9, 1.5], r=1 / (1 - 0.9**2), drives=np.linspace(0, 8, 81))
    assert res.classes == ["type2*", "type1", "type2"]
    assert res.onset[1] == pytest.approx(3.27, abs=0.02)


def test_burst_stats_tells_bursts_from_tonic_and_skipped_cycles():
    tonic = np.arange(0, 2000, 40)
    assert burst_stats(tonic) is None
    skipped = np.cumsum([41, 82, 41, 123, 41, 41, 82, 41, 41, 164, 41])
    assert burst_stats(skipped) is None
    burst = np.arange(0, 8 * 25, 25)
    train = np.concatenate([burst + 700 * n for n in range(4)])
    b = burst_stats(train)
    assert b is not None
    assert b.spikes_per_burst == 8 and b.intra_burst_isi == 25 and b.burst_period == 700


ENTRY_KEYS = ("class", "onset_drive", "offset_drive", "hysteresis_width", "onset_isi", "delay")
FIGURES = (
    "fi_curves",
    "heatmaps",
    "heatmaps_synapse_alpha0.5",
    "phase_portraits",
    "voltage_traces",
)


def test_cli_writes_json_and_figures(tmp_path, capsys):
    out = tmp_path / "exc"
    code = main(
        ["analyze", "--cell", "msrc", "--hs0", "1.5,0.5", "--drive-range", "0:6:31"]
        + ["--quiet", "--out", str(out)]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["out"] == str(out)
    data = json.loads((out / "excitability.json").read_text())
    assert data["cell"] == "msrc" and data["r"] == 4.0 and data["synapse_alpha"] == 0.0
    entries = {e["h_s0"]: e for e in data["entries"]}
    assert sorted(entries) == [0.5, 1.5]
    for e in entries.values():
        for key in ENTRY_KEYS:
            assert key in e
        assert len(e["curves"]["drive"]) == len(e["curves"]["rate_up"]) == 31
    assert entries[0.5]["class"] == "type2*" and entries[1.5]["class"] == "type2"
    assert entries[0.5]["hysteresis_width"] > 1.0
    # the normalised input synapse (alpha 0.5) filters steps: same onsets, longer delays
    for e in data["synapse_alpha_0.5"]:
        e0 = entries[e["h_s0"]]
        assert e["onset_drive"] == pytest.approx(e0["onset_drive"], abs=1e-5)
        assert e["delay"] > e0["delay"]
    for name in FIGURES:
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert name + ".png" in data["figures"]


@pytest.mark.parametrize(
    "args",
    [
        ["--drive-range", "0:8"],
        ["--drive-range", "8:0:10"],
        ["--hs0-range", "0.5:1.5:x"],
        ["--hs0", "0.5,abc"],
        ["--hs0", "0.5", "--hs0-range", "0.5:1.5:3"],
        ["--synapse-alpha", "1.0"],
        ["--cell", "src", "--hs0", "1.0"],
        ["--hs0-range", "0:1:500", "--drive-range", "0:8:200"],
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args):
    out = tmp_path / "exc"
    assert main(["analyze", *args, "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("modspike analyze: error:") and "\n" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []
