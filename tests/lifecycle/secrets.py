"""Passphrase secrets provider for the state file.

Modelled on Pulumi's ``passphrase`` secrets manager (pkg/secrets/passphrase): a 256-bit
key is derived from the passphrase with PBKDF2-HMAC-SHA256 and a random salt, values are
sealed with AES-256-GCM and written as ``v1:<nonce b64>:<ciphertext b64>``, and the
state header keeps ``v1:<salt b64>:<sealed "pulumi">`` so a wrong passphrase is detected
before anything is decrypted. Encrypted values sit in the state as
``{SIG_KEY: SECRET_SIG, "ciphertext": "..."}``, the way Pulumi checkpoints store them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from typing import Any, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .props import SECRET_SIG, SIG_KEY, UNKNOWN, Secret, _from_plain, to_plain

#: PBKDF2 rounds used by Pulumi's passphrase secrets manager.
DEFAULT_KDF_ITERATIONS = 1_000_000
_CHECK_PLAINTEXT = b"pulumi"

_KEY_CACHE: dict[tuple[str, bytes, int], bytes] = {}
_KEY_CACHE_LOCK = threading.Lock()


class PassphraseError(Exception):
    """The passphrase does not open this state file."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(passphrase: str, salt: bytes, iterations: int) -> bytes:
    cache_key = (passphrase, salt, iterations)
    with _KEY_CACHE_LOCK:
        key = _KEY_CACHE.get(cache_key)
    if key is None:
        key = hashlib.pbkdf2_hmac("sha256", passphrase.encode("utf-8"), salt, iterations, 32)
        with _KEY_CACHE_LOCK:
            _KEY_CACHE[cache_key] = key
    return key


class PassphraseCrypter:
    """Encrypts and decrypts property values with a passphrase-derived AES-GCM key."""

    def __init__(self, passphrase: str, salt: bytes, iterations: int) -> None:
        self._aead = AESGCM(_derive(passphrase, salt, iterations))
        self.salt = salt
        self.iterations = iterations

    # -- construction ---------------------------------------------------------------

    @classmethod
    def new(cls, passphrase: str, iterations: int = DEFAULT_KDF_ITERATIONS) -> "PassphraseCrypter":
        """A crypter with a fresh random salt (for a new state file)."""
        return cls(passphrase, os.urandom(8), iterations)

    @classmethod
    def from_header(cls, passphrase: str, header: Mapping[str, Any]) -> "PassphraseCrypter":
        """Open an existing state file's secrets provider; raises :class:`PassphraseError`."""
        state = header.get("state", {})
        parts = str(state.get("salt", "")).split(":", 2)
        if len(parts) != 3 or parts[0] != "v1":
            raise PassphraseError("state file has no usable passphrase salt")
        iterations = int(state.get("iterations", DEFAULT_KDF_ITERATIONS))
        crypter = cls(passphrase, base64.b64decode(parts[1]), iterations)
        try:
            ok = crypter.decrypt_text(parts[2]) == _CHECK_PLAINTEXT.decode()
        except (InvalidTag, ValueError):
            ok = False
        if not ok:
            raise PassphraseError("incorrect passphrase for this state file")
        return crypter

    def header(self) -> dict[str, Any]:
        """The ``secrets_providers`` block to store in the state file."""
        check = self.encrypt_text(_CHECK_PLAINTEXT.decode())
        return {
            "type": "passphrase",
            "state": {"salt": f"v1:{_b64(self.salt)}:{check}", "iterations": self.iterations},
        }

    # -- text -----------------------------------------------------------------------

    def encrypt_text(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), None)
        return f"v1:{_b64(nonce)}:{_b64(sealed)}"

    def decrypt_text(self, ciphertext: str) -> str:
        parts = ciphertext.split(":")
        if len(parts) != 3 or parts[0] != "v1":
            raise ValueError("malformed ciphertext")
        nonce, sealed = base64.b64decode(parts[1]), base64.b64decode(parts[2])
        return self._aead.decrypt(nonce, sealed, None).decode("utf-8")

    # -- property values --------------------------------------------------------------

    def encrypt_value(self, value: Any) -> Any:
        """State-file form of a property value: every :class:`Secret` becomes ciphertext."""
        if isinstance(value, Secret):
            # Like Pulumi, the whole secret element is serialized to JSON, then sealed.
            plain = json.dumps(to_plain(value.value), sort_keys=True)
            return {SIG_KEY: SECRET_SIG, "ciphertext": self.encrypt_text(plain)}
        if value is UNKNOWN:
            return to_plain(value)
        if isinstance(value, Mapping):
            return {k: self.encrypt_value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.encrypt_value(v) for v in value]
        return value

    def decrypt_value(self, value: Any) -> Any:
        """Inverse of :meth:`encrypt_value`."""
        if isinstance(value, Mapping):
            if value.get(SIG_KEY) == SECRET_SIG and "ciphertext" in value:
                return Secret(_from_plain(json.loads(self.decrypt_text(value["ciphertext"]))))
            return {k: self.decrypt_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.decrypt_value(v) for v in value]
        return _from_plain(value)
