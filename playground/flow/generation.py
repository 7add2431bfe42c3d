"""One generation from start to finish: prepare -> submit -> wait -> download -> record.

The sentence from DESIGN.md as code, below the service (`service.Playground`). It
yields `Progress` while it works and ends with a `RunRecord`; a caller that stops iterating
(Cancel) stops the waiting, never the paid task on the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import statistics
import time
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from playground.flow.thumbnails import Thumbnails, make_thumbnail
from playground.flow.webhooks import WebhookHub
from playground.media import videos
from playground.model import catalog, seedance
from playground.model.status import RunStatus
from playground.store.history import OFFLINE_BACKEND
from wavespeed_client import (
    Prediction,
    RateLimitError,
    Status,
    SubmissionOutcomeUnknown,
    TaskFailed,
    WaitUpdate,
    WaveSpeedClient,
    WaveSpeedError,
)

log = logging.getLogger(__name__)


class Stage(StrEnum):
    PREPARING = "preparing"
    UPLOADING = "uploading"
    SUBMITTING = "submitting"
    RATE_LIMITED = "waiting for the rate limit"
    QUEUED = "queued"
    PROCESSING = "processing"
    DOWNLOADING = "downloading"


@dataclass(frozen=True)
class Progress:
    stage: Stage
    elapsed_s: float
    task_id: str | None = None
    eta_s: float | None = None
    polls: int = 0

    def describe(self) -> str:
        """One line for a person: "Processing · 12 s · about 20 s left"."""
        text = f"{self.stage.value.capitalize()} · {self.elapsed_s:.0f} s"
        if self.eta_s is not None and self.stage in (Stage.QUEUED, Stage.PROCESSING):
            left = self.eta_s - self.elapsed_s
            text += f" · about {left:.0f} s left" if left >= 1 else " · any moment now"
        return text


@dataclass
class Timings:
    """Seconds spent in each phase, measured here; `inference_s` is the server's own figure."""

    upload_s: float = 0.0
    submit_s: float = 0.0
    wait_s: float = 0.0  # from the task's acceptance to the poll (or delivery) that saw it end
    # When (after acceptance) a poll last saw the task still going: it ended after this
    # and by wait_s, which is what the next run of its kind learns (DurationStats).
    pending_s: float | None = None
    inference_s: float | None = None
    download_s: float = 0.0
    total_s: float = 0.0

    @property
    def queue_s(self) -> float | None:
        """Time waiting that was not inference: queueing plus polling latency."""
        return None if self.inference_s is None else max(0.0, self.wait_s - self.inference_s)


@dataclass
class RunRecord:
    """Everything known about one run; safe to show and to save (no secrets, no bytes)."""

    id: str
    model: str
    status: RunStatus
    seed: int | None  # None: the model takes no seed
    inputs: dict[str, Any]
    cost_usd: float | None
    backend: str
    created_at: str
    api_base: str = ""
    cost_quoted: bool = False  # cost_usd is WaveSpeed's quote, not the catalog's estimate
    # The model WaveSpeed says served the run, when it differs from `model` (a retiring
    # model may "fall back to alternative models without notice").
    served_by: str | None = None
    stop: str = ""  # "Stop the task on WaveSpeed" was pressed: what WaveSpeed answered
    timings: Timings = field(default_factory=Timings)
    nsfw: bool = False
    video_path: str | None = None
    output_url: str | None = None
    input_files: dict[str, str] = field(default_factory=dict)
    error: str = ""
    error_code: int | None = None
    # Made with a visitor's own key: `Sessions.key_tag` of it, to collect the run with the
    # same key after a restart (the key itself is never stored).
    key_tag: str | None = None

    def __post_init__(self) -> None:
        self.status = RunStatus(self.status)  # a stored or hand-written string reads as one

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known = Timings.__dataclass_fields__  # queue_s is derived; newer fields are left out
        timings = {k: v for k, v in (data.get("timings") or {}).items() if k in known}
        status = data.get("status") or RunStatus.PROCESSING
        return cls(**{**fields, "status": status, "timings": Timings(**timings)})

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value  # a plain string in JSON, history and the page
        data["timings"]["queue_s"] = self.timings.queue_s
        return data


