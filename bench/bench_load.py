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

Then crowds of 50 fresh sessions (a `Client` each, made before the clock starts) each call
`predict(..., api_name="/generate")` once, from a pool of 50 threads:
- the target's shape, three crowds one after another (`--waves`; this machine is noisy, so
  the median of their p95s is judged): the 50 starts spread evenly over 2.5 s (`--ramp-s`),
  so every run's 5 s of inference overlaps every other's: 50 sessions generating at once;
- a stress shape: all 50 start in the same instant and, with no jitter, finish in the same
  instant. One process has one interpreter lock, so the Python work of 50 starts (and of
  50 ends) is done one after the other, and every run waits for nearly all of it.
Per run: overhead = wall time of predict (from that session's own start) - 5 s.

Then the floor: the same crowds against a bare Gradio app with the same endpoint, whose
handler only sleeps 5 s and returns a clip (bench/floor_app.py). Its overhead is what
Gradio itself costs on this machine; app / bare says what ours adds.

And a crowd of 200 sessions in flight (`--big`; 0 skips it), their starts spread over 4 s.

Targets, each against the bare Gradio app measured in the same run: errors 0; every run
recorded in history.db once, completed; p95 overhead <= bare + 0.5 s with 50 in flight
(median of the waves), <= bare + 1.0 s with 50 at once, <= bare + 1.5 s with 200 in flight;
the server's memory per session (its RSS growth over every session the crowds opened, each
run from a fresh session) <= 300 KB.
Also printed: where the overhead goes, from the run records, in parts that add up per run
(outside the run: Gradio's queue and pre/post-processing, image preparation, the client's
upload and download; in the run before the wait: upload and submit; polling past the end
of inference; download with tagging and thumbnail); CPU seconds per process, and what other
processes on the machine took meanwhile; the server's resident memory (VmRSS) and peak
(VmHWM), from /proc.

    python bench/bench_load.py                 # 50 sessions, both shapes, the floor: ~3 min
    python bench/bench_load.py --sessions 10   # a smaller crowd
    python bench/bench_load.py --no-floor      # the app only
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from playground.ui.app import MAX_SESSIONS  # noqa: E402 (after the path is set)

INFERENCE_S = 5.0
MODEL = "bytedance/seedance-v1-lite-i2v-480p"
DURATION_S = 2
MEMORY_PER_SESSION_TARGET_KB = 300
BIG_RAMP_S = 4.0  # 200 starts spread over this (under INFERENCE_S: all in flight at once)
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


@dataclass
class Shape:
    name: str
    ramp_s: float  # the starts spread evenly over this many seconds; 0: all at once
    waves: int  # crowds, one after another: this machine is noisy
    sessions: int
    over_bare_s: float  # the target: p95 overhead <= bare Gradio's + this


@dataclass
class Wave:
    """What one crowd of sessions got: per run (wall s, record), and the costs meanwhile."""

    results: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    total_s: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    rss_mb: tuple[float, float] = (0.0, 0.0)  # before, after
    peak_mb: float = 0.0

    @property
    def overhead(self) -> list[float]:
        return [wall - INFERENCE_S for wall, _ in self.results]


def crowd(
    url: str, image: Path, shape: Shape, options: dict[str, Any], pids: dict[str, int]
) -> Wave:
    """n fresh sessions each call /generate once, started as `shape` says; memory is the
    first of `pids`' (the server's)."""
    n = shape.sessions
    clients = [Client(url, **options) for _ in range(n)]  # before the clock
    wave = Wave()
    server = next(iter(pids.values()))
    before = memory_kb(server)

    def one(i: int) -> None:
        time.sleep(shape.ramp_s * i / n)
        try:
            wave.results.append(predict(clients[i], image, seed=1000 + i))  # one append each
        except Exception as exc:  # counted and shown, not raised: the bench goes on
            wave.errors.append(f"{type(exc).__name__}: {exc}"[:200])

    cpu_before = {name: cpu_s(pid) for name, pid in pids.items()} | {"bench": cpu_s(os.getpid())}
    machine_before = busy_cpu_s()
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=n) as pool:
        for future in [pool.submit(one, i) for i in range(n)]:
            future.result(timeout=RUN_TIMEOUT_S)
    wave.total_s = time.monotonic() - t0
    machine = busy_cpu_s() - machine_before
    wave.cpu = {name: cpu_s(pid) - cpu_before[name] for name, pid in pids.items()}
    wave.cpu["bench (clients)"] = cpu_s(os.getpid()) - cpu_before["bench"]
    wave.cpu["other processes"] = max(0.0, machine - sum(wave.cpu.values()))
    after = memory_kb(server)
    wave.rss_mb = (before.get("VmRSS", 0) / 1024, after.get("VmRSS", 0) / 1024)
    wave.peak_mb = after.get("VmHWM", 0) / 1024
    return wave


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    return (
        f"p50 {percentile(values, 0.5):.2f} s · p95 {percentile(values, 0.95):.2f} s"
        f" · max {max(values):.2f} s"
    )


