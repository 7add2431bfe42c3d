"""A durable record of every run, in SQLite: written the moment the API accepts a task.

One row per task id, holding the run record as JSON plus the few columns that are searched
or sorted on. WAL mode, so the UI reads while a run writes, and a crash mid-write loses
nothing committed. Stdlib only.

Rows are never removed: quotas count them (a visitor's runs over all time, everyone's runs
this hour, the day's spend), so deleting runs must not buy a fresh allowance. A run its
account deletes is hidden at once but kept whole (`trashed`) so that Undo can bring it back
(`restore`); `purge` later frees its files and details, after `UNDO_GRACE_S` or when
housekeeping deletes runs itself. Then only its id, account, time and cost stay (a few
hundred bytes).

A star and a note are the person's own marks on a run: columns of their own, never inside
the record, so a later save of the record (recovery finishing it) cannot lose them.

The `owner` column holds the run's account (a signed-in user, a session, or "local").
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playground.model.status import FINISHED, RunStatus

log = logging.getLogger(__name__)

LOCAL_ACCOUNT = "local"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id          TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    cost_usd    REAL,
    resumable   INTEGER NOT NULL DEFAULT 0,
    record      TEXT NOT NULL,
    deleted_at  TEXT,
    trashed     INTEGER NOT NULL DEFAULT 0,
    starred     INTEGER NOT NULL DEFAULT 0,
    note        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_owner_created ON runs (owner, created_at DESC);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
"""


DATABASE = "history.db"
# The backend label of a run made on the offline emulator (flow.routes): free, so its
# WaveSpeed price is what it would have cost, never money spent.
OFFLINE_BACKEND = "offline emulator"
# How long a deleted run can be brought back before its files are freed (purge).
UNDO_GRACE_S = 10 * 60
NOTE_MAX_CHARS = 500  # a note is a reminder beside a run, not a document
# Columns added after the first release, with how ALTER TABLE adds each to an old database.
_ADDED_COLUMNS = {
    "deleted_at": "deleted_at TEXT",
    "trashed": "trashed INTEGER NOT NULL DEFAULT 0",
    "starred": "starred INTEGER NOT NULL DEFAULT 0",
    "note": "note TEXT NOT NULL DEFAULT ''",
}


def database_files(data_dir: Path) -> list[Path]:
    """The database and its WAL companions: never to be served over HTTP."""
    return [data_dir / f"{DATABASE}{suffix}" for suffix in ("", "-wal", "-shm", "-journal")]


@dataclass(frozen=True)
class StoredRun:
    id: str
    account: str
    status: RunStatus
    created_at: str
    record: dict[str, Any]
    resumable: bool
    starred: bool = False
    note: str = ""

    @property
    def finished(self) -> bool:
        return self.status.finished


