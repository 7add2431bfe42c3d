"""A page that comes back: what the browser kept (the form, a key asked to be kept) is read
as a stranger's input, and what the server recorded (the last result, a run in flight)
is shown again and followed to its end. Browser tests: tests/e2e/test_reload_browser.py.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import pytest
from conftest import GOOD_KEY, UIs, form_set, public_server

from playground.emulator import RunningEmulator
from playground.flow.session import Session
from playground.model.status import RunStatus
from playground.ui import memory
from playground.ui.handlers import FORM_SET, SAVED_FIELDS, Handlers
from playground.ui.modelform import EXTRA_FIELDS

LITE_480 = "bytedance/seedance-v1-lite-i2v-480p"


def kept_form(**values: Any) -> dict[str, Any]:
    """What the page's script keeps: every saved field, as the browser had it."""
    return {"v": memory.VERSION, "form": {"model": LITE_480, **values}}


def restored(outputs: tuple[Any, ...]) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """restore_form's outputs: the form set by name, then the addresses and upscale."""
    cut = len(FORM_SET) + len(EXTRA_FIELDS)
    return form_set(outputs[:cut]), outputs[cut:]


def is_skip(update: Any) -> bool:
    return isinstance(update, dict) and update == {"__type__": "update"}


def test_the_script_keeps_every_form_field_but_the_files() -> None:
    assert "prompt" in SAVED_FIELDS and "model" in SAVED_FIELDS and "seed" in SAVED_FIELDS
    assert not set(SAVED_FIELDS) & {"image", "last_image", "extra_images"}
    script = memory.save_form_js(SAVED_FIELDS)
    assert script.startswith("(...values) =>") and all(f'"{n}"' in script for n in SAVED_FIELDS)


@pytest.mark.parametrize(
    "kept",
    [
        None,
        "text",
        7,
        [],
        {},
        {"v": 2, "form": {"model": LITE_480}},
        {"v": 1, "form": []},
        {"v": 1, "form": {"prompt": "no model"}},
        {"v": 1, "form": {"model": 5}},
    ],
)
def test_nothing_usable_kept_leaves_the_form_as_built(ui: Handlers, kept: Any) -> None:
    assert memory.remembered_form(kept, SAVED_FIELDS) is None
    assert all(is_skip(u) for u in ui.restore_form(ui.service.new_session(), kept))


def test_values_of_no_widgets_shape_are_dropped() -> None:
    kept = kept_form(
        prompt="x" * (memory.MAX_TEXT + 1),
        seed=math.inf,
        duration={"$gt": 1},
        camera_fixed=True,
        aspect_ratio="16:9",
        image="/etc/passwd",
        nonsense="kept?",
    )
    named = memory.remembered_form(kept, SAVED_FIELDS)
    assert named == {"model": LITE_480, "camera_fixed": True, "aspect_ratio": "16:9"}


def test_the_form_comes_back_as_it_was_left(ui: Handlers) -> None:
    kept = kept_form(
        prompt="The cat turns its head; slow push-in.",
        duration=4,
        aspect_ratio="9:16",
        camera_fixed=True,
        seed=1234,
        image_url="https://example.com/cat.jpg",
        last_image_url=None,
        upscale=True,
    )
    form, (image_url, last_image_url, upscale) = restored(
        ui.restore_form(ui.service.new_session(), kept)
    )
    assert (form["model"], form["shown"]) == (LITE_480, LITE_480)
    assert (form["prompt"], form["duration"], form["aspect_ratio"]) == (
        "The cat turns its head; slow push-in.",
        4,
        "9:16",
    )
    assert (form["camera_fixed"], form["seed"]) == (True, 1234)
    assert (image_url, upscale) == ("https://example.com/cat.jpg", True)
    assert is_skip(last_image_url)  # not text: the box stays as it is


def test_a_kept_value_out_of_range_is_fitted_and_said(
    ui: Handlers, monkeypatch: pytest.MonkeyPatch
) -> None:
    said: list[str] = []
    monkeypatch.setattr("gradio.Info", said.append)
    form, _ = restored(ui.restore_form(ui.service.new_session(), kept_form(duration=99)))
    assert form["duration"] == 12
    assert any("99" in text and "12" in text for text in said)


def test_a_model_gone_from_the_catalog_says_so(
    ui: Handlers, monkeypatch: pytest.MonkeyPatch
) -> None:
    said: list[str] = []
    monkeypatch.setattr("gradio.Warning", said.append)
    outputs = ui.restore_form(ui.service.new_session(), kept_form(model="retired/model-x"))
    assert all(is_skip(u) for u in outputs)
    assert said and "retired/model-x" in said[0] and "default model" in said[0]


# ---------------------------------------------------------------- the key


def test_a_key_is_kept_only_when_asked_and_forgotten_on_request(live: Path, ui: Handlers) -> None:
    session = ui.service.new_session()
    ui.set_key("sk-VISITOR-kept", session)
    kept, line, forget = ui.keep_key(True, session)
    assert kept == {"key": "sk-VISITOR-kept"} and "set" in line and forget.visible is True
    assert ui.keep_key(False, session)[0] == {"key": None}  # a truthy value: Gradio writes it

    again = ui.service.new_session()  # the next visit, a new session
    banner, backend, line, forget = ui.restore_key(again, kept)
    assert again.api_key == "sk-VISITOR-kept" and backend == "WaveSpeed"
    assert "sk-VISITOR-kept" not in banner + line and forget.visible is True

    kept, banner, backend, line, forget = ui.forget_key(again)
    assert kept == {"key": None} and again.api_key is None
    assert line == "" and forget.visible is False


