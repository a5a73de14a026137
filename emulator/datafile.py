"""The data file (--data-file): the state in SQLite, committed before each answer, read at start.

The in-memory store stays the query engine; this is its durable record. The store hands each
write's changes to `DataFile.write` under its lock; `flush` then commits, outside the lock,
every change written so far in one transaction (a group commit: whoever flushes first writes
for the writers queued behind it), so a call is answered only once it is in the file.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator import limits, snapshot
from emulator.calls import JSON
from emulator.changes import Change, Sink
from emulator.datafile_read import Damaged, read
from emulator.datafile_rows import SCHEMA, SCHEMA_VERSION, Op, Rows
from emulator.errors import EmulatorError

if TYPE_CHECKING:
    from emulator.store import Store

# --data-sync: normal survives a crash of the process (WAL, synced at checkpoints), full
# survives losing power too (the WAL synced at every commit).
SYNC_MODES = {"normal": "NORMAL", "full": "FULL"}
_HEADER = b"SQLite format 3\x00"
# Pages the WAL grows to before they are copied into the database (SQLite's default is 1000):
# a page written again and again is copied once, which makes a write a third cheaper.
CHECKPOINT_PAGES = 10_000
_START_EMPTY = "or move it away to start with an empty state"


def _refuse(path: str, problem: str, fix: str) -> EmulatorError:
    return EmulatorError("invalid_data_file", f"--data-file {path} {problem}; {fix}.")


class DataFile(Sink):
    """A data file this process holds: it records the store's changes and commits them."""

    recording = True

    def __init__(self, conn: sqlite3.Connection, path: str, sync: str, rows: Rows) -> None:
        self.path = path
        self.sync = sync
        self._conn = conn
        self._rows = rows
        self._documents: dict[str, Any] = {}
        self._pending: list[Op] = []
        self._written = 0  # changes written, in the store's order
        self._done = 0  # changes committed
        self._leading = False  # whether a thread is committing now
        self._failed: str | None = None
        self._closed = False
        self._cond = threading.Condition()
        self._local = threading.local()  # .ticket: the last change this thread wrote

    def describe(self) -> JSON | None:
        """Return health's durable field: the file's path and sync mode."""
        return {"path": self.path, "sync": self.sync}

    def documents(self) -> dict[str, Any]:
        """Return the documents the file held when it was opened."""
        return dict(self._documents)

    def check(self) -> None:
        """Refuse writes once a commit failed or the file closed: memory would run ahead."""
        if self._closed:
            raise EmulatorError(
                "data_file_failed",
                f"The data file {self.path} is closed: the emulator is stopping. Send the call "
                "again once it runs.",
                503,
            )
        if self._failed is not None:
            raise EmulatorError(
                "data_file_failed",
                f"The data file {self.path} could not be written ({self._failed}), so the "
                "emulator takes no more writes; every call answered before is in the file. "
                "Free the disk or fix the file's permissions, then restart the emulator.",
                507,
            )

    def write(self, change: Change) -> None:
        """Queue the SQL of a change (the store's lock is held, so changes keep their order)."""
        ops = self._rows.ops(change)
        with self._cond:
            self._pending += ops
            self._written += 1
            self._local.ticket = self._written

    def flush(self) -> None:
        """Return once this thread's changes are committed; raise if their commit failed."""
        ticket = getattr(self._local, "ticket", 0)
        if ticket <= self._done:
            return
        with self._cond:
            while self._done < ticket and self._failed is None:
                if self._leading:
                    self._cond.wait()
                    continue
                self._leading = True
                batch, self._pending, upto = self._pending, [], self._written
                self._cond.release()
                try:
                    failure = self._commit(batch)
                finally:
                    self._cond.acquire()
                    self._leading = False
                    self._cond.notify_all()
                if failure is None:
                    self._done = upto
                else:
                    self._failed = failure
            if self._done < ticket:
                self.check()

    def _commit(self, batch: list[Op]) -> str | None:
        """Run a batch of SQL in one transaction; return why it failed, or None."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            for sql, params in batch:
                self._conn.executemany(sql, params)
            self._conn.execute("COMMIT")
        except Exception as exc:  # whatever it was, these changes are not in the file
            with contextlib.suppress(Exception):
                self._conn.execute("ROLLBACK")
            return str(exc) or type(exc).__name__
        return None

    def close(self) -> None:
        """Commit anything queued, then close the file (a clean close folds the WAL in)."""
        with self._cond:
            while self._leading:
                self._cond.wait()
            self._closed = True
            batch, self._pending = self._pending, []
        if batch and self._failed is None:
            self._commit(batch)
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()


def _check_kind(target: Path, path: str) -> None:
    """Refuse a directory, or a file that does not begin as a SQLite database does."""
    if target.is_dir():
        raise _refuse(path, "is a directory", "name a file in it")
    blocker = next((p for p in target.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise _refuse(
            path,
            f"cannot be created: {blocker} is a file, not a directory",
            "choose a file in a directory the emulator may write to",
        )
    try:
        with target.open("rb") as fh:
            head = fh.read(len(_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _refuse(path, f"cannot be read ({exc.strerror})", "check its permissions") from None
    if head and head != _HEADER:
        raise _refuse(
            path,
            "is not a SQLite database (nor an emulator's data file)",
            f"name a new file, {_START_EMPTY}",
        )


def _connect(target: Path, path: str) -> sqlite3.Connection:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # No busy timeout: a file another process holds is refused at once.
        return sqlite3.connect(target, timeout=0, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise _refuse(
            path, f"cannot be opened ({exc})", "choose a file in a directory the emulator may write"
        ) from None


@contextlib.contextmanager
def _refusing(path: str) -> Iterator[None]:
    """Turn SQLite's errors into refusals that name the file: held, damaged, not writable."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise _refuse(
                path,
                "is in use by another process (another emulator holds it)",
                "stop that process, or give this one another --data-file",
            ) from None
        raise _damaged(path, exc) from None
    except (sqlite3.DatabaseError, Damaged) as exc:
        raise _damaged(path, exc) from None


