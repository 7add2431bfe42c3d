"""Iterating on a shot: variations in parallel, paced submits, chaining shots, stitching,
copy as code and the prompt builder's handlers.

The pure parts (seedance.variations, Pacer with a fake clock) are tested alone; batches run
over real HTTP against the emulator; the app's handlers are called directly in offline mode,
as Gradio would call them, each test with its own data directory.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

import av
import gradio as gr
import httpx
import numpy as np
import pytest
from conftest import PROMPT, UIs, form, quick_sleep
from PIL import Image, ImageDraw

from playground.emulator import RunningEmulator
from playground.flow import generation
from playground.flow.generation import (
    DurationStats,
    ImageInput,
    Pacer,
    Progress,
    RunContext,
    RunRecord,
    Stage,
    UploadCache,
)
from playground.flow.prices import Price
from playground.flow.routes import Route
from playground.flow.service import Stitched
from playground.flow.session import Session
from playground.media import videos
from playground.media.images import prepare_image
from playground.model import seedance
from playground.model.form import AUTO_RATIO
from playground.model.status import RunStatus
from playground.store.history import OFFLINE_BACKEND
from playground.ui import snippets, views
from playground.ui.handlers import PAGE_FIELDS, Handlers
from playground.ui.modelform import EXTRA_FIELDS
from wavespeed_client import MAX_SUBMIT_ATTEMPTS, RateLimitError, TaskFailed, WaveSpeedClient

MODEL_480P = "bytedance/seedance-v1-lite-i2v-480p"  # the cheapest render; same code paths
CANARY_KEY = "sk-CANARY-iterate-5e2a"


# ---------------------------------------------------------------------------- fixtures


def make_image(path: Path, size: tuple[int, int]) -> Path:
    image = Image.new("RGB", size, (30, 90, 160))
    ImageDraw.Draw(image).ellipse(
        (size[0] // 3, size[1] // 3, size[0] // 2, size[1] // 2), fill=(240, 200, 40)
    )
    image.save(path)
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    folder = tmp_path_factory.mktemp("images")
    start = make_image(folder / "start.png", (640, 360))
    prepared = prepare_image(start)
    return SimpleNamespace(
        start=start,
        square=make_image(folder / "square.png", (480, 480)),
        input=ImageInput(data=prepared.data, filename=prepared.filename),
    )


@pytest.fixture
async def client(emulator: RunningEmulator) -> AsyncIterator[WaveSpeedClient]:
    emulator.config.inference_seconds = 0.2
    async with WaveSpeedClient("test-key", base_url=emulator.base_url, sleep=quick_sleep) as ws:
        yield ws


def context(client: WaveSpeedClient, tmp_path: Path, **extra: Any) -> RunContext:
    return RunContext(
        client=client,
        uploads=UploadCache(),
        output_dir=tmp_path / "outputs",
        stats=DurationStats(),
        backend="emulator",
        **extra,
    )


def base_request(**overrides: Any) -> seedance.SeedanceRequest:
    fields: dict[str, Any] = {"image": "start.jpg", "prompt": PROMPT, "duration": 2}
    fields["model"] = MODEL_480P
    fields.update(overrides)
    return seedance.request(fields.pop("model"), **fields)


@pytest.fixture
def offline(env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app in offline mode with short emulator tasks, data in tmp_path (no `.env`:
    the working directory is tmp_path); returns the data dir. List `ui` after it."""
    monkeypatch.setenv("PLAYGROUND_OFFLINE", "1")
    monkeypatch.setenv("PLAYGROUND_OFFLINE_SECONDS", "0.3")
    return env


def shot_form(image: Path, **overrides: Any) -> dict[str, Any]:
    """The shared form() as these tests fill it: the cheapest model, the ratio left to the
    image (Auto) unless a test sets one."""
    return form(image, aspect_ratio=AUTO_RATIO, model=MODEL_480P) | overrides


async def generate_offline(
    ui: Handlers, session: Session, image: Path, **overrides: Any
) -> dict[str, Any]:
    """One run through the app's Generate handler; the run record it ends with."""
    outputs = [o async for o in ui.generate(**shot_form(image, **overrides), session=session)]
    video, record, _status = outputs[-1]
    assert record["status"] == "completed" and Path(video).is_file()
    return record


