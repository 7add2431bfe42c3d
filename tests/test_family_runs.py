"""Runs on the newer family through `/generate` and the service, against the emulator on
loopback with the owner's key: its own fields, sound, a quoted price, fallback, moderation
of generated audio, stopping a task on WaveSpeed, and the API's `options`.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from conftest import form, make_image, page_values

from playground.emulator import RunningEmulator
from playground.flow.session import Session
from playground.media import videos
from playground.model.status import RunStatus
from playground.ui import views
from playground.ui.handlers import Handlers

TWO = "bytedance/seedance-2.0/image-to-video"
KLING = "kwaivgi/kling-v2.1-i2v-standard"


@pytest.fixture
def start(tmp_path: Path) -> Path:
    return make_image(tmp_path / "start.png", (640, 360))


async def generate(ui: Handlers, session: Session, image: Path, **overrides: Any) -> dict:
    inputs = form(image) | {"duration": 4, "camera_fixed": False, "seed": -1} | overrides
    outputs = [out async for out in ui.generate(**inputs, session=session)]
    video, record, _ = outputs[-1]
    return record | {"video": video}


async def test_a_2_0_run_with_sound_through_generate(live: Path, ui: Handlers, start: Path) -> None:
    session = ui.service.new_session()
    record = await generate(ui, session, start, model=TWO, generate_audio=True, aspect_ratio="auto")
    assert record["status"] == "completed" and record["model"] == TWO
    assert record["seed"] is None  # 2.0 takes no seed: none invented
    assert record["inputs"]["generate_audio"] is True and "seed" not in record["inputs"]
    assert "camera_fixed" not in record["inputs"]
    assert record["cost_quoted"] and record["cost_usd"] == pytest.approx(0.96)  # 4 s of $1.20/5 s
    info = videos.probe_video(record["video"])
    assert info.has_audio and info.duration_s == pytest.approx(4, abs=0.1)
    assert Path(record["input_files"]["thumb"]).is_file()  # thumbnails work with sound
    card = ui.run_card(record, session)
    assert "with sound" in card and "not supported by this model" in card


async def test_the_api_refuses_a_setting_the_model_lacks(
    live: Path, ui: Handlers, start: Path
) -> None:
    with pytest.raises(gr.Error, match="has no 'camera_fixed' setting"):
        await generate(ui, ui.service.new_session(), start, model=TWO, camera_fixed=True)


async def test_options_carry_a_model_s_other_fields(
    live: Path, ui: Handlers, start: Path, emulator: RunningEmulator
) -> None:
    session = ui.service.new_session()
    options = '{"negative_prompt": "blur, text", "guidance_scale": 0.7}'
    record = await generate(
        ui, session, start, model=KLING, duration=5, aspect_ratio="auto", seed=-1, options=options
    )
    assert record["inputs"]["negative_prompt"] == "blur, text"
    assert record["inputs"]["guidance_scale"] == pytest.approx(0.7)
    for bad, said in (
        ('{"guidance_scale": 3}', "Guidance scale must be a number from 0 to 1"),
        ('{"no_such_field": 1}', "has no 'no_such_field' setting"),
        ("[1, 2]", "JSON object"),
        ("{not json", "JSON object"),
        ('{"duration": 10}', "set as a parameter and in options"),
        ('{"negative_prompt": "%s"}' % ("x" * 70_000), "over 64 KB"),
    ):
        with pytest.raises(gr.Error, match=said):
            await generate(
                ui, session, start, model=KLING, duration=5, aspect_ratio="auto", options=bad
            )


async def test_a_run_served_by_another_model_says_so(
    live: Path, ui: Handlers, start: Path, emulator: RunningEmulator
) -> None:
    emulator.config.served_model = "bytedance/seedance-2.0-fast/image-to-video"
    record = await generate(ui, ui.service.new_session(), start, duration=2)
    assert record["served_by"] == "bytedance/seedance-2.0-fast/image-to-video"
    stored = ui.service.store.get(record["id"])
    assert stored.record["served_by"] == record["served_by"]
    assert "WaveSpeed served this run with" in ui.run_card(record, ui.service.new_session())


async def test_flagged_sound_is_said_and_a_silent_rerun_offered(
    live: Path, ui: Handlers, start: Path, emulator: RunningEmulator
) -> None:
    emulator.config.faults.audio_moderation = 1
    session = ui.service.new_session()
    with pytest.raises(gr.Error) as flagged:
        await generate(ui, session, start, model=TWO, generate_audio=True)
    assert "made with sound on" in flagged.value.message and "audio off" in flagged.value.message
    assert session.flagged_audio and ui.rerun_offer(session).visible
    off, hidden = ui.audio_off(session)
    assert off is False and not hidden.visible
    again = await generate(ui, session, start, model=TWO, generate_audio=False)
    assert again["status"] == "completed" and again["inputs"]["generate_audio"] is False
    assert not videos.probe_video(again["video"]).has_audio


async def accepted_run(ui: Handlers, session: Session, start: Path) -> tuple[Any, str]:
    """The page's Generate, followed until WaveSpeed accepted the task: (the run, its id)."""
    run = ui.generate_on_page(None, None, session, *page_values(form(start)))
    async for _ in run:
        if session.pending:
            break
    (task_id,) = session.pending
    return run, task_id


