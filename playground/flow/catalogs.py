"""Where the app's catalog comes from: WaveSpeed's live one, a disk cache, or the snapshot.

One current `Catalog` per API base. `current()` never blocks on the network and never
raises: the one in memory, else the disk cache (even if stale), else the bundled snapshot,
each saying so in its note. `load()` reads the live catalog within LOAD_WAIT_S (for
start-up and first use) unless the disk cache is younger than the TTL, and
`refresh_soon()` starts one background refresh per base once the catalog is an hour old:
WaveSpeed's own MCP server and CLI cache it on disk for an hour the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from playground.model import catalog
from wavespeed_client import READ_TIMEOUT_MODELS_S, WaveSpeedError

log = logging.getLogger(__name__)

TTL_S = 3600.0  # as WaveSpeed's MCP server and CLI cache it
# A catalog read at start-up or first use waits this long, then the app goes on with what
# it has (a cached or bundled catalog) while the read goes on in the background.
LOAD_WAIT_S = 8.0
# A read in the background blocks nobody, yet must end: the client retries 5xx and
# timeouts with backoff (up to MAX_GET_ATTEMPTS silences of READ_TIMEOUT_MODELS_S each,
# minutes), and a catalog is megabytes. Longer than one READ_TIMEOUT_MODELS_S, so that a
# server that assembles the catalog slowly still lands once; past this, it counts as failed.
REFRESH_WAIT_S = 2 * READ_TIMEOUT_MODELS_S
# After a failed read, neither clicks (refresh_soon) nor first uses (load) ask again for
# this long: an API that is down is not asked on every click, nor waited for each time.
RETRY_PAUSE_S = 60.0


class ModelLister(Protocol):
    """What reads the catalog: WaveSpeedClient, or a test's fake."""

    async def models(self) -> list[dict[str, Any]]: ...