# ---------------------------------------------------------------- seedance.variations


def test_seed_variations_are_distinct_concrete_seeds() -> None:
    batch = seedance.variations(base_request(), 8, rng=random.Random(3))
    seeds = [r.seed for r in batch]
    assert len(batch) == 8
    assert len(set(seeds)) == 8
    assert all(0 <= s <= seedance.SEED_MAX for s in seeds)
    # only the seed differs
    assert {(r.prompt, r.duration, r.model, r.image) for r in batch} == {
        (PROMPT, 2, MODEL_480P, "start.jpg")
    }


def test_a_fixed_base_seed_is_kept_first() -> None:
    batch = seedance.variations(base_request(seed=1234), 4, rng=random.Random(3))
    assert batch[0].seed == 1234
    assert len({r.seed for r in batch}) == 4
    assert all(r.seed != seedance.RANDOM_SEED for r in batch)


def test_a_single_variation_is_allowed() -> None:
    (only,) = seedance.variations(base_request(seed=77), 1)
    assert only.seed == 77


@pytest.mark.parametrize("base_seed", [seedance.RANDOM_SEED, 4242])
def test_prompt_variants_share_one_seed(base_seed: int) -> None:
    prompts = ["she turns and smiles", "  ", "she waves\n", "she laughs"]
    batch = seedance.variations(base_request(seed=base_seed), 8, prompts)
    assert [r.prompt for r in batch] == ["she turns and smiles", "she waves", "she laughs"]
    (seed,) = {r.seed for r in batch}
    assert seed != seedance.RANDOM_SEED
    if base_seed != seedance.RANDOM_SEED:
        assert seed == base_seed


@pytest.mark.parametrize(
    ("count", "prompts", "expected"),
    [
        (0, None, "choose 1 to 8, not 0"),
        (9, None, "choose 1 to 8, not 9"),
        (2, ["a", "b", "c", "d", "e"], "Up to 4 prompt variants at once, not 5"),
    ],
)
def test_batch_limits_are_refused_with_a_sentence(
    count: int, prompts: list[str] | None, expected: str
) -> None:
    with pytest.raises(seedance.InvalidRequest) as info:
        seedance.variations(base_request(), count, prompts)
    message = str(info.value)
    assert expected in message
    assert message.endswith(".")
    assert info.value.problems == [message]


def test_a_prompt_variant_over_the_limit_names_it() -> None:
    with pytest.raises(seedance.InvalidRequest, match="limit is 2000"):
        seedance.variations(base_request(), 2, ["short", "x" * 2001])


# ---------------------------------------------------------------- Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_pacer_lets_the_tier_through_then_waits_for_the_window() -> None:
    clock = FakeClock()
    pacer = Pacer(2, clock=clock)  # bronze: 2 videos per minute
    assert pacer.delay() == 0
    await pacer.acquire()
    assert pacer.delay() == 0
    clock.now += 10
    await pacer.acquire()  # both at once: no waiting (delay was 0, so no sleep)
    assert pacer.delay() == pytest.approx(50)  # the first leaves the window at +60 s
    clock.now += 30
    assert pacer.delay() == pytest.approx(20)
    clock.now += 20
    assert pacer.delay() == 0
    await pacer.acquire()
    assert pacer.delay() == pytest.approx(10)  # now the second one is the oldest


def test_pacer_tiers_match_the_contract() -> None:
    assert generation.TIER_VIDEOS_PER_MINUTE == {"bronze": 2, "silver": 500, "gold": 3000}


async def test_back_off_after_a_429_delays_every_caller() -> None:
    clock = FakeClock()
    pacer = Pacer(3000, clock=clock)
    await pacer.acquire()
    assert pacer.rate_limited(15) == pytest.approx(15)
    assert pacer.delay() == pytest.approx(15)
    clock.now += 5
    pacer.rate_limited(3)  # a shorter back-off never shortens a longer one
    assert pacer.delay() == pytest.approx(10)
    clock.now += 10
    assert pacer.delay() == 0


async def test_back_off_holds_concurrent_acquirers() -> None:
    pacer = Pacer(3000)
    pacer.rate_limited(0.3)
    t0 = time.monotonic()

    async def acquire() -> float:
        await pacer.acquire()
        return time.monotonic() - t0

    waited = await asyncio.gather(*(acquire() for _ in range(3)))
    assert min(waited) >= 0.29
    assert max(waited) < 1.0


