"""Vendor keys: ed25519 key pairs that sign catalog releases, and the operator's trusted keys.

A private key is a PKCS#8 PEM file, a public key a SubjectPublicKeyInfo PEM file (``.pub``).
A key is named by its *key id*: the first 16 hex digits of the sha256 of its raw public bytes.
Trusted keys live in ``$VIGIL_TRUSTED_KEYS`` or ``~/.config/vigil/trusted-keys/`` as ``*.pub``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vigil.appstore import AppStoreError


def trusted_keys_dir() -> Path:
    env = os.environ.get("VIGIL_TRUSTED_KEYS")
    return Path(env).expanduser() if env else Path.home() / ".config" / "vigil" / "trusted-keys"


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def generate_keypair(out_dir: Path, name: str = "vendor") -> tuple[Path, Path]:
    """Write ``<name>.key`` (private, mode 0600) and ``<name>.pub`` into `out_dir`; never
    overwrites an existing key."""
    out_dir.mkdir(parents=True, exist_ok=True)
    key_path, pub_path = out_dir / f"{name}.key", out_dir / f"{name}.pub"
    for path in (key_path, pub_path):
        if path.exists():
            raise AppStoreError(f"{path}: already exists, not overwriting a key")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    pub_path.write_bytes(_public_pem(private.public_key()))
    return key_path, pub_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise AppStoreError(f"{path}: signing key not found") from None
    except (ValueError, TypeError) as exc:
        raise AppStoreError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AppStoreError(f"{path}: not an ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except FileNotFoundError:
        raise AppStoreError(f"{path}: public key not found") from None
    except ValueError as exc:
        raise AppStoreError(f"{path}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AppStoreError(f"{path}: not an ed25519 key")
    return key


def trusted_keys(directory: Path | None = None) -> dict[str, Ed25519PublicKey]:
    """The trusted vendor keys by key id (a missing directory trusts nobody)."""
    directory = directory or trusted_keys_dir()
    if not directory.is_dir():
        return {}
    keys = [load_public_key(p) for p in sorted(directory.glob("*.pub"))]
    return {key_id(k): k for k in keys}


def trust_key(pub_path: Path, directory: Path | None = None) -> str:
    """Add a vendor's public key to the trusted keys (as ``<key id>.pub``); its key id."""
    key = load_public_key(pub_path)
    directory = directory or trusted_keys_dir()
    directory.mkdir(parents=True, exist_ok=True)
    kid = key_id(key)
    (directory / f"{kid}.pub").write_bytes(_public_pem(key))
    return kid


def sign(private_key: Ed25519PrivateKey, payload: bytes) -> str:
    return base64.b64encode(private_key.sign(payload)).decode("ascii")


def verify(public_key: Ed25519PublicKey, signature: str, payload: bytes) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), payload)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def signature_problem(
    signature: str | None,
    signer: str | None,
    payload: bytes,
    trusted: dict[str, Ed25519PublicKey],
) -> str | None:
    """None when `signature` by key `signer` over `payload` is valid and the key trusted;
    otherwise what is wrong, as words completing "<what> ..."."""
    if signature is None or signer is None:
        return "is unsigned"
    if signer not in trusted:
        return (
            f"is signed by untrusted key {signer} "
            "(trust its vendor with 'vigil store trust KEY.pub')"
        )
    if not verify(trusted[signer], signature, payload):
        return "does not match its signature (it was altered after signing)"
    return None
