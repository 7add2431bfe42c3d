"""Persistence: every run and what quotas count, behind one interface.

`RunStore` is what the rest of the app may ask of a store; `history.History` is the SQLite
one (a file beside the outputs). A store for several replicas (PostgreSQL, say) would be one
new module implementing the same methods; `quotas.Quota` counts through them too (its
reservations are held in process memory: replicas would keep those in the store as well).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from playground.store.history import StoredRun


class RunStore(Protocol):
    # Set when the store found itself damaged at this start and began afresh: where the
    # damaged one was kept, and when. Its runs cannot be counted, so quotas assume the worst.
    damaged: Path | None
    damaged_at: datetime | None

    def save(self, record: dict[str, Any], *, account: str, resumable: bool) -> None: ...

    def get(self, run_id: str, *, account: str | None = None) -> StoredRun | None: ...

    def list(
        self,
        *,
        account: str | None = None,
        search: str = "",
        status: str | None = None,
        model: str | None = None,
        starred: bool = False,
        limit: int = 200,
    ) -> list[StoredRun]: ...

    def models(self, *, account: str | None = None) -> list[str]: ...

    def star(self, run_id: str, on: bool, *, account: str | None = None) -> bool: ...

    def annotate(self, run_id: str, note: str, *, account: str | None = None) -> bool: ...

    def unfinished(self) -> list[StoredRun]: ...

    def total_spent(self, *, account: str | None = None, offline: bool = False) -> float: ...

    def delete(self, run_id: str, *, account: str | None = None) -> bool: ...

    def restore(self, run_id: str, *, account: str | None = None) -> bool: ...

    def purge(self, *, deleted_before: datetime | None = None) -> list[str]: ...

    def prune(
        self, *, max_age_days: float | None = None, max_bytes: int | None = None
    ) -> list[str]: ...

    def count_runs(
        self,
        *,
        account: str | None = None,
        since: datetime | None = None,
        resumable: bool | None = None,
    ) -> int: ...

    def spent(self, *, since: datetime | None = None, resumable: bool | None = None) -> float: ...

    def close(self) -> None: ...


__all__ = ["RunStore", "StoredRun"]
