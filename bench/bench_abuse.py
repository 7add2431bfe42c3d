"""A hostile crowd against one public server: what it costs the server and what it cannot do.

Loopback only, bounded. Four parts, each printing its figures beside a baseline measured
in the same run:

1. Memory per session, in this process (tracemalloc), over 200 sessions: a visitor-key
   session as the service keeps it (its Session and a client over the shared connections)
   against the old design (a client with its own three httpx clients per session); and the
   state Gradio itself keeps per browser session (its copy of the page's config). Target:
   ours <= 300 KB a session.
2. A `data:` image bomb: a 10000x10000 PNG (a small request) sent as the start image to
   the public /generate of a Space-like app (`python app.py`, PLAYGROUND_SHARED=1, the
   owner's key on the emulator), once and four at once. Printed: the server's peak memory
   (VmHWM) over its peak before, and the answer. Target: <= 100 MB.
3. The upload cache: one visitor (by X-Forwarded-For, as on a Space) sends 39 MB files
   until refused; then eight other visitors upload a 5 MB photo each. All eight must go
   in: once, two 39 MB uploads filled a 100 MB cache and every upload failed after.
4. A flood of 2,000 anonymous sessions (each a refused /generate call: free) while a
   real visitor holds a session that has used its 2 runs on the owner's key. Their third run
   must still be refused ("used your 2 runs"): a session pushed out of Gradio's store would
   come back with a fresh allowance. The baseline is the same app with Gradio's own order
   of eviction (least recently used, whoever it is), where the flood pushes the visitor out.
   Printed: the flood's rate, the server's memory after it (Gradio keeps at most
   MAX_SESSIONS), and the verdicts.

    python bench/bench_abuse.py                # all four: ~4 min
    python bench/bench_abuse.py --flood 1500   # a smaller flood (still past MAX_SESSIONS)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from bench_load import MODEL, ROOT, free_port, make_image, memory_kb, predict, stop, wait_http
from gradio_client import Client
from PIL import Image

from playground.ui.app import MAX_SESSIONS

SESSIONS = 200
PER_SESSION_TARGET_KB = 300
BOMB_TARGET_MB = 100
RUNS_PER_SESSION = 2
STARTUP_TIMEOUT_S = 60.0

# The app with Gradio's own eviction order, for the flood's baseline: nothing else differs.
GRADIO_ORDER = (
    "import runpy, playground.ui.app as page; "
    "page.keep_valued_sessions = lambda demo: None; "
    f"runpy.run_path({str(ROOT / 'app.py')!r}, run_name='__main__')"
)


# --------------------------------------------------------------------------- 1. per session


def held_kb(make: Any, n: int) -> tuple[float, float]:
    """Memory held by `n` results of `make()`, per result, in KB: as Python's allocator
    counts it (tracemalloc), and as the process's resident memory grew (which also counts
    what C libraries allocate, such as OpenSSL's contexts)."""
    gc.collect()
    rss = memory_kb(os.getpid())["VmRSS"]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    kept = [make() for _ in range(n)]
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    rss_grown = memory_kb(os.getpid())["VmRSS"] - rss
    assert len(kept) == n
    return grown / n / 1024, rss_grown / n


def memory_per_session(work: Path) -> dict[str, tuple[float, float]]:
    os.environ.update(
        PLAYGROUND_DATA_DIR=str(work / "inproc"),
        PLAYGROUND_SHARED="1",
        WAVESPEED_API_KEY="bench",
        PLAYGROUND_DAILY_USD="1",
    )
    import gradio as gr
    from gradio.state_holder import StateHolder

    from playground.flow.service import Playground
    from playground.settings import load_settings
    from playground.ui.app import build_demo
    from wavespeed_client import WaveSpeedClient

    service = Playground(load_settings(env_file=None))
    demo = build_demo(service)
    holder = StateHolder()
    holder.set_blocks(demo)
    state = next(b for b in demo.blocks.values() if isinstance(b, gr.State))

    async def measure() -> dict[str, tuple[float, float]]:
        def visitor() -> Any:
            session = service.new_session()
            session.use_key(f"sk-{uuid.uuid4().hex}")
            client, _ = service.routes.client_for(session, service.routes.route_for(session))
            return session, client

        def old_visitor() -> Any:  # the design before: each session its own connections
            return WaveSpeedClient(f"sk-{uuid.uuid4().hex}", base_url=service.settings.base_url)

        def gradio_session() -> Any:
            sid = uuid.uuid4().hex
            holder[sid][state._id]  # Gradio's state for a browser session, with our Session
            return sid

        visitor()  # warm: the shared pool exists before counting
        return {
            "ours": held_kb(visitor, SESSIONS),
            "old": held_kb(old_visitor, SESSIONS),
            "gradio": held_kb(gradio_session, SESSIONS),
        }

    try:
        return asyncio.run(measure())
    finally:
        service.close()


