"""Event data: N-MNIST and SHD readers on small files written here in the documented layouts,
binning on a fixed clock, the DVS pixel model and the dvs-digits stand-in."""

from __future__ import annotations

import io
import struct

import h5py
import numpy as np
import pytest

from modspike.data import load_digits_dataset
from modspike.errors import ConfigError, DataError
from modspike.events import (
    EVENT_DTYPE,
    NMNIST_SENSOR,
    BinStats,
    DVSPixels,
    PixelModel,
    Sensor,
    StandIn,
    bin_events,
    decode_aedat3,
    decode_nmnist,
    digits_split_indices,
    encode_aedat3,
    encode_nmnist,
    gesture_samples,
    load_event_dataset,
    make_binning,
    make_events,
    read_aedat3_file,
    read_gesture_labels,
    read_nmnist_file,
    read_shd_file,
    readers,
    standin_events,
    write_nmnist_file,
    write_shd_file,
)

SHD_SENSOR = Sensor(1, 700, 1)


def random_events(rng, n=200, sensor=NMNIST_SENSOR, t_max=300_000):
    return make_events(
        rng.integers(0, sensor.width, n),
        rng.integers(0, sensor.height, n),
        np.sort(rng.integers(0, t_max, n)),
        rng.integers(0, 2, n) if sensor.polarities == 2 else np.ones(n),
    )


def nmnist_record(x: int, y: int, p: int, t: int) -> bytes:
    """One 40-bit record as the N-MNIST documentation lays it out, written bit by bit."""
    return ((x << 32) | (y << 24) | (p << 23) | t).to_bytes(5, "big")


# --- N-MNIST ----------------------------------------------------------------------------------


def test_nmnist_records_decode_as_documented():
    data = nmnist_record(3, 5, 1, 0x012345) + nmnist_record(33, 0, 0, 0x7FFFFF)
    ev = decode_nmnist(data)
    assert ev.dtype == EVENT_DTYPE
    assert ev["x"].tolist() == [3, 33] and ev["y"].tolist() == [5, 0]
    assert ev["p"].tolist() == [True, False] and ev["t"].tolist() == [0x012345, 0x7FFFFF]


def test_nmnist_round_trip_through_a_file(tmp_path):
    ev = random_events(np.random.default_rng(0))
    write_nmnist_file(tmp_path / "00001.bin", ev)
    assert (tmp_path / "00001.bin").stat().st_size == 5 * len(ev)
    assert np.array_equal(read_nmnist_file(tmp_path / "00001.bin"), ev)
    assert [p.name for p in tmp_path.iterdir()] == ["00001.bin"]  # no temporary left


def test_nmnist_decoding_matches_tonic_including_an_overflow_marker():
    from tonic.io import events_struct, read_mnist_file

    rng = np.random.default_rng(1)
    ev = random_events(rng, 50, t_max=8000)
    raw = encode_nmnist(ev[:20]) + nmnist_record(0, 240, 0, 0) + encode_nmnist(ev[20:])
    ours = decode_nmnist(raw)
    theirs = read_mnist_file(io.BytesIO(raw), dtype=events_struct, is_stream=True)
    for key in ("x", "y", "t", "p"):
        assert np.array_equal(ours[key], theirs[key]), key
    assert ours["t"][20] == ev["t"][20] + 2**13 and ours["t"][19] == ev["t"][19]


@pytest.mark.parametrize(
    "data, message",
    [
        (nmnist_record(1, 1, 1, 10)[:4], "whole number of 5-byte"),
        (nmnist_record(34, 1, 1, 10), "outside the 34x34 sensor"),
        (nmnist_record(1, 60, 1, 10), "outside the 34x34 sensor"),
        (nmnist_record(1, 1, 1, 50) + nmnist_record(1, 2, 0, 40), "non-decreasing"),
    ],
)
def test_malformed_nmnist_data_is_refused(data, message):
    with pytest.raises(DataError, match=message):
        decode_nmnist(data)


def test_oversized_nmnist_files_are_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.bin"
    path.write_bytes(nmnist_record(1, 1, 1, 1) * 30)
    monkeypatch.setattr(readers, "NMNIST_MAX_BYTES", 100)
    with pytest.raises(DataError, match="more than the 100 allowed"):
        read_nmnist_file(path)
    with pytest.raises(DataError, match="cannot read"):
        read_nmnist_file(tmp_path / "missing.bin")


