"""The real WaveSpeedClient against the real emulator over loopback: whole flows.

Every flow asserts both what the caller sees and what the server saw (the emulator's stats),
so "retried", "not retried" and "no duplicate paid task" are proven on the wire. Delays are
shortened through the client's `sleep=` hook unless the waiting itself is under test.
"""

from __future__ import annotations

import asyncio
import io
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from playground.emulator import RunningEmulator
from playground.media import videos
from playground.model import seedance
from wavespeed_client import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    Prediction,
    ServerError,
    Status,
    SubmissionOutcomeUnknown,
    TaskFailed,
    TaskTimeout,
    WaitUpdate,
    WaveSpeedClient,
)

KEY = "test-key"
LITE_720 = "bytedance/seedance-v1-lite-i2v-720p"
LITE_480 = "bytedance/seedance-v1-lite-i2v-480p"
REMOTE_IMAGE = "https://example.com/never-fetched.jpg"  # the emulator draws a stand-in
FAST_SLEEP_CAP_S = 0.05


class Sleeper:
    """The client's `sleep`: records every delay asked for and waits at most `cap` of it."""

    def __init__(self, cap: float | None = FAST_SLEEP_CAP_S) -> None:
        self.cap = cap
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(seconds if self.cap is None else min(seconds, self.cap))


def jpeg_bytes(size: tuple[int, int] = (640, 480)) -> bytes:
    image = Image.new("RGB", size, (30, 90, 160))
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], 64):
        draw.rectangle((x, 0, x + 24, size[1]), fill=(220, 180, 40))
    draw.ellipse((size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2), fill=(240, 240, 240))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def inputs(**overrides: object) -> dict[str, object]:
    """Cheap, valid Seedance inputs: a 2 s clip from an image the emulator never fetches."""
    return {"image": REMOTE_IMAGE, "prompt": "slow dolly in", "duration": 2, "seed": 7, **overrides}


@pytest.fixture
def sleeper() -> Sleeper:
    return Sleeper()


@pytest.fixture
async def ws(emulator: RunningEmulator, sleeper: Sleeper) -> AsyncIterator[WaveSpeedClient]:
    async with WaveSpeedClient(KEY, base_url=emulator.base_url, sleep=sleeper) as client:
        yield client


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback URL whose port is bound but not listening: connections are refused, and
    no other process can take the port while the test runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


# --------------------------------------------------------------------------- happy path


async def test_upload_submit_wait_download_balance(
    ws: WaveSpeedClient, emulator: RunningEmulator, tmp_path: Path
) -> None:
    image = jpeg_bytes((640, 480))
    url = await ws.upload(image, filename="start.jpg")
    assert url.startswith(emulator.base_url + "/uploads/")

    created = await ws.submit(LITE_720, inputs(image=url, aspect_ratio="9:16", duration=3))
    assert created.status in (Status.CREATED, Status.PROCESSING)
    assert created.model == LITE_720

    updates: list[WaitUpdate] = []
    done = await ws.wait(created.id, expected_s=0.5, on_update=updates.append)

    assert done.status is Status.COMPLETED
    assert done.id == created.id
    assert len(done.outputs) == 1
    assert done.inference_ms == 500
    assert not done.nsfw
    statuses = [u.status for u in updates]
    assert statuses[-1] is Status.COMPLETED
    assert all(not s.is_terminal for s in statuses[:-1])
    assert Status.PROCESSING in statuses  # polled while it ran, not only at the end
    assert [u.polls for u in updates] == list(range(1, len(updates) + 1))
    assert all(u.task_id == created.id for u in updates)

    clip = await ws.download(done.outputs[0], tmp_path / "out" / "clip.mp4")
    info = videos.probe_video(clip)
    assert (info.width, info.height) == seedance.OUTPUT_SIZES_720P["9:16"]
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    assert info.codec == "h264"

    assert await ws.balance() == emulator.config.balance
    stats = emulator.stats()
    assert stats["uploads"] == 1 and stats["upload_bytes"] == len(image)
    assert (stats["submits"], stats["tasks"]) == (1, 1)
    assert stats["result_gets"] == ws.usage.result_gets == len(updates)
    assert ws.usage.retries == 0


class _ImportSearches:
    """A finder that finds nothing and notes what was looked for: an import reaches the
    finders only when the module is not already loaded."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        self.names.append(name)


async def test_requests_search_for_no_module(
    ws: WaveSpeedClient, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpcore imports sniffio on every request; were it not installed (requirements.txt
    pins it), each request would search sys.path for it on the event loop, ~0.3 ms apiece."""
    await ws.balance()  # the first request may import what it needs, once
    searches = _ImportSearches()
    monkeypatch.setattr(sys, "meta_path", [searches, *sys.meta_path])
    for _ in range(3):
        assert await ws.balance() == emulator.config.balance
    assert searches.names == []