class History:
    """The run store. Thread-safe: one connection per thread, all in WAL mode."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        # Where a damaged database was moved aside at this start, if it was; when.
        self.damaged: Path | None = None
        self.damaged_at: datetime | None = None
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            self._move_aside(str(exc))
            self._open()

    def _open(self) -> None:
        if self.path.is_file() and self.path.stat().st_size == 0:
            # This app never leaves an empty database: a file cut to nothing (a full disk,
            # a bad copy) would otherwise read as "nothing spent today".
            raise sqlite3.DatabaseError("the file is empty")
        db = self._connection()
        (verdict,) = db.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {verdict}")
        db.executescript(_SCHEMA)
        self._migrate()

    def _move_aside(self, why: str) -> None:
        """Keep a damaged database (never delete it: it holds what was paid) under a new
        name, with its WAL companions, and start afresh."""
        self.close()
        stamp = datetime.now(UTC)
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp:%Y%m%dT%H%M%SZ}")
        for companion in ("", "-wal", "-shm", "-journal"):
            source = Path(f"{self.path}{companion}")
            if source.exists():
                source.rename(f"{aside}{companion}")
        self.damaged, self.damaged_at = aside, stamp
        log.error(
            "history database %s was damaged (%s): moved aside to %s and started afresh; "
            "today's spend counts as the whole daily cap",
            self.path,
            why,
            aside.name,
        )

    def _migrate(self) -> None:
        """Bring a database made by an older version up to _SCHEMA. In one write
        transaction, so two processes opening it at once cannot both add a column."""
        with self._tx() as db:
            columns = {row["name"] for row in db.execute("PRAGMA table_info(runs)")}
            for name, definition in _ADDED_COLUMNS.items():
                if name not in columns:
                    db.execute(f"ALTER TABLE runs ADD COLUMN {definition}")

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            # timeout: wait for another writer's lock rather than fail the run
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def save(self, record: dict[str, Any], *, account: str, resumable: bool) -> None:
        """Insert or update a run. `resumable`: it can be polled again after a restart."""
        now = _now()
        with self._tx() as db:
            db.execute(
                """INSERT INTO runs (id, owner, status, created_at, updated_at, cost_usd,
                                     resumable, record)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(id) DO UPDATE SET status=excluded.status,
                       updated_at=excluded.updated_at, cost_usd=excluded.cost_usd,
                       record=excluded.record""",
                (
                    record["id"],
                    account,
                    record["status"],
                    record.get("created_at") or now,
                    now,
                    record.get("cost_usd"),
                    int(resumable),
                    json.dumps(record, ensure_ascii=False),
                ),
            )

    def get(self, run_id: str, *, account: str | None = None) -> StoredRun | None:
        """One run not deleted; with `account`, only if it belongs to that account."""
        sql = "SELECT * FROM runs WHERE id = ? AND deleted_at IS NULL"
        args: list[Any] = [run_id]
        if account is not None:
            sql += " AND owner = ?"
            args.append(account)
        row = self._connection().execute(sql, args).fetchone()
        return _stored(row) if row else None

    def list(
        self,
        *,
        account: str | None = None,
        search: str = "",
        status: str | None = None,
        model: str | None = None,
        starred: bool = False,
        limit: int = 200,
    ) -> list[StoredRun]:
        """Runs not deleted, newest first; `account` None means every account (the local
        single-user app). `status`, `model` and `starred` narrow it, with `search`."""
        where, args = _filters(account, None, None, status=status, model=model, starred=starred)
        sql = f"SELECT * FROM runs{_and(where, 'deleted_at IS NULL')}"
        if search.strip():
            # The record holds prompt, seed, id and model: one LIKE finds any of them; the
            # person's note is searched too.
            sql += " AND (record LIKE ? ESCAPE '\\' OR note LIKE ? ESCAPE '\\')"
            pattern = f"%{_escape_like(search.strip())}%"
            args += [pattern, pattern]
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        args.append(limit)
        return [_stored(row) for row in self._connection().execute(sql, args)]

    def models(self, *, account: str | None = None) -> list[str]:
        """The models of an account's runs not deleted, by name: History's model filter."""
        where, args = _filters(account, None, None)
        rows = self._connection().execute(
            "SELECT DISTINCT json_extract(record, '$.model') AS model FROM runs"
            f"{_and(where, 'deleted_at IS NULL')} AND model IS NOT NULL ORDER BY model",
            args,
        )
        return [str(row["model"]) for row in rows]

    def star(self, run_id: str, on: bool, *, account: str | None = None) -> bool:
        """Star a run not deleted (or take the star off); whether there was such a run."""
        return self._mark(run_id, account, "starred = ?", int(bool(on)))

    def annotate(self, run_id: str, note: str, *, account: str | None = None) -> bool:
        """Set a run's note (clean_note's rules; empty removes it); whether it was found."""
        return self._mark(run_id, account, "note = ?", clean_note(note))

    def _mark(self, run_id: str, account: str | None, assignment: str, value: Any) -> bool:
        where, args = _filters(account, None, None)
        with self._tx() as db:
            changed = db.execute(
                f"UPDATE runs SET {assignment}{_and(where, 'id = ? AND deleted_at IS NULL')}",
                [value, *args, run_id],
            ).rowcount
        return changed == 1

    def unfinished(self) -> list[StoredRun]:
        """Runs accepted by the API whose outcome is not known yet, oldest first."""
        marks = ",".join("?" * len(FINISHED))
        rows = self._connection().execute(
            f"SELECT * FROM runs WHERE status NOT IN ({marks}) ORDER BY created_at", FINISHED
        )
        return [_stored(row) for row in rows]

    def total_spent(self, *, account: str | None = None, offline: bool = False) -> float:
        """USD of completed runs (failed tasks are not billed), deleted ones included: the
        money was spent all the same, and a total that drops on delete would mislead.
        With `offline`, what the offline emulator's free runs would have cost instead."""
        made_offline = "COALESCE(json_extract(record, '$.backend'), '') = ?"
        sql = (
            "SELECT COALESCE(SUM(cost_usd), 0) FROM runs WHERE status = ? AND "
            + ("" if offline else "NOT ")
            + made_offline
        )
        args: list[Any] = [RunStatus.COMPLETED.value, OFFLINE_BACKEND]
        if account is not None:
            sql += " AND owner = ?"
            args.append(account)
        return float(self._connection().execute(sql, args).fetchone()[0])

    def delete(self, run_id: str, *, account: str | None = None) -> bool:
        """Hide a finished run, keeping its record and files for `restore` until `purge`
        (Undo). Whether there was such a run to delete."""
        run = self.get(run_id, account=account)
        if run is None or not run.finished:
            return False
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET deleted_at = ?, trashed = 1 WHERE id = ? AND deleted_at IS NULL",
                (_now(), run_id),
            )
        return True

    def restore(self, run_id: str, *, account: str | None = None) -> bool:
        """Bring back a deleted run whose files were not freed yet; whether it came back."""
        where, args = _filters(account, None, None)
        with self._tx() as db:
            changed = db.execute(
                "UPDATE runs SET deleted_at = NULL, trashed = 0"
                f"{_and(where, 'id = ? AND trashed = 1')}",
                [*args, run_id],
            ).rowcount
        return changed == 1

    def purge(self, *, deleted_before: datetime | None = None) -> list[str]:
        """Free the files and details of deleted runs (all, or those deleted before
        `deleted_before`): the row keeps only what quotas and the total spent need, not
        the prompt, the note or the paths. The ids purged."""
        sql, args = "SELECT * FROM runs WHERE trashed = 1", []
        if deleted_before is not None:
            sql += " AND deleted_at < ?"
            args.append(deleted_before.isoformat(timespec="seconds"))
        purged = []
        for row in self._connection().execute(sql, args).fetchall():
            self._discard(_stored(row))
            purged.append(row["id"])
        return purged

    def _discard(self, run: StoredRun) -> None:
        """Hide a run for good: its files and details go, what quotas count stays."""
        kept = {
            "id": run.id,
            "status": run.status,
            "created_at": run.created_at,
            "cost_usd": run.record.get("cost_usd"),
            "backend": run.record.get("backend"),  # offline runs were free
        }
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET deleted_at = COALESCE(deleted_at, ?), trashed = 0, "
                "starred = 0, note = '', record = ? WHERE id = ?",
                (_now(), json.dumps(kept), run.id),
            )
        for path in run_files(run.record):
            path.unlink(missing_ok=True)

    def prune(
        self, *, max_age_days: float | None = None, max_bytes: int | None = None
    ) -> list[str]:
        """Housekeeping: deleted runs past the undo grace are purged; where a limit is set,
        the oldest finished runs are deleted for good (no undo) until none is older than
        `max_age_days` and all files fit in `max_bytes`. Their rows keep counting towards
        quotas. The ids housekeeping deleted (not those purged after a person's delete)."""
        self.purge(deleted_before=datetime.now(UTC) - timedelta(seconds=UNDO_GRACE_S))
        if max_age_days is None and max_bytes is None:
            return []
        finished = [r for r in reversed(self.list(limit=1_000_000)) if r.finished]  # oldest first
        sizes = {
            r.id: sum(p.stat().st_size for p in run_files(r.record) if p.is_file())
            for r in finished
        }
        total = sum(sizes.values())
        cutoff = (
            datetime.now(UTC).timestamp() - max_age_days * 86400
            if max_age_days is not None
            else None
        )
        deleted = []
        for run in finished:
            too_old = cutoff is not None and _timestamp(run.created_at) < cutoff
            too_big = max_bytes is not None and total > max_bytes
            if not (too_old or too_big):
                continue
            self._discard(run)
            total -= sizes[run.id]
            deleted.append(run.id)
        return deleted

    def count_runs(
        self,
        *,
        account: str | None = None,
        since: datetime | None = None,
        resumable: bool | None = None,
    ) -> int:
        """Accepted runs, whatever became of them, deleted ones too (quotas count
        attempts)."""
        where, args = _filters(account, since, resumable)
        return int(
            self._connection().execute(f"SELECT COUNT(*) FROM runs{where}", args).fetchone()[0]
        )

    def spent(self, *, since: datetime | None = None, resumable: bool | None = None) -> float:
        """USD of runs that are or may be billed: all accepted runs but the failed ones,
        deleted ones too."""
        where, args = _filters(None, since, resumable)
        where += (" AND" if where else " WHERE") + " status != ?"
        args.append(RunStatus.FAILED.value)
        row = self._connection().execute(
            f"SELECT COALESCE(SUM(cost_usd), 0) FROM runs{where}", args
        )
        return float(row.fetchone()[0])

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def _filters(
    account: str | None,
    since: datetime | None,
    resumable: bool | None,
    *,
    status: str | None = None,
    model: str | None = None,
    starred: bool = False,
) -> tuple[str, list[Any]]:
    clauses, args = [], []
    if account is not None:
        clauses.append("owner = ?")
        args.append(account)
    if since is not None:
        clauses.append("created_at >= ?")
        args.append(since.isoformat(timespec="seconds"))
    if resumable is not None:
        clauses.append("resumable = ?")
        args.append(int(resumable))
    if status is not None:
        clauses.append("status = ?")
        args.append(status)
    if model is not None:
        clauses.append("json_extract(record, '$.model') = ?")
        args.append(model)
    if starred:
        clauses.append("starred = 1")
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


def _and(where: str, clause: str) -> str:
    """`where` (from _filters, maybe empty) with one more clause."""
    return f"{where} AND {clause}" if where else f" WHERE {clause}"


def clean_note(text: object) -> str:
    """A note as kept: text only, without control characters, its whitespace (newlines
    too) one space, at most NOTE_MAX_CHARS."""
    if not isinstance(text, str):
        return ""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(printable.split())[:NOTE_MAX_CHARS]


def _stored(row: sqlite3.Row) -> StoredRun:
    return StoredRun(
        id=row["id"],
        account=row["owner"],
        status=RunStatus(row["status"]),
        created_at=row["created_at"],
        record=json.loads(row["record"]),
        resumable=bool(row["resumable"]),
        starred=bool(row["starred"]),
        note=row["note"] or "",
    )


def run_files(record: dict[str, Any]) -> list[Path]:
    """Every file a run wrote: the video, its JSON sidecar, its kept inputs and thumbnail."""
    files = [Path(p) for p in (record.get("input_files") or {}).values()]
    if video := record.get("video_path"):
        files += [Path(video), Path(video).with_suffix(".json")]
    return files


def _timestamp(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return float("inf")  # unreadable dates are never "too old"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
