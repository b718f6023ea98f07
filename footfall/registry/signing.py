"""Who may put a model on a store: Ed25519 signatures over a version's whole metadata.

A model is code for the device (its class names decide what is counted as what) and its ``model.pt``
is a pickle the training server loads. Anyone who can write to the bucket can write a version, so a
version counts only if the training server's private key signed it: publishing needs the private key,
fetching needs the public key, and going without either is an explicit, loud opt-out for a laptop
(``allow_unsigned``), never a default.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, model_validator

from footfall.common.config import Section
from footfall.registry.artefacts import IntegrityError, RegistryError

log = logging.getLogger(__name__)

KEYGEN_HINT = "create a key pair once with 'footfall registry keygen --private registry.key --public registry.pub'"


@dataclass(frozen=True)
class Trust:
    """The keys one process holds: ``sign_key`` to publish, ``verify_key`` to fetch."""

    sign_key: Path | None = None
    verify_key: Path | None = None
    allow_unsigned: bool = False

    def require_signing(self, what: str) -> None:
        """Raise unless this process can sign (or chose not to)."""
        if self.sign_key is None and not self.allow_unsigned:
            raise RegistryError(
                f"refusing to publish {what} unsigned: stores and the training server refuse unsigned versions. "
                "Fix: pass --sign-key PRIVATE.pem (retrain: signing.sign_key; a scheduler export job: sign_key); "
                f"{KEYGEN_HINT}. On a development machine only: --unsigned"
            )

    def sign(self, what: str, message: bytes) -> str | None:
        """The signature of ``message``, or ``None`` when unsigned publishing was chosen."""
        self.require_signing(what)
        if self.sign_key is not None:
            return _sign(self.sign_key, message)
        log.warning("publishing %s UNSIGNED: devices with a verify key will refuse it", what)
        return None

    def check(self, what: str, message: bytes, signature: str | None) -> None:
        """Raise unless ``signature`` is the verify key's signature of ``message`` (or unsigned was chosen).
        A process holding only the private key checks against its public half (it trusts what it signs)."""
        if self.verify_key is None and self.sign_key is not None and not self.allow_unsigned:
            if signature is None:
                raise IntegrityError(f"{what} is not signed; refusing it (nothing was written)")
            _verify(self.sign_key, message, signature, what)
            return
        if self.verify_key is None:
            if not self.allow_unsigned:
                raise RegistryError(
                    f"refusing to fetch {what} without a verify key: anyone who can write to the registry could "
                    f"run code here. Fix: pass --verify-key PUBLIC.pem (retrain: signing.verify_key); {KEYGEN_HINT}. "
                    "On a development machine only: --allow-unsigned"
                )
            log.warning("fetching %s WITHOUT checking its signature (allow_unsigned)", what)
            return
        if signature is None:
            raise IntegrityError(f"{what} is not signed; refusing it (nothing was written)")
        _verify(self.verify_key, message, signature, what)


class SigningSettings(Section):
    """The keys of a process that publishes or fetches models (the training server)."""

    sign_key: Path | None = Field(
        None, description="Ed25519 private key (PEM) that signs every version this process publishes."
    )
    verify_key: Path | None = Field(
        None, description="Ed25519 public key (PEM) every fetched version must be signed with (the parent model)."
    )
    allow_unsigned: bool = Field(
        False,
        description="Development only: publish and fetch without signatures. Stores with a verify key refuse "
        "what is published so, and anyone who can write to the registry can run code on this machine.",
    )

    @model_validator(mode="after")
    def _keys(self) -> SigningSettings:
        if not self.allow_unsigned and (self.sign_key is None or self.verify_key is None):
            missing = [k for k in ("sign_key", "verify_key") if getattr(self, k) is None]
            raise ValueError(
                f"{' and '.join(missing)} not set: models are signed and verified. Fix: set both ({KEYGEN_HINT}), "
                "or allow_unsigned: true on a development machine"
            )
        return self

    def trust(self) -> Trust:
        return Trust(self.sign_key, self.verify_key, self.allow_unsigned)


def _sign(key_path: Path, message: bytes) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(_read_key(key_path), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise RegistryError(f"{key_path}: not an Ed25519 private key")
    return key.sign(message).hex()


def _verify(key_path: Path, message: bytes, signature: str, what: str) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    pem = _read_key(key_path)
    key: object
    if b"PRIVATE KEY" in pem:  # the signer's own key: its public half
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        private = load_pem_private_key(pem, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise RegistryError(f"{key_path}: not an Ed25519 private key")
        key = private.public_key()
    else:
        key = load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise RegistryError(f"{key_path}: not an Ed25519 public key")
    try:
        key.verify(bytes.fromhex(signature), message)
    except (InvalidSignature, ValueError):
        raise IntegrityError(
            f"the signature of {what} does not verify with {key_path}: its metadata or files were changed after "
            "signing, or another key signed it; refusing it (nothing was written)"
        ) from None


def _read_key(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise RegistryError(f"cannot read the key {path}: {exc.strerror}. Fix: {KEYGEN_HINT}") from None


def generate_keypair(private: Path, public: Path) -> None:
    """Write a new key pair; the private key is created 0600 (never readable by others, even briefly)
    and neither file is ever overwritten (a lost private key means re-keying every store)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    for path in (private, public):
        if path.exists():
            raise RegistryError(f"{path} exists; refusing to overwrite a key. Fix: choose another path or remove it")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