async def test_source_aspect_ratio_is_kept_when_none_is_sent(
    ws: WaveSpeedClient, emulator: RunningEmulator, tmp_path: Path
) -> None:
    url = await ws.upload(jpeg_bytes((400, 400)), filename="square.jpg")
    task = await ws.submit(LITE_480, inputs(image=url))
    done = await ws.wait(task.id)
    info = videos.probe_video(await ws.download(done.outputs[0], tmp_path / "sq.mp4"))
    assert (info.width, info.height) == seedance.OUTPUT_SIZES_480P["1:1"]


# --------------------------------------------------------------------------- submit refusals


async def test_submit_429_waits_retry_after_then_creates_one_task(
    emulator: RunningEmulator,
) -> None:
    emulator.config.faults.submit_429 = 1
    sleeper = Sleeper(cap=None)  # really wait: honouring Retry-After is the point
    async with WaveSpeedClient(KEY, base_url=emulator.base_url, sleep=sleeper) as ws:
        began = time.monotonic()
        task = await ws.submit(LITE_480, inputs())
        took = time.monotonic() - began
        sleeper.cap = FAST_SLEEP_CAP_S
        done = await ws.wait(task.id)
    assert done.status is Status.COMPLETED
    assert sleeper.delays[0] == 1.0  # the emulator's Retry-After: 1
    assert took >= 1.0
    stats = emulator.stats()
    assert (stats["submits"], stats["tasks"]) == (2, 1)
    assert ws.usage.submits == 2 and ws.usage.retries == 1


async def test_submit_503_is_retried_and_creates_one_task(
    ws: WaveSpeedClient, emulator: RunningEmulator, sleeper: Sleeper
) -> None:
    emulator.config.faults.submit_503 = 1
    task = await ws.submit(LITE_480, inputs())
    assert (await ws.wait(task.id)).status is Status.COMPLETED
    stats = emulator.stats()
    assert (stats["submits"], stats["tasks"]) == (2, 1)
    assert 0.25 <= sleeper.delays[0] <= 0.5  # first backoff step, with jitter


async def test_dropped_connection_after_accept_is_not_resubmitted(
    ws: WaveSpeedClient, emulator: RunningEmulator
) -> None:
    emulator.config.faults.drop_after_accept = 1
    with pytest.raises(SubmissionOutcomeUnknown) as info:
        await ws.submit(LITE_480, inputs())
    assert "may have been created" in str(info.value)
    stats = emulator.stats()
    # The server created (and would bill) a task; the client sent exactly one submit.
    assert (stats["submits"], stats["tasks"]) == (1, 1)
    assert ws.usage.submits == 1 and ws.usage.retries == 0


# --------------------------------------------------------------------------- result polling


async def test_result_5xx_is_retried_until_the_task_is_seen_done(
    ws: WaveSpeedClient, emulator: RunningEmulator
) -> None:
    task = await ws.submit(LITE_480, inputs())
    emulator.config.faults.result_5xx = 3  # 502, 503, 500: one short of MAX_GET_ATTEMPTS
    done = await ws.wait(task.id)
    assert done.status is Status.COMPLETED
    assert ws.usage.retries == 3
    stats = emulator.stats()
    assert stats["result_gets"] == ws.usage.result_gets >= 4
    assert (stats["submits"], stats["tasks"]) == (1, 1)


async def test_slow_replies_still_complete(ws: WaveSpeedClient, emulator: RunningEmulator) -> None:
    # Each reply takes longer than the whole task's inference time: nothing may time out.
    emulator.config.faults.slow_seconds = 0.7
    began = time.monotonic()
    task = await ws.submit(LITE_480, inputs())
    done = await ws.wait(task.id, expected_s=0.5)
    assert done.status is Status.COMPLETED
    assert time.monotonic() - began >= 0.7 * (1 + ws.usage.result_gets)
    assert ws.usage.retries == 0
    stats = emulator.stats()
    assert (stats["submits"], stats["tasks"]) == (1, 1)
    assert stats["result_gets"] == ws.usage.result_gets


async def test_failed_task_raises_task_failed_with_code_and_message(
    ws: WaveSpeedClient, emulator: RunningEmulator
) -> None:
    emulator.config.faults.fail_code = 1200
    emulator.config.faults.fail_message = "content moderation: the input image was flagged"
    task = await ws.submit(LITE_480, inputs())
    with pytest.raises(TaskFailed) as info:
        await ws.wait(task.id)
    error = info.value
    assert error.task_id == task.id
    assert error.code == 1200
    assert error.reason == "content moderation: the input image was flagged"
    assert task.id in str(error) and "flagged" in str(error)
    stats = emulator.stats()
    assert (stats["submits"], stats["tasks"]) == (1, 1)
    assert stats["result_gets"] == ws.usage.result_gets