def write_nmnist_tree(root, per_digit: dict[str, int], rng) -> dict:
    """Train/ and Test/ with one folder per digit; returns {(split, digit, i): events}."""
    written = {}
    for split, folder in (("train", "Train"), ("test", "Test")):
        for digit in range(10):
            (root / folder / str(digit)).mkdir(parents=True)
            for i in range(per_digit[split]):
                ev = random_events(rng, int(rng.integers(50, 400)))
                write_nmnist_file(root / folder / str(digit) / f"{i:05d}.bin", ev)
                written[split, digit, i] = ev
    return written


def test_nmnist_folders_load_as_a_binned_data_set(tmp_path):
    written = write_nmnist_tree(tmp_path, {"train": 4, "test": 2}, np.random.default_rng(2))
    ds = load_event_dataset("nmnist", tmp_path, bins=10, val_fraction=0.25, progress=False)
    assert ds.x_train.shape == (30, 10, 2, 34, 34) and ds.x_train.dtype == np.uint8
    assert len(ds.x_val) == 10 and len(ds.x_test) == 20 and ds.n_classes == 10
    assert sorted(ds.y_test.tolist()) == sorted([d for d in range(10) for _ in range(2)])
    assert np.bincount(np.concatenate([ds.y_train, ds.y_val]), minlength=10).tolist() == [4] * 10
    # every test event inside the 300 ms window is counted once
    test_events = [ev for (s, _, _), ev in written.items() if s == "test"]
    assert int(ds.x_test.sum()) == sum(int((ev["t"] < 300_000).sum()) for ev in test_events)
    assert ds.stats["test"]["events"] == sum(len(ev) for ev in test_events)
    assert ds.encoding["sensor"] == [34, 34, 2] and ds.encoding["bins"] == 10


def test_nmnist_missing_folders_and_data_dir_are_named(tmp_path):
    with pytest.raises(DataError, match="no Train/ folder"):
        load_event_dataset("nmnist", tmp_path, progress=False)
    with pytest.raises(DataError, match="never downloaded"):
        load_event_dataset("nmnist", None, progress=False)
    with pytest.raises(DataError, match="unknown event data set"):
        load_event_dataset("cifar10-dvs", tmp_path)


# --- SHD ------------------------------------------------------------------------------------


def shd_samples(rng, n):
    return [random_events(rng, int(rng.integers(20, 300)), SHD_SENSOR, 1_200_000) for _ in range(n)]


def test_shd_round_trip_through_a_file(tmp_path):
    rng = np.random.default_rng(3)
    samples, labels = shd_samples(rng, 12), rng.integers(0, 20, 12)
    write_shd_file(tmp_path / "shd_train.h5", samples, labels)
    back, back_labels = read_shd_file(tmp_path / "shd_train.h5")
    assert np.array_equal(back_labels, labels)
    for a, b in zip(back, samples):
        assert np.array_equal(a, b)


def test_shd_layout_written_by_hand_is_read(tmp_path):
    path = tmp_path / "shd_test.h5"
    with h5py.File(path, "w") as h5:
        times = h5.create_dataset("spikes/times", (2,), dtype=h5py.vlen_dtype("f8"))
        units = h5.create_dataset("spikes/units", (2,), dtype=h5py.vlen_dtype("u2"))
        times[0], units[0] = np.array([0.0, 0.0015, 0.25]), np.array([699, 0, 12])
        times[1], units[1] = np.array([], dtype="f8"), np.array([], dtype="u2")
        h5.create_dataset("labels", data=np.array([19, 0], dtype=np.uint8))
        h5.create_dataset("extra/keys", data=[b"zero", b"one"])
    samples, labels = read_shd_file(path)
    assert labels.tolist() == [19, 0] and len(samples[1]) == 0
    assert samples[0]["t"].tolist() == [0, 1500, 250_000]
    assert samples[0]["x"].tolist() == [699, 0, 12] and samples[0]["p"].all()


