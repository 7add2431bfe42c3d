"""Seedance playground: a Gradio app for image-to-video with ByteDance Seedance on WaveSpeed.

UI only: layout, event wiring and launch. The work is done by `generation` (one run),
`seedance` (the model), `media` (pixels), `wavespeed_client` (HTTP) and `emulator` (offline).
Nothing runs at import; `python app.py` builds and launches.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import os
import threading
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gradio as gr

import generation
import history
import images
import media
import prompting
import quotas
import seedance
import snippets
from sessions import Backend, NoKey, Session, backends, new_session
from wavespeed_client import (
    SubmissionOutcomeUnknown,
    TaskFailed,
    TaskTimeout,
    WaveSpeedError,
)

log = logging.getLogger("playground")

PRESETS_DIR = Path(__file__).parent / "presets"
# Generating is a remote wait, not local compute: many sessions may wait side by side.
GENERATE_CONCURRENCY = 64
AUTO_RATIO = "auto"
MORE_IMAGE_OPTIONS = "Image URLs & small images"
UPSCALE_LABEL = "Enlarge images under 300×300 px"
MAX_UPLOAD = "40mb"
# Gradio keeps each browser session's own copy of the page's config (~180 KB with this
# page) until the session is evicted, least recently used first, past this many: its
# default of 10,000 is ~2 GB on a busy Space. An evicted visitor goes on in a fresh
# session, as after a reload; no run is lost.
MAX_SESSIONS = 1000
OFFLINE_LABEL = "Offline · synthetic motion, not Seedance"


# --------------------------------------------------------------------------- handlers


async def generate(
    image: str | None,
    prompt: str,
    last_image: str | None = None,
    duration: int = seedance.DURATION_DEFAULT_S,
    aspect_ratio: str = AUTO_RATIO,
    camera_fixed: bool = False,
    seed: int = seedance.RANDOM_SEED,
    model: str = "",
    session: Session | None = None,
    profile: gr.OAuthProfile | None = None,
    progress: gr.Progress = gr.Progress(),
):
    """Generate a video from a start image (and optional end image) with Seedance.

    Progress ("Processing · 12 s · about 20 s left") comes as Gradio progress events, which
    gradio_client shows in `job.status()` and MCP clients as progress notifications.

    Args:
        image: the start frame (jpg/png/webp…, at least 300×300).
        prompt: the motion prompt: subject action, camera, environment, continuity.
        last_image: optional end frame to land on.
        duration: length in seconds, 2 to 12.
        aspect_ratio: one of 21:9, 16:9, 4:3, 1:1, 3:4, 9:16, or "auto" to match the image.
        camera_fixed: keep the camera still.
        seed: -1 for a random seed (the one used is returned), or 0 to 2147483647.
        model: the WaveSpeed model id.

    Returns:
        The video file, the run record (id, model, status, seed, timings, cost_usd, inputs),
        and a status line.
    """
    # The defaults make everything but the image and prompt optional for API and MCP
    # callers (Gradio's schema requires a parameter without one). Gradio always passes the
    # session, fills profile from the HF sign-in and gives progress its events.
    session = new_session() if session is None else session
    job = await _Job.from_form(
        image,
        prompt,
        last_image,
        duration,
        aspect_ratio,
        camera_fixed,
        seed,
        model,
        session,
        profile=profile,
    )
    async for outputs in _generate(job, _ProgressEvents(progress)):
        yield outputs


async def generate_on_page(
    image: str | None,
    prompt: str,
    last_image: str | None,
    duration: int,
    aspect_ratio: str,
    camera_fixed: bool,
    seed: int,
    model: str,
    session: Session,
    image_url: str = "",
    last_image_url: str = "",
    upscale: bool = False,
    profile: gr.OAuthProfile | None = None,
):
    """The page's Generate button: `generate` with the page's extras, and progress shown in
    the status line. image_url/last_image_url: sent to WaveSpeed as they are, instead of an
    upload; upscale: enlarge an image under 300 px."""
    job = await _Job.from_form(
        image,
        prompt,
        last_image,
        duration,
        aspect_ratio,
        camera_fixed,
        seed,
        model,
        session,
        image_url=image_url,
        last_image_url=last_image_url,
        upscale=upscale,
        profile=profile,
    )
    async for outputs in _generate(job, _StatusLine()):
        yield outputs


async def _generate(job: _Job, reporter: _StatusLine | _ProgressEvents):
    """One run, as (video, record, status) outputs: the page's and the API's alike."""
    try:
        with job.spending(runs=1):
            async for item in generation.run(
                job.client, job.request, job.start, job.end, **job.kwargs
            ):
                if isinstance(item, generation.RunRecord):
                    done = f"Done in {item.timings.total_s:.1f} s · seed {item.seed}"
                    yield item.video_path, item.to_json(), _status_html(done, "ok")
                elif line := reporter.progress(item):
                    yield gr.skip(), gr.skip(), line
    except (WaveSpeedError, images.ImageError) as exc:
        job.give_up(exc)
        message = user_message(exc)
        if line := reporter.failed(message):
            yield gr.skip(), gr.skip(), line
        raise gr.Error(message, title=_error_title(exc)) from None


async def generate_variations(
    image: str | None,
    prompt: str,
    last_image: str | None,
    duration: int,
    aspect_ratio: str,
    camera_fixed: bool,
    seed: int,
    model: str,
    count: int,
    variants: str,
    session: Session,
    image_url: str = "",
    last_image_url: str = "",
    upscale: bool = False,
    profile: gr.OAuthProfile | None = None,
):
    """Run a batch in parallel: `count` seeds, or one seed across up to 4 prompt variants
    (one per line of `variants`). The image is uploaded once for the whole batch."""
    job = await _Job.from_form(
        image,
        prompt,
        last_image,
        duration,
        aspect_ratio,
        camera_fixed,
        seed,
        model,
        session,
        image_url=image_url,
        last_image_url=last_image_url,
        upscale=upscale,
        profile=profile,
    )
    try:
        requests = seedance.variations(job.request, _as_int(count, "Variations"), _lines(variants))
    except seedance.InvalidRequest as exc:
        raise gr.Error(str(exc), title="Check the variations") from None
    labels = [
        f"#{i + 1} · seed {r.seed} · {r.prompt[:60] or 'no prompt'}" for i, r in enumerate(requests)
    ]
    cells: list[tuple[str | None, str]] = [(None, f"{label} · waiting") for label in labels]
    done = failed = 0
    shown = [_Shown() for _ in requests]  # per run: only news redraws the grid
    with job.spending(runs=len(requests)):
        yield video_grid(cells), _status_html(f"Starting {len(requests)} variations…", "busy")
        async for index, item in generation.run_many(
            job.client, requests, job.start, job.end, **job.kwargs
        ):
            if isinstance(item, generation.Progress):
                if not shown[index].worth_sending(item):
                    continue
                cells[index] = (None, f"{labels[index]} · {item.describe()}")
            elif isinstance(item, generation.RunRecord):
                cells[index], done = (item.video_path, labels[index]), done + 1
            else:
                job.give_up(item)
                cells[index] = (None, f"{labels[index]} · {user_message(item)}")
                failed += 1
            summary = f"{done} of {len(requests)} done" + (f", {failed} failed" if failed else "")
            state = ("ok" if not failed else "warn") if done + failed == len(requests) else "busy"
            yield video_grid(cells), _status_html(summary, state)


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def batch_text(model: str, duration: int, count: int, variants: str) -> str:
    """The batch's price on its button, before the click."""
    runs = len(_lines(variants)) or int(count)
    return f"Run {runs} variations · {seedance.format_price(model, int(duration), runs)}"


def batch_label(model: str, duration: int, count: int, variants: str) -> gr.Button:
    return gr.Button(value=batch_text(model, duration, count, variants))


