"""The people registered, in SQLite (the standard library's ``sqlite3``).

The WSGI app runs in minihttp's thread pool, and a sqlite3 connection belongs
to the thread that opened it: each call opens its own connection and closes it,
which for a file on local disk costs well under a millisecond. SQLite
serialises writers itself (``timeout`` waits for a busy database rather than
failing). SQL takes values only as parameters, never by formatting.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager

from .forms import Person

DATABASE_NAME = "people.sqlite3"
# How many of the latest entries the page lists: the page stays small however
# many people register.
SHOWN = 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS people (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    registered_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
)
"""


class People:
    """The registrations stored in ``folder``/people.sqlite3, created on first use."""

    def __init__(self, folder: str) -> None:
        self.path = os.path.join(folder, DATABASE_NAME)
        self._folder = folder

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        os.makedirs(self._folder, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=5.0)) as connection:
            connection.execute(_SCHEMA)
            with connection:  # commits, or rolls back on an exception
                yield connection

    def add(self, person: Person) -> None:
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO people (first_name, last_name) VALUES (?, ?)",
                (person.first_name, person.last_name),
            )

    def latest(self, limit: int = SHOWN) -> list[Person]:
        """The last ``limit`` people registered, oldest first."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT first_name, last_name FROM"
                " (SELECT id, first_name, last_name FROM people ORDER BY id DESC LIMIT ?)"
                " ORDER BY id",
                (limit,),
            ).fetchall()
        return [Person(str(first), str(last)) for first, last in rows]
