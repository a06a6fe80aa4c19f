"""Console accounts and login sessions.

- Passwords: argon2id (argon2-cffi), rehashed on login when the parameters change.
- Sessions live in the database (revocable, survive a restart); the cookie holds
  a random token and the table only its SHA-256. A session ends after
  CONSOLE_SESSION_MINUTES, or CONSOLE_IDLE_MINUTES without a request.
- Each session has its own CSRF token (see bot/console/csrf.py).
- Repeated failed logins of one username are slowed down (in memory).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.cases.models import ConsoleSession, Role, StaffUser
from bot.models import as_utc, utc_now

SESSION_COOKIE = "console_session"
LOGIN_CSRF_COOKIE = "console_login_csrf"
COOKIE_PATH = "/console"
# Writing last_seen_at on every request would make every poll a write.
TOUCH_EVERY = timedelta(seconds=30)
MAX_FAILURES = 5
LOCKOUT_SECONDS = 300
PASSWORD_MIN_CHARS = 10

_hasher = PasswordHasher()
# Verified when the username is unknown, so timing does not tell which usernames exist.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


@dataclass(frozen=True)
class Staff:
    """The signed-in person, as the console's routes see them."""

    id: int
    username: str
    display_name: str
    role: Role
    capacity: int
    csrf_token: str

    def has_role(self, role: Role) -> bool:
        return self.role.rank >= role.rank

    @property
    def is_supervisor(self) -> bool:
        return self.has_role(Role.SUPERVISOR)


class WeakPassword(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < PASSWORD_MIN_CHARS:
        raise WeakPassword(f"password must have at least {PASSWORD_MIN_CHARS} characters")
    return _hasher.hash(password)


def verify_password(session: Session, username: str, password: str) -> StaffUser | None:
    user = session.scalars(select(StaffUser).where(StaffUser.username == username)).one_or_none()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: StaffUser, lifetime: timedelta) -> str:
    """Create a session; return the token for the cookie (shown nowhere else)."""
    token = secrets.token_urlsafe(32)
    now = utc_now()
    session.add(ConsoleSession(id=_token_id(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                               created_at=now, last_seen_at=now, expires_at=now + lifetime))
    # Old sessions of anyone are cleaned up on the way.
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
    return token


def resume_session(session: Session, token: str | None, idle: timedelta) -> Staff | None:
    if not token:
        return None
    row = session.get(ConsoleSession, _token_id(token))
    if row is None:
        return None
    now = utc_now()
    if as_utc(row.expires_at) <= now or as_utc(row.last_seen_at) + idle <= now:
        session.delete(row)
        return None
    user = session.get(StaffUser, row.user_id)
    if user is None or not user.active:
        session.delete(row)
        return None
    if now - as_utc(row.last_seen_at) >= TOUCH_EVERY:
        row.last_seen_at = now
    return Staff(user.id, user.username, user.display_name, user.role, user.capacity, row.csrf_token)


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(ConsoleSession).where(ConsoleSession.id == _token_id(token)))


def end_sessions_of(session: Session, user_id: int) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))


class LoginThrottle:
    """After MAX_FAILURES failed logins of one username, refuse it for LOCKOUT_SECONDS."""

    def __init__(self) -> None:
        self._failures: dict[str, list[float]] = {}

    def blocked(self, username: str) -> bool:
        recent = self._recent(username)
        return len(recent) >= MAX_FAILURES

    def failed(self, username: str) -> None:
        self._failures[username.lower()] = [*self._recent(username), time.monotonic()]

    def succeeded(self, username: str) -> None:
        self._failures.pop(username.lower(), None)

    def _recent(self, username: str) -> list[float]:
        cutoff = time.monotonic() - LOCKOUT_SECONDS
        return [t for t in self._failures.get(username.lower(), []) if t > cutoff]