class ShortWindowPacer(Pacer):
    WINDOW_S = 0.4  # "per minute" becomes "per 0.4 s", so real waiting stays short


async def test_acquire_serialises_concurrent_callers() -> None:
    pacer = ShortWindowPacer(2)
    t0 = time.monotonic()

    async def acquire() -> float:
        await pacer.acquire()
        return time.monotonic() - t0

    times = sorted(await asyncio.gather(*(acquire() for _ in range(6))))
    assert times[1] < 0.1  # two at once
    # never more than two in any window: the third waits for the first to leave it
    for earlier, later in zip(times, times[2:], strict=False):
        assert later - earlier >= ShortWindowPacer.WINDOW_S - 0.02
    assert times[-1] < 3 * ShortWindowPacer.WINDOW_S  # and no longer than needed


def pacer_of(ui: Handlers, session: Session) -> Pacer | None:
    routes = ui.service.routes
    return routes.pacer_for(routes.route_for(session))


@pytest.mark.parametrize(
    ("tier", "per_minute"), [("", None), ("bronze", 2), ("silver", 500), ("GOLD", 3000)]
)
def test_the_tier_setting_paces_the_owners_key_for_every_session(
    uis: UIs, monkeypatch: pytest.MonkeyPatch, tier: str, per_minute: int
) -> None:
    monkeypatch.setenv("WAVESPEED_API_KEY", CANARY_KEY)
    monkeypatch.setenv("WAVESPEED_TIER", tier)
    ui = uis()
    one, other = ui.service.new_session(), ui.service.new_session()
    pacer = pacer_of(ui, one)
    assert pacer is not None and pacer.per_minute == per_minute
    assert pacer_of(ui, other) is pacer  # one account, one pacer


def test_the_offline_emulator_is_not_paced(ui: Handlers) -> None:
    session = ui.service.new_session()
    assert session.offline
    assert ui.service.routes.pacer_for(Route("k", "http://emulator", "offline", "offline")) is None


def test_two_tabs_with_the_same_personal_key_share_one_pacer(ui: Handlers) -> None:
    one, other = ui.service.new_session(), ui.service.new_session()
    ui.set_key(CANARY_KEY, one)
    ui.set_key(CANARY_KEY, other)
    assert pacer_of(ui, one) is pacer_of(ui, other)


# ---------------------------------------------------------------- run_many on the emulator


async def collect_many(
    ctx: RunContext, requests: list[seedance.SeedanceRequest], start: ImageInput
) -> list[tuple[int, Progress | RunRecord | Exception]]:
    return [item async for item in generation.run_many(ctx, requests, start, None)]


async def test_four_variations_upload_the_image_once(
    client: WaveSpeedClient,
    emulator: RunningEmulator,
    images: SimpleNamespace,
    tmp_path: Path,
) -> None:
    requests = seedance.variations(base_request(), 4)
    items = await collect_many(context(client, tmp_path), requests, images.input)

    assert {index for index, _ in items} == {0, 1, 2, 3}
    failures = [item for _, item in items if isinstance(item, Exception)]
    assert failures == []
    records = {index: item for index, item in items if isinstance(item, RunRecord)}
    assert sorted(records) == [0, 1, 2, 3]
    # each record comes out under its own request's index, with that request's seed
    assert [records[i].seed for i in range(4)] == [r.seed for r in requests]
    assert len({r.seed for r in records.values()}) == 4
    assert len({r.video_path for r in records.values()}) == 4
    for record in records.values():
        assert record.status == "completed"
        assert Path(record.video_path or "").is_file()
    # one image, one upload, its URL reused by all four submits
    assert len({r.inputs["image"] for r in records.values()}) == 1
    stats = emulator.stats()
    assert stats["uploads"] == 1
    assert stats["upload_bytes"] == len(images.input.data)
    assert stats["submits"] == 4


