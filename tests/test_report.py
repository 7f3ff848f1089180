"""`modspike report`: every field in report.json / .md / .html, the numbers agree with each other
and with `modspike run`, bad profiles and missing artifacts are one-line errors with exit code 2,
and a failed report leaves nothing behind."""

from __future__ import annotations

import json
import math

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
    assert report["headline_tier"] == "deployed" and report["technology"] == "horowitz45"
    assert report["caveats"] and len(report["artifacts"]) == 2
    src, lif = report["artifacts"]
    for e in (src, lif):
        assert all(k in e for k in ENTRY_KEYS)
        assert e["n_samples"] == LIMIT
        assert len(e["per_step_mean"]["synops"]) == e["steps"]
        assert all(k in e["counts"]["per_sample"] for k in COUNT_KEYS)
        for layer in e["counts"]["layers"].values():
            assert all(k in layer for k in COUNT_KEYS)
        # the headline (spec change: the deployed tier on one technology replaces the Loihi
        # total next to a bare 45 nm MAC): the band is ordered and the parts add up
        snn = e["snn"]
        assert snn["kind"] == "modeled" and snn["tier"] == "deployed"
        band = snn["energy_pj_band"]
        assert band["low"] < band["central"] < band["high"]
        assert snn["energy_pj_per_sample"] == band["central"]
        assert snn["energy_pj_per_sample"] == pytest.approx(
            sum(snn["components_pj_per_sample"].values())
        )
        assert snn["dominant"]["part"] and snn["dominant"]["price"]
        # the platform tier still prices the NeuroBench counts on Loihi, recomputed here
        loihi = e["tiers"]["platform"]["snn"][0]
        assert loihi["constant_set"] == "loihi" and loihi["scope"] == "core"
        cost = load_profile("loihi")["cost"]
        c = e["counts"]["per_sample"]
        assert loihi["parts_pj"]["synop"] == pytest.approx(c["effective"] * cost["synop"])
        assert loihi["parts_pj"]["spike"] == pytest.approx(c["spikes"] * cost["spike"])
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
    # the ANN side: its deployed energy on the same technology, the static int8 network's
    # accuracy, and one ratio per constant set (spec change: no ratio across technologies)
    ann = src["ann"]
    bands = ann["energy_pj_band"]
    assert set(bands) == {"int8_dense", "int8_zero_skip", "low_bit"}
    assert bands["int8_zero_skip"]["central"] < bands["int8_dense"]["central"]
    assert ann["energy_pj_per_sample"] == bands["int8_dense"]["central"]
    assert ann["low_bit_activation_bits"] == math.ceil(math.log2(src["steps"] + 1))
    assert 0 <= ann["accuracy"] <= 1 and 0 <= ann["accuracy_int8"] <= 1
    assert ann["latency_ms_batch1"] > 0
    assert src["ratio_snn_over_ann"] == pytest.approx(
        src["snn"]["energy_pj_per_sample"] / ann["energy_pj_per_sample"]
    )
    for b in ("low", "central", "high"):
        assert src["ratios_deployed"]["int8_dense"][b] == pytest.approx(
            src["snn"]["energy_pj_band"][b] / bands["int8_dense"][b]
        )
    assert lif["ann"] is None and lif["ratio_snn_over_ann"] is None
    # across platform scopes the ratio is refused, and says so
    refused = [r for r in src["tiers"]["platform"]["ratios"] if r["ratio"] is None]
    assert any("across scopes" in r["refused"] for r in refused)
    # every constant priced carries its source
    for prof in report["constants"].values():
        for key, entry in prof["constants"].items():
            assert entry.get("source"), (key, entry)

    md = (report_two / "report.md").read_text()
    page = (report_two / "report.html").read_text()
    for text in (md, page):
        assert "modeled" in text and "Static (leakage) power" in text
        assert "Memory traffic" in text and "refused" in text
        assert src["name"] in text and "SNN / ANN" in text
    for alt in ("raster", "activity", "energy", "energy_vs_input", "accuracy_vs_energy"):
        assert f"alt='{alt}' src='data:image/png;base64," in page
    assert "http" not in page.replace("http-equiv", "")  # self-contained: nothing fetched


