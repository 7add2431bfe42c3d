"""What only the page offers for images: a URL instead of an upload, and enlarging an image
under 300 px. The public /generate keeps the API's eight parameters (tests/test_app.py).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from conftest import form, make_image, page_values

from playground.emulator import RunningEmulator
from playground.media import urls
from playground.ui.app import build_demo
from playground.ui.errors import MORE_IMAGE_OPTIONS, UPSCALE_LABEL
from playground.ui.handlers import Handlers
from playground.ui.wiring import GENERATE_CONCURRENCY

URL = "https://images.example/cat.jpg"


async def drive(ui: Handlers, **inputs: Any) -> list[tuple]:
    session = ui.service.new_session()
    run = ui.generate_on_page(None, None, session, *page_values(inputs))
    return [outputs[:3] async for outputs in run]  # (video, record, status)


async def test_a_typed_url_is_sent_as_is_instead_of_an_upload(
    live: Path, emulator: RunningEmulator, tmp_path: Path, ui: Handlers
) -> None:
    upload = make_image(tmp_path / "ignored.png")
    outputs = await drive(ui, **form(upload, aspect_ratio="16:9"), image_url=f"  {URL} ")
    video, record, _ = outputs[-1]
    assert Path(video).is_file()
    assert record["inputs"]["image"] == URL
    assert emulator.stats()["uploads"] == 0  # nothing of ours was uploaded


async def test_an_end_image_url_is_sent_too(
    live: Path, emulator: RunningEmulator, tmp_path: Path, ui: Handlers
) -> None:
    start = make_image(tmp_path / "start.png")
    end = "https://images.example/end.png"
    outputs = await drive(ui, **form(start, aspect_ratio="16:9"), last_image_url=end)
    record = outputs[-1][1]
    assert record["inputs"]["last_image"] == end
    assert record["inputs"]["image"].startswith(emulator.base_url)  # the start was uploaded
    assert emulator.stats()["uploads"] == 1


async def test_a_bad_url_is_refused_before_anything_is_sent(
    live: Path, emulator: RunningEmulator, ui: Handlers
) -> None:
    with pytest.raises(gr.Error, match=r"The start image URL: file:// addresses are not accepted"):
        await drive(ui, **form(None), image_url="file:///etc/passwd")
    assert emulator.stats()["submits"] == 0


async def test_text_in_a_url_box_is_never_read_as_a_server_path(
    live: Path, emulator: RunningEmulator, tmp_path: Path, ui: Handlers
) -> None:
    secret = make_image(tmp_path / "secret.png")  # a file on the server
    for typed in (str(secret), f"file://{secret}", "presets/astronaut-closeup.jpg"):
        with pytest.raises(gr.Error, match="The start image URL: "):
            await drive(ui, **form(None), image_url=typed)
        with pytest.raises(gr.Error, match="The end image URL: "):
            await drive(ui, **form(make_image(tmp_path / "ok.png")), last_image_url=typed)
    assert emulator.stats()["submits"] == 0 and emulator.stats()["uploads"] == 0


async def test_a_blank_url_box_leaves_the_upload_in_use(
    live: Path, emulator: RunningEmulator, tmp_path: Path, ui: Handlers
) -> None:
    outputs = await drive(ui, **form(make_image(tmp_path / "up.png")), image_url="   ")
    assert outputs[-1][1]["inputs"]["image"].startswith(emulator.base_url)  # the upload
    assert emulator.stats()["uploads"] == 1


async def test_a_small_image_points_to_the_enlarge_option(
    live: Path, emulator: RunningEmulator, tmp_path: Path, ui: Handlers
) -> None:
    small = make_image(tmp_path / "small.png", (200, 250))
    with pytest.raises(gr.Error) as info:
        await drive(ui, **form(small, aspect_ratio="16:9"))
    said = html.unescape(info.value.message)  # the page's text, heading first
    assert said.startswith("<strong>Image too small</strong><br>")
    assert "200×250 px" in said
    assert f"tick “{UPSCALE_LABEL}” under “{MORE_IMAGE_OPTIONS}”" in said
    assert emulator.stats()["submits"] == 0


async def test_enlarging_a_small_image_is_said_and_the_run_completes(
    live: Path,
    emulator: RunningEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ui: Handlers,
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(gr, "Warning", lambda message, *a, **k: warnings.append(message))
    small = make_image(tmp_path / "small.png", (200, 250))
    outputs = await drive(ui, **form(small, aspect_ratio="16:9"), upscale=True)
    assert Path(outputs[-1][0]).is_file()
    assert warnings == [
        "The start image is 200×250 px; it was enlarged to 300×375, so the video will be softer."
    ]
    assert emulator.stats()["upload_bytes"] > 0


async def test_an_image_too_tiny_to_enlarge_does_not_suggest_enlarging(
    tmp_path: Path, ui: Handlers
) -> None:
    tiny = make_image(tmp_path / "tiny.png", (60, 60))
    for upscale in (False, True):
        with pytest.raises(gr.Error) as info:
            await drive(ui, **form(tiny), upscale=upscale)
        assert "too small even to upscale" in info.value.message
        assert UPSCALE_LABEL not in info.value.message


def test_the_newest_choice_wins_between_upload_and_url() -> None:
    upload = "/tmp/gradio/upload.png"
    assert Handlers.upload_replaces_url(upload, URL) == ""  # the URL box empties
    assert Handlers.url_replaces_upload(URL, upload) is None  # the upload is removed
    skip = type(Handlers.upload_replaces_url(None, URL))  # gr.skip(): the other box keeps its value
    assert skip not in (type(None), str)
    # text that is no address never removes an upload (it says so instead)
    assert type(Handlers.url_replaces_upload("not a url", upload)) is skip
    for url in (None, "", "   "):
        assert type(Handlers.url_replaces_upload(url, upload)) is skip
    # the other box was already empty: nothing to do (and no late reply to race a person)
    assert type(Handlers.upload_replaces_url(upload, "")) is skip
    assert type(Handlers.url_replaces_upload(URL, None)) is skip


def test_previews_fetch_a_typed_url_safely_and_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ui: Handlers
) -> None:
    square = make_image(tmp_path / "square.png", (600, 600)).read_bytes()
    fetched: list[str] = []

    def fetch(url: str, **kwargs: Any) -> bytes:
        fetched.append(url)
        return square

    monkeypatch.setattr(urls, "fetch_url_image", fetch)
    shown = ui.preview_framing(None, "16:9", f" {URL} ")
    assert shown.visible is True and shown.value is not None
    assert ui.preview_framing(None, "1:1", URL).visible is False  # same shape: no preview
    landscape = make_image(tmp_path / "wide.png", (1280, 720))
    note = ui.end_image_note(str(landscape), None, "", URL)
    assert "16:9" in note and "1:1" in note
    assert fetched == [URL]  # one fetch for all three, within the minute


def test_an_unreachable_url_is_said_at_once_and_names_its_image(ui: Handlers) -> None:
    note = ui.end_image_note(None, None, "http://127.0.0.1/a.png", "")
    assert "The start image URL:" in note and "loopback" in note
    assert ui.preview_framing(None, "16:9", "http://127.0.0.1/a.png").visible is False
    note = ui.end_image_note(None, None, "", "https://example.com/a.svg?x=\u0007")
    assert "The end image URL:" in note


def test_no_preview_fetch_waits_when_every_slot_is_busy(
    monkeypatch: pytest.MonkeyPatch, ui: Handlers
) -> None:
    fetched: list[str] = []
    monkeypatch.setattr(urls, "fetch_url_image", lambda url, **k: fetched.append(url))
    taken = [ui.service.previews._slots.acquire(blocking=False) for _ in range(10)]
    try:
        assert taken.count(True) == ui.service.previews.SLOTS
        assert ui.preview_framing(None, "16:9", URL).visible is False
        assert ui.end_image_note(None, None, URL, "") == ""
    finally:
        for _ in range(taken.count(True)):
            ui.service.previews._slots.release()
    assert fetched == []


def test_a_run_sent_from_a_url_loads_back_into_the_url_box(ui: Handlers) -> None:
    session = ui.service.new_session()
    record = {
        "id": "from-url",
        "status": "completed",
        "model": "bytedance/seedance-v1-lite-i2v-720p",
        "inputs": {"image": URL, "prompt": "p", "duration": 3, "seed": 7},
        "input_files": {},
    }
    inline = {**record, "id": "inline", "inputs": {"image": "(inline image)"}}
    for run in (record, inline):
        ui.service.store.save(run, account=ui.service.account_of(session), resumable=False)
    loaded = ui.load_run_into_form(record, session)
    start, end, start_url, end_url, *_ = loaded
    assert (start, end, start_url, end_url) == (None, None, URL, "")
    with pytest.raises(gr.Error, match="not kept"):
        ui.load_run_into_form(inline, session)


def test_the_page_and_the_api_share_one_generate_limit(ui: Handlers) -> None:
    demo = build_demo(ui.service)
    twins = (Handlers.generate, Handlers.generate_on_page)
    runs = [fn for fn in demo.fns.values() if getattr(fn.fn, "__func__", None) in twins]
    assert {fn.fn.__func__ for fn in runs} == set(twins)
    public = [fn for fn in runs if fn.api_visibility != "private"]
    assert [(fn.fn.__func__, fn.api_name) for fn in public] == [(Handlers.generate, "generate")]
    assert len(public[0].inputs) == 12  # the eleven API parameters and the session
    assert {fn.concurrency_id for fn in runs} == {"generate"}
    assert {fn.concurrency_limit for fn in runs} == {GENERATE_CONCURRENCY}
