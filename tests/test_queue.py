"""The page's job queue: Generate pressed during a run waits its turn at its own price,
in order; a waiting job can be removed or dropped by Cancel for free, pauses when its page
goes away and runs when asked; the line is bounded per session and by the demo's quotas.
Browser tests: tests/e2e/test_queue_browser.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr
import pytest
from conftest import form, make_image, page_values, public_server

from playground.emulator import RunningEmulator
from playground.errors import NotFound
from playground.flow import jobs
from playground.flow.jobs import JobQueue, JobState
from playground.flow.session import Session
from playground.ui.handlers import Handlers

MODEL_720 = "bytedance/seedance-v1-lite-i2v-720p"  # $0.032/s: 2 s cost $0.064
OWNER = "owner-key"


@pytest.fixture
def start(tmp_path: Path) -> Path:
    return make_image(tmp_path / "start.png")


def press(ui: Handlers, session: Session, image: Path, **overrides: Any):
    """The page's Generate, as a person presses it: the generator Gradio would drive."""
    values = page_values(form(image, **({"model": MODEL_720, "duration": 2} | overrides)))
    return ui.generate_on_page(None, None, session, *values)


class Driven:
    """A pressed Generate driven in the background, as Gradio drives each event, keeping
    every output it yields; `error` is what it raised."""

    def __init__(self, run: Any) -> None:
        self.outputs: list[tuple[Any, ...]] = []
        self.error: BaseException | None = None
        self.task = asyncio.ensure_future(self._drive(run))

    async def _drive(self, run: Any) -> None:
        try:
            async for outputs in run:
                self.outputs.append(outputs)
        except Exception as exc:  # kept for the test to look at
            self.error = exc
        finally:
            await run.aclose()

    @property
    def panel(self) -> str:
        panels = [o[4] for o in self.outputs if isinstance(o[4], str)]
        return panels[-1] if panels else ""


