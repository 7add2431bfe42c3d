"""A local server speaking WaveSpeed's v3 HTTP contract, for offline mode, tests and benchmarks.

It accepts the Seedance image-to-video models, runs each task on a wall-clock schedule,
renders a labelled synthetic clip (synthetic.render_motion_clip) and can inject the faults a
client must survive. See shared/WAVESPEED_API.md for the contract it follows.

    python emulator.py --port 8765            # then WAVESPEED_BASE_URL=http://127.0.0.1:8765
    python emulator.py --reuse-renders        # load tests: one render per distinct clip
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import hashlib
import io
import logging
import mimetypes
import os
import random
import re
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from PIL import Image, ImageDraw, UnidentifiedImageError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from playground.emulator import synthetic

log = logging.getLogger("emulator")

MODELS: frozenset[str] = frozenset(
    f"bytedance/seedance-v1-{tier}-i2v-{res}"
    for tier in ("lite", "pro")
    for res in ("480p", "720p", "1080p")
)
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # the API's limit for images and uploads
MAX_PROMPT_CHARS = 2000
MIN_IMAGE_SIDE = 300
DURATION_RANGE = (2, 12)
DEFAULT_DURATION = 5
SEED_MAX = 2_147_483_647
KEEP_ALIVE_S = 75  # idle keep-alive connections, see start_in_thread
CREATED_PHASE_S = 0.2  # how long a new task reports "created" before "processing"
PLACEHOLDER_SIZE = (1280, 720)  # stand-in source for URLs the emulator will not fetch
RENDER_WORKERS = 2  # concurrent clip renders; each already uses both cores
SIMPLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
RESULT_5XX = ((502, "Bad Gateway"), (503, "Service Unavailable"), (500, "Internal Server Error"))
_SERVER_SEND = "emulator.server_send"  # scope key: the server's own send (see _DropConnection)


@dataclass
class Faults:
    """Injected failures. Counters apply to the next N matching requests and count down;
    fail_code/fail_message, never_finish and nsfw stick to the tasks created while set;
    hold holds the tasks created while set only for as long as it stays set."""

    submit_429: int = 0  # 429 + Retry-After: 1, no task
    submit_503: int = 0  # 503, no task
    drop_after_accept: int = 0  # task created, then the connection closes with no reply
    result_5xx: int = 0  # result GETs answer 502, 503, 500 in turn
    result_drop: int = 0  # result GETs: the connection closes with no reply (a lost link)
    slow_seconds: float = 0.0  # delay before every API reply
    fail_code: int | None = None  # tasks end "failed" with this data.code
    fail_message: str = ""
    never_finish: bool = False  # tasks stay "processing"
    hold: bool = False  # new tasks stay "processing" until it is cleared, then finish as due
    envelope_error: int = 0  # API replies are HTTP 200 carrying {"code": 500, ...}
    nsfw: bool = False  # completed tasks report has_nsfw_contents [true]


@dataclass
class EmulatorConfig:
    """Behaviour of a running emulator; safe to change between requests."""

    inference_seconds: float = 3.0
    jitter: float = 0.0  # fraction: 0.2 draws each task's time uniformly within +-20%
    rng_seed: int = 0
    api_keys: frozenset[str] | None = None  # None: any non-empty bearer token is accepted
    balance: float = 10.0
    # Load tests only: render each distinct clip (resolution, aspect ratio, duration,
    # camera_fixed, input images) once and give later tasks a copy, whatever their seed.
    # Every task still has its own schedule and output URL; only the MP4 encoding, which
    # real WaveSpeed does on its GPUs, stays off the CPUs the app under test shares.
    reuse_renders: bool = False
    faults: Faults = field(default_factory=Faults)


class _Reply(Exception):
    """Ends request handling early with `response` (auth failures, faults, 400s)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class _FetchError(Exception):
    """An input image could not be obtained or decoded (API code 1402)."""


