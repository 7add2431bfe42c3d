"""What one browser session keeps to itself, server-side (Gradio's `gr.State`).

A visitor's own key never leaves it; nor does the list of runs it waits for.
Three names that used to be one word:
- `id`: the session's random id, which names its folder of files on a public server;
- `account`: whom its runs and quotas belong to (see `Playground.account_of`): the
  signed-in Hugging Face user when there is one, else the session itself;
- the owner's key: the one in the environment, never a session's (see `routes`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from playground.flow.generation import RunRecord, UploadCache
from playground.flow.jobs import JobQueue

if TYPE_CHECKING:
    from playground.flow.routes import Route

HF_PREFIX = "hf:"  # accounts of signed-in visitors; never clashes with a session's uuid hex
HANDED_KEPT = 50  # runs handed to recovery a session can still stop on WaveSpeed
UNDO_KEPT = 5  # the latest runs a session deleted, which Undo brings back newest first


@dataclass
class Session:
    """One browser session's private state."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    user: str | None = field(default=None, repr=False)  # "hf:<account id>" once signed in
    offline: bool = False
    api_key: str | None = field(default=None, repr=False)
    uploads: UploadCache = field(default_factory=UploadCache)
    # accepted, unfinished runs, with the route each was sent by
    pending: dict[str, tuple[RunRecord, Route]] = field(default_factory=dict)
    # handed to recovery because nobody waited any more (a cancelled event, a closed tab),
    # until Cancel tells the person they may still finish and be billed
    abandoned: list[str] = field(default_factory=list)
    last_seed: int | None = None
    address: str | None = field(default=None, repr=False)  # the network it calls from
    storyboard: list[str] = field(default_factory=list)  # run ids of chained shots, in order
    # the runs of the latest Generate (one, or a batch's): what a reloaded page shows again
    latest: list[str] = field(default_factory=list)
    jobs: JobQueue = field(default_factory=JobQueue, repr=False)  # the page's Generate queue
    flagged_audio: bool = False  # the last run failed the content check with sound on
    # runs handed to recovery, the latest HANDED_KEPT: "Stop the task on WaveSpeed" reaches
    # them too (the record is the one recovery saves)
    handed: dict[str, tuple[RunRecord, Route]] = field(default_factory=dict, repr=False)
    # the runs this session deleted, oldest first (the latest UNDO_KEPT): what Undo may
    # bring back, and nothing else
    deleted: list[str] = field(default_factory=list)

    def __deepcopy__(self, memo: dict[int, Any]) -> Session:
        # Gradio deep-copies a gr.State's initial value for each browser session: each copy
        # is a new visitor, with its own id and no key, uploads or runs.
        return Session(offline=self.offline)

    @property
    def valued(self) -> bool:
        """Whether losing this session would lose its visitor something: a key, a sign-in,
        runs made or waited for. A session that has done nothing costs nothing to drop."""
        return bool(
            self.api_key
            or self.user
            or self.pending
            or self.abandoned
            or self.storyboard
            or self.last_seed is not None
            or bool(self.jobs.waiting or self.jobs.paused)
        )

    def remember_deleted(self, run_id: str) -> None:
        self.deleted = [*(d for d in self.deleted if d != run_id), run_id][-UNDO_KEPT:]

    def remember_handed(self, task_id: str, pending: tuple[RunRecord, Route]) -> None:
        self.handed[task_id] = pending
        while len(self.handed) > HANDED_KEPT:
            del self.handed[next(iter(self.handed))]

    def sign_in(self, account: str | None) -> None:
        """Who this session is signed in as with Hugging Face (None: nobody), as Gradio
        tells each event from the session cookie: the account id, or a username (which
        HF treats case-insensitively)."""
        self.user = f"{HF_PREFIX}{account.lower()}" if account else None

    def use_key(self, key: str) -> None:
        """The visitor's own key from now on; uploads belong to the account that made them."""
        self.api_key, self.offline = key, False
        self.uploads = UploadCache()

    def forget_key(self) -> None:
        """Back to the owner's key (or offline); runs made with the visitor's stay theirs."""
        self.api_key = None
        self.uploads = UploadCache()

    def track(self, record: RunRecord, route: Route) -> None:
        """Remember a run while it is unfinished; forget it once it has an outcome."""
        self.last_seed = record.seed
        if record.status.finished:
            self.pending.pop(record.id, None)
        else:
            self.pending[record.id] = (record, route)