def phases(wall: float, t: dict[str, float]) -> dict[str, float]:
    """Where one run's overhead went, in parts that add up to wall - inference: wait_s
    runs from the task's acceptance to the poll that saw it done, so wait_s - inference
    is polling late (the emulator queues nothing)."""
    return {
        "outside the run (Gradio queue + pre/post-processing, image prep, client I/O)": (
            wall - t["total_s"]
        ),
        "in the run, before the wait (image upload, submit)": (
            t["total_s"] - t["wait_s"] - t["download_s"]
        ),
        "polling past the end of inference": t["wait_s"] - INFERENCE_S,
        "download + tag + thumbnail": t["download_s"],
    }


def stored_runs(data_dir: Path, ids: list[str]) -> tuple[int, int]:
    """How many of `ids` history.db holds, and how many of those completed."""
    db = sqlite3.connect(f"file:{data_dir / 'history.db'}?mode=ro", uri=True)
    try:
        marks = ",".join("?" * len(ids))
        rows = db.execute(f"SELECT status FROM runs WHERE id IN ({marks})", ids).fetchall()
    finally:
        db.close()
    return len(rows), sum(1 for (status,) in rows if status == "completed")


def report(title: str, wave: Wave, n: int, data_dir: Path | None) -> bool:
    """Print one wave's figures; True when every run succeeded and (for the app) was stored."""
    print(f"\n{title}: all runs done in {wave.total_s:.2f} s wall · errors {len(wave.errors)}")
    for error in wave.errors[:5]:
        print(f"  {error}")
    ok = not wave.errors and len(wave.results) == n
    if data_dir is not None:
        ids = [record["id"] for _, record in wave.results]
        stored, completed = stored_runs(data_dir, ids)
        print(
            f"  runs in history.db: {stored} of {n} ({completed} completed), "
            f"returned ids distinct: {len(set(ids)) == len(ids)}"
        )
        ok = ok and stored == completed == n == len(set(ids))
    print(f"  overhead (wall - {INFERENCE_S:.0f} s): {spread(wave.overhead)}")
    if data_dir is not None:
        split: dict[str, list[float]] = {}
        for wall, record in wave.results:
            for name, value in phases(wall, record["timings"]).items():
                split.setdefault(name, []).append(value)
        for name, values in split.items():
            print(f"    {name:<78} {spread(values)}")
    print(
        "  CPU seconds: "
        + " · ".join(f"{name} {value:.1f}" for name, value in wave.cpu.items())
        + f" (of {wave.total_s * (os.cpu_count() or 1):.0f} available)"
    )
    print(
        f"  server RSS {wave.rss_mb[0]:.0f} -> {wave.rss_mb[1]:.0f} MB (peak {wave.peak_mb:.0f} MB)"
    )
    return ok


def stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument(
        "--ramp-s",
        type=float,
        default=2.5,
        help=f"the target's shape: starts spread over this many seconds (under {INFERENCE_S:.0f})",
    )
    parser.add_argument(
        "--waves", type=int, default=3, help="crowds of the target's shape (median p95 judged)"
    )
    parser.add_argument(
        "--big", type=int, default=200, help="sessions of the big crowd in flight (0: none)"
    )
    parser.add_argument("--no-floor", action="store_true", help="skip the bare Gradio app")
    parser.add_argument(
        "--log-level", default="WARNING", help="the app's LOG_LEVEL (DEBUG: a timeline in app.log)"
    )
    args = parser.parse_args()
    n = args.sessions
    if not 0 < args.ramp_s < INFERENCE_S:
        parser.error(f"--ramp-s must be over 0 and under {INFERENCE_S:.0f}")
    shapes = [
        Shape(
            f"{n} in flight, starts spread over {args.ramp_s:g} s", args.ramp_s, args.waves, n, 0.5
        ),
        Shape(f"{n} start in the same instant (stress)", 0.0, 1, n, 1.0),
    ]
    if args.big:
        name = f"{args.big} in flight, starts spread over {BIG_RAMP_S:g} s"
        shapes.append(Shape(name, BIG_RAMP_S, 1, args.big, 1.5))

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    data_dir = work / "data"
    image = make_image(work / "start.png")
    emu_port, app_port, floor_port = free_port(), free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WAVESPEED_", "PLAYGROUND_", "SPACE_", "SEEDANCE_"))
    }
    logs = {name: (work / f"{name}.log").open("wb") for name in ("emulator", "app", "floor")}
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
    options: dict[str, Any] = {
        "verbose": False,
        "download_files": str(work / "dl"),
        "ssl_verify": ssl.create_default_context(),  # loaded once, shared: see the docstring
    }
    verdicts: dict[str, bool] = {}
    p95: dict[str, dict[str, float]] = {}  # shape -> server -> median of the waves' p95

    def waves(shape: Shape, url: str, data_dir: Path | None, pids: dict[str, int]) -> float:
        """The shape's crowds against one server; the median of their p95 overheads. Only
        the app keeps records (`data_dir`), so only its runs are checked and judged."""
        p95s = []
        for k in range(shape.waves):
            title = shape.name + (f", wave {k + 1} of {shape.waves}" if shape.waves > 1 else "")
            wave = crowd(url, image, shape, options, pids)
            ok = report(title, wave, shape.sessions, data_dir)
            if data_dir is not None:
                verdicts[f"{title}: 0 errors, every run recorded"] = ok
            p95s.append(percentile(wave.overhead or [1e9], 0.95))
        return statistics.median(p95s)

    try:
        wait_http(f"http://127.0.0.1:{emu_port}/__emulator__/stats", emu, STARTUP_TIMEOUT_S)
        wait_http(url, app, STARTUP_TIMEOUT_S)
        warm_s, warm_record = predict(Client(url, **options), image, seed=1)
        print(f"warm-up run (not counted): overhead {warm_s - INFERENCE_S:.2f} s")
        print(
            f"{n} gradio_client sessions · {MODEL} · {DURATION_S} s clips · inference "
            f"{INFERENCE_S:.0f} s, no jitter · one app process · {os.cpu_count()} CPUs"
        )
        pids = {"app": app.pid, "emulator": emu.pid}
        rss_before = memory_kb(app.pid)["VmRSS"]
        for shape in shapes:
            p95[shape.name] = {"app": waves(shape, url, data_dir, pids)}
        runs = sum(shape.sessions * shape.waves for shape in shapes)
        grown = memory_kb(app.pid)["VmRSS"] - rss_before
        per_session = grown / runs
        print(
            f"\napp memory: RSS grew {grown / 1024:.0f} MB over {runs} runs, each from its own "
            f"session: {per_session:.0f} KB a session (all still held: Gradio keeps at most "
            f"{MAX_SESSIONS}, playground.ui.app.MAX_SESSIONS)"
        )
        verdicts[
            f"memory per session {per_session:.0f} KB <= {MEMORY_PER_SESSION_TARGET_KB} KB"
        ] = per_session <= MEMORY_PER_SESSION_TARGET_KB
        clip = Path(warm_record["video_path"])
    finally:
        stop(app, emu)
    if not args.no_floor:
        floor = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "floor_app.py"), str(clip), str(floor_port)],
            cwd=work,
            stdout=logs["floor"],
            stderr=subprocess.STDOUT,
            env={**env, "GRADIO_ANALYTICS_ENABLED": "False"},
        )
        floor_url = f"http://127.0.0.1:{floor_port}/"
        try:
            wait_http(floor_url, floor, STARTUP_TIMEOUT_S)
            predict(Client(floor_url, **options), image, seed=1)
            print("\nThe floor: a bare Gradio app, same endpoint, a 5 s sleep (bench/floor_app.py)")
            for shape in shapes:
                p95[shape.name]["floor"] = waves(shape, floor_url, None, {"floor": floor.pid})
        finally:
            stop(floor)
    for log in logs.values():
        log.close()

    print(f"\np95 overhead (median over the waves){'app':>21} {'bare Gradio':>12} {'ours':>8}")
    for name, values in p95.items():
        app_p95, floor_p95 = values["app"], values.get("floor")
        bare = f"{floor_p95:.2f} s" if floor_p95 is not None else "-"
        ours = f"+{app_p95 - floor_p95:.2f} s" if floor_p95 is not None else "-"
        print(f"  {name:<50} {app_p95:.2f} s {bare:>12} {ours:>8}")
    for shape in shapes:
        app_p95, floor_p95 = p95[shape.name]["app"], p95[shape.name].get("floor")
        if floor_p95 is not None:
            verdicts[f"{shape.name}: p95 overhead <= bare + {shape.over_bare_s} s"] = (
                app_p95 <= floor_p95 + shape.over_bare_s
            )
    for name, ok in verdicts.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    print(f"(logs and data in {work})")


if __name__ == "__main__":
    main()