def _ok(data: Any) -> JSONResponse:
    return JSONResponse({"code": 200, "message": "success", "data": data})


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(JSONResponse({"code": status, "message": message}, status, headers=headers))


def _stored_name(filename: str) -> str:
    """A fresh simple file name for an upload, keeping its extension when that is safe."""
    suffix = Path(filename).suffix.lower()
    return uuid.uuid4().hex + (suffix if SIMPLE_NAME.match("x" + suffix) else "")


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------- config patching


def _coerce(name: str, kind: str, value: Any) -> Any:
    """Check one JSON value against a config field's annotation (as written above)."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if value is None and kind.endswith("| None"):
        return None
    if kind.startswith("float") and (is_int or isinstance(value, float)):
        return float(value)
    if kind.startswith("int") and is_int:
        return value
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "str" and isinstance(value, str):
        return value
    if (
        kind.startswith("frozenset")
        and isinstance(value, list)
        and all(isinstance(v, str) for v in value)
    ):
        return frozenset(value)
    raise ValueError(f"{name} must be {kind}")


def _planned_patch(
    target: Any, patch: dict[str, Any], prefix: str = ""
) -> list[tuple[Any, str, Any]]:
    """(object, field, value) assignments for a JSON patch; ValueError before any is made."""
    kinds = {f.name: str(f.type) for f in fields(target)}
    plan: list[tuple[Any, str, Any]] = []
    for key, value in patch.items():
        if key not in kinds:
            raise ValueError(f"unknown config field {prefix}{key}")
        if key == "faults":
            if not isinstance(value, dict):
                raise ValueError("faults must be an object")
            plan += _planned_patch(target.faults, value, "faults.")
        else:
            plan.append((target, key, _coerce(prefix + key, kinds[key], value)))
    return plan


def apply_config_patch(config: EmulatorConfig, patch: dict[str, Any]) -> None:
    """Update `config` in place from partial JSON (as POST /__emulator__/config takes)."""
    for target, key, value in _planned_patch(config, patch):
        setattr(target, key, value)


def _config_json(config: EmulatorConfig) -> dict[str, Any]:
    data = asdict(config)
    data["api_keys"] = sorted(config.api_keys) if config.api_keys is not None else None
    return data


# ---------------------------------------------------------------- input validation


@dataclass(frozen=True)
class _ImageRef:
    """An input image as the request gave it: inline bytes, one of our uploads, or elsewhere."""

    data: bytes | None = None
    upload_name: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class _Job:
    model: str
    image: _ImageRef
    last_image: _ImageRef | None
    duration: int
    aspect_ratio: str | None
    camera_fixed: bool
    seed: int


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_data_uri(name: str, value: str) -> _ImageRef:
    header, _, payload = value.partition(",")
    mime = header[len("data:") :].split(";")[0].lower()
    if not header.endswith(";base64"):
        raise _error(400, f"{name} data URI must be base64-encoded")
    if mime not in ("image/png", "image/jpeg", "image/jpg"):
        raise _error(400, f"{name} must be a jpg or png image")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _error(400, f"{name} is not valid base64") from None
    if len(data) > MAX_UPLOAD_BYTES:
        raise _error(400, f"{name} must be at most 10 MB")
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, size = im.format, im.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError):
        raise _error(400, f"{name} is not a decodable jpg or png image") from None
    if fmt not in ("PNG", "JPEG"):
        raise _error(400, f"{name} must be a jpg or png image")
    if min(size) < MIN_IMAGE_SIDE:
        raise _error(400, f"{name} must be at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} pixels")
    return _ImageRef(data=data)


def _parse_image(name: str, value: Any, own_netloc: str) -> _ImageRef:
    if not isinstance(value, str) or not value:
        raise _error(400, f"{name} must be an http(s) URL or a base64 data URI")
    if value.startswith("data:"):
        return _parse_data_uri(name, value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _error(400, f"{name} must be an http(s) URL or a base64 data URI")
    upload = parts.path.removeprefix("/uploads/")
    if parts.netloc == own_netloc and upload != parts.path:
        return _ImageRef(upload_name=upload, url=value)
    return _ImageRef(url=value)


def _validate(model: str, body: Any, own_netloc: str) -> _Job:
    """The model table of the contract, as 400 messages."""
    if not isinstance(body, dict):
        raise _error(400, "request body must be a JSON object")
    if "image" not in body or body["image"] in (None, ""):
        raise _error(400, "image is required")
    image = _parse_image("image", body["image"], own_netloc)
    last = body.get("last_image")
    last_image = _parse_image("last_image", last, own_netloc) if last not in (None, "") else None
    prompt = body.get("prompt", "")
    if prompt is not None and (not isinstance(prompt, str) or len(prompt) > MAX_PROMPT_CHARS):
        raise _error(400, f"prompt must be a string of at most {MAX_PROMPT_CHARS} characters")
    if "-pro-" in model and body.get("duration") is None:
        raise _error(400, f"duration is required for {model}")
    duration = body.get("duration")
    duration = DEFAULT_DURATION if duration is None else duration
    low, high = DURATION_RANGE
    if not _is_int(duration) or not low <= duration <= high:
        raise _error(400, f"duration must be an integer between {low} and {high}")
    aspect_ratio = body.get("aspect_ratio")
    if aspect_ratio is not None and aspect_ratio not in synthetic.ASPECT_RATIOS:
        raise _error(400, f"aspect_ratio must be one of {', '.join(synthetic.ASPECT_RATIOS)}")
    camera_fixed = body.get("camera_fixed", False)
    if not isinstance(camera_fixed, bool):
        raise _error(400, "camera_fixed must be a boolean")
    seed = body.get("seed", -1)
    if not _is_int(seed) or not (seed == -1 or 0 <= seed <= SEED_MAX):
        raise _error(400, f"seed must be -1 or an integer between 0 and {SEED_MAX}")
    return _Job(model, image, last_image, duration, aspect_ratio, camera_fixed, seed)


# ---------------------------------------------------------------- rendering (worker threads)


def _placeholder(url: str, size: tuple[int, int] = PLACEHOLDER_SIZE) -> Image.Image:
    """A deterministic gradient with a few shapes, standing in for an image we never fetch."""
    digest = hashlib.sha256(url.encode()).digest()
    corners = Image.frombytes("RGB", (2, 2), digest[:12])
    image = corners.resize(size, Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    for i in range(4):
        x, y = digest[12 + i] / 255 * size[0], digest[16 + i] / 255 * size[1]
        r = size[1] * (0.08 + digest[20 + i] / 255 * 0.12)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(digest[24 + i : 27 + i]))
    return image


def _load(ref: _ImageRef, uploads: Path) -> Image.Image:
    if ref.data is None and ref.upload_name is None:
        return _placeholder(ref.url or "")
    try:
        if ref.data is not None:
            source: Any = io.BytesIO(ref.data)
        elif SIMPLE_NAME.match(ref.upload_name or "") and (uploads / ref.upload_name).is_file():
            source = uploads / ref.upload_name
        else:
            raise _FetchError(f"media URL fetch failed: {ref.url} returned 404")
        with Image.open(source) as im:
            return im.convert("RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as exc:
        raise _FetchError(
            f"media URL fetch failed: {ref.url or 'image'} is not a decodable image"
        ) from exc


def _clip_key(job: _Job) -> tuple[Any, ...]:
    """What a rendered clip depends on, but the seed (for reuse_renders)."""

    def image(ref: _ImageRef | None) -> str | None:
        if ref is None:
            return None
        if ref.data is not None:  # a digest, not the bytes: the key outlives the request
            return "sha256:" + hashlib.sha256(ref.data).hexdigest()
        return ref.upload_name or ref.url

    resolution = job.model.rsplit("-", 1)[-1]
    return (
        resolution,
        job.aspect_ratio,
        job.duration,
        job.camera_fixed,
        image(job.image),
        image(job.last_image),
    )


def _link_or_copy(source: Path, dest: Path) -> Path:
    """`dest` as another name for `source` (outputs are never changed once written)."""
    try:
        os.link(source, dest)
    except OSError:  # a file system without hard links
        shutil.copyfile(source, dest)
    return dest


def _render(job: _Job, seed: int, dest: Path, uploads: Path) -> Path:
    start = _load(job.image, uploads)
    end = _load(job.last_image, uploads) if job.last_image else None
    resolution = job.model.rsplit("-", 1)[-1]
    size = synthetic.output_size(resolution, job.aspect_ratio, start.size)
    return synthetic.render_motion_clip(
        start,
        dest,
        size=size,
        duration_s=job.duration,
        end=end,
        camera_fixed=job.camera_fixed,
        seed=seed,
    )


# ---------------------------------------------------------------- tasks


@dataclass
class _Task:
    id: str
    model: str
    created_at: str
    started: float  # time.monotonic() at submit
    inference_s: float
    fail_code: int | None
    fail_message: str
    never_finish: bool
    nsfw: bool
    render: Future[Path] | None
    rendered_at: float | None = None  # time.monotonic() when the render finished
    hold_by: EmulatorConfig | None = None  # created under faults.hold: held while it is set
    released_at: float | None = None  # time.monotonic() when a poll first saw the hold gone

    def _held(self, now: float) -> bool:
        """Whether faults.hold still holds this task; notes when it is first seen released."""
        if self.hold_by is None:
            return False
        if self.hold_by.faults.hold:
            return True
        if self.released_at is None:
            self.released_at = now
        return False

    @property
    def done_at(self) -> float | None:
        """Monotonic time from which `state` reports a terminal status (None: not yet known).

        For benchmarks: in one process it is comparable with a client's time.monotonic().
        """
        if self.never_finish or self._held(time.monotonic()):
            return None
        due = max(self.started + self.inference_s, self.released_at or 0.0)
        if self.render is None:
            return due
        if self.rendered_at is None:
            return None
        return max(due, self.rendered_at)

    def state(self, now: float) -> tuple[str, str, int | None]:
        """(status, error, code) at monotonic time `now`."""
        elapsed = now - self.started
        rendered = self.render is None or self.render.done()
        held = self._held(now)
        if self.never_finish or held or elapsed < self.inference_s or not rendered:
            return ("created" if elapsed < CREATED_PHASE_S else "processing"), "", None
        if self.fail_code is not None:
            return "failed", self.fail_message, self.fail_code
        if self.render is not None and self.render.cancelled():
            return "failed", "internal error: the emulator shut down", 5000
        exc = self.render.exception() if self.render is not None else None
        if isinstance(exc, _FetchError):
            return "failed", str(exc), 1402
        if exc is not None:
            return "failed", f"internal error: {exc}", 5000
        return "completed", "", None


@dataclass
class Stats:
    submits: int = 0
    result_gets: int = 0
    uploads: int = 0
    upload_bytes: int = 0
    renders: int = 0  # clips actually encoded (fewer than tasks with reuse_renders)


class Emulator:
    """State behind one app: config, tasks, uploads, counters. Lives in `app.state.emulator`."""

    def __init__(self, config: EmulatorConfig, data_dir: Path) -> None:
        self.config = config
        self.data_dir = data_dir
        self.uploads_dir = data_dir / "uploads"
        self.outputs_dir = data_dir / "outputs"
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        self.outputs_dir.mkdir(parents=True, exist_ok=True)
        self.rng = random.Random(config.rng_seed)
        self.tasks: dict[str, _Task] = {}
        self.tickets: dict[str, tuple[str, int]] = {}  # token -> (stored name, declared size)
        self.counters = Stats()
        self._fault_lock = threading.Lock()
        self._result_5xx_turn = 0
        self._executor = ThreadPoolExecutor(RENDER_WORKERS, thread_name_prefix="emulator-render")
        self._shared_renders: dict[tuple[Any, ...], Future[Path]] = {}  # for reuse_renders
        self._shared_lock = threading.Lock()

    def stats(self) -> dict[str, int]:
        return {**asdict(self.counters), "tasks": len(self.tasks)}

    def take(self, fault: str) -> bool:
        """Use up one count of a counter fault; False when none is left."""
        with self._fault_lock:
            left = getattr(self.config.faults, fault)
            if left <= 0:
                return False
            setattr(self.config.faults, fault, left - 1)
            return True

    def next_result_5xx(self) -> tuple[int, str]:
        code = RESULT_5XX[self._result_5xx_turn % len(RESULT_5XX)]
        self._result_5xx_turn += 1
        return code

    def create_task(self, job: _Job) -> _Task:
        cfg, faults = self.config, self.config.faults
        task_id = uuid.uuid4().hex
        spread = self.rng.uniform(-cfg.jitter, cfg.jitter)
        inference_s = max(0.0, cfg.inference_seconds * (1 + spread))
        seed = job.seed if job.seed != -1 else self.rng.randint(0, SEED_MAX)
        doomed = faults.fail_code is not None or faults.never_finish
        render = None if doomed else self._start_render(job, seed, f"{task_id}.mp4")
        task = _Task(
            task_id,
            job.model,
            _now_iso(),
            time.monotonic(),
            inference_s,
            faults.fail_code,
            faults.fail_message,
            faults.never_finish,
            faults.nsfw,
            render,
            hold_by=cfg if faults.hold else None,
        )
        if render is not None:
            render.add_done_callback(lambda _: setattr(task, "rendered_at", time.monotonic()))
        self.tasks[task_id] = task
        log.info("task %s created (%s, %.2fs)", task_id, job.model, inference_s)
        return task

    def _start_render(self, job: _Job, seed: int, name: str) -> Future[Path]:
        """Render the task's clip to outputs/<name>; with reuse_renders, copy an earlier
        render of the same clip (or the one in progress) instead."""
        dest = self.outputs_dir / name
        if not self.config.reuse_renders:
            return self._submit_render(job, seed, dest)
        key = _clip_key(job)
        with self._shared_lock:
            shared = self._shared_renders.get(key)
            first = shared is None
            if shared is None:
                shared = self._shared_renders[key] = self._submit_render(job, seed, dest)
        if first:  # callbacks outside the lock: one on a done future runs right here
            shared.add_done_callback(lambda f: self._forget_failed(key, f))
            return shared
        copy: Future[Path] = Future()

        def copy_when_done(source: Future[Path]) -> None:
            if source.cancelled():
                copy.cancel()
                return
            try:
                copy.set_result(_link_or_copy(source.result(), dest))
            except Exception as exc:  # the task then fails as the shared render did
                copy.set_exception(exc)

        shared.add_done_callback(copy_when_done)
        return copy

    def _submit_render(self, job: _Job, seed: int, dest: Path) -> Future[Path]:
        self.counters.renders += 1
        return self._executor.submit(_render, job, seed, dest, self.uploads_dir)

    def _forget_failed(self, key: tuple[Any, ...], render: Future[Path]) -> None:
        """A failed render is not reused: the next task with these inputs tries again."""
        if render.cancelled() or render.exception() is not None:
            with self._shared_lock:
                if self._shared_renders.get(key) is render:
                    del self._shared_renders[key]

    def prediction(self, task: _Task, base_url: str) -> dict[str, Any]:
        status, error, code = task.state(time.monotonic())
        done = status in ("completed", "failed")
        data: dict[str, Any] = {
            "id": task.id,
            "model": task.model,
            "outputs": [f"{base_url}/outputs/{task.id}.mp4"] if status == "completed" else [],
            "urls": {"get": f"{base_url}/api/v3/predictions/{task.id}/result"},
            "has_nsfw_contents": [task.nsfw] if status == "completed" else [],
            "status": status,
            "created_at": task.created_at,
            "error": error,
            "timings": {"inference": round(task.inference_s * 1000) if done else 0},
        }
        if code is not None:
            data["code"] = code
        return data

    def store_upload(self, filename: str, data: bytes) -> str:
        """Save bytes under a fresh simple name (keeping a safe extension); return that name."""
        name = _stored_name(filename)
        self.save_upload(name, data)
        return name

    def save_upload(self, name: str, data: bytes) -> None:
        (self.uploads_dir / name).write_bytes(data)
        self.counters.uploads += 1
        self.counters.upload_bytes += len(data)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------- HTTP layer


class _EmulatorApp(FastAPI):
    """Keeps the server's own `send` in the scope so a fault can drop the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[_SERVER_SEND] = send
        await super().__call__(scope, receive, send)