class FailOneSeed(httpx.AsyncHTTPTransport):
    """Real HTTP; the submit carrying `seed` creates a task that fails (emulator fault).

    Submits go through one at a time here, so the fault, set just before that submit and
    cleared once it is answered, sticks to that one task and no other.
    """

    def __init__(self, emulator: RunningEmulator, seed: int) -> None:
        super().__init__()
        self.emulator, self.seed = emulator, seed
        self._one_at_a_time = asyncio.Lock()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method != "POST" or "/media/" in path or not path.startswith("/api/v3/"):
            return await super().handle_async_request(request)
        async with self._one_at_a_time:
            doomed = json.loads(request.content).get("seed") == self.seed
            faults = self.emulator.config.faults
            if doomed:
                faults.fail_code, faults.fail_message = 1200, "content moderation: flagged"
            try:
                return await super().handle_async_request(request)
            finally:
                faults.fail_code, faults.fail_message = None, ""


async def test_one_failing_variation_fails_alone(
    emulator: RunningEmulator, images: SimpleNamespace, tmp_path: Path
) -> None:
    emulator.config.inference_seconds = 0.2
    requests = seedance.variations(base_request(seed=555), 4)
    saved: dict[str, str] = {}
    transport = FailOneSeed(emulator, seed=555)  # the first variation's seed
    async with WaveSpeedClient(
        "test-key", base_url=emulator.base_url, transport=transport, sleep=quick_sleep
    ) as ws:
        ctx = context(ws, tmp_path, on_save=lambda r: saved.__setitem__(r.id, r.status))
        items = await collect_many(ctx, requests, images.input)

    outcomes = {i: item for i, item in items if not isinstance(item, Progress)}
    assert isinstance(outcomes[0], TaskFailed)
    assert outcomes[0].code == 1200
    assert "moderation" in str(outcomes[0])
    for i in (1, 2, 3):
        assert isinstance(outcomes[i], RunRecord), outcomes[i]
        assert outcomes[i].status == "completed"
    # the failed run was recorded as failed (it was accepted, so it may be billed)
    assert saved[outcomes[0].task_id] == "failed"
    assert sorted(saved.values()) == ["completed"] * 3 + ["failed"]
    assert emulator.stats()["tasks"] == 4


# ---------------------------------------------------------------- 429 means wait


async def test_429_means_wait_with_a_pacer(
    client: WaveSpeedClient, emulator: RunningEmulator, images: SimpleNamespace, tmp_path: Path
) -> None:
    refusals = 2  # each with Retry-After: 1; the pacer, not the client, waits them out
    emulator.config.faults.submit_429 = refusals
    pacer = Pacer(generation.TIER_VIDEOS_PER_MINUTE["gold"])
    t0 = time.monotonic()
    items = [
        item
        async for item in generation.run(
            context(client, tmp_path, pacer=pacer), base_request(), images.input, None
        )
    ]
    elapsed = time.monotonic() - t0

    record = items[-1]
    assert isinstance(record, RunRecord) and record.status == "completed"
    stages = [item.stage for item in items if isinstance(item, Progress)]
    assert Stage.RATE_LIMITED in stages
    # said while waiting, then the submit went out again
    assert stages.index(Stage.RATE_LIMITED) < len(stages) - stages[::-1].index(Stage.SUBMITTING) - 1
    assert elapsed >= 1.95  # it waited the server's Retry-After before each new send
    stats = emulator.stats()
    assert stats["submits"] == refusals + 1
    assert stats["tasks"] == 1  # refusals create nothing: nothing is paid twice


async def test_the_pacer_learns_the_accounts_limit_from_a_429() -> None:
    """No tier set: nothing is held back until the API refuses; then the account's limit
    is what it accepted in the window, until the window lets the oldest go."""
    clock = FakeClock()
    pacer = Pacer(None, clock=clock)
    for _ in range(2):
        pacer.accepted(await pacer.acquire())
        clock.now += 1
    assert pacer.delay() == 0  # no limit known: a third goes straight out
    refused = await pacer.acquire()
    pacer.refund(refused)
    assert pacer.rate_limited(None) == pytest.approx(58)  # until the first leaves the window
    assert pacer.per_minute == 2
    clock.now += 58
    assert pacer.delay() == 0
    pacer.accepted(await pacer.acquire())
    assert pacer.delay() == pytest.approx(1)  # two in the window again: it paces now


