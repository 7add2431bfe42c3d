"""Output videos: probing, frames, MP4 tags, thumbnails, stitching (PyAV), with sound.

Frames are read back here to chain shots; finished videos are tagged, thumbnailed and
stitched here. Input images live in `images`; the emulator's synthetic clips in
`playground.emulator.synthetic` (encoded by `encode` below).

Sound: models with `generate_audio` (Seedance 1.5, 2.x) return an AAC track beside the
picture. `probe_video` reports it (VideoInfo.has_audio, audio_*); frames and thumbnails
decode the picture alone; tags are written by copying every video and audio packet with
its timestamps, so the sound stays exactly where it was. A storyboard keeps each shot's
sound on its own shot:

- same picture and same sound parameters (consecutive runs of one model): both copied
  packet by packet. The sound's packets go end to end; at each cut the previous shot's
  sound is trimmed to whole packets so that the next shot's lands within half a packet
  (~11 ms) of its picture, at every cut, so nothing accumulates;
- same picture, other sound (a silent shot, another rate or layout, sound shorter than its
  picture): picture copied, soundtrack rebuilt;
- other pictures: picture re-encoded, soundtrack rebuilt.

A rebuilt soundtrack is AAC at AUDIO_RATE, AUDIO_LAYOUT: each shot's sound read from its
first frame's time on, trimmed or padded to the shot's length in the output, silence for a
shot without any, so no shot's sound drifts into the next one.
"""

from __future__ import annotations

import collections
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

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
# faststart moves the index to the front so browsers can play while downloading.
MP4_OPTIONS = {"movflags": "+faststart"}


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    duration_s: float
    frames: int
    fps: float
    codec: str
    has_audio: bool = False
    # The first audio track's codec ("aac"), sample rate and channel count; None, 0, 0
    # without one.
    audio_codec: str | None = None
    audio_rate: int = 0
    audio_channels: int = 0


def probe_video(path: Path | str) -> VideoInfo:
    """Size, duration, frame count, frame rate and codec of the first video stream, and
    whether (and what) sound comes with it."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        sound = container.streams.audio[0].codec_context if container.streams.audio else None
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
            has_audio=sound is not None,
            audio_codec=sound.name if sound else None,
            audio_rate=sound.sample_rate if sound else 0,
            audio_channels=sound.channels if sound else 0,
        )


def read_frame(path: Path | str, index: int = -1) -> Image.Image:
    """Frame `index` of the video as an RGB image (negative counts from the end)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        # The picture alone: the demuxer drops the sound's packets without decoding them.
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
    and False is returned: a paid video matters more than its labels. Every video and audio
    packet is copied with its timestamps (and each track's start offset, e.g. AAC's
    priming), so the sound stays in sync to the sample.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tagging")
    try:
        with (
            av.open(str(path)) as src,
            av.open(str(tmp), "w", format="mp4", options=MP4_OPTIONS) as dst,
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


def _seek_keyframe(
    container: av.container.InputContainer, stream: av.VideoStream, pts: int
) -> None:
    """To the keyframe at or before `pts`; where seeking fails the decode starts from the
    top, as it would have anyway."""
    try:
        container.seek(pts, backward=True, any_frame=False, stream=stream)
    except av.FFmpegError:
        container.seek(0, backward=True, any_frame=False, stream=stream)


def save_thumbnail(video: str | Path, dest: str | Path, *, width: int = 360) -> Path:
    """A JPEG of the clip's middle frame, for history lists.

    Found by timestamp, decoding from the last keyframe before it (a clip with a keyframe
    every second or two decodes a few frames, not half of them), and scaled by FFmpeg
    while still YUV (area averaging): half the CPU of decoding, converting and resampling
    a full frame, which counts when many runs finish at once (bench/bench_load.py).
    """
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        # No frame threads: for the dozens of frames up to the middle their start-up and
        # hand-offs cost ~15% more CPU for no gain in time, and runs that end together
        # thumbnail side by side anyway.
        # By timestamp; with no duration in the header, by counting frames instead.
        middle = (stream.start_time or 0) + stream.duration // 2 if stream.duration else None
        half = probe_video(video).frames // 2 if middle is None else 0
        if middle is not None:
            _seek_keyframe(container, stream, middle)

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


class Joined(NamedTuple):
    """A stitched storyboard: where it is, whether its picture was re-encoded, and whether
    its sound was rebuilt (False when every shot's sound was copied, or there is none)."""

    path: Path
    reencoded: bool
    sound_rebuilt: bool


def stitch(paths: list[str | Path], dest: str | Path) -> Joined:
    """Join clips into one MP4, in order.

    Clips with identical video streams (same codec parameters and time base: consecutive
    runs of one model) are joined packet by packet, without re-encoding or any loss. Others
    are decoded and encoded again at the first clip's size and frame rate, each keeping its
    length. The sound follows the pictures' cuts (module docstring); it is copied too when
    every clip's matches and the picture is, otherwise rebuilt: `sound_rebuilt` says which.
    """
    if not paths:
        raise ValueError("nothing to stitch: add at least one clip")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".mp4")
    os.close(fd)
    try:
        shots = [_scan(str(p)) for p in paths]
        reencoded = not _same_signatures([_video_signature(s.path) for s in shots])
        if reencoded:
            _reencode(shots, tmp)
            sound_rebuilt = any(s.sound for s in shots)
        else:
            sound_rebuilt = _remux(shots, tmp)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return Joined(dest, reencoded, sound_rebuilt)