class _DropConnection(Response):
    """Closes the TCP connection without any reply, as a dropped link or proxy would.

    uvicorn's `send` is a method of its per-request cycle, which holds the transport;
    aborting that is the only way ASGI offers to send nothing at all. Elsewhere (another
    server, a test client) it falls back to a reply cut off after its status line.
    """

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cycle = getattr(scope.get(_SERVER_SEND), "__self__", None)
        transport = getattr(cycle, "transport", None)
        if isinstance(transport, asyncio.WriteTransport):
            transport.abort()
            # Let the server see the connection is gone, so it does not answer a 500.
            for _ in range(10):
                if getattr(cycle, "disconnected", True):
                    break
                await asyncio.sleep(0)
            return
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]}
        )
        raise ConnectionAbortedError("emulator fault: a dropped connection")


def _emulator(request: Request) -> Emulator:
    return request.app.state.emulator


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _api_guard(request: Request) -> None:
    """What stands before every API reply: the slow fault, the key check, envelope errors."""
    emu = _emulator(request)
    if emu.config.faults.slow_seconds > 0:
        await asyncio.sleep(emu.config.faults.slow_seconds)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    keys = emu.config.api_keys
    if scheme.lower() != "bearer" or not token.strip() or (keys is not None and token not in keys):
        raise _error(401, "Invalid API key")
    if emu.take("envelope_error"):
        raise _Reply(
            JSONResponse({"code": 500, "message": "internal envelope error", "data": None})
        )


