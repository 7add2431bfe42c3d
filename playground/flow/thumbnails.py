"""History's thumbnails, made where they cost the runs still finishing least.

A thumbnail is a decode to the clip's middle frame: ~8 ms of CPU, some of it holding the
interpreter lock. While few runs end it is made at once, before the record's last save.
When a crowd's runs end together (more than `busy_at` within `quiet_s`) each would delay
every other's last steps and the page's answers, so the later ones wait, and are made one
at a time once no run has ended for `quiet_s`; the record is then saved again with it.
Until then History shows the run's start image, as for any clip that cannot be
thumbnailed; if the process stops first, the next start makes it
(`Playground.resume`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

from playground.media import videos

log = logging.getLogger("playground.thumbnails")

Made = Callable[[Path], Awaitable[None]]  # what to do with a thumbnail made later


def make_thumbnail(video: Path) -> Path | None:
    """The history list's picture; best effort: a clip that cannot be thumbnailed is still
    a paid, finished video (History shows the start image instead)."""
    try:
        return videos.save_thumbnail(video, video.with_name(f"{video.stem}_thumb.jpg"))
    except Exception:  # a decoder fed a stranger's file fails many ways; none may cost the run
        log.warning("no thumbnail for %s", video.name, exc_info=True)
        return None


class Thumbnails:
    """Thumbnails at once while few runs end, later while many do (see the module)."""

    def __init__(
        self,
        *,
        busy_at: int = 5,  # more than a batch of variations ends together
        quiet_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.busy_at, self.quiet_s, self._clock = busy_at, quiet_s, clock
        self._ends: deque[float] = deque()  # when runs asked for one, within quiet_s
        self._later: deque[tuple[Path, Made]] = deque()
        self._worker: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        return len(self._later)

    async def thumbnail(self, video: Path, later: Made) -> Path | None:
        """The run's thumbnail made now; or None: the clip has none, or runs are ending in
        a crowd and `later` gets it once they have passed."""
        if self._crowded():
            self._later.append((video, later))
            loop = asyncio.get_running_loop()
            if self._worker is None or self._worker.done() or self._worker.get_loop() is not loop:
                self._worker = loop.create_task(self._work())
            return None
        return await asyncio.to_thread(make_thumbnail, video)

    def _crowded(self) -> bool:
        now = self._clock()
        while self._ends and now - self._ends[0] >= self.quiet_s:
            self._ends.popleft()
        self._ends.append(now)
        return len(self._ends) > self.busy_at or bool(self._later)

    async def _work(self) -> None:
        while self._later:
            quiet_for = self._clock() - self._ends[-1] if self._ends else self.quiet_s
            if quiet_for < self.quiet_s:
                await asyncio.sleep(self.quiet_s - quiet_for)
                continue
            video, later = self._later.popleft()
            try:
                if thumb := await asyncio.to_thread(make_thumbnail, video):
                    await later(thumb)
            except Exception:  # one run's late save must not stop the others' thumbnails
                log.warning("a late thumbnail for %s was not kept", video.name, exc_info=True)
