"""Object storage behind the registry: a local folder (default) or S3/MinIO, same contract.

Every write that can race is conditional: ``put(..., if_match=etag)`` replaces only the version the
caller read, ``put(..., if_none_match=True)`` creates only what does not exist. A lost race raises
``PreconditionFailed``. On S3 these are the ``If-Match``/``If-None-Match`` headers of PutObject; in a
folder, an exclusive lock around compare-and-rename.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlparse

from footfall.common.config import file_url_path
from footfall.common.files import write_atomic


class RegistryError(RuntimeError):
    """A registry operation that cannot be done as asked; the message says why and the fix."""


class StorageUnavailable(RegistryError):
    """The storage did not answer (network cut, endpoint down) after the client's retries."""


class PreconditionFailed(RuntimeError):
    """A conditional write lost against a concurrent writer."""


class NotFound(KeyError):
    pass


class Storage(Protocol):
    url: str

    def get(self, key: str) -> tuple[bytes, str]:
        """Content and ETag of ``key``; ``NotFound`` if absent."""
        ...

    def put(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        """Write ``key``; return the new ETag."""
        ...

    def upload(self, key: str, path: Path) -> None: ...

    def download(self, key: str, fh: BinaryIO) -> None: ...

    def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix``, sorted."""
        ...


def _etag(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class FileStorage:
    """Objects as files under a root folder; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.url = f"file://{self.root}"

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"invalid key {key!r}")
        return self.root / key

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.root / ".lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def get(self, key: str) -> tuple[bytes, str]:
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(key) from None
        return data, _etag(data)

    def put(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        path = self._path(key)
        if if_match is None and not if_none_match:
            write_atomic(path, data)
            return _etag(data)
        with self._locked():
            try:
                current = _etag(path.read_bytes())
            except FileNotFoundError:
                current = None
            if if_none_match and current is not None:
                raise PreconditionFailed(f"{key} already exists")
            if if_match is not None and current != if_match:
                raise PreconditionFailed(f"{key} changed since it was read")
            write_atomic(path, data)
        return _etag(data)

    def upload(self, key: str, path: Path) -> None:
        write_atomic(self._path(key), Path(path).read_bytes())

    def download(self, key: str, fh: BinaryIO) -> None:
        try:
            with open(self._path(key), "rb") as src:
                while block := src.read(1 << 20):
                    fh.write(block)
        except FileNotFoundError:
            raise NotFound(key) from None

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix.rstrip("/")) if prefix else self.root
        if not base.exists():
            return []
        out = []
        for dirpath, _, files in os.walk(base):
            for name in files:
                if name.startswith("."):
                    continue
                out.append(str(Path(dirpath, name).relative_to(self.root)))
        return sorted(out)


class S3Storage:
    """S3 or MinIO through boto3. Endpoint, region and credentials come from the usual AWS
    environment/config (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, …) and are never logged."""

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._s3 = boto3.client(
            "s3",
            endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"),
            config=Config(retries={"max_attempts": 5, "mode": "standard"}, s3={"addressing_style": "path"}),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextlib.contextmanager
    def _reachable(self, what: str, key: str) -> Iterator[None]:
        """A network failure (after boto's retries) as one clear error instead of a botocore traceback.
        Every write of the registry is ordered so that a failure midway leaves nothing half-visible."""
        from boto3.exceptions import S3TransferFailedError, S3UploadFailedError
        from botocore.exceptions import BotoCoreError

        try:
            yield
        except (BotoCoreError, S3UploadFailedError, S3TransferFailedError) as exc:
            raise StorageUnavailable(
                f"{self.url} is unreachable ({what} {key}: {type(exc).__name__}); nothing unfinished was made "
                "visible. Fix: check the endpoint and network, then retry"
            ) from None

    def _error_code(self, exc: Exception) -> str:
        return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))

    def get(self, key: str) -> tuple[bytes, str]:
        from botocore.exceptions import ClientError

        try:
            with self._reachable("get", key):
                obj = self._s3.get_object(Bucket=self.bucket, Key=self._key(key))
                body = obj["Body"].read()
        except ClientError as exc:
            if self._error_code(exc) in ("NoSuchKey", "404"):
                raise NotFound(key) from None
            raise
        return body, obj["ETag"].strip('"')

    def put(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        from botocore.exceptions import ClientError

        kwargs: dict[str, str] = {}
        if if_match is not None:
            kwargs["IfMatch"] = f'"{if_match}"'
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        try:
            with self._reachable("put", key):
                resp = self._s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **kwargs)
        except ClientError as exc:
            if self._error_code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                raise PreconditionFailed(f"{key}: {self._error_code(exc)}") from None
            raise
        return str(resp["ETag"]).strip('"')

    def upload(self, key: str, path: Path) -> None:
        with self._reachable("upload", key):
            self._s3.upload_file(str(path), self.bucket, self._key(key))

    def download(self, key: str, fh: BinaryIO) -> None:
        from botocore.exceptions import ClientError

        try:
            with self._reachable("download", key):
                self._s3.download_fileobj(self.bucket, self._key(key), fh)
        except ClientError as exc:
            if self._error_code(exc) in ("NoSuchKey", "404"):
                raise NotFound(key) from None
            raise

    def list(self, prefix: str) -> list[str]:
        out = []
        strip = len(self.prefix) + 1 if self.prefix else 0
        with self._reachable("list", prefix):
            pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(prefix))
            for page in pages:
                out += [o["Key"][strip:] for o in page.get("Contents", [])]
        return sorted(out)


def claim_number(storage: Storage, key_of: Callable[[int], str], first: int, body: bytes = b"{}") -> int:
    """The first number from ``first`` on whose key ``key_of(n)`` this caller created (conditional
    create), so two concurrent publishers never get the same version number."""
    n = first
    while True:
        try:
            storage.put(key_of(n), body, if_none_match=True)
            return n
        except PreconditionFailed:
            n += 1


def open_storage(url: str) -> Storage:
    """``file:///abs/path``, ``file://relative/path`` (to the working directory), a plain path, or
    ``s3://bucket/prefix``."""
    path = file_url_path(url)
    if path is not None:
        return FileStorage(path.absolute())
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if len(parsed.netloc) < 3:
            raise ValueError(f"{url}: S3 bucket names need at least 3 characters")
        return S3Storage(parsed.netloc, parsed.path)
    if parsed.scheme == "":
        return FileStorage(Path(url).absolute())
    raise ValueError(f"unsupported registry URL {url!r}: use file://PATH or s3://BUCKET/PREFIX")


__all__ = [
    "FileStorage",
    "NotFound",
    "PreconditionFailed",
    "RegistryError",
    "S3Storage",
    "Storage",
    "StorageUnavailable",
    "claim_number",
    "open_storage",
]
