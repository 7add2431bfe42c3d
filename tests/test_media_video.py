"""videos.py, video part: synthetic clips, probing, frame reading, output sizes."""

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from playground.emulator import synthetic
from playground.media import videos
from playground.model import seedance

SIZE = (864, 480)  # 480p 16:9: small enough to keep the suite fast
FPS = 24


def textured_image(size: tuple[int, int] = (1600, 1200)) -> Image.Image:
    """Lots of structure everywhere, so any camera motion changes what each pixel shows."""
    image = Image.effect_mandelbrot(size, (-2.2, -1.2, 1.0, 1.2), 60).convert("RGB")
    gradient = Image.linear_gradient("L").resize(size).convert("RGB")
    image = Image.blend(image, ImageOps.colorize(gradient.convert("L"), "navy", "orange"), 0.5)
    draw = ImageDraw.Draw(image)
    for i in range(0, size[0], 100):
        draw.ellipse((i, (i * 7) % size[1], i + 60, (i * 7) % size[1] + 60), fill=(250, 250, 40))
        draw.line((i, 0, i, size[1]), fill=(0, 200, 120), width=3)
    return image


def gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float64)


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).mean())


def structure_change(a: Image.Image, b: Image.Image) -> float:
    """How much content moved between two frames, blind to overall brightness changes."""
    za, zb = (gray(x.resize((216, 120))) for x in (a, b))
    za, zb = ((z - z.mean()) / z.std() for z in (za, zb))
    return float(np.abs(za - zb).mean())


@pytest.fixture(scope="module")
def start() -> Image.Image:
    return textured_image()


@pytest.fixture(scope="module")
def end(start: Image.Image) -> Image.Image:
    return ImageOps.invert(start.transpose(Image.Transpose.FLIP_LEFT_RIGHT))


@pytest.fixture(scope="module")
def clips(
    tmp_path_factory: pytest.TempPathFactory, start: Image.Image, end: Image.Image
) -> dict[str, Path]:
    """The clips several tests look at, rendered once."""
    out = tmp_path_factory.mktemp("clips")
    specs = {
        "seed7": {"seed": 7},
        "seed7_again": {"seed": 7},
        "seed8": {"seed": 8},
        "fixed": {"seed": 7, "camera_fixed": True},
        "fade": {"seed": 7, "end": end},
    }
    return {
        name: synthetic.render_motion_clip(
            start, out / f"{name}.mp4", size=SIZE, duration_s=2, fps=FPS, **kw
        )
        for name, kw in specs.items()
    }


def test_clip_has_exact_frames_size_codec_and_faststart(clips: dict[str, Path]) -> None:
    info = videos.probe_video(clips["seed7"])
    assert info == videos.VideoInfo(
        width=864, height=480, duration_s=2.0, frames=48, fps=24.0, codec="h264"
    )
    head = clips["seed7"].read_bytes()
    assert head.index(b"moov") < head.index(b"mdat"), "index must come first (faststart)"


def test_clip_frame_count_follows_duration_and_fps(tmp_path: Path, start: Image.Image) -> None:
    path = synthetic.render_motion_clip(
        start, tmp_path / "c.mp4", size=(320, 240), duration_s=3, fps=10
    )
    info = videos.probe_video(path)
    assert (info.frames, info.fps, info.duration_s, info.width, info.height) == (
        30,
        10.0,
        3.0,
        320,
        240,
    )


def test_render_leaves_only_the_destination(tmp_path: Path, start: Image.Image) -> None:
    dest = synthetic.render_motion_clip(start, tmp_path / "out.mp4", size=(320, 240), duration_s=2)
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]
    assert dest == tmp_path / "out.mp4"


@pytest.mark.parametrize("size", [(321, 240), (320, 0)])
def test_render_refuses_sizes_yuv420p_cannot_hold(
    tmp_path: Path, start: Image.Image, size: tuple[int, int]
) -> None:
    with pytest.raises(ValueError, match="even"):
        synthetic.render_motion_clip(start, tmp_path / "bad.mp4", size=size, duration_s=2)
    assert list(tmp_path.iterdir()) == []