@dataclass(frozen=True)
class ImageInput:
    """An image ready to send: encoded bytes the API accepts, or a URL passed through."""

    data: bytes | None = None
    url: str | None = None
    filename: str = "image.png"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data or (self.url or "").encode()).hexdigest()


class Span(NamedTuple):
    """When one run ended: after `after` (a poll saw it going then; None if none did) and
    by `by` (the poll that saw it done), in seconds after the task was accepted."""

    after: float | None
    by: float

    @property
    def middle(self) -> float:
        """The best single guess; with no lower bound, `by` (late rather than far early)."""
        return self.by if self.after is None else (self.after + self.by) / 2


class DurationStats:
    """How long runs took (acceptance to completion), per backend, model and duration, to
    predict the next.

    Each run teaches a Span: it ended after the last poll that saw it going and by the
    poll that saw it done. While the recent spans share a stretch of time, runs of this
    kind take the same time and the end lies in that overlap: its middle is expected, the
    poll just after it halves the overlap again (or, too soon, one at the overlap's end
    sees it), and a few runs find the end to within a fifth of a second. Otherwise
    (lengths vary more than a poll interval) the median of the spans' middles. A run that
    narrows nothing is not kept, so a crowd cannot push out what made the overlap narrow.

    Shared by all sessions: timings are not private, and more samples make better ETAs.
    A kind never run yet starts from a prior: this model's other durations, else its
    family's (the same id but the resolution), scaled by duration and discounted
    (`PRIOR_DISCOUNT`). Offline runs teach only offline runs.
    """

    def __init__(self, keep: int = 20) -> None:
        self._samples: defaultdict[tuple[str, str, int], deque[Span]] = defaultdict(
            lambda: deque(maxlen=keep)
        )

    def add(
        self,
        model: str,
        duration: int,
        seconds: float,
        backend: str = "",
        *,
        after_s: float | None = None,
    ) -> None:
        """A run of this kind ended by `seconds`, and after `after_s` when a poll saw it
        still going then (None: no poll did, or it is not known)."""
        if seconds <= 0 or duration <= 0:
            return
        span = Span(None if after_s is None else min(max(0.0, after_s), seconds), seconds)
        kept = self._samples[(_where(backend), model, duration)]
        overlap = _overlap(kept)
        if overlap is not None and (span.after or 0.0) <= overlap[0] and span.by >= overlap[1]:
            # It agrees with what is known and narrows nothing: a crowd of runs that
            # started together and saw the same polls would otherwise push out the
            # earlier runs whose spans made the overlap narrow.
            return
        kept.append(span)

    def expected(self, model: str, duration: int, backend: str = "") -> float | None:
        backend = _where(backend)
        samples = self._samples.get((backend, model, duration))
        if samples:
            if (overlap := _overlap(samples)) is not None:
                return sum(overlap) / 2
            return statistics.median(span.middle for span in samples)
        for kin in (model, model_family(model)):
            rates = [
                span.middle / length
                for (where, other, length), kept in self._samples.items()
                if where == backend and (other == kin or model_family(other) == kin)
                for span in kept
            ]
            if rates and duration > 0:
                return PRIOR_DISCOUNT * statistics.median(rates) * duration
        return None

    def ended_by(self, model: str, duration: int, backend: str = "") -> float | None:
        """When every recent run of this kind had ended, while they took the same time (their
        spans overlap); None otherwise, or when none has run."""
        overlap = _overlap(self._samples.get((_where(backend), model, duration), ()))
        return None if overlap is None else overlap[1]

    def learn_from(self, records: list[dict[str, Any]]) -> int:
        """Completed runs' waits (as history keeps them, newest first): what an earlier
        process learned. The number taken."""
        taken = 0
        for record in reversed(records):  # oldest first: the newest stay in the window
            timings = record.get("timings") or {}
            inputs = record.get("inputs") or {}
            wait, after, duration, model = (
                timings.get("wait_s"),
                timings.get("pending_s"),
                inputs.get("duration"),
                record.get("model"),
            )
            if not isinstance(model, str) or not isinstance(duration, int):
                continue
            if catalog.is_number(wait):
                after_s = float(after) if catalog.is_number(after) else None
                backend = str(record.get("backend") or "")
                self.add(model, duration, float(wait), backend, after_s=after_s)
                taken += 1
        return taken