# --------------------------------------------------------------------------- 2. and 3.


def bomb_png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (10_000, 10_000), 0).save(out, "PNG", optimize=True)
    return out.getvalue()


def call_generate(url: str, image: Any, timeout: float = 120.0) -> str:
    """One anonymous /generate through Gradio's plain HTTP API (a new session each time);
    the answer's last event, as text."""
    data = [image, "slow push-in", None, 2, "16:9", False, -1, MODEL]
    with httpx.Client(base_url=url, timeout=timeout) as http:
        response = http.post("/gradio_api/call/generate", json={"data": data})
        response.raise_for_status()
        event_id = response.json()["event_id"]
        answer = http.get(f"/gradio_api/call/generate/{event_id}").text
    return answer.strip().splitlines()[-1] if answer.strip() else "(no answer)"


def start_app(work: Path, emu_url: str, name: str, gradio_order: bool) -> tuple[Any, str]:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WAVESPEED_", "PLAYGROUND_", "SPACE_", "SEEDANCE_"))
    }
    env |= {
        "WAVESPEED_BASE_URL": emu_url,
        "WAVESPEED_API_KEY": "bench",
        "WAVESPEED_TIER": "gold",
        "PLAYGROUND_SHARED": "1",
        "PLAYGROUND_DAILY_USD": "5",
        "PLAYGROUND_RUNS_PER_SESSION": str(RUNS_PER_SESSION),
        "PLAYGROUND_RUNS_PER_HOUR": "1000",
        "PLAYGROUND_DATA_DIR": str(work / name / "data"),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "ERROR",
        "SPACE_ID": "bench/abuse",  # as on a Space: X-Forwarded-For names the visitor
        "GRADIO_TEMP_DIR": str(work / name / "uploads"),
    }
    (work / name).mkdir(parents=True, exist_ok=True)
    command = ["-c", GRADIO_ORDER] if gradio_order else [str(ROOT / "app.py")]
    proc = subprocess.Popen(
        [sys.executable, *command],
        cwd=work / name,
        stdout=(work / f"{name}.log").open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    wait_http(url, proc, STARTUP_TIMEOUT_S)
    return proc, url


def visitor_run(client: Client, image: Path, seed: int) -> str:
    try:
        predict(client, image, seed)
        return "accepted"
    except Exception as exc:  # gradio_client's AppError carries the app's message
        return f"refused: {exc}"


def bomb(url: str, pid: int) -> dict[str, Any]:
    payload = base64.b64encode(bomb_png()).decode()
    image = {"url": f"data:image/png;base64,{payload}", "meta": {"_type": "gradio.FileData"}}
    before = memory_kb(pid)["VmHWM"]
    t0 = time.monotonic()
    one = call_generate(url, image)
    one_s = time.monotonic() - t0
    after_one = memory_kb(pid)["VmHWM"]
    with ThreadPoolExecutor(4) as pool:
        four = list(pool.map(lambda _: call_generate(url, image), range(4)))
    after_four = memory_kb(pid)["VmHWM"]
    return {
        "request_kb": len(payload) / 1024,
        "peak_before_mb": before / 1024,
        "one_mb": (after_one - before) / 1024,
        "four_mb": (after_four - before) / 1024,
        "one_s": one_s,
        "answer": one,
        "answers_alike": all(a == one for a in four),
    }


def flood(url: str, pid: int, image: Path, work: Path, n: int) -> dict[str, Any]:
    visitor = Client(url, verbose=False, download_files=str(work / "dl"))
    runs = [visitor_run(visitor, image, seed) for seed in range(RUNS_PER_SESSION)]
    assert runs == ["accepted"] * RUNS_PER_SESSION, runs
    rss_before = memory_kb(pid)["VmRSS"]
    t0 = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: call_generate(url, None), range(n)))
    flood_s = time.monotonic() - t0
    rss_after = memory_kb(pid)["VmRSS"]
    third = visitor_run(visitor, image, 99)
    return {
        "flood_s": flood_s,
        "rate": n / flood_s,
        "refused": sum("start image" in a.lower() for a in answers),
        "rss_before_mb": rss_before / 1024,
        "rss_after_mb": rss_after / 1024,
        "third": third,
        "kept": third.startswith("refused") and f"used your {RUNS_PER_SESSION} runs" in third,
    }


def upload(url: str, visitor: str, size: int) -> int:
    files = {"files": ("photo.png", os.urandom(size), "image/png")}
    headers = {"X-Forwarded-For": visitor}
    return httpx.post(
        url + "gradio_api/upload", files=files, headers=headers, timeout=60
    ).status_code