@dataclass
class _Job:
    """A validated request with its prepared images and the session's backend: what both
    Generate and Variations start from."""

    session: Session
    request: seedance.SeedanceRequest
    start: generation.ImageInput
    end: generation.ImageInput | None
    backend: Backend
    client: Any
    kwargs: dict[str, Any]
    holds: list[quotas.Hold]

    @classmethod
    async def from_form(
        cls,
        image: str | None,
        prompt: str,
        last_image: str | None,
        duration: Any,
        aspect_ratio: str | None,
        camera_fixed: bool,
        seed: Any,
        model: str,
        session: Session,
        *,
        image_url: str = "",
        last_image_url: str = "",
        upscale: bool = False,
        profile: gr.OAuthProfile | None = None,
    ) -> _Job:
        """The one place that reads the form: the page's extras (typed image addresses,
        enlarging) and the HF sign-in included."""
        sign_in(session, profile)
        image = _source(image, image_url, "start image")
        last_image = _source(last_image, last_image_url, "end image")
        if not image:
            raise gr.Error("Add a start image first: drop a photo in “Start image”.")
        REQUEST_ID.set(uuid.uuid4().hex[:8])
        b = backends()
        request = seedance.SeedanceRequest(
            image=Path(image).name,
            prompt=prompt or "",
            duration=_as_int(duration, "Duration"),
            aspect_ratio=None if aspect_ratio in (AUTO_RATIO, "", None) else aspect_ratio,
            camera_fixed=bool(camera_fixed),
            seed=_as_int(seed, "Seed"),
            model=(model or b.settings.default_model).strip(),
        )
        if problems := request.problems():
            raise gr.Error(" ".join(problems), title="Check the settings")
        # Off the event loop: a 20 MB PNG takes about half a second to prepare.
        start, start_info = await asyncio.to_thread(
            _prepare, image, "start image", request.model, upscale
        )
        end, end_info = (
            await asyncio.to_thread(_prepare, last_image, "end image", request.model, upscale)
            if last_image
            else (None, None)
        )
        if (
            start_info
            and end_info
            and (note := images.aspect_mismatch_note(start_info.size, end_info.size))
        ):
            gr.Warning(note)
        try:
            backend = b.backend_for(session)
        except NoKey:
            raise gr.Error(NO_KEY_MESSAGE, title="No API key") from None
        client, uploads = b.client_for(session, backend)

        accepted: set[str] = set()
        holds: list[quotas.Hold] = []  # the demo-limit hold, once spending() made one

        def on_save(record: generation.RunRecord) -> None:
            session.track(record, backend)
            b.save(session, backend, record)
            if holds and record.id not in accepted:  # history counts it now, not the hold
                accepted.add(record.id)
                holds[0].accepted(record.cost_usd or 0.0)

        kwargs = {
            "output_dir": b.output_dir(session),
            "stats": b.stats,
            "uploads": uploads,
            "backend": backend.label,
            "on_save": on_save,
            "pacer": b.pacer_for(session, backend),
        }
        return cls(session, request, start, end, backend, client, kwargs, holds)

    def spending(self, runs: int) -> contextlib.AbstractContextManager[Any]:
        """Hold `runs` against the demo's limits when they are spent on the owner's key."""
        b = backends()
        if self.backend.source != "env" or b.quota is None:
            return contextlib.nullcontext()
        if b.must_sign_in(self.session):
            raise gr.Error(sign_in_message(b.settings.oauth), title="Sign in required")
        try:
            hold = b.quota.reserve(
                b.owner_of(self.session),
                runs=runs,
                usd=(self.request.cost_usd or 0.0) * runs,
                duration_s=self.request.duration,
            )
        except quotas.QuotaExceeded as exc:
            raise gr.Error(str(exc), title="Demo limit reached") from None
        self.holds.append(hold)
        return hold

    def give_up(self, exc: Exception) -> None:
        """After an error: a run whose wait timed out is finished in the background."""
        log.warning("generation failed: %s", exc)
        if isinstance(exc, TaskTimeout) and exc.task_id:
            pending = self.session.pending.pop(exc.task_id, None)
            if pending is not None:
                record, backend = pending
                backends().finish_in_background(self.session, backend, record)


NO_KEY_MESSAGE = (
    "No WaveSpeed API key is set. Paste your key under “Backend & API key”, or choose "
    "Offline to try the playground with synthetic motion."
)


def sign_in(session: Session, profile: gr.OAuthProfile | None) -> None:
    """Gradio reads the profile from the signed session cookie for every event, so a
    visitor's quota follows their HF account, not whatever the page claims. Keyed by the
    account's id ("sub"): a username can be renamed and then taken by someone else."""
    session.sign_in((profile.get("sub") or profile.username) if profile else None)


def sign_in_message(oauth: bool) -> str:
    """Why the demo's key is refused to a visitor who is not signed in, and what to do."""
    if oauth:
        return (
            "This demo's key is for visitors signed in with Hugging Face. Sign in under "
            "“Backend & API key”, or paste your own WaveSpeed key there."
        )
    return (
        "This demo's key is for signed-in visitors, but sign-in is not enabled here. Paste "
        "your own WaveSpeed key under “Backend & API key”, or choose Offline."
    )


def _source(upload: str | None, typed: str | None, what: str) -> str | None:
    """What the form sends for one image: a typed address, checked as one (the text is never
    read as a path on the server), or else the upload."""
    typed = (typed or "").strip()
    if not typed:
        return upload
    try:
        return images.validate_url(typed)
    except images.ImageError as exc:
        raise gr.Error(f"The {what} URL: {exc}", title="Image not usable") from None


def _prepare(
    source: str, what: str, model: str, upscale: bool = False
) -> tuple[generation.ImageInput, images.PreparedImage | None]:
    """An image ready to send: a URL passes through; a file is normalised to what the
    model's output resolution can use (enlarged if too small and `upscale`)."""
    try:
        if images.is_url(source):
            return generation.ImageInput(url=images.validate_url(source.strip())), None
        info = seedance.MODELS.get(model)
        prepared = images.prepare_image(
            source, resolution=info.resolution if info else None, upscale=upscale
        )
    except images.ImageTooSmall as exc:
        hint = f" (tick “{UPSCALE_LABEL}” under “{MORE_IMAGE_OPTIONS}”)" if exc.can_upscale else ""
        raise gr.Error(f"The {what}: {exc}{hint}", title="Image too small") from None
    except images.ImageError as exc:
        raise gr.Error(f"The {what}: {exc}", title="Image not usable") from None
    if prepared.upscaled:
        (w, h), (W, H) = prepared.source_size, prepared.size
        gr.Warning(
            f"The {what} is {w}×{h} px; it was enlarged to {W}×{H}, so the video will be softer."
        )
    return generation.ImageInput(data=prepared.data, filename=prepared.filename), prepared


