"""Video pixels: output sizes, synthetic clips, reading, tagging, thumbnails, stitching.

The emulator renders its clips here; frames are read back here to chain shots; finished
videos are tagged, thumbnailed and stitched here. Input images live in `images`.
"""

from __future__ import annotations

import collections
import math
import os
import random
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from seedance import ASPECT_RATIOS, aspect_value, output_sizes

LABEL_TEXT = "SYNTHETIC · emulator"
CROSSFADE_FRACTION = 0.4  # share of the clip spent fading into the end image
BREATHING_AMPLITUDE = 0.05  # +-5% brightness: visibly alive, still reads as a still shot
BREATHING_PERIOD_S = 2.0
# "ultrafast" renders 5 s of 720p in about 1 s on 2 cores (bench/bench_render.py, budget
# 2 s); slower presets only buy smaller files, which a local emulator does not need.
X264_OPTIONS = {"preset": "ultrafast", "crf": "23"}
FRAME_WORKERS = 2  # Pillow's resize releases the GIL, so two threads feed the encoder
FRAMES_IN_FLIGHT = 6  # bounds memory: a few RGB frames queued ahead of the encoder


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    duration_s: float
    frames: int
    fps: float
    codec: str


def closest_aspect_ratio(size: tuple[int, int]) -> str:
    """The one of the six aspect ratios nearest to `size` (compared on a log scale)."""
    ratio = size[0] / size[1]
    return min(ASPECT_RATIOS, key=lambda ar: abs(math.log(ratio / aspect_value(ar))))


def output_size(
    resolution: str, aspect_ratio: str | None, source_size: tuple[int, int]
) -> tuple[int, int]:
    """(width, height) of a clip; aspect_ratio None follows the source image."""
    table = output_sizes(resolution)
    ratio = aspect_ratio if aspect_ratio is not None else closest_aspect_ratio(source_size)
    if ratio not in table:
        raise ValueError(
            f"unknown aspect ratio {ratio!r}; expected one of {', '.join(ASPECT_RATIOS)}"
        )
    return table[ratio]


def _cover_box(src: tuple[int, int], dst: tuple[int, int]) -> tuple[float, float, float, float]:
    """The centred box of `src` with the aspect ratio of `dst` (what a cover-crop keeps)."""
    sw, sh = src
    target = dst[0] / dst[1]
    if sw / sh > target:
        w = sh * target
        return ((sw - w) / 2, 0.0, (sw + w) / 2, float(sh))
    h = sw / target
    return (0.0, (sh - h) / 2, float(sw), (sh + h) / 2)


def cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`image` scaled and centre-cropped to exactly fill `size`, as RGB."""
    rgb = image.convert("RGB")
    return rgb.resize(size, Image.Resampling.LANCZOS, box=_cover_box(rgb.size, size))


@dataclass(frozen=True)
class _Motion:
    """Where the camera window ends, as a fraction of the full frame (it starts at all of it).

    Every motion starts on the exact start image, as Seedance's first frame does.
    """

    scale: float  # window size at the end; < 1 is a push-in
    x: float  # window's left edge at the end, 0..1-scale
    y: float  # window's top edge at the end, 0..1-scale


def _choose_motion(seed: int, camera_fixed: bool) -> _Motion:
    """A push-in, straight or drifting to one edge (a pan or tilt feel), picked by `seed`."""
    if camera_fixed:
        return _Motion(1.0, 0.0, 0.0)
    rng = random.Random(seed)
    scale = rng.uniform(0.82, 0.9)
    slack = 1.0 - scale
    centre = slack / 2
    kind = rng.choice(("push_in", "pan_left", "pan_right", "tilt_up", "tilt_down"))
    x, y = {
        "push_in": (centre, centre),
        "pan_left": (0.0, centre),
        "pan_right": (slack, centre),
        "tilt_up": (centre, 0.0),
        "tilt_down": (centre, slack),
    }[kind]
    return _Motion(scale, x, y)


def _smoothstep(t: float) -> float:
    return t * t * (3.0 - 2.0 * t)


def _label_patch(size: tuple[int, int]) -> Image.Image:
    """A small RGBA badge saying the clip is synthetic, sized to the frame (even sides)."""
    font = ImageFont.load_default(size=max(12, size[1] // 36))
    left, top, right, bottom = font.getbbox(LABEL_TEXT)
    pad = max(4, size[1] // 120)
    width, height = right - left + 2 * pad, bottom - top + 2 * pad
    patch = Image.new("RGBA", (width + width % 2, height + height % 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(patch)
    draw.rounded_rectangle(
        (0, 0, patch.width - 1, patch.height - 1), radius=pad, fill=(0, 0, 0, 150)
    )
    draw.text((pad - left, pad - top), LABEL_TEXT, font=font, fill=(255, 255, 255, 235))
    return patch


# Pillow's YCbCr is full-range BT.601 (JFIF); H.264 yuv420p is limited range (16-235/240).
_Y_LIMITED = [16 + round(v * 219 / 255) for v in range(256)]
_C_LIMITED = [128 + round((v - 128) * 224 / 255) for v in range(256)]


@dataclass(frozen=True)
class _Planes:
    """An image as the encoder stores it: limited-range Y, and Cb/Cr at half size."""

    y: Image.Image
    cb: Image.Image
    cr: Image.Image

    @classmethod
    def of(cls, rgb: Image.Image) -> _Planes:
        y, cb, cr = rgb.convert("YCbCr").split()
        half = ((rgb.width + 1) // 2, (rgb.height + 1) // 2)
        return cls(
            y.point(_Y_LIMITED),
            cb.resize(half, Image.Resampling.BOX).point(_C_LIMITED),
            cr.resize(half, Image.Resampling.BOX).point(_C_LIMITED),
        )

    def map(self, fn: Callable[[Image.Image, bool], Image.Image]) -> _Planes:
        """Apply fn(plane, is_chroma) to each plane."""
        return _Planes(fn(self.y, False), fn(self.cb, True), fn(self.cr, True))

    def blend(self, other: _Planes, alpha: float) -> _Planes:
        return _Planes(
            Image.blend(self.y, other.y, alpha),
            Image.blend(self.cb, other.cb, alpha),
            Image.blend(self.cr, other.cr, alpha),
        )

    def video_frame(self) -> av.VideoFrame:
        flat = np.concatenate([np.asarray(p).reshape(-1) for p in (self.y, self.cb, self.cr)])
        return av.VideoFrame.from_ndarray(flat.reshape(-1, self.y.width), format="yuv420p")


class _FrameMaker:
    """Builds frame i of the clip; thread-safe (only reads shared images).

    Works on Y/Cb/Cr planes rather than RGB: 1.5 bytes a pixel instead of Pillow's 4, and
    no per-frame colour conversion, which together roughly halve the time per frame.
    """

    def __init__(
        self,
        start: Image.Image,
        size: tuple[int, int],
        frames: int,
        fps: int,
        end: Image.Image | None,
        motion: _Motion,
    ) -> None:
        self.size = size
        self.frames = frames
        self.fps = fps
        self.motion = motion
        # Prepare the start once at the resolution the tightest window needs, so each
        # frame is a cheap, slight downscale rather than a resample of the original.
        work = (round(size[0] / motion.scale), round(size[1] / motion.scale))
        self.base = _Planes.of(cover(start, work))
        self.end = _Planes.of(cover(end, size)) if end is not None else None
        self.fade_from = round((1.0 - CROSSFADE_FRACTION) * (frames - 1))
        label = _label_patch(size)
        self.label = _Planes.of(label.convert("RGB"))
        alpha = label.getchannel("A")
        self.label_alpha = (alpha, alpha.resize(self.label.cb.size, Image.Resampling.BOX))
        margin = max(6, size[1] // 60)
        self.label_at = (margin // 2 * 2, (size[1] - label.height - margin) // 2 * 2)

    def _moved(self, progress: float) -> _Planes:
        m, k = self.motion, _smoothstep(progress)
        scale = 1.0 + (m.scale - 1.0) * k
        x0, y0 = m.x * k, m.y * k  # window, as fractions of the prepared image

        def crop(plane: Image.Image, chroma: bool) -> Image.Image:
            w, h = plane.size
            out = (self.size[0] // 2, self.size[1] // 2) if chroma else self.size
            box = (x0 * w, y0 * h, min(w, (x0 + scale) * w), min(h, (y0 + scale) * h))
            return plane.resize(out, Image.Resampling.BILINEAR, box=box, reducing_gap=None)

        return self.base.map(crop)

    def _breathing(self, i: int) -> _Planes:
        phase = 2 * math.pi * i / (self.fps * BREATHING_PERIOD_S)
        gain = 1.0 + BREATHING_AMPLITUDE * math.sin(phase)
        luma = [min(235, round(16 + (v - 16) * gain)) for v in range(256)]
        chroma = [min(240, max(16, round(128 + (v - 128) * gain))) for v in range(256)]
        return self.base.map(lambda plane, is_chroma: plane.point(chroma if is_chroma else luma))

    def _labelled(self, frame: _Planes) -> _Planes:
        x, y = self.label_at
        frame.y.paste(self.label.y, (x, y), self.label_alpha[0])
        frame.cb.paste(self.label.cb, (x // 2, y // 2), self.label_alpha[1])
        frame.cr.paste(self.label.cr, (x // 2, y // 2), self.label_alpha[1])
        return frame

    def __call__(self, i: int) -> av.VideoFrame:
        progress = i / (self.frames - 1) if self.frames > 1 else 1.0
        # Both branches return fresh planes, so pasting the label never touches self.base.
        frame = self._breathing(i) if self.motion.scale == 1.0 else self._moved(progress)
        if self.end is not None and i >= self.fade_from:
            span = max(1, self.frames - 1 - self.fade_from)
            frame = frame.blend(self.end, _smoothstep((i - self.fade_from) / span))
        video_frame = self._labelled(frame).video_frame()
        video_frame.pts = i
        video_frame.time_base = Fraction(1, self.fps)
        return video_frame


def _ordered_parallel(make: Callable[[int], av.VideoFrame], count: int) -> Iterator[av.VideoFrame]:
    """make(0..count-1) computed by worker threads, yielded in order, a bounded few ahead."""
    with ThreadPoolExecutor(FRAME_WORKERS, thread_name_prefix="frame") as pool:
        pending: collections.deque[Future[av.VideoFrame]] = collections.deque()
        for i in range(count):
            pending.append(pool.submit(make, i))
            if len(pending) >= FRAMES_IN_FLIGHT:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _encode(path: str, frames: Iterator[av.VideoFrame], size: tuple[int, int], fps: int) -> None:
    # faststart moves the index to the front so browsers can play while downloading.
    with av.open(path, "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = dict(X264_OPTIONS)
        stream.codec_context.thread_type = "AUTO"
        for frame in frames:
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def render_motion_clip(
    start: Image.Image,
    dest: Path,
    *,
    size: tuple[int, int],
    duration_s: int,
    fps: int = 24,
    end: Image.Image | None = None,
    camera_fixed: bool = False,
    seed: int = 0,
) -> Path:
    """Write a labelled synthetic H.264 MP4 that moves over `start` (and fades to `end`).

    Exactly duration_s * fps frames at `size`. The camera motion (push-in, pan or tilt)
    follows from `seed`; camera_fixed keeps the frame still but gently "breathing" in
    brightness. Written to a temp file beside `dest`, then renamed into place.
    """
    width, height = size
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"size must be positive and even for yuv420p, got {size}")
    if duration_s <= 0 or fps <= 0:
        raise ValueError("duration_s and fps must be positive")
    dest = Path(dest)
    count = duration_s * fps
    maker = _FrameMaker(start, size, count, fps, end, _choose_motion(seed, camera_fixed))
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    try:
        _encode(tmp, _ordered_parallel(maker, count), size, fps)
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; it is an ordinary output file
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def probe_video(path: Path | str) -> VideoInfo:
    """Size, duration, frame count, frame rate and codec of the first video stream."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        frames = stream.frames or sum(1 for p in container.demux(stream) if p.size)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = frames / fps if fps else 0.0
        return VideoInfo(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            duration_s=duration,
            frames=frames,
            fps=fps,
            codec=stream.codec_context.name,
        )


