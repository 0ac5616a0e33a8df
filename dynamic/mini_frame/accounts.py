"""Accounts and sessions for the login page, in the site's SQLite file.

Passwords are never stored: only their scrypt hash (``hashlib.scrypt``, a
memory-hard function, so guessing costs an attacker memory as well as time),
with a random salt per account. Session tokens are random and only their
SHA-256 is stored, so the database alone signs nobody in. As in ``people``,
each call opens its own connection (the app runs on a thread pool) and SQL
takes values as parameters only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

from .people import DATABASE_NAME

# scrypt cost: N=2**14, r=8 (16 MiB and about 50 ms a hash): the parameters
# RFC 7914 and OWASP give for interactive logins.
SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES = 2**14, 8, 1, 32
SESSION_SECONDS = 24 * 3600

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS accounts (
        username TEXT PRIMARY KEY,
        password TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS sessions (
        token_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        expires REAL NOT NULL
    )""",
]


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$key``, all a later check needs, base64 where binary."""
    salt = salt if salt is not None else os.urandom(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                         p=SCRYPT_P, dklen=KEY_BYTES)
    encode = base64.b64encode
    return (f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}$"
            f"{encode(salt).decode()}${encode(key).decode()}")


def password_matches(password: str, stored: str) -> bool:
    scheme, n, r, p, salt, key = stored.split("$")
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(key)
    given = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n),
                           r=int(r), p=int(p), dklen=len(expected))
    return hmac.compare_digest(given, expected)


# Checked against when the user name is unknown, so that a wrong name takes as
# long as a wrong password and the time taken does not say which names exist.
_DECOY = hash_password(secrets.token_urlsafe(16))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """The accounts and sessions stored in ``folder``/people.sqlite3."""

    def __init__(self, folder: str) -> None:
        self._folder = folder
        self.path = os.path.join(folder, DATABASE_NAME)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        os.makedirs(self._folder, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=5.0)) as connection:
            for statement in _SCHEMA:
                connection.execute(statement)
            with connection:
                yield connection

    def create(self, username: str, password: str) -> bool:
        """Add an account; False when the name is taken."""
        stored = hash_password(password)
        try:
            with self._connect() as connection:
                connection.execute("INSERT INTO accounts (username, password) VALUES (?, ?)",
                                   (username, stored))
        except sqlite3.IntegrityError:
            return False
        return True

    def check(self, username: str, password: str) -> bool:
        with self._connect() as connection:
            row = connection.execute("SELECT password FROM accounts WHERE username = ?",
                                     (username,)).fetchone()
        if row is None:
            password_matches(password, _DECOY)
            return False
        return password_matches(password, str(row[0]))

    def start_session(self, username: str) -> str:
        """A new session's token, for the cookie."""
        token = secrets.token_urlsafe(32)
        with self._connect() as connection:
            now = time.time()
            connection.execute("DELETE FROM sessions WHERE expires < ?", (now,))
            connection.execute(
                "INSERT INTO sessions (token_hash, username, expires) VALUES (?, ?, ?)",
                (_token_hash(token), username, now + SESSION_SECONDS))
        return token

    def session_user(self, token: str | None) -> str | None:
        """Who the session ``token`` belongs to, if it is a live one."""
        if not token or len(token) > 100:
            return None
        with self._connect() as connection:
            row = connection.execute(
                "SELECT username FROM sessions WHERE token_hash = ? AND expires >= ?",
                (_token_hash(token), time.time())).fetchone()
        return str(row[0]) if row is not None else None

    def end_session(self, token: str | None) -> None:
        if token:
            with self._connect() as connection:
                connection.execute("DELETE FROM sessions WHERE token_hash = ?",
                                   (_token_hash(token),))