async def test_a_learned_limit_is_lower_only_and_forgotten_after_a_while() -> None:
    clock = FakeClock()
    pacer = Pacer(3000, clock=clock)  # gold, as WAVESPEED_TIER says
    pacer.rate_limited(1)  # a 429 with nothing accepted here: the account is busy elsewhere
    assert pacer.per_minute == 3000
    clock.now += 1
    for _ in range(5):
        pacer.accepted(await pacer.acquire())
    pacer.rate_limited(2)
    assert pacer.per_minute == 5 and pacer.delay() == pytest.approx(60)
    clock.now += generation.RELEARN_S
    assert pacer.delay() == 0 and pacer.per_minute == 3000  # a top-up may have raised it


async def test_429_without_a_pacer_is_an_error(
    client: WaveSpeedClient, emulator: RunningEmulator, images: SimpleNamespace, tmp_path: Path
) -> None:
    emulator.config.faults.submit_429 = MAX_SUBMIT_ATTEMPTS + 2
    with pytest.raises(RateLimitError) as info:
        async for _ in generation.run(
            context(client, tmp_path), base_request(), images.input, None
        ):
            pass
    assert info.value.status_code == 429
    assert "try again" in str(info.value)
    stats = emulator.stats()
    assert stats["submits"] == MAX_SUBMIT_ATTEMPTS
    assert stats["tasks"] == 0


# ---------------------------------------------------------------- the app's Variations


SRC = re.compile(r"<video src='/gradio_api/file=([^']+)'")
CAPTION = re.compile(r"<figcaption>(.*?)</figcaption>")


async def run_variations(
    ui: Handlers, session: Session, image: Path, count: int, variants: str = ""
) -> list[tuple[str, str]]:
    """The page's Variations button: the form's values in the page's order; (grid, status)
    of each update."""
    page = shot_form(image) | {"image_url": "", "last_image_url": "", "upscale": False}
    values = [page.get(name) for name in PAGE_FIELDS]
    run = ui.generate_variations(None, None, session, count, variants, *values)
    return [(o[3], o[2]) async for o in run]


async def test_generate_variations_shows_a_grid_of_videos_with_seeds(
    offline: Path, ui: Handlers, images: SimpleNamespace
) -> None:
    session = ui.service.new_session()
    assert session.offline
    outputs = await run_variations(ui, session, images.start, 3)

    first_grid, first_status = outputs[0]
    assert first_grid.count("<video") == 0
    assert first_grid.count("<figure>") == 3
    assert len(re.findall(r"<figcaption>[^<]* · waiting</figcaption>", first_grid)) == 3
    assert "Starting 3 variations" in first_status

    grid, status = outputs[-1]
    assert "3 of 3 done" in status and "status ok" in status
    assert grid.count("<video") == 3
    captions = CAPTION.findall(grid)
    assert len(captions) == 3
    seeds = [int(re.search(r"seed (\d+)", c).group(1)) for c in captions]  # type: ignore[union-attr]
    assert len(set(seeds)) == 3
    assert all(c.startswith(f"#{i + 1} · seed ") for i, c in enumerate(captions))
    assert all(PROMPT[:30] in c for c in captions)
    for src in SRC.findall(grid):
        assert Path(unquote(src)).is_file()
        assert Path(unquote(src)).resolve().is_relative_to(offline.resolve())

    history = ui.service.store.list()
    assert len(history) == 3
    assert {run.status for run in history} == {"completed"}
    assert sorted(run.record["seed"] for run in history) == sorted(seeds)
    assert session.pending == {}


async def test_generate_variations_with_prompt_variants_shares_the_seed(
    offline: Path, ui: Handlers, images: SimpleNamespace
) -> None:
    session = ui.service.new_session()
    outputs = await run_variations(ui, session, images.start, 4, "she waves\n\nshe laughs\n")
    grid, status = outputs[-1]
    assert "2 of 2 done" in status
    captions = CAPTION.findall(grid)
    assert [c.split(" · ")[2] for c in captions] == ["she waves", "she laughs"]
    assert len({c.split(" · ")[1] for c in captions}) == 1  # "seed N", the same N
    assert grid.count("<video") == 2


async def test_generate_variations_refuses_too_many(
    offline: Path, ui: Handlers, images: SimpleNamespace
) -> None:
    with pytest.raises(gr.Error) as info:
        await run_variations(ui, ui.service.new_session(), images.start, 9)
    assert "1 to 8" in info.value.message
    assert ui.service.store.list() == []