def _as_int(value: Any, what: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{what} must be a whole number.") from None
    if not number.is_integer():
        raise gr.Error(f"{what} must be a whole number, not {value}.")
    return int(number)


def user_message(exc: Exception) -> str:
    """A sentence saying what happened and what to do; the errors already speak that way."""
    if isinstance(exc, TaskTimeout):
        return (
            f"Stopped waiting after {exc.waited_s:.0f} s. Task {exc.task_id} may still "
            "finish and be billed; it keeps being polled in the background and will appear "
            "in History when done."
        )
    if isinstance(exc, TaskFailed):
        return f"The task failed: {exc.reason}. Task id {exc.task_id}. Adjust and try again."
    return str(exc)


def _error_title(exc: Exception) -> str:
    if isinstance(exc, SubmissionOutcomeUnknown):
        return "Outcome unknown"
    if isinstance(exc, TaskFailed):
        return "Task failed"
    return "Could not generate"


def cancel(session: Session):
    """Stop waiting. The tasks keep running on the server and may be billed, so they are
    finished in the background and land in History."""
    waiting = list(session.pending.values())
    session.pending.clear()
    if not waiting:
        message = "Stopped."
    else:
        for record, backend in waiting:
            backends().finish_in_background(session, backend, record)
        ids = ", ".join(record.id for record, _ in waiting)
        message = (
            f"Stopped waiting for task {ids}. It may still finish on the server and be "
            "billed; it will appear in History when done."
        )
    gr.Warning(message)
    return _status_html(message, "warn")


def price_text(model: str, duration: int) -> str:
    """What the click costs, said before the click."""
    info = seedance.MODELS.get(model)
    rate = f" at ${info.usd_per_second:.3f}/s" if info else ""
    cost = seedance.format_price(model, int(duration))
    return (
        f"<div class='hint'>This run costs <b>{cost}</b> ({int(duration)} s{rate}). "
        "Ctrl+Enter generates.</div>"
    )


def generate_label(model: str, duration: int) -> gr.Button:
    return gr.Button(value=f"Generate · {seedance.format_price(model, int(duration))}")


def prompt_count(prompt: str) -> str:
    n = len(prompt or "")
    over = n > seedance.PROMPT_MAX_CHARS
    cls = "count over" if over else "count"
    return f"<div class='{cls}'>{n} / {seedance.PROMPT_MAX_CHARS}</div>"


def random_seed() -> int:
    return seedance.choose_seed()


def last_seed(session: Session) -> int:
    """The seed of this session's latest run, to repeat it with other settings."""
    if session.last_seed is None:
        gr.Info("No seed yet: generate once, then reuse its seed.")
        return -1
    return session.last_seed


def reuse_settings(record: dict[str, Any] | None):
    """Put a run's settings back in the form (not its images: those stay as they are)."""
    if not record:
        raise gr.Error("Nothing to reuse yet: generate a video first.")
    inputs = record.get("inputs", {})
    return (
        inputs.get("prompt", ""),
        inputs.get("duration", seedance.DURATION_DEFAULT_S),
        inputs.get("aspect_ratio") or AUTO_RATIO,
        inputs.get("camera_fixed", False),
        record.get("seed", -1),
        record.get("model", seedance.DEFAULT_MODEL),
    )


def reuse_seed(record: dict[str, Any] | None) -> int:
    if not record:
        raise gr.Error("Nothing to reuse yet: generate a video first.")
    return int(record["seed"])


def run_card(record: dict[str, Any] | None) -> str:
    """The run as a card of facts beside the video."""
    if not record:
        return "<div class='card empty'>Your run’s seed, timings and cost appear here.</div>"
    t = record.get("timings", {})
    inputs = record.get("inputs", {})

    def secs(value: float | None) -> str:
        return "–" if value is None else f"{value:.1f} s"

    cost = record.get("cost_usd")
    rows = [
        ("Seed", f"<code>{html.escape(str(record['seed']))}</code>"),
        ("Model", html.escape(record["model"])),
        ("Duration", f"{html.escape(str(inputs.get('duration', '?')))} s"),
        ("Aspect ratio", html.escape(str(inputs.get("aspect_ratio") or "match image"))),
        ("Camera", "fixed" if inputs.get("camera_fixed") else "free"),
        ("Cost", "unknown" if cost is None else seedance.format_usd(cost)),
        ("Inference (server)", secs(t.get("inference_s"))),
        ("Queue + polling", secs(t.get("queue_s"))),
        ("Upload · download", f"{secs(t.get('upload_s'))} · {secs(t.get('download_s'))}"),
        ("Total wall time", secs(t.get("total_s"))),
        ("NSFW flag", "<b class='flag'>flagged</b>" if record.get("nsfw") else "no"),
        ("Backend", html.escape(record.get("backend", ""))),
        ("Task id", f"<code>{html.escape(record['id'])}</code>"),
    ]
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f"<dl class='card'>{body}</dl>"


def _status_html(text: str, kind: str = "idle") -> str:
    return f"<div class='status {kind}'>{html.escape(text)}</div>"


# Between stage changes the page's own clock advances the status line (PAGE_JS), so the
# server sends a progress update only when there is news, or as a keep-alive. Each status
# line update costs Gradio a rebuild of the skipped outputs (video and record, ~3 ms of
# event-loop time): with 50 visitors at once, once-a-second ticks were a sixth of the
# app's CPU (bench/bench_load.py).
STATUS_KEEPALIVE_S = 5.0


@dataclass
class _Shown:
    """What the status line last showed, to send only news."""

    stage: generation.Stage | None = None
    eta_s: float | None = None
    elapsed_s: float = 0.0

    def worth_sending(self, progress: generation.Progress) -> bool:
        news = (
            progress.stage != self.stage
            or (progress.eta_s is None) != (self.eta_s is None)
            or abs((progress.eta_s or 0.0) - (self.eta_s or 0.0)) >= 1.0
            or progress.elapsed_s - self.elapsed_s >= STATUS_KEEPALIVE_S
        )
        if news:
            self.stage, self.eta_s = progress.stage, progress.eta_s
            self.elapsed_s = progress.elapsed_s
        return news


def _progress_html(progress: generation.Progress) -> str:
    """The status line, with what the page's clock needs to keep it live between updates."""
    live = progress.stage in (generation.Stage.QUEUED, generation.Stage.PROCESSING)
    eta = f" data-eta='{progress.eta_s:.1f}'" if live and progress.eta_s is not None else ""
    return (
        f"<div class='status busy' data-elapsed='{progress.elapsed_s:.1f}'"
        f" data-stage='{html.escape(progress.stage.value.capitalize())}'{eta}>"
        f"{html.escape(progress.describe())}</div>"
    )


class _StatusLine:
    """The page's progress: the status line, redrawn only on news."""

    def __init__(self) -> None:
        self.shown = _Shown()

    def progress(self, item: generation.Progress) -> str | None:
        return _progress_html(item) if self.shown.worth_sending(item) else None

    def failed(self, message: str) -> str | None:
        return _status_html(message, "warn")  # stops the page's clock


class _ProgressEvents:
    """An API caller's progress: Gradio progress events, which touch no output. A script
    reads the status line once, at the end; updating it on the way would cost Gradio a
    rebuild of the other outputs per update, for nobody to see."""

    def __init__(self, tracker: gr.Progress) -> None:
        self.tracker = tracker
        self.shown = _Shown()

    def progress(self, item: generation.Progress) -> None:
        if self.shown.worth_sending(item):
            # Steps in seconds, "elapsed of expected": MCP clients show a step count.
            expected = round(item.eta_s) if item.eta_s else None
            self.tracker((round(item.elapsed_s), expected), desc=item.describe(), unit="s")

    def failed(self, message: str) -> None:
        return None  # the error itself tells the caller


def backend_banner(session: Session) -> str:
    """Which backend this session generates with, said plainly wherever it matters."""
    b = backends()
    if session.offline:
        kind, text = (
            "offline",
            (
                f"<b>{OFFLINE_LABEL}.</b> A local emulator animates your image for free, so you "
                "can try everything. Add a WaveSpeed key under “Backend & API key” for real "
                "Seedance videos."
            ),
        )
    elif session.api_key:
        kind, text = "live", "<b>WaveSpeed · Seedance.</b> Using the key you entered."
    elif b.owner_key_usable and b.quota is not None and b.must_sign_in(session):
        kind, text = (
            "warn",
            f"<b>Sign in required.</b> {html.escape(sign_in_message(b.settings.oauth))}",
        )
    elif b.owner_key_usable and b.quota is not None:
        signed_in = " Signed in: your runs and limits follow your account." if session.user else ""
        kind, text = (
            "live",
            (
                "<b>WaveSpeed · Seedance on this demo's key.</b> "
                f"{html.escape(b.quota.left(b.owner_of(session)))}. Your own key has no limits."
                f"{signed_in}"
            ),
        )
    elif b.owner_key_usable:
        kind, text = "live", "<b>WaveSpeed · Seedance.</b> Using the key from the environment."
    else:
        kind, text = (
            "warn",
            (
                "<b>No WaveSpeed API key is set.</b> Enter yours under “Backend & API key”, or "
                "switch to Offline."
            ),
        )
    return f"<div class='banner {kind}'><span class='dot'></span><span>{text}</span></div>"


def set_backend(choice: str, session: Session) -> str:
    session.offline = choice.startswith("Offline")
    return backend_banner(session)


def set_key(key: str, session: Session):
    """Keep a visitor's key in their session only; clear the field so the page holds none."""
    key = (key or "").strip()
    if not key:
        raise gr.Error("Paste a WaveSpeed API key first (from wavespeed.ai → Access keys).")
    session.api_key, session.client, session.offline = key, None, False
    session.uploads = generation.UploadCache()  # uploads belong to the account that made them
    gr.Info("Key saved for this session only. It is not stored anywhere else.")
    return "", backend_banner(session), "WaveSpeed"


def init_session(session: Session, profile: gr.OAuthProfile | None = None):
    sign_in(session, profile)  # History and the banner's quota are the account's from the start
    return backend_banner(session), "Offline (synthetic)" if session.offline else "WaveSpeed"


# --------------------------------------------------------------------------- presets


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    prompt: str
    image: Path
    duration: int = seedance.DURATION_DEFAULT_S
    aspect_ratio: str | None = None
    camera_fixed: bool = False
    seed: int = seedance.RANDOM_SEED
    last_image: Path | None = None
    notes: str = ""


def load_presets(folder: Path = PRESETS_DIR) -> list[Preset]:
    """Every `presets/*.json`, sorted by file name; the name is the file's stem."""
    presets = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        last = data.get("last_image")
        presets.append(
            Preset(
                name=path.stem,
                title=data["title"],
                prompt=data["prompt"],
                image=folder / data["image"],
                duration=int(data.get("duration", seedance.DURATION_DEFAULT_S)),
                aspect_ratio=data.get("aspect_ratio"),
                camera_fixed=bool(data.get("camera_fixed", False)),
                seed=int(data.get("seed", seedance.RANDOM_SEED)),
                last_image=folder / last if last else None,
                notes=data.get("notes", ""),
            )
        )
    return presets


def apply_preset(evt: gr.SelectData):
    preset = load_presets()[evt.index]
    gr.Info(f"Loaded preset “{preset.title}”. {preset.notes}".strip())
    return (
        str(preset.image),
        preset.prompt,
        str(preset.last_image) if preset.last_image else None,
        preset.duration,
        preset.aspect_ratio or AUTO_RATIO,
        preset.camera_fixed,
        preset.seed,
    )


# --------------------------------------------------------------------------- framing


# The newest choice wins: an upload empties its URL box, a typed URL removes the upload
# (Generate would use the URL anyway; this way the form shows what will be sent). Each
# acts only when the other box was filled as the event fired: an upload's reply does not
# empty a box that was still empty then (a person typing right after dropping a file).
def upload_replaces_url(path: str | None, url: str | None):
    return "" if path and url else gr.skip()


def url_replaces_upload(url: str | None, path: str | None):
    return None if url and url.strip() and path else gr.skip()


@dataclass(frozen=True)
class _Remote:
    size: tuple[int, int]  # the original's upright size
    small: bytes  # a JPEG at preview size: all a preview needs


class _RemotePreviews:
    """Typed image addresses, fetched on the server for previews only.

    On a Space strangers type them, so each address is fetched at most once a minute
    (a blur and the events it sets off ask up to four times), a few at a time (a slow
    server must not hold every worker thread), and only a small copy is kept.
    """

    TTL_S = 60.0
    SIZE = 32
    SLOTS = 4

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, _Remote | str]] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.SLOTS)

    def get(self, url: str) -> _Remote | None:
        """The image, or None while every fetch slot is busy (previews are optional:
        Generate sends the address regardless). Raises images.ImageError, remembered too."""
        with self._lock:
            at, value = self._cache.get(url, (0.0, ""))
        if not at or time.monotonic() - at > self.TTL_S:
            if not self._slots.acquire(blocking=False):
                return None
            try:
                value = self._fetch(url)
            finally:
                self._slots.release()
            with self._lock:
                self._cache[url] = (time.monotonic(), value)
                while len(self._cache) > self.SIZE:
                    self._cache.pop(next(iter(self._cache)))
        if isinstance(value, str):
            raise images.ImageError(value)
        return value

    @staticmethod
    def _fetch(url: str) -> _Remote | str:
        try:
            data = images.fetch_url_image(url)
            prepared = images.prepare_image(data, max_side=images.PREVIEW_SIDE_PX)
        except images.ImageError as exc:
            return str(exc)
        return _Remote(prepared.source_size, prepared.data)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