def _shd_with(path, times, units, labels, times_dtype="f4"):
    with h5py.File(path, "w") as h5:
        t = h5.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(times_dtype))
        u = h5.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype("i4"))
        for i, row in enumerate(times):
            t[i] = np.asarray(row, dtype=times_dtype)
        for i, row in enumerate(units):
            u[i] = np.asarray(row, dtype="i4")
        h5.create_dataset("labels", data=np.asarray(labels))


@pytest.mark.parametrize(
    "times, units, labels, message",
    [
        ([[0.1, 0.2]], [[1, 700]], [0], "units must lie in 0..699"),
        ([[0.1, 0.2]], [[-1, 3]], [0], "units must lie in 0..699"),
        ([[-0.1, 0.2]], [[1, 3]], [0], "must lie in"),
        ([[0.3, 0.2]], [[1, 3]], [0], "non-decreasing"),
        ([[0.1, np.nan]], [[1, 3]], [0], "finite"),
        ([[0.1, 0.2]], [[1]], [0], "spike times for 1 units"),
        ([[0.1], [0.2]], [[1], [2]], [0], "2 spike-time rows, 2 unit rows and 1 labels"),
        ([[0.1]], [[1]], [20], "labels must lie in 0..19"),
        ([[0.1]], [[1]], [0.5], "expected integer numbers"),
    ],
)
def test_malformed_shd_files_are_refused(tmp_path, times, units, labels, message):
    _shd_with(tmp_path / "bad.h5", times, units, labels)
    with pytest.raises(DataError, match=message):
        read_shd_file(tmp_path / "bad.h5")


def test_untrusted_hdf5_structure_is_refused(tmp_path):
    rng = np.random.default_rng(4)
    write_shd_file(tmp_path / "good.h5", shd_samples(rng, 2), [1, 2])
    (tmp_path / "noise.h5").write_bytes(rng.bytes(4096))
    with pytest.raises(DataError, match="not a readable HDF5 file"):
        read_shd_file(tmp_path / "noise.h5")
    with h5py.File(tmp_path / "linked.h5", "w") as h5:
        h5["spikes"] = h5py.ExternalLink("good.h5", "/spikes")
        h5["labels"] = np.array([1, 2])
    with pytest.raises(DataError, match="outside the file"):
        read_shd_file(tmp_path / "linked.h5")
    (tmp_path / "raw.bin").write_bytes(np.zeros(2, np.int64).tobytes())
    with h5py.File(tmp_path / "external.h5", "w") as h5:
        h5.create_dataset("labels", (2,), dtype=np.int64, external=[("raw.bin", 0, 16)])
    with pytest.raises(DataError, match="outside the file"):
        read_shd_file(tmp_path / "external.h5")
    with h5py.File(tmp_path / "empty.h5", "w") as h5:
        h5.create_group("spikes")
    with pytest.raises(DataError, match="no dataset 'spikes/times'"):
        read_shd_file(tmp_path / "empty.h5")


def test_shd_files_load_as_a_binned_data_set(tmp_path):
    rng = np.random.default_rng(5)
    train, test = shd_samples(rng, 20), shd_samples(rng, 6)
    write_shd_file(tmp_path / "shd_train.h5", train, np.arange(20))
    write_shd_file(tmp_path / "shd_test.h5", test, np.arange(6))
    ds = load_event_dataset("shd", tmp_path, bin_us=50_000, downsample=5, progress=False)
    assert ds.x_train.shape == (18, 20, 140) and ds.x_val.shape == (2, 20, 140)
    assert ds.input_shape == (140,) and ds.n_classes == 20 and ds.encoding["layout"] == "TU"
    assert ds.y_test.tolist() == list(range(6))
    in_window = [int((ev["t"] < 1_000_000).sum()) for ev in test]
    assert ds.x_test.reshape(6, -1).sum(axis=1).tolist() == in_window
    assert ds.stats["test"]["dropped"] == sum(len(ev) for ev in test) - sum(in_window)
    with pytest.raises(DataError, match="missing .*shd_test.h5"):
        (tmp_path / "shd_test.h5").unlink()
        load_event_dataset("shd", tmp_path, progress=False)


