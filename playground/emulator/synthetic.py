"""The emulator's synthetic clips: a still image animated by a seeded camera move, with an
optional soundtrack (a seeded tone pattern, AAC) for models that generate audio.

Only the emulator renders these (a stand-in for Seedance, labelled as such in every frame);
the app itself never makes video, it downloads it. The size tables are the emulator's own:
like the server, this module never imports the app's model code, so a bug there cannot hide
behind a server that shares it.
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

from playground.media import videos

LABEL_TEXT = "SYNTHETIC · emulator"
CROSSFADE_FRACTION = 0.4  # share of the clip spent fading into the end image
BREATHING_AMPLITUDE = 0.05  # +-5% brightness: visibly alive, still reads as a still shot
BREATHING_PERIOD_S = 2.0
FRAME_WORKERS = 2  # Pillow's resize releases the GIL, so two threads feed the encoder
FRAMES_IN_FLIGHT = 6  # bounds memory: a few RGB frames queued ahead of the encoder

ASPECT_RATIOS: tuple[str, ...] = ("21:9", "16:9", "4:3", "1:1", "3:4", "9:16")
# Pixel sizes Seedance produces per aspect ratio (both sides multiples of 16).
_SIZES_480P = {
    "21:9": (960, 416),
    "16:9": (864, 480),
    "4:3": (736, 544),
    "1:1": (640, 640),
    "3:4": (544, 736),
    "9:16": (480, 864),
}
_SIZES_720P = {
    "21:9": (1504, 640),
    "16:9": (1248, 704),
    "4:3": (1120, 832),
    "1:1": (960, 960),
    "3:4": (832, 1120),
    "9:16": (704, 1248),
}
_SIZES_1080P = {
    "21:9": (2176, 928),
    "16:9": (1920, 1088),
    "4:3": (1664, 1248),
    "1:1": (1440, 1440),
    "3:4": (1248, 1664),
    "9:16": (1088, 1920),
}


def _scaled(sizes: dict[str, tuple[int, int]], factor: float) -> dict[str, tuple[int, int]]:
    """The same shapes, bigger, both sides rounded to multiples of 16 (for 2k and 4k)."""
    return {
        r: (round(w * factor / 16) * 16, round(h * factor / 16) * 16) for r, (w, h) in sizes.items()
    }


OUTPUT_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "480p": _SIZES_480P,
    "720p": _SIZES_720P,
    "1080p": _SIZES_1080P,
    "2k": _scaled(_SIZES_1080P, 4 / 3),  # 16:9 is 2560x1456
    "4k": _scaled(_SIZES_1080P, 2),  # 16:9 is 3840x2176
}

# The soundtrack: a seeded run of short plucked notes, stereo, AAC at the storyboard rate.
AUDIO_RATE = videos.AUDIO_RATE  # encoded as the app encodes a storyboard's (videos.encode)
NOTE_S = 0.25
_NOTES_HZ = (220.0, 261.63, 293.66, 329.63, 392.0, 440.0, 523.25, 587.33)  # A minor pentatonic
AUDIO_LEVEL = 0.2  # peak amplitude: audible, far from clipping


def aspect_value(aspect_ratio: str) -> float:
    """ "16:9" -> 1.777…: width over height."""
    w, h = aspect_ratio.split(":")
    return int(w) / int(h)


def output_sizes(resolution: str) -> dict[str, tuple[int, int]]:
    """Clip size per aspect ratio at `resolution` ("480p", "720p", "1080p", "2k", "4k")."""
    try:
        return OUTPUT_SIZES[resolution]
    except KeyError:
        raise ValueError(
            f"unknown resolution {resolution!r}; expected one of {', '.join(OUTPUT_SIZES)}"
        ) from None


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
        self.base = _Planes.of(videos.cover(start, work))
        self.end = _Planes.of(videos.cover(end, size)) if end is not None else None
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


def tone_pattern(seed: int, duration_s: float, rate: int = AUDIO_RATE) -> np.ndarray:
    """A soundtrack of exactly round(duration_s * rate) stereo samples, float32 (2, n).

    Plucked notes of NOTE_S seconds each, pitch and stereo position picked by `seed`: the
    same seed always gives the same sound, and the pattern is audible enough to check.
    """
    count = round(duration_s * rate)
    note_len = max(1, round(NOTE_S * rate))
    notes = -(-count // note_len)
    rng = random.Random(seed)
    freqs = np.array([rng.choice(_NOTES_HZ) for _ in range(notes)], dtype=np.float64)
    pans = np.array([rng.uniform(0.25, 0.75) for _ in range(notes)], dtype=np.float64)
    index = np.arange(count)
    note = index // note_len
    t = (index % note_len) / rate  # time since the note began: each note restarts its phase
    envelope = np.minimum(1.0, t / 0.005) * np.exp(-t * (6.0 / NOTE_S))
    mono = AUDIO_LEVEL * envelope * np.sin(2 * np.pi * freqs[note] * t)
    pan = pans[note]
    return np.stack([mono * (1.0 - pan) * 2, mono * pan * 2]).astype(np.float32)


def render_motion_clip(
    start: Image.Image,
    dest: Path,
    *,
    size: tuple[int, int],
    duration_s: float,
    fps: int = 24,
    end: Image.Image | None = None,
    camera_fixed: bool = False,
    seed: int = 0,
    audio: bool = False,
) -> Path:
    """Write a labelled synthetic H.264 MP4 that moves over `start` (and fades to `end`).

    Exactly round(duration_s * fps) frames at `size`. The camera motion (push-in, pan or
    tilt) follows from `seed`; camera_fixed keeps the frame still but gently "breathing" in
    brightness. With `audio`, an AAC track (tone_pattern of `seed`) exactly as long as the
    video. Written to a temp file beside `dest`, then renamed into place.
    """
    width, height = size
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"size must be positive and even for yuv420p, got {size}")
    count = round(duration_s * fps) if fps > 0 else 0
    if count <= 0:
        raise ValueError("duration_s and fps must be positive")
    dest = Path(dest)
    maker = _FrameMaker(start, size, count, fps, end, _choose_motion(seed, camera_fixed))
    sound = tone_pattern(seed, count / fps) if audio else None
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    try:
        videos.encode(tmp, _ordered_parallel(maker, count), size, fps, sound)
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; it is an ordinary output file
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest
