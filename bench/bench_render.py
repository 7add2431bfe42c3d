"""How long synthetic.render_motion_clip takes for a 5 s 720p clip (target: <= 2 s on 2 cores).

python bench/bench_render.py [--reps 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playground.emulator import synthetic
from playground.media import videos

TARGET_S = 2.0
CASES = [("16:9 1248x704", (1248, 704)), ("9:16 704x1248", (704, 1248))]


def test_image(size: tuple[int, int] = (2000, 1500)) -> Image.Image:
    """A gradient with shapes and fine grain, so the encoder has photo-like detail to code."""
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image = Image.merge(
        "RGB",
        (
            image.getchannel(0),
            image.getchannel(0).rotate(90).resize(size),
            Image.new("L", size, 110),
        ),
    )
    draw = ImageDraw.Draw(image)
    for i in range(24):
        x, y = (i * 373) % size[0], (i * 211) % size[1]
        draw.ellipse((x, y, x + 180, y + 180), fill=((i * 40) % 256, 200, (i * 90) % 256))
        draw.line((0, y, size[0], (y + 400) % size[1]), fill=(250, 250, 250), width=4)
    grain = Image.effect_noise(size, 24).filter(ImageFilter.GaussianBlur(0.6)).convert("RGB")
    return Image.blend(image, grain, 0.25)


def bench(
    start: Image.Image, size: tuple[int, int], reps: int, out: Path
) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds per render (CPU covers all threads: a figure load cannot skew)."""
    wall, cpu = [], []
    for seed in range(reps):
        began, began_cpu = time.perf_counter(), time.process_time()
        synthetic.render_motion_clip(
            start, out / f"clip{seed}.mp4", size=size, duration_s=5, seed=seed
        )
        wall.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    start = test_image()
    print(
        f"render_motion_clip, 5 s at 24 fps, {args.reps} reps each "
        f"(x264 {videos.X264_OPTIONS}); target <= {TARGET_S:.1f} s wall on 2 cores"
    )
    print(
        f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
        "(other work on the machine inflates wall times)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        bench(start, (320, 240), 1, Path(tmp))  # warm-up: imports, codec init
        for name, size in CASES:
            s, cpu = bench(start, size, args.reps, Path(tmp))
            verdict = "meets target" if statistics.median(s) <= TARGET_S else "OVER TARGET"
            print(
                f"{name}: median {statistics.median(s):.2f} s, min {min(s):.2f} s, "
                f"max {max(s):.2f} s, CPU median {statistics.median(cpu):.2f} s  -> {verdict}"
            )


if __name__ == "__main__":
    main()