def read_frame(path: Path | str, index: int = -1) -> Image.Image:
    """Frame `index` of the video as an RGB image (negative counts from the end)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        decoded = container.decode(stream)
        if index >= 0:
            for i, frame in enumerate(decoded):
                if i == index:
                    return frame.to_image()
        else:
            tail = collections.deque(decoded, maxlen=-index)
            if len(tail) == -index:
                return tail[0].to_image()
    raise IndexError(f"{path} has no frame {index}")


# --------------------------------------------------------------------------- output videos


def tag_video(path: str | Path, tags: dict[str, str]) -> bool:
    """Write `tags` (title, comment...) into an MP4's own metadata, without re-encoding.

    Remuxes to a temp file and swaps it in; on any failure the original stays untouched
    and False is returned: a paid video matters more than its labels.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tagging")
    try:
        with (
            av.open(str(path)) as src,
            av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as dst,
        ):
            dst.metadata.update(tags)
            copies = {
                s.index: dst.add_stream_from_template(s)
                for s in src.streams
                if s.type in ("video", "audio")
            }
            for packet in src.demux(*[src.streams[i] for i in copies]):
                if packet.dts is None:  # demuxer's end-of-stream marker
                    continue
                packet.stream = copies[packet.stream.index]
                dst.mux(packet)
        os.replace(tmp, path)
        return True
    except (av.FFmpegError, OSError, ValueError):
        tmp.unlink(missing_ok=True)
        return False


