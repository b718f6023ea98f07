"""Versioned YOLO datasets beside the models: immutable, checksummed, fingerprinted; a folder or S3.

Layout under the storage root, for dataset NAME::

    datasets/NAME/vN/claim.json       claims number N (conditional create)
    datasets/NAME/vN/files/<rel>      the folder's files (``footfall.common.yolo_dataset`` layout)
    datasets/NAME/vN/manifest.json    written last: the version becomes visible

``DatasetStore.publish`` checks the folder and uploads it as the next version with a manifest: every
file with its SHA-256, class counts per split, the sources (stores, cameras, time range, captured
items) and the fingerprint, signed like a model version (``registry.signing``): training labels decide
what the next model counts, so a version counts only if the training server's key signed its manifest,
and every read of a manifest checks that signature. Versions never change; ``fetch`` goes through the
registry's one fetch-and-verify path. Training and evaluation name a version (``NAME:N``) and record its
fingerprint.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from footfall.common.files import FileEntry, sha256_file
from footfall.common.yolo import DatasetError
from footfall.common.yolo_dataset import describe
from footfall.registry.artefacts import IntegrityError, Ref, RegistryError, files_from_dict, place_verified
from footfall.registry.signing import Trust
from footfall.registry.storage import NotFound, Storage, claim_number


@dataclass(frozen=True)
class DatasetManifest:
    """The manifest of one immutable dataset version (``manifest.json``)."""

    name: str
    version: int
    created_at: float
    names: list[str]
    splits: dict[str, Any]
    files: dict[str, FileEntry]
    fingerprint: str
    sources: dict[str, Any] = field(default_factory=dict)
    signature: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> DatasetManifest:
        """Read ``manifest.json``; every file name must be a relative path of plain names."""
        try:
            return cls(
                name=str(doc["name"]),
                version=int(doc["version"]),
                created_at=float(doc.get("created_at") or 0.0),
                names=[str(n) for n in doc["names"]],
                splits=dict(doc.get("splits") or {}),
                files=files_from_dict(doc["files"], nested=True),
                fingerprint=str(doc["fingerprint"]),
                sources=dict(doc.get("sources") or {}),
                signature=None if doc.get("signature") is None else str(doc["signature"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"manifest of {doc.get('name')}:{doc.get('version')} is malformed: {exc}") from None
        except IntegrityError as exc:
            raise DatasetError(f"dataset {doc.get('name')}:{doc.get('version')}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "created_at": self.created_at,
            "names": self.names,
            "splits": self.splits,
            "files": {k: f.to_dict() for k, f in self.files.items()},
            "fingerprint": self.fingerprint,
            "sources": self.sources,
            "signature": self.signature,
        }

    def signed_bytes(self) -> bytes:
        """What the signature covers: every field but the signature (name, number, each file's checksum)."""
        doc = {k: v for k, v in self.to_dict().items() if k != "signature"}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def verify(folder: Path, manifest: DatasetManifest) -> None:
    """Every file of the manifest present with its checksum; raise ``DatasetError`` otherwise."""
    for rel, entry in manifest.files.items():
        path = Path(folder) / rel
        if not path.is_file():
            raise DatasetError(f"{path}: missing (dataset {manifest.ref})")
        if sha256_file(path) != entry.sha256:
            raise DatasetError(f"{path}: SHA-256 differs from the manifest; the copy is damaged or was edited")


class DatasetStore:
    """Dataset versions under ``datasets/NAME/vN/`` of a registry storage (local folder or S3); ``trust``
    holds the keys this process signs what it publishes with and checks every manifest it reads with."""

    def __init__(self, storage: Storage, trust: Trust) -> None:
        self.storage = storage
        self.trust = trust

    @staticmethod
    def _vdir(name: str, version: int) -> str:
        return f"datasets/{name}/v{version}"

    def versions(self, name: str) -> list[int]:
        found = set()
        for key in self.storage.list(f"datasets/{name}/"):
            parts = key.split("/")
            if len(parts) >= 4 and parts[3] == "manifest.json" and parts[2][1:].isdigit():
                found.add(int(parts[2][1:]))
        return sorted(found)

    def manifest(self, ref: Ref) -> DatasetManifest:
        """The manifest of ``NAME:N`` (``NAME`` alone: the newest version); datasets have no aliases."""
        if ref.alias is not None:
            raise DatasetError(f"{ref}: datasets have no aliases; name a version (NAME:N)")
        version = ref.version
        if version is None:
            versions = self.versions(ref.name)
            if not versions:
                raise DatasetError(f"dataset {ref.name!r} has no versions in {getattr(self.storage, 'url', '')}")
            version = versions[-1]
        try:
            data, _ = self.storage.get(f"{self._vdir(ref.name, version)}/manifest.json")
        except NotFound:
            raise DatasetError(f"dataset {ref.name}:{version} does not exist") from None
        manifest = DatasetManifest.from_dict(json.loads(data))
        try:
            self.trust.check(f"dataset {ref.name}:{version}", manifest.signed_bytes(), manifest.signature)
        except RegistryError as exc:  # IntegrityError too
            raise DatasetError(str(exc)) from None
        if (manifest.name, manifest.version) != (ref.name, version):
            raise DatasetError(f"dataset {ref.name}:{version}: its manifest says {manifest.ref}; refusing it")
        return manifest

    def find(self, name: str, fingerprint: str) -> DatasetManifest | None:
        for version in reversed(self.versions(name)):
            manifest = self.manifest(Ref(name, version=version))
            if manifest.fingerprint == fingerprint:
                return manifest
        return None

    def publish(
        self,
        name: str,
        folder: Path,
        *,
        sources: dict[str, Any] | None = None,
        splits: tuple[str, ...] | None = None,
    ) -> DatasetManifest:
        """Upload ``folder`` (only its ``splits``, when given) as the next version of ``name``; the same
        content twice is one version."""
        self.trust.require_signing(f"dataset {name}")  # before anything is read or claimed
        described = describe(folder, splits)
        existing = self.find(name, described.fingerprint)
        if existing is not None:
            return existing
        version = claim_number(
            self.storage, lambda n: f"{self._vdir(name, n)}/claim.json", max(self.versions(name), default=0) + 1
        )
        for rel in described.files:
            self.storage.upload(f"{self._vdir(name, version)}/files/{rel}", Path(folder) / rel)
        manifest = DatasetManifest(
            name,
            version,
            time.time(),
            described.names,
            described.splits,
            described.files,
            described.fingerprint,
            dict(sources or {}),
        )
        manifest = replace(manifest, signature=self.trust.sign(manifest.ref, manifest.signed_bytes()))
        self.storage.put(
            f"{self._vdir(name, version)}/manifest.json",
            json.dumps(manifest.to_dict(), indent=1).encode(),
            if_none_match=True,
        )
        return manifest

    def fetch(self, ref: Ref, dest: Path) -> tuple[Path, DatasetManifest]:
        """Place the version at ``dest/NAME/vN`` (verified; an intact copy is reused)."""
        manifest = self.manifest(ref)
        final = Path(dest) / manifest.name / f"v{manifest.version}"
        try:
            verify(final, manifest)
            return final, manifest
        except DatasetError:
            pass
        try:
            place_verified(
                self.storage,
                lambda rel: f"{self._vdir(manifest.name, manifest.version)}/files/{rel}",
                manifest.files,
                final,
                what=f"dataset {manifest.ref}",
            )
        except IntegrityError as exc:
            raise DatasetError(str(exc)) from None
        return final, manifest
