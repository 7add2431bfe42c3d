"""The page's event handlers: widgets in, one service call, a view out.

Each method reads like "widgets -> `Playground` method -> `views` function"; the run flow,
ownership checks and every rule live in the service and below. Errors are worded in one
place (`errors.worded` wraps every public method). A run the page names is
always looked up again by its id: the record the page holds is a pointer, never trusted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import gradio as gr

from playground.errors import ImageError, NotFound, RunContinues
from playground.flow.generation import Progress, RunRecord
from playground.flow.service import Playground, PreparedRun, prompt_lines
from playground.flow.session import Session
from playground.media import images, urls
from playground.model import prompting, seedance
from playground.model.form import AUTO_RATIO, FIELDS, Form
from playground.model.status import RunStatus
from playground.ui import errors, snippets, views
from playground.ui.addresses import client_address
from playground.ui.presets import load_presets
from playground.ui.progress import ProgressEvents, Reporter, StatusLine
from wavespeed_client import WaveSpeedError

# The page's form, in the order its widgets are wired as inputs (after the session): the
# model's fields, the model, then what only the page offers. The one list of them.
PAGE_FIELDS = (*FIELDS, "model", "image_url", "last_image_url", "upscale")
# What "Reuse all settings" and History's "Load" put back, in this order.
SETTINGS_FIELDS = ("prompt", "duration", "aspect_ratio", "camera_fixed", "seed", "model")
BACKENDS = ("WaveSpeed", "Offline (synthetic)")


def page_form(values: tuple[Any, ...]) -> Form:
    """The page's widget values (in PAGE_FIELDS order) as a Form."""
    return Form.of(**dict(zip(PAGE_FIELDS, values, strict=True)))