async def deleted(ui: Handlers, task_id: str, within_s: float = 15) -> dict:
    """The stored record once the task reads "deleted"."""
    deadline = time.monotonic() + within_s
    while (stored := ui.service.store.get(task_id)).status is not RunStatus.DELETED:
        assert time.monotonic() < deadline, stored.status
        await asyncio.sleep(0.1)
    return stored.record


async def test_stop_on_wavespeed_deletes_the_task_and_the_record_says_so(
    live: Path, ui: Handlers, start: Path, emulator: RunningEmulator
) -> None:
    emulator.config.inference_seconds = 30
    session = ui.service.new_session()
    run, task_id = await accepted_run(ui, session, start)
    answers = await ui.service.stop_on_server(session)
    assert answers[0][0] == task_id and "accepted" in answers[0][1]
    with pytest.raises(gr.Error) as ended:  # the page keeps waiting, and sees the task end
        async for _ in run:
            pass
    assert "Stopped on WaveSpeed" in ended.value.message
    assert "Adjust and try again" not in ended.value.message
    assert "partial refund" in (await deleted(ui, task_id))["stop"]
    assert emulator.stats()["cancels"] == 1


async def test_stop_reaches_a_task_recovery_follows(
    live: Path, ui: Handlers, start: Path, emulator: RunningEmulator
) -> None:
    emulator.config.inference_seconds = 30
    session = ui.service.new_session()
    run, task_id = await accepted_run(ui, session, start)
    await run.aclose()  # a closed tab: recovery follows it now
    answers = await ui.service.stop_on_server(session)
    assert [a[0] for a in answers] == [task_id]
    assert "accepted" in (await deleted(ui, task_id))["stop"]


async def test_continue_and_the_storyboard_keep_a_2_0_shot_s_sound(
    live: Path, ui: Handlers, start: Path
) -> None:
    session = ui.service.new_session()
    first = await generate(ui, session, start, model=TWO, generate_audio=True, aspect_ratio="auto")
    frame = ui.service.continue_from(session, first["id"])  # the last frame, sound or not
    assert Path(frame).is_file()
    second = await generate(ui, session, Path(frame), model=TWO, generate_audio=False)
    ui.service.add_shot(session, second["id"])
    stitched = ui.service.stitch(session)
    info = videos.probe_video(stitched.path)
    assert info.has_audio and info.duration_s == pytest.approx(8, abs=0.15)
    # One shot with sound, one without: the sound cannot be copied, and the note says so.
    assert stitched.sound_rebuilt and "sound rebuilt" in views.stitch_note(stitched)
    track = videos.shot_audio(str(stitched.path), info.duration_s)
    assert abs(track[:, : 4 * videos.AUDIO_RATE]).max() > 0.01  # the first shot's sound
    assert abs(track[:, round(4.2 * videos.AUDIO_RATE) :]).max() < 0.01  # then silence


async def test_an_offline_2_0_run_through_generate(env: Path, ui: Handlers, start: Path) -> None:
    session = ui.service.new_session()
    assert session.offline  # no key: the in-process emulator
    record = await generate(ui, session, start, model=TWO, generate_audio=True, aspect_ratio="auto")
    assert record["status"] == "completed" and record["backend"] == "offline emulator"
    assert videos.probe_video(record["video"]).has_audio
    assert "free (offline" in ui.run_card(record, session)


HAILUO = "minimax/hailuo-02/standard"


async def test_reference_images_from_the_page_are_prepared_and_uploaded(
    live: Path, ui: Handlers, start: Path, tmp_path: Path, emulator: RunningEmulator
) -> None:
    refs = [make_image(tmp_path / f"ref{i}.png", (400 + 20 * i, 400)) for i in range(2)]
    values = form(start, model=HAILUO, duration=6, aspect_ratio="auto", seed=-1)
    page = page_values(values, extra_images=[str(p) for p in refs])
    session = ui.service.new_session()
    outputs = [o[:3] async for o in ui.generate_on_page(None, None, session, *page)]
    video, record, _ = outputs[-1]
    assert Path(video).is_file()
    assert record["status"] == "completed" and record["model"] == HAILUO
    sent = record["inputs"]["reference_images"]
    assert len(sent) == 2 and all(url.startswith(emulator.base_url) for url in sent)
    assert emulator.stats()["uploads"] == 3  # the start image and the two references


async def test_an_api_caller_s_image_list_is_addresses_never_server_paths(
    live: Path, ui: Handlers, start: Path
) -> None:
    for bad in ('{"reference_images": ["/etc/passwd"]}', '{"reference_images": ["file:///x"]}'):
        with pytest.raises(gr.Error, match="Reference images"):
            await generate(
                ui,
                ui.service.new_session(),
                start,
                model=HAILUO,
                duration=6,
                aspect_ratio="auto",
                seed=-1,
                options=bad,
            )
