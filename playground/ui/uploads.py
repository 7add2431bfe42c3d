"""Uploads on a public server: a fair share per visitor, and room left for everyone.

Gradio takes any upload up to `max_file_size` into its cache directory and cleans the cache
only by age (`delete_cache`), so one stranger could fill the disk and every visitor's
upload would then fail. `UploadGuard`, an ASGI middleware before Gradio's routes, admits an
upload only
- within its client's share: so many uploads and so many bytes per 10 minutes (never
  more than a quarter of the cache's budget), and
- when the cache has room for it within its budget (half the disk it may use, at most
  2 GB): when it has not, the oldest files past a few minutes' age go first (the app
  copies what a run needs beside its video at once; uploads are not kept for later), and
  only if there is still no room is the upload refused, in words, with what to do.
The client is named by `addresses.client_address`.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.ui.addresses import client_address

log = logging.getLogger(__name__)

WINDOW_S = 600.0
MAX_UPLOAD_MB = 40  # Gradio's max_file_size here (the API takes 10 MB; bigger is scaled down)
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
VISITORS_TO_FILL = 4  # the fewest visitors whose shares can fill the cache's budget


@dataclass(frozen=True)
class UploadLimits:
    """Per client and window; the cache's budget and the age past which files may go."""

    uploads_per_window: int = 60
    bytes_per_window: int = 200 * 1024 * 1024
    cache_budget_bytes: int = 2 * 1024 * 1024 * 1024
    disk_share: float = 0.5  # of what the cache's disk holds (used + free by the cache)
    cleanable_after_s: float = 300.0


class Uploads:
    """The bookkeeping behind `UploadGuard`: whom to admit, and room in the cache."""

    def __init__(
        self,
        cache_dir: Path,
        limits: UploadLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.limits = limits or UploadLimits()
        self._clock, self._wall = clock, wall
        self._sent: dict[str, deque[tuple[float, int]]] = {}  # per client: (when, bytes)
        self._lock = threading.Lock()

    def admit(self, client: str, size: int) -> tuple[int, str] | None:
        """None to let an upload of `size` bytes from `client` in; else the HTTP status
        and the sentence to answer with."""
        with self._lock:
            used = self.cache_size()
            budget = self.budget(used)
            refusal = self._share(client, size, budget) or self._room(size, used, budget)
            if refusal is None:
                self._sent.setdefault(client, deque()).append((self._clock(), size))
            return refusal

    def _share(self, client: str, size: int, budget: int) -> tuple[int, str] | None:
        now, lim = self._clock(), self.limits
        self._forget_before(now - WINDOW_S)
        sent = self._sent.get(client, deque())
        if len(sent) >= lim.uploads_per_window:
            return 429, (
                f"Too many uploads from you: at most {lim.uploads_per_window} in 10 minutes "
                f"here. Wait {self._wait_s(sent, now)} and upload again."
            )
        # no visitor may fill more than a quarter of the cache's room alone
        share = min(lim.bytes_per_window, budget // VISITORS_TO_FILL)
        if sent and sum(n for _, n in sent) + size > share:
            return 429, (
                f"You have uploaded {_mb(sum(n for _, n in sent))} in the last 10 minutes; "
                f"this server takes {_mb(share)} per visitor. Wait "
                f"{self._wait_s(sent, now)}, or upload a smaller image."
            )
        return None

    def _room(self, size: int, used: int, budget: int) -> tuple[int, str] | None:
        if used + size <= budget:
            return None
        freed = self.clean(used + size - budget)
        if used - freed + size <= budget:
            return None
        log.warning("upload refused: the upload cache is full (%s of %s)", _mb(used), _mb(budget))
        return 507, (
            "This server's space for uploads is full right now. Nothing of yours is lost; "
            "try again in a few minutes, or use an image URL instead of a file."
        )

    def budget(self, used: int) -> int:
        """What the cache may hold, holding `used`: its share of the disk, within the cap."""
        try:
            free = shutil.disk_usage(self._existing_dir()).free
        except OSError:
            return self.limits.cache_budget_bytes
        share = int((free + used) * self.limits.disk_share)
        return min(self.limits.cache_budget_bytes, share)

    def cache_size(self) -> int:
        return sum(size for _, size, _ in self._files())

    def clean(self, needed: int) -> int:
        """Delete the oldest files old enough to go until `needed` bytes are freed; the
        bytes freed."""
        cutoff = self._wall() - self.limits.cleanable_after_s
        freed = 0
        for mtime, size, path in sorted(self._files()):
            if freed >= needed or mtime > cutoff:
                break
            try:
                path.unlink()
                freed += size
            except OSError:
                continue
        if freed:
            log.info("upload cache: %s of old uploads removed to make room", _mb(freed))
        return freed

    def _files(self) -> list[tuple[float, int, Path]]:
        found = []
        for root, _dirs, names in os.walk(self.cache_dir):
            for name in names:
                path = Path(root) / name
                try:
                    st = path.stat()
                except OSError:
                    continue
                found.append((st.st_mtime, st.st_size, path))
        return found

    def _existing_dir(self) -> Path:
        path = self.cache_dir
        while not path.exists() and path != path.parent:
            path = path.parent
        return path

    def _forget_before(self, since: float) -> None:
        for name in list(self._sent):
            sent = self._sent[name]
            while sent and sent[0][0] < since:
                sent.popleft()
            if not sent:
                del self._sent[name]

    def _wait_s(self, sent: deque[tuple[float, int]], now: float) -> str:
        seconds = max(1, int(sent[0][0] + WINDOW_S - now) + 1)
        return f"{seconds} s" if seconds < 120 else f"{seconds // 60} minutes"


class UploadGuard:
    """ASGI middleware: asks `Uploads` before Gradio's upload route takes a file."""

    def __init__(self, app: Any, *, uploads: Uploads, trust_forwarded: bool = False) -> None:
        self.app, self.uploads, self.trust_forwarded = app, uploads, trust_forwarded

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not _is_upload(scope):
            await self.app(scope, receive, send)
            return
        refusal = self.uploads.admit(self._client(scope), _declared_size(scope))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, message = refusal
        # Plain text: Gradio's page shows an upload's refusal as "HTTP <status>: <body>".
        body = message.encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", b"%d" % len(body)),
        ]
        if status == 429:
            headers.append((b"retry-after", b"60"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _client(self, scope: dict[str, Any]) -> str:
        peer = scope.get("client")
        forwarded = _header(scope, b"x-forwarded-for")
        address = client_address(
            forwarded, str(peer[0]) if peer else None, trust_forwarded=self.trust_forwarded
        )
        return address or "unknown"


def _is_upload(scope: dict[str, Any]) -> bool:
    return (
        scope.get("type") == "http"
        and scope.get("method") == "POST"
        and str(scope.get("path", "")).rstrip("/").endswith("/upload")
    )


def _declared_size(scope: dict[str, Any]) -> int:
    """The request's Content-Length; without one (a chunked body), the most Gradio takes."""
    value = _header(scope, b"content-length")
    return int(value) if value and value.isdigit() else MAX_UPLOAD_BYTES


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB"