async def until(check: Any, within_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def submits(emulator: RunningEmulator) -> int:
    return emulator.stats()["submits"]


# ---------------------------------------------------------------- the line itself


async def test_a_job_waits_for_the_one_ahead_and_then_runs() -> None:
    queue = JobQueue()
    first, second = queue.add("a", "$0.1"), queue.add("b", "$0.1")
    assert await queue.turn(first) and queue.running is first
    waiting = asyncio.ensure_future(queue.turn(second))
    await asyncio.sleep(0.05)
    assert not waiting.done() and queue.position(second) == 1
    queue.end(first, JobState.DONE, "Done")
    assert await asyncio.wait_for(waiting, 2) is True
    assert queue.running is second and first.state is JobState.DONE


async def test_a_removed_job_never_gets_its_turn() -> None:
    queue = JobQueue()
    first, second = queue.add("a", "$0.1"), queue.add("b", "$0.1")
    await queue.turn(first)
    waiting = asyncio.ensure_future(queue.turn(second))
    await asyncio.sleep(0.02)
    queue.remove(second.id)
    assert await asyncio.wait_for(waiting, 2) is False
    assert second.state is JobState.REMOVED and queue.running is first


async def test_a_job_removed_from_another_thread_wakes_its_waiter() -> None:
    """Sync handlers (Cancel) run in Gradio's worker threads."""
    queue = JobQueue()
    first, second = queue.add("a", "$0.1"), queue.add("b", "$0.1")
    await queue.turn(first)
    waiting = asyncio.ensure_future(queue.turn(second))
    await asyncio.sleep(0.02)
    await asyncio.to_thread(queue.drop_waiting)
    assert await asyncio.wait_for(waiting, 2) is False


@pytest.mark.parametrize("job_id", [None, "", "nope", 7, ["x"], {"id": "x"}, True])
def test_a_job_that_is_not_in_the_line_is_refused_in_words(job_id: Any) -> None:
    queue = JobQueue()
    queue.add("a", "$0.1")
    with pytest.raises(NotFound, match="no longer in this page's queue"):
        queue.remove(job_id)


async def test_a_started_job_cannot_be_removed() -> None:
    queue = JobQueue()
    job = queue.add("a", "$0.1")
    await queue.turn(job)
    with pytest.raises(NotFound, match="already started"):
        queue.remove(job.id)


def test_the_line_is_bounded_and_old_jobs_are_let_go() -> None:
    queue = JobQueue(limit=2)
    queue.add("a", "$0.1"), queue.add("b", "$0.1")
    with pytest.raises(jobs.QueueFull, match="2 runs are already waiting"):
        queue.add("c", "$0.1")
    for job in list(queue.jobs):
        queue.remove(job.id)
    for i in range(jobs.FINISHED_KEPT + 5):
        queue.remove(queue.add(str(i), "$0.1").id)
    assert len(queue.jobs) == jobs.FINISHED_KEPT


def test_a_job_whose_page_went_away_before_its_turn_pauses() -> None:
    queue = JobQueue()
    job = queue.add("a", "$0.1", work="kept")
    queue.end(job, JobState.LEFT)
    assert job.state is JobState.PAUSED and job.work == "kept"
    assert queue.resume() == [job] and job.state is JobState.QUEUED


# ---------------------------------------------------------------- through the page


async def test_three_presses_run_one_after_another_each_at_its_price(
    live: Path, emulator: RunningEmulator, start: Path, ui: Handlers
) -> None:
    session = ui.service.new_session()
    emulator.config.faults.hold = True  # the first run stays processing until released
    first = Driven(press(ui, session, start, seed=1))
    await until(lambda: session.pending)
    second = Driven(press(ui, session, start, seed=2, duration=3))
    third = Driven(press(ui, session, start, seed=3))
    await until(lambda: len(session.jobs.waiting) == 2 and second.panel and third.panel)
    assert submits(emulator) == 1  # the queued ones wait: nothing sent, nothing paid
    assert "Queued · 1 ahead" in second.panel and "Queued · 2 ahead" in third.panel
    panel = ui.queue_panel(session)
    assert "$0.096" in panel and "$0.064" in panel  # 3 s and 2 s, each at its own price
    assert all(o[2] is not None for o in second.outputs)  # the running line was left alone
    emulator.config.faults.hold = False
    await asyncio.wait_for(asyncio.gather(first.task, second.task, third.task), 60)
    assert (first.error, second.error, third.error) == (None, None, None)
    seeds = [d.outputs[-1][1]["seed"] for d in (first, second, third)]
    assert seeds == [1, 2, 3]  # in the order they were pressed
    done = [job for job in session.jobs.jobs if job.state is JobState.DONE]
    assert len(done) == 3 and all(len(job.run_ids) == 1 for job in done)
    assert third.panel.count("class='job done'") == 3 and third.panel.count("data-act='open'") == 3


async def test_a_full_line_refuses_the_next_press_in_words(
    live: Path, emulator: RunningEmulator, start: Path, ui: Handlers
) -> None:
    session = ui.service.new_session()
    emulator.config.faults.hold = True
    running = [Driven(press(ui, session, start))]
    await until(lambda: session.pending)
    running += [Driven(press(ui, session, start)) for _ in range(jobs.QUEUE_LIMIT)]
    await until(lambda: len(session.jobs.waiting) == jobs.QUEUE_LIMIT)
    refused = press(ui, session, start)
    with pytest.raises(gr.Error, match="already waiting here"):
        await anext(refused)
    ui.cancel(session)
    for driven in running:
        driven.task.cancel()
    emulator.config.faults.hold = False


async def test_removing_a_waiting_job_spends_nothing_and_says_so(
    live: Path, emulator: RunningEmulator, start: Path, ui: Handlers
) -> None:
    session = ui.service.new_session()
    emulator.config.faults.hold = True
    first = Driven(press(ui, session, start))
    await until(lambda: session.pending)
    second = Driven(press(ui, session, start))
    await until(lambda: session.jobs.waiting)
    (job,) = session.jobs.waiting
    said = [o async for o in ui.queue_action(session, SimpleNamespace(act="remove", job=job.id))]
    assert "Removed" in said[-1][4] and "Removed before it started" in said[-1][4]
    await asyncio.wait_for(second.task, 5)  # its event ends without a run
    assert second.error is None and not any(isinstance(o[0], str) for o in second.outputs)
    emulator.config.faults.hold = False
    await asyncio.wait_for(first.task, 30)
    assert submits(emulator) == 1


async def test_cancel_drops_the_line_for_free_and_says_how_many(
    live: Path, emulator: RunningEmulator, start: Path, ui: Handlers
) -> None:
    session = ui.service.new_session()
    emulator.config.faults.hold = True
    first = Driven(press(ui, session, start))
    await until(lambda: session.pending)
    queued = [Driven(press(ui, session, start)) for _ in range(2)]
    await until(lambda: len(session.jobs.waiting) == 2)
    status, panel = ui.cancel(session)
    assert "2 queued runs that had not started were dropped" in status
    assert "nothing was spent" in status and panel.count("Dropped by Cancel") == 2
    for driven in (first, *queued):  # Gradio cancels the events (`cancels=`)
        driven.task.cancel()
    await asyncio.gather(first.task, *(d.task for d in queued), return_exceptions=True)
    emulator.config.faults.hold = False
    assert submits(emulator) == 1


async def test_a_new_page_pauses_what_an_earlier_one_left_waiting(
    live: Path, emulator: RunningEmulator, start: Path, ui: Handlers
) -> None:
    """Gradio lets a gone page's waiting events go on: the reloaded page pauses them, so
    nothing starts unseen, and their events end."""
    session = ui.service.new_session()
    emulator.config.faults.hold = True
    first = Driven(press(ui, session, start, seed=5))
    await until(lambda: session.pending)
    second = Driven(press(ui, session, start, seed=6))
    await until(lambda: session.jobs.waiting)
    running = session.jobs.running
    back, _, _, _ = ui.init_session(session, ui.service.sessions.token(session))  # reloaded
    assert back is session
    panel = ui.restore_queue(session)
    assert "1 queued run paused when the page went away" in panel
    # The old page's run goes on unwatched; the result area no longer waits for it.
    assert running.state is JobState.LEFT and session.jobs.running is None
    await asyncio.wait_for(second.task, 5)  # its old event ends, having started nothing
    emulator.config.faults.hold = False
    await asyncio.wait_for(first.task, 30)
    assert submits(emulator) == 1 and session.jobs.paused[0].work is not None
    assert running.state is JobState.DONE  # its event lived to see the end: it says so


async def test_a_reload_follows_the_run_even_while_the_old_page_event_lives(
    live: Path, emulator: RunningEmulator, start: Path, ui: Handlers
) -> None:
    """Gradio notices a gone page only at its event's next update: the reloaded page must
    not wait for that before it shows the run still going, and then its end."""
    session = ui.service.new_session()
    emulator.config.faults.hold = True
    old_page = Driven(press(ui, session, start, seed=7))
    await until(lambda: session.pending)
    ui.init_session(session, ui.service.sessions.token(session))
    restored = ui.restore_result(session)
    _, record, line, _ = await asyncio.wait_for(anext(restored), 10)
    assert "still going" in line and record["status"] != "completed"
    emulator.config.faults.hold = False
    outputs = [o async for o in restored]
    assert outputs[-1][1]["seed"] == 7 and outputs[-1][0]
    await asyncio.wait_for(old_page.task, 30)


async def test_jobs_waiting_when_the_page_goes_away_pause_and_run_when_asked(
    live: Path, emulator: RunningEmulator, start: Path, ui: Handlers
) -> None:
    session = ui.service.new_session()
    emulator.config.faults.hold = True
    first = Driven(press(ui, session, start, seed=5))
    await until(lambda: session.pending)
    second = Driven(press(ui, session, start, seed=6))
    await until(lambda: session.jobs.waiting)
    first.task.cancel(), second.task.cancel()  # the tab closed: Gradio cancels both events
    await asyncio.gather(first.task, second.task, return_exceptions=True)
    (paused,) = session.jobs.paused
    assert "paused when the page went away" in ui.queue_panel(session)
    assert "Run them now" in ui.queue_panel(session)
    emulator.config.faults.hold = False
    resumed = [o async for o in ui.queue_action(session, SimpleNamespace(act="resume"))]
    assert resumed[-1][1]["seed"] == 6 and paused.state is JobState.DONE
    with pytest.raises(gr.Error, match="No paused runs"):
        await anext(ui.queue_action(session, SimpleNamespace(act="resume")))


async def test_queued_jobs_hold_the_demo_quota_so_the_line_cannot_overspend(
    env: Path, emulator: RunningEmulator, start: Path, monkeypatch: pytest.MonkeyPatch, uis: Any
) -> None:
    """Two runs a session on the owner's key: the third press is refused when pressed,
    not after the two before it spent the allowance."""
    emulator.config.api_keys = frozenset({OWNER})
    public_server(monkeypatch, emulator, OWNER, DAILY_USD="5", RUNS_PER_SESSION="2")
    ui = uis.fresh()
    session = ui.service.new_session()
    emulator.config.faults.hold = True
    first = Driven(press(ui, session, start))
    await until(lambda: session.pending)
    second = Driven(press(ui, session, start))
    await until(lambda: session.jobs.waiting and second.panel)
    with pytest.raises(gr.Error, match="runs"):
        await anext(press(ui, session, start))
    assert len(session.jobs.jobs) == 2  # the refused press never joined the line
    emulator.config.faults.hold = False
    await asyncio.wait_for(asyncio.gather(first.task, second.task), 60)
    assert first.error is None and second.error is None and submits(emulator) == 2


@pytest.mark.parametrize(
    "evt",
    [
        SimpleNamespace(act="open", run="not-a-run"),
        SimpleNamespace(act="open", run=None),
        SimpleNamespace(act="remove", job="../../etc"),
        SimpleNamespace(act="launch"),
        SimpleNamespace(),
    ],
)
async def test_a_tampered_button_is_refused_in_words(
    env: Path, ui: Handlers, evt: SimpleNamespace
) -> None:
    with pytest.raises(gr.Error) as info:
        await anext(ui.queue_action(ui.service.new_session(), evt))
    assert info.value.message and "Traceback" not in info.value.message


async def test_a_tile_opens_its_own_run(env: Path, start: Path, ui: Handlers) -> None:
    session = ui.service.new_session()
    pressed = ui.generate_variations(None, None, session, 2, "", *page_values(form(start)))
    grid = [o async for o in pressed][-1][3]
    (job,) = session.jobs.jobs
    assert len(job.run_ids) == 2 and all(f"data-run='{r}'" in grid for r in job.run_ids)
    evt = SimpleNamespace(act="open", run=job.run_ids[1])
    video, record, status, grid_after, *_ = [o async for o in ui.queue_action(session, evt)][-1]
    assert Path(video).is_file() and record["id"] == job.run_ids[1] and "Done in" in status
    assert grid_after == gr.skip()  # the grid stays: the next tile is one click away
