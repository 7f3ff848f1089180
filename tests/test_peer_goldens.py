"""Golden NIR files written by other libraries (tests/data/peers, benchmarks/peers/).

Each file was exported by its producer's own NIR exporter; the npz beside it holds the
producer's own spikes on a fixed input. These tests need only numpy and nir: they check that
every file reads, that the npz holds what docs/nir-producers.md says, and that the numpy
reference of each producer's semantics (tests/peer_reference.py) reproduces the producer's
spikes, layer by layer, from the .nir file alone.
"""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import peer_reference as ref
import pytest

DATA = Path(__file__).parent / "data" / "peers"
GOLDENS = sorted(p for p in DATA.glob("*/*.nir") if not p.name.endswith(".as_exported.nir"))
IDS = [f"{p.parent.name}/{p.stem}" for p in GOLDENS]
META_KEYS = {
    "producer",
    "producer_version",
    "nir_version",
    "nirtorch_version",
    "torch_version",
    "jax_version",
    "python",
    "dt",
    "reset",
    "multispike",
    "fixes",
    "net",
}


def load(path: Path) -> tuple[nir.NIRGraph, dict[str, np.ndarray], dict[str, str]]:
    graph = nir.read(str(path))
    with np.load(path.with_suffix(".npz"), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = {k[5:]: str(v) for k, v in arrays.items() if k.startswith("meta.")}
    return graph, arrays, meta


def test_every_producer_has_goldens() -> None:
    producers = {p.parent.name for p in GOLDENS}
    assert producers == {"snntorch", "norse", "sinabs", "rockpool", "spyx", "spikingjelly"}
    assert len(GOLDENS) >= 17
    total = sum(f.stat().st_size for f in DATA.rglob("*") if f.is_file())
    assert total < 3 * 2**20


@pytest.mark.parametrize("path", GOLDENS, ids=IDS)
def test_npz_holds_what_the_docs_say(path: Path) -> None:
    graph, arrays, meta = load(path)
    assert set(meta) == META_KEYS
    assert meta["producer"] == path.parent.name and meta["net"] == path.stem
    assert meta["reset"] in ("zero", "subtract") and float(meta["dt"]) > 0
    x, y = arrays["input"], arrays["output"]
    assert x.dtype == np.float32 and set(np.unique(x)) <= {0.0, 1.0}
    assert x.shape[0] == y.shape[0] == 30
    spikes = {k[7:]: v for k, v in arrays.items() if k.startswith("spikes.")}
    assert len(spikes) >= 2
    nodes, _ = ref.flatten_graph(graph)
    for name, s in spikes.items():
        node = nodes[ref.node_key(graph, name)]
        assert isinstance(node, ref.NEURONS), name
        assert s.shape[0] == x.shape[0] and s.min() >= 0
        assert np.all(s == np.round(s)), f"{name}: spike counts must be integers"
        assert s.sum() > 0, f"{name} never fires: the golden would test nothing"
    # the last neuron layer is the output, and some layer is silent somewhere (not saturated)
    assert any(np.array_equal(y, s) for s in spikes.values())
    assert all((s == 0).any() for s in spikes.values())
    for k, v in arrays.items():
        if k.startswith("v."):
            assert v.shape == spikes[k[2:]].shape


@pytest.mark.parametrize("path", GOLDENS, ids=IDS)
def test_reference_reproduces_the_producer(path: Path) -> None:
    graph, arrays, meta = load(path)
    sem = ref.semantics(meta["producer"], reset=meta["reset"], dt=float(meta["dt"]))
    assert sem.multispike == (meta["multispike"] == "True")
    y, rec = ref.run_graph(graph, sem, arrays["input"].astype(np.float64))
    np.testing.assert_array_equal(y, arrays["output"])
    for k, s in arrays.items():
        if k.startswith("spikes."):
            np.testing.assert_array_equal(rec[ref.node_key(graph, k[7:])], s, err_msg=k)


@pytest.mark.parametrize(
    "producer, net, wrong",
    [
        # snntorch's default reset is subtract, but the file says v_reset = 0 and nothing else
        ("snntorch", "dense_lif", {"reset": "zero"}),
        ("snntorch", "cuba_lif", {"reset": "zero"}),
        # snntorch writes tau from beta assuming dt = 1e-4; norse's tau is dt·tau at dt = 1e-3
        ("snntorch", "dense_lif", {"dt": 1e-3}),
        ("norse", "cuba_lif", {"dt": 1e-4}),
        ("rockpool", "cuba_lif", {"dt": 1e-4}),
    ],
)
def test_semantics_matter(producer: str, net: str, wrong: dict) -> None:
    """The goldens can tell the semantics apart: a wrong dt or reset changes the spikes."""
    graph, arrays, meta = load(DATA / producer / f"{net}.nir")
    sem = ref.semantics(producer, **wrong)
    y, _ = ref.run_graph(graph, sem, arrays["input"].astype(np.float64))
    assert not np.array_equal(y, arrays["output"])


def test_rockpool_as_exported_is_refused_and_fixed_by_dropping_batch() -> None:
    """Rockpool keeps batch (and time) dimensions in Input/Output types: nir.read refuses it."""
    raw = DATA / "rockpool" / "cuba_lif.as_exported.nir"
    with pytest.raises(ValueError, match="type mismatch"):
        nir.read(str(raw))
    fixed = nir.read(str(DATA / "rockpool" / "cuba_lif.nir"))
    np.testing.assert_array_equal(fixed.nodes["input"].input_type["input"], [12])
    np.testing.assert_array_equal(fixed.nodes["output"].output_type["output"], [5])


def test_conv_reference_matches_a_direct_correlation() -> None:
    """The reference's conv2d/pooling against a plain loop (stride 2, padding, dilation)."""
    rng = np.random.default_rng(3)
    x, w, b = rng.normal(size=(2, 7, 6)), rng.normal(size=(4, 2, 3, 2)), rng.normal(size=4)
    y = ref.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=1)
    xp = np.pad(x, ((0, 0), (1, 1), (2, 2)))
    ho, wo = (7 + 2 - 2 - 1) // 2 + 1, (6 + 4 - 2 - 1) // 1 + 1
    want = np.zeros((4, ho, wo))
    for o in range(4):
        for i in range(ho):
            for j in range(wo):
                patch = xp[:, 2 * i : 2 * i + 3, j : j + 3 : 2]
                want[o, i, j] = np.sum(patch * w[o]) + b[o]
    np.testing.assert_allclose(y, want, rtol=1e-12)
    p = ref.pool2d(x[:, :6, :6], 2, 2, 0, average=True)
    np.testing.assert_allclose(p, x[:, :6, :6].reshape(2, 3, 2, 3, 2).mean(axis=(2, 4)))
