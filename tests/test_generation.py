"""generation.run end to end against the emulator: real HTTP on loopback, real MP4s.

The client polls with a shortened sleep (never longer than POLL_S) so a run takes about as
long as the emulator's task, not the client's first 1-2 s poll interval.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import price_of
from PIL import Image, ImageDraw

import wavespeed_client
from playground.emulator import RunningEmulator
from playground.flow import generation
from playground.flow.generation import (
    PRIOR_DISCOUNT,
    DurationStats,
    ImageInput,
    Progress,
    RunRecord,
    Stage,
    UploadCache,
)
from playground.media import images, videos
from playground.model import seedance
from playground.store.history import OFFLINE_BACKEND
from wavespeed_client import TaskFailed, WaveSpeedClient

MODEL = "bytedance/seedance-v1-lite-i2v-480p"  # the cheapest render; same code path as 720p
POLL_S = 0.05
SETTLE_S = 0.6  # long enough for a dozen polls at POLL_S, had any continued
NAME = re.compile(r"(\d{4}-\d{2}-\d{2})/(\d{6})_([0-9a-f]{8})_(\d+)\.mp4")


class RecordingTransport(httpx.AsyncHTTPTransport):
    """Real HTTP, remembering every submit body the server was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.submitted: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST" and path.startswith("/api/v3/") and "/media/" not in path:
            self.submitted.append(json.loads(request.content))
        return await super().handle_async_request(request)


async def quick_sleep(seconds: float) -> None:
    await asyncio.sleep(min(seconds, POLL_S))


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
async def client(
    emulator: RunningEmulator, transport: RecordingTransport
) -> AsyncIterator[WaveSpeedClient]:
    emulator.config.inference_seconds = 0.2  # tests that watch the wait set more
    async with WaveSpeedClient(
        "test-key", base_url=emulator.base_url, transport=transport, sleep=quick_sleep
    ) as ws:
        yield ws


@pytest.fixture(scope="module")
def start_image(tmp_path_factory: pytest.TempPathFactory) -> ImageInput:
    path = tmp_path_factory.mktemp("images") / "start.png"
    image = Image.new("RGB", (640, 360), (30, 90, 160))
    ImageDraw.Draw(image).ellipse((250, 110, 390, 250), fill=(240, 200, 40))
    image.save(path)
    prepared = images.prepare_image(path)
    return ImageInput(data=prepared.data, filename=prepared.filename)


@pytest.fixture
def output_dir(tmp_path: Path) -> Path:
    return tmp_path / "outputs"


def request(**overrides: Any) -> seedance.SeedanceRequest:
    fields: dict[str, Any] = {
        "image": "start.jpg",
        "prompt": "the sun rises slowly; the camera holds still",
        "duration": 2,
        "aspect_ratio": "16:9",
        "seed": seedance.RANDOM_SEED,
        "model": MODEL,
    }
    fields = {**fields, **overrides}
    return seedance.request(fields.pop("model"), **fields)


def a_run(
    client: WaveSpeedClient,
    start: ImageInput,
    output_dir: Path,
    *,
    req: seedance.SeedanceRequest | None = None,
    stats: DurationStats | None = None,
    uploads: UploadCache | None = None,
    on_save: Any = None,
) -> AsyncIterator[Progress | RunRecord]:
    """One run on the emulator backend, not yet started: iterate it to drive it."""
    ctx = generation.RunContext(
        client=client,
        uploads=uploads or UploadCache(),
        output_dir=output_dir,
        stats=stats or DurationStats(),
        backend="emulator",
        on_save=on_save,
    )
    return generation.run(ctx, req or request(), start, None)


async def collect(
    client: WaveSpeedClient, start: ImageInput, output_dir: Path, **options: Any
) -> tuple[list[Progress], RunRecord]:
    """Drive one run (`a_run`'s options) to the end; its Progress items and its RunRecord."""
    items = [item async for item in a_run(client, start, output_dir, **options)]
    *progress, record = items
    assert isinstance(record, RunRecord)
    assert all(isinstance(p, Progress) for p in progress)
    return progress, record  # type: ignore[return-value]


# ---------------------------------------------------------------- one whole run


