"""Videos with sound (Seedance 1.5 and 2.x with generate_audio): tags, frames and thumbnails
keep working, and a storyboard keeps every shot's sound on its own shot.

Clips are made here with PyAV: a plain picture and a sine tone whose frequency names the
shot, so the stitched soundtrack can be checked by ear, numerically (the dominant frequency
of each shot's middle), and by length.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from playground.media import videos

FPS = 24
SIZE = (160, 96)


def clip(path: Path, seconds: float, tone_hz: float | None, *, size=SIZE, fps=FPS) -> Path:
    frames = round(seconds * fps)
    picture = Image.new("RGB", size, (int(tone_hz or 0) % 255, 90, 160))
    sound = None
    if tone_hz is not None:
        t = np.arange(round(seconds * videos.AUDIO_RATE)) / videos.AUDIO_RATE
        mono = (0.3 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
        sound = np.stack([mono, mono])
    made = (av.VideoFrame.from_image(picture) for _ in range(frames))
    videos.encode(str(path), made, size, fps, sound)
    return path


def decoded_audio(path: Path) -> np.ndarray:
    return videos.shot_audio(str(path), videos.probe_video(path).duration_s)[0]


def dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / videos.AUDIO_RATE)[np.argmax(spectrum)])


def window(track: np.ndarray, at_s: float, width_s: float = 0.25) -> np.ndarray:
    start = round((at_s - width_s / 2) * videos.AUDIO_RATE)
    return track[start : start + round(width_s * videos.AUDIO_RATE)]


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return float(stream.duration * stream.time_base)


def test_probe_says_whether_there_is_sound(tmp_path: Path) -> None:
    assert videos.probe_video(clip(tmp_path / "a.mp4", 1, 440)).has_audio
    assert not videos.probe_video(clip(tmp_path / "b.mp4", 1, None)).has_audio


def test_tags_frames_and_thumbnails_work_with_sound(tmp_path: Path) -> None:
    path = clip(tmp_path / "a.mp4", 1.5, 440)
    assert videos.tag_video(path, {"title": "seed 7"})
    assert videos.probe_video(path).has_audio  # the remux kept the sound...
    assert dominant_hz(window(decoded_audio(path), 0.75)) == pytest.approx(440, abs=5)
    assert videos.read_frame(path).size == SIZE
    assert videos.save_thumbnail(path, tmp_path / "t.jpg").is_file()


def test_shots_with_the_same_streams_keep_each_shot_s_sound_on_its_shot(tmp_path: Path) -> None:
    shots = [clip(tmp_path / f"{i}.mp4", 1.0, hz) for i, hz in enumerate((440, 880, 1320))]
    out, reencoded = videos.stitch(shots, tmp_path / "board.mp4")
    assert not reencoded  # the pictures were joined packet by packet
    track = decoded_audio(out)
    for k, hz in enumerate((440, 880, 1320)):
        assert dominant_hz(window(track, k + 0.5)) == pytest.approx(hz, abs=5)
    # no drift: the sound ends with the picture
    assert audio_seconds(out) == pytest.approx(videos.probe_video(out).duration_s, abs=0.05)


def test_a_shot_without_sound_is_silence_of_its_length(tmp_path: Path) -> None:
    shots = [
        clip(tmp_path / "a.mp4", 1.0, 440),
        clip(tmp_path / "b.mp4", 1.5, None),  # a 1.0 model's silent shot
        clip(tmp_path / "c.mp4", 1.0, 660, size=(192, 96)),  # and another size
    ]
    out, reencoded = videos.stitch(shots, tmp_path / "board.mp4")
    assert reencoded
    track = decoded_audio(out)
    assert dominant_hz(window(track, 0.5)) == pytest.approx(440, abs=5)
    assert np.abs(window(track, 1.75, 1.0)).max() < 0.01  # the silent shot, silent
    assert dominant_hz(window(track, 3.0)) == pytest.approx(660, abs=5)  # on time, after it
    assert audio_seconds(out) == pytest.approx(3.5, abs=0.05)


def test_other_rates_and_layouts_are_resampled(tmp_path: Path) -> None:
    mono_22k = tmp_path / "mono.mp4"
    with av.open(str(mono_22k), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = *SIZE, "yuv420p"
        sound = container.add_stream("aac", rate=22_050, layout="mono")
        t = np.arange(22_050) / 22_050
        samples = av.AudioFrame.from_ndarray(
            (0.3 * np.sin(2 * np.pi * 550 * t)).astype(np.float32)[None, :],
            format="fltp",
            layout="mono",
        )
        samples.sample_rate, samples.pts = 22_050, 0
        container.mux(sound.encode(samples))
        container.mux(sound.encode(None))
        for _ in range(FPS):
            container.mux(video.encode(av.VideoFrame.from_image(Image.new("RGB", SIZE))))
        container.mux(video.encode(None))
    shots = [mono_22k, clip(tmp_path / "b.mp4", 1.0, 440)]
    out, _ = videos.stitch(shots, tmp_path / "board.mp4")
    track = decoded_audio(out)
    assert dominant_hz(window(track, 0.5)) == pytest.approx(550, abs=5)
    assert dominant_hz(window(track, 1.5)) == pytest.approx(440, abs=5)


def test_no_sound_anywhere_makes_no_audio_track(tmp_path: Path) -> None:
    shots = [clip(tmp_path / f"{i}.mp4", 1.0, None) for i in range(2)]
    out, _ = videos.stitch(shots, tmp_path / "board.mp4")
    assert not videos.probe_video(out).has_audio
