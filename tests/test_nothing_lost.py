"""Nothing accepted by the API is lost, whatever fails after acceptance.

A fault matrix over the page's own handler against the emulator, on the owner's key (whose
runs survive restarts): for each fault after the task was accepted, the person is told the
run is safe (never "try again"), and the task ends recorded exactly once, with its video.
The recovery worker retries fast here; in the app it backs off from 5 s to 5 minutes.
"""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from conftest import form, make_image, page_values

import wavespeed_client
from playground.emulator import RunningEmulator
from playground.flow import recovery
from playground.flow.session import Session
from playground.store.history import StoredRun
from playground.ui.handlers import Handlers
from wavespeed_client import WaveSpeedClient

FINISH_S = 30.0


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's and the recovery worker's backoff, shortened to test time."""
    monkeypatch.setattr(wavespeed_client, "retry_delay", lambda *a, **k: 0.01)
    monkeypatch.setattr(recovery, "RETRY_FIRST_S", 0.05)


@pytest.fixture
def start_image(tmp_path: Path) -> Path:
    return make_image(tmp_path / "start.png", (640, 360))


async def run_until_accepted(ui: Handlers, session: Session, image: Path) -> tuple[Any, str]:
    """Start a run from the page (whose status line yields as it goes) and return (its
    generator, the task id) once the API has accepted it."""
    run = ui.generate_on_page(None, None, session, *page_values(form(image, seed=77)))
    async for _ in run:
        if session.pending:
            return run, next(iter(session.pending))
    raise AssertionError("the run ended before it was accepted")


async def finished(ui: Handlers, task_id: str) -> StoredRun:
    deadline = time.monotonic() + FINISH_S
    while not ((run := ui.service.store.get(task_id)) and run.finished):
        assert time.monotonic() < deadline, run
        await asyncio.sleep(0.05)
    return run


def assert_recorded_once_with_its_video(ui: Handlers, emulator: RunningEmulator, run: StoredRun):
    assert run.status == "completed" and run.record["seed"] == 77
    assert Path(run.record["video_path"]).is_file()
    assert emulator.stats()["submits"] == 1
    assert [r.id for r in ui.service.store.list()] == [run.id]


async def test_a_5xx_streak_after_acceptance_is_safe_and_finished_in_the_background(
    live: Path, emulator: RunningEmulator, ui: Handlers, start_image: Path
) -> None:
    session = ui.service.new_session()
    run, task_id = await run_until_accepted(ui, session, start_image)
    emulator.config.faults.result_5xx = 30  # more than the client's own retries, then well
    with pytest.raises(gr.Error) as info:
        async for _ in run:
            pass
    assert info.value.title == "Your run is safe"
    assert task_id in info.value.message and "History" in info.value.message
    assert "try again" not in info.value.message.lower()
    assert_recorded_once_with_its_video(ui, emulator, await finished(ui, task_id))


async def test_an_outage_of_the_api_is_waited_out(
    live: Path, emulator: RunningEmulator, ui: Handlers, start_image: Path
) -> None:
    """Unreachable for a while, then back: the worker keeps asking, with backoff."""
    session = ui.service.new_session()
    run, task_id = await run_until_accepted(ui, session, start_image)
    emulator.config.faults.result_5xx = 10_000
    with pytest.raises(gr.Error, match="is safe"):
        async for _ in run:
            pass
    await asyncio.sleep(0.5)  # the worker fails a few rounds meanwhile
    assert not ui.service.store.get(task_id).finished
    emulator.config.faults.result_5xx = 0
    assert_recorded_once_with_its_video(ui, emulator, await finished(ui, task_id))


async def test_dropped_connections_while_polling_are_waited_out(
    live: Path, emulator: RunningEmulator, ui: Handlers, start_image: Path
) -> None:
    """WaveSpeed unreachable mid-run (every poll's connection lost): once "could not be
    reached... try again" with no task id and nothing polling; now the run is safe."""
    session = ui.service.new_session()
    run, task_id = await run_until_accepted(ui, session, start_image)
    emulator.config.faults.result_drop = 10_000
    with pytest.raises(gr.Error) as info:
        async for _ in run:
            pass
    assert info.value.title == "Your run is safe" and task_id in info.value.message
    assert "try again" not in info.value.message.lower()
    await asyncio.sleep(0.5)
    assert not ui.service.store.get(task_id).finished
    emulator.config.faults.result_drop = 0
    assert_recorded_once_with_its_video(ui, emulator, await finished(ui, task_id))


async def test_a_closed_tab_mid_run_is_finished_in_the_background(
    live: Path, emulator: RunningEmulator, ui: Handlers, start_image: Path
) -> None:
    """A reload or a closed tab ends the event (Gradio cancels its task); nobody presses
    Cancel."""
    emulator.config.inference_seconds = 3.0  # still running when the tab goes
    session = ui.service.new_session()
    run, task_id = await run_until_accepted(ui, session, start_image)

    async def follow() -> None:
        async for _ in run:
            pass

    event = asyncio.ensure_future(follow())
    await asyncio.sleep(0.1)
    event.cancel()
    with pytest.raises(asyncio.CancelledError):
        await event
    assert session.pending == {} and session.abandoned == [task_id]
    assert_recorded_once_with_its_video(ui, emulator, await finished(ui, task_id))


def failing_once(real: Callable[..., Any], error: OSError) -> Callable[..., Any]:
    calls = []

    async def call(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise error
        return await real(*args, **kwargs)

    return call


async def test_a_full_disk_at_the_download_is_retried_in_the_background(
    live: Path,
    emulator: RunningEmulator,
    ui: Handlers,
    start_image: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    full = OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(WaveSpeedClient, "download", failing_once(WaveSpeedClient.download, full))
    with pytest.raises(gr.Error) as info:
        async for _ in ui.generate(**form(start_image, seed=77), session=ui.service.new_session()):
            pass
    assert "is safe" in info.value.message and "No space left" in info.value.message
    (task_id,) = emulator.emulator.tasks
    assert_recorded_once_with_its_video(ui, emulator, await finished(ui, task_id))


async def test_a_full_disk_for_the_kept_images_costs_the_run_nothing(
    live: Path,
    emulator: RunningEmulator,
    ui: Handlers,
    start_image: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The row is written before any file; the input copies are best effort."""
    real_write = Path.write_bytes

    def write_bytes(self: Path, data: bytes) -> int:
        if self.name.endswith("_start.jpg"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    outputs = [
        o async for o in ui.generate(**form(start_image, seed=77), session=ui.service.new_session())
    ]
    video, record, _ = outputs[-1]
    assert Path(video).is_file() and "start" not in record["input_files"]
    (task_id,) = emulator.emulator.tasks
    assert_recorded_once_with_its_video(ui, emulator, await finished(ui, task_id))


# ---------------------------------------------------------------- a visitor's key, a restart


async def test_a_visitor_key_run_cut_by_a_restart_is_collected_when_the_key_returns(
    env: Path,
    emulator: RunningEmulator,
    uis: Any,
    monkeypatch: pytest.MonkeyPatch,
    start_image: Path,
) -> None:
    """The key is never stored, so a restart cannot poll a visitor's run by itself. The run
    says so, and pasting the same key again (in the session the browser comes back to)
    fetches it; another key fetches nothing."""
    from datetime import UTC, datetime

    from conftest import public_server

    from playground.flow.generation import RunRecord
    from playground.model.status import RunStatus

    visitor, stranger = "sk-VISITOR-77", "sk-STRANGER-88"
    emulator.config.api_keys = frozenset({"owner", visitor, stranger})
    emulator.config.inference_seconds = 1.0
    public_server(monkeypatch, emulator, "owner", DAILY_USD="1")
    before = uis()
    session = before.service.new_session()
    before.service.use_key(session, visitor)
    token = before.service.sessions.token(session)
    # A task the first process had accepted with the visitor's key, then the process died.
    async with WaveSpeedClient(visitor, base_url=emulator.base_url) as client:
        image_url = await client.upload(start_image.read_bytes())
        payload = {"image": image_url, "prompt": "slow push-in", "duration": 2, "seed": 5}
        task = await client.submit("bytedance/seedance-v1-lite-i2v-720p", payload)
    record = RunRecord(
        id=task.id,
        model="bytedance/seedance-v1-lite-i2v-720p",
        status=RunStatus.PROCESSING,
        seed=5,
        inputs=payload,
        cost_usd=0.064,
        backend="WaveSpeed (your key)",
        created_at=datetime.now(UTC).isoformat(),
        api_base=emulator.base_url,
        video_path=str(before.service.output_dir(session) / f"{task.id}.mp4"),
    )
    route = before.service.routes.route_for(session)
    before.service.record(session, route, record)
    assert before.service.store.get(task.id).record["key_tag"]
    stored = (env / "history.db").read_bytes() + b"".join(
        p.read_bytes() for p in env.glob("history.db-wal")
    )
    assert visitor.encode() not in stored  # the tag, never the key

    after = uis.fresh()  # the restart: same data directory, a new process's service
    assert after.service.resume() == []
    run = after.service.store.get(task.id)
    assert run.status == "interrupted"
    assert "Paste the same key" in run.record["error"] and task.id in run.record["error"]

    back = after.service.sessions.restore(token, offline=False)  # the browser comes back
    assert back is not None and back.id == session.id and back.api_key is None
    assert after.service.use_key(back, stranger) == []  # another key reaches nothing
    assert after.service.store.get(task.id).status == "interrupted"
    assert after.service.use_key(back, visitor) == [task.id]
    done = await finished(after, task.id)
    assert done.status == "completed" and Path(done.record["video_path"]).is_file()
    assert emulator.stats()["submits"] == 1  # fetched, never submitted again
    assert [r.id for r in after.service.store.list(account=session.id)] == [task.id]
