"""Encryption at rest for case transcripts and notes, and pseudonymous user references.

Keys come from CASE_ENCRYPTION_KEYS (comma-separated Fernet keys, newest
first) or, for a local setup, from `DATA_DIR/secrets/case_keys` (one key a
line, newest first), generated with mode 0600 on first start. MultiFernet
encrypts with the first key and decrypts with any, so rotation is: put a new
key first (`python -m bot.cases.keys rotate`), re-encrypt, later drop the old.

The user reference is an HMAC of "<channel>:<id>" under its own key
(`secrets/user_ref_key`), so previous cases of the same person can be found
without storing who they are, and it does not change when case keys rotate.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

CASE_KEYS_FILE = "case_keys"
USER_REF_KEY_FILE = "user_ref_key"
USER_REF_CHARS = 24


class CaseKeyError(RuntimeError):
    """Keys are missing or malformed (the message says where)."""


class Keyring:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise CaseKeyError("no case encryption key configured")
        try:
            self._fernets = [Fernet(k.encode() if isinstance(k, str) else k) for k in keys]
        except (ValueError, TypeError) as error:
            raise CaseKeyError("a case encryption key is not a valid Fernet key") from error
        self._multi = MultiFernet(self._fernets)

    def encrypt(self, text: str) -> str:
        return self._multi.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError) as error:  # not ASCII: not a token at all
            raise CaseKeyError("cannot decrypt: none of the configured keys fits") from error

    def rotate(self, token: str) -> str:
        """Re-encrypt under the newest key (keeps the original timestamp)."""
        return self._multi.rotate(token.encode("ascii")).decode("ascii")


def secrets_dir(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / "secrets"
    path.mkdir(exist_ok=True, mode=0o700)
    return path


def read_or_create_case_keys(data_dir: Path) -> list[str]:
    path = secrets_dir(data_dir) / CASE_KEYS_FILE
    _create_private_file(path, Fernet.generate_key().decode() + "\n")  # first start only
    keys = [line.strip() for line in path.read_text(encoding="ascii").splitlines() if line.strip()]
    if not keys:
        raise CaseKeyError(f"{path} is empty; restore it from backup or set CASE_ENCRYPTION_KEYS")
    return keys


def write_case_keys(data_dir: Path, keys: Sequence[str]) -> None:
    """Replace the key file atomically, keeping mode 0600."""
    path = secrets_dir(data_dir) / CASE_KEYS_FILE
    temporary = path.with_suffix(".new")
    temporary.unlink(missing_ok=True)
    _create_private_file(temporary, "".join(k + "\n" for k in keys))
    os.replace(temporary, path)


def load_keyring(configured: Sequence[str], data_dir: Path) -> Keyring:
    return Keyring(list(configured) or read_or_create_case_keys(data_dir))


class UserRefs:
    """channel + the channel's id of a person -> a stable pseudonym."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> UserRefs:
        path = secrets_dir(data_dir) / USER_REF_KEY_FILE
        _create_private_file(path, secrets.token_hex(32) + "\n")
        return cls(bytes.fromhex(path.read_text(encoding="ascii").strip()))

    def of(self, channel: str, external_id: str) -> str:
        digest = hmac.new(self._key, f"{channel}:{external_id}".encode(), hashlib.sha256)
        return digest.hexdigest()[:USER_REF_CHARS]


def _create_private_file(path: Path, content: str) -> bool:
    """Write `content` to a new file with mode 0600; False if it already exists.

    Written under a temporary name, then linked into place: when two processes
    start at once exactly one creates the file, and the other never reads it
    half-written (an empty key file would give it a key of its own).
    """
    if path.exists():
        return False
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # atomic, and fails if the file exists
        except FileExistsError:
            return False
        return True
    finally:
        temporary.unlink(missing_ok=True)
