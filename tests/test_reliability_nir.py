"""Reliability, NIR family: files that are not self-contained (issue 14, defect 1) and malformed
SRC / LIF metadata (defect 5), through the public entry points ``import_nir``, ``open_artifact``
and ``modspike import-nir``. Every case: a typed one-line error, exit 2, no output left."""

from __future__ import annotations

import json
import re

import h5py
import nir
import numpy as np
import pytest
from conftest import export_active_model, export_graph

from modspike.artifact import write_artifact
from modspike.cli import main
from modspike.errors import ArtifactError, ModspikeError, NIRError
from modspike.export.artifact_build import open_artifact
from modspike.export.nir.read import import_nir
from modspike.fixedpoint import WeightFormat

LIF_SYNAPSE = "node/nodes/layer0.synapse"
CELL = "node/nodes/layer0.cell/metadata/modspike"


def _nir(tmp_path, cell: str, name: str = "m.nir", hidden: int = 6):
    model = export_active_model(cell, layers=1, recurrent=cell != "lif", hidden=hidden)
    path = tmp_path / name
    nir.write(path, export_graph(model, WeightFormat())[0])
    return path


def _replace(path, key: str, value=None, **create) -> None:
    with h5py.File(path, "a") as f:
        del f[key]
        if create:
            f.create_dataset(key, **create)
        else:
            f[key] = value


def _one_line_exit_2(argv, capsys, needle: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"modspike {argv[0]}: error:"), err
    assert needle in err[0], err
    return err[0]


# --------------------------------------------------------------------------- defect 1: links


def _external_storage(path, tmp_path) -> None:
    """The weight's bytes live in an outside file (HDF5 external storage)."""
    with h5py.File(path, "a") as f:
        w = f[f"{LIF_SYNAPSE}/weight"][()]
    raw = tmp_path / "outside.bin"
    raw.write_bytes(w.tobytes())
    _replace(
        path,
        f"{LIF_SYNAPSE}/weight",
        shape=w.shape,
        dtype=w.dtype,
        external=[(str(raw), 0, h5py.h5f.UNLIMITED)],
    )


def _external_link(path, tmp_path) -> None:
    other = _nir(tmp_path, "lif", "outside.nir")
    with h5py.File(path, "a") as f:
        del f[LIF_SYNAPSE]
        f[LIF_SYNAPSE] = h5py.ExternalLink(str(other), f"/{LIF_SYNAPSE}")


def _soft_link(path, tmp_path) -> None:
    with h5py.File(path, "a") as f:
        f["node/nodes/alias"] = h5py.SoftLink(f"/{LIF_SYNAPSE}")


def _virtual(path, tmp_path) -> None:
    with h5py.File(path, "a") as f:
        w = f[f"{LIF_SYNAPSE}/weight"][()]
    other = tmp_path / "outside.h5"
    with h5py.File(other, "w") as g:
        g["w"] = w
    layout = h5py.VirtualLayout(shape=w.shape, dtype=w.dtype)
    layout[...] = h5py.VirtualSource(str(other), "w", shape=w.shape)
    with h5py.File(path, "a") as f:
        del f[f"{LIF_SYNAPSE}/weight"]
        f.create_virtual_dataset(f"{LIF_SYNAPSE}/weight", layout)


def _hard_alias(path, tmp_path) -> None:
    with h5py.File(path, "a") as f:
        f["node/nodes/layer0.synapse/loop"] = f["node"]  # a group inside itself: a cycle


NOT_SELF_CONTAINED = {
    "external_storage": (_external_storage, "external file"),
    "external_link": (_external_link, "external link"),
    "soft_link": (_soft_link, "soft link"),
    "virtual_dataset": (_virtual, "virtual dataset"),
    "hard_link_cycle": (_hard_alias, "second link"),
}


@pytest.mark.parametrize("case", sorted(NOT_SELF_CONTAINED))
def test_files_that_read_outside_themselves_are_refused(case, tmp_path, capsys):
    path = _nir(tmp_path, "lif")
    make, needle = NOT_SELF_CONTAINED[case]
    make(path, tmp_path)
    with pytest.raises(NIRError, match=needle):
        import_nir(path)
    out = tmp_path / "artifact"
    _one_line_exit_2(["import-nir", str(path), "--out", str(out)], capsys, needle)
    assert not out.exists()


def test_external_storage_would_otherwise_copy_outside_bytes(tmp_path):
    """The exploit the guard closes: h5py follows external storage silently."""
    path = _nir(tmp_path, "lif")
    _external_storage(path, tmp_path)
    (tmp_path / "outside.bin").write_bytes(np.full(6 * 64, 7.0, np.float32).tobytes())
    with h5py.File(path, "r") as f:  # plain h5py reads the outside file's bytes
        assert np.all(f[f"{LIF_SYNAPSE}/weight"][()] == 7.0)
    with pytest.raises(NIRError, match="external file"):
        import_nir(path)


def test_artifact_whose_model_links_outside_is_refused_despite_checksums(tmp_path, capsys):
    """model.nir holds only a link: its checksum never changes while the outside file does."""
    path = _nir(tmp_path, "lif")
    _external_link(path, tmp_path)
    root = tmp_path / "artifact"
    write_artifact(root, {"model.nir": lambda p: p.write_bytes(path.read_bytes())}, {"cell": "lif"})
    with pytest.raises(ArtifactError, match="external link"):
        open_artifact(root)
    _one_line_exit_2(["inspect", str(root)], capsys, "external link")