def test_batch_text_prices_the_whole_batch() -> None:
    quoted = Price(0.16, quoted=True)  # lite 720p, 5 s: $0.032/s
    assert views.batch_text(quoted, 4) == "Run 4 variations · $0.640"
    assert views.batch_text(Price(0.064, quoted=True), 8) == "Run 8 variations · $0.512"
    assert views.batch_text(quoted, 4, offline=True) == "Run 4 variations · free"


async def test_the_batch_counts_prompt_variants_and_marks_an_estimate(ui: Handlers) -> None:
    session = ui.service.new_session()
    session.offline = False  # no key: WaveSpeed's price as the catalog estimates it
    slots = [None] * len(EXTRA_FIELDS)
    pro = "bytedance/seedance-v1-pro-i2v-720p"
    *_, batch = await ui.price_labels(session, pro, 5, None, False, 4, "a\n\n  b \n", *slots)
    assert batch.value == "Run 2 variations · ≈ $0.600"


# ---------------------------------------------------------------- continue & storyboard


async def test_continue_from_uses_the_last_frame_at_full_quality(
    offline: Path, ui: Handlers, images: SimpleNamespace
) -> None:
    session = ui.service.new_session()
    record = await generate_offline(ui, session, images.start, aspect_ratio="16:9")
    video = Path(record["video_path"])

    start, end, shots = ui.continue_from(record, session)

    assert end is None  # the old end image would not fit the new shot
    frame_path = Path(start)
    assert frame_path.suffix == ".png" and frame_path.is_file()
    info = videos.probe_video(video)
    with Image.open(frame_path) as png:
        assert png.size == (info.width, info.height) == (864, 480)
        pixels = np.asarray(png.convert("RGB"))
    assert np.array_equal(pixels, np.asarray(videos.read_frame(video, -1)))
    assert session.storyboard == [record["id"]]
    assert len(shots) == 1 and shots[0][1].startswith("Shot 1 · ")

    # clicking twice neither duplicates the shot nor changes the frame
    again, _, shots = ui.continue_from(record, session)
    assert again == start
    assert len(session.storyboard) == len(shots) == 1
    assert len(ui.add_to_storyboard(record, session)) == 1


async def test_shots_chain_from_the_last_frame(
    offline: Path, ui: Handlers, images: SimpleNamespace
) -> None:
    """The next shot starts where the last one ended (the emulator starts on its image)."""
    session = ui.service.new_session()
    first = await generate_offline(ui, session, images.start, aspect_ratio="16:9")
    start, _, _ = ui.continue_from(first, session)
    second = await generate_offline(ui, session, Path(start), aspect_ratio="16:9", prompt="beat 2")
    ui.add_to_storyboard(second, session)

    assert session.storyboard == [first["id"], second["id"]]
    end_of_first = np.asarray(videos.read_frame(first["video_path"], -1), dtype=np.int16)
    start_of_second = np.asarray(videos.read_frame(second["video_path"], 0), dtype=np.int16)
    assert np.abs(end_of_first - start_of_second).mean() < 6  # JPEG + H.264 apart, no more

    path, note = ui.stitch_storyboard(session)
    stitched = videos.probe_video(path)
    parts = [videos.probe_video(s["video_path"]) for s in (first, second)]
    assert stitched.frames == sum(p.frames for p in parts)
    assert stitched.duration_s == pytest.approx(4.0, abs=0.1)
    assert (stitched.width, stitched.height) == (864, 480)
    assert "2 shots · 4 s · joined without re-encoding" in note


async def test_add_to_storyboard_keeps_order_and_no_duplicates(
    offline: Path, ui: Handlers, images: SimpleNamespace
) -> None:
    session = ui.service.new_session()
    first = await generate_offline(ui, session, images.start)
    second = await generate_offline(ui, session, images.start)
    assert len(ui.add_to_storyboard(first, session)) == 1
    assert len(ui.add_to_storyboard(second, session)) == 2
    shots = ui.add_to_storyboard(first, session)
    assert [caption.split(" · ")[0] for _, caption in shots] == ["Shot 1", "Shot 2"]
    assert session.storyboard == [first["id"], second["id"]]
    assert all(Path(picture).is_file() for picture, _ in shots)


