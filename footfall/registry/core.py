"""Versioned models with checksums, aliases moved by compare-and-swap, and an append-only history.

Layout under the storage root, for model NAME::

    models/NAME/versions/00000007/claim.json          claims number 7 (conditional create)
    models/NAME/versions/00000007/artefacts/<file>    uploaded first
    models/NAME/versions/00000007/metadata.json       written last: the version becomes visible
    models/NAME/index.json                            summary of every version (list reads only this)
    models/NAME/aliases/<alias>.json                  target version + the targets before it
    models/NAME/history/<time>-<id>.json              one object per publish, alias move or rollback
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from footfall.common.files import FileEntry
from footfall.registry.artefacts import (
    IntegrityError,
    Ref,
    RegistryError,
    files_from_dict,
    folder_matches,
    place_verified,
)
from footfall.registry.signing import Trust
from footfall.registry.storage import NotFound, PreconditionFailed, Storage, claim_number

RESERVED = re.compile(r"^(latest|v\d+)$")
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


class AliasConflict(RegistryError):
    """Someone else moved the alias between our read and our write."""


@dataclass(frozen=True)
class ModelVersion:
    """The metadata of one immutable model version (``metadata.json``).

    The known keys are fields; anything else a publisher recorded (metrics of the gate, lineage, the
    baseline it was compared with) stays in ``extra`` and is written back unchanged.
    """

    name: str
    version: int
    files: dict[str, FileEntry]
    created_at: float
    creator: str
    status: str = "ready"
    signature: str | None = None
    class_names: list[str] | None = None
    parent_version: int | None = None
    dataset_fingerprint: str | None = None
    metrics: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = (
        "name",
        "version",
        "files",
        "created_at",
        "creator",
        "status",
        "signature",
        "class_names",
        "parent_version",
        "dataset_fingerprint",
        "metrics",
    )

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ModelVersion:
        """Read ``metadata.json``; every artefact name must be a plain file name."""
        try:
            return cls(
                name=str(doc["name"]),
                version=int(doc["version"]),
                files=files_from_dict(doc["files"], nested=False),
                created_at=float(doc.get("created_at") or 0.0),
                creator=str(doc.get("creator") or ""),
                status=str(doc.get("status") or "ready"),
                signature=doc.get("signature"),
                class_names=doc.get("class_names"),
                parent_version=doc.get("parent_version"),
                dataset_fingerprint=doc.get("dataset_fingerprint"),
                metrics=doc.get("metrics"),
                extra={k: v for k, v in doc.items() if k not in cls._KNOWN},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrityError(f"metadata of {doc.get('name')}:{doc.get('version')} is malformed: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {**self.extra}
        for key in self._KNOWN:
            value = getattr(self, key)
            if key == "files":
                value = {k: f.to_dict() for k, f in value.items()}
            if value is not None:
                doc[key] = value
        return doc

    def signed_bytes(self) -> bytes:
        """What the signature covers: every recorded field but the signature itself (name, number, each
        artefact's checksum, and the class names, metrics and lineage the devices and operators read)."""
        doc = {k: v for k, v in self.to_dict().items() if k != "signature"}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


class Registry:
    """The model registry on one ``Storage``; ``trust`` holds the keys this process signs and verifies with
    (without them it can read, promote and roll back, but neither publish nor fetch)."""

    def __init__(self, storage: Storage, trust: Trust | None = None) -> None:
        self.storage = storage
        self.trust = trust or Trust()

    # -- keys -------------------------------------------------------------------------------------
    @staticmethod
    def _vdir(name: str, version: int) -> str:
        return f"models/{name}/versions/{version:08d}"

    def _json(self, key: str) -> tuple[dict[str, Any], str]:
        data, etag = self.storage.get(key)
        return json.loads(data), etag

    def record(self, name: str, event: dict[str, Any]) -> None:
        """Append ``event`` (with time and actor) to the history of ``name``."""
        event = {"time": time.time(), "actor": _actor(), **event}
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(event["time"]))
        key = f"models/{name}/history/{stamp}-{int(event['time'] * 1e6) % 1_000_000:06d}-{uuid.uuid4().hex[:8]}.json"
        self.storage.put(key, json.dumps(event).encode(), if_none_match=True)

    # -- publish ----------------------------------------------------------------------------------
    def publish(
        self,
        name: str,
        files: dict[str, Path],
        metadata: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Upload artefacts, then make a new immutable version visible, signed; return its metadata."""
        self.trust.require_signing(name)  # before a number is claimed
        if not NAME.match(name):
            raise RegistryError(f"model name {name!r}: use lower-case letters, digits, _ . - (max 63)")
        if not files:
            raise RegistryError("publish needs at least one artefact")
        for label, path in files.items():
            if "/" in label or not Path(path).is_file():
                raise RegistryError(f"artefact {label!r} → {path}: not a file")
        index, _ = self._index(name)
        version = claim_number(
            self.storage,
            lambda n: f"{self._vdir(name, n)}/claim.json",
            max((v["version"] for v in index["versions"]), default=0) + 1,
            json.dumps({"by": _actor(), "time": time.time()}).encode(),
        )
        checksums = {}
        for label, path in sorted(files.items()):
            checksums[label] = FileEntry.of(Path(path))
            self.storage.upload(f"{self._vdir(name, version)}/artefacts/{label}", Path(path))
        given = dict(metadata or {})
        meta = ModelVersion.from_dict(
            {
                **given,
                "name": name,
                "version": version,
                "files": {k: f.to_dict() for k, f in checksums.items()},
                "created_at": time.time(),
                "creator": given.get("creator") or _actor(),
                "status": given.get("status", "ready"),
                "signature": None,
            }
        )
        meta = replace(meta, signature=self.trust.sign(meta.ref, meta.signed_bytes()))
        self.storage.put(
            f"{self._vdir(name, version)}/metadata.json",
            json.dumps(meta.to_dict(), indent=1).encode(),
            if_none_match=True,
        )
        self._add_to_index(name, meta)
        self.record(name, {"event": "publish", "version": version})
        return meta

    def _index(self, name: str) -> tuple[dict[str, Any], str | None]:
        try:
            return self._json(f"models/{name}/index.json")
        except NotFound:
            return {"name": name, "versions": []}, None

    def _add_to_index(self, name: str, meta: ModelVersion) -> None:
        row = {
            k: getattr(meta, k)
            for k in ("version", "created_at", "creator", "status", "metrics", "parent_version", "dataset_fingerprint")
        }
        for _ in range(100):
            index, etag = self._index(name)
            if any(v["version"] == meta.version for v in index["versions"]):
                return
            index["versions"] = sorted([*index["versions"], row], key=lambda v: v["version"])
            try:
                self.storage.put(
                    f"models/{name}/index.json", json.dumps(index).encode(), if_match=etag, if_none_match=etag is None
                )
                return
            except PreconditionFailed:
                time.sleep(0.01)
        raise RegistryError(f"could not update the index of {name} after 100 attempts")

    # -- read -------------------------------------------------------------------------------------
    def models(self) -> list[str]:
        return sorted({k.split("/")[1] for k in self.storage.list("models/") if k.endswith("/index.json")})

    def versions(self, name: str) -> list[dict[str, Any]]:
        """Summary rows of every version, from the index alone (one read, however many versions)."""
        return self._index(name)[0]["versions"]

    def metadata(self, name: str, version: int) -> ModelVersion:
        try:
            meta = ModelVersion.from_dict(self._json(f"{self._vdir(name, version)}/metadata.json")[0])
        except NotFound:
            raise RegistryError(f"{name}:{version} does not exist (or is still being published)") from None
        if (meta.name, meta.version) != (name, version):
            raise IntegrityError(f"{name}:{version}: its metadata says {meta.ref}; refusing it")
        return meta

    def aliases(self, name: str) -> dict[str, int]:
        out = {}
        for key in self.storage.list(f"models/{name}/aliases/"):
            doc, _ = self._json(key)
            out[Path(key).stem] = doc["version"]
        return out

    def resolve(self, ref: Ref) -> int:
        if ref.version is not None:
            self.metadata(ref.name, ref.version)
            return ref.version
        if ref.alias in (None, "latest"):
            versions = self.versions(ref.name)
            if not versions:
                raise RegistryError(f"model {ref.name!r} has no versions")
            return int(versions[-1]["version"])
        try:
            doc, _ = self._json(f"models/{ref.name}/aliases/{ref.alias}.json")
        except NotFound:
            raise RegistryError(f"{ref.name}@{ref.alias}: no such alias") from None
        return int(doc["version"])

    def history(self, name: str) -> list[dict[str, Any]]:
        return [self._json(k)[0] for k in self.storage.list(f"models/{name}/history/")]

    # -- aliases ----------------------------------------------------------------------------------
    def promote(self, name: str, version: int, alias: str, *, expected: int | None = None) -> dict[str, Any]:
        """Point ``alias`` at ``version`` with one conditional write; ``AliasConflict`` if it moved meanwhile.

        ``expected`` (optional) is the version the caller believes the alias points at now.
        """
        if RESERVED.match(alias) or not NAME.match(alias):
            raise RegistryError(f"alias {alias!r} is reserved or invalid ('latest' and 'v<N>' are reserved)")
        self.metadata(name, version)  # an alias never points at a version that does not exist
        key = f"models/{name}/aliases/{alias}.json"
        try:
            doc, etag = self._json(key)
        except NotFound:
            doc, etag = {"version": None, "previous": []}, None
        if expected is not None and doc["version"] != expected:
            raise AliasConflict(f"{name}@{alias} points at {doc['version']}, not {expected}")
        if doc["version"] == version:
            return doc  # already there: no write, no history entry (re-running a rollout changes nothing)
        previous = [*doc["previous"], doc["version"]] if doc["version"] is not None else doc["previous"]
        new = {"version": version, "previous": previous[-50:], "updated_at": time.time(), "updated_by": _actor()}
        self._cas(key, new, etag, name, alias)
        self.record(name, {"event": "promote", "alias": alias, "version": version, "from": doc["version"]})
        return new

    def rollback(self, name: str, alias: str) -> dict[str, Any]:
        """Move ``alias`` back to the version it pointed at before its last move."""
        key = f"models/{name}/aliases/{alias}.json"
        try:
            doc, etag = self._json(key)
        except NotFound:
            raise RegistryError(f"{name}@{alias}: no such alias") from None
        if not doc["previous"]:
            raise RegistryError(f"{name}@{alias} has no earlier target to roll back to")
        new = {
            "version": doc["previous"][-1],
            "previous": doc["previous"][:-1],
            "updated_at": time.time(),
            "updated_by": _actor(),
        }
        self._cas(key, new, etag, name, alias)
        self.record(name, {"event": "rollback", "alias": alias, "version": new["version"], "from": doc["version"]})
        return new

    def _cas(self, key: str, doc: dict[str, Any], etag: str | None, name: str, alias: str) -> None:
        try:
            self.storage.put(key, json.dumps(doc).encode(), if_match=etag, if_none_match=etag is None)
        except PreconditionFailed:
            raise AliasConflict(
                f"{name}@{alias} was moved by someone else while this change was being made; "
                "nothing was changed. Check 'footfall registry show' and retry"
            ) from None

    # -- fetch ------------------------------------------------------------------------------------
    def fetch(self, ref: Ref, dest: Path, *, rollback: bool = False, needs: tuple[str, ...] = ()) -> Path:
        """Verify the signature, download, verify every checksum, then place atomically.

        The version lands in ``dest/v<N>`` and ``dest/current`` is switched to it by a rename; on any
        mismatch nothing under ``dest`` changes. Aliases are not signed, so a version older than the one
        ``dest/current`` holds is a downgrade: refused unless ``rollback`` (an operator's explicit act).
        A version without every file of ``needs`` (the INT8 network a device runs) is refused too.
        """
        version = self.resolve(ref)
        meta = self.metadata(ref.name, version)
        self.trust.check(meta.ref, meta.signed_bytes(), meta.signature)
        missing = [name for name in needs if name not in meta.files]
        if missing:
            raise RegistryError(
                f"{meta.ref} has no {', '.join(missing)} (it has {', '.join(sorted(meta.files))}); the device runs "
                "that file, so nothing was placed. Fix: publish the version with it (retrain.precision), or deploy "
                "the precision the version has"
            )
        running = current_version(dest)
        if running is not None and version < running and not rollback:
            raise IntegrityError(
                f"{ref} is {meta.ref}, older than the v{running} in {dest}: refusing a downgrade (aliases are not "
                "signed). Fix: if this is a rollback, run it as one (footfall registry fetch --rollback, "
                "ansible/playbooks/rollback.yml)"
            )
        dest.mkdir(parents=True, exist_ok=True)
        final = dest / f"v{version}"
        bridges: list[Path] = []

        def bridge(verified: Path) -> None:
            """The running version's folder is about to be replaced: ``current`` points at a hard-linked
            copy of the verified replacement meanwhile, so a reader always finds a whole model."""
            if running == version:
                copy = Path(tempfile.mkdtemp(dir=dest, prefix=f".{final.name}-bridge-"))
                shutil.copytree(verified, copy, copy_function=os.link, dirs_exist_ok=True)
                os.chmod(copy, 0o755)
                bridges.append(copy)
                _switch_current(dest, copy.name)

        try:
            if not (final.is_dir() and folder_matches(final, meta.files)):
                place_verified(
                    self.storage,
                    lambda label: f"{self._vdir(ref.name, version)}/artefacts/{label}",
                    meta.files,
                    final,
                    what=meta.ref,
                    extra={"metadata.json": json.dumps(meta.to_dict(), indent=1).encode()},
                    before_replace=bridge,
                )
            _switch_current(dest, final.name)
        finally:
            for copy in bridges:  # kept only if a failure left ``current`` on it: then it is the model
                if os.readlink(dest / "current") != copy.name:
                    shutil.rmtree(copy, ignore_errors=True)
        return final


def current_version(dest: Path) -> int | None:
    """The version ``dest/current`` points at (``v<N>``), or ``None``."""
    link = os.readlink(dest / "current") if (dest / "current").is_symlink() else ""
    m = re.fullmatch(r"\.?v(\d+)(?:-bridge-\w+)?", link)  # ``.vN-bridge-…``: see ``fetch``
    return int(m.group(1)) if m else None


def _switch_current(dest: Path, target: str) -> None:
    link = dest / "current"
    tmp = dest / f".current-{uuid.uuid4().hex[:8]}"
    os.symlink(target, tmp)
    os.replace(tmp, link)  # rename over the old link: readers see the old or the new, never none