# --- binning ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bins, bin_us", [(7, None), (None, 30_000)])
def test_binned_counts_equal_event_counts_per_bin_and_pixel(bins, bin_us):
    rng = np.random.default_rng(6)
    ev = random_events(rng, 3000, t_max=350_000)
    binning = make_binning(300_000, bins, bin_us)
    stats = BinStats()
    frames = bin_events(ev, NMNIST_SENSOR, binning, stats)
    assert frames.shape == (binning.bins, 2, 34, 34) and frames.dtype == np.uint8
    kept = ev[ev["t"] < binning.duration_us]
    assert int(frames.sum()) == len(kept) and stats.dropped == len(ev) - len(kept)
    # one event, looked up by hand
    e = kept[123]
    k = int(e["t"] * binning.bins // binning.duration_us) if bins else int(e["t"] // bin_us)
    same = kept[
        (kept["x"] == e["x"])
        & (kept["y"] == e["y"])
        & (kept["p"] == e["p"])
        & (
            kept["t"] * binning.bins // binning.duration_us == k
            if bins
            else kept["t"] // bin_us == k
        )
    ]
    assert frames[k, int(e["p"]), e["y"], e["x"]] == len(same)


def test_binning_matches_tonic_to_frame_on_the_same_clock():
    from tonic.functional import to_frame_numpy

    ev = random_events(np.random.default_rng(7), 2000, t_max=300_000)
    binning = make_binning(300_000, bin_us=25_000)
    theirs = to_frame_numpy(
        ev.copy(), (34, 34, 2), time_window=25_000, start_time=0, end_time=300_000
    )
    assert np.array_equal(bin_events(ev, NMNIST_SENSOR, binning), theirs)


def test_downsampling_sums_blocks_and_merge_folds_polarity():
    ev = random_events(np.random.default_rng(8), 2000)
    full = bin_events(ev, NMNIST_SENSOR, make_binning(300_000, bins=5))
    pooled = bin_events(ev, NMNIST_SENSOR, make_binning(300_000, bins=5, downsample=4))
    assert pooled.shape == (5, 2, 9, 9)  # 34 = 8 * 4 + 2: the last block is partial
    padded = np.zeros((5, 2, 36, 36), np.int64)
    padded[..., :34, :34] = full
    assert np.array_equal(pooled, padded.reshape(5, 2, 9, 4, 9, 4).sum(axis=(3, 5)))
    merged = bin_events(ev, NMNIST_SENSOR, make_binning(300_000, bins=5, polarity="merge"))
    assert np.array_equal(merged[:, 0], full.sum(axis=1))


def test_events_outside_the_sensor_are_refused_by_binning():
    ev = make_events([3, 34], [1, 1], [10, 20], [1, 0])
    with pytest.raises(DataError, match="outside the 34x34 sensor"):
        bin_events(ev, NMNIST_SENSOR, make_binning(1000, bins=2))


def test_counts_saturate_at_255_and_are_reported():
    ev = make_events(np.ones(300), np.ones(300), np.arange(300), np.ones(300))
    stats = BinStats()
    frames = bin_events(ev, NMNIST_SENSOR, make_binning(1000, bins=1), stats)
    assert frames[0, 1, 1, 1] == 255 and stats.saturated_cells == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bins": 5, "bin_us": 100},
        {},
        {"bins": 0},
        {"bin_us": 0},
        {"bins": 4, "polarity": "both"},
        {"bins": 4, "downsample": 0},
        {"bin_us": 1, "duration_us": 10**9},
    ],
)
def test_bad_binning_options_are_config_errors(kwargs):
    duration = kwargs.pop("duration_us", 300_000)
    with pytest.raises(ConfigError):
        make_binning(duration, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"val_fraction": 1.0}, {"limit": 0}, {"polarity": "on"}, {"bins": 10, "bin_us": 1000}],
)
def test_bad_data_set_options_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        load_event_dataset("dvs-digits", progress=False, **kwargs)


def test_the_encoding_records_the_binning():
    enc = make_binning(300_000, bins=30, downsample=2).encoding(NMNIST_SENSOR, "nmnist")
    assert enc["name"] == "events" and enc["bins"] == 30 and enc["bin_us"] == 10_000
    assert enc["polarity"] == "split" and enc["channels"] == ["off", "on"]
    assert enc["downsample"] == 2 and enc["sensor"] == [34, 34, 2]
    assert enc["input_shape"] == [2, 17, 17]


# --- the DVS pixel model --------------------------------------------------------------------


