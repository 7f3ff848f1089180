"""`modspike report`: every field in report.json / .md / .html, the numbers agree with each other
and with `modspike run`, bad profiles and missing artifacts are one-line errors with exit code 2,
and a failed report leaves nothing behind."""

from __future__ import annotations

import json

import pytest

from modspike.cli import main
from modspike.errors import EnergyProfileError, ModspikeError
from modspike.runtime.energy import load_profile

LIMIT = 20
ENTRY_KEYS = (
    "artifact",
    "cell",
    "backend",
    "n_samples",
    "steps",
    "accuracy",
    "counts",
    "per_step_mean",
    "snn",
    "ann",
    "ratio_snn_over_ann",
)
COUNT_KEYS = (
    "spikes",
    "dense",
    "effective",
    "effective_acs",
    "effective_macs",
    "graded_weighted",
    "neuron_active",
    "neuron_inactive",
    "activation_sparsity",
)


@pytest.fixture(scope="module")
def report_lif_artifact(tmp_path_factory, export_lif_run):
    """A second artifact, without baseline.onnx."""
    out = tmp_path_factory.mktemp("report_artifacts") / "lif"
    assert main(["export", str(export_lif_run), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def report_two(tmp_path_factory, export_src_artifact, report_lif_artifact):
    out = tmp_path_factory.mktemp("reports") / "two"
    argv = ["report", str(export_src_artifact), str(report_lif_artifact), "--limit", str(LIMIT)]
    assert main([*argv, "--quiet", "--out", str(out)]) == 0
    return out


def test_report_has_every_field(report_two, export_src_artifact, tmp_path):
    assert sorted(p.name for p in report_two.iterdir()) == [
        "report.html",
        "report.json",
        "report.md",
    ]
    report = json.loads((report_two / "report.json").read_text())
    assert report["kind"] == "modeled" and report["precision_matched"] is True
    assert report["caveats"] and len(report["artifacts"]) == 2
    src, lif = report["artifacts"]
    for e in (src, lif):
        assert all(k in e for k in ENTRY_KEYS)
        assert e["n_samples"] == LIMIT
        assert len(e["per_step_mean"]["synops"]) == e["steps"]
        assert all(k in e["counts"]["per_sample"] for k in COUNT_KEYS)
        for layer in e["counts"]["layers"].values():
            assert all(k in layer for k in COUNT_KEYS)
        snn = e["snn"]
        assert snn["kind"] == "modeled" and snn["profile"] == "loihi"
        parts = snn["components_pj_per_sample"]
        assert set(parts) == {"synops", "neuron_active", "neuron_inactive", "spikes", "readout"}
        assert snn["energy_pj_per_sample"] == pytest.approx(sum(parts.values()))
        # the energy is the counts priced on the profile, recomputed here from report.json alone
        cost = load_profile("loihi")["cost"]
        c = e["counts"]["per_sample"]
        assert parts["synops"] == pytest.approx(c["effective"] * cost["synop"])
        assert parts["neuron_active"] == pytest.approx(c["neuron_active"] * cost["neuron_active"])
        assert parts["spikes"] == pytest.approx(c["spikes"] * cost["spike"])
        # every neuron is either active or inactive at every step
        neurons = sum(int(s.rsplit(", ", 1)[1].rstrip(")")) for s in e["layers"])
        assert c["neuron_active"] + c["neuron_inactive"] == pytest.approx(e["steps"] * neurons)
    # the report's spike counts are the ones `modspike run` writes, for the same samples
    result = tmp_path / "run.json"
    argv = ["run", str(export_src_artifact), "--limit", str(LIMIT), "--quiet"]
    assert main([*argv, "--out", str(result)]) == 0
    run = json.loads(result.read_text())
    assert run["accuracy"] == src["accuracy"]
    for name, layer in run["spike_counts"].items():
        assert src["counts"]["layers"][name]["spikes"] == pytest.approx(layer["per_sample_mean"])
    # the ANN side: int8 MACs of baseline.onnx on horowitz45, accuracy and latency by onnxruntime
    ann = src["ann"]
    mac = load_profile("horowitz45")["cost"]["mac_int8"]
    assert ann["energy_pj_per_sample"] == pytest.approx(ann["macs_per_sample"] * mac)
    assert 0 <= ann["accuracy"] <= 1 and 0 <= ann["accuracy_int8"] <= 1
    assert ann["latency_ms_batch1"] > 0
    assert src["ratio_snn_over_ann"] == pytest.approx(
        src["snn"]["energy_pj_per_sample"] / ann["energy_pj_per_sample"]
    )
    assert lif["ann"] is None and lif["ratio_snn_over_ann"] is None

    md = (report_two / "report.md").read_text()
    page = (report_two / "report.html").read_text()
    for text in (md, page):
        assert "modeled" in text and "Static (leakage) power" in text
        assert "Memory traffic" in text
        assert src["name"] in text and "SNN / ANN" in text
    for alt in ("raster", "activity", "energy", "accuracy_vs_energy"):
        assert f"alt='{alt}' src='data:image/png;base64," in page
    assert "http" not in page.replace("http-equiv", "")  # self-contained: nothing fetched


def test_bad_profile_is_a_clear_error(export_src_artifact, tmp_path, capsys):
    from modspike.runtime.report import build_report

    bad = tmp_path / "bad.toml"
    bad.write_text("[cost]\nsynop = 1.0\n")  # no neuron costs
    with pytest.raises(EnergyProfileError, match="neuron_active"):
        build_report([export_src_artifact], tmp_path / "r", profile=str(bad), progress=False)
    out = tmp_path / "r2"
    assert main(["report", str(export_src_artifact), "--profile", "nosuch", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "energy profile not found" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists() and not out.exists()


def test_cli_exit_codes_and_nothing_half_written(
    export_src_artifact, tmp_path, capsys, monkeypatch
):
    import modspike.runtime.report as report

    out = tmp_path / "rep"
    assert main(["report", str(tmp_path / "missing"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no such artifact" in err and len(err.strip().splitlines()) == 1
    assert main(["report", str(export_src_artifact), "--limit", "0", "--out", str(out)]) == 2
    assert "--limit" in capsys.readouterr().err
    assert not out.exists()
    # a failure after the counting (here: in the figures) keeps an older report untouched
    out.mkdir()
    (out / "report.json").write_text("old")

    def broken(*args, **kwargs):
        raise ModspikeError("figure failed")

    monkeypatch.setattr(report, "figures", broken)
    argv = ["report", str(export_src_artifact), "--limit", "4", "--quiet", "--out", str(out)]
    assert main(argv) == 2  # an existing report is kept unless --force (docs/reliability.md)
    assert "--force" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 2
    assert "figure failed" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["report.json"]
    assert (out / "report.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]  # no temporary folder left