def test_report_tiers_are_the_tier_functions_of_its_own_counts(report_two, export_src_artifact):
    """Recompute the deployed, Lemaire and break-even numbers of report.json from the network's
    facts and the counts the report wrote: nothing else enters them."""
    from modspike.export.artifact_build import open_artifact
    from modspike.runtime.energy_deployed import deployed_ann, deployed_snn
    from modspike.runtime.energy_facts import AnnLayerFacts
    from modspike.runtime.energy_lemaire import lemaire_ann, lemaire_snn
    from modspike.runtime.energy_network import layer_facts, readout_facts

    src = json.loads((report_two / "report.json").read_text())["artifacts"][0]
    _, net = open_artifact(export_src_artifact)
    facts, ro = layer_facts(net), readout_facts(net)
    assert [f.state_bits for f in facts] == [24] and facts[0].state_words == 3  # SRC, deployed
    keys = ("input_events", "synaptic_events", "graded_synaptic_events", "neuron_updates")
    counts = [
        {**{k: layer[k] for k in keys}, "spikes": layer["spikes"]}
        for layer in src["counts"]["layers"].values()
    ]
    kw = dict(steps=src["steps"], encoding=src["encoding"], readout=ro)
    for b in ("low", "central", "high"):
        want = deployed_snn(facts, counts, band=b, **kw).total_pj
        assert src["snn"]["energy_pj_band"][b] == pytest.approx(want, rel=1e-12)
    layers = [AnnLayerFacts(r["n_in"], r["n_out"], r["bias"]) for r in src["ann"]["layers"]]
    dense = deployed_ann(layers).total_pj
    assert src["ann"]["energy_pj_band"]["int8_dense"]["central"] == pytest.approx(dense)
    skip = deployed_ann(layers, nonzero_inputs=src["ann"]["nonzero_inputs_int8"]).total_pj
    assert src["ann"]["energy_pj_band"]["int8_zero_skip"]["central"] == pytest.approx(skip)
    lem = src["tiers"]["lemaire"]
    assert lem["snn"]["energy_pj"] == pytest.approx(
        lemaire_snn(facts, counts, steps=src["steps"], readout=ro).total_pj
    )
    assert lem["ann"]["energy_pj"] == pytest.approx(lemaire_ann(layers).total_pj)
    assert lem["ratio"]["ratio"] == pytest.approx(lem["snn"]["energy_pj"] / lem["ann"]["energy_pj"])
    # break-even: E(X0*) equals the ANN's energy; T_max is the last T whose idle energy fits
    be = src["tiers"]["deployed"]["break_even"]
    x0 = be["measured_input_events"]
    for v, row in be["break_even_input_events"].items():
        e_ann = src["ann"]["energy_pj_band"][v]["central"]
        star = row["central"]

        def e_at(x, be=be):
            central = be["energy_at_measured_pj"]["central"]
            return central + be["e_in_pj_per_input_event"]["central"] * (x - x0)

        if star is None:
            assert e_at(0.0) > e_ann
        else:
            assert e_at(star) == pytest.approx(e_ann)
        t = be["t_max"][v]

        def idle(steps):
            c = [{"input_events": 0, "synaptic_events": 0, "neuron_updates": f.n * steps,
                  "spikes": 0} for f in facts]  # fmt: skip
            return deployed_snn(facts, c, steps=steps, encoding=src["encoding"], readout=ro)

        assert idle(t + 1).total_pj > e_ann
        if t > 0:
            assert idle(t).total_pj <= e_ann


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
    art = str(export_src_artifact)
    for extra, message in (
        (["--ann-precision", "fp32"], "not like for like"),
        (["--profile", "horowitz45"], "pass it as --technology"),
        (["--technology", "loihi"], "not a deployed-tier technology"),
        (["--static-power", "1"], "needs a time base"),
    ):
        assert main(["report", art, *extra, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
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


def test_a_network_the_technology_cannot_price_still_gets_counts_and_platform(
    report_lif_artifact, tmp_path
):
    """A cell kind without operation counts in the technology: the Lemaire and deployed tiers
    say why they are unavailable, the counts and the platform tier are still reported."""
    from modspike.runtime.energy import PROFILE_DIR

    text = (PROFILE_DIR / "horowitz45.toml").read_text()
    start = text.index("[cell.lif]")
    end = text.index("[cell.", start + 1)
    tech = tmp_path / "no_lif.toml"
    tech.write_text(text[:start] + text[end:])
    out = tmp_path / "rep"
    argv = ["report", str(report_lif_artifact), "--limit", "5", "--quiet", "--out", str(out)]
    assert main([*argv, "--technology", str(tech)]) == 0
    (e,) = json.loads((out / "report.json").read_text())["artifacts"]
    assert "no operation counts for cell kind 'lif'" in e["tiers"]["deployed"]["unavailable"]
    assert "unavailable" in e["tiers"]["lemaire"] and e["snn"]["energy_pj_per_sample"] is None
    assert e["tiers"]["platform"]["snn"][0]["energy_pj"] > 0
    assert "unavailable" in (out / "report.md").read_text()


def test_inspect_and_report_give_the_same_memory(report_two, export_src_artifact, capsys):
    """One memory model: `modspike inspect` and the report's per-layer footprint agree."""
    assert main(["inspect", str(export_src_artifact), "--json"]) == 0
    inspected = json.loads(capsys.readouterr().out)
    report = json.loads((report_two / "report.json").read_text())
    entry = next(a for a in report["artifacts"] if a["artifact"] == str(export_src_artifact))
    rows = entry["counts"]["layers"]
    assert [layer["name"] for layer in inspected["layers"]] == list(rows)
    for layer in inspected["layers"]:
        assert layer["memory_bytes"] == math.ceil(rows[layer["name"]]["footprint_bits"] / 8)
