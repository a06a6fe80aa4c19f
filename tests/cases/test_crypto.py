"""Encryption at rest: round trip, key rotation, the generated key file, pseudonyms."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.cases.crypto import (
    CaseKeyError,
    Keyring,
    UserRefs,
    load_keyring,
    read_or_create_case_keys,
)


def test_round_trip_and_no_plaintext_in_the_token(keyring: Keyring) -> None:
    secret = "Bố em đánh em đau lắm"
    token = keyring.encrypt(secret)
    assert "đánh" not in token and "danh" not in token
    assert keyring.decrypt(token) == secret


def test_rotation_new_key_encrypts_old_keys_still_decrypt() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    written_before = Keyring([old]).encrypt("trước khi đổi khoá")
    rotated = Keyring([new, old])

    assert rotated.decrypt(written_before) == "trước khi đổi khoá"
    fresh = rotated.encrypt("sau khi đổi khoá")
    assert Keyring([new]).decrypt(fresh) == "sau khi đổi khoá"
    with pytest.raises(CaseKeyError):
        Keyring([old]).decrypt(fresh)
    # Re-encrypting old entries under the new key lets the old key be retired.
    assert Keyring([new]).decrypt(rotated.rotate(written_before)) == "trước khi đổi khoá"


def test_the_key_file_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    first = read_or_create_case_keys(tmp_path)
    second = read_or_create_case_keys(tmp_path)

    path = tmp_path / "secrets" / "case_keys"
    assert first == second and len(first) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_configured_keys_win_over_the_file(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    keyring = load_keyring([key], tmp_path)
    assert Keyring([key]).decrypt(keyring.encrypt("x")) == "x"
    assert not (tmp_path / "secrets" / "case_keys").exists()


def test_a_malformed_key_is_refused() -> None:
    with pytest.raises(CaseKeyError):
        Keyring(["not-a-fernet-key"])


def test_user_refs_are_stable_distinct_and_reveal_nothing(tmp_path: Path) -> None:
    refs = UserRefs.from_data_dir(tmp_path)
    again = UserRefs.from_data_dir(tmp_path)

    assert refs.of("telegram", "123456") == again.of("telegram", "123456")
    assert refs.of("telegram", "123456") != refs.of("zalo", "123456")
    assert "123456" not in refs.of("telegram", "123456")
    assert stat.S_IMODE((tmp_path / "secrets" / "user_ref_key").stat().st_mode) == 0o600