@dataclass(frozen=True)
class _Shot:
    """A storyboard clip as its packets tell it, on its own clock."""

    path: str
    start: Fraction  # seconds: where its first frame starts...
    end: Fraction  # ...and its last one ends
    sound: tuple[tuple[int, int], ...]  # (pts, duration) of each packet of its first audio
    # track, in sound_tb; empty without sound
    sound_tb: Fraction | None

    @property
    def length(self) -> Fraction:
        return self.end - self.start


def _scan(path: str) -> _Shot:
    """The clip's picture span and sound packets, from one demux pass (nothing decoded)."""
    with av.open(path) as container:
        video = container.streams.video[0]
        streams = [video, *container.streams.audio[:1]]
        # A last frame whose packet has no duration still lasts a frame.
        step = round(1 / (video.average_rate * video.time_base)) if video.average_rate else 0
        starts: list[int] = []
        ends: list[int] = []
        sound: list[tuple[int, int]] = []
        for packet in container.demux(*streams):
            if packet.dts is None or packet.pts is None:  # the end-of-stream marker
                continue
            if packet.stream.type == "audio":
                sound.append((packet.pts, packet.duration or 0))
            else:
                starts.append(packet.pts)
                ends.append(packet.pts + (packet.duration or step))
        if not starts:
            raise ValueError(f"{path} has no video frames")
        tb = video.time_base
        sound_tb = streams[1].time_base if len(streams) > 1 else None
        return _Shot(path, min(starts) * tb, max(ends) * tb, tuple(sound), sound_tb)


def _video_signature(path: str) -> tuple:
    with av.open(path) as container:
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


def _sound_signature(path: str) -> tuple | None:
    """What must match for one clip's audio packets to follow another's in one track:
    codec, rate, layout, time base and decoder setup (for AAC, profile and rate)."""
    with av.open(path) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        extradata = bytes(ctx.extradata or b"")
        return (ctx.name, ctx.sample_rate, ctx.layout.name, stream.time_base, extradata)


def _same_signatures(signatures: list[tuple | None]) -> bool:
    return all(s == signatures[0] for s in signatures[1:])


def _out_starts(shots: list[_Shot]) -> list[Fraction]:
    """Where each shot's first frame lands when copied: the first keeps its own clock,
    each next one starts where the previous one's last frame ends."""
    starts = [shots[0].start]
    for shot in shots[:-1]:
        starts.append(starts[-1] + shot.length)
    return starts


def _remux(shots: list[_Shot], out_path: str) -> bool:
    """The pictures copied; the sound copied too where it can be. Whether it was rebuilt."""
    starts = _out_starts(shots)
    splices = None
    if all(s.sound for s in shots) and _same_signatures([_sound_signature(s.path) for s in shots]):
        splices = _sound_splices(shots, starts)
    with av.open(out_path, "w", format="mp4", options=MP4_OPTIONS) as out:
        with av.open(shots[0].path) as first:
            video = out.add_stream_from_template(first.streams.video[0])
            copied = out.add_stream_from_template(first.streams.audio[0]) if splices else None
        writer = None
        if splices is None and any(s.sound for s in shots):
            lengths = [s.length for s in shots]
            writer = _SoundWriter(out, _soundtrack(_pieces(shots, lengths, starts[0])))
        for k, shot in enumerate(shots):
            own = (copied, splices[k]) if copied is not None and splices else None
            _copy_shot(out, shot, starts[k] - shot.start, video, own, writer)
        if writer is not None:
            writer.close()
    return writer is not None