REMOTE_PREVIEWS = _RemotePreviews()


def _shape(path: str | None, url: str | None) -> tuple[tuple[int, int], Any] | None:
    """(upright size, what to draw a preview from) of the image the form will send: the
    typed address or the upload; None when there is none (or no fetch slot is free)."""
    if url and url.strip():
        remote = REMOTE_PREVIEWS.get(url.strip())
        return None if remote is None else (remote.size, remote.small)
    return (images.image_size(path), path) if path else None


def preview_framing(path: str | None, ratio: str, url: str = ""):
    """What the video will show when the chosen ratio differs from the image's (cover crop)."""
    hidden = gr.Image(visible=False)
    if ratio in (AUTO_RATIO, "", None):
        return hidden
    try:
        shape = _shape(path, url)
        if shape is None or not images.ratio_differs(shape[0], ratio):
            return hidden
        preview = images.preview_aspect(shape[1], ratio, "crop")
    except images.ImageError:
        return hidden  # Generate (and the note under the images) say what is wrong
    return gr.Image(value=preview, visible=True, label=f"What the {ratio} video will show")


def end_image_note(
    start: str | None, end: str | None, start_url: str = "", end_url: str = ""
) -> str:
    """Say at once when a typed address cannot be used, and what happens when the end
    frame's shape differs from the start's."""
    shapes = []
    for what, path, url in (("start", start, start_url), ("end", end, end_url)):
        try:
            shapes.append(_shape(path, url))
        except images.ImageError as exc:  # an upload's problem is Generate's to tell
            return _note(f"The {what} image URL: {exc}") if url and url.strip() else ""
    first, last = shapes
    note = first and last and images.aspect_mismatch_note(first[0], last[0])
    return _note(note) if note else ""


def _note(text: str) -> str:
    return f"<div class='hint warn-text'>{html.escape(text)}</div>"


# --------------------------------------------------------------------------- prompt & code


def camera_move(prompt: str, move: str) -> tuple[str, bool]:
    """One click puts a camera move in the prompt (replacing any earlier one); "fixed"
    also fixes the camera. The prompt box stays the source of truth."""
    return prompting.apply_camera_move(prompt or "", move)


def compose_beats(action: str, camera: str, environment: str, continuity: str) -> str:
    try:
        composed = prompting.compose_prompt(action, camera, environment, continuity)
    except prompting.PromptTooLong as exc:
        raise gr.Error(str(exc)) from None
    if not composed:
        raise gr.Error("Fill in at least one beat (subject action, camera, environment…).")
    return composed


def copy_as_code(record: dict[str, Any] | None, request: gr.Request):
    """curl, httpx and gradio_client snippets that repeat a run; the key only as a variable."""
    if not record:
        return "", "", ""
    host = request.headers.get("host", "127.0.0.1:7860") if request else "127.0.0.1:7860"
    scheme = request.headers.get("x-forwarded-proto", "http") if request else "http"
    code = snippets.all_snippets(
        record,
        app_url=f"{scheme}://{host}/",
        base_url=record.get("api_base") or snippets.DEFAULT_BASE_URL,
    )
    return code["curl"], code["python"], code["gradio_client"]


# --------------------------------------------------------------------------- storyboard


def _own_run(record: dict[str, Any] | None, session: Session) -> dict[str, Any] | None:
    """The finished run the page names, as this server recorded it, if this session may
    see it. The page's copy of a record is only a pointer: a client can send it edited."""
    if not record or not isinstance(record.get("id"), str):
        return None
    b = backends()
    run = b.history.get(record["id"], owner=b.visible_owner(session))
    if run is None or run.status != "completed":
        return None
    return run.record if Path(run.record.get("video_path") or "").is_file() else None


def continue_from(record: dict[str, Any] | None, session: Session):
    """Chain shots: this run joins the storyboard, its last frame becomes the next start."""
    record = _own_run(record, session)
    if record is None:
        raise gr.Error("Generate a video first, then continue from its last frame.")
    video = Path(record["video_path"])
    frame = video.with_name(f"{video.stem}_last.png")
    if not frame.is_file():
        media.read_frame(video).save(frame)  # full quality, lossless
    _add_shot(session, record)
    gr.Info("The last frame is the new start image. Describe the next beat and generate.")
    return str(frame), None, storyboard_view(session)


def add_to_storyboard(record: dict[str, Any] | None, session: Session):
    record = _own_run(record, session)
    if record is None:
        raise gr.Error("Generate a video first, then add it to the storyboard.")
    _add_shot(session, record)
    gr.Info(f"Added as shot {len(session.storyboard)} of the storyboard.")
    return storyboard_view(session)