def test_a_brightness_step_gives_one_on_event_per_pixel_and_a_fall_off_events():
    model = PixelModel(c_on=0.2, c_off=0.3, refractory_us=0)
    pixels = DVSPixels(np.zeros((1, 2, 3)), 0, model)
    n, y, x, t, p = pixels.step(np.full((1, 2, 3), 0.5), 1000)
    assert len(n) == 6 and p.all() and (t > 0).all() and (t <= 1000).all()
    assert len(pixels.step(np.full((1, 2, 3), 0.45), 2000)[0]) == 0  # below c_off
    n, *_, p = pixels.step(np.full((1, 2, 3), 0.1), 3000)
    assert len(n) == 6 and not p.any()


def ramp_event_times(refractory_us: int, levels) -> list[int]:
    pixels = DVSPixels(np.zeros((1, 1, 1)), 0, PixelModel(0.25, 0.25, refractory_us))
    steps = [pixels.step(np.full((1, 1, 1), v), 1000 * k) for k, v in enumerate(levels, start=1)]
    return np.concatenate([s[3] for s in steps]).tolist()


def test_a_ramp_gives_events_at_the_threshold_crossings_and_refractory_thins_them():
    ramp = 0.125 * np.arange(1, 9)  # +0.125 per 1000 us step, thresholds 0.25
    assert ramp_event_times(0, ramp) == [2000, 4000, 6000, 8000]
    # held in reset until 4500 us: the rise up to 4000 us is lost, the next crossing is at 6000
    assert ramp_event_times(2500, ramp) == [2000, 6000]
    # the crossing time is interpolated within the step: 0 -> 0.5 crosses 0.25 half way
    assert ramp_event_times(0, [0.5]) == [500]


def test_a_static_scene_gives_no_events_and_motion_starts_at_the_saccade_onset():
    images = load_digits_dataset().x_train[:6].reshape(6, 8, 8)
    still = standin_events(images, np.arange(6), 0, StandIn(amplitude_px=0.0, jitter_px=0.0))
    assert all(len(ev) == 0 for ev in still)
    cfg = StandIn()
    moving = standin_events(images, np.arange(6), 0, cfg)
    assert all(len(ev) > 0 and ev["t"].min() > cfg.onset_us for ev in moving)
    assert all(ev["t"].max() < cfg.duration_us for ev in moving)


def test_polarity_follows_the_edges_of_a_moving_bar():
    bar = np.zeros((1, 8, 8))
    bar[0, :, 3:5] = 1.0
    cfg = StandIn(jitter_px=0.0)
    pixels = DVSPixels(np_render(bar, 0.0, cfg), 0, cfg.pixel)
    n, y, x, t, p = pixels.step(np_render(bar, 1.0, cfg), 1000)  # bar moves right by 1 px
    assert p.any() and (~p).any()
    assert x[p].min() > x[~p].max()  # ON at the leading (right) edge, OFF at the trailing one


def np_render(images, dx, cfg):
    from modspike.events import render

    return render(images, np.array([[dx, 0.0]]), cfg)


