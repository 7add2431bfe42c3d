"""The page's event handlers: widgets in, one service call, a view out.

Each method reads like "widgets -> `Playground` method -> `views` function"; the run flow,
ownership checks and every rule live in the service and below. Errors are worded in one
place (`errors.worded` wraps every public method). A run the page names is
always looked up again by its id: the record the page holds is a pointer, never trusted.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr

from playground.errors import (
    AudioFlagged,
    ImageError,
    ImageTooSmall,
    InvalidRequest,
    NotFound,
    RunContinues,
)
from playground.flow.generation import Progress, RunRecord
from playground.flow.jobs import Job, JobQueue, JobState
from playground.flow.service import (
    COMPARE_MAX,
    EMPTY_STORYBOARD,
    Playground,
    PreparedRun,
    Waiting,
    prompt_lines,
)
from playground.flow.session import Session
from playground.media import images, urls
from playground.model import catalog, prompting, seedance
from playground.model.form import AUTO_RATIO, FIELDS, Form
from playground.model.status import RunStatus
from playground.store.history import NOTE_MAX_CHARS, OFFLINE_BACKEND, UNDO_GRACE_S
from playground.ui import errors, memory, modelform, snippets, views
from playground.ui.addresses import client_address
from playground.ui.modelform import EXTRA_FIELDS
from playground.ui.presets import load_presets
from playground.ui.progress import ProgressEvents, Reporter, StatusLine
from wavespeed_client import TaskTimeout, WaveSpeedError

log = logging.getLogger(__name__)
TAKEN_OUT = "That file was taken out of the"  # the note of a dropped file that is no image
PREPARING = "Checking the form and images…"  # a job's label until its request is ready
LEFT_NOTE = "Nobody waits for it here any more: it goes on and lands in History."

# The page's form, in the order its widgets are wired as inputs (after the session): the
# crafted fields, the model, what only the page offers, then the generic slots. The one
# list of them.
PAGE_FIELDS = (
    *FIELDS,
    "model",
    "image_url",
    "last_image_url",
    "upscale",
    *EXTRA_FIELDS,
    "extra_images",
)
# What the browser keeps of the form between visits (ui.memory).
SAVED_FIELDS = memory.saved_fields(PAGE_FIELDS)
# History's filters: the choices that filter nothing, and the star button's two faces.
ALL_STATUSES = "All statuses"
ALL_MODELS = "All models"
STAR, UNSTAR = "★ Star", "☆ Unstar"
# The public /generate's first parameters, as they have been from the start.
API_FIELDS = ("image", "prompt", "last_image", "duration", "aspect_ratio", "camera_fixed", "seed")
# What every change of the form's model sets (a switch, reuse, load, a preset), in this
# order; then the slots. The first two are the picker and the model the form is set for.
FORM_SET = (
    "model",
    "shown",
    "note",
    "successor",
    "prompt",
    "duration",
    "aspect_ratio",
    "camera_fixed",
    "seed",
    "seed_row",
    "resolution",
    "generate_audio",
    "end_box",
    "extra_images",
)
# What the price labels read, after the session: the model, then its fields that can move
# the price, then the batch's size, then the slots.
PRICED_FIELDS = ("duration", "resolution", "generate_audio")
BACKENDS = ("WaveSpeed", "Offline (synthetic)")
MAX_OPTIONS = 32  # fields one `options` object may set
MAX_OPTIONS_CHARS = 64 * 1024  # and its size as JSON: settings, not payloads


def page_form(models: catalog.Catalog, values: tuple[Any, ...]) -> Form:
    """The page's widget values (in PAGE_FIELDS order) as a Form: only the fields the
    chosen model has (a hidden widget keeps its value; it is never sent), the slots read
    as the model's own fields."""
    named = dict(zip(PAGE_FIELDS, values, strict=True))
    spec = models.get(named["model"])
    inputs = {k: named[k] for k in FIELDS if spec is None or spec.has(k)}
    inputs |= modelform.extra_values(spec, named)
    extras = {k: named[k] for k in ("image_url", "last_image_url", "upscale")}
    if spec is not None and not spec.has("last_image"):
        extras["last_image_url"] = ""
    listed = modelform.images_field(spec)
    uploads = named.get("extra_images") if isinstance(named.get("extra_images"), list) else []
    if listed is not None and uploads:
        extras["image_lists"] = {listed.name: tuple(p for p in uploads if isinstance(p, str))}
    return Form.of(named["model"], **inputs, **extras)


def options_of(options: Any, named: dict[str, Any]) -> dict[str, Any]:
    """The API's `options`: other schema fields by name, as a JSON object (or its text)."""
    if options in (None, "", {}):
        return {}
    if isinstance(options, str):
        try:
            options = json.loads(options)
        except ValueError:
            raise InvalidRequest(
                [
                    "options must be a JSON object of field names and values, like "
                    '{"negative_prompt": "blur"}.'
                ]
            ) from None
    if not isinstance(options, dict) or len(options) > MAX_OPTIONS:
        raise InvalidRequest(
            [f"options must be a JSON object of at most {MAX_OPTIONS} fields by name."]
        )
    if len(json.dumps(options, default=str)) > MAX_OPTIONS_CHARS:
        raise InvalidRequest(
            [
                f"options is over {MAX_OPTIONS_CHARS // 1024} KB as JSON: settings only, "
                "with images as URLs."
            ]
        )
    clashes = [k for k in options if k in named and named[k] not in (None, "", AUTO_RATIO)]
    if clashes:
        raise InvalidRequest(
            [
                f"{', '.join(map(str, clashes))[:120]}: set as a parameter and in options; "
                "give each once."
            ]
        )
    return {str(k): v for k, v in options.items()}


