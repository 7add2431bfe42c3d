"""Videos with sound (Seedance 1.5 and 2.x with generate_audio): probing, tags, frames and
thumbnails keep working, and a storyboard keeps every shot's sound on its own shot.

Clips are made here with PyAV, not with the code under test: small frames whose shade
counts the frame, and a sine tone whose frequency names the shot. The stitched soundtrack
is checked by which tone plays in each shot's middle, and, at each cut, by when the next
shot's tone takes over, measured from the decoded frames' own timestamps against the
picture's packets: it must be within one AAC packet (1024 samples) of the cut.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from playground.media import videos

FPS = 24
SIZE = (160, 96)
RATE = 48_000
PACKET = 1024  # samples in an AAC packet: the drift allowed at a cut


def shade(index: int) -> int:
    return 30 + (7 * index) % 200


def clip(
    path: Path,
    frames: int,
    tone_hz: float | None,
    *,
    size: tuple[int, int] = SIZE,
    fps: int = FPS,
    rate: int = RATE,
    layout: str = "stereo",
    sound_s: float | None = None,
    sound_at_s: float = 0.0,
    bframes: bool = False,
) -> Path:
    """`frames` flat frames (frame i has grey level shade(i)) and, unless tone_hz is None,
    a tone as long as the picture (or `sound_s`), starting `sound_at_s` in."""
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = *size, "yuv420p"
        video.options = {"preset": "medium", "bf": "2"} if bframes else {"preset": "ultrafast"}
        if tone_hz is not None:
            audio = container.add_stream("aac", rate=rate, layout=layout)
            seconds = frames / fps if sound_s is None else sound_s
            container.mux(audio.encode(tone(tone_hz, seconds, rate, layout, sound_at_s)))
            container.mux(audio.encode(None))
        for i in range(frames):
            picture = Image.new("RGB", size, (shade(i),) * 3)
            container.mux(video.encode(av.VideoFrame.from_image(picture)))
        container.mux(video.encode(None))
    return path


def tone(hz: float, seconds: float, rate: int, layout: str, at_s: float) -> av.AudioFrame:
    t = np.arange(round(seconds * rate)) / rate
    mono = (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    channels = av.AudioLayout(layout).nb_channels
    frame = av.AudioFrame.from_ndarray(np.tile(mono, (channels, 1)), format="fltp", layout=layout)
    frame.sample_rate, frame.pts, frame.time_base = rate, round(at_s * rate), Fraction(1, rate)
    return frame


def track(path: Path) -> tuple[int, np.ndarray]:
    """(rate, first channel) of the decoded sound, each frame placed by its own timestamp
    (index 0 is time 0), independent of the code under test."""
    with av.open(str(path)) as container:
        frames = list(container.decode(audio=0))
    rate = frames[0].sample_rate
    starts = [round(f.pts * f.time_base * rate) for f in frames]
    out = np.zeros(max(s + f.samples for s, f in zip(starts, frames, strict=True)), np.float32)
    for start, frame in zip(starts, frames, strict=True):
        samples = frame.to_ndarray()[0]
        out[start : start + len(samples)] = samples
    return rate, out


def level(samples: np.ndarray, rate: int, hz: float) -> float:
    """How loud `hz` is in `samples` (Hann-windowed projection onto that frequency)."""
    t = np.arange(len(samples)) / rate
    return float(np.abs(np.sum(samples * np.hanning(len(samples)) * np.exp(-2j * np.pi * hz * t))))


def onset(
    rate: int, samples: np.ndarray, hz: float, before_hz: float | None, near_s: float
) -> float:
    """When `hz` takes over from `before_hz` (or from silence) within 60 ms of `near_s`:
    the centre of the first 256-sample window where it is the louder one."""
    width, hop = 256, 16
    floor = level(0.05 * np.ones(width, np.float32), rate, 0) * 0.3  # a quiet tone's level
    first = round((near_s - 0.06) * rate)
    for start in range(first, first + round(0.12 * rate), hop):
        piece = samples[start : start + width]
        louder = before_hz is None or level(piece, rate, hz) > level(piece, rate, before_hz)
        if louder and level(piece, rate, hz) > floor:
            return (start + width / 2) / rate
    raise AssertionError(f"{hz} Hz never takes over near {near_s} s")


def dominant_hz(rate: int, samples: np.ndarray, at_s: float, width_s: float = 0.2) -> float:
    piece = samples[round((at_s - width_s / 2) * rate) :][: round(width_s * rate)]
    spectrum = np.abs(np.fft.rfft(piece * np.hanning(len(piece))))
    return float(np.fft.rfftfreq(len(piece), 1 / rate)[np.argmax(spectrum)])


def cut_times(path: Path, frames: list[int]) -> list[float]:
    """When each shot's first frame plays in `path`, from its picture packets."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = sorted(p.pts for p in container.demux(stream) if p.pts is not None)
    return [float(pts[sum(frames[:k])] * stream.time_base) for k in range(len(frames))]