async def test_a_run_reports_its_stages_then_a_playable_record(
    emulator: RunningEmulator,
    client: WaveSpeedClient,
    transport: RecordingTransport,
    start_image: ImageInput,
    output_dir: Path,
) -> None:
    emulator.config.inference_seconds = 1.3  # long enough to be seen queued/processing
    events: list[tuple[str, Any]] = []

    def on_save(record: RunRecord) -> None:
        events.append(("saved", record.to_json()))

    items: list[Progress | RunRecord] = []
    async for item in a_run(client, start_image, output_dir, on_save=on_save):
        items.append(item)
        events.append(("item", item))

    *progress, record = items
    assert isinstance(record, RunRecord)
    stages = [p.stage for p in progress]
    assert stages[:2] == [Stage.UPLOADING, Stage.SUBMITTING]
    assert stages[-1] == Stage.DOWNLOADING
    waiting = stages[2:-1]
    assert waiting and set(waiting) <= {Stage.QUEUED, Stage.PROCESSING}
    # queued never comes back once processing was seen
    assert waiting == sorted(waiting, key=[Stage.QUEUED, Stage.PROCESSING].index)
    assert [p.elapsed_s for p in progress] == sorted(p.elapsed_s for p in progress)
    assert all(p.task_id == record.id for p in progress[2:])

    # saved the moment the task was accepted (once), before any waiting; saved again done
    saves = [e[1] for e in events if e[0] == "saved"]
    assert [s["status"] for s in saves].count("created") == 1
    assert (saves[0]["id"], saves[0]["status"]) == (record.id, "created")
    first_wait = next(i for i, e in enumerate(events) if e[0] == "item" and e[1] in progress[2:])
    assert [e[0] for e in events].index("saved") < first_wait
    assert saves[-1] == record.to_json()

    # the video exists and is an MP4 of the requested length
    assert record.status == "completed"
    assert record.video_path is not None
    video = Path(record.video_path)
    assert video.is_file() and video.is_relative_to(output_dir)
    info = videos.probe_video(video)
    assert info.codec == "h264"
    assert info.duration_s == pytest.approx(2, abs=0.2)

    # the seed is concrete, and the one the server was sent
    assert len(transport.submitted) == 1
    sent = transport.submitted[0]
    assert 0 <= record.seed <= seedance.SEED_MAX
    assert sent["seed"] == record.seed

    # cost, timings, inputs
    assert record.cost_usd == price_of(MODEL, 2)
    assert record.model == MODEL
    t = record.timings
    for value in (t.upload_s, t.submit_s, t.wait_s, t.download_s, t.total_s):
        assert value >= 0
    assert t.total_s >= t.wait_s >= 1.3 * 0.9
    assert t.inference_s == pytest.approx(1.3, abs=0.01)  # the server's own figure
    assert t.queue_s is not None and t.queue_s >= 0
    assert record.inputs["image"].startswith(f"{emulator.base_url}/uploads/")
    assert record.inputs["image"] == sent["image"]
    assert record.inputs["seed"] == record.seed
    assert record.inputs["duration"] == 2
    assert record.inputs["model"] == MODEL
    as_json = record.to_json()
    json.dumps(as_json)  # serialisable as it is shown and saved
    assert "base64" not in json.dumps(as_json)
    assert as_json["timings"]["queue_s"] == t.queue_s


async def test_a_fixed_seed_is_sent_and_recorded_as_is(
    client: WaveSpeedClient,
    transport: RecordingTransport,
    start_image: ImageInput,
    output_dir: Path,
) -> None:
    _, record = await collect(client, start_image, output_dir, req=request(seed=1234))
    assert record.seed == 1234
    assert transport.submitted[0]["seed"] == 1234
    assert record.video_path is not None
    assert record.video_path.endswith("_1234.mp4")