def _take(conn: sqlite3.Connection) -> None:
    """Hold the file for this process's life: an exclusive lock, taken now and kept."""
    # Set before WAL mode is entered, it also keeps the WAL index in this process's memory.
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")
    # The first write transaction takes the lock, and EXCLUSIVE mode never gives it back.
    conn.execute("BEGIN EXCLUSIVE")


def _wal(conn: sqlite3.Connection, path: str, sync: str) -> None:
    """Put the file in WAL mode with the sync asked for (only once it is known to be ours)."""
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise _refuse(path, f"cannot be used in WAL mode (it stays {mode})", "name another file")
    conn.execute(f"PRAGMA synchronous={SYNC_MODES[sync]}")
    conn.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")


def _damaged(path: str, detail: Any) -> EmulatorError:
    # SQLite's integrity report spans lines and opens with a banner: keep one line.
    text = " ".join(str(detail).replace("*** in database main ***", "").split()).rstrip(".")
    if "not a database" in text:
        return _refuse(
            path,
            "is not a SQLite database (nor an emulator's data file)",
            f"name a new file, {_START_EMPTY}",
        )
    if "readonly" in text or "unable to open" in text:
        return _refuse(
            path,
            f"cannot be written ({text[:120]})",
            "let the emulator write the file and its directory, or choose another file",
        )
    return _refuse(path, f"is damaged ({text[:120]})", f"restore it from a copy, {_START_EMPTY}")


def _has_json(conn: sqlite3.Connection) -> bool:
    """Return whether this SQLite has its JSON functions (built in since 3.38)."""
    try:
        conn.execute("SELECT json_valid('{}')")
    except sqlite3.OperationalError:
        return False
    return True


def _schema(conn: sqlite3.Connection, path: str) -> bool:
    """Return whether the file is new (no tables); refuse a newer schema, or another database."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return True
    if "schema_version" not in tables:
        raise _refuse(
            path,
            "is a SQLite database but not an emulator's data file (it has no schema_version table)",
            "name a new file for the emulator's state",
        )
    found = conn.execute("SELECT version FROM schema_version").fetchall()
    version = found[0][0] if len(found) == 1 else None
    if type(version) is not int or version < 1:
        raise _damaged(path, f"schema_version holds {found!r}, not one version number")
    if version > SCHEMA_VERSION:
        raise _refuse(
            path,
            f"was written by a newer wishpond-emulator (data file schema {version}; this one "
            f"reads schema {SCHEMA_VERSION})",
            "upgrade wishpond-emulator, or give this one another --data-file",
        )
    return False


def open_into(store: Store, path: str, sync: str = "normal") -> DataFile:
    """Open (or create) a data file, hold it, load its state into store, and attach it.

    Whatever is wrong with the file is refused whole, before the store holds any of it.
    """
    target = Path(path).absolute()
    _check_kind(target, path)
    conn = _connect(target, path)
    collecting = gc.isenabled()
    gc.disable()  # many objects, none of them garbage: don't scan them mid-load
    try:
        with _refusing(path):
            _take(conn)
            # Checked before anything is written: a file that is refused stays as it was.
            problem = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
            if problem != "ok":
                raise _damaged(path, problem)
            new = _schema(conn, path)
            conn.execute("COMMIT")
            _wal(conn, path, sync)
            conn.execute("BEGIN")
            if new:
                for statement in SCHEMA:
                    conn.execute(statement)
            found = read(conn.execute, _has_json(conn))
            conn.execute("COMMIT")
        try:
            # The one rule for state that comes in, whichever way: nesting, schema, ids. A row
            # sits four levels down the document (merchants, the merchant, its list, the row)
            # and nests no deeper than the brackets it opens: within that, nesting is known.
            shallow = found.brackets + 4 < limits.STATE_DEPTH
            store.load(snapshot.admit(found.doc, nesting_checked=shallow))
        except EmulatorError as exc:
            detail = exc.message.rstrip(".")
            raise _refuse(
                path,
                f"holds state that does not load: {detail}",
                f"restore it from a copy, {_START_EMPTY}",
            ) from None
        data = DataFile(conn, os.fspath(target), sync, Rows(found.numbers, found.held))
        data._documents = found.documents
    except BaseException:
        conn.close()
        raise
    finally:
        if collecting:
            gc.enable()
    store.attach(data)
    return data
