"""An image is checked as it arrives in its box, by Generate's own rules, and the note under
it says what is wrong and what to do; a file that is no image leaves the box."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import make_image
from PIL import Image

from playground.flow.generation import ImageInput
from playground.ui.errors import MORE_IMAGE_OPTIONS, UPSCALE_LABEL
from playground.ui.handlers import Handlers


def is_skip(update: object) -> bool:
    return update == {"__type__": "update"}


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b"just some words, not a picture\n" * 20, "text"),
    ],
)
def test_a_file_that_is_no_image_leaves_the_box_with_a_reason(
    tmp_path: Path, content: bytes, said: str
) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(content)
    image, note = Handlers.check_start_image(str(path), False)
    assert image is None  # out of the box: no broken picture stays
    assert "taken out of the start image box" in note and said in note


def test_a_damaged_image_is_named(tmp_path: Path) -> None:
    whole = make_image(tmp_path / "whole.png", (640, 480)).read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole[:40])
    image, note = Handlers.check_end_image(str(cut), False)
    assert image is None and "end image" in note


def test_a_small_image_points_to_the_enlarge_option_or_says_it_will_be_enlarged(
    tmp_path: Path,
) -> None:
    small = str(make_image(tmp_path / "small.png", (200, 250)))
    image, note = Handlers.check_start_image(small, False)
    assert is_skip(image)  # kept: ticking the box makes it usable
    assert "200×250 px" in note and "at least 300×300" in note
    assert UPSCALE_LABEL in note and MORE_IMAGE_OPTIONS.replace("&", "&amp;") in note
    image, note = Handlers.check_start_image(small, True)
    assert is_skip(image) and "will be enlarged" in note and "softer" in note


def test_an_image_too_small_even_to_enlarge_says_so(tmp_path: Path) -> None:
    tiny = str(make_image(tmp_path / "tiny.png", (60, 60)))
    for upscale in (False, True):
        _, note = Handlers.check_start_image(tiny, upscale)
        assert "too small even to upscale" in note and UPSCALE_LABEL not in note


def test_a_good_image_has_no_note_and_no_image_changes_nothing(tmp_path: Path) -> None:
    good = str(make_image(tmp_path / "good.png", (1024, 768)))
    image, note = Handlers.check_start_image(good, False)
    assert is_skip(image) and note == ""
    # a box emptied by the check itself keeps its note; any other note goes with the image
    _, taken_out = Handlers.check_start_image(str(Path(__file__)), False)  # a .py file
    image, note = Handlers.check_start_image(None, False, taken_out)
    assert is_skip(image) and note == taken_out
    _, small = Handlers.check_start_image(str(make_image(tmp_path / "s.png", (200, 200))), False)
    assert Handlers.check_start_image(None, False, small) == ({"__type__": "update"}, "")


def test_an_image_over_the_pixel_limit_is_said_at_once(tmp_path: Path) -> None:
    """The same limit as Generate's (50 megapixels for a format decoded whole), read from
    the header: nothing is decoded to say so."""
    huge = tmp_path / "huge.png"
    Image.new("1", (8000, 8000)).save(huge)  # 64 MP, a small file
    image, note = Handlers.check_start_image(str(huge), False)
    assert image is None and "under 50 megapixels" in note


def test_a_fault_nobody_foresaw_is_a_note_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = str(make_image(tmp_path / "good.png", (1024, 768)))

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a library bug")

    monkeypatch.setattr("playground.media.images.check_image", broken)
    image, note = Handlers.check_start_image(good, False)
    assert is_skip(image) and "could not be checked here" in note and "bug" not in note


async def test_the_same_picture_is_prepared_once_and_the_cache_stays_bounded(
    uis: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rerun, a preset or another visitor's identical photo is not decoded again; a
    different picture, name, resolution or enlarge setting is; the kept bytes are bounded."""
    from PIL import Image

    from playground.flow import service as service_module
    from playground.media import images

    decoded: list[str] = []
    real = images.prepare_image

    def counting(source: Any, **kw: Any) -> Any:
        decoded.append(str(source))
        return real(source, **kw)

    monkeypatch.setattr(images, "prepare_image", counting)
    play = uis().service
    photo = tmp_path / "a.png"
    Image.new("RGB", (640, 400), (10, 90, 200)).save(photo)
    first = await play._decode(str(photo), "start image", "720p", False)
    again = await play._decode(str(photo), "start image", "720p", False)
    assert again is first and len(decoded) == 1
    twin = tmp_path / "copy" / "a.png"
    twin.parent.mkdir()
    twin.write_bytes(photo.read_bytes())  # the same bytes and name, elsewhere: a hit
    assert (await play._decode(str(twin), "start image", "720p", False)) is first
    await play._decode(str(photo), "start image", "480p", False)
    Image.new("RGB", (640, 400), (200, 90, 10)).save(photo)  # changed in place: a miss
    changed = await play._decode(str(photo), "start image", "720p", False)
    assert changed.image.data != first.image.data and len(decoded) == 3

    kept = service_module._PreparedImages(budget=24 * len(first.image.data))
    for n in range(30):
        kept.put((n,), first)
    assert [n for n in range(30) if kept.get((n,))] == list(range(6, 30))  # the oldest went
    kept.put(("huge",), service_module._Ready(ImageInput(data=b"x" * 10**7)))
    assert kept.get(("huge",)) is None  # one picture may not push out all the others