@errors.worded("generate", "list_models")
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
        resolution: str | None = None,
        generate_audio: bool = False,
        options: str | None = None,
        session: Session | None = None,
        profile: gr.OAuthProfile | None = None,
        request: gr.Request | None = None,
        progress: gr.Progress = gr.Progress(),
    ) -> AsyncIterator[tuple[Any, Any, str]]:
        """Generate a video from a start image (and optional end image) with Seedance, or any
        image-to-video model of WaveSpeed's catalog. The fields follow the model: each
        model takes its own (see list_models); a field it lacks is refused unless left at
        its default.

        Progress ("Processing · 12 s · about 20 s left") comes as Gradio progress events, which
        gradio_client shows in `job.status()` and MCP clients as progress notifications.

        Args:
            image: the start frame (jpg/png/webp…, at least 300×300).
            prompt: the motion prompt: subject action, camera, environment, continuity.
            last_image: optional end frame to land on.
            duration: length in seconds, in the model's range (Seedance 1.0: 2 to 12).
            aspect_ratio: one of 21:9, 16:9, 4:3, 1:1, 3:4, 9:16, or "auto" to match the image.
            camera_fixed: keep the camera still (models that have it).
            seed: -1 for a random seed (the one used is returned), or 0 to 2147483647;
                leave -1 for a model without a seed.
            model: the WaveSpeed model id (default: Seedance 1.0 lite 720p).
            resolution: e.g. "720p" or "1080p", for models that have it; empty: default.
            generate_audio: a soundtrack with the video, for models that have it (off
                unless asked: sound may cost more).
            options: any other field of the model by name, as a JSON object's text,
                like '{"negative_prompt": "blur"}'.

        Returns:
            The video file, the run record (id, model, status, seed, timings, cost_usd, inputs),
            and a status line in words ("Done in 12.3 s · seed 42").
        """
        # The defaults make everything but the image and prompt optional for API and MCP
        # callers (Gradio's schema requires a parameter without one). Gradio always passes
        # the session, fills profile from the HF sign-in and gives progress its events.
        named = {name: value for name, value in locals().items() if name in FIELDS}
        session = self.service.new_session() if session is None else session
        self.seen_from(session, request)
        form = Form.of(model, **named, **options_of(options, named))
        async for outputs in self._generate(session, form, profile, ProgressEvents(progress)):
            yield outputs

    async def generate_on_page(
        self,
        profile: gr.OAuthProfile | None,
        request: gr.Request | None,
        session: Session,
        *values: Any,
    ) -> AsyncIterator[tuple[Any, ...]]:
        """The page's Generate button: `generate` with the page's extras (image addresses
        sent as they are, enlarging small images), and progress in the status line.
        Pressed while a run is going, it queues: the run waits its turn, at its own price."""
        self.seen_from(session, request)
        self.sign_in(session, profile)
        busy = _busy(session)
        job = None
        try:
            job = session.jobs.add(PREPARING, "")  # its place in line: the press's order
            run = await self._prepare(session, page_form(self.service.catalog(session), values))
        except Exception as exc:  # refused before anything was paid: the line says why
            if job is not None:
                session.jobs.discard(job)
            if not busy and (line := StatusLine().refused(errors.describe(exc))):
                yield gr.skip(), gr.skip(), line, gr.skip(), gr.skip(), gr.skip()
            raise  # while a run goes on, its line stays; the refusal is a message
        job.label = views.job_label(run.request)
        job.price = views.job_price(run.request, 1, session.offline)
        job.work = (run, None)
        async for outputs in self._single(session, job, run):
            yield outputs

    async def _generate(
        self, session: Session, form: Form, profile: gr.OAuthProfile | None, reporter: Reporter
    ) -> AsyncIterator[tuple[Any, Any, str]]:
        """One run for an API caller, as (video, record, status) outputs."""
        self.sign_in(session, profile)
        try:
            run = await self._prepare(session, form)
        except Exception as exc:  # refused before anything was paid: the line says why
            if line := reporter.refused(errors.describe(exc)):
                yield gr.skip(), gr.skip(), line
            raise
        try:
            async for item in self.service.generate(run):
                if isinstance(item, RunRecord):
                    done = views.done_text(item.timings.total_s, item.seed)
                    yield item.video_path, item.to_json(), reporter.done(done)
                elif line := reporter.progress(item):
                    yield gr.skip(), gr.skip(), line
        except (WaveSpeedError, ImageError, RunContinues, AudioFlagged) as exc:  # on its way
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
    ) -> AsyncIterator[tuple[Any, ...]]:
        """Run a batch in parallel: `count` seeds, or one seed across up to 4 prompt
        variants (one per line of `variants`). The image is uploaded once for the batch.
        Pressed while a run is going, the batch queues like a Generate."""
        self.sign_in(session, profile)
        self.seen_from(session, request)
        busy = _busy(session)
        job = None
        try:
            job = session.jobs.add(PREPARING, "")
            run = await self._prepare(session, page_form(self.service.catalog(session), values))
            requests = self.service.variations(run, count, variants)
        except Exception as exc:
            if job is not None:
                session.jobs.discard(job)
            if not busy and (line := StatusLine().refused(errors.describe(exc))):
                yield gr.skip(), gr.skip(), line, gr.skip(), gr.skip(), gr.skip()
            raise
        job.label = f"{len(requests)} variations · {views.job_label(run.request)}"
        job.price = views.job_price(run.request, len(requests), session.offline)
        job.runs, job.work = len(requests), (run, requests)
        async for outputs in self._batch(session, job, run, requests):
            yield outputs

    async def resume_queue(self, session: Session) -> AsyncIterator[tuple[Any, ...]]:
        """Run the jobs that paused when the page went away, in their order."""
        paused = session.jobs.resume()
        if not paused:
            raise NotFound("No paused runs wait here: press Generate to make one.")
        gr.Info(f"Running the {_count(len(paused), 'paused run')} in order.")
        for job in paused:
            run, requests = job.work
            steps = self._single(session, job, run) if requests is None else None
            steps = steps or self._batch(session, job, run, requests)
            async for outputs in steps:
                yield outputs

    async def _single(
        self, session: Session, job: Job, run: PreparedRun
    ) -> AsyncIterator[tuple[Any, ...]]:
        """One job's run as the page's outputs: (video, record, status, variations, queue,
        card). It waits its turn first; the queue panel changes when it starts and ends."""
        queue, reporter, skip = session.jobs, StatusLine(), gr.skip()
        started = held = False
        try:
            async for item in self.service.generate(run, lambda: queue.turn(job)):
                if isinstance(item, Waiting):
                    held = True
                    if queue.position(job):
                        yield skip, skip, skip, skip, self.queue_panel(session), skip
                    continue
                # The newest kind of result is the one on show: a single run clears the grid.
                extras = (skip, skip) if started else ("", self.queue_panel(session))
                started = True
                if isinstance(item, RunRecord):
                    _note_task(job, item.id)
                    queue.end(job, JobState.DONE, views.done_text(item.timings.total_s, item.seed))
                    record = item.to_json()
                    yield (
                        item.video_path,
                        record,
                        reporter.done(job.note),
                        "",
                        self.queue_panel(session),
                        views.run_card(record),
                    )
                    continue
                _note_task(job, item.task_id)
                if line := reporter.progress(item):
                    yield skip, skip, line, *extras, skip
                elif extras[1] is not skip:
                    yield skip, skip, skip, *extras, skip
        except (WaveSpeedError, ImageError, RunContinues, AudioFlagged) as exc:  # on its way
            message = errors.describe(exc)
            queue.end(job, _ended(exc), message)
            if line := reporter.failed(message):
                yield skip, skip, line, skip, self.queue_panel(session), skip
            raise
        except Exception as exc:
            _refused(queue, job, held, exc)
            raise
        finally:
            _closed(queue, job)

    async def _batch(
        self,
        session: Session,
        job: Job,
        run: PreparedRun,
        requests: list[seedance.SeedanceRequest],
    ) -> AsyncIterator[tuple[Any, ...]]:
        """A batch job as the page's outputs (as `_single`); its tiles open their runs."""
        queue, skip = session.jobs, gr.skip()
        labels = [views.variation_label(i, r.seed, r.prompt) for i, r in enumerate(requests)]
        cells: list[tuple[str | None, str]] = [(None, f"{label} · waiting") for label in labels]
        ids: list[str | None] = [None] * len(requests)
        news = [StatusLine() for _ in requests]  # per run: only news redraws the grid
        done = failed = 0
        started = held = False
        empty_card = views.run_card(None)
        try:
            batch = self.service.generate_batch(run, requests, lambda: queue.turn(job))
            async for index, item in batch:
                if isinstance(item, Waiting):
                    held = True
                    if queue.position(job):
                        yield skip, skip, skip, skip, self.queue_panel(session), skip
                    continue
                if not started:  # the newest kind of result is on show: the grid
                    started = True
                    busy = views.status_html(f"Starting {len(requests)} variations…", "busy")
                    grid = views.video_grid(cells, ids)
                    yield None, None, busy, grid, self.queue_panel(session), empty_card
                if isinstance(item, Progress):
                    ids[index] = ids[index] or item.task_id
                    _note_task(job, item.task_id)
                    if news[index].progress(item) is None:
                        continue
                    cells[index] = (None, f"{labels[index]} · {item.describe()}")
                elif isinstance(item, RunRecord):
                    ids[index] = item.id
                    _note_task(job, item.id)
                    cells[index], done = (item.video_path, labels[index]), done + 1
                else:
                    cells[index] = (None, f"{labels[index]} · {errors.describe(item)}")
                    failed += 1
                text, kind = views.batch_summary(done, failed, len(requests))
                if done + failed == len(requests):
                    queue.end(job, JobState.DONE if done else JobState.FAILED, text)
                panel = self.queue_panel(session) if job.state.finished else skip
                grid = views.video_grid(cells, ids)
                yield skip, skip, views.status_html(text, kind), grid, panel, skip
        except Exception as exc:
            _refused(queue, job, held, exc)
            raise
        finally:
            _closed(queue, job)

    def queue_panel(self, session: Session) -> str:
        """The page's queue: running, waiting and finished jobs, each with its actions."""
        queue = session.jobs
        return views.queue_view(queue.jobs, queue.position)

    def restore_queue(self, session: Session) -> str:
        """A page (re)loaded: the queue as the load left it (`init_session` paused what an
        earlier page left waiting, until asked for)."""
        return self.queue_panel(session)

    async def queue_action(
        self, session: Session, evt: gr.EventData
    ) -> AsyncIterator[tuple[Any, ...]]:
        """A button of the queue panel or of a variation's tile: open a run, remove a
        waiting job, stop the running one on WaveSpeed, or run the paused ones. Answers
        (video, record, status, variations, queue, card), as a run does."""
        act, skip = getattr(evt, "act", None), gr.skip()
        if act == "resume":
            async for outputs in self.resume_queue(session):
                yield outputs
        elif act == "open":
            video, record, status, grid, card = self.open_run(session, getattr(evt, "run", None))
            yield video, record, status, grid, self.queue_panel(session), card
        elif act == "remove":
            job = session.jobs.remove(getattr(evt, "job", None))
            gr.Info(f"Removed from the queue: {job.label}. Nothing was spent on it.")
            yield skip, skip, skip, skip, self.queue_panel(session), skip
        elif act == "stop":
            status = await self.stop_on_wavespeed(session)
            yield skip, skip, status, skip, self.queue_panel(session), skip
        else:
            raise NotFound("That button is out of date: reload the page.")

    def open_run(self, session: Session, run_id: object) -> tuple[Any, ...]:
        """A run of this page's in the result area: (video, record, status, variations
        left as they are, card); a batch's tile stays where it is."""
        stored = self.service.run(session, run_id)
        record = stored.record
        video = _kept(record.get("video_path")) if stored.status is RunStatus.COMPLETED else None
        status = views.restored_status(record, video is not None, opened=True)
        return video, record, status, gr.skip(), views.run_card(record)

    async def _prepare(self, session: Session, form: Form) -> PreparedRun:
        run = await self.service.prepare(session, form)
        for text in run.notes:
            gr.Warning(text)
        return run

    @staticmethod
    def rerun_offer(session: Session) -> Any:
        """“Rerun without audio”, shown when the content check failed a run with sound."""
        return gr.Button(visible=session.flagged_audio)

    @staticmethod
    def audio_off(session: Session) -> tuple[bool, Any]:
        session.flagged_audio = False
        return False, gr.Button(visible=False)

    async def stop_on_wavespeed(self, session: Session) -> str:
        """Ask WaveSpeed to stop the tasks, not just stop waiting; they land in History with
        what became of them."""
        answers = await self.service.stop_on_server(session)
        if not answers:
            message = "Nothing is running on WaveSpeed for this page to stop."
        else:
            message = " ".join(f"Task {task_id}: {said}" for task_id, said in answers)
            message += " What became of it will show in History."
        gr.Warning(message)
        return views.status_html(message, "warn")

    def cancel(self, session: Session) -> tuple[str, str]:
        """Stop waiting; the tasks go on in the background and land in History. The runs
        still waiting in the queue are dropped: nothing was spent on them. (status, queue)"""
        dropped = session.jobs.drop_waiting()
        ids = self.service.cancel(session)
        queued = (
            f" The {_count(len(dropped), 'queued run')} that had not started "
            f"{'was' if len(dropped) == 1 else 'were'} dropped: nothing was spent on them."
            if dropped
            else ""
        )
        if not ids:
            message = (
                queued.strip()
                or "Nothing was running on this page, so there was nothing to stop waiting for."
            )
            gr.Info(message)
            return views.status_html(message), self.queue_panel(session)
        tasks = "task " + ", ".join(ids) if len(ids) == 1 else "tasks " + ", ".join(ids)
        message = (
            f"Stopped waiting for {tasks}: it goes on in the background and appears here "
            "and in History when it finishes (it may still be billed). To stop it on "
            f"WaveSpeed too, press “Stop the task on WaveSpeed”.{queued}"
        )
        gr.Info(message)
        return views.status_html(message, "warn"), self.queue_panel(session)

    # ------------------------------------------------------------------ prices & form

    # The labels follow every keystroke, so a value may be half-typed (empty, "-"): then
    # they stay as they are. They never raise: Gradio drops the change that waited for a
    # failed one, and the label would stay stale.
    async def price_labels(
        self, session: Session, model: str, *values: Any
    ) -> tuple[Any, Any, Any]:
        """The price line, Generate's label and the batch's, from WaveSpeed's quote (or
        the catalog's estimate, with "≈", until one comes)."""
        named = dict(
            zip((*PRICED_FIELDS, "var_count", "variants", *EXTRA_FIELDS), values, strict=True)
        )
        try:
            spec = self.service.catalog(session).get(model)
            inputs = {k: named[k] for k in PRICED_FIELDS} | modelform.extra_values(spec, named)
            price = await self.service.price(session, model, inputs)
            runs = len(prompt_lines(named["variants"])) or int(named["var_count"])
            duration = inputs.get("duration") or (spec.defaults().get("duration") if spec else 5)
            offline = session.offline
            return (
                views.price_text(price, duration, offline=offline),
                gr.Button(value=views.generate_text(price, offline=offline)),
                gr.Button(value=views.batch_text(price, runs, offline=offline)),
            )
        except (TypeError, ValueError, OverflowError, KeyError, AttributeError):
            return gr.skip(), gr.skip(), gr.skip()

    # ------------------------------------------------------------------ the model

    def list_models(self, everything: bool = False) -> dict[str, Any]:
        """List the image-to-video models /generate can run, Seedance first.

        Each model has its id, name, family, price per second (an estimate from WaveSpeed's
        catalog; None when unknown), whether it is retiring and what WaveSpeed recommends
        instead, and its fields: name, type, whether required, default, range or choices,
        and what it does. Pass a model's own fields to /generate by name (the ones it has
        no parameter for go in `options`).

        Args:
            everything: also list the other families (Kling, Wan, Hailuo...), not just
                Seedance.

        Returns:
            {"catalog": where the list comes from, "models": the models, as objects}.
        """
        models = self.service.catalog()
        return {
            "catalog": models.note or models.source,
            "models": [
                modelform.describe(m, models.successor(m))
                for m in models.image_to_video(bool(everything))
            ],
        }

    def switch_model(self, session: Session, model: str, shown: str, *values: Any) -> tuple:
        """The form for the model just picked: its fields shown, set from its schema, the
        values that still fit kept and the others named."""
        models = self.service.catalog(session)
        spec = models.get(model)
        if spec is None:
            gr.Warning(f"{str(model)[:80]} is not in the catalog any more; choose another model.")
            return tuple(gr.skip() for _ in range(len(FORM_SET) + len(EXTRA_FIELDS)))
        named = dict(zip(PAGE_FIELDS, values, strict=True))
        previous = models.get(shown)
        current = {k: named[k] for k in FIELDS} | modelform.extra_values(previous, named)
        return self._form_set(models, spec, current, previous, set_values=False)

    def to_successor(self, session: Session, shown: str, *values: Any) -> tuple:
        """One click from a retiring model to the one WaveSpeed recommends, settings
        carried over where they fit."""
        models = self.service.catalog(session)
        previous = models.get(shown)
        successor = models.successor(previous) if previous else None
        if successor is None:
            raise NotFound("This model has no successor in the catalog; pick one above.")
        gr.Info(f"Now on {successor.name}; your settings came along where they fit.")
        return self.switch_model(session, successor.id, shown, *values)

    def list_in_picker(self, session: Session, everything: bool) -> Any:
        """The picker's models from the session's catalog, its choice left as it is."""
        choices = modelform.picker_choices(self.service.catalog(session), bool(everything))
        return gr.Dropdown(choices=choices)

    def picker(self, session: Session, everything: bool, model: str) -> Any:
        """Seedance only, or every image-to-video model of the catalog."""
        choices = modelform.picker_choices(self.service.catalog(session), bool(everything))
        return gr.Dropdown(choices=choices, value=model)

    def _form_set(
        self,
        models: catalog.Catalog,
        spec: catalog.ModelSpec,
        values: dict[str, Any],
        previous: catalog.ModelSpec | None,
        *,
        set_values: bool = True,
    ) -> tuple:
        """FORM_SET's updates, then the slots', for `spec` with `values` carried over;
        the prompt and seed only with `set_values` (reuse, load, a preset: not a switch,
        which may land while a person types)."""
        kept, changed = modelform.carried(spec, values, previous)
        crafted = modelform.crafted_updates(spec, kept, set_prompt=set_values)
        successor = models.successor(spec)
        if changed:
            gr.Info(f"{spec.name}: " + "; ".join(changed) + ".")
        return (
            spec.id,
            spec.id,
            modelform.model_note(spec, successor, changed, models.note or models.source),
            gr.Button(
                value=f"Try this on {successor.name}" if successor else "",
                visible=successor is not None,
            ),
            crafted["prompt"],
            crafted["duration"],
            crafted["aspect_ratio"],
            crafted["camera_fixed"],
            _seed_value(values.get("seed")) if set_values else gr.skip(),
            crafted["seed_row"],
            crafted["resolution"],
            crafted["generate_audio"],
            crafted["end_box"],
            modelform.images_update(spec),
            *modelform.slot_updates(spec, kept),
        )

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
        gr.Info(f"Seed {session.last_seed}, your last run's, is in the form.")
        return session.last_seed

    @staticmethod
    def camera_move(prompt: str, move: str) -> tuple[str, bool]:
        """One click puts a camera move in the prompt beside any others (again: takes it
        out); "fixed" replaces them and fixes the camera. The prompt box stays the source
        of truth."""
        return prompting.toggle_camera_move(prompt or "", move)

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

    def apply_preset(self, session: Session, shown: str, evt: gr.SelectData) -> tuple[Any, ...]:
        """A preset's images, then the form set for the model it was written for."""
        preset = load_presets()[evt.index]
        models = self.service.catalog(session)
        spec = models.get(preset.model) or models.get(shown)
        if spec is None:
            raise NotFound(f"The model of “{preset.title}” is not in the catalog here.")
        note = "" if spec.id == preset.model else f" (written for {preset.model})"
        gr.Info(f"Loaded preset “{preset.title}” on {spec.name}{note}. {preset.notes}".strip())
        values = {"aspect_ratio": AUTO_RATIO, **preset.inputs}
        return (
            str(preset.image),
            str(preset.last_image) if preset.last_image else None,
            *self._form_set(models, spec, values, models.get(shown)),
        )

    # ------------------------------------------------------------------ the result

    def run_card(self, record: dict[str, Any] | None, session: Session) -> str:
        """The card of the run the page shows, as this server recorded it."""
        try:
            return views.run_card(self._own(record, session).record)
        except NotFound:
            return views.run_card(None)

    def reuse_settings(self, record: dict[str, Any] | None, session: Session) -> tuple[Any, ...]:
        """Put a run's model and settings back in the form (not its images: those stay as
        they are), by the model's own field names."""
        stored = self._own(record, session, "Nothing to reuse yet").record
        updates = self._settings_of(session, stored)
        gr.Info("This run's model and settings are in the form; the images stay as they are.")
        return updates

    def reuse_seed(self, record: dict[str, Any] | None, session: Session) -> int:
        seed = self._own(record, session, "Nothing to reuse yet").record.get("seed")
        if seed is None:
            raise NotFound("This run's model takes no seed, so there is none to reuse.")
        gr.Info(f"Seed {int(seed)} is in the form: change the prompt or settings and generate.")
        return int(seed)

    def _settings_of(self, session: Session, stored: dict[str, Any]) -> tuple[Any, ...]:
        """FORM_SET's updates for a stored run: its model, its values as they were."""
        models = self.service.catalog(session)
        spec = models.get(stored.get("model"))
        if spec is None:
            raise NotFound(
                f"{str(stored.get('model'))[:80]} is not in WaveSpeed's catalog any more; "
                "its settings cannot be put back. Choose a model and set them by hand."
            )
        inputs = stored.get("inputs") or {}
        values = {k: v for k, v in inputs.items() if k not in ("image", "last_image", "model")}
        values["seed"] = stored.get("seed") if stored.get("seed") is not None else -1
        values.setdefault("aspect_ratio", AUTO_RATIO)
        return self._form_set(models, spec, values, spec)

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
        spec = self.service.catalog(session).get(stored.get("model"))
        code = snippets.all_snippets(
            stored,
            app_url=f"{scheme}://{host}/",
            base_url=_api_base(stored),
            fields=[f.name for f in spec.shown] if spec else (),
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
        gr.Info(
            "Offline: runs are free, synthetic motion on a local emulator, not Seedance."
            if session.offline
            else "WaveSpeed: runs are made by Seedance and cost what the button says."
        )
        return self.backend_banner(session)

    def set_key(self, key: str, session: Session) -> tuple[str, str, str]:
        """Keep a visitor's key in their session only; clear the field so the page holds none."""
        collected = self.service.use_key(session, key)
        gr.Info(
            "Key set for this session; the server never writes it down. The line under "
            "the key box says whether this device keeps it."
        )
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
        session.jobs.page_gone(LEFT_NOTE)  # before the result and the queue are restored
        self.sign_in(session, profile)  # History and the quota are the account's from the start
        backend = BACKENDS[1] if session.offline else BACKENDS[0]
        return session, token, self.backend_banner(session), backend

    # ------------------------------------------------------------------ a page (re)load

    def restore_form(self, session: Session, kept: Any) -> tuple:
        """The form as this browser left it (FORM_SET, the slots, then the image addresses
        and the upscale box), each value fitted to its model like a switch's; nothing kept,
        or a model gone from the catalog: the form stays as built."""
        nothing = tuple(gr.skip() for _ in range(len(FORM_SET) + len(EXTRA_FIELDS) + 3))
        named = memory.remembered_form(kept, SAVED_FIELDS)
        if named is None:
            return nothing
        models = self.service.catalog(session)
        spec = models.get(named["model"])
        if spec is None:
            gr.Warning(
                f"{named['model'][:80]}, the model you used last, is not in the catalog now; "
                "the form starts on the default model."
            )
            return nothing
        values = {k: named.get(k) for k in FIELDS if k not in memory.NOT_SAVED}
        values |= modelform.extra_values(spec, named)
        typed = (
            named.get(n) if isinstance(named.get(n), str) else gr.skip()
            for n in ("image_url", "last_image_url")
        )
        upscale = named["upscale"] if isinstance(named.get("upscale"), bool) else gr.skip()
        return (*self._form_set(models, spec, values, spec), *typed, upscale)

    def restore_key(self, session: Session, kept: Any) -> tuple[str, str, str, Any]:
        """The visitor's key, when they asked this device to keep it (and the session has
        none yet): the banner, the backend, and the key's "set · forget" line."""
        key = memory.remembered_key(kept)
        if key is not None and session.api_key is None:
            self.service.use_key(session, key)
        on_device = key is not None and key == session.api_key
        return (*self._backend_now(session), *self._key_line(session, kept=on_device))

    def keep_key(self, remember: bool, session: Session) -> tuple[dict[str, Any], str, Any]:
        """Keep the key on this device when asked, else make sure none is kept there."""
        kept = session.api_key if remember and session.api_key else None
        return memory.key_kept(kept), *self._key_line(session, kept=kept is not None)

    def forget_key(self, session: Session) -> tuple[dict[str, Any], str, str, str, Any]:
        """Drop the visitor's key from this device and this session."""
        had = session.api_key is not None
        session.forget_key()
        gr.Info(
            "Your key is forgotten, here and on this device; runs made with it stay in History."
            if had
            else "No key of yours was set on this page."
        )
        return (
            memory.key_kept(None),
            *self._backend_now(session),
            *self._key_line(session, kept=False),
        )

    def _backend_now(self, session: Session) -> tuple[str, str]:
        return self.backend_banner(session), BACKENDS[1] if session.offline else BACKENDS[0]

    @staticmethod
    def _key_line(session: Session, *, kept: bool) -> tuple[str, Any]:
        """The "key set" line with its Forget button while the session has the visitor's
        key; `kept`: this device keeps it too."""
        if session.api_key is None:
            return "", gr.Button(visible=False)
        return views.key_line(kept), gr.Button(visible=True)

    async def restore_result(self, session: Session) -> AsyncIterator[tuple[Any, Any, str, Any]]:
        """After a page load, what the page last showed (video, record, status, variations)
        from the server's records; a run still going is followed until it ends."""
        async for outputs in self._latest(session, say_going=True):
            yield outputs

    async def fill_in(self, session: Session) -> AsyncIterator[tuple[Any, Any, str, Any]]:
        """After Cancel: the runs nobody waits for any more fill in here as they end (the
        line keeps saying what Cancel did until then)."""
        async for outputs in self._latest(session, say_going=False):
            yield outputs

    async def _latest(
        self, session: Session, *, say_going: bool
    ) -> AsyncIterator[tuple[Any, Any, str, Any]]:
        skip, first = gr.skip(), True
        async for runs in self.service.follow(session):
            if not runs or (first and not say_going and all(r.finished for r in runs)):
                yield skip, skip, skip, skip  # nothing made yet, or nothing left to fill in
                return
            first = False
            if session.jobs.running is not None:
                return  # a newer run has the result area now
            if len(runs) > 1:
                cells = [views.stored_cell(i, run.record) for i, run in enumerate(runs)]
                grid = views.video_grid(cells, [run.id for run in runs])
                ended = all(run.finished for run in runs)
                yield skip, skip, views.restored_batch(runs) if say_going or ended else skip, grid
                continue
            record = runs[0].record
            if not (say_going or runs[0].finished):
                continue
            video = record.get("video_path") if runs[0].status is RunStatus.COMPLETED else None
            video = video if video and Path(video).is_file() else None
            yield video, record, views.restored_status(record, video is not None), ""

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
        """A typed address replaces the upload only when it is one, and says so."""
        if not (url and url.strip() and path):
            return gr.skip()
        if not urls.is_url(url.strip()):
            gr.Warning(
                "That is not an image address (it should start with https://): the "
                "uploaded image stays. Clear the URL box, or type a full address."
            )
            return gr.skip()
        gr.Info("The typed address replaces the uploaded image; that address will be sent.")
        return None

    @staticmethod
    def check_start_image(path: str | None, upscale: bool, note: str = "") -> tuple[Any, str]:
        return _check_image(path, upscale, note, "start image")

    @staticmethod
    def check_end_image(path: str | None, upscale: bool, note: str = "") -> tuple[Any, str]:
        return _check_image(path, upscale, note, "end image")

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

    # The picked shot is kept as its run id (a gr.State): a place would point at another
    # shot once a second tab of the same session reorders the storyboard.

    def pick_shot(self, session: Session, evt: gr.SelectData) -> tuple[str, str]:
        """The shot clicked in the gallery becomes the one the buttons act on."""
        shot = self.service.shot(session, evt.index)
        return shot.id, _picked_note(evt.index, shot)

    def _move_shot(self, picked: str | None, step: int, session: Session):
        """Move the picked shot one place; it stays picked, and the page says where it is."""
        at = self._picked_index(picked, session)
        to = self.service.move_shot(session, at, step)
        if to == at:
            edge = "first" if step < 0 else "last"
            gr.Info(f"Shot {at + 1} is already the {edge} shot.")
        else:
            gr.Info(f"Shot {at + 1} is now shot {to + 1}.")
        shot = self.service.shot(session, to)
        return gr.Gallery(self.storyboard_view(session), selected_index=to), _picked_note(to, shot)

    def move_shot_earlier(self, picked: str | None, session: Session):
        return self._move_shot(picked, -1, session)

    def move_shot_later(self, picked: str | None, session: Session):
        return self._move_shot(picked, 1, session)

    def remove_shot(self, picked: str | None, session: Session):
        """Take the picked shot off the storyboard; nothing is picked afterwards."""
        at = self._picked_index(picked, session)
        self.service.remove_shot(session, at)
        gr.Info(f"Shot {at + 1} removed; the run stays in History.")
        return gr.Gallery(self.storyboard_view(session), selected_index=None), None, ""

    def ask_to_clear(self, session: Session):
        """Clear asks first, saying how many shots would go; an empty one needs no asking."""
        count = len(self.service.shots(session))
        if not count:
            gr.Info("The storyboard was already empty.")
            return gr.Column(visible=False), ""
        shots = "the only shot" if count == 1 else f"all {count} shots"
        question = f"Clear {shots}? The runs stay in History."
        return gr.Column(visible=True), views.hint(html.escape(question))

    def keep_storyboard(self, session: Session):
        count = len(self.service.shots(session))
        gr.Info(f"Nothing cleared: the storyboard keeps its {_shots(count)}.")
        return gr.Column(visible=False)

    def clear_storyboard(self, session: Session):
        count = self.service.clear_shots(session)
        gr.Info(
            f"Storyboard cleared ({_shots(count)}); the runs stay in History."
            if count
            else "The storyboard was already empty."
        )
        return [], None, "", None, "", gr.Column(visible=False)

    def _picked_index(self, picked: str | None, session: Session) -> int:
        """Where the picked shot is now, or a sentence saying to pick one."""
        ids = [shot.id for shot in self.service.shots(session)]
        if not ids:
            raise NotFound(EMPTY_STORYBOARD)
        if picked not in ids:
            raise NotFound("Pick a shot first: click its picture on the storyboard.")
        return ids.index(picked)

    # ------------------------------------------------------------------ history & compare

    def list_runs(
        self,
        search: str,
        session: Session,
        status: Any = ALL_STATUSES,
        model: Any = ALL_MODELS,
        starred: Any = False,
    ):
        """The session's runs (all runs on a local app), newest first, narrowed by the
        search and the filters; the total spent; the model filter's choices."""
        listed = self.service.runs(
            session,
            search,
            status=_unless(status, ALL_STATUSES),
            model=_unless(model, ALL_MODELS),
            starred=starred,
        )
        items, ids = [], []
        for run in listed.runs:
            if picture := _picture_of(RunRecord.from_json(run.record)):
                items.append((picture, views.caption(run.record, starred=run.starred)))
                ids.append(run.id)
        models = [ALL_MODELS, *listed.models]
        chosen = model if isinstance(model, str) and model in models else ALL_MODELS
        return (
            items,
            ids,
            views.history_summary(listed),
            gr.Dropdown(choices=models, value=chosen),
        )

    def watch_unfinished(self, listed: Any, session: Session):
        """After History lists: its runs still going, and the timer on while there are."""
        unfinished = self.service.unfinished(session, listed)
        return unfinished, gr.Timer(active=bool(unfinished))

    def history_tick(
        self, unfinished: Any, record: Any, search: str, session: Session, *filters: Any
    ):
        """History's timer: once a listed run that was going has ended, the list redraws
        (and the selected run's card, if it is that one); until then nothing changes."""
        still = self.service.unfinished(session, unfinished)
        if still == unfinished:
            return (*(gr.skip() for _ in range(4 + 5)), still, gr.skip())
        listing = self.list_runs(search, session, *filters)
        chosen = _run_id(record)
        if isinstance(chosen, str) and chosen in unfinished and chosen not in still:
            selected = self._selected(self.service.run(session, chosen))
        else:
            selected = tuple(gr.skip() for _ in range(5))
        return (*listing, *selected, still, gr.Timer(active=bool(still)))

    def compare_choices(self, picks: Any, session: Session):
        """Compare's pickers: the session's completed runs as thumbnails and as a list,
        labelled apart (when, seed, prompt); what was picked stays picked while it is
        there; the line under them says how many and what to do next."""
        runs = self.service.completed_runs(session)
        return _compare_board(runs, _kept_picks(picks, {r.id for r in runs}))

    def toggle_pick(self, shown: Any, picks: Any, session: Session, evt: gr.SelectData):
        """A thumbnail clicked in Compare: picked if it was not, unpicked if it was."""
        runs = self.service.completed_runs(session)
        finished = {r.id for r in runs}
        chosen = _kept_picks(picks, finished)
        index = evt.index if isinstance(evt.index, int) else -1
        if not isinstance(shown, list) or not 0 <= index < len(shown):
            raise NotFound("That run is not among Compare's any more: open the tab again.")
        run_id = shown[index]
        if run_id in chosen:
            chosen.remove(run_id)
        elif run_id not in finished:
            raise NotFound("That run is not finished or not in your history any more.")
        elif len(chosen) >= COMPARE_MAX:
            gr.Warning(f"Compare shows up to {COMPARE_MAX} runs side by side: unpick one first.")
        else:
            chosen.append(run_id)
        return _compare_board(runs, chosen)

    def add_to_compare(self, record: dict[str, Any] | None, picks: Any, session: Session):
        """The run chosen in History joins Compare's picks."""
        run_id = self.service.finished_run(session, _run_id(record), action="add it to Compare").id
        runs = self.service.completed_runs(session)
        chosen = _kept_picks(picks, {r.id for r in runs})
        if run_id in chosen:
            gr.Info(f"Run {run_id[:8]} is already among Compare's {len(chosen)} picks.")
        elif len(chosen) >= COMPARE_MAX:
            gr.Warning(
                f"Compare already has {len(chosen)} runs, as many as it shows side by side: "
                "unpick one there first."
            )
        else:
            chosen.append(run_id)
            more = (
                "press Compare there" if len(chosen) > 1 else "add one more run to compare it with"
            )
            gr.Info(f"Run {run_id[:8]} added to Compare ({len(chosen)} picked): {more}.")
        return _compare_board(runs, chosen)

    def show_run(self, ids: list[str], session: Session, evt: gr.SelectData):
        """A past run's video and card, if it belongs to this session (or the app is
        local); its star on the button and its note in the box."""
        if not ids or not 0 <= evt.index < len(ids):
            raise NotFound("That run is not in your history any more; press Refresh.")
        return self._selected(self.service.run(session, ids[evt.index]))

    @staticmethod
    def _selected(run: Any) -> tuple[Any, str, dict[str, Any], str, str]:
        """History's selected run: video (if still on disk), card, record, star, note."""
        record = RunRecord.from_json(run.record)
        done = record.status is RunStatus.COMPLETED and record.video_path
        video = record.video_path if done and Path(record.video_path or "").is_file() else None
        return video, views.stored_card(run), run.record, _star_label(run.starred), run.note

    def toggle_star(
        self, record: dict[str, Any] | None, search: str, session: Session, *filters: Any
    ):
        """Star the selected run, or take its star off; the list shows ★ in its caption."""
        run_id = _chosen_run(record)
        run = self.service.star(session, run_id, not self.service.run(session, run_id).starred)
        gr.Info(
            f"Starred run {run_id[:8]}: “Starred only” lists it with your other favourites."
            if run.starred
            else f"Took the star off run {run_id[:8]}."
        )
        listing = self.list_runs(search, session, *filters)
        return (*listing, views.stored_card(run), _star_label(run.starred))

    def save_note(self, record: dict[str, Any] | None, text: Any, session: Session):
        """Keep a note with the selected run (plain text, NOTE_MAX_CHARS at most); search
        finds it."""
        run_id = _chosen_run(record)
        run = self.service.annotate(session, run_id, text)
        if not run.note:
            gr.Info(f"Run {run_id[:8]} has no note now.")
        elif isinstance(text, str) and len(text.strip()) > NOTE_MAX_CHARS:
            gr.Warning(f"Note saved on run {run_id[:8]}, cut to {NOTE_MAX_CHARS} characters.")
        else:
            gr.Info(f"Note saved on run {run_id[:8]}; search finds it.")
        return views.stored_card(run), run.note

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
        return (
            start,
            end,
            "" if start else start_url,
            "" if end else end_url,
            gr.Tabs(selected="play"),
            *self._settings_of(session, stored),
        )

    def delete_run(
        self, record: dict[str, Any] | None, search: str, session: Session, *filters: Any
    ):
        """Delete a finished run when the user asks (and only then); Undo is offered."""
        run_id = _chosen_run(record)
        self.service.delete(session, run_id)
        minutes = UNDO_GRACE_S // 60
        gr.Info(f"Deleted run {run_id[:8]}. Undo brings it back within {minutes} minutes.")
        return (
            *self.list_runs(search, session, *filters),
            None,
            views.run_card(None),
            None,
            _star_label(False),
            "",
            gr.Row(visible=True),
            views.undo_note(run_id),
        )

    def undo_delete(self, search: str, session: Session, *filters: Any):
        """Bring back the run this page deleted last, selected again."""
        try:
            run = self.service.undo_delete(session)
        except NotFound as exc:  # nothing left to undo: the offer goes, in words
            gr.Warning(str(exc))
            listing = self.list_runs(search, session, *filters)
            return (*listing, *(gr.skip() for _ in range(5)), gr.Row(visible=False), "")
        gr.Info(f"Run {run.id[:8]} is back in History, with its files.")
        return (
            *self.list_runs(search, session, *filters),
            *self._selected(run),
            gr.Row(visible=bool(session.deleted)),
            views.undo_note(session.deleted[-1]) if session.deleted else "",
        )

    def compare_runs(self, ids: list[str], session: Session) -> str:
        """Videos side by side (played in sync by the page script) and what differs."""
        return views.compare_view([r.to_json() for r in self.service.compare(session, ids)])


def _api_base(stored: dict[str, Any]) -> str:
    """Where a run's snippets send it: where it was made, except the offline emulator's
    address, a port of this process only: the same request goes to WaveSpeed."""
    if stored.get("backend") == OFFLINE_BACKEND:
        return snippets.DEFAULT_BASE_URL
    return stored.get("api_base") or snippets.DEFAULT_BASE_URL


def _check_image(path: str | None, upscale: bool, note: str, what: str) -> tuple[Any, str]:
    """An image as it is dropped, read from its header by Generate's own rules: the
    note under it says what is wrong and what to do; a file that is no image leaves the
    box (no broken picture stays) and its note stays while the box is empty; any other
    note goes with the image (a typed address replaced it, a person removed it). Generate
    checks it all again."""
    if not path:
        return gr.skip(), note if note and TAKEN_OUT in note else ""
    try:
        (width, height), enlarged = images.check_image(path, upscale=bool(upscale))
    except ImageTooSmall as exc:
        problem = ImageTooSmall(f"The {what}: {exc}", can_upscale=exc.can_upscale)
        return gr.skip(), views.note(errors.describe(problem))
    except ImageError as exc:
        return None, views.note(f"{TAKEN_OUT} {what} box: {exc}")
    except Exception:  # never a bare HTTP 500 (the event is outside the queue)
        log.exception("checking a dropped image failed")
        return gr.skip(), views.note(
            f"The {what} could not be checked here; Generate will check it again."
        )
    if enlarged:
        return gr.skip(), views.note(
            f"The {what} is {width}×{height} px: it will be enlarged to at least "
            f"{images.MIN_SIDE_PX} px a side, so the video will be softer."
        )
    return gr.skip(), ""


def _busy(session: Session) -> bool:
    """A job of the page's runs or waits: a new one queues behind it."""
    return session.jobs.running is not None or bool(session.jobs.waiting)


def _note_task(job: Job, task_id: str | None) -> None:
    if task_id and task_id not in job.run_ids:
        job.run_ids.append(task_id)


def _ended(exc: BaseException) -> JobState:
    """A run that failed, or one that goes on without anyone waiting here."""
    return JobState.LEFT if isinstance(exc, RunContinues | TaskTimeout) else JobState.FAILED


def _closed(queue: JobQueue, job: Job) -> None:
    """A job's event ended. Closed mid-run (Cancel, or its page went away: Gradio closes
    an event at its next update once the page is gone), the run goes on in the background
    and what waited behind it pauses: it would start unseen, one after another."""
    if job.state is JobState.RUNNING:
        queue.end(job, JobState.LEFT, LEFT_NOTE)
        queue.pause_waiting()
    else:
        queue.end(job, JobState.LEFT, LEFT_NOTE)  # closed while waiting: it pauses


def _refused(queue: JobQueue, job: Job, held: bool, exc: BaseException) -> None:
    """A job refused before it could hold its quota never joined the line (the message
    says why); one that failed later ends so, in words."""
    if held:
        queue.end(job, _ended(exc), errors.describe(exc))
    else:
        queue.discard(job)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _shots(count: int) -> str:
    return "1 shot" if count == 1 else f"{count} shots"


def _picked_note(index: int, shot: RunRecord) -> str:
    caption = views.caption(shot.to_json())
    return views.hint(html.escape(f"Picked: shot {index + 1} · {caption}"))


def _run_id(record: Any) -> str | None:
    return record.get("id") if isinstance(record, dict) else None


def _chosen_run(record: Any) -> str:
    """The id of the run History's page says is selected (looked up again by the service)."""
    run_id = _run_id(record)
    if not isinstance(run_id, str) or not run_id:
        raise NotFound("Choose a run in History first: click its picture.")
    return run_id


def _unless(value: Any, everything: str) -> Any:
    """A filter's value for the service: "" when it is the "All …" choice."""
    return "" if value == everything else value


def _star_label(starred: bool) -> str:
    return UNSTAR if starred else STAR


def _kept_picks(picks: Any, ids: set[str]) -> list[str]:
    """What Compare had picked that is still one of the session's completed runs."""
    return [p for p in picks if isinstance(p, str) and p in ids] if isinstance(picks, list) else []


def _compare_board(runs: list[Any], chosen: list[str]) -> tuple[Any, list, list[str], str]:
    """Compare's list of runs, its thumbnails (a picked one's caption starts with ✓), the
    ids of those thumbnails in order, and the line saying what is picked."""
    labels = [(views.pick_label(r.record, starred=r.starred), r.id) for r in runs]
    thumbs, shown = [], []
    for run in runs:
        if picture := _picture_of(RunRecord.from_json(run.record)):
            picked = run.id in chosen
            label = views.thumb_label(run.record, picked=picked, starred=run.starred)
            thumbs.append((picture, label))
            shown.append(run.id)
    return (
        gr.CheckboxGroup(choices=labels, value=chosen),
        thumbs,
        shown,
        views.compare_summary(len(chosen), len(runs), COMPARE_MAX),
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


def _seed_value(seed: Any) -> int:
    return int(seed) if isinstance(seed, int | float) and not isinstance(seed, bool) else -1