def video_tags(path: str | Path) -> dict[str, str]:
    with av.open(str(path)) as container:
        return dict(container.metadata)


def save_thumbnail(video: str | Path, dest: str | Path, *, width: int = 360) -> Path:
    """A JPEG of the clip's middle frame, for history lists.

    Found by timestamp in one pass and scaled by FFmpeg while still YUV (area averaging):
    half the CPU of decoding, converting and resampling a full frame, which counts when
    many runs finish at once (bench/bench_load.py).
    """
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        # By timestamp; with no duration in the header, by counting frames instead.
        middle = (stream.start_time or 0) + stream.duration // 2 if stream.duration else None
        half = probe_video(video).frames // 2 if middle is None else 0

        def reached(frame: av.VideoFrame, index: int) -> bool:
            if middle is None:
                return index >= half
            return frame.pts is None or frame.pts >= middle

        chosen = None
        for index, frame in enumerate(container.decode(stream)):
            chosen = frame  # the last one, should the header promise more than there is
            if reached(frame, index):
                break
        if chosen is None:
            raise IndexError(f"{video} has no frames")
        height = max(2, 2 * round(chosen.height * width / chosen.width / 2))
        small = chosen.reformat(width=width, height=height, format="rgb24", interpolation="AREA")
        dest = Path(dest)
        small.to_image().save(dest, "JPEG", quality=85)
    return dest


def stitch(paths: list[str | Path], dest: str | Path) -> tuple[Path, bool]:
    """Join clips into one MP4, in order; returns (path, whether it was re-encoded).

    Clips with identical streams (same codec parameters and time base: consecutive runs
    of one model) are joined packet by packet, without re-encoding or any loss. Others
    are decoded and encoded again at the first clip's size and frame rate.
    """
    if not paths:
        raise ValueError("nothing to stitch: add at least one clip")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".mp4")
    os.close(fd)
    try:
        reencoded = not _same_streams(paths)
        (_reencode if reencoded else _remux)([str(p) for p in paths], tmp)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest, reencoded


def _stream_signature(path: str | Path) -> tuple:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        return (
            ctx.name,
            ctx.width,
            ctx.height,
            ctx.pix_fmt,
            stream.time_base,
            stream.average_rate,
            bytes(ctx.extradata or b""),
        )


def _same_streams(paths: list[str | Path]) -> bool:
    first = _stream_signature(paths[0])
    return all(_stream_signature(p) == first for p in paths[1:])


def _remux(paths: list[str], out_path: str) -> None:
    with av.open(out_path, "w", format="mp4", options={"movflags": "+faststart"}) as out:
        with av.open(paths[0]) as first:
            target = out.add_stream_from_template(first.streams.video[0])
        offset = 0
        for path in paths:
            with av.open(path) as src:
                stream = src.streams.video[0]
                end = offset
                for packet in src.demux(stream):
                    if packet.dts is None:
                        continue
                    packet.dts += offset
                    packet.pts += offset
                    end = max(end, packet.pts + (packet.duration or 0))
                    packet.stream = target
                    out.mux(packet)
                offset = end


def _reencode(paths: list[str], out_path: str) -> None:
    first = probe_video(paths[0])
    size = (first.width, first.height)
    fps = round(first.fps) or 24

    def frames() -> Iterator[av.VideoFrame]:
        for path in paths:
            with av.open(path) as src:
                for frame in src.decode(video=0):
                    image = frame.to_image()
                    if image.size != size:
                        image = cover(image, size)
                    yield av.VideoFrame.from_image(image)

    _encode(out_path, frames(), size, fps)