async def test_shots_of_different_sizes_are_re_encoded_to_the_first(
    offline: Path, ui: Handlers, images: SimpleNamespace
) -> None:
    session = ui.service.new_session()
    wide = await generate_offline(ui, session, images.start, aspect_ratio="16:9")
    square = await generate_offline(ui, session, images.square, aspect_ratio="1:1")
    ui.add_to_storyboard(wide, session)
    ui.add_to_storyboard(square, session)

    path, note = ui.stitch_storyboard(session)
    stitched = videos.probe_video(path)
    parts = [videos.probe_video(s["video_path"]) for s in (wide, square)]
    assert (parts[1].width, parts[1].height) == (640, 640)
    assert (stitched.width, stitched.height) == (parts[0].width, parts[0].height)
    assert stitched.frames == sum(p.frames for p in parts)
    assert "re-encoded" in note and "without" not in note
    assert Path(path).resolve().is_relative_to(offline.resolve())


async def test_storyboard_handlers_say_what_to_do_when_empty(offline: Path, ui: Handlers) -> None:
    session = ui.service.new_session()
    with pytest.raises(gr.Error, match="storyboard is empty"):
        ui.stitch_storyboard(session)
    with pytest.raises(gr.Error, match="Generate a video first"):
        ui.continue_from(None, session)
    with pytest.raises(gr.Error, match="Generate a video first"):
        ui.add_to_storyboard({"id": "x", "video_path": "/nonexistent.mp4"}, session)
    assert session.storyboard == []


async def test_clear_storyboard_empties_it(
    offline: Path, ui: Handlers, images: SimpleNamespace
) -> None:
    session = ui.service.new_session()
    ui.add_to_storyboard(await generate_offline(ui, session, images.start), session)
    shots, stitched, note, picked, picked_note, confirm = ui.clear_storyboard(session)
    assert (shots, stitched, note, picked, picked_note) == ([], None, "", None, "")
    assert confirm.visible is False  # the question "Clear all N shots?" goes away
    assert session.storyboard == []


def write_clip(path: Path, frames: int = 12) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(frames):
            frame = Image.new("RGB", (320, 240), (200, 20 * i % 255, 40))
            container.mux(stream.encode(av.VideoFrame.from_image(frame)))
        container.mux(stream.encode(None))
    return path


async def test_the_storyboard_takes_only_runs_of_this_app(
    offline: Path, ui: Handlers, tmp_path: Path
) -> None:
    elsewhere = write_clip(tmp_path / "elsewhere" / "private.mp4")
    forged = {
        "id": "forged01",
        "video_path": str(elsewhere),
        "seed": 1,
        "status": "completed",
        "inputs": {"duration": 1},
    }
    session = ui.service.new_session()
    with pytest.raises(gr.Error):
        ui.continue_from(forged, session)
    assert not elsewhere.with_name("private_last.png").exists()
    with pytest.raises(gr.Error):
        ui.add_to_storyboard(forged, session)
    assert session.storyboard == []


# ---------------------------------------------------------------- copy as code


def a_record(**overrides: Any) -> dict[str, Any]:
    record = RunRecord(
        id="0123456789abcdef",
        model=MODEL_480P,
        status=RunStatus.COMPLETED,
        seed=98765,
        inputs={
            "image": "https://files.example/up/start.jpg",
            "prompt": PROMPT,
            "duration": 2,
            "camera_fixed": False,
            "seed": 98765,
            "model": MODEL_480P,
        },
        cost_usd=0.032,
        backend="WaveSpeed",
        created_at="2025-01-01T00:00:00+00:00",
        api_base="http://127.0.0.1:8765",
    ).to_json()
    record.update(overrides)
    return record


def recorded(ui: Handlers, session: Session, record: dict[str, Any]) -> dict[str, Any]:
    """The record as this server saved it for the session (copy as code looks it up)."""
    ui.service.store.save(record, account=ui.service.account_of(session), resumable=False)
    return record


