"""History's thumbnails while runs end alone and while they end in a crowd
(flow.thumbnails): at once, or later, one at a time, once the crowd has passed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from PIL import Image

from playground.emulator import synthetic
from playground.flow.thumbnails import Thumbnails

QUIET_S = 0.3


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    start = Image.new("RGB", (320, 180), (40, 110, 170))
    out = tmp_path_factory.mktemp("clips") / "clip.mp4"
    return synthetic.render_motion_clip(start, out, size=(320, 180), duration_s=1, fps=12)


def copies(clip: Path, where: Path, n: int) -> list[Path]:
    """n finished runs' videos (each its own file, as each run has)."""
    paths = [where / f"run{i}.mp4" for i in range(n)]
    for path in paths:
        path.write_bytes(clip.read_bytes())
    return paths


async def test_a_run_ending_alone_gets_its_thumbnail_at_once(clip: Path, tmp_path: Path) -> None:
    thumbnails = Thumbnails(busy_at=2, quiet_s=QUIET_S)
    later: list[Path] = []

    async def made(thumb: Path) -> None:
        later.append(thumb)

    (video,) = copies(clip, tmp_path, 1)
    thumb = await thumbnails.thumbnail(video, made)
    assert thumb == video.with_name("run0_thumb.jpg") and thumb.is_file()
    with Image.open(thumb) as image:
        assert image.format == "JPEG" and image.width == 360
    assert later == [] and thumbnails.waiting == 0


async def test_runs_ending_in_a_crowd_get_theirs_later_in_order_once_it_has_passed(
    clip: Path, tmp_path: Path
) -> None:
    thumbnails = Thumbnails(busy_at=2, quiet_s=QUIET_S)
    made_at: dict[Path, float] = {}

    async def made(thumb: Path) -> None:
        made_at[thumb] = time.monotonic()

    videos = copies(clip, tmp_path, 6)
    ended = time.monotonic()
    now = await asyncio.gather(*(thumbnails.thumbnail(v, made) for v in videos))
    assert [t is not None for t in now] == [True, True, False, False, False, False]
    assert thumbnails.waiting == 4 and made_at == {}

    deadline = time.monotonic() + 10
    while len(made_at) < 4:
        assert time.monotonic() < deadline, "the late thumbnails were never made"
        await asyncio.sleep(0.05)
    late = [v.with_name(f"{v.stem}_thumb.jpg") for v in videos[2:]]
    assert list(made_at) == late and all(t.is_file() for t in late)
    assert min(made_at.values()) - ended >= QUIET_S  # not while runs were still ending
    assert thumbnails.waiting == 0


async def test_one_runs_failed_late_save_stops_no_other_runs_thumbnail(
    clip: Path, tmp_path: Path
) -> None:
    """A late save that fails (say, a full disk) leaves the others' thumbnails to come."""
    thumbnails = Thumbnails(busy_at=1, quiet_s=QUIET_S)
    kept: list[Path] = []

    async def made(thumb: Path) -> None:
        if thumb.name.startswith("run1"):
            raise OSError("No space left on device")
        kept.append(thumb)

    first, second, third = copies(clip, tmp_path, 3)
    assert await thumbnails.thumbnail(first, made) is not None
    assert await thumbnails.thumbnail(second, made) is None  # two within quiet_s: a crowd
    assert await thumbnails.thumbnail(third, made) is None  # and it waits behind the second
    deadline = time.monotonic() + 10
    while thumbnails.waiting or not kept:
        assert time.monotonic() < deadline, "the late thumbnails were never made"
        await asyncio.sleep(0.05)
    assert kept == [third.with_name("run2_thumb.jpg")]