async def _read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        if len(buf) > limit:
            raise _error(413, f"file too large: the limit is {limit // (1024 * 1024)} MB")
    return bytes(buf)


def _media_type(filename: str, content_type: str | None) -> str:
    mime = content_type or mimetypes.guess_type(filename)[0] or ""
    major = mime.split("/")[0]
    return major if major in ("image", "video", "audio") else "file"


def _api_router() -> APIRouter:
    api = APIRouter(prefix="/api/v3", dependencies=[Depends(_api_guard)])

    @api.get("/balance")
    @api.get("/account/balance")
    async def balance(request: Request) -> Response:
        return _ok({"balance": _emulator(request).config.balance})

    @api.post("/media/upload/binary")
    async def upload_binary(request: Request) -> Response:
        form = await request.form(max_files=1)
        part = form.get("file")
        if part is None or isinstance(part, str):
            raise _error(400, "multipart field 'file' is required")
        data = await _read_limited(_chunks(part), MAX_UPLOAD_BYTES)
        filename = Path(part.filename or "upload").name
        name = _emulator(request).store_upload(filename, data)
        return _ok(
            {
                "type": _media_type(filename, part.content_type),
                "download_url": f"{_base_url(request)}/uploads/{name}",
                "filename": filename,
                "size": len(data),
            }
        )

    @api.post("/media/uploads")
    async def upload_ticket(request: Request) -> Response:
        body = await _json_body(request)
        body = body if isinstance(body, dict) else {}
        filename, size = body.get("filename"), body.get("size")
        if not isinstance(filename, str) or not filename or not _is_int(size) or size < 0:
            raise _error(400, "filename (string) and size (integer bytes) are required")
        if size > MAX_UPLOAD_BYTES:
            raise _error(413, "file too large: the limit is 10 MB")
        content_type = body.get("content_type") or "application/octet-stream"
        token = uuid.uuid4().hex
        name = _stored_name(filename)
        _emulator(request).tickets[token] = (name, size)
        base = _base_url(request)
        return _ok(
            {
                "upload": {
                    "method": "PUT",
                    "url": f"{base}/__upload__/{token}",
                    "headers": {"Content-Type": content_type},
                },
                "download_url": f"{base}/uploads/{name}",
                "filename": Path(filename).name,
                "size": size,
            }
        )

    @api.get("/predictions/{task_id}/result")
    @api.get("/predictions/{task_id}")
    async def result(task_id: str, request: Request) -> Response:
        emu = _emulator(request)
        emu.counters.result_gets += 1
        if emu.take("result_5xx"):
            status, message = emu.next_result_5xx()
            raise _error(status, message)
        if emu.take("result_drop"):
            return _DropConnection()
        task = emu.tasks.get(task_id)
        if task is None:
            raise _error(404, f"prediction {task_id} not found")
        return _ok(emu.prediction(task, _base_url(request)))

    @api.post("/{model_id:path}")
    async def submit(model_id: str, request: Request) -> Response:
        emu = _emulator(request)
        emu.counters.submits += 1
        if model_id not in MODELS:
            raise _error(404, f"model {model_id} not found")
        if emu.take("submit_429"):
            raise _error(429, "Too Many Requests", headers={"Retry-After": "1"})
        if emu.take("submit_503"):
            raise _error(503, "Service Unavailable")
        job = _validate(model_id, await _json_body(request), request.url.netloc)
        task = emu.create_task(job)
        if emu.take("drop_after_accept"):
            return _DropConnection()
        return _ok(emu.prediction(task, _base_url(request)))

    return api


