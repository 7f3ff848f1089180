"""Refuse HDF5 files that are not self-contained before any NIR reader touches their data.

HDF5 can make a file's data come from elsewhere: **external links** (a link to an object in
another file), **external storage** (a dataset whose raw bytes live in other files), **virtual
datasets** (a dataset mapped from other files), and **soft links** (a path that can lead into
those). Read naively, such a ``.nir`` copies bytes from an arbitrary file into an artifact, or
lets an outside file change a checksummed artifact's predictions. NIR files never need any of
them (``nir.write`` writes plain groups and datasets), so :func:`check_self_contained` refuses
them all, together with committed datatypes, reference types, unknown filters and sizes that
would exhaust memory, with a :class:`~modspike.errors.NIRError` that names the object.

:func:`load_checked` reads the file once into memory and checks that copy, so the bytes that
were checked are the bytes that are parsed (no swap between check and read).
"""

from __future__ import annotations

import io
from pathlib import Path

from .errors import NIRError

MAX_FILE_BYTES = 1 << 30  # a NIR file of 1 GiB is far beyond any network modspike runs
MAX_DATASET_BYTES = 1 << 29  # one dataset, uncompressed
MAX_TOTAL_BYTES = 1 << 30  # all datasets, uncompressed
MAX_OBJECTS = 100_000
MAX_DEPTH = 32
ALLOWED_FILTERS = {1: "deflate", 2: "shuffle", 3: "fletcher32", 4: "szip", 6: "scaleoffset",
                   32000: "lzf"}  # fmt: skip


def load_checked(path: str | Path) -> io.BytesIO:
    """The file's bytes in memory, checked by :func:`check_self_contained`; typed errors."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise NIRError(f"{path}: {size} bytes; NIR files over {MAX_FILE_BYTES} are refused")
        data = path.read_bytes()
    except OSError as exc:
        raise NIRError(f"{path}: cannot read ({exc.strerror or exc})") from None
    buffer = io.BytesIO(data)
    check_self_contained(buffer, str(path))
    buffer.seek(0)
    return buffer


def check_self_contained(source, where: str) -> None:
    """Walk every link and object of an HDF5 file (path or file object) without following a
    link; raise :class:`NIRError` for anything that reads outside the file."""
    import h5py

    try:
        f = h5py.File(source, "r")
    except Exception as exc:  # h5py raises OSError, ValueError, ... on a non-HDF5 file
        raise NIRError(f"{where}: not a readable NIR (HDF5) file ({_short(exc)})") from None
    with f:
        try:
            _walk(f, where)
        except NIRError:
            raise
        except Exception as exc:  # a corrupted object table
            raise NIRError(f"{where}: not a readable NIR (HDF5) file ({_short(exc)})") from None


def _walk(f, where: str) -> None:
    import h5py

    seen: set[int] = set()
    total = 0
    count = 0
    stack = [(f, "/", 0)]
    while stack:
        group, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise NIRError(f"{where}: groups nested deeper than {MAX_DEPTH} levels at {path}")
        for name in group.keys():
            count += 1
            if count > MAX_OBJECTS:
                raise NIRError(f"{where}: more than {MAX_OBJECTS} objects")
            full = f"{path.rstrip('/')}/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise NIRError(
                    f"{where}: {full} is an external link to {link.filename!r}; modspike reads"
                    " only self-contained NIR files"
                )
            if isinstance(link, h5py.SoftLink):
                raise NIRError(
                    f"{where}: {full} is a soft link to {link.path!r}; modspike reads only"
                    " self-contained NIR files (nir.write writes no links)"
                )
            if not isinstance(link, h5py.HardLink):
                raise NIRError(f"{where}: {full} is a link of unknown kind")
            obj = group[name]
            key = hash(obj.id)
            if key in seen:
                raise NIRError(f"{where}: {full} is a second link to an object (cycle or alias)")
            seen.add(key)
            if isinstance(obj, h5py.Group):
                stack.append((obj, full, depth + 1))
            elif isinstance(obj, h5py.Dataset):
                total += _check_dataset(obj, full, where)
                if total > MAX_TOTAL_BYTES:
                    raise NIRError(f"{where}: more than {MAX_TOTAL_BYTES} bytes of data")
            else:
                raise NIRError(
                    f"{where}: {full} is a {type(obj).__name__}, which NIR files do not hold"
                )


def _check_dataset(ds, full: str, where: str) -> int:
    """Refuse external storage, virtual layouts, unknown filters, references; return the size."""
    import h5py

    plist = ds.id.get_create_plist()
    if plist.get_external_count() > 0:
        raise NIRError(
            f"{where}: dataset {full} keeps its data in an external file; modspike reads only"
            " self-contained NIR files"
        )
    if ds.is_virtual or plist.get_layout() == h5py.h5d.VIRTUAL:
        raise NIRError(
            f"{where}: dataset {full} is a virtual dataset (data mapped from other files);"
            " modspike reads only self-contained NIR files"
        )
    for i in range(plist.get_nfilters()):
        code = plist.get_filter(i)[0]
        if code not in ALLOWED_FILTERS:
            raise NIRError(f"{where}: dataset {full} uses HDF5 filter {code}, which is refused")
    dtype = ds.dtype
    if h5py.check_ref_dtype(dtype) is not None or dtype.kind == "V":
        raise NIRError(f"{where}: dataset {full} has type {dtype}, which NIR files do not hold")
    vlen = h5py.check_vlen_dtype(dtype)
    if vlen is not None and vlen not in (str, bytes):
        raise NIRError(f"{where}: dataset {full} holds variable-length {vlen} values")
    if ds.shape is None:  # an empty (null) dataspace
        return 0
    nbytes = int(ds.size) * max(int(dtype.itemsize), 1)
    if vlen is not None:
        nbytes = int(ds.size) * 1024  # a bound on what one string may reasonably hold
        if ds.size > 4096:
            raise NIRError(f"{where}: dataset {full} holds {ds.size} strings")
    if nbytes > MAX_DATASET_BYTES:
        raise NIRError(
            f"{where}: dataset {full} holds {nbytes} bytes uncompressed; at most"
            f" {MAX_DATASET_BYTES} per dataset are accepted"
        )
    return nbytes


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
