"""Uploads on a public server: each visitor within a fair share, the cache within its
budget, and one visitor's uploads never making everyone's fail.

The bookkeeping runs on fake clocks over a real directory; the guard is driven as ASGI
middleware and through a launched app (uploads over HTTP, as the page sends them).
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import launch_app, make_image

from playground.ui import uploads
from playground.ui.uploads import UploadGuard, UploadLimits, Uploads

MB = 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def book(tmp_path: Path, **limits: Any) -> tuple[Uploads, Clock, Clock]:
    clock, wall = Clock(), Clock()
    wall.now = 1_700_000_000.0
    cache = tmp_path / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    return Uploads(cache, UploadLimits(**limits), clock=clock, wall=wall), clock, wall


def cached_file(book: Uploads, name: str, size: int, mtime: float) -> Path:
    path = book.cache_dir / name[:2] / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    os.utime(path, (mtime, mtime))
    return path


def test_a_visitor_past_their_count_is_refused_and_others_are_not(tmp_path: Path) -> None:
    guard, clock, _ = book(tmp_path, uploads_per_window=3)
    assert [guard.admit("1.2.3.4", 1000) for _ in range(3)] == [None] * 3
    status, message = guard.admit("1.2.3.4", 1000)
    assert status == 429
    assert "Too many uploads from you" in message and "at most 3 in 10 minutes" in message
    assert "Wait 601 s" in message or "Wait 10 minutes" in message
    assert guard.admit("5.6.7.8", 1000) is None  # someone else is not held up
    clock.now += 601
    assert guard.admit("1.2.3.4", 1000) is None  # the window moved on


def test_a_visitor_past_their_bytes_is_refused_with_how_much(tmp_path: Path) -> None:
    guard, clock, _ = book(tmp_path, bytes_per_window=50 * MB)
    assert guard.admit("a", 30 * MB) is None
    status, message = guard.admit("a", 30 * MB)
    assert status == 429
    assert "You have uploaded 30 MB in the last 10 minutes" in message
    assert "50 MB per visitor" in message and "smaller image" in message
    assert guard.admit("a", 10 * MB) is None  # a smaller one still fits their share
    clock.now += 10 * 60 + 1
    assert guard.admit("a", 45 * MB) is None


def test_a_full_cache_makes_room_from_the_oldest_old_files(tmp_path: Path) -> None:
    guard, _, wall = book(tmp_path, cache_budget_bytes=10 * MB, cleanable_after_s=300)
    oldest = cached_file(guard, "aa-oldest.png", 4 * MB, wall.now - 3000)
    older = cached_file(guard, "bb-older.png", 4 * MB, wall.now - 2000)
    recent = cached_file(guard, "cc-recent.png", 1 * MB, wall.now - 10)  # maybe in use now
    assert guard.admit("a", 3 * MB) is None  # 9 + 3 > 10: the oldest goes, 5 + 3 fits
    assert not oldest.exists() and older.exists() and recent.exists()


def test_when_only_recent_files_fill_it_the_upload_is_refused_in_words(tmp_path: Path) -> None:
    guard, _, wall = book(tmp_path, cache_budget_bytes=10 * MB, cleanable_after_s=300)
    recent = cached_file(guard, "aa-recent.png", 9 * MB, wall.now - 60)
    status, message = guard.admit("a", 3 * MB)
    assert status == 507
    assert "space for uploads is full right now" in message and "try again in a few" in message
    assert "Nothing of yours is lost" in message
    assert recent.exists()  # an upload a run may be reading is never deleted
    assert guard.admit("a", 1 * MB) is None  # what still fits goes in


def test_the_budget_is_a_share_of_the_disk_within_the_cap(tmp_path: Path) -> None:
    guard, _, _ = book(tmp_path, cache_budget_bytes=10**15, disk_share=0.5)
    free = shutil.disk_usage(tmp_path).free
    assert guard.budget(0) == pytest.approx(free * 0.5, rel=0.01)
    capped, _, _ = book(tmp_path, cache_budget_bytes=5 * MB)
    assert capped.budget(0) == 5 * MB


# --------------------------------------------------------------------------- the middleware


def drive(guard: UploadGuard, *, path: str, headers: dict[str, str], peer: str) -> dict:
    sent: list[dict] = []
    reached: list[str] = []

    async def run() -> None:
        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": (peer, 5555),
        }
        await guard(scope, receive, send)

    async def app(scope: dict, receive: Any, send: Any) -> None:
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"[]"})

    guard.app = app
    asyncio.run(run())
    return {"status": sent[0]["status"], "body": sent[-1]["body"], "reached": reached}


def test_the_guard_answers_for_gradio_and_trusts_forwarded_only_on_a_space(
    tmp_path: Path,
) -> None:
    book_, _, _ = book(tmp_path, uploads_per_window=1)
    space = UploadGuard(None, uploads=book_, trust_forwarded=True)
    first = {"content-length": "100", "x-forwarded-for": "9.9.9.9, 10.0.0.1"}
    assert drive(space, path="/gradio_api/upload", headers=first, peer="10.0.0.1")["reached"]
    again = drive(space, path="/gradio_api/upload", headers=first, peer="10.0.0.1")
    assert again["status"] == 429 and not again["reached"]
    assert b"Too many uploads from you" in again["body"]
    other = {"content-length": "100", "x-forwarded-for": "8.8.8.8"}
    assert drive(space, path="/gradio_api/upload", headers=other, peer="10.0.0.1")["reached"]
    # not an upload: never counted
    for _ in range(3):
        assert drive(space, path="/gradio_api/queue/join", headers=first, peer="1.1.1.1")["reached"]

    elsewhere = UploadGuard(None, uploads=book(tmp_path / "b", uploads_per_window=1)[0])
    forged = {"content-length": "100", "x-forwarded-for": "7.7.7.7"}
    assert drive(elsewhere, path="/gradio_api/upload", headers=forged, peer="6.6.6.6")["reached"]
    forged["x-forwarded-for"] = "5.5.5.5"  # a new name every time does not buy a new share
    assert (
        drive(elsewhere, path="/gradio_api/upload", headers=forged, peer="6.6.6.6")["status"] == 429
    )


def test_a_body_without_a_length_counts_as_the_largest_upload(tmp_path: Path) -> None:
    book_, _, _ = book(tmp_path, bytes_per_window=uploads.MAX_UPLOAD_BYTES + 10)
    guard = UploadGuard(None, uploads=book_)
    assert drive(guard, path="/gradio_api/upload", headers={}, peer="1.1.1.1")["reached"]
    second = drive(
        guard, path="/gradio_api/upload", headers={"content-length": "20"}, peer="1.1.1.1"
    )
    assert second["status"] == 429


def test_a_public_server_limits_each_visitors_uploads_over_http(tmp_path: Path) -> None:
    start_image = make_image(tmp_path / "start.png")

    def small_share(mp: pytest.MonkeyPatch) -> None:
        mp.setattr(uploads, "UploadLimits", functools.partial(UploadLimits, uploads_per_window=2))

    env = {"PLAYGROUND_SHARED": "1", "PLAYGROUND_DAILY_USD": "1", "WAVESPEED_API_KEY": "k"}
    with launch_app(tmp_path, start_image, env, prepare=small_share) as app:

        def upload() -> httpx.Response:
            files = {"files": ("a.png", start_image.read_bytes(), "image/png")}
            return httpx.post(app.url + "/gradio_api/upload", files=files, timeout=30)

        assert [upload().status_code for _ in range(2)] == [200, 200]
        refused = upload()
        assert refused.status_code == 429, refused.text
        assert refused.text.startswith("Too many uploads from you")
        assert refused.headers["retry-after"] == "60"
        assert app.get("/config").status_code == 200  # the rest of the server is untouched


def test_a_local_server_does_not_limit_its_own_user(tmp_path: Path) -> None:
    start_image = make_image(tmp_path / "start.png")

    def small_share(mp: pytest.MonkeyPatch) -> None:
        mp.setattr(uploads, "UploadLimits", functools.partial(UploadLimits, uploads_per_window=1))

    with launch_app(tmp_path, start_image, {}, prepare=small_share) as app:
        files = {"files": ("a.png", start_image.read_bytes(), "image/png")}
        codes = [
            httpx.post(app.url + "/gradio_api/upload", files=files, timeout=30).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 200]


def test_no_visitor_fills_more_than_a_quarter_of_the_cache(tmp_path: Path) -> None:
    """Two 39 MB uploads once filled a 100 MB cache and every upload failed after."""
    guard, _, _ = book(tmp_path, cache_budget_bytes=40 * MB)
    assert guard.admit("hog", 8 * MB) is None
    status, message = guard.admit("hog", 8 * MB)
    assert status == 429 and "this server takes 10 MB per visitor" in message
    assert [guard.admit(who, 8 * MB) for who in ("b", "c", "d")] == [None] * 3
