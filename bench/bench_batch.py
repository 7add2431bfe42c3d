"""A batch of 8 variations against one generation: is the batch about as fast as one run,
and does the start image cross the wire once per batch?

Targets:
  * wall time of a batch of 8 (generation.run_many, one shared UploadCache) <= 1.3 x the
    wall time of one generation.run (median of 3 each);
  * per batch, the emulator stores exactly one upload, of exactly the prepared image's
    bytes (the other 7 submits reuse its URL).

Setup: an in-process emulator (start_in_thread) whose tasks take 5 s of simulated
inference (jitter 0); submits paced as for a WaveSpeed gold account
(generation.Pacer(3000 per minute), so pacing never holds this batch back, as intended).
The model is Seedance lite 480p at 5 s (the app's default duration): the emulator renders
each 864x480 clip in roughly 0.3-0.5 s on 2 cores, so 8 renders over its 2 render workers
finish well inside the 5 s of simulated inference instead of pushing completion past it,
as 8 renders at 720p (about 1 s each at full CPU) would on a 2-core machine. What is
measured is then the client's batch overhead: upload, 8 submits, polling, 8 downloads with
tagging and thumbnails. One untimed warm-up run first teaches DurationStats the task
length, as in a session after its first run, so polling is the same for both sides.

    python bench/bench_batch.py            # ~1 min
    python bench/bench_batch.py --reps 5
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playground import emulator as emu_module
from playground.flow import generation
from playground.flow.generation import (
    DurationStats,
    ImageInput,
    Pacer,
    RunContext,
    RunRecord,
    UploadCache,
)
from playground.media import images
from playground.model import seedance
from wavespeed_client import WaveSpeedClient

KEY = "bench-key"
MODEL = "bytedance/seedance-v1-lite-i2v-480p"
DURATION_S = 5
INFERENCE_S = 5.0
BATCH = 8
TIER = "gold"
TARGET_RATIO = 1.3


def start_image() -> ImageInput:
    """A 1600x900 photo-like JPEG, prepared as the app prepares uploads for 480p."""
    image = Image.linear_gradient("L").resize((1600, 900)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for i in range(12):
        x = 60 + i * 125
        draw.ellipse(
            (x, 200 + (i % 3) * 150, x + 110, 310 + (i % 3) * 150), fill=(200, 60 + i * 12, 40)
        )
    grain = Image.effect_noise((1600, 900), 24).convert("RGB")  # sensor-like grain
    image = Image.blend(image.filter(ImageFilter.GaussianBlur(1)), grain, 0.15)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    prepared = images.prepare_image(buffer.getvalue(), resolution="480p")
    return ImageInput(data=prepared.data, filename=prepared.filename)


def request() -> seedance.SeedanceRequest:
    return seedance.request(
        MODEL, image="bench.jpg", prompt="slow push-in; dust drifts", duration=DURATION_S
    )


async def one_run(ctx: RunContext, image: ImageInput) -> float:
    t0 = time.monotonic()
    last = None
    async for item in generation.run(ctx, request(), image, None):
        last = item
    assert isinstance(last, RunRecord) and last.status == "completed", last
    return time.monotonic() - t0


async def one_batch(ctx: RunContext, image: ImageInput) -> float:
    requests = seedance.variations(request(), BATCH)
    t0 = time.monotonic()
    done = 0
    async for _, item in generation.run_many(ctx, requests, image, None):
        if isinstance(item, Exception):
            raise item
        if isinstance(item, RunRecord):
            done += 1
    assert done == BATCH, done
    return time.monotonic() - t0


async def bench(reps: int) -> bool:
    image = start_image()
    config = emu_module.EmulatorConfig(inference_seconds=INFERENCE_S, jitter=0.0)
    stats = DurationStats()
    pacer = Pacer(generation.TIER_VIDEOS_PER_MINUTE[TIER])
    with (
        emu_module.start_in_thread(config) as emulator,
        tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp,
    ):
        async with WaveSpeedClient(KEY, base_url=emulator.base_url) as client:

            def context() -> RunContext:
                # A fresh cache per timed unit: each single run and each batch uploads once.
                return RunContext(
                    client=client,
                    uploads=UploadCache(),
                    output_dir=Path(tmp),
                    stats=stats,
                    backend="emulator",
                    pacer=pacer,
                )

            warm = await one_run(context(), image)
            print(f"warm-up run (untimed): {warm:.2f} s; DurationStats now knows the task length")

            singles = []
            for i in range(reps):
                singles.append(await one_run(context(), image))
                print(f"  single run {i + 1}: {singles[-1]:.2f} s")

            batches, uploads, upload_bytes, submits = [], [], [], []
            lateness: list[float] = []
            for i in range(reps):
                before = emulator.stats()
                batches.append(await one_batch(context(), image))
                after = emulator.stats()
                uploads.append(after["uploads"] - before["uploads"])
                upload_bytes.append(after["upload_bytes"] - before["upload_bytes"])
                submits.append(after["submits"] - before["submits"])
                lateness.append(_render_lateness(emulator, BATCH))
                print(
                    f"  batch of {BATCH} {i + 1}: {batches[-1]:.2f} s · uploads {uploads[-1]} · "
                    f"upload bytes {upload_bytes[-1]} · submits {submits[-1]}"
                )

    single, batch = statistics.median(singles), statistics.median(batches)
    ratio = batch / single
    size = len(image.data or b"")
    once = all(u == 1 for u in uploads) and all(b == size for b in upload_bytes)
    ratio_ok = ratio <= TARGET_RATIO

    print()
    print(
        f"model {MODEL}, {DURATION_S} s clips, emulator inference {INFERENCE_S:.0f} s "
        f"(jitter 0), pacing tier {TIER} ({pacer.per_minute}/min), {os.cpu_count()} CPUs"
    )
    print(f"one run        median of {reps}: {single:6.2f} s  ({_spread(singles)})")
    print(f"batch of {BATCH}     median of {reps}: {batch:6.2f} s  ({_spread(batches)})")
    verdict = "PASS" if ratio_ok else "FAIL"
    print(f"ratio batch/one: {ratio:.2f}  (target <= {TARGET_RATIO})  {verdict}")
    print(
        f"image {size} bytes; per batch the emulator stored uploads {uploads}, "
        f"bytes {upload_bytes}; submits {submits}  "
        f"(target: 1 upload of {size} bytes per batch)  {'PASS' if once else 'FAIL'}"
    )
    print(
        f"render lateness (task done after its {INFERENCE_S:.0f} s of inference, worst per "
        f"batch): {', '.join(f'{x:.2f} s' for x in lateness)}"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average (1 min) at the end: {load:.2f}")
    ok = ratio_ok and once
    print("PASS" if ok else "FAIL")
    return ok


def _render_lateness(emulator: emu_module.RunningEmulator, last: int) -> float:
    """How much later than its simulated inference the slowest of the `last` tasks
    finished: > 0 means renders, not inference, set the pace."""
    tasks = list(emulator.emulator.tasks.values())[-last:]
    return max(max(0.0, (t.done_at or t.started) - (t.started + t.inference_s)) for t in tasks)


def _spread(values: list[float]) -> str:
    return f"min {min(values):.2f} · max {max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions per side")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sys.exit(0 if asyncio.run(bench(args.reps)) else 1)


if __name__ == "__main__":
    main()
