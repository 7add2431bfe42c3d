"""No paid result is lost: a run accepted by the API survives kill -9 of the app.

The real app and the real emulator run as separate processes on loopback; the app is
killed while a task runs, started again, and must finish that task from its history
without submitting anything twice.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import video_tags
from gradio_client import Client, handle_file

from playground.flow import generation
from playground.flow.recovery import Recovery, resume_unfinished
from playground.media import videos
from playground.store.history import History
from wavespeed_client import ConnectionPools

ROOT = Path(__file__).resolve().parent.parent
IMAGE = ROOT / "presets" / "astronaut.jpg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def runs_in(db: Path) -> list[tuple[str, str, dict]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT id, status, record FROM runs").fetchall()
    return [(i, s, json.loads(r)) for i, s, r in rows]


@pytest.fixture
def emulator_process(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "emulator.py"),
            "--port",
            str(port),
            "--inference-seconds",
            "6",
            "--data-dir",
            str(tmp_path / "emulator"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(f"{base}/__emulator__/stats"), 20, "the emulator")
    yield base
    proc.kill()
    proc.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def start_app(tmp_path: Path, emulator: str, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "WAVESPEED_API_KEY": "test-key",
        "WAVESPEED_BASE_URL": emulator,
        "PLAYGROUND_DATA_DIR": str(tmp_path / "data"),
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    env.pop("PLAYGROUND_OFFLINE", None)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: _answers(f"http://127.0.0.1:{port}/"), 60, "the app")
    return proc


@pytest.mark.timeout(180)
def test_a_task_running_when_the_app_is_killed_completes_after_restart(tmp_path, emulator_process):
    port = free_port()
    db = tmp_path / "data" / "history.db"
    app = start_app(tmp_path, emulator_process, port)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        client.submit(
            image=handle_file(str(IMAGE)),
            prompt="slow push-in",
            last_image=None,
            duration=2,
            aspect_ratio="16:9",
            camera_fixed=False,
            seed=777,
            model="bytedance/seedance-v1-lite-i2v-720p",
            api_name="/generate",
        )
        # Accepted and recorded, not yet finished: the moment to crash.
        accepted = wait_until(lambda: runs_in(db), 30, "the accepted run in history")
        assert accepted[0][1] != "completed"
    finally:
        app.send_signal(signal.SIGKILL)
        app.wait()
    task_id = accepted[0][0]
    stats = httpx.get(f"{emulator_process}/__emulator__/stats").json()
    assert stats["submits"] == 1

    app = start_app(tmp_path, emulator_process, port)
    try:
        done = wait_until(
            lambda: [r for r in runs_in(db) if r[1] == "completed"], 60, "the resumed run"
        )
    finally:
        app.send_signal(signal.SIGKILL)
        app.wait()

    ((run_id, _, record),) = done
    assert run_id == task_id and record["seed"] == 777
    video = Path(record["video_path"])
    info = videos.probe_video(video)
    assert (info.width, info.height, info.frames) == (1248, 704, 48)
    assert json.loads(video.with_suffix(".json").read_text())["id"] == task_id
    assert json.loads(video_tags(video)["comment"])["seed"] == 777
    # Zero duplicates: the emulator saw one submit in all, and history holds one run.
    assert httpx.get(f"{emulator_process}/__emulator__/stats").json()["submits"] == 1
    assert len(runs_in(db)) == 1


def unfinished_record(run_id: str, api_base: str) -> generation.RunRecord:
    return generation.RunRecord(
        id=run_id,
        model="bytedance/seedance-v1-lite-i2v-720p",
        status="processing",
        seed=1,
        inputs={"duration": 2},
        cost_usd=0.064,
        backend="WaveSpeed",
        created_at="2026-01-01",
        api_base=api_base,
        video_path="/nonexistent/x.mp4",
    )


def test_runs_that_cannot_be_polled_again_are_marked_interrupted_not_lost(tmp_path):
    history = History(tmp_path / "h.db")
    history.save(unfinished_record("a" * 32, "http://x").to_json(), account="o", resumable=False)
    recovery = Recovery(history, generation.DurationStats())
    try:
        resumed = resume_unfinished(
            history, recovery, api_key="k", base_url="http://x", pools=ConnectionPools()
        )
    finally:
        recovery.stop()
    assert resumed == []
    run = history.get("a" * 32)
    assert run.status == "interrupted" and "a" * 32 in run.record["error"]
    assert history.unfinished() == []


def test_runs_from_another_api_address_wait_for_it_rather_than_fail(tmp_path):
    history = History(tmp_path / "h.db")
    record = unfinished_record("b" * 32, "http://old-proxy")
    history.save(record.to_json(), account="o", resumable=True)
    recovery = Recovery(history, generation.DurationStats())
    try:
        resumed = resume_unfinished(
            history, recovery, api_key="k", base_url="http://new", pools=ConnectionPools()
        )
    finally:
        recovery.stop()
    assert resumed == []
    assert [r.id for r in history.unfinished()] == ["b" * 32]