def _sound_splices(shots: list[_Shot], starts: list[Fraction]) -> list[tuple[int, int]] | None:
    """Per shot, (shift, count): copy its first `count` sound packets `shift` ticks later.

    An MP4 track's packets follow one another without gaps or overlaps (a gap is only a
    longer packet to the muxer), so each shot's packets start where the previous shot's
    kept ones end; the previous shot keeps as many as puts this shot's sound nearest to its
    picture. None when that is more than half a packet off (a shot's sound shorter than its
    picture, say): the soundtrack is rebuilt instead.
    """
    tb = shots[0].sound_tb
    assert tb is not None  # only called when every shot has sound
    splices: list[tuple[int, int]] = []
    for k, shot in enumerate(shots):
        ideal = round((starts[k] - shot.start) / tb)  # the picture's shift, in sound ticks
        if not splices:
            splices.append((ideal, len(shot.sound)))
            continue
        before, _ = splices[-1]
        ends = [before + pts + duration for pts, duration in shots[k - 1].sound]
        lead = shot.sound[0][0]  # the first packet's pts: negative for AAC's priming
        keep = min(range(len(ends)), key=lambda i: abs(ends[i] - lead - ideal))
        shift = ends[keep] - lead
        if 2 * abs(shift - ideal) > max(d for _, d in shot.sound):
            return None
        splices[-1] = (before, keep + 1)
        splices.append((shift, len(shot.sound)))
    # The last shot's sound stops with its picture (its last packet may overhang a little).
    shift, _ = splices[-1]
    end = round((starts[-1] + shots[-1].length - shots[-1].start) / tb)
    splices[-1] = (shift, max(1, sum(1 for pts, _ in shots[-1].sound if pts + shift < end)))
    return splices


def _copy_shot(
    out: av.container.OutputContainer,
    shot: _Shot,
    shift: Fraction,
    video: av.stream.Stream,
    sound: tuple[av.stream.Stream, tuple[int, int]] | None,
    writer: _SoundWriter | None,
) -> None:
    """Mux the shot's picture packets `shift` seconds later, and either its own sound
    packets (`sound`: the output track and the shot's (shift ticks, count) splice) or the
    rebuilt soundtrack up to each picture packet, so the file stays interleaved."""
    with av.open(shot.path) as src:
        streams = [src.streams.video[0], *(src.streams.audio[:1] if sound else [])]
        kept = 0
        for packet in src.demux(*streams):
            if packet.dts is None or packet.pts is None:
                continue
            if packet.stream.type == "audio" and sound is not None:
                track, (ticks, count) = sound
                if kept >= count:
                    continue
                kept += 1
                _move(packet, ticks, track)
            else:
                _move(packet, round(shift / packet.time_base), video)
                if writer is not None:
                    writer.until(float(packet.dts * packet.time_base))
            out.mux(packet)


def _move(packet: av.Packet, ticks: int, stream: av.stream.Stream) -> None:
    packet.pts += ticks
    packet.dts += ticks
    packet.stream = stream


def _reencode(shots: list[_Shot], out_path: str) -> None:
    first = probe_video(shots[0].path)
    size = (first.width, first.height)
    fps = round(first.fps) or 24
    # Each shot keeps its length (a 30 fps clip among 24 fps ones is retimed, not slowed
    # down), so its own sound still fits it.
    counts = [max(1, round(s.length * fps)) for s in shots]
    sound = None
    if any(s.sound for s in shots):
        lengths = [Fraction(n, fps) for n in counts]
        sound = _soundtrack(_pieces(shots, lengths, Fraction(0)))

    def frames() -> Iterator[av.VideoFrame]:
        for shot, count in zip(shots, counts, strict=True):
            for image in _retimed(_pictures(shot.path, size), float(shot.start), fps, count):
                yield av.VideoFrame.from_image(image)

    encode(out_path, frames(), size, fps, sound)


def _pictures(path: str, size: tuple[int, int]) -> Iterator[tuple[float, Image.Image]]:
    """(time, image at `size`) of each frame of the clip."""
    with av.open(path) as src:
        stream = src.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in src.decode(stream):
            image = frame.to_image()
            yield frame.time or 0.0, image if image.size == size else cover(image, size)


def _retimed(
    pictures: Iterator[tuple[float, Image.Image]], start: float, fps: int, count: int
) -> Iterator[Image.Image]:
    """`count` frames at `fps` from `start`: each shows the newest picture due by then (with
    half a frame of slack for rounded timestamps); the last one repeats if the clip runs
    short. At the clip's own rate, exactly its frames."""
    slot, current = 0, None
    for time, image in pictures:
        while current is not None and slot < count and time > start + (slot + 0.5) / fps:
            yield current
            slot += 1
        current = image
    while current is not None and slot < count:
        yield current
        slot += 1