@errors.worded
class Handlers:
    def __init__(self, service: Playground) -> None:
        self.service = service

    # ------------------------------------------------------------------ generate

    async def generate(
        self,
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
        request: gr.Request | None = None,
        progress: gr.Progress = gr.Progress(),
    ) -> AsyncIterator[tuple[Any, Any, str]]:
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
        # callers (Gradio's schema requires a parameter without one). Gradio always passes
        # the session, fills profile from the HF sign-in and gives progress its events.
        named = locals()  # the parameters before `model` are the model's fields (FIELDS)
        session = self.service.new_session() if session is None else session
        self.seen_from(session, request)
        form = Form.of(model, **{name: named[name] for name in FIELDS})
        async for outputs in self._generate(session, form, profile, ProgressEvents(progress)):
            yield outputs

    async def generate_on_page(
        self,
        profile: gr.OAuthProfile | None,
        request: gr.Request | None,
        session: Session,
        *values: Any,
    ) -> AsyncIterator[tuple[Any, Any, str]]:
        """The page's Generate button: `generate` with the page's extras (image addresses
        sent as they are, enlarging small images), and progress in the status line."""
        self.seen_from(session, request)
        async for outputs in self._generate(session, page_form(values), profile, StatusLine()):
            yield outputs

    async def _generate(
        self, session: Session, form: Form, profile: gr.OAuthProfile | None, reporter: Reporter
    ) -> AsyncIterator[tuple[Any, Any, str]]:
        """One run, as (video, record, status) outputs: the page's and the API's alike."""
        self.sign_in(session, profile)
        run = await self._prepare(session, form)  # refused here: the status line stays as is
        try:
            async for item in self.service.generate(run):
                if isinstance(item, RunRecord):
                    done = views.done_text(item.timings.total_s, item.seed)
                    yield item.video_path, item.to_json(), views.status_html(done, "ok")
                elif line := reporter.progress(item):
                    yield gr.skip(), gr.skip(), line
        except (WaveSpeedError, ImageError, RunContinues) as exc:  # on its way
            if line := reporter.failed(errors.describe(exc)):
                yield gr.skip(), gr.skip(), line
            raise

    async def generate_variations(
        self,
        profile: gr.OAuthProfile | None,
        request: gr.Request | None,
        session: Session,
        count: int,
        variants: str,
        *values: Any,
    ) -> AsyncIterator[tuple[str, str]]:
        """Run a batch in parallel: `count` seeds, or one seed across up to 4 prompt
        variants (one per line of `variants`). The image is uploaded once for the batch."""
        self.sign_in(session, profile)
        self.seen_from(session, request)
        run = await self._prepare(session, page_form(values))
        requests = self.service.variations(run, count, variants)
        labels = [views.variation_label(i, r.seed, r.prompt) for i, r in enumerate(requests)]
        cells: list[tuple[str | None, str]] = [(None, f"{label} · waiting") for label in labels]
        news = [StatusLine() for _ in requests]  # per run: only news redraws the grid
        done = failed = 0
        started = False
        async for index, item in self.service.generate_batch(run, requests):
            if not started:
                started = True
                busy = views.status_html(f"Starting {len(requests)} variations…", "busy")
                yield views.video_grid(cells), busy
            if isinstance(item, Progress):
                if news[index].progress(item) is None:
                    continue
                cells[index] = (None, f"{labels[index]} · {item.describe()}")
            elif isinstance(item, RunRecord):
                cells[index], done = (item.video_path, labels[index]), done + 1
            else:
                cells[index] = (None, f"{labels[index]} · {errors.describe(item)}")
                failed += 1
            text, kind = views.batch_summary(done, failed, len(requests))
            yield views.video_grid(cells), views.status_html(text, kind)

    async def _prepare(self, session: Session, form: Form) -> PreparedRun:
        run = await self.service.prepare(session, form)
        for text in run.notes:
            gr.Warning(text)
        return run

    def cancel(self, session: Session) -> str:
        """Stop waiting; the tasks go on in the background and land in History."""
        ids = self.service.cancel(session)
        message = (
            f"Stopped waiting for task {', '.join(ids)}. It may still finish on the server "
            "and be billed; it will appear in History when done."
            if ids
            else "Stopped."
        )
        gr.Warning(message)
        return views.status_html(message, "warn")

    # ------------------------------------------------------------------ prices & form

    # The labels follow every keystroke, so a value may be half-typed (empty, "-"): then
    # they stay as they are. They never raise: Gradio drops the change that waited for a
    # failed one, and the label would stay stale.
    @staticmethod
    def price_text(model: str, duration: int) -> Any:
        return _or_skip(lambda: views.price_text(model, duration))

    @staticmethod
    def generate_label(model: str, duration: int) -> Any:
        return _or_skip(lambda: gr.Button(value=views.generate_text(model, duration)))

    @staticmethod
    def batch_label(model: str, duration: int, count: int, variants: str) -> Any:
        def label() -> gr.Button:
            runs = len(prompt_lines(variants)) or int(count)
            return gr.Button(value=views.batch_text(model, duration, runs))

        return _or_skip(label)

    @staticmethod
    def prompt_count(prompt: str) -> str:
        return views.prompt_count(prompt)

    @staticmethod
    def random_seed() -> int:
        return seedance.choose_seed()

    @staticmethod
    def last_seed(session: Session) -> int:
        """The seed of this session's latest run, to repeat it with other settings."""
        if session.last_seed is None:
            gr.Info("No seed yet: generate once, then reuse its seed.")
            return seedance.RANDOM_SEED
        return session.last_seed

    @staticmethod
    def camera_move(prompt: str, move: str) -> tuple[str, bool]:
        """One click puts a camera move in the prompt (replacing any earlier one); "fixed"
        also fixes the camera. The prompt box stays the source of truth."""
        return prompting.apply_camera_move(prompt or "", move)

    @staticmethod
    def compose_beats(action: str, camera: str, environment: str, continuity: str) -> str:
        try:
            composed = prompting.compose_prompt(action, camera, environment, continuity)
        except prompting.PromptTooLong as exc:
            raise errors.worded_error(str(exc), "Prompt too long") from None
        if not composed:
            raise errors.worded_error(
                "Fill in at least one beat (subject action, camera, environment…).",
                "Nothing to write",
            )
        return composed

    @staticmethod
    def apply_preset(evt: gr.SelectData) -> tuple[Any, ...]:
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

    # ------------------------------------------------------------------ the result

    def run_card(self, record: dict[str, Any] | None, session: Session) -> str:
        """The card of the run the page shows, as this server recorded it."""
        try:
            return views.run_card(self._own(record, session).record)
        except NotFound:
            return views.run_card(None)

    def reuse_settings(self, record: dict[str, Any] | None, session: Session) -> tuple[Any, ...]:
        """Put a run's settings back in the form (not its images: those stay as they are)."""
        return _settings_of(self._own(record, session, "Nothing to reuse yet").record)

    def reuse_seed(self, record: dict[str, Any] | None, session: Session) -> int:
        return int(self._own(record, session, "Nothing to reuse yet").record["seed"])

    def copy_as_code(
        self, record: dict[str, Any] | None, session: Session, request: gr.Request
    ) -> tuple[str, str, str]:
        """curl, httpx and gradio_client snippets that repeat a run; the key as a variable."""
        try:
            stored = self._own(record, session).record
        except NotFound:
            return "", "", ""
        host = request.headers.get("host", "127.0.0.1:7860") if request else "127.0.0.1:7860"
        scheme = request.headers.get("x-forwarded-proto", "http") if request else "http"
        code = snippets.all_snippets(
            stored,
            app_url=f"{scheme}://{host}/",
            base_url=stored.get("api_base") or snippets.DEFAULT_BASE_URL,
        )
        return code["curl"], code["python"], code["gradio_client"]

    def _own(self, record: Any, session: Session, nothing: str = "Nothing to show yet") -> Any:
        """The stored run a page's record points to, if it is this session's."""
        if not isinstance(record, dict) or not record.get("id"):
            raise NotFound(f"{nothing}: generate a video first.")
        return self.service.run(session, record["id"])

    # ------------------------------------------------------------------ backend & key

    def backend_banner(self, session: Session) -> str:
        return views.banner(self.service.standing(session))

    def set_backend(self, choice: str, session: Session) -> str:
        session.offline = (choice or "").startswith("Offline")
        return self.backend_banner(session)

    def set_key(self, key: str, session: Session) -> tuple[str, str, str]:
        """Keep a visitor's key in their session only; clear the field so the page holds none."""
        collected = self.service.use_key(session, key)
        gr.Info("Key saved for this session only. It is not stored anywhere else.")
        if collected:
            runs = "1 run" if len(collected) == 1 else f"{len(collected)} runs"
            gr.Info(
                f"{runs} made with this key before the app restarted: being fetched now; "
                "they will appear in History."
            )
        return "", self.backend_banner(session), BACKENDS[0]

    def init_session(self, session: Session, token: object, profile: gr.OAuthProfile | None = None):
        """A page load: back to the browser's own session if it had one (a reload, a closed
        tab), signed in as Gradio says; the page then shows how it stands."""
        session, token = self.service.returning(session, token)
        self.sign_in(session, profile)  # History and the quota are the account's from the start
        backend = BACKENDS[1] if session.offline else BACKENDS[0]
        return session, token, self.backend_banner(session), backend

    def seen_from(self, session: Session, request: gr.Request | None) -> None:
        """Where the session's requests come from (`addresses`); a call from inside the
        process has no request, and leaves it as it was."""
        if request is None:
            return
        address = client_address(
            (request.headers or {}).get("x-forwarded-for"),
            getattr(getattr(request, "client", None), "host", None),
            trust_forwarded=self.service.settings.space,
        )
        session.address = address or session.address

    @staticmethod
    def sign_in(session: Session, profile: gr.OAuthProfile | None) -> None:
        """Gradio reads the profile from the signed session cookie for every event, so a
        visitor's quota follows their HF account, not whatever the page claims. Keyed by
        the account's id ("sub"): a username can be renamed and then taken by another."""
        session.sign_in((profile.get("sub") or profile.username) if profile else None)

    # ------------------------------------------------------------------ images & framing

    # The newest choice wins: an upload empties its URL box, a typed URL removes the upload
    # (Generate would use the URL anyway; this way the form shows what will be sent). Each
    # acts only when the other box was filled as the event fired: an upload's reply does
    # not empty a box that was still empty then (a person typing right after dropping).
    @staticmethod
    def upload_replaces_url(path: str | None, url: str | None):
        return "" if path and url else gr.skip()

    @staticmethod
    def url_replaces_upload(url: str | None, path: str | None):
        return None if url and url.strip() and path else gr.skip()

    def preview_framing(self, path: str | None, ratio: str, url: str = ""):
        """What the video will show when the chosen ratio differs from the image's."""
        hidden = gr.Image(visible=False)
        if ratio in (AUTO_RATIO, "", None):
            return hidden
        try:
            shape = self.service.previews.shape(path, url)
            if shape is None or not images.ratio_differs(shape[0], ratio):
                return hidden
            preview = images.preview_aspect(shape[1], ratio, "crop")
        except ImageError:
            return hidden  # Generate (and the note under the images) say what is wrong
        return gr.Image(value=preview, visible=True, label=f"What the {ratio} video will show")

    def end_image_note(
        self, start: str | None, end: str | None, start_url: str = "", end_url: str = ""
    ) -> str:
        """Say at once when a typed address cannot be used, and what happens when the end
        frame's shape differs from the start's."""
        shapes = []
        for what, path, url in (("start", start, start_url), ("end", end, end_url)):
            try:
                shapes.append(self.service.previews.shape(path, url))
            except ImageError as exc:  # an upload's problem is Generate's to tell
                return views.note(f"The {what} image URL: {exc}") if url and url.strip() else ""
        first, last = shapes
        text = first and last and images.aspect_mismatch_note(first[0], last[0])
        return views.note(text) if text else ""

    # ------------------------------------------------------------------ storyboard

    def continue_from(self, record: dict[str, Any] | None, session: Session):
        """Chain shots: this run joins the storyboard, its last frame becomes the next start."""
        frame = self.service.continue_from(session, _run_id(record))
        gr.Info("The last frame is the new start image. Describe the next beat and generate.")
        return str(frame), None, self.storyboard_view(session)

    def add_to_storyboard(self, record: dict[str, Any] | None, session: Session):
        count = self.service.add_shot(session, _run_id(record))
        gr.Info(f"Added as shot {count} of the storyboard.")
        return self.storyboard_view(session)

    def storyboard_view(self, session: Session) -> list[tuple[str, str]]:
        """The shots in order, as a gallery."""
        return [
            (
                _picture_of(shot) or shot.video_path or "",
                f"Shot {i + 1} · {views.caption(shot.to_json())}",
            )
            for i, shot in enumerate(self.service.shots(session))
        ]

    def stitch_storyboard(self, session: Session) -> tuple[str, str]:
        stitched = self.service.stitch(session)
        return str(stitched.path), views.stitch_note(stitched)

    @staticmethod
    def clear_storyboard(session: Session):
        session.storyboard.clear()
        return [], None, ""

    # ------------------------------------------------------------------ history & compare

    def list_runs(self, search: str, session: Session):
        """The session's runs (all runs on a local app), newest first, and the total spent."""
        listed = self.service.runs(session, search)
        items, ids = [], []
        for run in listed.runs:
            if picture := _picture_of(RunRecord.from_json(run.record)):
                items.append((picture, views.caption(run.record)))
                ids.append(run.id)
        choices = [(views.caption(r.record), r.id) for r in listed.completed]
        return items, ids, views.history_summary(listed), gr.CheckboxGroup(choices=choices)

    def show_run(self, ids: list[str], session: Session, evt: gr.SelectData):
        """A past run's video and card, if it belongs to this session (or the app is local)."""
        if not ids or not 0 <= evt.index < len(ids):
            raise NotFound("That run is not in your history any more; press Refresh.")
        run = self.service.run(session, ids[evt.index])
        record = RunRecord.from_json(run.record)
        done = record.status is RunStatus.COMPLETED and record.video_path
        video = record.video_path if done and Path(record.video_path or "").is_file() else None
        return video, views.run_card(run.record), run.record

    def load_run_into_form(self, record: dict[str, Any] | None, session: Session):
        """A past run's images and settings back into the form, to repeat or vary it."""
        if not isinstance(record, dict) or not record.get("id"):
            raise NotFound("Choose a run in History first.")
        stored = self.service.run(session, record["id"]).record
        files, inputs = stored.get("input_files") or {}, stored.get("inputs") or {}
        start, end = _kept(files.get("start")), _kept(files.get("end"))
        start_url, end_url = _address(inputs.get("image")), _address(inputs.get("last_image"))
        if not (start or start_url):
            raise NotFound("This run's start image was not kept; upload it again.")
        prompt, duration, ratio, camera_fixed, seed, model = _settings_of(stored)
        return (
            *(start, end, prompt, duration, ratio, camera_fixed, seed, model),
            gr.Tabs(selected="play"),
            "" if start else start_url,
            "" if end else end_url,
        )

    def delete_run(self, record: dict[str, Any] | None, search: str, session: Session):
        """Delete a finished run and its files, when the user asks (and only then)."""
        if not isinstance(record, dict) or not record.get("id"):
            raise NotFound("Choose a run in History first.")
        self.service.delete(session, record["id"])
        gr.Info(f"Deleted run {str(record['id'])[:8]} and its files.")
        return (*self.list_runs(search, session), None, views.run_card(None), None)

    def compare_runs(self, ids: list[str], session: Session) -> str:
        """Videos side by side (played in sync by the page script) and what differs."""
        return views.compare_view([r.to_json() for r in self.service.compare(session, ids)])


def _run_id(record: Any) -> str | None:
    return record.get("id") if isinstance(record, dict) else None


def _settings_of(record: dict[str, Any]) -> tuple[Any, ...]:
    inputs = record.get("inputs") or {}
    return (
        inputs.get("prompt", ""),
        inputs.get("duration", seedance.DURATION_DEFAULT_S),
        inputs.get("aspect_ratio") or AUTO_RATIO,
        inputs.get("camera_fixed", False),
        record.get("seed", seedance.RANDOM_SEED),
        record.get("model", seedance.DEFAULT_MODEL),
    )


def _picture_of(record: RunRecord) -> str | None:
    for path in (record.input_files.get("thumb"), record.input_files.get("start")):
        if path and Path(path).is_file():
            return path
    return None


def _kept(path: str | None) -> str | None:
    return path if path and Path(path).is_file() else None


def _address(value: Any) -> str:
    """A run input sent as an http(s) address (typed, or where an upload was stored)."""
    return value if isinstance(value, str) and urls.is_url(value) else ""


def _or_skip(make: Callable[[], Any]) -> Any:
    try:
        return make()
    except (TypeError, ValueError, OverflowError):
        return gr.skip()