@pytest.mark.parametrize("kept", [None, {"key": None}, {"key": ""}, {"key": 5}, {"key": "x" * 600}])
def test_no_usable_kept_key_sets_none(ui: Handlers, kept: Any) -> None:
    session = ui.service.new_session()
    ui.restore_key(session, kept)
    assert session.api_key is None


def test_a_kept_key_does_not_replace_one_pasted_in_this_session(ui: Handlers) -> None:
    session = ui.service.new_session()
    session.use_key("sk-PASTED")
    ui.restore_key(session, {"key": "sk-OLD"})
    assert session.api_key == "sk-PASTED"


# ---------------------------------------------------------------- the last result


def record(run_id: str, status: RunStatus, video: Path | None = None, **more: Any) -> dict:
    return {
        "id": run_id,
        "model": LITE_480,
        "status": str(status),
        "seed": 42,
        "video_path": str(video) if video else None,
        "inputs": {"prompt": "steam rises", "duration": 2},
        "timings": {"total_s": 9.5},
        **more,
    }


def save(ui: Handlers, session: Session, data: dict) -> None:
    ui.service.store.save(data, account=ui.service.account_of(session), resumable=False)


async def all_of(ui: Handlers, session: Session) -> list[tuple]:
    return [outputs async for outputs in ui.restore_result(session)]


async def test_a_page_with_nothing_made_stays_as_built(ui: Handlers) -> None:
    (outputs,) = await all_of(ui, ui.service.new_session())
    assert all(is_skip(u) for u in outputs)


async def test_the_last_finished_run_is_shown_again(ui: Handlers, tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0")
    session = ui.service.new_session()
    save(ui, session, record("run-1", RunStatus.COMPLETED, video))
    ((nothing),) = await all_of(ui, session)  # not this session's latest: not shown
    assert all(is_skip(u) for u in nothing)
    session.latest = ["run-1"]
    ((shown, data, status, grid),) = await all_of(ui, session)
    assert shown == str(video) and data["id"] == "run-1" and grid == ""
    assert "Your last run · Done in 9.5 s · seed 42" in status and "ok" in status


async def test_a_run_whose_video_is_gone_or_that_failed_says_so(
    ui: Handlers, tmp_path: Path
) -> None:
    session = ui.service.new_session()
    session.latest = ["run-1"]
    save(ui, session, record("run-1", RunStatus.COMPLETED, tmp_path / "gone.mp4"))
    ((shown, _, status, _),) = await all_of(ui, session)
    assert shown is None and "no longer on this server" in status
    session.latest = ["run-2"]
    save(ui, session, record("run-2", RunStatus.FAILED, error="content flagged"))
    ((shown, _, status, _),) = await all_of(ui, session)
    assert shown is None and "ended failed: content flagged" in status


async def test_a_run_still_going_is_followed_to_its_end(
    ui: Handlers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page reloaded mid-run: the run shows as going, then done, as whoever waits for
    the task (the old event or recovery) writes it down."""
    monkeypatch.setattr("playground.flow.service.FOLLOW_EVERY_S", 0.02)
    session = ui.service.new_session()
    session.latest = ["run-1"]
    save(ui, session, record("run-1", RunStatus.PROCESSING))
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0")

    async def finish_later() -> None:
        await asyncio.sleep(0.15)
        save(ui, session, record("run-1", RunStatus.COMPLETED, video))

    finishing = asyncio.create_task(finish_later())
    seen = [o async for o in ui.restore_result(session)]
    await finishing
    assert len(seen) == 2  # only news: the start, then the end
    assert seen[0][0] is None and "still going" in seen[0][2] and "busy" in seen[0][2]
    assert seen[1][0] == str(video) and "Done in 9.5 s" in seen[1][2]


async def test_following_gives_up_when_patience_runs_out(ui: Handlers) -> None:
    session = ui.service.new_session()
    session.latest = ["run-1"]
    save(ui, session, record("run-1", RunStatus.PROCESSING))
    seen = [r async for r in ui.service.follow(session, every=0.01, patience=0.05)]
    assert len(seen) == 1 and not seen[0][0].finished


async def test_variations_come_back_as_their_grid(ui: Handlers, tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0")
    session = ui.service.new_session()
    session.latest = ["a", "b", "gone"]
    save(ui, session, record("a", RunStatus.COMPLETED, video))
    save(ui, session, {**record("b", RunStatus.FAILED), "seed": 7})
    ((shown, data, status, grid),) = await all_of(ui, session)
    assert is_skip(shown) and is_skip(data)
    assert "Your last variations · 1 of 2 done, 1 failed" in status
    assert grid.count("<figure>") == 2 and "#2 · seed 7" in grid and "failed" in grid


async def test_another_accounts_runs_are_never_shown(
    monkeypatch: pytest.MonkeyPatch, emulator: RunningEmulator, uis: UIs
) -> None:
    """On a shared server a session is shown its own account's runs only, whatever ids it
    holds."""
    public_server(monkeypatch, emulator, GOOD_KEY)
    ui = uis.fresh()
    mine, stranger = ui.service.new_session(), ui.service.new_session()
    save(ui, mine, record("mine", RunStatus.COMPLETED))
    mine.latest = stranger.latest = ["mine"]
    assert ui.service.latest_runs(stranger) == []
    assert [run.id for run in ui.service.latest_runs(mine)] == ["mine"]