async def _chunks(part: Any, size: int = 1024 * 1024) -> AsyncIterator[bytes]:
    while chunk := await part.read(size):
        yield chunk


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise _error(400, "request body must be a JSON object") from None


def _file_routes(app: FastAPI) -> None:
    """Uploads and outputs, served without auth like a CDN; only simple names."""

    def serve(folder: Path, name: str, media_type: str | None = None) -> Response:
        path = folder / name
        if not SIMPLE_NAME.match(name) or ".." in name or not path.is_file():
            raise _error(404, "file not found")
        return FileResponse(path, media_type=media_type)

    @app.get("/uploads/{name}")
    async def get_upload(name: str, request: Request) -> Response:
        return serve(_emulator(request).uploads_dir, name)

    @app.get("/outputs/{name}")
    async def get_output(name: str, request: Request) -> Response:
        return serve(_emulator(request).outputs_dir, name, "video/mp4")

    @app.put("/__upload__/{token}")
    async def put_upload(token: str, request: Request) -> Response:
        emu = _emulator(request)
        ticket = emu.tickets.pop(token, None)
        if ticket is None:
            raise _error(404, "unknown or used upload ticket")
        name, declared = ticket
        data = await _read_limited(request.stream(), MAX_UPLOAD_BYTES)
        if len(data) != declared:
            raise _error(400, f"expected {declared} bytes, got {len(data)}")
        emu.save_upload(name, data)
        return Response(status_code=200)