def test_same_seed_same_clip_other_seed_other_motion(clips: dict[str, Path]) -> None:
    for index in (0, -1):
        first = np.asarray(videos.read_frame(clips["seed7"], index))
        again = np.asarray(videos.read_frame(clips["seed7_again"], index))
        assert np.array_equal(first, again)
    last7, last8 = videos.read_frame(clips["seed7"]), videos.read_frame(clips["seed8"])
    assert mean_abs_diff(last7, last8) > 5


def test_camera_fixed_holds_the_frame_but_still_moves(clips: dict[str, Path]) -> None:
    moving_first, moving_last = (videos.read_frame(clips["seed7"], i) for i in (0, -1))
    fixed_first, fixed_last = (videos.read_frame(clips["fixed"], i) for i in (0, -1))
    assert structure_change(moving_first, moving_last) > 0.3
    assert structure_change(fixed_first, fixed_last) < 0.05
    # Quarter of a breathing period in, brightness has visibly changed: it is not a still.
    quarter = round(synthetic.BREATHING_PERIOD_S * FPS / 4)
    fixed_quarter = videos.read_frame(clips["fixed"], quarter)
    assert gray(fixed_quarter).mean() / gray(fixed_first).mean() > 1.03


def test_first_frame_is_the_start_and_last_fades_to_the_end(
    clips: dict[str, Path], start: Image.Image, end: Image.Image
) -> None:
    want_start, want_end = videos.cover(start, SIZE), videos.cover(end, SIZE)
    first, last = videos.read_frame(clips["fade"], 0), videos.read_frame(clips["fade"], -1)
    assert mean_abs_diff(first, want_start) < 8
    assert mean_abs_diff(last, want_end) < 8
    assert mean_abs_diff(first, want_end) > 40
    # Before the fade window the end image has not appeared yet.
    early = videos.read_frame(clips["fade"], round(0.5 * 47))
    assert mean_abs_diff(early, want_end) > 40


def test_label_marks_every_clip_as_synthetic(tmp_path: Path) -> None:
    black = Image.new("RGB", (640, 480))
    path = synthetic.render_motion_clip(
        black, tmp_path / "b.mp4", size=(640, 480), duration_s=2, camera_fixed=True
    )
    frame = gray(videos.read_frame(path))
    corner, rest = frame[-60:, :240], frame[:-60, :]
    assert corner.max() > 200, "white label text in the bottom-left corner"
    assert rest.max() < 30


def test_read_frame_is_full_size_rgb_and_counts_from_both_ends(clips: dict[str, Path]) -> None:
    last = videos.read_frame(clips["seed7"])
    assert (last.mode, last.size) == ("RGB", SIZE)
    assert np.array_equal(np.asarray(videos.read_frame(clips["seed7"], 47)), np.asarray(last))
    assert np.array_equal(
        np.asarray(videos.read_frame(clips["seed7"], -48)),
        np.asarray(videos.read_frame(clips["seed7"], 0)),
    )
    for bad in (48, -49):
        with pytest.raises(IndexError):
            videos.read_frame(clips["seed7"], bad)


def test_thumbnail_is_the_middle_frame_scaled_down(clips: dict[str, Path], tmp_path: Path) -> None:
    fade = clips["fade"]  # every frame differs: a wrong frame would show
    thumb = videos.save_thumbnail(fade, tmp_path / "t.jpg")
    with Image.open(thumb) as image:
        assert image.format == "JPEG"
        assert image.width == 360 and image.height % 2 == 0
        assert abs(image.width / image.height - SIZE[0] / SIZE[1]) < 0.02
        frames = [videos.read_frame(fade, i).resize(image.size) for i in (0, 24, 47)]
        first, middle, last = (mean_abs_diff(image.convert("RGB"), f) for f in frames)
    assert middle < 6 and middle < first / 3 and middle < last / 3


