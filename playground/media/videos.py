"""Output videos: probing, frames, MP4 tags, thumbnails, stitching (PyAV), with sound.

Frames are read back here to chain shots; finished videos are tagged, thumbnailed and
stitched here. Models with `generate_audio` return an AAC track: tags and thumbnails keep
or ignore it, and a storyboard rebuilds one soundtrack cut at the video's own cuts (a shot
without sound gets silence of its length), so no shot's sound drifts into the next. Input
images live in `images`; the emulator's synthetic clips in `playground.emulator.synthetic`.
"""

from __future__ import annotations

import collections
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

# "ultrafast" keeps the emulator's renders well inside their budget (docs/ARCHITECTURE.md);
# slower presets only buy smaller files, which a local emulator does not need.
X264_OPTIONS = {"preset": "ultrafast", "crf": "23"}
# A storyboard's soundtrack: one rate and layout whatever each shot had.
AUDIO_RATE = 48_000
AUDIO_LAYOUT = "stereo"
AUDIO_BIT_RATE = 128_000


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    duration_s: float
    frames: int
    fps: float
    codec: str
    has_audio: bool = False


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
            has_audio=bool(container.streams.audio),
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
        names = [str(p) for p in paths]
        infos = [probe_video(p) for p in names]
        reencoded = not _same_streams(names)
        # Each shot lasts as long as its frames at the output's rate: the soundtrack is cut
        # at exactly those points.
        fps = (round(infos[0].fps) or 24) if reencoded else infos[0].fps
        sound = (
            soundtrack(names, [i.frames / fps for i in infos])
            if any(i.has_audio for i in infos)
            else None
        )
        if reencoded:
            _reencode(names, tmp, sound)
        else:
            _remux(names, tmp, sound)
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


def _remux(paths: list[str], out_path: str, sound: np.ndarray | None) -> None:
    with av.open(out_path, "w", format="mp4", options={"movflags": "+faststart"}) as out:
        with av.open(paths[0]) as first:
            target = out.add_stream_from_template(first.streams.video[0])
        if sound is not None:
            _mux_audio(out, sound)
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


def _reencode(paths: list[str], out_path: str, sound: np.ndarray | None) -> None:
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

    encode(out_path, frames(), size, fps, sound)


def soundtrack(paths: list[str], seconds: list[float]) -> np.ndarray:
    """One (channels, samples) track at AUDIO_RATE: each clip's sound trimmed or padded to
    its shot's length, silence for a clip without any."""
    return np.concatenate([shot_audio(p, s) for p, s in zip(paths, seconds, strict=True)], 1)


def shot_audio(path: str, seconds: float) -> np.ndarray:
    """The clip's first audio track resampled to AUDIO_RATE stereo, exactly `seconds` long."""
    wanted = round(seconds * AUDIO_RATE)
    chunks: list[np.ndarray] = []
    with av.open(path) as container:
        if container.streams.audio:
            resampler = av.AudioResampler(format="fltp", layout=AUDIO_LAYOUT, rate=AUDIO_RATE)
            for frame in container.decode(audio=0):
                chunks += [f.to_ndarray() for f in resampler.resample(frame)]
            chunks += [f.to_ndarray() for f in resampler.resample(None)]
    samples = np.concatenate(chunks, 1) if chunks else np.zeros((2, 0), np.float32)
    if samples.shape[1] >= wanted:
        return samples[:, :wanted]
    return np.pad(samples, ((0, 0), (0, wanted - samples.shape[1])))


def _mux_audio(container: av.container.OutputContainer, sound: np.ndarray) -> None:
    """An AAC track of `sound` ((channels, samples) at AUDIO_RATE), muxed whole: the muxer
    interleaves it with the video by timestamp."""
    stream = container.add_stream("aac", rate=AUDIO_RATE, layout=AUDIO_LAYOUT)
    stream.bit_rate = AUDIO_BIT_RATE
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(sound, dtype=np.float32), format="fltp", layout=AUDIO_LAYOUT
    )
    frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, 0, Fraction(1, AUDIO_RATE)
    container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


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


def encode(
    path: str,
    frames: Iterator[av.VideoFrame],
    size: tuple[int, int],
    fps: int,
    sound: np.ndarray | None = None,
) -> None:
    """H.264 at `fps`, with an AAC track of `sound` ((channels, samples) at AUDIO_RATE)."""
    # faststart moves the index to the front so browsers can play while downloading.
    with av.open(path, "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = dict(X264_OPTIONS)
        stream.codec_context.thread_type = "AUTO"
        if sound is not None:
            _mux_audio(container, sound)
        for frame in frames:
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
