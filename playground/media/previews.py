"""Typed image addresses, fetched on the server for previews only (framing, shape notes).

On a Space strangers type them, so each address is fetched at most once a minute (a blur
and the events it sets off ask up to four times), a few at a time (a slow server must not
hold every worker thread), and only a small copy is kept. Generate never uses these: it
sends the address to WaveSpeed as it is.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from playground.errors import ImageError
from playground.media import images, urls


@dataclass(frozen=True)
class Remote:
    size: tuple[int, int]  # the original's upright size
    small: bytes  # a JPEG at preview size: all a preview needs


# What a preview is drawn from: the upright size, and a path or small JPEG bytes.
Shape = tuple[tuple[int, int], "str | Path | bytes"]


class RemotePreviews:
    TTL_S = 60.0
    SIZE = 32
    SLOTS = 4

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, Remote | str]] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.SLOTS)

    def get(self, url: str) -> Remote | None:
        """The image, or None while every fetch slot is busy (previews are optional:
        Generate sends the address regardless). Raises ImageError, remembered too."""
        with self._lock:
            at, value = self._cache.get(url, (0.0, ""))
        if not at or time.monotonic() - at > self.TTL_S:
            if not self._slots.acquire(blocking=False):
                return None
            try:
                value = self._fetch(url)
            finally:
                self._slots.release()
            with self._lock:
                self._cache[url] = (time.monotonic(), value)
                while len(self._cache) > self.SIZE:
                    self._cache.pop(next(iter(self._cache)))
        if isinstance(value, str):
            raise ImageError(value)
        return value

    def shape(self, path: str | None, url: str | None) -> Shape | None:
        """(upright size, what to draw a preview from) of the image a form will send: the
        typed address or the upload; None when there is none (or no fetch slot is free)."""
        if url and url.strip():
            remote = self.get(url.strip())
            return None if remote is None else (remote.size, remote.small)
        return (images.image_size(path), path) if path else None

    @staticmethod
    def _fetch(url: str) -> Remote | str:
        try:
            data = urls.fetch_url_image(url)
            prepared = images.prepare_image(data, max_side=images.PREVIEW_SIDE_PX)
        except ImageError as exc:
            return str(exc)
        return Remote(prepared.source_size, prepared.data)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