def _pieces(
    shots: list[_Shot], lengths: list[Fraction], origin: Fraction
) -> list[tuple[str, float, float]]:
    """(path, from, seconds) of each shot's part of a soundtrack that starts at 0 in an
    output whose first frame is at `origin` and whose shots last `lengths`: each shot's
    sound from its first frame on, cut where its picture is."""
    pieces = []
    at, start = Fraction(0), origin
    for shot, length in zip(shots, lengths, strict=True):
        end = start + length
        pieces.append((shot.path, float(shot.start + at - start), float(end - at)))
        at, start = end, end
    return pieces


def _soundtrack(pieces: list[tuple[str, float, float]]) -> np.ndarray:
    """One (channels, samples) track at AUDIO_RATE: the pieces end to end, each exactly its
    length (silence for a clip without sound)."""
    return np.concatenate([shot_audio(p, s, start_s=f) for p, f, s in pieces], 1)


def shot_audio(path: str | Path, seconds: float, start_s: float = 0.0) -> np.ndarray:
    """`seconds` of the clip's first audio track from `start_s` on its clock, as float32
    (channels, samples) at AUDIO_RATE stereo; silence where it has no sound.

    Placed by the track's own first timestamp: sound that starts after the picture keeps
    its delay instead of being pulled to the start."""
    wanted = round(seconds * AUDIO_RATE)
    begins, samples = _decoded_sound(path)
    skip = round((start_s - begins) * AUDIO_RATE)
    if skip < 0:
        samples = np.pad(samples, ((0, 0), (-skip, 0)))
    samples = samples[:, max(skip, 0) : max(skip, 0) + wanted]
    return np.pad(samples, ((0, 0), (0, wanted - samples.shape[1])))


def _decoded_sound(path: str | Path) -> tuple[float, np.ndarray]:
    """(time of its first sample, all samples resampled to AUDIO_RATE stereo float32)."""
    begins: float | None = None
    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        if container.streams.audio:
            resampler = av.AudioResampler(format="fltp", layout=AUDIO_LAYOUT, rate=AUDIO_RATE)
            for frame in container.decode(audio=0):
                if begins is None:
                    begins = frame.time or 0.0
                chunks += [f.to_ndarray() for f in resampler.resample(frame)]
            chunks += [f.to_ndarray() for f in resampler.resample(None)]
    samples = np.concatenate(chunks, 1) if chunks else np.zeros((2, 0), np.float32)
    return begins or 0.0, samples


class _SoundWriter:
    """A (channels, samples) track at AUDIO_RATE, encoded to AAC a little at a time so the
    muxer can interleave it with the picture: fed whole, it put seconds of sound ahead of
    the first frame in the file, which a browser must download before it can start."""

    def __init__(self, container: av.container.OutputContainer, sound: np.ndarray) -> None:
        self._container = container
        self._stream = container.add_stream("aac", rate=AUDIO_RATE, layout=AUDIO_LAYOUT)
        self._stream.bit_rate = AUDIO_BIT_RATE
        self._sound = np.asarray(sound, dtype=np.float32)
        self._done = 0

    def until(self, seconds: float) -> None:
        """Encode and mux the samples up to `seconds`."""
        end = min(self._sound.shape[1], round(seconds * AUDIO_RATE))
        if end <= self._done:
            return
        chunk = np.ascontiguousarray(self._sound[:, self._done : end])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=AUDIO_LAYOUT)
        frame.sample_rate, frame.pts = AUDIO_RATE, self._done
        frame.time_base = Fraction(1, AUDIO_RATE)
        self._container.mux(self._stream.encode(frame))
        self._done = end

    def close(self) -> None:
        """The rest of the track, then the encoder's last packets."""
        self.until(self._sound.shape[1] / AUDIO_RATE)
        self._container.mux(self._stream.encode(None))


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
    with av.open(path, "w", format="mp4", options=MP4_OPTIONS) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = dict(X264_OPTIONS)
        stream.codec_context.thread_type = "AUTO"
        writer = _SoundWriter(container, sound) if sound is not None else None
        for index, frame in enumerate(frames):
            if writer is not None:
                writer.until((index + 1) / fps)  # the sound up to the end of this frame
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if writer is not None:
            writer.close()
