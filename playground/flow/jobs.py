"""A session's job queue: Generate pressed while a run is going waits its turn.

Each press of Generate (or Variations) on the page is a job. Jobs of one session run one
at a time, in the order they were asked for; each holds its own quota while it waits (the
service reserves before it waits), so a queue can never promise more than the demo's
limits. A job that never started spent nothing: removing it, or Cancel, drops it for free.
When the page goes away, the waiting jobs pause (nothing starts while nobody watches) and
the reloaded page offers to run them.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from playground.errors import NotFound, PlaygroundError

QUEUE_LIMIT = 3  # jobs waiting behind the running one, per session
FINISHED_KEPT = 8  # finished jobs the panel still lists, newest last


class QueueFull(PlaygroundError):
    """More jobs asked for than a session may queue."""


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    LEFT = "left"  # nobody waits any more; the task goes on in the background
    PAUSED = "paused"  # the page went away before its turn; nothing was spent
    REMOVED = "removed"  # taken out before it started; nothing was spent

    @property
    def waiting(self) -> bool:
        return self in (JobState.QUEUED, JobState.PAUSED)

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.LEFT)


@dataclass(eq=False)
class Job:
    """One press of Generate: what it asks for, its own price, and what became of it."""

    label: str  # "seed 42 · 5 s · a barista pours…"
    price: str  # its price as said when it was asked for
    runs: int = 1  # tasks it makes (a batch: several)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    state: JobState = JobState.QUEUED
    run_ids: list[str] = field(default_factory=list)  # the tasks WaveSpeed accepted
    note: str = ""  # how it ended, in words
    work: Any = field(default=None, repr=False)  # what a paused job needs to start later


class JobQueue:
    """The jobs of one session, oldest first."""

    def __init__(self, limit: int = QUEUE_LIMIT) -> None:
        self.limit = limit
        self.jobs: list[Job] = []
        # made on first use, on the event loop it belongs to
        self._changed: asyncio.Condition | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakes: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ reading

    @property
    def running(self) -> Job | None:
        return next((job for job in self.jobs if job.state is JobState.RUNNING), None)

    @property
    def waiting(self) -> list[Job]:
        return [job for job in self.jobs if job.state is JobState.QUEUED]

    @property
    def paused(self) -> list[Job]:
        return [job for job in self.jobs if job.state is JobState.PAUSED]

    def position(self, job: Job) -> int:
        """How many go before `job` (0: its turn has come, or it is not waiting)."""
        if job.state is not JobState.QUEUED:
            return 0
        ahead = self.waiting.index(job)
        return ahead + (self.running is not None)

    def get(self, job_id: object) -> Job:
        found = next((job for job in self.jobs if job.id == job_id), None)
        if found is None:
            raise NotFound(
                "That job is no longer in this page's queue; finished runs are in History."
            )
        return found

    # ------------------------------------------------------------------ changing

    def add(self, label: str, price: str, runs: int = 1, *, work: Any = None) -> Job:
        """A new job at the end of the line; refused when the line is full."""
        if len(self.waiting) + len(self.paused) >= self.limit:
            raise QueueFull(
                f"{self.limit} runs are already waiting here. Let one finish, or remove one "
                "from the queue, then press Generate again."
            )
        job = Job(label, price, runs, work=work)
        self.jobs.append(job)
        self._trim()
        return job

    async def turn(self, job: Job) -> bool:
        """Wait until `job` is first in line and nothing runs; then it runs. False when it
        was taken out (removed, Cancel, paused by a new page) before its turn: it must
        not start."""
        changed = self._condition()
        async with changed:
            await changed.wait_for(lambda: job.state is not JobState.QUEUED or self._first(job))
            if job.state is not JobState.QUEUED:
                return False
            job.state = JobState.RUNNING
            return True

    def end(self, job: Job, state: JobState, note: str = "") -> None:
        """A job's outcome; the next in line may start. One that nobody waited for any
        more (LEFT) still gets its real ending, when its event lives to see it."""
        ends_late = job.state is JobState.LEFT and state in (JobState.DONE, JobState.FAILED)
        if job.state not in (JobState.QUEUED, JobState.RUNNING) and not ends_late:
            return  # the first word stands (paused stays paused: its page has gone)
        if job.state is JobState.QUEUED and state is JobState.LEFT:
            state = JobState.PAUSED  # its page went away before its turn: nothing spent
        job.state, job.note = state, note
        if state is not JobState.PAUSED:
            job.work = None  # nothing more to start from
        self._notify()

    def remove(self, job_id: object) -> Job:
        """Take a job that has not started out of the line (nothing was spent on it)."""
        job = self.get(job_id)
        if not job.state.waiting:
            raise NotFound(
                "That job has already started, so it cannot be removed; stop it on WaveSpeed "
                "instead, or wait for it to finish."
            )
        job.state, job.note, job.work = JobState.REMOVED, "Removed before it started.", None
        self._notify()
        return job

    def discard(self, job: Job) -> None:
        """A job refused before it joined the line (its quota could not be held)."""
        if job in self.jobs:
            self.jobs.remove(job)
        self._notify()

    def drop_waiting(self) -> list[Job]:
        """Cancel: every job that has not started leaves the line (nothing spent on them)."""
        dropped = [job for job in self.jobs if job.state.waiting]
        for job in dropped:
            job.state, job.work = JobState.REMOVED, None
            job.note = "Dropped by Cancel before it started."
        self._notify()
        return dropped

    def page_gone(self, note: str) -> list[Job]:
        """A new page of the session loaded, so the earlier one is gone: its running job
        is left to go on in the background (Gradio notices a gone page only at the
        event's next update, which may never come, and the result area must not wait for
        it), and what it left waiting pauses. Returns the paused jobs."""
        running = self.running
        if running is not None:
            running.state, running.note = JobState.LEFT, note
        return self.pause_waiting()

    def pause_waiting(self) -> list[Job]:
        """A new page of the session loaded: the jobs an earlier page left waiting pause
        (Gradio lets a gone page's waiting events go on, and they would start unseen)."""
        paused = self.waiting
        for job in paused:
            job.state = JobState.PAUSED
            job.note = "Paused: the page that queued it went away before its turn."
        self._notify()
        return paused

    def resume(self) -> list[Job]:
        """The paused jobs back in line, in their order."""
        paused = self.paused
        for job in paused:
            job.state, job.note = JobState.QUEUED, ""
        return paused

    # ------------------------------------------------------------------ inside

    def _first(self, job: Job) -> bool:
        return self.running is None and self.waiting[:1] == [job]

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed, self._loop = asyncio.Condition(), asyncio.get_running_loop()
        return self._changed

    def _notify(self) -> None:
        """The line changed: let old jobs go, and wake the waiters to look again. Sync
        handlers run in Gradio's worker threads, so the wake is handed to the waiters'
        loop, whichever thread changed the line."""
        self._trim()
        changed, loop = self._changed, self._loop
        if changed is None or loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._wake_soon, loop, changed)

    def _wake_soon(self, loop: asyncio.AbstractEventLoop, changed: asyncio.Condition) -> None:
        task = loop.create_task(self._wake(changed))
        self._wakes.add(task)  # a task nobody holds may be collected before it runs
        task.add_done_callback(self._wakes.discard)

    @staticmethod
    async def _wake(changed: asyncio.Condition) -> None:
        async with changed:
            changed.notify_all()

    def _trim(self) -> None:
        """Keep the last FINISHED_KEPT ended jobs; waiting and running ones always stay."""
        ended = [job for job in self.jobs if job.state.finished or job.state is JobState.REMOVED]
        for job in ended[: max(0, len(ended) - FINISHED_KEPT)]:
            self.jobs.remove(job)