def test_thumbnail_of_a_clip_with_many_keyframes_is_still_the_middle_frame(tmp_path: Path) -> None:
    """Decoding starts from the keyframe before the middle (here frame 24 of 60, one every
    8), and goes on to the middle frame itself, not to that keyframe."""
    path = tmp_path / "gop.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"g": "8", "bf": "0"})
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for i in range(60):  # every frame its own grey: 0, 4, 8, ...
            frame = av.VideoFrame.from_image(Image.new("RGB", (320, 180), (4 * i,) * 3))
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    with av.open(str(path)) as clip:
        keyframes = [p.pts for p in clip.demux(video=0) if p.is_keyframe]
    assert len(keyframes) > 4  # the clip is what the test needs
    thumb = videos.save_thumbnail(path, tmp_path / "t.jpg")
    with Image.open(thumb) as image:
        grey = image.convert("L").getpixel((image.width // 2, image.height // 2))
    middle = videos.read_frame(path, 30).convert("L").getpixel((160, 90))
    assert abs(grey - middle) <= 3
    assert abs(grey - 4 * 24) > 12  # not the keyframe it decoded from


def test_720p_table_is_what_seedance_produces() -> None:
    assert seedance.OUTPUT_SIZES_720P == {
        "21:9": (1504, 640),
        "16:9": (1248, 704),
        "4:3": (1120, 832),
        "1:1": (960, 960),
        "3:4": (832, 1120),
        "9:16": (704, 1248),
    }


@pytest.mark.parametrize(
    ("table", "lines"),
    [
        (seedance.OUTPUT_SIZES_480P, 480),
        (seedance.OUTPUT_SIZES_720P, 720),
        (seedance.OUTPUT_SIZES_1080P, 1080),
    ],
)
def test_size_tables_are_encoder_friendly_and_true_to_ratio(
    table: dict[str, tuple[int, int]], lines: int
) -> None:
    assert set(table) == set(synthetic.ASPECT_RATIOS)
    wide_w, wide_h = table["16:9"]
    assert abs(wide_h / lines - 1) < 0.03, "16:9 is about as tall as the resolution's name"
    for ratio, (w, h) in table.items():
        rw, rh = (int(x) for x in ratio.split(":"))
        assert w % 16 == 0 and h % 16 == 0, ratio
        assert abs((w / h) / (rw / rh) - 1) < 0.04, ratio
        # Seedance keeps the pixel count, not the short side, roughly constant.
        assert abs(w * h / (wide_w * wide_h) - 1) < 0.12, ratio
        assert table.get(f"{rh}:{rw}", (h, w)) == (h, w), "portrait mirrors landscape"


@pytest.mark.parametrize(
    ("source", "ratio"),
    [
        ((4000, 3000), "4:3"),
        ((1080, 1920), "9:16"),
        ((3000, 1000), "21:9"),
        ((1920, 1080), "16:9"),
        ((500, 520), "1:1"),
        ((900, 1200), "3:4"),
    ],
)
def test_output_size_follows_the_source_when_no_ratio_is_given(
    source: tuple[int, int], ratio: str
) -> None:
    assert synthetic.output_size("720p", None, source) == seedance.OUTPUT_SIZES_720P[ratio]


def test_output_size_uses_the_requested_ratio_and_resolution() -> None:
    assert synthetic.output_size("480p", "9:16", (4000, 3000)) == (480, 864)
    assert synthetic.output_size("1080p", "16:9", (100, 100)) == (1920, 1088)
    with pytest.raises(ValueError, match="resolution"):
        synthetic.output_size("8k", "16:9", (100, 100))
    with pytest.raises(ValueError, match="aspect ratio"):
        synthetic.output_size("720p", "2:1", (100, 100))