# --------------------------------------------------------------------------- defect 5: values

SRC_TABLE = f"{CELL}/fixed_point/tables/gate/values"
BAD_VALUES = {  # dataset -> generated bad contents
    "table_complex": (SRC_TABLE, lambda v: v.astype(np.complex128) + 1j, "real numbers"),
    "table_bytes": (SRC_TABLE, lambda v: np.array([b"12"] * v.size), "real numbers"),
    "table_nan": (SRC_TABLE, lambda v: np.where(np.arange(v.size) == 3, np.nan, v), "NaN"),
    "table_huge": (SRC_TABLE, lambda v: np.zeros((1 << 20) + 1, np.int64), "at most"),
    "table_not_2k_plus_1": (SRC_TABLE, lambda v: v[:-1], "2**k + 1"),
    "table_fraction": (SRC_TABLE, lambda v: v + 0.5, "whole numbers"),
    "table_shift": (
        f"{CELL}/fixed_point/tables/gate/step_shift",
        lambda v: np.int64(99),
        "[0, 47]",
    ),
    "fixed_alpha_complex": (f"{CELL}/fixed_point/alpha", lambda v: v + 1j, "real numbers"),
    "fixed_alpha_size": (f"{CELL}/fixed_point/alpha", lambda v: np.zeros(4, np.int64), "values"),
    "frac_bits": (f"{CELL}/fixed_point/frac_bits", lambda v: np.int64(99), "frac_bits"),
    "constant_nan": (f"{CELL}/constants/alpha", lambda v: np.float64(np.nan), "NaN"),
    "constant_complex": (f"{CELL}/constants/r", lambda v: np.complex128(2 + 1j), "real numbers"),
    "constant_bytes": (f"{CELL}/constants/rs", lambda v: np.array(b"12"), "must be a number"),
    "param_inf": (f"{CELL}/params/b", lambda v: np.full(v.shape, np.inf), "NaN or Inf"),
    "param_complex": (f"{CELL}/params/hs0", lambda v: v + 1j, "real numbers"),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_malformed_src_metadata_is_refused(case, tmp_path, capsys):
    path = _nir(tmp_path, "msrc")
    key, make, needle = BAD_VALUES[case]
    with h5py.File(path, "r") as f:
        value = f[key][()]
    _replace(path, key, make(value))
    with pytest.raises(NIRError, match=re.escape(needle)):
        import_nir(path)
    out = tmp_path / "artifact"
    _one_line_exit_2(["import-nir", str(path), "--out", str(out)], capsys, needle)
    assert not out.exists()


@pytest.mark.parametrize("field", ["du", "vth", "state_exp"])
@pytest.mark.parametrize("bad", ["complex", "bytes", "nan"])
def test_malformed_lif_fixed_point_is_refused(field, bad, tmp_path):
    path = _nir(tmp_path, "lif")
    key = f"node/nodes/layer0.cell/metadata/modspike/fixed_point/{field}"
    with h5py.File(path, "r") as f:
        value = np.asarray(f[key][()])
    new = {
        "complex": value.astype(np.complex128) + 1j,
        "bytes": np.array([b"1"] * max(value.size, 1)),
        "nan": np.full(value.shape, np.nan),
    }[bad]
    _replace(path, key, new)
    with pytest.raises(NIRError):
        import_nir(path)


def test_generated_metadata_mutations_never_escape_untyped(tmp_path):
    """A fuzz over every numeric dataset of an SRC-family file: each is replaced by one of a set
    of hostile values; the import either succeeds or raises NIRError, nothing else."""
    path = _nir(tmp_path, "msrc")
    keys = []
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda k, o: (
                keys.append(k) if isinstance(o, h5py.Dataset) and o.dtype.kind in "biuf" else None
            )
        )
    hostile = [
        np.float64(np.nan),
        np.array([np.inf, -np.inf]),
        np.complex64(1 + 2j),
        np.array(b"\xff\xfe"),
        np.zeros((3, 3, 3)),
        np.int64(-(1 << 62)),
        np.array([], np.float64),
        np.array([True, False]),
    ]
    rng = np.random.default_rng(14)
    cases = [(k, int(rng.integers(len(hostile)))) for k in keys]
    assert len(cases) > 40
    outcomes = {"accepted": 0, "refused": 0}
    original = path.read_bytes()
    for key, which in cases:
        path.write_bytes(original)
        _replace(path, key, hostile[which])
        try:
            import_nir(path)
            outcomes["accepted"] += 1
        except ModspikeError as exc:  # NIRError, or QuantizationError from the grid checks
            assert "\n" not in str(exc)
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0.8 * len(cases), outcomes


def test_info_json_nested_too_deep_is_refused(tmp_path, capsys):
    path = _nir(tmp_path, "lif")
    _replace(path, "node/metadata/modspike/info_json", "[" * 5000 + "]" * 5000)
    with pytest.raises(NIRError):
        import_nir(path)
    _one_line_exit_2(["import-nir", str(path), "--out", str(tmp_path / "a")], capsys, "")


def test_an_honest_file_still_imports(tmp_path):
    """The guard and the checks refuse nothing that nir.write produces."""
    for cell in ("lif", "cubalif", "src", "msrc", "bsrc"):
        spec = import_nir(_nir(tmp_path, cell, f"{cell}.nir"))
        assert spec.quantized and spec.kinds == [cell]
    assert json.loads(json.dumps(dict(spec.provenance.info))) is not None
