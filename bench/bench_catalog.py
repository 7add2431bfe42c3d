"""How long the catalog takes to load (cold from the API, then from the disk cache) and what a
price quote costs, against the local emulator on loopback.

    python bench/bench_catalog.py

Prints medians over several rounds, with the floor from the same run: the emulator's own
cheapest authenticated call (GET /api/v3/balance) for the HTTP round trips, and parsing the
bundled snapshot for the cache. Figures, not a pass/fail test.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playground import emulator
from playground.flow.catalogs import Catalogs
from playground.flow.prices import Prices
from playground.model import catalog, seedance
from wavespeed_client import WaveSpeedClient

ROUNDS = 15
TURBO = "bytedance/seedance-2.0-fast/image-to-video-turbo"


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def timed(make) -> float:
    t0 = time.perf_counter()
    await make()
    return time.perf_counter() - t0


async def main() -> None:
    config = emulator.EmulatorConfig(inference_seconds=0.1, jitter=0.0)
    with emulator.start_in_thread(config) as server:
        async with WaveSpeedClient("bench", base_url=server.base_url) as client:
            await client.balance()  # the connection warm, as in a running app
            floor = [await timed(client.balance) for _ in range(ROUNDS)]
            raw = [await timed(client.models) for _ in range(ROUNDS)]
            cold, cached = [], []
            for _ in range(ROUNDS):
                with tempfile.TemporaryDirectory() as tmp:
                    fresh = Catalogs(Path(tmp))
                    cold.append(await timed(lambda c=fresh: c.load(server.base_url, client)))
                    again = Catalogs(Path(tmp))  # a restart: the disk cache, no request
                    cached.append(await timed(lambda c=again: c.load(server.base_url, client)))
            parse = []
            for _ in range(ROUNDS):
                catalog.snapshot.cache_clear()
                t0 = time.perf_counter()
                catalog.snapshot()
                parse.append(time.perf_counter() - t0)
            request = seedance.request(TURBO, image="x.png", prompt="go", duration=5)
            quotes = [
                await timed(lambda: client.quote(TURBO, {"duration": 5, "resolution": "1080p"}))
                for _ in range(ROUNDS)
            ]
            prices = Prices()
            await prices.price(client, request)  # the first one asks
            hits = [await timed(lambda: prices.price(client, request)) for _ in range(ROUNDS)]
            estimates = []
            for _ in range(ROUNDS):
                t0 = time.perf_counter()
                request.spec.estimate({"duration": 5, "resolution": "1080p"})
                estimates.append(time.perf_counter() - t0)
    models = len(catalog.snapshot().models)
    print(f"catalog of {models} models, {ROUNDS} rounds, medians (ms):")
    print(f"  floor: GET /balance round trip        {median_ms(floor):8.2f}")
    print(f"  GET /api/v3/models                    {median_ms(raw):8.2f}")
    print(f"  cold load (fetch, parse, write cache) {median_ms(cold):8.2f}")
    print(f"  cached load (disk, parse)             {median_ms(cached):8.2f}")
    print(f"  floor: parse the bundled snapshot     {median_ms(parse):8.2f}")
    print(f"  quote (POST /model/price)             {median_ms(quotes):8.2f}")
    print(f"  quote, cached by its price inputs     {median_ms(hits):8.3f}")
    print(f"  offline estimate (JSONata formula)    {median_ms(estimates):8.3f}")
    print(
        f"ratios: cold/cached {statistics.median(cold) / statistics.median(cached):.1f}x, "
        f"quote/floor {statistics.median(quotes) / statistics.median(floor):.1f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
