"""Event data as a data source of the pipeline: the data-set registry, the ``events`` encoding
(recorded with its binning in the artifact and re-created by ``modspike run``), and training on
pre-binned frames."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from modspike import data
from modspike.data import EventOptions, load_dataset
from modspike.encoding import encode
from modspike.errors import ConfigError, DataError
from modspike.train.trainer import TrainConfig

SMALL = EventOptions(bins=10, downsample=4)  # dvs-digits: 10 x 2 x 6 x 6


def test_registry_names_and_kinds() -> None:
    assert data.names(data.IMAGES) == ["digits", "mnist", "fashion-mnist"]
    assert set(data.names(data.EVENTS)) == {"dvs-digits", "nmnist", "shd", "dvs-gesture"}
    assert data.source("digits").encodings == ("rate", "latency")
    assert data.source("shd").encodings == ("events",)
    assert data.source("nmnist").input_shape(EventOptions(downsample=2)) == (2, 17, 17)
    assert data.source("shd").input_shape(EventOptions(downsample=7)) == (100,)
    with pytest.raises(DataError, match="unknown data set 'cifar'.*dvs-digits"):
        data.source("cifar")
    with pytest.raises(DataError, match="--bins, --downsample: binning applies to event data"):
        load_dataset("digits", options=EventOptions(bins=5, downsample=2))


def test_image_sets_are_unchanged() -> None:
    ds = load_dataset("digits")
    assert ds.x_train.shape[1] == ds.n_features == 64 and ds.kind == data.IMAGES
    assert ds.encoding is None and ds.x_test.dtype == np.float32


def test_event_set_loads_only_the_splits_asked_for() -> None:
    ds = load_dataset("dvs-digits", options=SMALL, splits=("test",))
    assert ds.kind == data.EVENTS and ds.input_shape == (2, 6, 6) and ds.n_features == 72
    assert ds.x_test.shape == (360, 10, 2, 6, 6) and ds.x_test.dtype == np.uint8
    assert ds.x_train.shape == (0, 10, 2, 6, 6) and len(ds.y_val) == 0
    # the record an artifact stores is known without generating a sample
    assert dict(ds.encoding) == data.event_encoding("dvs-digits", 0, SMALL)
    assert ds.encoding["bins"] == 10 and ds.encoding["downsample"] == 4


def test_one_dimensional_sets_skip_splits_too(tmp_path) -> None:
    """SHD (a row of channels): a test-only load bins nothing else, and its frames are flat."""
    from modspike.events import make_events, write_shd_file

    rng = np.random.default_rng(0)

    def samples(n):
        t = [np.sort(rng.integers(0, 900_000, 50)) for _ in range(n)]
        x = [rng.integers(0, 700, 50) for _ in range(n)]
        return [make_events(a, np.zeros(50), b, np.ones(50, bool)) for a, b in zip(x, t)]

    write_shd_file(tmp_path / "shd_train.h5", samples(20), np.arange(20) % 20)
    write_shd_file(tmp_path / "shd_test.h5", samples(6), np.arange(6))
    ds = load_dataset("shd", tmp_path, options=EventOptions(bins=4, downsample=7), splits=("test",))
    assert ds.x_test.shape == (6, 4, 100) and ds.x_train.shape == (0, 4, 100)
    assert ds.input_shape == (100,) and ds.x_test.sum() == 6 * 50


def test_events_encoding_replays_the_frames() -> None:
    from modspike.hw.run_artifact import encode_split, input_options

    ds = load_dataset("dvs-digits", options=SMALL, splits=("test",))
    frames = ds.x_test[:5]
    x = encode(torch.as_tensor(frames), "events", 10, prefix=2)
    assert x.shape == (12, 5, 2, 6, 6) and not x[:2].any()
    np.testing.assert_array_equal(x[2:].numpy(), np.moveaxis(frames, 1, 0))
    manifest = {"encoding": {"name": "events", "steps": 10, **ds.encoding}}
    spikes = encode_split(manifest, frames, seed=0)
    np.testing.assert_array_equal(spikes, np.moveaxis(frames, 1, 0).reshape(10, 5, 72))
    # the manifest's record re-creates the same binning (bins over the window, not the width)
    options = input_options(manifest)
    again = load_dataset("dvs-digits", options=options, splits=("test",))
    np.testing.assert_array_equal(again.x_test, ds.x_test)
    with pytest.raises(ConfigError, match="do not hold 9 time bins"):
        encode(torch.as_tensor(frames), "events", 9)


def test_train_config_defaults_follow_the_data() -> None:
    cfg = TrainConfig(data="dvs-digits")
    assert cfg.encoding == "events" and cfg.steps == 25  # dvs-digits: 25 bins
    assert TrainConfig(data="nmnist").steps == 30
    cfg = TrainConfig(data="dvs-digits", steps=10)  # --steps means --bins for event data
    assert cfg.bins == 10 and cfg.event_options().bins == 10
    cfg = TrainConfig(data="dvs-digits", bin_us=61_000)  # 305 ms in bins of 61 ms
    assert cfg.steps == 5
    assert TrainConfig().encoding == "rate" and TrainConfig().steps == 25


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"data": "dvs-digits", "bins": 10, "steps": 12}, "the event frames have 10 time bins"),
        ({"data": "dvs-digits", "encoding": "rate"}, "does not fit dvs-digits"),
        ({"data": "digits", "encoding": "events"}, "does not fit digits"),
        ({"data": "digits", "bins": 5}, "binning applies to event data"),
        ({"data": "dvs-digits", "downsample": 0}, "downsample"),
    ],
)
def test_train_config_refuses_what_does_not_fit(kwargs, message) -> None:
    with pytest.raises((ConfigError, DataError), match=message):
        TrainConfig(**kwargs).validate()


def test_train_cli_refuses_binning_on_images(tmp_path, capsys) -> None:
    from modspike.cli import main

    argv = ["train", "--data", "digits", "--bins", "5", "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    assert "binning applies to event data" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_train_export_run_on_event_frames(tmp_path, capsys) -> None:
    """dvs-digits through the pipeline: train on frames, export (the encoding with its binning
    goes into the manifest), run: the simulator re-creates the same input from the manifest and
    gives the accuracy the export measured; Lava takes the counts as graded input."""
    from modspike.cli import main

    run = tmp_path / "run"
    argv = ["train", "--cell", "lif", "--data", "dvs-digits", "--bins", "10", "--downsample", "4"]
    argv += ["--hidden", "24", "--epochs", "2", "--limit", "300", "--quiet", "--out", str(run)]
    assert main(argv) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["in_shape"] == [2, 6, 6] and config["train"]["encoding"] == "events"
    art = tmp_path / "art"
    assert main(["export", str(run), "--out", str(art)]) == 0
    manifest = json.loads((art / "manifest.json").read_text())
    enc = manifest["encoding"]
    assert enc["name"] == "events" and enc["bins"] == enc["steps"] == 10
    assert enc["downsample"] == 4 and enc["input_shape"] == [2, 6, 6]
    capsys.readouterr()
    result = tmp_path / "sim.json"
    assert main(["run", str(art), "--backend", "sim", "--quiet", "--out", str(result)]) == 0
    sim = json.loads(result.read_text())
    assert sim["accuracy"] == manifest["accuracy"]["quantized"] > 0.15  # chance: 0.1
    assert sim["steps"] == 10 and sim["n_samples"] == 360
    pytest.importorskip("lava")
    lava_out = tmp_path / "lava.json"
    argv = ["run", str(art), "--backend", "lava", "--limit", "6", "--quiet", "--out"]
    assert main([*argv, str(lava_out)]) == 0
    lava = json.loads(lava_out.read_text())
    assert main(["run", str(art), "--backend", "sim", "--limit", "6", "--quiet", "--out",
                 str(result), "--force"]) == 0  # fmt: skip
    sim6 = json.loads(result.read_text())
    assert lava["predictions"] == sim6["predictions"] == sim["predictions"][:6]
    assert lava["spike_counts"] == sim6["spike_counts"]
    assert all(c["total"] > 0 for c in lava["spike_counts"].values())


def test_static_view_sums_event_frames_over_time() -> None:
    """The ANN baseline sees event frames (N, T, C, H, W) as event-count images (N, C*H*W), and
    intensities (N, n) unchanged; numpy and torch alike."""
    import torch

    from modspike.encoding import static_view

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 3, (4, 5, 2, 3, 3))
    want = frames.sum(axis=1).reshape(4, 18)
    np.testing.assert_array_equal(static_view(frames), want)
    np.testing.assert_array_equal(static_view(torch.as_tensor(frames)).numpy(), want)
    flat = rng.random((4, 64))
    assert static_view(flat) is flat


@pytest.mark.slow
def test_ann_baseline_on_event_frames_through_export_and_report(tmp_path) -> None:
    """An ANN trained on dvs-digits (event-count images) is the baseline of a LIF run on the same
    frames: ONNX export agrees with torch, and the report prices both sides."""
    from modspike.cli import main
    from modspike.runtime.report import measure

    common = ["--data", "dvs-digits", "--bins", "10", "--downsample", "4", "--hidden", "24"]
    common += ["--limit", "300", "--quiet"]
    run, ann, art = tmp_path / "run", tmp_path / "ann", tmp_path / "art"
    assert main(["train", "--cell", "lif", "--epochs", "2", *common, "--out", str(run)]) == 0
    assert main(["train", "--cell", "ann", "--epochs", "20", *common, "--out", str(ann)]) == 0
    metrics = json.loads((ann / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.3  # chance: 0.1
    assert main(["export", str(run), "--baseline", str(ann), "--out", str(art)]) == 0
    baseline = json.loads((art / "manifest.json").read_text())["baseline"]
    assert baseline["identical_predictions"] and baseline["samples"] == 360
    assert baseline["onnx_accuracy"] == pytest.approx(metrics["test_accuracy"])
    entry, _ = measure(art, backend="sim", limit=40)
    assert entry["ann"]["layers"][0]["n_in"] == 2 * 6 * 6
    # int8 on event counts (input scale from the calibration maximum) keeps the float accuracy
    assert abs(entry["ann"]["accuracy_int8"] - entry["ann"]["accuracy"]) <= 0.1
    assert entry["ratio_snn_over_ann"] is not None