def _overlap(spans: Iterable[Span]) -> tuple[float, float] | None:
    """The stretch of time every span shares, judged by those with a lower bound (a span
    with none bounds only the end); None when they share none or none has one."""
    kept = list(spans)
    lows = [span.after for span in kept if span.after is not None]
    if not lows:
        return None
    low, high = max(lows), min(span.by for span in kept)
    return (low, high) if low <= high else None


# A prior (this model's other durations scaled, or its family's: other resolutions) is
# taken at this share: a guess that is late costs detection delay, an early one requests.
PRIOR_DISCOUNT = 0.85
_RESOLUTION = re.compile(r"[-_/]?(?:240|360|480|540|720|1080|1440|2160)p|[-_/]?[24]k$")


def _where(backend: str) -> str:
    """Whose timings teach whose: the emulator's its own, any WaveSpeed key's each other."""
    return "offline" if backend == OFFLINE_BACKEND else "wavespeed"


def model_family(model: str) -> str:
    """The model id without its resolution ("bytedance/seedance-v1-lite-i2v-720p" ->
    "bytedance/seedance-v1-lite-i2v")."""
    return _RESOLUTION.sub("", model)


class UploadCache:
    """Each distinct image goes up once per account: content hash -> download URL.

    Concurrent runs with the same image share one upload; a failed upload is forgotten so
    the next run tries again. WaveSpeed deletes uploads after 7 days, so a URL is reused
    for at most UPLOAD_REUSE_S.
    """

    UPLOAD_REUSE_S = 6 * 24 * 3600.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._uploads: dict[str, tuple[float, asyncio.Future[str]]] = {}
        self._clock = clock

    async def url_for(self, client: WaveSpeedClient, image: ImageInput) -> str:
        if image.url:
            return image.url
        key, now = image.sha256, self._clock()
        if key not in self._uploads or now - self._uploads[key][0] > self.UPLOAD_REUSE_S:
            upload = client.upload(image.data or b"", filename=image.filename)
            self._uploads[key] = (now, asyncio.ensure_future(upload))
        try:
            # shield: one caller's cancel must not cancel the upload others wait on
            return await asyncio.shield(self._uploads[key][1])
        except Exception:
            self._uploads.pop(key, None)
            raise


OnSave = Callable[[RunRecord], Awaitable[None] | None]

# Videos per minute by WaveSpeed account tier (../shared/WAVESPEED_API.md): a hint only.
TIER_VIDEOS_PER_MINUTE = {"bronze": 2, "silver": 500, "gold": 3000}
# A 429 without Retry-After, with no accepted submit in the window to wait out.
RATE_LIMIT_FALLBACK_S = 15.0
# A limit learned from a 429 is forgotten after this long: a top-up raises the tier.
RELEARN_S = 600.0