@dataclass
class _Base:
    """What is known about one API base's catalog."""

    catalog: catalog.Catalog | None = None  # the newest read: live, or from the disk
    disk_read: bool = False
    failure: str | None = None  # why the last read failed, a sentence without secrets
    failed_at: float | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Catalogs:
    """The catalog per API base: in memory, on disk, or bundled."""

    def __init__(
        self, cache_dir: Path, *, ttl_s: float = TTL_S, clock: Callable[[], float] = time.time
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.ttl_s = ttl_s
        self._clock = clock  # wall time: fetched_at is kept on disk across restarts
        self._bases: dict[str, _Base] = {}
        # Every refresh task, held until it ends: the loop keeps only weak references.
        self._tasks: set[asyncio.Task[None]] = set()

    def current(self, base_url: str) -> catalog.Catalog:
        """The best catalog known now for `base_url`, without waiting for the network."""
        try:
            base = self._base(base_url)
            if base.catalog is None and not base.disk_read:
                base.disk_read = True
                base.catalog = self._read_cache(base_url)
            if base.catalog is not None:
                return self._described(base.catalog, base)
            return self._snapshot(base)
        except Exception:  # a bug here must not take the page down: the bundled models
            log.exception("catalog of %s not available", base_url)
        try:
            bundled = catalog.snapshot()
            return replace(bundled, note=f"bundled snapshot ({bundled.note}): an internal error")
        except Exception:  # the bundled file itself is broken: no models, said so
            log.exception("bundled catalog not available")
            return catalog.Catalog({}, source="snapshot", note="no catalog could be read")

    async def load(self, base_url: str, client: ModelLister) -> catalog.Catalog:
        """A fresh catalog: the one in memory or on disk if younger than the TTL, else the
        live one (waited for up to LOAD_WAIT_S); otherwise what `current` has, its note
        saying why."""
        base = self._base(base_url)
        if base.catalog is None or self._stale(base.catalog):
            cached = await asyncio.to_thread(self._read_cache, base_url)
            base.disk_read = True
            if cached is not None and (base.catalog is None or _newer(cached, base.catalog)):
                base.catalog = cached
        if base.catalog is not None and not self._stale(base.catalog):
            return self._described(base.catalog, base)
        if not self._pausing(base):
            task = self._running(base) or self._start(base_url, client)
            try:
                await asyncio.wait_for(asyncio.shield(task), LOAD_WAIT_S)
            except TimeoutError:
                # The read goes on; whatever it ends with replaces this.
                base.failure = f"WaveSpeed did not send it within {LOAD_WAIT_S:.0f} s"
        return self.current(base_url)

    def refresh_soon(self, base_url: str, client: ModelLister) -> asyncio.Task[None] | None:
        """Refresh in the background when the catalog is older than the TTL or none was
        ever read (the snapshot): at most one refresh per base at a time, none for
        RETRY_PAUSE_S after a failure. Never raises; the task, when one runs."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop here: refreshed on another call
            return None
        try:
            base = self._base(base_url)
            if base.catalog is None and not base.disk_read:
                self.current(base_url)  # the disk cache counts, fresh or not
            if base.catalog is not None and not self._stale(base.catalog):
                return None
            if base.task is not None and not base.task.done():
                return base.task if base.task.get_loop() is loop else None
            if self._pausing(base):
                return None
            return self._start(base_url, client)
        except Exception:
            log.exception("catalog refresh of %s not started", base_url)
            return None

    # ------------------------------------------------------------------ reading

    def _start(self, base_url: str, client: ModelLister) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(
            self._refresh(base_url, client), name=f"catalog refresh {base_url}"
        )
        self._base(base_url).task = task
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _running(self, base: _Base) -> asyncio.Task[None] | None:
        """The refresh in flight in this loop, to wait for instead of asking twice."""
        task = base.task
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            return None
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("catalog refresh failed unexpectedly: %s", type(exc).__name__)

    async def _refresh(self, base_url: str, client: ModelLister) -> None:
        """Read the live catalog; on any failure keep what there is and remember why."""
        base = self._base(base_url)
        try:
            raw = await asyncio.wait_for(client.models(), REFRESH_WAIT_S)
            fetched_at = self._clock()
            live = await asyncio.to_thread(catalog.parse, raw, source="live", fetched_at=fetched_at)
        except Exception as exc:
            self._failed(base, base_url, _why(exc))
            if not isinstance(exc, WaveSpeedError | TimeoutError):
                # Where it broke, without its message: only the client's words are known
                # to be free of the key.
                where = "".join(traceback.format_tb(exc.__traceback__))
                log.warning("catalog read of %s raised %s\n%s", base_url, type(exc).__name__, where)
            return
        if not live.image_to_video(everything=True):
            # One bad answer must not empty the picker: the previous catalog stays.
            self._failed(
                base,
                base_url,
                "WaveSpeed's live catalog listed no image-to-video model; the previous one is kept",
            )
            return
        base.catalog, base.failure, base.failed_at = live, None, None
        await asyncio.to_thread(self._write_cache, base_url, raw, fetched_at)

    def _failed(self, base: _Base, base_url: str, why: str) -> None:
        base.failure, base.failed_at = why, self._clock()
        log.warning("catalog of %s not read: %s", base_url, why)

    # ------------------------------------------------------------------ notes

    def _described(self, found: catalog.Catalog, base: _Base) -> catalog.Catalog:
        age = self._age(found)
        if found.source == "live" and not self._stale(found):
            note = "WaveSpeed's live catalog"
        elif found.source == "live":
            note = f"WaveSpeed's catalog, read {_ago(age)}"
        else:
            note = f"WaveSpeed's catalog, cached {_ago(age)}"
        if base.failure:
            note += f" (not refreshed: {base.failure})"
        return replace(found, note=note)

    def _snapshot(self, base: _Base) -> catalog.Catalog:
        bundled = catalog.snapshot()
        if base.failure:
            reason = f"the catalog could not be read: {base.failure}"
        else:
            reason = "the live catalog is not read yet"
        return replace(bundled, note=f"bundled snapshot ({bundled.note}): {reason}")

    # ------------------------------------------------------------------ time

    def _age(self, found: catalog.Catalog) -> float:
        return math.inf if found.fetched_at is None else self._clock() - found.fetched_at

    def _stale(self, found: catalog.Catalog) -> bool:
        # A fetched_at in the future (a clock set back) is not trusted as fresh either.
        return not 0 <= self._age(found) < self.ttl_s

    def _pausing(self, base: _Base) -> bool:
        return base.failed_at is not None and 0 <= self._clock() - base.failed_at < RETRY_PAUSE_S

    # ------------------------------------------------------------------ the disk cache

    def _base(self, base_url: str) -> _Base:
        return self._bases.setdefault(_normal(base_url), _Base())

    def _cache_file(self, base_url: str) -> Path:
        name = hashlib.sha256(_normal(base_url).encode()).hexdigest()[:16]
        return self.cache_dir / f"models-{name}.json"

    def _read_cache(self, base_url: str) -> catalog.Catalog | None:
        """The cached catalog of exactly this base; None (logged) for a missing, damaged or
        foreign file, or one without image-to-video models."""
        path = self._cache_file(base_url)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.info("catalog cache %s ignored: %s", path.name, type(exc).__name__)
            return None
        if not isinstance(document, dict) or document.get("base_url") != _normal(base_url):
            log.info("catalog cache %s ignored: not this API's", path.name)
            return None
        fetched_at, models = document.get("fetched_at"), document.get("models")
        if not catalog.is_number(fetched_at) or not isinstance(models, list):
            log.info("catalog cache %s ignored: incomplete", path.name)
            return None
        cached = catalog.parse(models, source="cache", fetched_at=float(fetched_at))
        if not cached.image_to_video(everything=True):
            log.info("catalog cache %s ignored: no image-to-video model", path.name)
            return None
        return cached

    def _write_cache(self, base_url: str, raw: Any, fetched_at: float) -> None:
        """Atomically (a temporary file, then os.replace): a reader never sees half a file.
        A failure costs the cache, not the catalog."""
        tmp: str | None = None
        try:
            body = json.dumps(
                {"base_url": _normal(base_url), "fetched_at": fetched_at, "models": raw}
            )
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix=".models-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(body)
            os.replace(tmp, self._cache_file(base_url))
            tmp = None
        except (OSError, TypeError, ValueError) as exc:
            log.warning("catalog cache not written: %s", exc)
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def _normal(base_url: str) -> str:
    return base_url.rstrip("/")


def _newer(a: catalog.Catalog, b: catalog.Catalog) -> bool:
    return (a.fetched_at or 0.0) > (b.fetched_at or 0.0)


def _ago(seconds: float) -> str:
    if seconds < 60:
        return "less than a minute ago"
    if seconds < 180 * 60:
        return f"{round(seconds / 60)} min ago"
    if seconds < 72 * 3600:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} days ago"


def _why(exc: BaseException) -> str:
    """Why a read failed, as one short sentence. Only the client's own messages are
    quoted (they never hold the key); anything else is named by its type alone."""
    if isinstance(exc, WaveSpeedError):
        first = str(exc).split(". ")[0].strip().rstrip(".")
        return first[:200] or type(exc).__name__
    if isinstance(exc, TimeoutError):
        return f"WaveSpeed did not send it within {REFRESH_WAIT_S:.0f} s"
    return f"an unexpected error ({type(exc).__name__})"