async def test_task_that_never_finishes_times_out(
    ws: WaveSpeedClient, emulator: RunningEmulator
) -> None:
    emulator.config.faults.never_finish = True
    task = await ws.submit(LITE_480, inputs())
    began = time.monotonic()
    with pytest.raises(TaskTimeout) as info:
        await ws.wait(task.id, deadline_s=1.0)
    assert time.monotonic() - began >= 1.0
    assert isinstance(info.value, TimeoutError)
    assert info.value.task_id == task.id
    assert task.id in str(info.value)
    stats = emulator.stats()
    assert (stats["submits"], stats["tasks"]) == (1, 1)
    assert stats["result_gets"] == ws.usage.result_gets >= 1


# --------------------------------------------------------------------------- envelope errors


async def test_envelope_error_on_submit_is_a_server_error_and_not_retried(
    ws: WaveSpeedClient, emulator: RunningEmulator
) -> None:
    # HTTP 200 carrying {"code": 500}: the contract says treat it as an error, and a 500
    # may come after acceptance, so the submit must not be sent again.
    emulator.config.faults.envelope_error = 1
    with pytest.raises(ServerError) as info:
        await ws.submit(LITE_480, inputs())
    assert info.value.status_code == 500
    assert info.value.server_message == "internal envelope error"
    assert ws.usage.submits == 1 and ws.usage.retries == 0
    stats = emulator.stats()
    # The emulator answers envelope errors before its submit handler counts or creates.
    assert (stats["submits"], stats["tasks"]) == (0, 0)


async def test_envelope_error_on_a_result_get_is_retried(
    ws: WaveSpeedClient, emulator: RunningEmulator
) -> None:
    task = await ws.submit(LITE_480, inputs())
    emulator.config.faults.envelope_error = 1
    done = await ws.wait(task.id)
    assert done.status is Status.COMPLETED
    assert ws.usage.retries == 1
    stats = emulator.stats()
    assert (stats["submits"], stats["tasks"]) == (1, 1)
    # The envelope error is answered before the result handler counts the GET.
    assert stats["result_gets"] == ws.usage.result_gets - 1


async def test_nsfw_flag_reaches_the_prediction(
    ws: WaveSpeedClient, emulator: RunningEmulator
) -> None:
    emulator.config.faults.nsfw = True
    task = await ws.submit(LITE_480, inputs())
    done: Prediction = await ws.wait(task.id)
    assert done.status is Status.COMPLETED
    assert done.nsfw is True and done.has_nsfw == (True,)
    assert emulator.stats()["tasks"] == 1


# --------------------------------------------------------------------------- client errors


async def test_wrong_key_is_an_authentication_error_that_hides_the_key(
    emulator: RunningEmulator,
) -> None:
    emulator.config.api_keys = frozenset({"the-right-key"})
    secret = "sk-wrong-0123456789abcdef"
    async with WaveSpeedClient(secret, base_url=emulator.base_url, sleep=Sleeper()) as ws:
        with pytest.raises(AuthenticationError) as on_submit:
            await ws.submit(LITE_480, inputs())
        with pytest.raises(AuthenticationError) as on_balance:
            await ws.balance()
        assert secret not in repr(ws)
    for error in (on_submit.value, on_balance.value):
        assert error.status_code == 401
        assert "key" in str(error).lower()
        assert "WAVESPEED_API_KEY" in str(error)
        assert error.server_message == "Invalid API key"
        assert secret not in str(error) and secret not in repr(error)
    assert ws.usage.submits == 1 and ws.usage.retries == 0  # 401 is never retried
    stats = emulator.stats()
    assert (stats["submits"], stats["tasks"]) == (0, 0)


async def test_server_validation_error_is_a_bad_request_with_its_message(
    ws: WaveSpeedClient, emulator: RunningEmulator
) -> None:
    with pytest.raises(BadRequestError) as info:
        await ws.submit(LITE_480, inputs(duration=13))
    error = info.value
    assert error.status_code == 400
    assert error.server_message == "duration must be an integer between 2 and 12"
    assert "duration must be an integer between 2 and 12" in str(error)
    assert ws.usage.submits == 1 and ws.usage.retries == 0
    stats = emulator.stats()
    assert (stats["submits"], stats["tasks"]) == (1, 0)


async def test_unreachable_server_is_an_actionable_connection_error(refused_url: str) -> None:
    sleeper = Sleeper(cap=0.0)
    async with WaveSpeedClient(KEY, base_url=refused_url, sleep=sleeper) as ws:
        with pytest.raises(APIConnectionError) as on_submit:
            await ws.submit(LITE_480, inputs())
        with pytest.raises(APIConnectionError) as on_get:
            await ws.get("0" * 32)
    # Refused means nothing was sent: a plain connection error, not "outcome unknown".
    assert not isinstance(on_submit.value, SubmissionOutcomeUnknown)
    assert ws.usage.submits == 1
    assert ws.usage.result_gets == 6 and len(sleeper.delays) == 5  # GETs are retried
    for error in (on_submit.value, on_get.value):
        text = str(error)
        assert refused_url in text and "could not be reached" in text
        assert "WAVESPEED_BASE_URL" in text and "try again" in text


# --------------------------------------------------------------------------- sync facade