class Pacer:
    """Keeps one account's submits within its per-minute limit in any 60 s window.

    Shared by every run of that account (all variations of a batch, all tabs), so a batch
    queues politely here instead of collecting 429s. The limit is learned: it starts at
    the tier's (a hint; None when no tier is set: no pacing until the API says otherwise),
    and a 429 lowers it to the submits the API accepted in the window just before (if
    any), and holds everyone back for its Retry-After (else until the oldest of those
    leaves the window). A learned limit is forgotten after RELEARN_S.
    """

    WINDOW_S = 60.0

    def __init__(
        self, per_minute: int | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.hint = self.per_minute = per_minute
        self._clock = clock
        self._sent: deque[float] = deque()  # slots taken: submits sent or being sent
        self._accepted: deque[float] = deque()  # of those, the ones the API accepted
        self._not_before = 0.0
        self._learned_at: float | None = None
        self._lock = asyncio.Lock()

    def _forget_old(self, now: float) -> None:
        """Drop what has left the window, and a learned limit past RELEARN_S."""
        for sent in (self._sent, self._accepted):
            while sent and now - sent[0] >= self.WINDOW_S:
                sent.popleft()
        if self._learned_at is not None and now - self._learned_at >= RELEARN_S:
            self.per_minute, self._learned_at = self.hint, None

    def delay(self) -> float:
        """Seconds until a submit may go out now."""
        now = self._clock()
        self._forget_old(now)
        wait = self._not_before - now
        if self.per_minute is not None and len(self._sent) >= self.per_minute:
            wait = max(wait, self._sent[0] + self.WINDOW_S - now)
        return max(0.0, wait)

    async def acquire(self) -> float:
        """Wait for a slot in the window and take it; the slot, to `refund` if unused."""
        async with self._lock:
            while (wait := self.delay()) > 0:
                await asyncio.sleep(wait)
            self._sent.append(slot := self._clock())
            return slot

    def accepted(self, slot: float) -> None:
        """The submit in `slot` made a task: it counts toward what the account can do."""
        self._accepted.append(slot)

    def refund(self, slot: float) -> None:
        """A submit the API refused created no task and counts toward no limit: its slot
        goes back (a rejected request must not stall the account's next visitor)."""
        with contextlib.suppress(ValueError):
            self._sent.remove(slot)

    def rate_limited(self, retry_after: float | None) -> float:
        """After a 429: learn the limit from what was accepted, and wait; the wait."""
        now = self._clock()
        self._forget_old(now)
        learned = len(self._accepted)  # none: the account is busy elsewhere; only wait
        if learned and (self.per_minute is None or learned < self.per_minute):
            self.per_minute, self._learned_at = learned, now
            log.info("WaveSpeed rate limit reached: pacing to %d submits a minute", learned)
        if retry_after is None:
            oldest = self._accepted[0] if self._accepted else None
            retry_after = oldest + self.WINDOW_S - now if oldest else RATE_LIMIT_FALLBACK_S
        self._not_before = max(self._not_before, now + max(0.0, retry_after))
        return self._not_before - now


@dataclass(frozen=True)
class RunContext:
    """Where and how runs go: everything `run` needs besides the request and its images."""

    client: WaveSpeedClient
    uploads: UploadCache  # the account's uploads: each image goes up once
    output_dir: Path
    stats: DurationStats
    backend: str  # the route's label, shown on the run card
    on_save: OnSave | None = None  # called at acceptance and each change: nothing paid is lost
    pacer: Pacer | None = None  # keeps the account's submits within its per-minute limit
    deadline_s: float | None = None
    webhooks: WebhookHub | None = None  # set where WaveSpeed can reach this app
    account: str = ""  # whose webhook secret signs this context's deliveries
    thumbnails: Thumbnails | None = None  # shared: made later while a crowd's runs end


async def run_many(
    ctx: RunContext,
    requests: list[seedance.SeedanceRequest],
    start: ImageInput,
    end: ImageInput | None,
    image_lists: Mapping[str, tuple[ImageInput, ...]] | None = None,
) -> AsyncIterator[tuple[int, Progress | RunRecord | Exception]]:
    """Several runs at once (variations), as (index, item) in the order things happen.

    Each run fails alone: its exception comes out as an item and the others go on. The
    context's shared UploadCache sends the image once for the whole batch.
    """
    queue: asyncio.Queue[tuple[int, Progress | RunRecord | Exception | None]] = asyncio.Queue()

    async def one(index: int, request: seedance.SeedanceRequest) -> None:
        try:
            async for item in run(ctx, request, start, end, image_lists):
                await queue.put((index, item))
        except Exception as exc:  # reported to the caller as this variation's outcome
            await queue.put((index, exc))
        finally:
            await queue.put((index, None))

    tasks = [asyncio.ensure_future(one(i, r)) for i, r in enumerate(requests)]
    try:
        remaining = len(tasks)
        while remaining:
            index, item = await queue.get()
            if item is None:
                remaining -= 1
            else:
                yield index, item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def run(
    ctx: RunContext,
    request: seedance.SeedanceRequest,
    start: ImageInput,
    end: ImageInput | None,
    image_lists: Mapping[str, tuple[ImageInput, ...]] | None = None,
) -> AsyncIterator[Progress | RunRecord]:
    """Generate one video, yielding Progress about once a second and finally the RunRecord.

    The images come as `start`/`end` and are uploaded (once per content) so the submit
    carries URLs, not megabytes of base64; `request.image` need only name the start image.
    `ctx.on_save` is called with the record the moment the API accepts the task (before the
    first poll) and at every change after, so a crash never loses a paid task. With a
    `ctx.pacer`, submits keep to the account's rate limit and a 429 means wait, not fail.
    Raises the client's typed errors; after acceptance they carry the task id.
    """
    request.validated()  # before anything is uploaded or paid for
    t0 = time.monotonic()
    timings = Timings()
    yield Progress(Stage.UPLOADING, 0.0)
    client, pacer = ctx.client, ctx.pacer
    start_url = await ctx.uploads.url_for(client, start)
    end_url = await ctx.uploads.url_for(client, end) if end else None
    listed = {
        name: [await ctx.uploads.url_for(client, image) for image in images]
        for name, images in (image_lists or {}).items()
    }
    timings.upload_s = time.monotonic() - t0

    request = request.with_inputs(image=start_url, last_image=end_url, **listed)
    request = request.with_seed().validated()
    hub = ctx.webhooks
    webhook = await hub.url_for(ctx.account, client.webhook_secret) if hub else None
    while True:
        slot = None
        if pacer is not None:
            if pacer.delay() > 0:
                yield Progress(Stage.RATE_LIMITED, time.monotonic() - t0)
            slot = await pacer.acquire()
        yield Progress(Stage.SUBMITTING, time.monotonic() - t0)
        t_submit = time.monotonic()
        try:
            # With a pacer, a 429 comes back at once: the pacer learns from it and waits.
            prediction = await client.submit(
                request.model, request.payload(), retry_rate_limits=pacer is None, webhook=webhook
            )
            if pacer is not None and slot is not None:
                pacer.accepted(slot)
            break
        except WaveSpeedError as exc:
            # Answered with an error, or never sent: no task, so no slot used. Only an
            # unknown outcome may have made one.
            if isinstance(exc, SubmissionOutcomeUnknown):
                # A task may exist and be billed: it is recorded (and counted) as such.
                await _save(ctx.on_save, _unknown_outcome(ctx, request, timings, exc))
                raise
            if pacer is not None and slot is not None:
                pacer.refund(slot)
            # 429 means "not accepted": safe to send again once the window has passed.
            if pacer is None or not isinstance(exc, RateLimitError):
                raise
            pacer.rate_limited(exc.retry_after)
    accepted_at = time.monotonic()
    timings.submit_s = accepted_at - t_submit
    record = _record(ctx, request, timings, prediction.id, RunStatus.of(prediction.status))
    record.video_path = str(ctx.output_dir / output_name(record))
    await _save(ctx.on_save, record)  # the task id first, before any file: nothing is lost
    # Then the images beside it (a few ms); the record's next save names them.
    await asyncio.to_thread(_keep_inputs, record, start, end)

    try:
        async for item in follow_to_end(
            client,
            record,
            stats=ctx.stats,
            on_save=ctx.on_save,
            deadline_s=ctx.deadline_s,
            t0=t0,
            # The wait runs from the answer, not from the sending: a busy server or client
            # that answers late makes a task look shorter, never longer than it is.
            started_at=accepted_at,
            webhooks=hub if webhook else None,
            account=ctx.account,
            thumbnails=ctx.thumbnails,
        ):
            yield item
    except (WaveSpeedError, OSError) as exc:
        # After acceptance every failure names its task, so the caller can hand it on.
        if getattr(exc, "task_id", None) is None:
            exc.task_id = record.id  # type: ignore[union-attr]
        raise


def _record(
    ctx: RunContext,
    request: seedance.SeedanceRequest,
    timings: Timings,
    task_id: str,
    status: RunStatus,
) -> RunRecord:
    """The run's record as the API accepted it (or may have)."""
    return RunRecord(
        id=task_id,
        model=request.model,
        status=status,
        seed=request.seed,
        inputs=_public_inputs(request),
        cost_usd=request.cost_usd,
        cost_quoted=request.quoted_usd is not None,
        backend=ctx.backend,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        api_base=ctx.client.base_url,
        timings=timings,
    )


def _unknown_outcome(
    ctx: RunContext,
    request: seedance.SeedanceRequest,
    timings: Timings,
    exc: SubmissionOutcomeUnknown,
) -> RunRecord:
    """A submit sent with no answer: it may have made a task, unknown to us by id, so it is
    recorded under an id of its own, counts as billed, and says what to do."""
    record = _record(
        ctx, request, timings, f"unknown-{uuid.uuid4().hex}", RunStatus.OUTCOME_UNKNOWN
    )
    record.error = (
        f"{exc} The request is kept here: if no task appears on your WaveSpeed dashboard, "
        "it was not billed and can be generated again."
    )
    return record


async def follow_to_end(
    client: WaveSpeedClient,
    record: RunRecord,
    *,
    stats: DurationStats,
    on_save: OnSave | None = None,
    deadline_s: float | None = None,
    t0: float | None = None,
    started_at: float | None = None,
    webhooks: WebhookHub | None = None,
    account: str = "",
    thumbnails: Thumbnails | None = None,
) -> AsyncIterator[Progress | RunRecord]:
    """Wait for an accepted task, download its video, and complete its record.

    Used by `run`, and by `recovery` on its own to resume a task after a restart or a
    Cancel. A failed task is saved as failed, then TaskFailed is raised; a wait that times
    out leaves the record unfinished, so it can be resumed. With `webhooks` (the task was
    submitted with one of its addresses) a delivery cuts the wait short and polling is
    the slow fallback.
    """
    now = time.monotonic()
    t0 = now if t0 is None else t0
    started_at = now if started_at is None else started_at
    timings = record.timings
    model, duration = record.model, int(record.inputs.get("duration", 0))
    expected = stats.expected(model, duration, record.backend)
    ended_by = stats.ended_by(model, duration, record.backend)
    final: Prediction | None = None
    woken = webhooks.expect(record.id) if webhooks else None
    ended, pending_s = False, None
    try:
        async for item in _wait_with_ticks(
            client, record.id, started_at, expected, ended_by, deadline_s, woken
        ):
            if isinstance(item, _Ended):
                final, pending_s = item.prediction, item.pending_s
            else:
                if item.polls and RunStatus.of(item.status) is not record.status:
                    record.status = RunStatus.of(item.status)  # history: queued -> processing
                    await _save(on_save, record)
                stage = Stage.QUEUED if item.status is Status.CREATED else Stage.PROCESSING
                eta = _eta(expected, t0, started_at)
                yield Progress(stage, time.monotonic() - t0, record.id, eta, item.polls)
    except TaskFailed as exc:
        ended = True
        # "deleted" when it was stopped on WaveSpeed (partial refunds may apply); else failed
        status = RunStatus.DELETED if exc.status == "deleted" else RunStatus.FAILED
        record.status, record.error, record.error_code = status, exc.reason, exc.code
        await _save(on_save, record)
        await asyncio.to_thread(write_sidecar, record)
        raise
    finally:
        if webhooks is not None and woken is not None:
            webhooks.settle(record.id, woken, account, ended=ended or final is not None)
    assert final is not None
    if final.model and final.model != record.model:  # a fallback WaveSpeed chose
        record.served_by = final.model[:200]
    timings.wait_s = time.monotonic() - started_at
    # It ended between the last poll that saw it going and the one that saw it done.
    timings.pending_s = pending_s
    stats.add(model, duration, timings.wait_s, record.backend, after_s=pending_s)
    timings.inference_s = final.inference_ms / 1000 if final.inference_ms else None

    yield Progress(Stage.DOWNLOADING, time.monotonic() - t0, record.id)
    t_download = time.monotonic()
    dest = Path(record.video_path or "")
    await client.download(final.outputs[0], dest)
    await asyncio.to_thread(videos.tag_video, dest, _video_tags(record))
    if thumb := await _thumbnail(thumbnails, record, on_save):
        record.input_files["thumb"] = str(thumb)
    timings.download_s = time.monotonic() - t_download
    timings.total_s = time.monotonic() - t0

    record.status = RunStatus.COMPLETED
    record.nsfw = final.nsfw
    record.output_url = final.outputs[0]
    await asyncio.to_thread(write_sidecar, record)
    await _save(on_save, record)
    yield record


async def _save(on_save: OnSave | None, record: RunRecord) -> None:
    if on_save is not None and (pending := on_save(record)) is not None:
        await pending


def _keep_inputs(record: RunRecord, start: ImageInput, end: ImageInput | None) -> None:
    """Keep the input images beside the video, so a run can be repeated after the API has
    forgotten its uploads (7 days). Best effort: a full disk must not cost an accepted run
    (its images are then not kept)."""
    stem = Path(record.video_path or "").with_suffix("")
    try:
        stem.parent.mkdir(parents=True, exist_ok=True)
        for image, suffix in ((start, "start"), (end, "end")):
            if image is not None and image.data:
                path = stem.with_name(f"{stem.name}_{suffix}.jpg")
                path.write_bytes(image.data)
                record.input_files[suffix] = str(path)
    except OSError as exc:
        log.warning("task %s: its input images were not kept: %s", record.id, exc)


async def _thumbnail(
    thumbnails: Thumbnails | None, record: RunRecord, on_save: OnSave | None
) -> Path | None:
    """The finished video's thumbnail, now; or, while a crowd of runs ends, later, when the
    record is saved again with it (flow.thumbnails)."""
    video = Path(record.video_path or "")
    if thumbnails is None:
        return await asyncio.to_thread(make_thumbnail, video)

    async def made(thumb: Path) -> None:
        record.input_files["thumb"] = str(thumb)
        await asyncio.to_thread(write_sidecar, record)
        await _save(on_save, record)

    return await thumbnails.thumbnail(video, made)


def write_sidecar(record: RunRecord) -> Path:
    """The full record as JSON next to the video: <name>.json, written atomically."""
    path = Path(record.video_path or "").with_suffix(".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def _video_tags(record: RunRecord) -> dict[str, str]:
    """Prompt and seed in the MP4's own metadata, so the file explains itself."""
    return {
        "title": record.inputs.get("prompt", "")[:200] or f"Seedance run {record.id}",
        "comment": json.dumps(
            {
                "prompt": record.inputs.get("prompt", ""),
                "seed": record.seed,
                "model": record.model,
                "task_id": record.id,
            },
            ensure_ascii=False,
        ),
    }


def _eta(expected: float | None, t0: float, accepted_at: float) -> float | None:
    """Expected total elapsed (from t0) at completion, when earlier runs teach it."""
    return None if expected is None else (accepted_at - t0) + expected


@dataclass(frozen=True)
class _Ended:
    """The wait's end: the final prediction, and when a poll last saw the task going."""

    prediction: Prediction
    pending_s: float | None


@dataclass(frozen=True)
class _Tick:
    status: Status
    polls: int
    pending_s: float | None = None  # when (since acceptance) a poll last saw it unfinished
    # (sent then, so the task was going at least until then)


async def _wait_with_ticks(
    client: WaveSpeedClient,
    task_id: str,
    started_at: float,
    expected: float | None,
    ended_by: float | None,
    deadline_s: float | None,
    woken: asyncio.Event | None = None,
) -> AsyncIterator[_Tick | _Ended]:
    """client.wait, surfacing a tick at least every second so elapsed time stays live."""
    latest = _Tick(Status.CREATED, 0)

    def on_update(update: WaitUpdate) -> None:
        nonlocal latest
        going = latest.pending_s if update.status.is_terminal else update.asked_s
        latest = _Tick(update.status, update.polls, going)

    limit = {} if deadline_s is None else {"deadline_s": deadline_s}
    waiter = asyncio.ensure_future(
        client.wait(
            task_id,
            expected_s=expected,
            ended_by_s=ended_by,
            on_update=on_update,
            started_at=started_at,
            woken=woken,
            **limit,
        )
    )
    try:
        while True:
            done, _ = await asyncio.wait({waiter}, timeout=1.0)
            if done:
                yield _Ended(waiter.result(), latest.pending_s)
                return
            yield latest
    finally:
        if not waiter.done():
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter


def output_name(record: RunRecord) -> str:
    """A unique, sortable file name: <date>/<time>_<short id>_<seed>.mp4."""
    now = datetime.now(UTC)
    seed = "noseed" if record.seed is None else record.seed
    return f"{now:%Y-%m-%d}/{now:%H%M%S}_{record.id[:8]}_{seed}.mp4"


def _public_inputs(request: seedance.SeedanceRequest) -> dict[str, Any]:
    """The request as sent, minus anything bulky: data URIs are replaced by a marker."""
    inputs = request.payload()
    for key, value in inputs.items():
        if isinstance(value, str) and value.startswith("data:"):
            inputs[key] = "(inline image)"
    inputs["model"] = request.model
    return inputs