def assert_each_shot_s_sound_on_its_shot(
    out: Path, frames: list[int], tones: list[float | None], fps: float = FPS
) -> None:
    rate, samples = track(out)
    cuts = cut_times(out, frames)
    for k, (cut, hz) in enumerate(zip(cuts, tones, strict=True)):
        middle = cut + frames[k] / fps / 2
        if hz is None:
            quiet = samples[round((cut + 0.03) * rate) : round((cut + frames[k] / fps) * rate)]
            assert np.abs(quiet).max() < 0.01, f"shot {k} has no sound: it must be silent"
            continue
        assert dominant_hz(rate, samples, middle) == pytest.approx(hz, abs=10), f"shot {k}"
        if k:
            began = onset(rate, samples, hz, tones[k - 1], cut)
            assert abs(began - cut) <= PACKET / rate, f"shot {k}'s sound {began - cut:+.4f} s off"


def audio_packets(path: Path) -> list[tuple[int, int, bytes]]:
    """(pts, duration, payload) of each sound packet, read while the file is open (a
    packet's stream dies with its container)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [(p.pts, p.duration, bytes(p)) for p in container.demux(stream) if p.dts is not None]


# ------------------------------------------------------------------- one clip with sound


def test_probe_reports_the_sound_track(tmp_path: Path) -> None:
    stereo = videos.probe_video(clip(tmp_path / "a.mp4", 24, 440))
    assert (stereo.has_audio, stereo.audio_codec, stereo.audio_rate, stereo.audio_channels) == (
        True,
        "aac",
        48_000,
        2,
    )
    assert (stereo.frames, stereo.duration_s, stereo.width) == (24, 1.0, 160)
    mono = videos.probe_video(clip(tmp_path / "m.mp4", 24, 440, rate=44_100, layout="mono"))
    assert (mono.audio_rate, mono.audio_channels) == (44_100, 1)
    silent = videos.probe_video(clip(tmp_path / "s.mp4", 24, None))
    assert silent == videos.VideoInfo(
        width=160, height=96, duration_s=1.0, frames=24, fps=24.0, codec="h264"
    )
    assert (silent.has_audio, silent.audio_codec, silent.audio_rate) == (False, None, 0)


def test_tagging_keeps_the_sound_sample_for_sample(tmp_path: Path) -> None:
    path = clip(tmp_path / "a.mp4", 36, 440, bframes=True)
    before, picture_before = track(path), videos.read_frame(path)
    assert videos.tag_video(path, {"title": "seed 7", "comment": "with sound"})
    with av.open(str(path)) as container:
        assert container.metadata["title"] == "seed 7"
        assert [s.type for s in container.streams] == ["video", "audio"]
    after = track(path)
    assert after[0] == before[0] and np.array_equal(after[1], before[1])  # same time, too
    assert np.array_equal(np.asarray(videos.read_frame(path)), np.asarray(picture_before))


def test_last_frame_and_thumbnail_of_a_clip_with_sound(tmp_path: Path) -> None:
    path = clip(tmp_path / "a.mp4", 36, 440, sound_s=2.0)  # sound outlasting the picture
    last, first = videos.read_frame(path), videos.read_frame(path, 0)
    assert last.size == SIZE
    assert np.asarray(last.convert("L")).mean() == pytest.approx(shade(35), abs=2)
    assert np.asarray(first.convert("L")).mean() == pytest.approx(shade(0), abs=2)
    thumb = videos.save_thumbnail(path, tmp_path / "t.jpg", width=80)
    with Image.open(thumb) as image:
        assert image.size == (80, 48)
        assert np.asarray(image.convert("L")).mean() == pytest.approx(shade(18), abs=3)


def test_encoded_sound_is_interleaved_with_the_picture(tmp_path: Path) -> None:
    """Not all the sound first: a browser would fetch it all before the first frame."""
    seconds = 12
    frames = (av.VideoFrame.from_image(Image.new("RGB", SIZE)) for _ in range(seconds * FPS))
    sound = np.zeros((2, seconds * videos.AUDIO_RATE), np.float32)
    videos.encode(str(tmp_path / "e.mp4"), frames, SIZE, FPS, sound)
    with av.open(str(tmp_path / "e.mp4")) as container:
        packets = [
            (p.pos, p.stream.type, float(p.dts * p.time_base))
            for p in container.demux()
            if p.dts is not None
        ]
    picture_time, worst_lead = 0.0, 0.0
    for _, kind, time in sorted(packets):  # in file order
        if kind == "video":
            picture_time = time
        else:
            worst_lead = max(worst_lead, time - picture_time)
    assert worst_lead < 1.0


# ------------------------------------------------------------ storyboards of shots with sound


@pytest.mark.parametrize("rate", [44_100, 48_000])
def test_same_streams_copy_the_sound_and_keep_it_on_its_shot(tmp_path: Path, rate: int) -> None:
    # 29 frames: 1.208 s, not a whole number of AAC packets, so every cut needs a splice;
    # each sound outlasts its picture by 0.25 s, which the next shot (or the end) cuts off
    frames, tones = [29, 29, 29, 29], [500.0, 1000.0, 1500.0, 2000.0]
    shots = [
        clip(tmp_path / f"{k}.mp4", n, hz, rate=rate, sound_s=n / FPS + 0.25)
        for k, (n, hz) in enumerate(zip(frames, tones, strict=True))
    ]
    out, reencoded, rebuilt = videos.stitch(shots, tmp_path / "board.mp4")
    assert not reencoded and not rebuilt
    info = videos.probe_video(out)
    assert (info.frames, info.audio_rate, info.audio_channels) == (116, rate, 2)
    assert_each_shot_s_sound_on_its_shot(out, frames, tones)
    packets = audio_packets(out)
    assert all(a[0] + a[1] == b[0] for a, b in itertools.pairwise(packets)), "no gaps"
    last_pts, last_duration, _ = packets[-1]
    assert last_pts < info.duration_s * rate <= last_pts + last_duration  # ends with the picture
    # Copied, not re-encoded: each shot's packets are in the output, byte for byte, and its
    # first sample (the packet at pts 0, after AAC's priming) within half a packet of its cut.
    found = {payload: pts for pts, _, payload in packets}
    for shot, cut in zip(shots, cut_times(out, frames), strict=True):
        own = {pts: payload for pts, _, payload in audio_packets(shot)}
        assert own[0] in found
        assert abs(found[own[0]] - cut * rate) <= PACKET / 2


def test_b_frames_and_sound_are_copied_in_sync(tmp_path: Path) -> None:
    frames, tones = [30, 30], [600.0, 1200.0]
    shots = [clip(tmp_path / f"{k}.mp4", 30, hz, bframes=True) for k, hz in enumerate(tones)]
    out, reencoded, rebuilt = videos.stitch(shots, tmp_path / "board.mp4")
    assert not reencoded and not rebuilt
    assert_each_shot_s_sound_on_its_shot(out, frames, tones)
    last = videos.read_frame(out)
    assert np.asarray(last.convert("L")).mean() == pytest.approx(shade(29), abs=2)


def test_same_picture_other_sound_copies_the_picture_and_rebuilds_the_sound(
    tmp_path: Path,
) -> None:
    frames = [24, 36, 24]
    tones: list[float | None] = [500.0, None, 1500.0]  # a 2.0 run without generate_audio
    shots = [
        clip(tmp_path / "0.mp4", 24, 500),
        clip(tmp_path / "1.mp4", 36, None),
        clip(tmp_path / "2.mp4", 24, 1500, rate=44_100, layout="mono"),
    ]
    out, reencoded, rebuilt = videos.stitch(shots, tmp_path / "board.mp4")
    assert not reencoded and rebuilt  # the picture copied, the sound not
    info = videos.probe_video(out)
    assert (info.frames, info.audio_rate, info.audio_channels) == (84, videos.AUDIO_RATE, 2)
    assert_each_shot_s_sound_on_its_shot(out, frames, tones)


def test_a_shot_without_sound_is_silence_of_its_length(tmp_path: Path) -> None:
    frames, tones = [24, 36, 24], [500.0, None, 1500.0]
    shots = [
        clip(tmp_path / "a.mp4", 24, 500),
        clip(tmp_path / "b.mp4", 36, None),  # a 1.0 model's silent shot
        clip(tmp_path / "c.mp4", 24, 1500, size=(192, 96)),  # and another size
    ]
    out, reencoded, rebuilt = videos.stitch(shots, tmp_path / "board.mp4")
    assert reencoded and rebuilt
    assert videos.probe_video(out).frames == 84
    assert_each_shot_s_sound_on_its_shot(out, frames, tones)
    rate, samples = track(out)
    assert len(samples) / rate == pytest.approx(3.5, abs=PACKET / rate)  # ends with the picture


def test_other_rates_layouts_and_sizes_are_resampled_in_sync(tmp_path: Path) -> None:
    frames, tones = [29, 29, 29], [550.0, 1100.0, 1650.0]
    shots = [
        clip(tmp_path / "a.mp4", 29, 550, rate=22_050, layout="mono"),
        clip(tmp_path / "b.mp4", 29, 1100, rate=44_100),
        clip(tmp_path / "c.mp4", 29, 1650, size=(96, 160)),
    ]
    out, reencoded, rebuilt = videos.stitch(shots, tmp_path / "board.mp4")
    assert reencoded and rebuilt
    assert_each_shot_s_sound_on_its_shot(out, frames, tones)


def test_sound_shorter_than_its_picture_does_not_pull_the_next_shot_early(
    tmp_path: Path,
) -> None:
    shots = [clip(tmp_path / "a.mp4", 48, 500, sound_s=0.5), clip(tmp_path / "b.mp4", 24, 1500)]
    out, reencoded, rebuilt = videos.stitch(shots, tmp_path / "board.mp4")
    assert not reencoded and rebuilt  # half a second of sound cannot be spliced
    rate, samples = track(out)
    assert np.abs(samples[round(0.55 * rate) : round(1.97 * rate)]).max() < 0.01
    assert abs(onset(rate, samples, 1500, None, 2.0) - 2.0) <= PACKET / rate


def test_sound_that_starts_late_keeps_its_delay(tmp_path: Path) -> None:
    shots = [
        clip(tmp_path / "a.mp4", 24, 500, sound_s=0.7, sound_at_s=0.3),
        clip(tmp_path / "b.mp4", 24, 1500, size=(192, 96)),
    ]
    out, *_ = videos.stitch(shots, tmp_path / "board.mp4")
    rate, samples = track(out)
    assert np.abs(samples[: round(0.27 * rate)]).max() < 0.01
    assert abs(onset(rate, samples, 500, None, 0.3) - 0.3) <= PACKET / rate
    assert abs(onset(rate, samples, 1500, 500, 1.0) - 1.0) <= PACKET / rate


def test_a_shot_at_another_frame_rate_keeps_its_length_and_sound(tmp_path: Path) -> None:
    shots = [clip(tmp_path / "a.mp4", 24, 500), clip(tmp_path / "b.mp4", 30, 1500, fps=30)]
    out, reencoded, rebuilt = videos.stitch(shots, tmp_path / "board.mp4")
    assert reencoded and rebuilt
    info = videos.probe_video(out)
    assert (info.fps, info.frames) == (24.0, 48)  # 1 s at 30 fps is 24 frames at 24 fps
    assert_each_shot_s_sound_on_its_shot(out, [24, 24], [500.0, 1500.0])
    # frame 12 of the 24 fps shot shows the 30 fps frame due then: frame 15
    grey = np.asarray(videos.read_frame(out, 24 + 12).convert("L")).mean()
    assert grey == pytest.approx(shade(15), abs=2)


@pytest.mark.parametrize("second_size", [SIZE, (192, 96)])
def test_no_sound_anywhere_makes_no_audio_track(
    tmp_path: Path, second_size: tuple[int, int]
) -> None:
    shots = [
        clip(tmp_path / "a.mp4", 24, None),
        clip(tmp_path / "b.mp4", 24, None, size=second_size),
    ]
    out, reencoded, rebuilt = videos.stitch(shots, tmp_path / "board.mp4")
    assert reencoded == (second_size != SIZE) and not rebuilt
    info = videos.probe_video(out)
    assert not info.has_audio and info.frames == 48


def test_shot_audio_reads_from_a_time_and_pads_with_silence(tmp_path: Path) -> None:
    path = clip(tmp_path / "a.mp4", 24, 500, sound_s=0.5, sound_at_s=0.25)
    sound = videos.shot_audio(str(path), 1.0, start_s=0.125)
    assert sound.shape == (2, videos.AUDIO_RATE) and sound.dtype == np.float32
    sound_starts = np.flatnonzero(np.abs(sound[0]) > 0.05)[0] / videos.AUDIO_RATE
    assert sound_starts == pytest.approx(0.125, abs=0.005)
    assert np.abs(sound[:, round(0.65 * videos.AUDIO_RATE) :]).max() < 0.01
