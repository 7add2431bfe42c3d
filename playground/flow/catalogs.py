"""Where the app's catalog comes from: WaveSpeed's live one, a disk cache, or the snapshot.

One current `Catalog` per API base. `current()` never blocks and never raises: the one in
memory, else the disk cache (even if stale), else the bundled snapshot, each saying so in
its note. `load()` reads the live catalog within a bound (for start-up and first use), and
`refresh_soon()` starts one background refresh per base when the catalog is an hour old:
WaveSpeed's own MCP server and CLI cache it on disk for an hour the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from playground.model import catalog

log = logging.getLogger(__name__)

TTL_S = 3600.0  # as WaveSpeed's MCP server and CLI cache it
# A catalog read at start-up or first use waits this long, then the app goes on with what
# it has (a cached or bundled catalog) and tries again in the background.
LOAD_WAIT_S = 8.0


class ModelLister(Protocol):
    async def models(self) -> list[dict[str, Any]]: ...


class Catalogs:
    """The catalog per API base: in memory, on disk, or bundled."""

    def __init__(
        self, cache_dir: Path, *, ttl_s: float = TTL_S, clock: Callable[[], float] = time.time
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.ttl_s = ttl_s
        self._clock = clock
        self._current: dict[str, catalog.Catalog] = {}
        self._failure: dict[str, str] = {}
        self._refreshing: dict[str, asyncio.Task[catalog.Catalog]] = {}

    def current(self, base_url: str) -> catalog.Catalog:
        """The best catalog known now for `base_url`, without waiting for anything."""
        if (known := self._current.get(base_url)) is not None:
            return known
        if (cached := self._read_cache(base_url)) is not None:
            self._current[base_url] = cached
            return cached
        return self._snapshot(base_url)

    async def load(self, base_url: str, client: ModelLister) -> catalog.Catalog:
        """A fresh catalog: the disk cache if younger than the TTL, else the live one (within
        LOAD_WAIT_S); on any failure, what `current` has."""
        cached = self._read_cache(base_url)
        if cached is not None and not self._stale(cached):
            self._current[base_url] = cached
            return cached
        try:
            return await asyncio.wait_for(self._fetch(base_url, client), LOAD_WAIT_S)
        except TimeoutError:
            self._failure[base_url] = f"WaveSpeed did not answer within {LOAD_WAIT_S:.0f} s"
        except Exception as exc:
            self._failure[base_url] = _sentence(exc)
        log.warning("catalog of %s not read: %s", base_url, self._failure[base_url])
        return self.current(base_url)

    def refresh_soon(self, base_url: str, client: ModelLister) -> None:
        """Refresh in the background when the catalog is old or not live: at most one
        refresh per base at a time; its failure is logged and remembered, never raised."""
        known = self._current.get(base_url)
        if known is not None and known.source == "live" and not self._stale(known):
            return
        if (running := self._refreshing.get(base_url)) is not None and not running.done():
            return
        task = asyncio.get_running_loop().create_task(self.load(base_url, client))
        self._refreshing[base_url] = task  # held: a task nobody references may be collected

    async def _fetch(self, base_url: str, client: ModelLister) -> catalog.Catalog:
        raw = await client.models()
        fetched_at = self._clock()
        live = catalog.parse(raw, source="live", fetched_at=fetched_at)
        if not live.image_to_video(everything=True):
            raise ValueError("the catalog WaveSpeed sent lists no image-to-video model")
        live = _noted(live, "WaveSpeed's live catalog")
        self._write_cache(base_url, raw, fetched_at)
        self._current[base_url] = live
        self._failure.pop(base_url, None)
        return live

    def _stale(self, known: catalog.Catalog) -> bool:
        return known.fetched_at is None or self._clock() - known.fetched_at >= self.ttl_s

    def _snapshot(self, base_url: str) -> catalog.Catalog:
        bundled = catalog.snapshot()
        why = self._failure.get(base_url)
        reason = f"the live catalog could not be read: {why}" if why else "not read yet"
        return _noted(bundled, f"bundled snapshot ({bundled.note}): {reason}")

    def _cache_file(self, base_url: str) -> Path:
        name = hashlib.sha256(base_url.encode()).hexdigest()[:16]
        return self.cache_dir / f"models-{name}.json"

    def _read_cache(self, base_url: str) -> catalog.Catalog | None:
        try:
            data = json.loads(self._cache_file(base_url).read_text(encoding="utf-8"))
            if data.get("base_url") != base_url:
                return None
            fetched_at = float(data["fetched_at"])
            cached = catalog.parse(data["models"], source="cache", fetched_at=fetched_at)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        if not cached.image_to_video(everything=True):
            return None
        minutes = max(0, round((self._clock() - fetched_at) / 60))
        return _noted(cached, f"WaveSpeed's catalog, cached {minutes} min ago")

    def _write_cache(self, base_url: str, raw: Any, fetched_at: float) -> None:
        """Atomically: a reader never sees half a file."""
        body = json.dumps({"base_url": base_url, "fetched_at": fetched_at, "models": raw})
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", dir=self.cache_dir, delete=False, suffix=".tmp", encoding="utf-8"
            ) as tmp:
                tmp.write(body)
            os.replace(tmp.name, self._cache_file(base_url))
        except OSError as exc:  # a full disk costs the cache, not the catalog
            log.warning("catalog cache not written: %s", exc)


def _noted(found: catalog.Catalog, note: str) -> catalog.Catalog:
    return catalog.Catalog(
        found.models, source=found.source, fetched_at=found.fetched_at, note=note
    )


def _sentence(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:300]
