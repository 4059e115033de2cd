"""Password hashing (argon2id via argon2-cffi) and the password and user-name rules."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from vigil.errors import VigilError

__all__ = [
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "USERNAME_PATTERN",
    "WeakPasswordError",
    "check_password",
    "check_username",
    "hash_password",
    "needs_rehash",
    "verify_password",
]

MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 hashes any length; a bound keeps a login request cheap
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
_USERNAME = re.compile(USERNAME_PATTERN)
_DEFAULT_HASHER = PasswordHasher()  # argon2id with the library's (RFC 9106) defaults


class WeakPasswordError(VigilError, ValueError):
    """The password breaks the rules (length, same as the user name)."""


def check_username(username: str) -> str:
    """`username` when it is 1-64 letters, digits and ``_ . @ -``; ValueError otherwise."""
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        raise ValueError(
            f"user name {username!r}: 1-64 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter or digit"
        )
    return username


def check_password(password: str, username: str = "") -> None:
    """Raise `WeakPasswordError` unless the password is long enough and not the user name."""
    if len(password) < MIN_PASSWORD:
        raise WeakPasswordError(f"password too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise WeakPasswordError(f"password too long: at most {MAX_PASSWORD} characters")
    if username and password.lower() == username.lower():
        raise WeakPasswordError("password must not be the user name")
    if len(set(password)) < 4:
        raise WeakPasswordError("password too weak: use at least 4 different characters")


def hash_password(password: str, hasher: PasswordHasher = _DEFAULT_HASHER) -> str:
    return hasher.hash(password)


def verify_password(hashed: str, password: str, hasher: PasswordHasher = _DEFAULT_HASHER) -> bool:
    """True when `password` matches `hashed` (False for a mismatch or a malformed hash)."""
    try:
        return hasher.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(hashed: str, hasher: PasswordHasher = _DEFAULT_HASHER) -> bool:
    """True when `hashed` was made with other parameters than `hasher`'s."""
    try:
        return hasher.check_needs_rehash(hashed)
    except InvalidHashError:
        return True
