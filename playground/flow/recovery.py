"""Paid tasks are finished even when nobody waits for them any more.

After a Cancel, a client-side timeout, or a restart of the app, an accepted task may still
complete on the server and be billed. The Recovery worker owns one event loop in a daemon
thread and drives such tasks to the end with `generation.follow_to_end`: the video is downloaded
into the data directory and the record in history completed (or marked failed).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

from playground.flow import generation
from playground.model.status import RunStatus
from playground.store import RunStore
from wavespeed_client import (
    AuthenticationError,
    ConnectionPools,
    TaskFailed,
    WaveSpeedClient,
    WaveSpeedError,
)

log = logging.getLogger(__name__)

# One wait for a task nobody watches; past it (a long queue on a busy account) the worker
# asks again after a pause, like after any other failure.
BACKGROUND_DEADLINE_S = 60 * 60.0
# WaveSpeed keeps a task and its outputs for 7 days: until then it is worth asking about.
RETENTION_S = 7 * 24 * 3600.0
# After a failure (5xx, no connection, a timeout, a full disk) the worker asks again after
# this long, doubling up to RETRY_MAX_S: an outage of minutes costs a few requests.
RETRY_FIRST_S = 5.0
RETRY_MAX_S = 300.0

ClientFactory = Callable[[], WaveSpeedClient]


class Recovery:
    def __init__(
        self,
        store: RunStore,
        stats: generation.DurationStats,
        *,
        retry_first_s: float | None = None,
        retry_max_s: float | None = None,
    ) -> None:
        self.store = store
        self.stats = stats
        self.retry_first_s = RETRY_FIRST_S if retry_first_s is None else retry_first_s
        self.retry_max_s = RETRY_MAX_S if retry_max_s is None else retry_max_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="recovery", daemon=True)
        self._thread.start()
        self._active: set[str] = set()
        self._lock = threading.Lock()

    def adopt(
        self,
        make_client: ClientFactory,
        record: generation.RunRecord,
        *,
        account: str,
        resumable: bool,
    ) -> Future[Any] | None:
        """Poll `record`'s task to completion in the background; None if already running.

        `make_client` is called inside the worker's loop (httpx clients belong to one loop).
        """
        with self._lock:
            if record.id in self._active:
                return None
            self._active.add(record.id)
        coro = self._follow(make_client, record, account, resumable)
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _follow(
        self,
        make_client: ClientFactory,
        record: generation.RunRecord,
        account: str,
        resumable: bool,
    ) -> generation.RunRecord:
        def save(rec: generation.RunRecord) -> None:
            self.store.save(rec.to_json(), account=account, resumable=resumable)

        try:
            async with make_client() as client:
                for attempt in itertools.count():
                    try:
                        async for item in generation.follow_to_end(
                            client,
                            record,
                            stats=self.stats,
                            on_save=save,
                            deadline_s=BACKGROUND_DEADLINE_S,
                        ):
                            if isinstance(item, generation.RunRecord):
                                log.info("task %s finished in the background", record.id)
                        return record
                    except TaskFailed:
                        log.info("task %s failed; its record says why", record.id)
                        return record
                    except AuthenticationError as exc:
                        # This key cannot ask any more: the next start may, with the owner's.
                        log.warning("task %s cannot be polled now: %s", record.id, exc)
                        return record
                    except (WaveSpeedError, OSError) as exc:
                        if _past_retention(record):
                            log.warning("task %s: gave up after 7 days: %s", record.id, exc)
                            return record
                        delay = min(self.retry_max_s, self.retry_first_s * 2**attempt)
                        log.warning(
                            "task %s not finished yet (%s); asking again in %.0f s",
                            record.id,
                            exc,
                            delay,
                        )
                        await asyncio.sleep(delay)
        finally:
            with self._lock:
                self._active.discard(record.id)
        return record

    def stop(self) -> None:
        """Stop the worker; tasks still polling are cancelled (history keeps them unfinished,
        so the next start resumes them)."""

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(cancel_all(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


def resume_unfinished(
    store: RunStore,
    recovery: Recovery,
    *,
    api_key: str | None,
    base_url: str,
    pools: ConnectionPools,
) -> list[str]:
    """At start-up: poll again every accepted-but-unfinished run this app can still reach.

    Runs started with the owner's key on the same API are resumed. Runs started with a
    visitor's key (never stored) or on the in-process emulator (gone with the old process)
    cannot be; they are marked interrupted, with their task id kept for looking them up.
    Returns the ids being resumed.
    """
    resumed = []
    for run in store.unfinished():
        record = generation.RunRecord.from_json(run.record)
        if run.resumable and api_key and record.api_base == base_url:
            recovery.adopt(
                functools.partial(pools.client, api_key, base_url),
                record,
                account=run.account,
                resumable=True,
            )
            resumed.append(record.id)
        elif not run.resumable:
            record.status = RunStatus.INTERRUPTED
            record.error = _interrupted_because(record, base_url)
            store.save(record.to_json(), account=run.account, resumable=False)
    if resumed:
        log.info("resuming %d unfinished task(s) from history", len(resumed))
    return resumed


def _interrupted_because(record: generation.RunRecord, base_url: str) -> str:
    if record.key_tag and record.api_base == base_url:
        return (
            "The app restarted while this task ran on your own key, which the app never "
            "stores. Paste the same key under “Backend & API key” within 7 days of the "
            f"run and it will be fetched into History (task id {record.id})."
        )
    return (
        "The app restarted while this task ran, and it cannot be polled again "
        f"(it used a key the app does not keep, or the offline emulator). Task id "
        f"{record.id}: look it up on WaveSpeed if it was a paid run."
    )


def collectable(record: generation.RunRecord, key_tag: str, base_url: str) -> bool:
    """A run a restart interrupted that the key with `key_tag` can still fetch."""
    return (
        record.status is RunStatus.INTERRUPTED
        and record.key_tag == key_tag
        and record.api_base == base_url
        and not _past_retention(record)
    )


def _past_retention(record: generation.RunRecord) -> bool:
    """Whether WaveSpeed has forgotten the task by now (7 days after it was accepted)."""
    try:
        created = datetime.fromisoformat(record.created_at)
    except ValueError:
        return False
    return (datetime.now(UTC) - created).total_seconds() > RETENTION_S