def cache_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1024 / 1024


def upload_fill(url: str, work: Path) -> dict[str, Any]:
    """One visitor uploads 39 MB files until refused; then others upload a photo each."""
    hog: list[int] = []
    while len(hog) < 50 and (not hog or hog[-1] == 200):
        hog.append(upload(url, "203.0.113.9", 39 * 1024 * 1024))
    others = [upload(url, f"198.51.100.{n}", 5 * 1024 * 1024) for n in range(1, 9)]
    return {
        "hog_accepted_mb": 39 * hog.count(200),
        "hog_refused_with": hog[-1],
        "others": others,
        "cache_mb": cache_mb(work / "app" / "uploads"),
    }


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood", type=int, default=2000, help="anonymous sessions in the flood")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-abuse-"))
    verdicts: dict[str, bool] = {}

    kb = memory_per_session(work)
    print(f"1. memory per session, over {SESSIONS} sessions: tracemalloc / resident growth")
    for what, name in (
        ("visitor-key session, shared connections", "ours"),
        ("baseline: own connections per session  ", "old"),
        ("Gradio's own state per browser session ", "gradio"),
    ):
        print(f"   {what}: {kb[name][0]:7.1f} KB / {kb[name][1]:7.1f} KB")
    verdicts[f"ours <= {PER_SESSION_TARGET_KB} KB a session"] = (
        max(kb["ours"]) <= PER_SESSION_TARGET_KB
    )

    emu_port = free_port()
    emu = subprocess.Popen(
        [sys.executable, "emulator.py", "--port", str(emu_port), "--inference-seconds", "0.5"],
        cwd=ROOT,
        stdout=(work / "emulator.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    emu_url = f"http://127.0.0.1:{emu_port}"
    image = make_image(work / "start.png")
    procs = [emu]
    try:
        wait_http(emu_url + "/api/v3/balance", emu, STARTUP_TIMEOUT_S)
        app, url = start_app(work, emu_url, "app", gradio_order=False)
        procs.append(app)
        b = bomb(url, app.pid)
        print(f"\n2. data: bomb, 10000x10000 PNG in a {b['request_kb']:.0f} KB request")
        print(f"   server peak before        : {b['peak_before_mb']:7.1f} MB")
        print(f"   peak over it, one request : {b['one_mb']:7.1f} MB ({b['one_s']:.2f} s)")
        print(f"   peak over it, four at once: {b['four_mb']:7.1f} MB")
        print(f"   answer: {b['answer'][:160]}")
        verdicts[f"bomb peak <= {BOMB_TARGET_MB} MB (four at once)"] = (
            b["four_mb"] <= BOMB_TARGET_MB
        )
        verdicts["bomb answered in words, the same each time"] = b["answers_alike"] and (
            "pixels" in b["answer"] or "too large" in b["answer"].lower()
        )

        u = upload_fill(url, work)
        print("\n3. the upload cache: one visitor sends 39 MB files until refused")
        print(
            f"   accepted {u['hog_accepted_mb']} MB, then HTTP {u['hog_refused_with']}; "
            f"8 other visitors' 5 MB photos: {u['others']}; cache now {u['cache_mb']:.0f} MB"
        )
        verdicts["one visitor cannot fill the upload cache for everyone"] = u[
            "hog_refused_with"
        ] == 429 and all(code == 200 for code in u["others"])

        results = {"app": flood(url, app.pid, image, work, args.flood)}
        stop(app)
        procs.remove(app)
        base, base_url = start_app(work, emu_url, "gradio-order", gradio_order=True)
        procs.append(base)
        results["gradio-order"] = flood(base_url, base.pid, image, work, args.flood)
        print(f"\n4. flood of {args.flood} anonymous sessions (Gradio keeps {MAX_SESSIONS})")
        for name, r in results.items():
            print(
                f"   {name:13s}: {r['rate']:5.0f} sessions/s, {r['refused']} refused in words; "
                f"RSS {r['rss_before_mb']:.0f} -> {r['rss_after_mb']:.0f} MB; "
                f"visitor's 3rd run: {r['third'][:70]}"
            )
        verdicts["a visitor's session outlives the flood"] = results["app"]["kept"]
        verdicts["(baseline) with Gradio's order the flood pushes it out"] = not results[
            "gradio-order"
        ]["kept"]
        verdicts["every flood request answered in words"] = results["app"]["refused"] == args.flood
    finally:
        stop(*procs)
    print()
    for what, ok in verdicts.items():
        print(f"   {'PASS' if ok else 'FAIL'}  {what}")
    print(json.dumps({"per_session_kb": kb}, indent=None))
    sys.exit(0 if all(verdicts.values()) else 1)


if __name__ == "__main__":
    main()