def _add_shot(session: Session, record: dict[str, Any]) -> None:
    if all(shot["id"] != record["id"] for shot in session.storyboard):
        session.storyboard.append(record)


def storyboard_view(session: Session):
    """The shots in order, as a gallery."""
    shots = [
        (_picture_of(shot) or shot["video_path"], f"Shot {i + 1} · {_caption(shot)}")
        for i, shot in enumerate(session.storyboard)
    ]
    return shots


def stitch_storyboard(session: Session):
    """One MP4 of every shot in order; without re-encoding when the clips allow."""
    shots = [s for s in session.storyboard if Path(s.get("video_path") or "").is_file()]
    if not shots:
        raise gr.Error("The storyboard is empty: use “Continue from last frame” on a result.")
    dest = (
        backends().output_dir(session)
        / "storyboards"
        / f"{shots[0]['id'][:8]}_{len(shots)}_shots.mp4"
    )
    path, reencoded = media.stitch([s["video_path"] for s in shots], dest)
    how = "re-encoded (the clips differ)" if reencoded else "joined without re-encoding"
    total = sum(int(s["inputs"].get("duration", 0)) for s in shots)
    note = f"<div class='hint'>{len(shots)} shots · {total} s · {how}</div>"
    return str(path), note


def clear_storyboard(session: Session):
    session.storyboard.clear()
    return [], None, ""


# --------------------------------------------------------------------------- history


def list_runs(search: str, session: Session):
    """The session's runs (all runs on a local app), newest first, and the total spent."""
    b = backends()
    owner = b.visible_owner(session)
    runs = b.history.list(owner=owner, search=search or "")
    items, ids = [], []
    for run in runs:
        picture = _picture_of(run.record)
        if picture:
            items.append((picture, _caption(run.record)))
            ids.append(run.id)
    done = [r for r in runs if r.status == "completed"]
    spent = (
        f"<div class='hint'>{len(runs)} runs · {len(done)} completed · total spent "
        f"<b>{seedance.format_usd(b.history.total_spent(owner=owner))}</b></div>"
    )
    choices = [(_caption(r.record), r.id) for r in done]
    return items, ids, spent, gr.CheckboxGroup(choices=choices)


def _picture_of(record: dict[str, Any]) -> str | None:
    files = record.get("input_files") or {}
    for path in (files.get("thumb"), files.get("start")):
        if path and Path(path).is_file():
            return path
    return None


def _caption(record: dict[str, Any]) -> str:
    inputs = record.get("inputs", {})
    status = record.get("status", "")
    mark = "" if status == "completed" else f"[{status}] "
    prompt = (inputs.get("prompt") or "no prompt")[:40]
    return f"{mark}seed {record.get('seed')} · {inputs.get('duration', '?')} s · {prompt}"


def show_run(ids: list[str], session: Session, evt: gr.SelectData):
    """A past run's video and card, if it belongs to this session (or the app is local)."""
    b = backends()
    run = b.history.get(ids[evt.index], owner=b.visible_owner(session)) if ids else None
    if run is None:
        raise gr.Error("That run is not in your history any more; press Refresh.")
    video = run.record.get("video_path")
    video = video if run.status == "completed" and video and Path(video).is_file() else None
    return video, run_card(run.record), run.record


def load_run_into_form(record: dict[str, Any] | None):
    """A past run's images and settings back into the form, to repeat or vary it."""
    if not record:
        raise gr.Error("Choose a run in History first.")
    files = record.get("input_files") or {}
    inputs = record.get("inputs") or {}
    start, end = _kept(files.get("start")), _kept(files.get("end"))
    start_url, end_url = _address(inputs.get("image")), _address(inputs.get("last_image"))
    if not (start or start_url):
        raise gr.Error("This run's start image was not kept; upload it again.")
    prompt, duration, ratio, camera_fixed, seed, model = reuse_settings(record)
    return (
        start,
        end,
        prompt,
        duration,
        ratio,
        camera_fixed,
        seed,
        model,
        gr.Tabs(selected="play"),
        "" if start else start_url,
        "" if end else end_url,
    )


def _kept(path: str | None) -> str | None:
    return path if path and Path(path).is_file() else None


def _address(value: Any) -> str:
    """A run input sent as an http(s) address (typed, or where an upload was stored)."""
    return value if isinstance(value, str) and images.is_url(value) else ""


def delete_run(record: dict[str, Any] | None, search: str, session: Session):
    """Delete a finished run and its files, when the user asks (and only then)."""
    if not record:
        raise gr.Error("Choose a run in History first.")
    b = backends()
    if not b.history.delete(record["id"], owner=b.visible_owner(session)):
        raise gr.Error("Only finished runs of yours can be deleted.")
    gr.Info(f"Deleted run {record['id'][:8]} and its files.")
    return (*list_runs(search, session), None, run_card(None), None)


COMPARED_FIELDS = ("prompt", "seed", "duration", "aspect_ratio", "camera_fixed", "model")


def compare_runs(ids: list[str], session: Session) -> str:
    """Videos side by side (played in sync by the page script) and the settings that differ."""
    b = backends()
    owner = b.visible_owner(session)
    runs = [run for i in ids or [] if (run := b.history.get(i, owner=owner))]
    runs = [
        r for r in runs if r.record.get("video_path") and Path(r.record["video_path"]).is_file()
    ]
    if len(runs) < 2:
        raise gr.Error("Pick at least two finished runs to compare.")
    rows = []
    for name in COMPARED_FIELDS:
        values = [_field(r.record, name) for r in runs]
        cls = " class='diff'" if len(set(values)) > 1 else ""
        cells = "".join(f"<td>{html.escape(v)}</td>" for v in values)
        rows.append(f"<tr{cls}><th>{name}</th>{cells}</tr>")
    grid = video_grid([(r.record["video_path"], f"seed {r.record['seed']}") for r in runs])
    return f"{grid}<table class='compare-table'>{''.join(rows)}</table>"


def video_grid(cells: list[tuple[str | None, str]]) -> str:
    """Videos side by side that the page script plays in sync; a cell without a video
    shows its caption as a status instead. Captions are HTML-escaped here."""
    figures = []
    for path, caption in cells:
        if path:
            media_html = (
                f"<video src='/gradio_api/file={quote(path)}' muted loop playsinline autoplay "
                "preload='auto'></video>"
            )
        else:
            media_html = f"<div class='pending'>{html.escape(caption)}</div>"
        figures.append(
            f"<figure>{media_html}<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    return (
        "<div class='sync-block'><div class='compare-grid'>"
        + "".join(figures)
        + "</div><div class='compare-controls'><button class='compare-play'>Play all</button>"
        "<button class='compare-pause'>Pause all</button></div></div>"
    )


def _field(record: dict[str, Any], name: str) -> str:
    value = record.get(name) if name in ("seed", "model") else record.get("inputs", {}).get(name)
    return "match image" if name == "aspect_ratio" and not value else str(value)


# --------------------------------------------------------------------------- layout

# Small events that only touch this page: no API endpoint, no queue, no spinner.
PRIVATE: dict[str, Any] = {"api_visibility": "private", "queue": False, "show_progress": "hidden"}