async def test_a_video_that_cannot_be_thumbnailed_still_completes(
    client: WaveSpeedClient,
    start_image: ImageInput,
    output_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(video: Path, dest: Path) -> Path:
        raise IndexError("no frames")

    monkeypatch.setattr(videos, "save_thumbnail", broken)
    saved: list[str] = []
    _, record = await collect(
        client, start_image, output_dir, on_save=lambda r: saved.append(r.status)
    )
    assert record.status == "completed" and saved[-1] == "completed"
    assert Path(record.video_path or "").is_file()
    assert "thumb" not in record.input_files


async def test_an_async_on_save_is_awaited(
    client: WaveSpeedClient, start_image: ImageInput, output_dir: Path
) -> None:
    seen: list[tuple[str, str]] = []

    async def on_save(record: RunRecord) -> None:
        await asyncio.sleep(0)
        seen.append((record.id, record.status))

    _, record = await collect(client, start_image, output_dir, on_save=on_save)
    assert seen[0] == (record.id, "created")
    assert seen[-1] == (record.id, "completed")


# ---------------------------------------------------------------- uploads


async def test_the_same_image_is_uploaded_once_across_runs(
    emulator: RunningEmulator, client: WaveSpeedClient, start_image: ImageInput, output_dir: Path
) -> None:
    uploads = UploadCache()
    _, first = await collect(client, start_image, output_dir, uploads=uploads)
    _, second = await collect(client, start_image, output_dir, uploads=uploads)
    assert emulator.stats()["uploads"] == 1
    assert emulator.stats()["submits"] == 2
    assert first.inputs["image"] == second.inputs["image"]


async def test_concurrent_runs_sharing_an_image_upload_it_once(
    emulator: RunningEmulator, client: WaveSpeedClient, start_image: ImageInput, output_dir: Path
) -> None:
    uploads = UploadCache()
    (_, a), (_, b) = await asyncio.gather(
        collect(client, start_image, output_dir, uploads=uploads),
        collect(client, start_image, output_dir, uploads=uploads),
    )
    assert emulator.stats()["uploads"] == 1
    assert a.id != b.id
    assert a.video_path != b.video_path


# ---------------------------------------------------------------- ETA


async def test_a_finished_run_teaches_the_eta_of_the_next(
    emulator: RunningEmulator, client: WaveSpeedClient, start_image: ImageInput, output_dir: Path
) -> None:
    stats = DurationStats()
    assert stats.expected(MODEL, 2) is None
    first_progress, first = await collect(client, start_image, output_dir, stats=stats)
    assert all(p.eta_s is None for p in first_progress)
    # what it learns is when the task ended: between the last poll that saw it going and
    # the one that saw it done (wait_s, which is up to a poll interval late)
    expected = stats.expected(MODEL, 2)
    assert first.timings.wait_s - wavespeed_client.POLL_MAX_INTERVAL_S < expected
    assert expected < first.timings.wait_s
    # a kind never run starts from a discounted prior: this model's other durations scaled,
    # then its family's (another resolution); offline runs teach only offline runs
    rate = expected / 2
    assert stats.expected(MODEL, 3) == pytest.approx(PRIOR_DISCOUNT * rate * 3)
    assert stats.expected(seedance.DEFAULT_MODEL, 2) == pytest.approx(PRIOR_DISCOUNT * rate * 2)
    assert stats.expected("bytedance/seedance-2.0/image-to-video", 2) is None
    assert stats.expected(MODEL, 2, OFFLINE_BACKEND) is None

    emulator.config.inference_seconds = 1.2  # long enough to tick while it waits
    second_progress, _ = await collect(client, start_image, output_dir, stats=stats)
    waiting = [p for p in second_progress if p.stage in (Stage.QUEUED, Stage.PROCESSING)]
    assert waiting and all(p.eta_s is not None and p.eta_s >= expected for p in waiting)
    assert "left" in waiting[0].describe() or "any moment" in waiting[0].describe()


def test_describe_shows_the_eta_only_while_waiting() -> None:
    assert Progress(Stage.PROCESSING, 5.2, "t", eta_s=20.0).describe() == (
        "Processing · 5 s · about 15 s left"
    )
    assert Progress(Stage.QUEUED, 19.6, "t", eta_s=20.0).describe() == (
        "Queued · 20 s · any moment now"
    )
    assert Progress(Stage.PROCESSING, 5.0, "t").describe() == "Processing · 5 s"
    assert Progress(Stage.DOWNLOADING, 21.0, "t", eta_s=20.0).describe() == "Downloading · 21 s"


# ---------------------------------------------------------------- failures


async def test_an_invalid_request_fails_before_anything_is_sent(
    emulator: RunningEmulator, client: WaveSpeedClient, start_image: ImageInput, output_dir: Path
) -> None:
    before = emulator.stats()
    with pytest.raises(seedance.InvalidRequest) as info:
        await collect(client, start_image, output_dir, req=request(prompt="x" * 2001))
    assert "2000" in str(info.value)
    assert emulator.stats() == before
    assert not output_dir.exists()


async def test_a_failed_task_raises_task_failed_with_its_id(
    emulator: RunningEmulator, client: WaveSpeedClient, start_image: ImageInput, output_dir: Path
) -> None:
    emulator.config.faults.fail_code = 1200
    emulator.config.faults.fail_message = "content moderation: the output was flagged"
    saved: list[tuple[str, str]] = []
    with pytest.raises(TaskFailed) as info:
        await collect(
            client, start_image, output_dir, on_save=lambda r: saved.append((r.id, r.status))
        )
    error = info.value
    assert saved[0] == (error.task_id, "created")
    assert saved[-1] == (error.task_id, "failed")
    assert error.code == 1200
    assert error.reason == "content moderation: the output was flagged"
    assert emulator.stats()["submits"] == 1  # a failed task is not retried
    assert not any(output_dir.rglob("*.mp4"))


async def _wait_until_waiting(agen: AsyncIterator[Progress | RunRecord]) -> Progress:
    async for item in agen:
        if isinstance(item, Progress) and item.stage in (Stage.QUEUED, Stage.PROCESSING):
            return item
    raise AssertionError("the run ended without waiting")


async def _assert_polling_stopped(emulator: RunningEmulator) -> None:
    await asyncio.sleep(POLL_S * 2)  # let an in-flight GET land
    gets = emulator.stats()["result_gets"]
    await asyncio.sleep(SETTLE_S)
    assert emulator.stats()["result_gets"] == gets
    assert (emulator.stats()["submits"], emulator.stats()["tasks"]) == (1, 1)


async def test_closing_the_run_early_stops_polling_and_nothing_else(
    emulator: RunningEmulator, client: WaveSpeedClient, start_image: ImageInput, output_dir: Path
) -> None:
    emulator.config.faults.never_finish = True
    agen = a_run(client, start_image, output_dir)
    waiting = await _wait_until_waiting(agen)
    assert waiting.task_id in emulator.emulator.tasks
    assert emulator.stats()["result_gets"] > 1  # it was polling
    await agen.aclose()
    await _assert_polling_stopped(emulator)


async def test_cancelling_the_consuming_task_stops_polling(
    emulator: RunningEmulator, client: WaveSpeedClient, start_image: ImageInput, output_dir: Path
) -> None:
    """What Gradio's Cancel does: cancel the asyncio task iterating the run."""
    emulator.config.faults.never_finish = True
    submitted = asyncio.Event()

    async def consume() -> None:
        async for item in a_run(client, start_image, output_dir, on_save=lambda _: submitted.set()):
            del item

    task = asyncio.create_task(consume())
    await asyncio.wait_for(submitted.wait(), timeout=10)
    await asyncio.sleep(0.3)  # mid-wait, a few polls in
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _assert_polling_stopped(emulator)


# ---------------------------------------------------------------- output files


async def test_output_files_are_unique_and_sortable(
    client: WaveSpeedClient, start_image: ImageInput, output_dir: Path
) -> None:
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    _, first = await collect(client, start_image, output_dir, req=request(seed=7))
    _, second = await collect(client, start_image, output_dir, req=request(seed=7))
    names = []
    for record in (first, second):
        assert record.video_path is not None
        relative = Path(record.video_path).relative_to(output_dir).as_posix()
        match = NAME.fullmatch(relative)
        assert match, relative
        date, _, short_id, seed = match.groups()
        assert date in (today, datetime.now(UTC).strftime("%Y-%m-%d"))  # midnight-safe
        assert (short_id, int(seed)) == (record.id[:8], record.seed)
        names.append(relative)
    # same seed, same second: still two files, and each a whole video
    assert names[0] != names[1]
    assert all(videos.probe_video(output_dir / n).frames > 0 for n in names)


async def test_an_upload_url_is_not_reused_past_the_apis_seven_day_retention():
    class CountingClient:
        uploads = 0

        async def upload(self, data: bytes, *, filename: str) -> str:
            self.uploads += 1
            return f"https://cdn.example/{self.uploads}.jpg"

    now = [0.0]
    cache = generation.UploadCache(clock=lambda: now[0])
    client = CountingClient()
    image = generation.ImageInput(data=b"jpeg bytes")
    first = await cache.url_for(client, image)  # type: ignore[arg-type]
    now[0] = 5 * 24 * 3600
    assert await cache.url_for(client, image) == first  # type: ignore[arg-type]
    now[0] = 6.5 * 24 * 3600
    assert await cache.url_for(client, image) != first  # type: ignore[arg-type]
    assert client.uploads == 2


def test_runs_of_one_length_are_expected_where_their_intervals_overlap() -> None:
    """Each run teaches when it ended: after its last poll that saw it going, by the one
    that saw it done. While the intervals share a point the end lies in the overlap (its
    middle is expected); once one does not fit, the median of the middles."""
    stats = DurationStats()
    stats.add(MODEL, 5, 5.1, after_s=4.3)
    assert stats.expected(MODEL, 5) == pytest.approx(4.7)  # one interval: its middle
    stats.add(MODEL, 5, 5.6, after_s=4.8)
    assert stats.expected(MODEL, 5) == pytest.approx(4.95)  # (4.8, 5.1]
    stats.add(MODEL, 5, 5.05, after_s=5.0)
    assert stats.expected(MODEL, 5) == pytest.approx(5.025)  # (5.0, 5.05]
    stats.add(MODEL, 5, 6.8, after_s=6.0)  # a run that took longer: no common point
    assert stats.expected(MODEL, 5) == pytest.approx(statistics.median([4.7, 5.2, 5.025, 6.4]))
    stats.add(MODEL, 5, 6.0)  # a figure alone bounds only the end (its middle: itself)
    assert stats.expected(MODEL, 5) == pytest.approx(5.2)
    stats.add(MODEL, 5, 5.0, after_s=9.0)  # a poll "after" the end is clamped to it: 5.0
    assert stats.expected(MODEL, 5) == pytest.approx((5.025 + 5.2) / 2)


def test_a_crowd_of_runs_that_saw_the_same_polls_does_not_push_out_what_narrowed_the_end() -> None:
    """Fifty runs started together and were polled alike: they teach one interval, not
    fifty. Kept fifty times they would push out the earlier run that narrowed the overlap
    (the window keeps the last few), and the next crowd would be polled as late."""
    stats = DurationStats(keep=3)
    stats.add(MODEL, 2, 5.01, after_s=3.49)
    for answered in range(50):
        stats.add(MODEL, 2, 5.19 + answered / 10_000, after_s=4.35)
    assert stats.expected(MODEL, 2) == pytest.approx((4.35 + 5.01) / 2)


async def test_a_run_keeps_when_a_poll_last_saw_it_going_as_sent_not_as_answered(
    emulator: RunningEmulator, client: WaveSpeedClient, start_image: ImageInput, output_dir: Path
) -> None:
    """A slow server answers a poll long after it is sent; the task was going when the
    poll was sent, not necessarily when the answer came. That time is what the record
    keeps and what the stats learn, so a busy server cannot teach too late an end."""
    emulator.config.inference_seconds = 0.8
    emulator.config.faults.slow_seconds = 0.3
    stats = DurationStats()
    _, record = await collect(client, start_image, output_dir, stats=stats)
    pending, wait = record.timings.pending_s, record.timings.wait_s
    assert pending is not None and 0 < pending < wait
    # the pending answer came 0.3 s after its poll was sent, and the done poll took as
    # long again: with the answer's time kept the gap would be under 0.35 s
    assert wait - pending >= 0.6
    assert RunRecord.from_json(record.to_json()).timings.pending_s == pending
    assert stats.expected(MODEL, 2) == pytest.approx((pending + wait) / 2)


def test_what_history_kept_teaches_a_new_process_and_junk_is_passed_over() -> None:
    """At start the stats learn from completed runs as history keeps them (newest first, so
    the newest are what stay); records with odd timings are skipped, never fatal."""
    stats = DurationStats(keep=2)
    lite = "bytedance/seedance-v1-lite-i2v-480p"

    def kept(wait: object, duration: object = 5, backend: str = "WaveSpeed") -> dict:
        return {
            "model": lite,
            "backend": backend,
            "inputs": {"duration": duration},
            "timings": {"wait_s": wait},
        }

    records = [
        kept(30.0),
        kept(32.0),
        kept(90.0),
        kept(True),
        kept("40"),
        kept(None),
        kept(float("inf")),
        kept(float("nan")),
        kept(10.0, duration="5"),
        {"model": 7},
        {},
        kept(3.0, backend=OFFLINE_BACKEND),
    ]
    assert stats.learn_from(records) == 4
    assert stats.expected(lite, 5) == pytest.approx(31.0)  # the newest two: 30 and 32
    assert stats.expected(lite, 5, OFFLINE_BACKEND) == pytest.approx(3.0)
    # kept with the last poll that saw it going, a run is learned as that interval
    stats = DurationStats()
    spanned = [
        kept(30.0),
        kept(30.4),
        {**kept(31.0), "timings": {"wait_s": 31.0, "pending_s": 30.2}},
    ]
    spanned[1]["timings"]["pending_s"] = 29.6
    spanned[0]["timings"]["pending_s"] = "29"  # junk: the wait alone is learned
    assert stats.learn_from(spanned) == 3
    assert stats.expected(lite, 5) == pytest.approx(statistics.median([30.0, 30.0, 30.6]))
