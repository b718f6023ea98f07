"""Checksums and atomic writes, one implementation for every part that stores files."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path: Path, data: bytes, *, like: Path | None = None) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename: readers see the
    old content or the new, never a partial file, also after a power cut (the data is synced first).

    With ``like``, the file gets that file's mode and owner (a config holding secrets stays 0640
    root:footfall); without, a new file is private to its owner (0600).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            if like is not None:
                st = os.stat(like)
                try:
                    os.fchown(fh.fileno(), st.st_uid, st.st_gid)
                except PermissionError:  # not root: the group at most, if this user is in it
                    if st.st_gid in os.getgroups():
                        os.fchown(fh.fileno(), -1, st.st_gid)
                os.fchmod(fh.fileno(), stat.S_IMODE(st.st_mode))
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class FileEntry:
    """One stored file of a version or dataset: its checksum and size."""

    sha256: str
    size: int

    @classmethod
    def of(cls, path: Path) -> FileEntry:
        return cls(sha256_file(path), Path(path).stat().st_size)

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size": self.size}