def test_the_stand_in_is_deterministic_for_a_seed_and_seeds_differ():
    images = load_digits_dataset().x_train[:4].reshape(4, 8, 8)
    a = standin_events(images, np.arange(4), 0)
    b = standin_events(images, np.arange(4), 0, batch=3)  # batching does not matter
    c = standin_events(images, np.arange(4), 1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not any(len(x) == len(y) and np.array_equal(x, y) for x, y in zip(a, c))
    for ev in a:
        assert np.all(np.diff(ev["t"]) >= 0)


def test_background_noise_adds_about_the_expected_number_of_events():
    images = load_digits_dataset().x_train[:3].reshape(3, 8, 8)
    cfg = StandIn(pixel=PixelModel(noise_hz=20.0))
    clean = standin_events(images, np.arange(3), 0)
    noisy = standin_events(images, np.arange(3), 0, cfg)
    expected = 20.0 * cfg.duration_us * 1e-6 * 24 * 24  # 3514 per sample
    extra = sum(len(b) - len(a) for a, b in zip(clean, noisy))
    assert abs(extra - 3 * expected) < 5 * np.sqrt(3 * expected)
    assert all((ev["t"] < cfg.onset_us).any() for ev in noisy)  # noise needs no motion


# --- the stand-in data set ------------------------------------------------------------------


def test_stand_in_splits_are_those_of_the_digits_loader():
    digits = load_digits_dataset(split_seed=3)
    splits = digits_split_indices(split_seed=3)
    from sklearn.datasets import load_digits

    flat = (load_digits().data / 16.0).astype(np.float32)
    for name in ("train", "val", "test"):
        idx, y = splits[name]
        x_ref, y_ref = digits.split(name)
        assert np.array_equal(y, y_ref) and np.array_equal(flat[idx], x_ref)
    counts = np.bincount(splits["train"][1], minlength=10)
    assert counts.min() >= 0.9 * counts.mean() and counts.max() <= 1.1 * counts.mean()


def test_stand_in_data_set_shapes_labels_and_events():
    ds = load_event_dataset("dvs-digits", split_seed=0, limit=30, progress=False)
    assert ds.x_train.shape == (30, 25, 2, 24, 24) and ds.x_train.dtype == np.uint8
    assert ds.x_test.shape == (30, 25, 2, 24, 24) and ds.input_shape == (2, 24, 24)
    assert ds.n_classes == 10 and ds.steps == 25
    y_test = dict(zip(*digits_split_indices(0)["test"]))
    assert all(y_test[i] == y for i, y in zip(limit_indices(ds), ds.y_test))
    per_sample = ds.x_test.reshape(30, -1).sum(axis=1)
    assert per_sample.min() >= 500  # every digit's saccades give events
    assert ds.stats["test"]["events"] == int(per_sample.sum())  # nothing dropped or clipped
    on, off = ds.x_test[:, :, 1].sum(), ds.x_test[:, :, 0].sum()
    assert 0.4 < on / (on + off) < 0.6  # the camera returns to its start: ON ~ OFF
    assert ds.encoding["source"]["seed"] == 0 and ds.encoding["source"]["pixel"]["c_on"] == 0.2
    with pytest.raises(DataError, match="GiB"):
        load_event_dataset("dvs-digits", max_bytes=10_000, progress=False)


def limit_indices(ds):
    """The digits indices of the stand-in's limited test split (same seeded choice)."""
    from modspike.events.datasets import _limit

    return _limit(digits_split_indices(0), 0, 30)["test"][0]


# --- DVS Gesture (AEDAT 3.1) ----------------------------------------------------------------

GESTURE = Sensor(128, 128, 2)


def aedat_packet(kind: int, body: bytes, size: int = 8, overflow: int = 0) -> bytes:
    """One packet as the AEDAT 3.1 documentation lays it out (28-byte little-endian header)."""
    n = len(body) // size
    return struct.pack("<hhiiiiii", kind, 1, size, 4, overflow, n, n, n) + body


def polarity_event(x: int, y: int, p: int, t: int, valid: int = 1) -> bytes:
    return struct.pack("<Ii", (x << 17) | (y << 2) | (p << 1) | valid, t)


AEDAT_HEADER = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"


def test_aedat3_polarity_packets_decode_as_documented():
    special = aedat_packet(0, struct.pack("<Ii", 7, 5))  # another event type: skipped
    data = AEDAT_HEADER + aedat_packet(
        1, polarity_event(127, 3, 1, 10) + polarity_event(5, 6, 0, 11, valid=0)
    )
    data += special + aedat_packet(1, polarity_event(0, 127, 0, 20), overflow=1)
    ev = decode_aedat3(data)
    assert ev["x"].tolist() == [127, 0] and ev["y"].tolist() == [3, 127]
    assert ev["p"].tolist() == [True, False] and ev["t"].tolist() == [10, 2**31 + 20]


def test_aedat3_round_trip_and_agreement_with_tonic(tmp_path):
    # tonic 1.7.0's read_dvs_ibm itself fails (it unpacks 2 of the header reader's 3 values), so
    # compare with the two functions it calls and its address layout
    from tonic.io import get_aer_events_from_file, read_aedat_header_from_file

    ev = random_events(np.random.default_rng(9), 5000, GESTURE, 6_000_000)
    path = tmp_path / "user01_led.aedat"
    path.write_bytes(encode_aedat3(ev, packet=1000))
    ours = read_aedat3_file(path)
    assert np.array_equal(ours, ev)
    version, start, _ = read_aedat_header_from_file(str(path))
    raw = get_aer_events_from_file(str(path), version, start)
    addr = raw["address"].astype(np.int64)
    assert np.array_equal(ours["x"], (addr >> 17) & 0x1FFF)
    assert np.array_equal(ours["y"], (addr >> 2) & 0x1FFF)
    assert np.array_equal(ours["p"], (addr >> 1) & 1)
    assert np.array_equal(ours["t"], raw["timeStamp"])


@pytest.mark.parametrize(
    "data, message",
    [
        (b"#!AER-DAT2.0\r\n", "not an AEDAT 3 file"),
        (AEDAT_HEADER + aedat_packet(1, polarity_event(1, 1, 1, 1))[:20], "truncated packet"),
        (AEDAT_HEADER + aedat_packet(1, polarity_event(1, 1, 1, 1))[:-4], "beyond the end"),
        (AEDAT_HEADER + aedat_packet(1, polarity_event(128, 1, 1, 1)), "outside the 128x128"),
        (AEDAT_HEADER + aedat_packet(1, polarity_event(1, 1, 1, -5)), "negative timestamps"),
        (AEDAT_HEADER + aedat_packet(1, b"\x01" * 12, size=12), "polarity events of 12 bytes"),
        (
            AEDAT_HEADER + aedat_packet(1, polarity_event(1, 1, 1, 9) + polarity_event(1, 1, 1, 8)),
            "non-decreasing",
        ),
    ],
)
def test_malformed_aedat3_data_is_refused(data, message):
    with pytest.raises(DataError, match=message):
        decode_aedat3(data)


@pytest.mark.parametrize(
    "text, message",
    [
        ("class,startTime_usec,endTime_usec\n1,10,5\n", "start < end"),
        ("class,startTime_usec,endTime_usec\n12,10,50\n", "class must be 1..11"),
        ("class,startTime_usec,endTime_usec\n1;10;50\n", "expected 'class,"),
    ],
)
def test_malformed_gesture_labels_are_refused(tmp_path, text, message):
    (tmp_path / "labels.csv").write_text(text)
    with pytest.raises(DataError, match=message):
        read_gesture_labels(tmp_path / "labels.csv")


def test_dvs_gesture_recordings_load_as_labelled_binned_samples(tmp_path):
    rng = np.random.default_rng(10)
    recordings = {}
    for name, split in (("user01_led", "train"), ("user02_led", "train"), ("user03_led", "test")):
        ev = random_events(rng, 20_000, GESTURE, 10_000_000)
        (tmp_path / f"{name}.aedat").write_bytes(encode_aedat3(ev))
        rows = [(3, 1_000_000, 2_000_000), (11, 4_000_000, 6_500_000), (1, 7_000_000, 9_000_000)]
        text = "class,startTime_usec,endTime_usec\n" + "".join(f"{c},{a},{b}\n" for c, a, b in rows)
        (tmp_path / f"{name}_labels.csv").write_text(text)
        recordings[name] = (ev, rows, split)
    (tmp_path / "trials_to_train.txt").write_text("user01_led.aedat\nuser02_led.aedat\n")
    (tmp_path / "trials_to_test.txt").write_text("user03_led.aedat\n")
    ds = load_event_dataset(
        "dvs-gesture", tmp_path, bins=6, downsample=4, val_fraction=1 / 6, progress=False
    )
    assert ds.x_train.shape == (5, 6, 2, 32, 32) and ds.x_val.shape == (1, 6, 2, 32, 32)
    assert ds.y_test.tolist() == [2, 10, 0] and ds.n_classes == 11
    ev, rows, _ = recordings["user03_led"]
    expected = [int(((ev["t"] >= a) & (ev["t"] < min(b, a + 1_500_000))).sum()) for _, a, b in rows]
    assert ds.x_test.reshape(3, -1).sum(axis=1).tolist() == expected
    samples, labels = gesture_samples(
        tmp_path / "user03_led.aedat", tmp_path / "user03_led_labels.csv"
    )
    assert labels.tolist() == [2, 10, 0] and samples[1]["t"].min() >= 0
    (tmp_path / "user02_led_labels.csv").unlink()
    with pytest.raises(DataError, match="lists user02_led.aedat"):
        load_event_dataset("dvs-gesture", tmp_path, progress=False)
