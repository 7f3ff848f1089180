"""The deployable artifact: a folder with ``manifest.json`` and the files it lists by sha256.

Layout (schema ``modspike-artifact/1``)::

    ARTIFACT/manifest.json   schema, versions, cell, encoding, T, dt, data set, accuracy, files
    ARTIFACT/model.nir       the (quantised) network, NIR with modspike metadata
    ARTIFACT/baseline.onnx   optional: the ANN baseline

Writes are atomic (a temporary sibling folder renamed into place); the loader checks the schema
(refusing a newer one), every listed file's size and sha256, and raises only
:class:`~modspike.errors.ArtifactError`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import ArtifactError
from .outputs import atomic_directory
from .rundir import write_json
from .validate import check_manifest, load_json_text

ARTIFACT_SCHEMA = "modspike-artifact/1"
MANIFEST_FILE = "manifest.json"
MODEL_FILE = "model.nir"
BASELINE_FILE = "baseline.onnx"
_SCHEMA_NAME, _SCHEMA_VERSION = ARTIFACT_SCHEMA.split("/")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_MANIFEST_BYTES = 4 << 20


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_artifact(
    out: str | Path, writers: dict[str, Callable[[Path], None]], manifest: dict
) -> Path:
    """Create ``out`` atomically: each writer fills its file, then the manifest lists them all.

    A writer that raises leaves nothing behind (not even a partial folder).
    """
    for name in writers:
        if not _SAFE_NAME.fullmatch(name) or name == MANIFEST_FILE:
            raise ArtifactError(f"invalid artifact file name {name!r}")
    with atomic_directory(out) as tmp:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; an artifact is meant to be shared
        files = {}
        for name, write in writers.items():
            write(tmp / name)
            path = tmp / name
            files[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        write_json(tmp / MANIFEST_FILE, {**manifest, "schema": ARTIFACT_SCHEMA, "files": files})
    return Path(out)


@dataclass(frozen=True)
class Artifact:
    path: Path
    manifest: dict

    def file(self, name: str) -> Path:
        """Path of a listed (and verified) file."""
        if name not in self.manifest["files"]:
            raise ArtifactError(f"{self.path}: the artifact has no {name}")
        return self.path / name


def _check_schema(value, where: Path) -> None:
    if not isinstance(value, str):
        raise ArtifactError(f"{where}: no schema string (not a modspike artifact manifest)")
    match = re.fullmatch(rf"{_SCHEMA_NAME}/(\d{{1,6}})", value)
    if not match:
        raise ArtifactError(f"{where}: schema {value[:80]!r} is not {ARTIFACT_SCHEMA!r}")
    if int(match.group(1)) > int(_SCHEMA_VERSION):
        raise ArtifactError(
            f"{where}: written with schema {value!r}, newer than this modspike reads"
            f" ({ARTIFACT_SCHEMA!r}); upgrade modspike"
        )


def load_manifest(artifact_dir: str | Path) -> Artifact:
    """Read and verify an artifact folder (schema, listed files, sizes, sha256)."""
    root = Path(artifact_dir)
    if not root.is_dir():
        raise ArtifactError(f"{root}: no such artifact directory")
    path = root / MANIFEST_FILE
    if not path.is_file():
        raise ArtifactError(f"{root}: not a modspike artifact (no {MANIFEST_FILE})")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ArtifactError(f"{path}: implausibly large manifest")
    manifest = load_json_text(path.read_bytes(), str(path), ArtifactError)
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{path}: the manifest must be a JSON object")
    _check_schema(manifest.get("schema"), path)
    check_manifest(manifest, str(path))
    if isinstance(manifest.get("data"), str):  # older manifests named the data set only
        manifest["data"] = {"name": manifest["data"]}
    files = manifest.get("files")
    if not isinstance(files, dict) or MODEL_FILE not in files:
        raise ArtifactError(f"{path}: 'files' must list {MODEL_FILE} with its sha256")
    for name, entry in files.items():
        if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name) or name == MANIFEST_FILE:
            raise ArtifactError(f"{path}: invalid file name {str(name)[:80]!r} in 'files'")
        if not isinstance(entry, dict):
            raise ArtifactError(f"{path}: entry for {name} must be an object")
        digest, size = entry.get("sha256"), entry.get("bytes")
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise ArtifactError(f"{path}: {name} has no valid sha256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ArtifactError(f"{path}: {name} has no valid byte count")
        file = root / name
        if file.is_symlink():
            raise ArtifactError(f"{file}: a symbolic link; an artifact holds its own files")
        if not file.is_file():
            raise ArtifactError(f"{root}: {name} is listed in the manifest but missing")
        if file.stat().st_size != size:
            raise ArtifactError(
                f"{file}: {file.stat().st_size} bytes, the manifest says {size} (truncated or"
                " replaced)"
            )
        if sha256_file(file) != digest:
            raise ArtifactError(f"{file}: checksum mismatch (the file was modified or corrupted)")
    return Artifact(root, manifest)