def test_copy_as_code_uses_the_records_api_base_and_never_the_key(
    uis: UIs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAVESPEED_API_KEY", CANARY_KEY)
    ui = uis()
    session = ui.service.new_session()
    request = SimpleNamespace(
        headers={
            "host": "play.example:7860",
            "x-forwarded-proto": "https",
            "authorization": f"Bearer {CANARY_KEY}",
            "cookie": f"key={CANARY_KEY}",
        }
    )
    record = recorded(ui, session, a_record())
    curl, python, client = ui.copy_as_code(record, session, request)  # type: ignore[arg-type]

    assert f"http://127.0.0.1:8765/api/v3/{MODEL_480P}" in curl
    assert 'API = "http://127.0.0.1:8765/api/v3"' in python
    for code in (curl, python):
        assert snippets.DEFAULT_BASE_URL not in code
        assert "98765" in code
        assert "WAVESPEED_API_KEY" in code  # the key as a variable the reader sets
    assert "https://play.example:7860/" in client
    for code in (curl, python, client):
        assert CANARY_KEY not in code


def test_copy_as_code_without_api_base_points_at_wavespeed(ui: Handlers) -> None:
    session = ui.service.new_session()
    record = recorded(ui, session, a_record(api_base=""))
    curl, python, client = ui.copy_as_code(record, session, None)  # type: ignore[arg-type]
    assert f"{snippets.DEFAULT_BASE_URL}/api/v3/{MODEL_480P}" in curl
    assert f'API = "{snippets.DEFAULT_BASE_URL}/api/v3"' in python
    assert "http://127.0.0.1:7860/" in client


def test_copy_as_code_of_an_offline_run_points_at_wavespeed(ui: Handlers) -> None:
    """The offline emulator's address is a port of this process only: the snippet sends
    the same request to WaveSpeed instead."""
    session = ui.service.new_session()
    offline = a_record(api_base="http://127.0.0.1:41234", backend=OFFLINE_BACKEND)
    curl, python, _ = ui.copy_as_code(recorded(ui, session, offline), session, None)  # type: ignore[arg-type]
    assert f"{snippets.DEFAULT_BASE_URL}/api/v3/{MODEL_480P}" in curl
    assert "41234" not in curl + python


def test_copy_as_code_before_any_run_is_empty(ui: Handlers) -> None:
    request = SimpleNamespace(headers={})
    session = ui.service.new_session()
    assert ui.copy_as_code(None, session, request) == ("", "", "")  # type: ignore[arg-type]


# ---------------------------------------------------------------- prompt builder


def test_camera_move_fixed_also_fixes_the_camera() -> None:
    prompt, fixed = Handlers.camera_move("A dog runs across the beach.", "fixed")
    assert fixed is True
    assert prompt.startswith("A dog runs across the beach.")
    assert "static shot" in prompt.lower()

    moving, fixed = Handlers.camera_move(prompt, "pan")
    assert fixed is False
    assert "static shot" not in moving.lower()
    assert "pan left to right" in moving


def test_camera_move_on_an_empty_prompt() -> None:
    prompt, fixed = Handlers.camera_move(None, "orbit")  # type: ignore[arg-type]
    assert "orbits" in prompt and fixed is False


def test_compose_beats_writes_sentences() -> None:
    prompt = Handlers.compose_beats(
        "she turns and smiles", "slow push-in", "", "her scarf stays on"
    )
    assert "She turns and smiles." in prompt
    assert "slow push-in" in prompt.lower()
    assert "scarf stays on" in prompt


def test_compose_beats_with_no_beats_asks_for_one() -> None:
    with pytest.raises(gr.Error, match="at least one beat"):
        Handlers.compose_beats("", "  ", "", "")


def test_compose_beats_over_the_limit_says_by_how_much() -> None:
    with pytest.raises(gr.Error, match="limit is 2000"):
        Handlers.compose_beats("a" * 1500, "b" * 600, "", "")


@pytest.mark.parametrize(
    ("reencoded", "sound_rebuilt", "says"),
    [
        (False, False, "joined without re-encoding"),
        (False, True, "joined without re-encoding the picture; sound rebuilt"),
        (True, True, "re-encoded (the clips differ)"),
    ],
)
def test_the_storyboard_note_says_what_was_rebuilt(
    reencoded: bool, sound_rebuilt: bool, says: str
) -> None:
    stitched = Stitched(Path("board.mp4"), reencoded, 2, 8, sound_rebuilt)
    note = views.stitch_note(stitched)
    assert f"2 shots · 8 s · {says}" in note
    assert ("sound rebuilt" in note) == (sound_rebuilt and not reencoded)