def _admin_routes(app: FastAPI) -> None:
    """Test and benchmark controls; no auth, since the emulator only serves this machine."""

    @app.get("/__emulator__/stats")
    async def stats(request: Request) -> Response:
        return JSONResponse(_emulator(request).stats())

    @app.get("/__emulator__/config")
    async def get_config(request: Request) -> Response:
        return JSONResponse(_config_json(_emulator(request).config))

    @app.post("/__emulator__/config")
    async def set_config(request: Request) -> Response:
        emu, patch = _emulator(request), await _json_body(request)
        if not isinstance(patch, dict):
            raise _error(400, "config patch must be a JSON object")
        try:
            apply_config_patch(emu.config, patch)
        except ValueError as exc:
            raise _error(400, str(exc)) from None
        if "rng_seed" in patch:
            emu.rng.seed(emu.config.rng_seed)
        return JSONResponse(_config_json(emu.config))


def create_app(config: EmulatorConfig | None = None, data_dir: Path | None = None) -> FastAPI:
    """The emulator as an ASGI app; data_dir holds uploads and rendered outputs."""
    emu = Emulator(
        config or EmulatorConfig(),
        Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="emulator-")),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(emu.close)  # let in-flight renders finish writing

    app = _EmulatorApp(
        title="WaveSpeed emulator",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.emulator = emu

    async def reply(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, _Reply)
        return exc.response

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return JSONResponse({"code": exc.status_code, "message": str(exc.detail)}, exc.status_code)

    app.add_exception_handler(_Reply, reply)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.include_router(_api_router())
    _file_routes(app)
    _admin_routes(app)
    return app


# ---------------------------------------------------------------- running it


class RunningEmulator:
    """An emulator served by uvicorn in a daemon thread. Use as a context manager."""

    def __init__(
        self,
        server: uvicorn.Server,
        thread: threading.Thread,
        app: FastAPI,
        base_url: str,
        owned_dir: Path | None,
    ) -> None:
        self._server = server
        self._thread = thread
        self._owned_dir = owned_dir
        self.app = app
        self.base_url = base_url
        self.emulator: Emulator = app.state.emulator

    @property
    def config(self) -> EmulatorConfig:
        return self.emulator.config

    @property
    def data_dir(self) -> Path:
        return self.emulator.data_dir

    def stats(self) -> dict[str, int]:
        return self.emulator.stats()

    def wait(self) -> None:
        """Block until the server stops (short joins keep Ctrl+C responsive)."""
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _display_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def start_in_thread(
    config: EmulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    data_dir: Path | None = None,
) -> RunningEmulator:
    """Serve an emulator on host:port (0 picks a free port); returns once it accepts."""
    owned_dir = None if data_dir else Path(tempfile.mkdtemp(prefix="emulator-"))
    app = create_app(config, data_dir or owned_dir)
    # Binding here, not in uvicorn, tells us the port that port=0 picked.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            http="h11",
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
            # Idle keep-alive connections live longer here than in clients' pools (httpx
            # drops them after 5 s), as behind real proxies (nginx: 75 s). uvicorn's default
            # of 5 s equals httpx's: a client then reuses a connection the server is just
            # closing, and a submit sent on it ends as "outcome unknown".
            timeout_keep_alive=KEEP_ALIVE_S,
        )
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="emulator", daemon=True
    )
    thread.start()
    startup_deadline = time.monotonic() + 10  # uvicorn starts in well under a second
    while not server.started:
        if not thread.is_alive() or time.monotonic() > startup_deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the emulator failed to start")
        time.sleep(0.01)
    base_url = f"http://{_display_host(host)}:{sock.getsockname()[1]}"
    return RunningEmulator(server, thread, app, base_url, owned_dir)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local WaveSpeed v3 emulator (Seedance i2v).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--inference-seconds", type=float, default=3.0)
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument(
        "--reuse-renders",
        action="store_true",
        help="load tests: render each distinct clip once and serve copies, whatever the seed",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = EmulatorConfig(
        inference_seconds=args.inference_seconds,
        jitter=args.jitter,
        reuse_renders=args.reuse_renders,
    )
    if args.data_dir:
        args.data_dir.mkdir(parents=True, exist_ok=True)
    running = start_in_thread(config, host=args.host, port=args.port, data_dir=args.data_dir)
    print(f"WaveSpeed emulator at {running.base_url}", flush=True)
    try:
        running.wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


if __name__ == "__main__":
    main()
