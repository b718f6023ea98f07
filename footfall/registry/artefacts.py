"""What models and datasets share as versioned artefacts: one reference grammar, one file record, and
one path that fetches the files of a version, verifies every checksum and only then places them.

A version's files are named by relative paths taken from its metadata, which anyone who can write to
the bucket can edit: a name is used as a path only after :func:`checked_relpath` accepted it, and the
files land in a temporary folder inside the destination that is renamed into place only when every
one of them matched its checksum.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from footfall.common.files import FileEntry, sha256_file
from footfall.registry.storage import RegistryError, Storage

# a model version's network for each precision a device can run: the retrain cycle publishes them,
# ``registry fetch --needs`` checks for one, the Ansible roles point the device at one
MODEL_FILES: dict[str, str] = {"fp32": "model.onnx", "int8": "model-int8.onnx"}


class IntegrityError(RegistryError):
    """An artefact whose bytes or name do not match what was recorded at publish time."""


@dataclass(frozen=True)
class Ref:
    """``NAME`` (the newest version), ``NAME@ALIAS`` or ``NAME:VERSION`` (``NAME:vVERSION``)."""

    name: str
    alias: str | None = None
    version: int | None = None

    @classmethod
    def parse(cls, text: str) -> Ref:
        m = re.fullmatch(r"([^@:]+)(?:@([^@:]+)|:v?(\d+))?", text)
        if not m:
            raise RegistryError(f"{text!r}: expected NAME, NAME@ALIAS or NAME:VERSION")
        return cls(m.group(1), m.group(2), int(m.group(3)) if m.group(3) else None)

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        return f"{self.name}@{self.alias}" if self.alias else self.name


def file_entry(doc: Mapping[str, Any]) -> FileEntry:
    """A recorded file entry, its checksum checked to be a SHA-256."""
    sha = str(doc["sha256"])
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise IntegrityError(f"recorded checksum {sha!r} is not a SHA-256")
    return FileEntry(sha, int(doc.get("size", 0)))


def files_from_dict(doc: Mapping[str, Any], *, nested: bool) -> dict[str, FileEntry]:
    """The ``files`` record of a version, every name checked (see :func:`checked_relpath`)."""
    return {checked_relpath(rel, nested=nested): file_entry(info) for rel, info in doc.items()}


def checked_relpath(rel: str, *, nested: bool) -> str:
    """``rel`` if it is a safe relative file name (a relative tree of plain names when ``nested``)."""
    parts = rel.split("/")
    bad = (
        not rel
        or "\\" in rel
        or "\0" in rel
        or rel.startswith("/")
        or PurePosixPath(rel).is_absolute()
        or any(p in ("", ".", "..") for p in parts)
        or (not nested and len(parts) > 1)
    )
    if bad:
        kind = "a relative path of plain names" if nested else "a plain file name"
        raise IntegrityError(f"artefact name {rel!r} is not {kind}; refusing the version")
    return rel


def folder_matches(folder: Path, files: Mapping[str, FileEntry]) -> bool:
    """Every file present in ``folder`` with its checksum."""
    return all((folder / rel).is_file() and sha256_file(folder / rel) == f.sha256 for rel, f in files.items())


def place_verified(
    storage: Storage,
    key_of: Callable[[str], str],
    files: Mapping[str, FileEntry],
    final: Path,
    *,
    what: str,
    extra: Mapping[str, bytes] | None = None,
    before_replace: Callable[[Path], None] | None = None,
) -> Path:
    """Download ``files`` (stored at ``key_of(rel)``) into a temporary folder beside ``final``, verify each
    checksum, write ``extra`` files, sync, then rename the folder to ``final`` (replacing an older copy).

    On any mismatch or error the temporary folder is removed and nothing at ``final`` changes. When an
    older copy is replaced, ``before_replace(verified)`` runs first with the verified new folder (a
    caller whose readers look at ``final`` points them elsewhere for the two renames).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale(final.parent)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}-"))
    try:
        for rel, entry in files.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as fh:
                storage.download(key_of(rel), fh)
                fh.flush()
                os.fsync(fh.fileno())
            actual = sha256_file(target)
            if actual != entry.sha256:
                raise IntegrityError(
                    f"{what} artefact {rel}: sha256 {actual} does not match the published {entry.sha256}; "
                    f"refusing it (nothing at {final.parent} was changed)"
                )
        for name, data in (extra or {}).items():
            (tmp / name).write_bytes(data)
        # mkdtemp made it 0700: the service reading it runs as another user than the one fetching (Ansible)
        os.chmod(tmp, 0o755)
        if final.exists():  # a partial or tampered earlier copy of the same version
            if before_replace is not None:
                before_replace(tmp)
            aside = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}-old-"))
            os.replace(final, aside / final.name)
            shutil.rmtree(aside, ignore_errors=True)
        os.replace(tmp, final)
        _fsync_dir(final.parent)  # the rename itself survives a power cut
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


STALE_S = 3600.0  # a temporary folder this old belongs to a fetch that was killed


def _sweep_stale(folder: Path) -> None:
    """Remove temporary folders left by killed fetches (``.NAME-…``, older than ``STALE_S``); a
    younger one may belong to a fetch still running."""
    now = time.time()
    live = os.readlink(folder / "current") if (folder / "current").is_symlink() else None
    for entry in folder.glob(".*-*"):
        if entry.name == live:
            continue  # what ``current`` points at (a bridge a failed fetch left) is never stale
        if entry.is_dir() and not entry.is_symlink() and now - entry.stat().st_mtime > STALE_S:
            shutil.rmtree(entry, ignore_errors=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
