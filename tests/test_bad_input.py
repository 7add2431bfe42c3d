"""Bad input gets words, through the API as on the page, before anything is uploaded or paid.

Gradio prepares every input before a handler runs, and what it raised there reached an API
caller as `error: null`. Each case here is sent to the launched app over gradio_client, as
a stranger's script would, and must come back as a sentence that names what is wrong.
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from conftest import PROMPT, LaunchedApp, form, launch_app, make_image
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from playground.emulator import RunningEmulator
from playground.errors import InvalidRequest
from playground.model import seedance
from playground.model.form import Form
from playground.ui.handlers import Handlers
from playground.ui.inputs import MAX_DATA_URI_CHARS

FILES: dict[str, tuple[bytes, str]] = {
    # name: (content, what the message must say)
    "notes.jpg": (b"hello, this is a shopping list\n", "a text file"),
    "page.jpg": (b"<!DOCTYPE html><html><body>hi</body></html>", "a text file"),
    "doc.pdf": (b"%PDF-1.4\n1 0 obj<<>>endobj\n", "a PDF document"),
    "clip.png": (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "a video"),
    "empty.png": (b"", "an empty file"),
    "noise.png": (bytes(range(256)) * 8, "not an image format"),
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedApp]:
    root = tmp_path_factory.mktemp("bad-input")
    image = make_image(root / "start.png")
    with launch_app(root, image, {"WAVESPEED_API_KEY": "k"}) as app:
        yield app


def refused(served: LaunchedApp, **overrides: Any) -> str:
    """The error an API caller gets for `overrides`, after checking nothing was paid."""
    before = served.emulator.stats()
    with pytest.raises(AppError) as info:
        served.generate(served.client(), **overrides)
    after = served.emulator.stats()
    assert (after["uploads"], after["submits"]) == (before["uploads"], before["submits"])
    message = str(info.value)
    assert "error: null" not in message and "verbose error reporting" not in message
    return message


def test_a_good_request_still_goes_through(served: LaunchedApp) -> None:
    video, record, _ = served.generate(served.client(), duration="3")
    assert Path(video).is_file() and record["inputs"]["duration"] == 3


@pytest.mark.parametrize("name", FILES)
def test_a_file_that_is_not_an_image_is_named_for_what_it_is(
    served: LaunchedApp, name: str, tmp_path: Path
) -> None:
    content, what = FILES[name]
    path = tmp_path / name
    path.write_bytes(content)
    message = refused(served, image=handle_file(str(path)))
    assert message.startswith("The start image: ") and what in message, message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration", "abc"),
        ("duration", None),
        ("duration", [5]),
        ("duration", "nan"),
        ("duration", "1e309"),
        ("seed", "abc"),
        ("seed", True),
    ],
)
def test_a_number_that_is_not_one_is_named_with_its_range(
    served: LaunchedApp, field: str, value: Any
) -> None:
    message = refused(served, **{field: value})
    name, low, high = {"duration": ("Duration", 2, 12), "seed": ("Seed", -1, 2147483647)}[field]
    assert message == f"{name} must be a number from {low} to {high}, not {value!r}.", message


def data_uri(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buffer.getvalue()).decode()


def file_data(url: str) -> dict[str, Any]:
    return {"path": None, "url": url, "meta": {"_type": "gradio.FileData"}}


def test_a_data_uri_bomb_is_refused_from_its_header(served: LaunchedApp) -> None:
    """100 megapixels in ~130 KB of PNG: refused by its size, never decoded."""
    bomb = data_uri(Image.new("L", (10_000, 10_000)))
    assert len(bomb) < 200_000
    message = refused(served, image=file_data(bomb))
    assert "10000×10000 px" in message and "50 megapixels" in message


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("data:garbage", "not a base64 data: URI"),
        ("data:image/png,rawbytes", "not a base64 data: URI"),
        ("data:image/png;base64,!!!!", "base64 is damaged"),
        ("data:image/png;base64," + "A" * MAX_DATA_URI_CHARS, "over 10 MB"),
    ],
)
def test_a_bad_data_uri_says_what_is_wrong(served: LaunchedApp, uri: str, words: str) -> None:
    assert words in refused(served, image=file_data(uri))


def test_a_data_uri_image_is_used_as_sent(served: LaunchedApp) -> None:
    uri = data_uri(Image.new("RGB", (640, 360), (10, 120, 200)), "JPEG")
    video, record, _ = served.generate(served.client(), image=file_data(uri))
    assert Path(video).is_file() and record["status"] == "completed"


@pytest.mark.parametrize("char", ["\ud800", "\x00", "\x07", "\x1b", "\x7f"])
def test_a_prompt_with_a_character_no_api_takes_is_refused_before_upload(char: str) -> None:
    """Sent, a lone surrogate made the submit's JSON encoding fail after the image was up."""
    with pytest.raises(InvalidRequest) as refused:
        seedance.request(image="x", prompt=f"{PROMPT}{char}")
    (problem,) = refused.value.problems
    assert f"U+{ord(char):04X}" in problem and f"position {len(PROMPT) + 1}" in problem
    assert seedance.request(image="x", prompt=f"{PROMPT}\n\tnext beat 😀").problems() == []


async def test_a_lone_surrogate_in_the_prompt_costs_no_upload(
    live: Path, emulator: RunningEmulator, ui: Handlers, tmp_path: Path
) -> None:
    image = make_image(tmp_path / "start.png")
    with pytest.raises(gr.Error, match=r"U\+D800"):
        async for _ in ui.generate(
            **form(image, prompt="a\ud800b"), session=ui.service.new_session()
        ):
            pass
    assert emulator.stats()["uploads"] == emulator.stats()["submits"] == 0


def test_an_expected_refusal_is_one_log_line_not_a_traceback(
    served: LaunchedApp, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="playground.ui")
    capfd.readouterr()
    refused(served, duration="abc")
    refused(served, prompt="x" * 2001)
    printed = capfd.readouterr()
    assert "Traceback" not in printed.err + printed.out
    refusals = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused: ")]
    assert len(refusals) == 2, refusals  # each once
    assert "Duration must be a number" in refusals[0] and "2000" in refusals[1]


async def test_only_a_few_images_are_decoded_at_once(
    ui: Handlers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each decode may hold a few hundred MB: a crowd clicking together waits its turn."""
    import threading
    import time

    from playground.flow import service as service_module
    from playground.media import images

    real, lock = images.prepare_image, threading.Lock()
    inside, most = 0, 0

    def prepare(*args: Any, **kwargs: Any) -> Any:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        time.sleep(0.2)
        try:
            return real(*args, **kwargs)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(images, "prepare_image", prepare)
    image = make_image(tmp_path / "start.png")
    form_ = Form.of("", image=str(image), prompt="x", duration=2)
    prepared = await asyncio.gather(
        *(ui.service.prepare(ui.service.new_session(), form_) for _ in range(6))
    )
    assert len(prepared) == 6 and most == service_module.DECODES_AT_ONCE == 2


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("abc", "must be a whole number."),
        (2.5, "must be a whole number, not 2.5."),
        (None, "whole"),
    ],
)
def test_every_whole_number_field_is_named_when_it_is_not_one(value: Any, words: str) -> None:
    """Duration, seed and the batch's count share one check and one way of saying it."""
    from playground.model.form import whole_number

    for what in ("Duration", "Seed", "Variations"):
        problems: list[str] = []
        whole_number(value, what, problems)
        assert problems and problems[0].startswith(f"{what} ") and words in problems[0]
