"""Many visitors at once: 50 gradio_client sessions generating through ONE app process.

Setup (loopback only, bounded): the emulator in its own process (`python emulator.py`,
inference 5 s, no jitter) and the app in another (`python app.py`, the owner's key
"bench", tier gold, data in a temporary directory), on the 480p lite model, 2 s clips.

What this measures is the app's overhead, so the two stand-ins for the outside world are
kept off the CPUs the app shares with them (on a 2-core machine they otherwise cost more
than the app itself):
- The emulator runs with `--reuse-renders`: each distinct clip (here: one, since every
  session sends the same image and settings) is encoded once and later tasks get a copy,
  whatever their seed. Real WaveSpeed renders on its own GPUs; 50 local H.264 encodes
  took 12-13 CPU-seconds here. Each task still has its own 5 s schedule, output URL and
  download.
- The clients share one `ssl.SSLContext` (gradio_client's `ssl_verify` goes straight to
  httpx's `verify`). gradio_client makes a new httpx client for every call, and each
  loads the CA bundle: 50 predicts took 7-8 CPU-seconds here, ~1 with the shared
  context. A browser does not reload its CA bundle per request either. The URL is plain
  http on loopback, so no certificate is ever checked either way.
Nothing in the app is configured differently: it is launched as `python app.py`.

One warm-up run goes first, from its own session, so the app has learned how long a 2 s
480p task takes: without it, first-ever runs poll on the back-off schedule (up to 3 s
between polls), which is a cold-start cost, not load. It also makes the one render the
load reuses. The warm-up is not in the figures.

Then 50 sessions (a fresh `Client` each, made before the clock starts) each call
`predict(..., api_name="/generate")` at once from a pool of 50 threads: all 50 start in the
same instant and, with no jitter, finish in the same instant, the hardest shape a crowd
can take. `--ramp-s` spreads the starts evenly instead (it must stay under the 5 s of
inference, so every session still overlaps every other). Per run: overhead = wall time of
predict (from that session's own start) - 5 s of simulated inference.

Targets: errors 0; 50 runs recorded in history.db, no duplicates; p95 overhead <= 1.5 s.
Also printed: where the overhead goes, from the run records, in parts that add up per run
(outside the run: Gradio's queue and pre/post-processing, image preparation, the client's
upload and download; in the run before the submit; the submit and polling past the end of
inference; download with tagging and thumbnail); CPU seconds per process, and what other
processes on the machine took meanwhile; the app's resident memory (VmRSS) and peak
(VmHWM) before and after, from /proc.

    python bench/bench_load.py                 # 50 sessions, about a minute
    python bench/bench_load.py --sessions 10   # a smaller crowd
    python bench/bench_load.py --ramp-s 2.5    # the 50 starts spread over 2.5 s
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
INFERENCE_S = 5.0
MODEL = "bytedance/seedance-v1-lite-i2v-480p"
DURATION_S = 2
P95_TARGET_S = 1.5
STARTUP_TIMEOUT_S = 60.0  # the app imports gradio and builds the page: ~5-10 s here
RUN_TIMEOUT_S = 180.0  # one predict; 50 concurrent runs should take ~10 s


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: the process exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, from /proc (no psutil needed)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent not idle, from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def make_image(path: Path) -> Path:
    image = Image.new("RGB", (854, 480), (40, 110, 170))
    ImageDraw.Draw(image).ellipse((300, 120, 560, 380), fill=(230, 200, 80))
    image.save(path)
    return path


def predict(client: Client, image: Path, seed: int) -> tuple[float, dict[str, Any]]:
    t0 = time.monotonic()
    _, record, _ = client.predict(
        image=handle_file(str(image)),
        prompt="slow push-in; the sun drifts right",
        last_image=None,
        duration=DURATION_S,
        aspect_ratio="16:9",
        camera_fixed=False,
        seed=seed,
        model=MODEL,
        api_name="/generate",
    )
    return time.monotonic() - t0, record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument(
        "--ramp-s",
        type=float,
        default=0.0,
        help=f"spread the starts evenly over this many seconds (under {INFERENCE_S:.0f})",
    )
    parser.add_argument(
        "--log-level", default="WARNING", help="the app's LOG_LEVEL (DEBUG: a timeline in app.log)"
    )
    args = parser.parse_args()
    n = args.sessions
    if not 0 <= args.ramp_s < INFERENCE_S:
        parser.error(f"--ramp-s must be at least 0 and under {INFERENCE_S:.0f}")

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    data_dir = work / "data"
    image = make_image(work / "start.png")
    emu_port, app_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WAVESPEED_", "PLAYGROUND_", "SPACE_", "SEEDANCE_"))
    }
    logs = {name: (work / f"{name}.log").open("wb") for name in ("emulator", "app")}
    emu = subprocess.Popen(
        [
            *(sys.executable, "emulator.py", "--port", str(emu_port)),
            *("--inference-seconds", str(INFERENCE_S), "--jitter", "0", "--reuse-renders"),
        ],
        cwd=ROOT,
        stdout=logs["emulator"],
        stderr=subprocess.STDOUT,
        env=env,
    )
    app_env = {
        **env,
        "WAVESPEED_BASE_URL": f"http://127.0.0.1:{emu_port}",
        "WAVESPEED_API_KEY": "bench",
        "WAVESPEED_TIER": "gold",
        "PLAYGROUND_DATA_DIR": str(data_dir),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(app_port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "LOG_LEVEL": args.log_level,
    }
    # cwd = the work dir: no stray .env; app.py by absolute path
    app = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=work,
        stdout=logs["app"],
        stderr=subprocess.STDOUT,
        env=app_env,
    )
    url = f"http://127.0.0.1:{app_port}/"
    try:
        wait_http(f"http://127.0.0.1:{emu_port}/__emulator__/stats", emu, STARTUP_TIMEOUT_S)
        wait_http(url, app, STARTUP_TIMEOUT_S)

        tls = ssl.create_default_context()  # loaded once, shared: see the docstring
        client_options: dict[str, Any] = {
            "verbose": False,
            "download_files": str(work / "dl"),
            "ssl_verify": tls,
        }
        warm = Client(url, **client_options)
        warm_s, warm_record = predict(warm, image, seed=1)
        print(
            f"warm-up run (not counted): {warm_s:.2f} s wall, overhead {warm_s - INFERENCE_S:.2f} s"
        )
        before = memory_kb(app.pid)
        emulator_stats = f"http://127.0.0.1:{emu_port}/__emulator__/stats"
        renders_before = httpx.get(emulator_stats, timeout=5).json()["renders"]

        t_clients = time.monotonic()
        clients = [Client(url, **client_options) for _ in range(n)]
        clients_s = time.monotonic() - t_clients
        results: list[tuple[float, dict[str, Any]]] = []  # (wall, record): one append each
        errors: list[str] = []

        def one(i: int) -> None:
            time.sleep(args.ramp_s * i / n)
            try:
                wall, record = predict(clients[i], image, seed=1000 + i)
            except Exception as exc:  # counted and shown, not raised: the bench goes on
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                return
            results.append((wall, record))

        cpu_before = {
            "app": cpu_s(app.pid),
            "emulator": cpu_s(emu.pid),
            "bench": cpu_s(os.getpid()),
        }
        machine_before = busy_cpu_s()
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=n) as pool:
            futures = [pool.submit(one, i) for i in range(n)]
            for future in futures:
                future.result(timeout=RUN_TIMEOUT_S)
        total_s = time.monotonic() - t0
        machine_used = busy_cpu_s() - machine_before
        after = memory_kb(app.pid)
        cpu_used = {
            "app": cpu_s(app.pid) - cpu_before["app"],
            "emulator": cpu_s(emu.pid) - cpu_before["emulator"],
            "bench (clients)": cpu_s(os.getpid()) - cpu_before["bench"],
        }
        cpu_used["other processes"] = max(0.0, machine_used - sum(cpu_used.values()))
        renders = httpx.get(emulator_stats, timeout=5).json()["renders"] - renders_before

        walls = [wall for wall, _ in results]
        records = [record for _, record in results]
        ids = [r["id"] for r in records]
        db = sqlite3.connect(f"file:{data_dir / 'history.db'}?mode=ro", uri=True)
        rows = db.execute("SELECT id, status FROM runs WHERE id != ?", (warm_record["id"],))
        stored = rows.fetchall()
        db.close()
        stored_ids = [row[0] for row in stored]
        completed = sum(1 for row in stored if row[1] == "completed")
        overhead = [w - INFERENCE_S for w in walls]

        def spread(values: list[float]) -> str:
            if not values:
                return "-"
            return (
                f"p50 {statistics.median(values):.2f} s · p95 {percentile(values, 0.95):.2f} s"
                f" · max {max(values):.2f} s"
            )

        # Per run these add up to wall - inference: wait_s runs from the submit to the poll
        # that saw the task done, so wait_s - inference_s is the submit plus polling late.
        def phases(wall: float, t: dict[str, float]) -> dict[str, float]:
            return {
                "outside the run (Gradio queue + pre/post-processing, image prep, client I/O)": (
                    wall - t["total_s"]
                ),
                "in the run, before the submit (image upload, status updates)": (
                    t["total_s"] - t["wait_s"] - t["download_s"]
                ),
                "submit + polling past the end of inference": t["wait_s"] - INFERENCE_S,
                "download + tag + thumbnail": t["download_s"],
            }

        split: dict[str, list[float]] = {}
        for wall, record in results:
            for name, value in phases(wall, record["timings"]).items():
                split.setdefault(name, []).append(value)

        print(
            f"\n{n} sessions · model {MODEL} · {DURATION_S} s clips · inference "
            f"{INFERENCE_S:.0f} s, no jitter · one app process (pid {app.pid}) · "
            f"{os.cpu_count()} CPUs"
        )
        arrivals = f"spread over {args.ramp_s:g} s" if args.ramp_s else "all at once"
        print(f"clients created in {clients_s:.2f} s (before the clock) · starts {arrivals}")
        print(f"emulator renders during the load: {renders} (the warm-up's clip is reused)")
        print(f"all runs done in {total_s:.2f} s wall")
        print(f"errors: {len(errors)}")
        for error in errors[:5]:
            print(f"  {error}")
        print(
            f"runs in history.db: {len(stored_ids)} ({completed} completed), "
            f"distinct {len(set(stored_ids))}; returned ids distinct {len(set(ids))}, "
            f"all stored: {set(ids) <= set(stored_ids)}"
        )
        if overhead:
            p50, p95 = percentile(overhead, 0.5), percentile(overhead, 0.95)
            print(
                f"overhead (wall - {INFERENCE_S:.0f} s): p50 {p50:.2f} s · p95 {p95:.2f} s · "
                f"max {max(overhead):.2f} s · min {min(overhead):.2f} s"
            )
        else:
            p95 = float("inf")
        print("where the overhead goes (per run; the parts add up to the overhead):")
        for name, values in split.items():
            print(f"  {name:<78} {spread(values)}")
        print(
            "CPU seconds used during the load: "
            + " · ".join(f"{name} {value:.1f}" for name, value in cpu_used.items())
            + f" (of {total_s * (os.cpu_count() or 1):.0f} CPU-s available in {total_s:.1f} s)"
        )
        print(
            f"app RSS before {before.get('VmRSS', 0) / 1024:.0f} MB (peak "
            f"{before.get('VmHWM', 0) / 1024:.0f} MB) · after {after.get('VmRSS', 0) / 1024:.0f} "
            f"MB (peak {after.get('VmHWM', 0) / 1024:.0f} MB)"
        )
        verdicts = {
            "errors == 0": not errors,
            f"{n} runs recorded, no duplicates": len(stored_ids) == n
            and len(set(stored_ids)) == n
            and set(ids) <= set(stored_ids),
            f"p95 overhead <= {P95_TARGET_S} s": p95 <= P95_TARGET_S,
        }
        for name, ok in verdicts.items():
            print(f"{'PASS' if ok else 'FAIL'}  {name}")
    finally:
        for proc in (app, emu):
            proc.terminate()
        for proc in (app, emu):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs.values():
            log.close()
        print(f"(logs and data in {work})")


if __name__ == "__main__":
    main()