CSS = """
.gradio-container {max-width: min(1320px, 100vw) !important; margin: auto;}
#title h1 {font-size: 1.85rem; margin: .2rem 0 0; letter-spacing: -.01em;}
#title p {margin: .15rem 0 0; opacity: .7;}
.banner {display: flex; gap: .6rem; align-items: center; padding: .6rem .9rem;
  border-radius: 10px; font-size: .9rem; line-height: 1.35;}
.banner .dot {flex: none; width: .6rem; height: .6rem; border-radius: 50%;}
.banner.offline {background: #fff8e6; color: #5c4200; border: 1px solid #f1d48c;}
.banner.offline .dot {background: #e0a100;}
.banner.live {background: #eaf8ef; color: #185c32; border: 1px solid #a9dfbd;}
.banner.live .dot {background: #1f9d55;}
.banner.warn {background: #fdecec; color: #7a1d1d; border: 1px solid #f3b5b5;}
.banner.warn .dot {background: #d64545;}
#presets .caption-label {font-size: .75rem;}
/* Presets as one strip of thumbnails that scrolls sideways on narrow screens. */
#presets .grid-container {grid-template-columns: none !important; grid-auto-flow: column;
  grid-auto-columns: minmax(110px, 1fr); overflow-x: auto;}
#presets, #presets .grid-wrap {min-width: 0 !important;}
#history-gallery .grid-container, #storyboard-shots .grid-container {
  grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)) !important;
  grid-auto-rows: 150px;}
.status {padding: .55rem .85rem; border-radius: 10px; font-weight: 600; font-size: .92rem;
  border: 1px solid transparent;}
.status.idle {background: var(--block-background-fill); border-color: var(--border-color-primary);
  font-weight: 500; opacity: .75;}
.status.busy {background: #eef2ff; color: #3730a3; border-color: #c7d2fe;}
.status.busy::before {content: ""; display: inline-block; width: .7rem; height: .7rem;
  margin-right: .5rem; border-radius: 50%; border: 2px solid #6366f1;
  border-right-color: transparent; animation: spin 0.8s linear infinite; vertical-align: -1px;}
@keyframes spin {to {transform: rotate(360deg);}}
.status.ok {background: #eaf8ef; color: #185c32; border-color: #a9dfbd;}
.status.warn {background: #fff8e6; color: #5c4200; border-color: #f1d48c;}
.count {text-align: right; font-size: .78rem; opacity: .65; margin-top: -.5rem;}
.count.over {color: #b91c1c; opacity: 1; font-weight: 700;}
dl.card {display: grid; grid-template-columns: max-content 1fr; gap: .32rem 1.1rem;
  margin: 0; padding: .85rem 1rem; border-radius: 12px; font-size: .88rem;
  border: 1px solid var(--border-color-primary); background: var(--block-background-fill);}
dl.card dt {opacity: .6;} dl.card dd {margin: 0; overflow-wrap: anywhere;}
dl.card .flag {color: #b91c1c;}
.card.empty {opacity: .6; padding: .85rem 1rem; font-size: .88rem; border-radius: 12px;
  border: 1px dashed var(--border-color-primary);}
#generate-btn {font-size: 1.05rem; min-height: 2.9rem;}
.compare-grid {display: grid; gap: .75rem;
  grid-template-columns: repeat(auto-fit, minmax(min(100%, 260px), 1fr));}
.compare-grid figure {margin: 0;} .compare-grid video {width: 100%; border-radius: 10px;}
.compare-grid figcaption {font-size: .8rem; opacity: .75; text-align: center;
  overflow-wrap: anywhere;}
.compare-grid .pending {aspect-ratio: 16 / 9; display: grid; place-items: center;
  border-radius: 10px; border: 1px dashed var(--border-color-primary); font-size: .85rem;
  opacity: .75; padding: .5rem; text-align: center;}
.compare-controls {display: flex; gap: .5rem; margin: .6rem 0;}
.compare-controls button {padding: .35rem .9rem; border-radius: 8px;
  border: 1px solid var(--border-color-primary); background: var(--block-background-fill);}
.compare-table {width: 100%; border-collapse: collapse; font-size: .85rem;}
.compare-table th, .compare-table td {padding: .35rem .6rem; text-align: left;
  border-bottom: 1px solid var(--border-color-primary); vertical-align: top;}
.compare-table tr.diff td {background: #fff4d6; color: #5c4200; font-weight: 600;}
.hint {font-size: .8rem; opacity: .7; margin-top: -.3rem;}
.hint.warn-text {color: #8a5a00; opacity: 1;}
.html-container:has(#title, .banner, .status, dl.card, .card.empty) {padding-left: 0 !important;
  padding-right: 0 !important;}
#seed-row {align-items: flex-end;}
#seed-row button {min-height: 2.6rem; margin-bottom: var(--spacing-sm);}
@media (max-width: 720px) {
  /* Phones: one column, form first, result below it. */
  #main-row {flex-direction: column;}
  #main-row > .column {width: 100%; min-width: 0 !important;}
  .form:has(> #duration) > *, .form:has(> #camera-fixed) > * {flex: 1 1 100% !important;}
  #seed-row > .form {flex: 1 1 100% !important;}
  #seed-row > button {flex: 1 1 0 !important; min-width: 0 !important;}
  #result-video, #result-video video {height: auto !important; max-height: 70vh;}
  dl.card {gap: .3rem .8rem; font-size: .84rem;}
  #title h1 {font-size: 1.45rem;}
  #title p {font-size: .85rem;}
}
"""

# Page script: Ctrl/Cmd+Enter generates; the Compare view's videos play in sync.
PAGE_JS = """
() => {
  document.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') {
      const b = document.querySelector('#generate-btn');
      if (b) { e.preventDefault(); b.click(); }
    }
  });
  const videosOf = (block) => [...block.querySelectorAll('video')];
  document.addEventListener('click', (e) => {
    const block = e.target.closest('.sync-block');
    if (!block) return;
    if (e.target.closest('.compare-play')) {
      videosOf(block).forEach((v) => { v.currentTime = 0; v.play(); });
    } else if (e.target.closest('.compare-pause')) {
      videosOf(block).forEach((v) => v.pause());
    }
  });
  // The status line counts seconds itself between the server's updates (same words as
  // generation.Progress.describe): elapsed from when this line arrived.
  setInterval(() => {
    document.querySelectorAll('.status[data-elapsed]').forEach((el) => {
      el.dataset.seen = el.dataset.seen || Date.now();
      const elapsed = +el.dataset.elapsed + (Date.now() - el.dataset.seen) / 1000;
      let text = `${el.dataset.stage} · ${Math.floor(elapsed + 0.5)} s`;
      if (el.dataset.eta) {
        const left = +el.dataset.eta - elapsed;
        text += left >= 1 ? ` · about ${Math.floor(left + 0.5)} s left` : ' · any moment now';
      }
      if (el.textContent !== text) el.textContent = text;
    });
  }, 500);
  // Keep clips of equal length on the first one's clock, so motion lines up frame by frame.
  setInterval(() => {
    document.querySelectorAll('.sync-block').forEach((block) => {
      const [lead, ...rest] = videosOf(block);
      if (!lead || lead.paused) return;
      rest.forEach((v) => {
        if (Math.abs(v.duration - lead.duration) < 0.05
            && Math.abs(v.currentTime - lead.currentTime) > 0.08) {
          v.currentTime = lead.currentTime;
        }
      });
    });
  }, 500);
}
"""


def build_demo() -> gr.Blocks:
    settings = backends().settings
    presets = load_presets()
    model_choices = [(m.label, m.id) for m in seedance.MODELS.values()]
    ratio_choices = [
        ("Auto · match start image", AUTO_RATIO),
        *[(r, r) for r in seedance.ASPECT_RATIOS],
    ]
    default_price = seedance.format_price(settings.default_model, seedance.DURATION_DEFAULT_S)

    with gr.Blocks(title="Seedance Playground") as demo:
        # A value, not a callable: a callable State would add a public API endpoint.
        session = gr.State(new_session())
        gr.HTML(
            "<header id='title'><h1>Seedance Playground</h1><p>Image → video with ByteDance "
            "Seedance on WaveSpeed. Direct the motion: subject action, camera, environment, "
            "continuity.</p></header>"
        )
        banner = gr.HTML(elem_id="banner")
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab("Playground", id="play"):
                if presets:
                    gallery = gr.Gallery(
                        [(str(p.image), p.title) for p in presets],
                        label="Start from a preset",
                        columns=8,
                        height=170,
                        object_fit="cover",
                        allow_preview=False,
                        elem_id="presets",
                    )
                with gr.Row(equal_height=False, elem_id="main-row"):
                    with gr.Column(scale=5, min_width=320):
                        with gr.Row():
                            image = gr.Image(
                                label="Start image",
                                type="filepath",
                                image_mode=None,
                                sources=["upload", "clipboard"],
                                height=240,
                                elem_id="start-image",
                            )
                            last_image = gr.Image(
                                label="End image (optional)",
                                type="filepath",
                                image_mode=None,
                                sources=["upload", "clipboard"],
                                height=240,
                                elem_id="end-image",
                            )
                        with gr.Accordion(MORE_IMAGE_OPTIONS, open=False, elem_id="image-more"):
                            with gr.Row():
                                image_url = gr.Textbox(
                                    label="Start image URL",
                                    placeholder="https://… (replaces the upload)",
                                    max_lines=1,
                                    elem_id="start-url",
                                )
                                last_image_url = gr.Textbox(
                                    label="End image URL",
                                    placeholder="https://… (optional)",
                                    max_lines=1,
                                    elem_id="end-url",
                                )
                            upscale = gr.Checkbox(
                                label=UPSCALE_LABEL,
                                info="Up to 4×; the video will be softer than from a larger image.",
                                elem_id="upscale",
                            )
                        end_note = gr.HTML(elem_id="end-note")
                        framing = gr.Image(
                            label="Framing preview",
                            visible=False,
                            interactive=False,
                            height=200,
                            elem_id="framing-preview",
                        )
                        prompt = gr.Textbox(
                            label="Motion prompt",
                            placeholder="The woman turns toward the window and smiles; "
                            "slow push-in; dust drifts in the sunlight; her red scarf stays on.",
                            lines=4,
                            max_lines=12,
                            elem_id="prompt",
                        )
                        count = gr.HTML(prompt_count(""), elem_id="prompt-count")
                        with gr.Row(elem_id="camera-moves"):
                            moves = [
                                gr.Button(name, size="sm", min_width=70)
                                for name in prompting.CAMERA_MOVES
                            ]
                        with gr.Accordion("Prompt builder", open=False, elem_id="builder"):
                            beat_action = gr.Textbox(
                                label="Subject action", placeholder="She turns and smiles"
                            )
                            beat_camera = gr.Textbox(
                                label="Camera", placeholder="slow push-in toward her face"
                            )
                            beat_env = gr.Textbox(
                                label="Environment", placeholder="dust drifts in warm light"
                            )
                            beat_cont = gr.Textbox(
                                label="Continuity", placeholder="her red scarf stays on"
                            )
                            compose = gr.Button("Write into the prompt", size="sm")
                        with gr.Row():
                            duration = gr.Slider(
                                seedance.DURATION_MIN_S,
                                seedance.DURATION_MAX_S,
                                value=seedance.DURATION_DEFAULT_S,
                                step=1,
                                label="Duration (s)",
                                elem_id="duration",
                            )
                            aspect_ratio = gr.Dropdown(
                                ratio_choices,
                                value=AUTO_RATIO,
                                label="Aspect ratio",
                                elem_id="ratio",
                            )
                        with gr.Row(elem_id="seed-row"):
                            seed = gr.Number(
                                value=-1,
                                precision=0,
                                minimum=-1,
                                maximum=seedance.SEED_MAX,
                                label="Seed (-1 = random)",
                                elem_id="seed",
                                scale=3,
                                min_width=140,
                            )
                            dice = gr.Button("Random", scale=1, min_width=80, elem_id="dice")
                            reuse_last = gr.Button(
                                "Last seed", scale=1, min_width=90, elem_id="last-seed"
                            )
                        with gr.Row(equal_height=True):
                            camera_fixed = gr.Checkbox(
                                label="Camera fixed", elem_id="camera-fixed", scale=1, min_width=140
                            )
                            model = gr.Dropdown(
                                model_choices,
                                value=settings.default_model,
                                allow_custom_value=True,
                                label="Model",
                                scale=2,
                                min_width=200,
                            )
                        with gr.Row():
                            go = gr.Button(
                                f"Generate · {default_price}",
                                variant="primary",
                                elem_id="generate-btn",
                                scale=3,
                            )
                            stop = gr.Button(
                                "Cancel", variant="secondary", elem_id="cancel-btn", scale=1
                            )
                        price = gr.HTML(
                            price_text(settings.default_model, seedance.DURATION_DEFAULT_S),
                            elem_id="price",
                        )
                        with gr.Accordion("Variations", open=False, elem_id="variations"):
                            with gr.Row(equal_height=True):
                                var_count = gr.Slider(
                                    1,
                                    seedance.MAX_VARIATIONS,
                                    value=4,
                                    step=1,
                                    label="How many (different seeds)",
                                    elem_id="var-count",
                                )
                            variants = gr.Textbox(
                                label="…or prompt variants, one per line (up to 4, one seed)",
                                lines=3,
                                elem_id="var-prompts",
                            )
                            batch_go = gr.Button(
                                batch_text(settings.default_model, 5, 4, ""), elem_id="batch-btn"
                            )
                        with gr.Accordion("Backend & API key", open=False, elem_id="backend"):
                            if settings.oauth:  # elsewhere Gradio fakes sign-in: no button
                                gr.LoginButton(size="sm", elem_id="hf-login")
                            backend_choice = gr.Radio(
                                ["WaveSpeed", "Offline (synthetic)"],
                                label="Backend",
                                info="Offline runs a local emulator: your image moves, but it is "
                                "synthetic motion, not Seedance.",
                            )
                            key = gr.Textbox(
                                label="Your WaveSpeed API key",
                                type="password",
                                placeholder="Kept only in this session's server memory",
                                elem_id="api-key",
                            )
                            save_key = gr.Button("Use this key", elem_id="save-key")
                    with gr.Column(scale=6, min_width=320):
                        status = gr.HTML(
                            _status_html(
                                "Ready · add a start image, describe the motion, press Generate"
                            ),
                            label="Status",
                            elem_id="status",
                        )
                        video = gr.Video(
                            label="Result",
                            autoplay=True,
                            loop=True,
                            interactive=False,
                            elem_id="result-video",
                            height=400,
                        )
                        card = gr.HTML(run_card(None), elem_id="run-card")
                        with gr.Row():
                            use_seed = gr.Button("Reuse this seed", elem_id="reuse-seed", size="sm")
                            use_all = gr.Button(
                                "Reuse all settings", elem_id="reuse-all", size="sm"
                            )
                        with gr.Row():
                            chain = gr.Button(
                                "Continue from last frame", elem_id="continue", size="sm"
                            )
                            add_shot = gr.Button("Add to storyboard", elem_id="add-shot", size="sm")
                        batch_view = gr.HTML(elem_id="variations-view")
                        with gr.Accordion("Copy as code", open=False, elem_id="copy-code"):
                            code_curl = gr.Code(label="curl (WaveSpeed API)", language="shell")
                            code_python = gr.Code(label="Python (httpx)", language="python")
                            code_client = gr.Code(
                                label="gradio_client (this app)", language="python"
                            )
                        with gr.Accordion("Run record (JSON)", open=False):
                            record = gr.JSON(label="Run record")
            with gr.Tab("History", id="history") as history_tab:
                with gr.Row(equal_height=True):
                    search = gr.Textbox(
                        placeholder="Search prompt, seed, model or task id",
                        show_label=False,
                        scale=4,
                        elem_id="history-search",
                    )
                    refresh = gr.Button("Refresh", scale=0, min_width=100)
                spent = gr.HTML(elem_id="spent")
                listed = gr.State([])
                runs = gr.Gallery(
                    label="Your runs, newest first",
                    columns=5,
                    height=340,
                    object_fit="cover",
                    allow_preview=False,
                    elem_id="history-gallery",
                )
                with gr.Row(equal_height=False):
                    past_video = gr.Video(
                        label="Selected run",
                        autoplay=True,
                        loop=True,
                        interactive=False,
                        height=360,
                        elem_id="history-video",
                    )
                    with gr.Column():
                        past_card = gr.HTML(run_card(None), elem_id="history-card")
                        past_record = gr.State(None)
                        load_run = gr.Button(
                            "Load its settings and images", variant="primary", elem_id="load-run"
                        )
                        delete = gr.Button(
                            "Delete this run", variant="stop", size="sm", elem_id="delete-run"
                        )
            with gr.Tab("Storyboard", id="storyboard"):
                gr.HTML(
                    "<div class='hint'>Chain shots with “Continue from last frame” under a "
                    "result: each shot starts where the last one ended. Stitch them into "
                    "one video here.</div>"
                )
                shots = gr.Gallery(
                    label="Shots, in order",
                    columns=6,
                    height=220,
                    object_fit="cover",
                    allow_preview=False,
                    elem_id="storyboard-shots",
                )
                with gr.Row():
                    stitch = gr.Button("Stitch into one video", variant="primary", elem_id="stitch")
                    clear_board = gr.Button("Clear storyboard", size="sm")
                stitched = gr.Video(
                    label="Storyboard", interactive=False, height=420, elem_id="stitched"
                )
                stitch_note = gr.HTML()
            with gr.Tab("Compare", id="compare") as compare_tab:
                gr.HTML(
                    "<div class='hint'>Pick two or more finished runs; they play side by side "
                    "in sync, and the settings that differ are highlighted.</div>"
                )
                picks = gr.CheckboxGroup(label="Runs to compare", elem_id="compare-picks")
                compare_btn = gr.Button("Compare", variant="primary", elem_id="compare-btn")
                compared = gr.HTML(elem_id="compare-view")

        if presets:
            gallery.select(
                apply_preset,
                None,
                [image, prompt, last_image, duration, aspect_ratio, camera_fixed, seed],
                api_visibility="private",
            )

        # ---- wiring
        history_outputs = [runs, listed, spent, picks]
        for trigger in (history_tab.select, compare_tab.select, refresh.click, search.submit):
            trigger(list_runs, [search, session], history_outputs, **PRIVATE)
        runs.select(show_run, [listed, session], [past_video, past_card, past_record], **PRIVATE)
        load_run.click(
            load_run_into_form,
            past_record,
            [
                *(image, last_image, prompt, duration, aspect_ratio, camera_fixed, seed, model),
                *(tabs, image_url, last_image_url),
            ],
            **PRIVATE,
        )
        compare_btn.click(compare_runs, [picks, session], compared, **PRIVATE)
        delete.click(
            delete_run,
            [past_record, search, session],
            [*history_outputs, past_video, past_card, past_record],
            **PRIVATE,
        )
        form = [image, prompt, last_image, duration, aspect_ratio, camera_fixed, seed, model]
        page_only = [image_url, last_image_url, upscale]
        shared_limit = {"concurrency_limit": GENERATE_CONCURRENCY, "concurrency_id": "generate"}
        # The public endpoint takes exactly the API's eight parameters; the page's button
        # adds its extras through a private twin of the same event.
        api_trigger = gr.Button(visible=False)
        api_trigger.click(
            generate, [*form, session], [video, record, status], api_name="generate", **shared_limit
        )
        run = go.click(
            generate_on_page,
            [*form, session, *page_only],
            [video, record, status],
            api_visibility="private",
            show_progress="minimal",
            **shared_limit,
        )
        run.then(run_card, record, card, **PRIVATE).then(
            copy_as_code, record, [code_curl, code_python, code_client], **PRIVATE
        ).then(backend_banner, session, banner, **PRIVATE)
        for picture, address in ((image, image_url), (last_image, last_image_url)):
            picture.change(upload_replaces_url, [picture, address], address, **PRIVATE)
            gr.on(
                [address.submit, address.blur],
                url_replaces_upload,
                [address, picture],
                picture,
                **PRIVATE,
            )
        url_typed = [image_url.submit, image_url.blur, last_image_url.submit, last_image_url.blur]
        gr.on(
            [image.change, aspect_ratio.change, image_url.submit, image_url.blur],
            preview_framing,
            [image, aspect_ratio, image_url],
            framing,
            **PRIVATE,
        )
        gr.on(
            [image.change, last_image.change, *url_typed],
            end_image_note,
            [image, last_image, image_url, last_image_url],
            end_note,
            **PRIVATE,
        )
        for move_button in moves:
            move_button.click(camera_move, [prompt, move_button], [prompt, camera_fixed], **PRIVATE)
        compose.click(
            compose_beats, [beat_action, beat_camera, beat_env, beat_cont], prompt, **PRIVATE
        )
        chain.click(continue_from, [record, session], [image, last_image, shots], **PRIVATE)
        add_shot.click(add_to_storyboard, [record, session], shots, **PRIVATE)
        stitch.click(stitch_storyboard, session, [stitched, stitch_note], api_visibility="private")
        clear_board.click(clear_storyboard, session, [shots, stitched, stitch_note], **PRIVATE)
        batch = batch_go.click(
            generate_variations,
            [*form, var_count, variants, session, *page_only],
            [batch_view, status],
            api_visibility="private",
            concurrency_limit=GENERATE_CONCURRENCY,
            show_progress="hidden",
        )
        batch.then(backend_banner, session, banner, **PRIVATE)  # quota left, on a demo key
        stop.click(cancel, session, status, cancels=[run, batch], **PRIVATE)
        for widget in (model, duration, var_count, variants):
            widget.change(batch_label, [model, duration, var_count, variants], batch_go, **PRIVATE)
        prompt.change(prompt_count, prompt, count, **PRIVATE)
        for widget in (model, duration):
            widget.change(price_text, [model, duration], price, **PRIVATE)
            widget.change(generate_label, [model, duration], go, **PRIVATE)
        dice.click(random_seed, None, seed, **PRIVATE)
        reuse_last.click(last_seed, session, seed, **PRIVATE)
        use_seed.click(reuse_seed, record, seed, **PRIVATE)
        use_all.click(
            reuse_settings,
            record,
            [prompt, duration, aspect_ratio, camera_fixed, seed, model],
            **PRIVATE,
        )
        backend_choice.input(set_backend, [backend_choice, session], banner, **PRIVATE)
        # The key is an input of private events only: never recorded in run history.
        for trigger in (save_key.click, key.submit):
            trigger(set_key, [key, session], [key, banner, backend_choice], **PRIVATE)
        demo.load(init_session, session, [banner, backend_choice], api_visibility="private")
    _hide_login_check(demo)
    return demo


def _hide_login_check(demo: gr.Blocks) -> None:
    """gr.LoginButton checks the sign-in on each page load through a public API endpoint
    (/_check_login_status); make it private so that /generate stays the only public one."""
    for fn in demo.fns.values():
        if isinstance(getattr(fn.fn, "__self__", None), gr.LoginButton):
            fn.api_visibility = "private"


# Each generation's log lines carry a short id, to follow one run among many visitors'.
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def configure_logging() -> None:
    """Levels from LOG_LEVEL (default INFO). httpx logs URLs, never headers: no key."""
    handler = logging.StreamHandler()
    handler.addFilter(_RequestId())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, handlers=[handler])
    if level != "DEBUG":  # one line per poll is noise; our own lines say what matters
        logging.getLogger("httpx").setLevel(logging.WARNING)


def main() -> None:
    configure_logging()
    b = backends()
    settings = b.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    backend = "offline emulator" if settings.offline or not settings.api_key else settings.base_url
    log.info("backend %s · model %s · data %s", backend, settings.default_model, settings.data_dir)
    if settings.require_login and settings.shared and not settings.oauth:
        log.warning(
            "PLAYGROUND_REQUIRE_LOGIN is set but sign-in is not (hf_oauth: true in the "
            "Space's README): no visitor can spend the owner's key"
        )
    b.prune()
    b.resume()
    launch(build_demo(), settings.data_dir, mcp_server=settings.mcp)


def launch(demo: gr.Blocks, data_dir: Path, **kwargs: Any) -> gr.Blocks:
    """Queue and launch with the page's theme, style and script (tests launch the same way)."""
    demo.queue(default_concurrency_limit=GENERATE_CONCURRENCY).launch(
        theme=gr.themes.Soft(primary_hue="violet", neutral_hue="slate"),
        css=CSS,
        js=PAGE_JS,
        # Outputs, and the preset images whatever the working directory; never the history
        # database beside the outputs, which holds every visitor's records.
        allowed_paths=[str(Path(data_dir).resolve()), str(PRESETS_DIR)],
        blocked_paths=[str(p) for p in history.database_files(Path(data_dir).resolve())],
        # Uploads beyond this are refused before they reach a handler (the API takes 10 MB;
        # bigger photos are accepted here and scaled down).
        max_file_size=MAX_UPLOAD,
        # Gradio's queue runs at most max_threads events at once (default 40), whatever each
        # event's concurrency_limit: room for every generate and its .then() follow-ups.
        max_threads=2 * GENERATE_CONCURRENCY,
        state_session_capacity=MAX_SESSIONS,
        **kwargs,
    )
    return demo


if __name__ == "__main__":
    main()
