"""The page's layout, one builder per tab; each returns its components for `wiring`.

Builders only place widgets (no events, no service calls) so that the layout reads top to
bottom like the page. Element ids are the names the browser tests and the stylesheet use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.flow.prices import Price
from playground.flow.service import HISTORY_STATUSES
from playground.model import catalog, prompting, seedance
from playground.model.catalog import ModelSpec
from playground.model.form import AUTO_RATIO
from playground.settings import Settings
from playground.store.history import NOTE_MAX_CHARS
from playground.ui import modelform, views
from playground.ui.errors import MORE_IMAGE_OPTIONS, UPSCALE_LABEL
from playground.ui.handlers import (
    ALL_MODELS,
    ALL_STATUSES,
    API_FIELDS,
    BACKENDS,
    PAGE_FIELDS,
    STAR,
)
from playground.ui.inputs import checked_number, source_image
from playground.ui.presets import Preset

TITLE = (
    "<header id='title'><h1>Seedance Playground</h1><p>Image → video with ByteDance "
    "Seedance on WaveSpeed. Direct the motion: subject action, camera, environment, "
    "continuity.</p></header>"
)


@dataclass
class FormWidgets:
    """The widgets of the model's inputs and the page's extras, by form field."""

    image: gr.Image
    prompt: gr.Textbox
    last_image: gr.Image
    duration: gr.Slider
    aspect_ratio: gr.Dropdown
    camera_fixed: gr.Checkbox
    seed: gr.Number
    resolution: gr.Dropdown
    generate_audio: gr.Checkbox
    model: gr.Dropdown
    image_url: gr.Textbox
    last_image_url: gr.Textbox
    upscale: gr.Checkbox
    extras: dict[str, gr.components.Component]  # the generic slots, by EXTRA_FIELDS name
    extra_images: gr.File  # a model's list of images (reference images), when it has one
    end_box: gr.Column  # holds last_image: hidden for a model without an end frame
    seed_row: gr.Row  # holds seed and its buttons: hidden for a model without a seed

    @property
    def page(self) -> list[gr.components.Component]:
        """The page's form, in PAGE_FIELDS order (what `page_form` reads)."""
        return [self.extras[n] if n in self.extras else getattr(self, n) for n in PAGE_FIELDS]

    @property
    def api(self) -> list[gr.components.Component]:
        """The public /generate's first eight inputs, as they have been from the start."""
        return [getattr(self, name) for name in (*API_FIELDS, "model")]


@dataclass
class ModelPanel:
    """Around the model picker: all models or Seedance only, the model's notes, the way to
    its successor, and which model the form is set for."""

    show_all: gr.Checkbox
    note: gr.HTML
    successor: gr.Button
    shown: gr.State


@dataclass
class ResultPanel:
    """The right-hand column: status, video, card, what to do next, code, record."""

    status: gr.HTML
    video: gr.Video
    card: gr.HTML
    use_seed: gr.Button
    use_all: gr.Button
    chain: gr.Button
    add_shot: gr.Button
    rerun_silent: gr.Button  # shown when the content check failed a run with sound
    batch_view: gr.HTML
    queue: gr.HTML  # the page's jobs: running, queued, finished
    code: list[gr.Code]
    record: gr.JSON


@dataclass
class PlayTab:
    form: FormWidgets
    models: ModelPanel
    result: ResultPanel
    presets: gr.Gallery | None
    end_note: gr.HTML
    image_checks: dict[str, gr.HTML]  # by field: each image's problem, said when dropped
    framing: gr.Image
    count: gr.HTML
    moves: list[gr.Button]
    beats: list[gr.Textbox]
    compose: gr.Button
    dice: gr.Button
    reuse_last: gr.Button
    go: gr.Button
    stop: gr.Button  # stop waiting: the task goes on, recovery fetches it
    stop_server: gr.Button  # DELETE the task on WaveSpeed, then stop waiting
    price: gr.HTML
    var_count: gr.Slider
    variants: gr.Textbox
    batch_go: gr.Button
    backend_choice: gr.Radio
    key: gr.Textbox
    save_key: gr.Button
    remember_key: gr.Checkbox
    key_line: gr.HTML
    forget_key: gr.Button


@dataclass
class HistoryTab:
    tab: gr.Tab
    search: gr.Textbox
    refresh: gr.Button
    spent: gr.HTML
    listed: gr.State
    runs: gr.Gallery
    video: gr.Video
    card: gr.HTML
    record: gr.State
    load: gr.Button
    delete: gr.Button
    status: gr.Dropdown  # filters beside the search
    model: gr.Dropdown
    starred: gr.Checkbox
    undo_row: gr.Row  # shown only after a delete
    undo_note: gr.HTML
    undo: gr.Button
    star: gr.Button  # the selected run's star, note, and a place in Compare
    note: gr.Textbox
    save_note: gr.Button
    add_compare: gr.Button
    # The listed runs still going, and the timer that looks at them until they end.
    unfinished: gr.State
    watch: gr.Timer

    @property
    def filters(self) -> list[gr.components.Component]:
        """What narrows the list, after the search, in `Handlers.list_runs` order."""
        return [self.status, self.model, self.starred]


@dataclass
class StoryboardTab:
    shots: gr.Gallery
    picked: gr.State  # the run id of the shot the buttons act on
    picked_note: gr.HTML
    earlier: gr.Button
    later: gr.Button
    remove: gr.Button
    stitch: gr.Button
    clear: gr.Button
    confirm: gr.Column  # "Clear all N shots?", shown by Clear
    question: gr.HTML
    yes_clear: gr.Button
    keep: gr.Button
    stitched: gr.Video
    note: gr.HTML


@dataclass
class CompareTab:
    tab: gr.Tab
    thumbs: gr.Gallery  # the finished runs: a click picks or unpicks one
    shown: gr.State  # the ids of those thumbnails, in order
    summary: gr.HTML  # how many are picked, what to do next
    picks: gr.CheckboxGroup  # the same runs as a list of labels
    compare: gr.Button
    view: gr.HTML

    @property
    def board(self) -> list[gr.components.Component]:
        """What every change of the picks redraws (`Handlers.compare_choices`)."""
        return [self.picks, self.thumbs, self.shown, self.summary]


# The buttons views draw in an HTML block (a tile's Open, a job's Remove) say what they
# are for in data attributes; the block's click event carries them to the server.
SEND_BUTTON = (
    "element.addEventListener('click', (e) => {"
    " const b = e.target.closest('button[data-act]'); if (!b) return;"
    " trigger('click', {act: b.dataset.act, job: b.dataset.job || '', run: b.dataset.run || ''});"
    " });"
)


def _image(label: str, elem_id: str) -> gr.Image:
    return source_image(
        label=label,
        sources=["upload", "clipboard"],
        height=240,
        elem_id=elem_id,
    )


def _images() -> dict[str, Any]:
    """The start and end images, and the page's image extras, by form field."""
    with gr.Row():
        with gr.Column(min_width=160):
            image = _image("Start image", "start-image")
            start_check = gr.HTML(elem_id="start-image-note")  # what is wrong, when dropped
        # In a column of its own: the column is hidden for a model without an end frame
        # (an update to the image itself would replace its checked input step).
        with gr.Column(min_width=160) as end_box:
            last_image = _image("End image (optional)", "end-image")
            end_check = gr.HTML(elem_id="end-image-note")
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
    return dict(
        image=image,
        start_check=start_check,
        last_image=last_image,
        end_check=end_check,
        end_box=end_box,
        image_url=image_url,
        last_image_url=last_image_url,
        upscale=upscale,
    )


def _prompt() -> tuple[gr.Textbox, gr.HTML, list[gr.Button], list[gr.Textbox], gr.Button]:
    prompt = gr.Textbox(
        label="Motion prompt",
        placeholder="The woman turns toward the window and smiles; slow push-in; dust "
        "drifts in the sunlight; her red scarf stays on.",
        lines=4,
        max_lines=12,
        elem_id="prompt",
    )
    count = gr.HTML(views.prompt_count(""), elem_id="prompt-count")
    with gr.Row(elem_id="camera-moves"):
        moves = [gr.Button(name, size="sm", min_width=70) for name in prompting.CAMERA_MOVES]
    with gr.Accordion("Prompt builder", open=False, elem_id="builder"):
        beats = [
            gr.Textbox(label="Subject action", placeholder="She turns and smiles"),
            gr.Textbox(label="Camera", placeholder="slow push-in toward her face"),
            gr.Textbox(label="Environment", placeholder="dust drifts in warm light"),
            gr.Textbox(label="Continuity", placeholder="her red scarf stays on"),
        ]
        compose = gr.Button("Write into the prompt", size="sm")
    return prompt, count, moves, beats, compose


def _settings(
    spec: ModelSpec, models: catalog.Catalog
) -> tuple[dict[str, Any], ModelPanel, gr.Button, gr.Button]:
    """The model picker, then its settings: duration, ratio, seed (with its buttons),
    camera, resolution, audio and the generic slots; set for `spec`, fields by name."""
    with gr.Group(elem_id="model-box"):
        model = gr.Dropdown(
            modelform.picker_choices(models, everything=False),
            value=spec.id,
            # Any id passes Gradio's input step: the catalog decides, in words.
            allow_custom_value=True,
            label="Model",
            elem_id="model",
        )
        show_all = gr.Checkbox(label="Show all image-to-video models", elem_id="show-all")
    note = gr.HTML(
        modelform.model_note(spec, models.successor(spec), [], models.note or models.source),
        elem_id="model-note",
    )
    successor = models.successor(spec)
    to_successor = gr.Button(
        f"Try this on {successor.name}" if successor else "",
        visible=successor is not None,
        size="sm",
        elem_id="try-successor",
    )
    duration_spec = spec.field("duration")
    low, high, step = modelform._slider_range(duration_spec) if duration_spec else (2, 12, 1)
    ratio_spec = spec.field("aspect_ratio")
    ratio_values = ratio_spec.choices if ratio_spec else seedance.ASPECT_RATIOS
    ratios = [("Auto · match start image", AUTO_RATIO), *[(str(r), str(r)) for r in ratio_values]]
    with gr.Row():
        duration = checked_number(
            gr.Slider(
                low,
                high,
                value=duration_spec.default if duration_spec else seedance.DURATION_DEFAULT_S,
                step=step,
                label="Duration (s)",
                visible=duration_spec is not None,
                elem_id="duration",
            )
        )
        # Custom values pass Gradio's input step so the schema's check names them.
        aspect_ratio = gr.Dropdown(
            ratios,
            value=AUTO_RATIO,
            allow_custom_value=True,
            label="Aspect ratio",
            visible=ratio_spec is not None,
            elem_id="ratio",
        )
    # The row, not the number, is hidden for a model without a seed (see end_box).
    with gr.Row(elem_id="seed-row", visible=spec.has("seed")) as seed_row:
        seed = checked_number(
            gr.Number(
                value=seedance.RANDOM_SEED,
                precision=0,
                minimum=seedance.RANDOM_SEED,
                maximum=seedance.SEED_MAX,
                label="Seed (-1 = random)",
                elem_id="seed",
                scale=3,
                min_width=140,
            )
        )
        dice = gr.Button("Random", scale=1, min_width=80, elem_id="dice")
        reuse_last = gr.Button("Last seed", scale=1, min_width=90, elem_id="last-seed")
    resolution_spec = spec.field("resolution")
    audio_spec = spec.field("generate_audio")
    with gr.Row(equal_height=True):
        camera_fixed = gr.Checkbox(
            label="Camera fixed",
            visible=spec.has("camera_fixed"),
            elem_id="camera-fixed",
            scale=1,
            min_width=140,
        )
        generate_audio = gr.Checkbox(
            value=bool(audio_spec.default) if audio_spec else True,
            label="Generate audio",
            visible=audio_spec is not None,
            elem_id="generate-audio",
            scale=1,
            min_width=140,
        )
        resolution = gr.Dropdown(
            [str(c) for c in resolution_spec.choices] if resolution_spec else [],
            value=resolution_spec.default if resolution_spec else None,
            allow_custom_value=True,
            label="Resolution",
            visible=resolution_spec is not None,
            elem_id="resolution",
            scale=2,
            min_width=140,
        )
    extras = _slots(spec)
    listed = modelform.images_field(spec)
    # A model's list of images (reference images): uploads, prepared like the start image.
    extra_images = gr.File(
        file_count="multiple",
        file_types=["image"],
        type="filepath",
        label=modelform.images_label(listed) if listed else "Images",
        visible=listed is not None,
        elem_id="extra-images",
    )
    fields = dict(
        duration=duration,
        aspect_ratio=aspect_ratio,
        seed=seed,
        camera_fixed=camera_fixed,
        resolution=resolution,
        generate_audio=generate_audio,
        model=model,
        extras=extras,
        extra_images=extra_images,
        seed_row=seed_row,
    )
    panel = ModelPanel(show_all, note, to_successor, gr.State(spec.id))
    return fields, panel, dice, reuse_last


def _slots(spec: ModelSpec) -> dict[str, gr.components.Component]:
    """The generic widgets for fields without a crafted one, all hidden until a model
    needs them (`modelform` sets them per model)."""
    placed = {
        f"extra{i}_{modelform.slot_kind(f)}" for i, f in enumerate(modelform.extra_fields(spec))
    }
    slots: dict[str, gr.components.Component] = {}
    with gr.Column(elem_id="model-fields"):
        for name in modelform.EXTRA_FIELDS:
            kind = name.split("_", 1)[1]
            make = {
                "choice": lambda **kw: gr.Dropdown([], allow_custom_value=True, **kw),
                "flag": gr.Checkbox,
                "slider": gr.Slider,
                "number": gr.Number,
                "text": gr.Textbox,
            }[kind]
            slots[name] = make(visible=name in placed, elem_id=name.replace("_", "-"))
    return slots


def _variations(label: str) -> tuple[gr.Slider, gr.Textbox, gr.Button]:
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
        batch_go = gr.Button(label, elem_id="batch-btn")
    return var_count, variants, batch_go


def _backend(oauth: bool, shared: bool) -> tuple[Any, ...]:
    with gr.Accordion("Backend & API key", open=False, elem_id="backend"):
        if oauth:  # elsewhere Gradio fakes sign-in: no button
            gr.LoginButton(size="sm", elem_id="hf-login")
        backend_choice = gr.Radio(
            list(BACKENDS),
            label="Backend",
            info="Offline runs a local emulator: your image moves, but it is synthetic "
            "motion, not Seedance.",
        )
        key = gr.Textbox(
            label="Your WaveSpeed API key",
            type="password",
            placeholder="Kept in this session's server memory",
            info="Never written to the server's disk; kept in this browser (encrypted) only "
            "if you tick Remember. Runs in flight finish even if you close the tab; "
            "if the app restarts during one, paste the same key again within 7 days to "
            "collect it.",
            elem_id="api-key",
        )
        with gr.Row():
            save_key = gr.Button("Use this key", elem_id="save-key")
            # Off on a shared server: a stranger's computer may be a library's.
            remember_key = gr.Checkbox(
                not shared, label="Remember it on this device", elem_id="remember-key"
            )
        with gr.Row():
            key_line = gr.HTML(elem_id="key-line")
            forget_key = gr.Button(
                "Forget my key", visible=False, size="sm", elem_id="forget-key", scale=0
            )
    return backend_choice, key, save_key, remember_key, key_line, forget_key


def _result() -> ResultPanel:
    status = gr.HTML(views.status_html(views.READY), label="Status", elem_id="status")
    queue = gr.HTML(elem_id="queue-view", js_on_load=SEND_BUTTON)
    # Variations are the result while they are the latest thing: first under the status.
    batch_view = gr.HTML(elem_id="variations-view", js_on_load=SEND_BUTTON)
    video = gr.Video(
        label="Result",
        autoplay=True,
        loop=True,
        interactive=False,
        elem_id="result-video",
        height=400,
    )
    card = gr.HTML(views.run_card(None), elem_id="run-card")
    with gr.Row():
        use_seed = gr.Button("Reuse this seed", elem_id="reuse-seed", size="sm")
        use_all = gr.Button("Reuse all settings", elem_id="reuse-all", size="sm")
    with gr.Row():
        chain = gr.Button("Continue from last frame", elem_id="continue", size="sm")
        add_shot = gr.Button("Add to storyboard", elem_id="add-shot", size="sm")
    rerun_silent = gr.Button(
        "Rerun without audio", visible=False, variant="primary", size="sm", elem_id="rerun-silent"
    )
    with gr.Accordion("Copy as code", open=False, elem_id="copy-code"):
        code = [
            gr.Code(label="curl (WaveSpeed API)", language="shell"),
            gr.Code(label="Python (httpx)", language="python"),
            gr.Code(label="gradio_client (this app)", language="python"),
        ]
    with gr.Accordion("Run record (JSON)", open=False):
        record = gr.JSON(label="Run record")
    return ResultPanel(
        status,
        video,
        card,
        use_seed,
        use_all,
        chain,
        add_shot,
        rerun_silent,
        batch_view,
        queue,
        code,
        record,
    )


def playground_tab(
    settings: Settings, presets: list[Preset], models: catalog.Catalog, *, offline: bool
) -> PlayTab:
    """Presets, then the form on the left and the result on the right (one column on a
    phone: form first); the form set for the default model of `models`."""
    spec = models.get(settings.default_model) or models.image_to_video()[0]
    # The labels as the price listener would write them for the default form (the
    # catalog's estimate); WaveSpeed's quote replaces them at the first change.
    price = Price(spec.estimate({}))
    duration = spec.defaults().get("duration", seedance.DURATION_DEFAULT_S)
    gallery = None
    if presets:
        gallery = picker(
            "Start from a preset",
            columns=8,
            height=170,
            elem_id="presets",
            value=[(str(p.image), p.title) for p in presets],
        )
    with gr.Row(equal_height=False, elem_id="main-row"):
        with gr.Column(scale=5, min_width=320):
            fields = _images()
            image_checks = {
                "image": fields.pop("start_check"),
                "last_image": fields.pop("end_check"),
            }
            end_note = gr.HTML(elem_id="end-note")
            framing = gr.Image(
                label="Framing preview",
                visible=False,
                interactive=False,
                height=200,
                elem_id="framing-preview",
            )
            fields["prompt"], count, moves, beats, compose = _prompt()
            settings_fields, panel, dice, reuse_last = _settings(spec, models)
            fields |= settings_fields
            with gr.Row():
                go = gr.Button(
                    views.generate_text(price, offline=offline),
                    variant="primary",
                    elem_id="generate-btn",
                    scale=3,
                )
                stop = gr.Button("Stop waiting", variant="secondary", elem_id="cancel-btn", scale=1)
                stop_server = gr.Button(
                    "Stop the task on WaveSpeed",
                    variant="stop",
                    elem_id="stop-server-btn",
                    scale=1,
                )
            price_line = gr.HTML(
                views.price_text(price, duration, offline=offline), elem_id="price"
            )
            var_count, variants, batch_go = _variations(views.batch_text(price, 4, offline=offline))
            backend_choice, key, save_key, remember_key, key_line, forget_key = _backend(
                settings.oauth, settings.shared
            )
        # Kept in view on a wide screen while the form scrolls (style.css).
        with gr.Column(scale=6, min_width=320, elem_id="result-col"):
            result = _result()
    form = FormWidgets(**fields)  # the form's widgets by field name, as they were placed
    return PlayTab(
        form=form,
        models=panel,
        result=result,
        presets=gallery,
        end_note=end_note,
        image_checks=image_checks,
        framing=framing,
        count=count,
        moves=moves,
        beats=beats,
        compose=compose,
        dice=dice,
        reuse_last=reuse_last,
        go=go,
        stop=stop,
        stop_server=stop_server,
        price=price_line,
        var_count=var_count,
        variants=variants,
        batch_go=batch_go,
        backend_choice=backend_choice,
        key=key,
        save_key=save_key,
        remember_key=remember_key,
        key_line=key_line,
        forget_key=forget_key,
    )


def picker(label: str, *, columns: int, height: int, elem_id: str, value: Any = None) -> gr.Gallery:
    """A gallery of thumbnails to click on (presets, runs, shots): no preview of its own."""
    return gr.Gallery(
        value,
        label=label,
        columns=columns,
        height=height,
        object_fit="cover",
        allow_preview=False,
        elem_id=elem_id,
    )


WATCH_S = 5.0  # how often History looks at its runs still going (one SQLite query)


def history_tab() -> HistoryTab:
    with gr.Tab("History", id="history") as tab:
        with gr.Row(equal_height=True, elem_id="history-filters"):
            search = gr.Textbox(
                placeholder="Search prompt, seed, model or task id",
                show_label=False,
                scale=4,
                min_width=220,
                elem_id="history-search",
            )
            status = gr.Dropdown(
                [ALL_STATUSES, *(s.value for s in HISTORY_STATUSES)],
                value=ALL_STATUSES,
                label="Status",
                show_label=False,
                scale=1,
                min_width=150,
                elem_id="history-status",
            )
            model = gr.Dropdown(
                [ALL_MODELS],
                value=ALL_MODELS,
                label="Model",
                show_label=False,
                scale=1,
                min_width=180,
                elem_id="history-model",
            )
            starred = gr.Checkbox(
                label="Starred only", scale=0, min_width=130, elem_id="history-starred"
            )
            refresh = gr.Button("Refresh", scale=0, min_width=100)
        spent = gr.HTML(elem_id="spent")
        with gr.Row(visible=False, equal_height=True, elem_id="undo-row") as undo_row:
            undo_note = gr.HTML()
            undo = gr.Button("Undo", size="sm", scale=0, min_width=90, elem_id="undo-delete")
        listed = gr.State([])
        unfinished = gr.State([])
        watch = gr.Timer(WATCH_S, active=False)
        runs = picker("Your runs, newest first", columns=5, height=340, elem_id="history-gallery")
        with gr.Row(equal_height=False):
            video = gr.Video(
                label="Selected run",
                autoplay=True,
                loop=True,
                interactive=False,
                height=360,
                elem_id="history-video",
            )
            with gr.Column():
                card = gr.HTML(views.run_card(None), elem_id="history-card")
                record = gr.State(None)
                note = gr.Textbox(
                    label="Note",
                    placeholder="A note for this run (kept with it, 500 characters)",
                    max_length=NOTE_MAX_CHARS,
                    elem_id="run-note",
                )
                # The selected run's own marks, then its place in Compare: small buttons that
                # wrap onto a phone's width.
                with gr.Row(elem_id="run-marks"):
                    save_note = gr.Button(
                        "Save note", size="sm", scale=0, min_width=110, elem_id="save-note"
                    )
                    star = gr.Button(STAR, size="sm", scale=0, min_width=110, elem_id="star-run")
                    add_compare = gr.Button(
                        "Add to Compare", size="sm", scale=0, min_width=140, elem_id="add-compare"
                    )
                load = gr.Button(
                    "Load its settings and images", variant="primary", elem_id="load-run"
                )
                delete = gr.Button(
                    "Delete this run", variant="stop", size="sm", elem_id="delete-run"
                )
    return HistoryTab(
        tab,
        search,
        refresh,
        spent,
        listed,
        runs,
        video,
        card,
        record,
        load,
        delete,
        status=status,
        model=model,
        starred=starred,
        undo_row=undo_row,
        undo_note=undo_note,
        undo=undo,
        star=star,
        note=note,
        save_note=save_note,
        add_compare=add_compare,
        unfinished=unfinished,
        watch=watch,
    )


def storyboard_tab() -> StoryboardTab:
    with gr.Tab("Storyboard", id="storyboard"):
        gr.HTML(
            views.hint(
                "Chain shots with “Continue from last frame” under a result: each shot starts "
                "where the last one ended. Click a shot to move or remove it; stitch them "
                "into one video here."
            )
        )
        shots = picker("Shots, in order", columns=6, height=220, elem_id="storyboard-shots")
        picked = gr.State(None)
        picked_note = gr.HTML(elem_id="picked-shot")
        # Small buttons keep one row on a phone too (Gradio wraps at 160 px each).
        with gr.Row(elem_id="shot-actions"):
            earlier = gr.Button("Move earlier", size="sm", min_width=90, elem_id="shot-earlier")
            later = gr.Button("Move later", size="sm", min_width=90, elem_id="shot-later")
            remove = gr.Button("Remove shot", size="sm", min_width=90, elem_id="shot-remove")
        with gr.Row():
            stitch = gr.Button("Stitch into one video", variant="primary", elem_id="stitch")
            clear = gr.Button("Clear storyboard", size="sm", elem_id="clear-board")
        with gr.Column(visible=False, elem_id="confirm-clear") as confirm:
            question = gr.HTML()
            with gr.Row():
                yes_clear = gr.Button(
                    "Yes, clear", variant="stop", size="sm", min_width=90, elem_id="yes-clear"
                )
                keep = gr.Button("Keep them", size="sm", min_width=90, elem_id="keep-shots")
        stitched = gr.Video(label="Storyboard", interactive=False, height=420, elem_id="stitched")
        note = gr.HTML()
    return StoryboardTab(
        shots,
        picked,
        picked_note,
        earlier,
        later,
        remove,
        stitch,
        clear,
        confirm,
        question,
        yes_clear,
        keep,
        stitched,
        note,
    )


def compare_tab() -> CompareTab:
    with gr.Tab("Compare", id="compare") as tab:
        gr.HTML(
            views.hint(
                "Pick two or more finished runs (or “Add to Compare” in History); they play "
                "side by side in sync, and the settings that differ are highlighted."
            )
        )
        thumbs = picker(
            "Click runs to pick them ✓", columns=6, height=300, elem_id="compare-thumbs"
        )
        shown = gr.State([])
        summary = gr.HTML(elem_id="compare-summary")
        compare = gr.Button("Compare", variant="primary", elem_id="compare-btn")
        with gr.Accordion("Pick from a list", open=False, elem_id="compare-list"):
            picks = gr.CheckboxGroup(label="Runs to compare", elem_id="compare-picks")
        view = gr.HTML(elem_id="compare-view")
    return CompareTab(tab, thumbs, shown, summary, picks, compare, view)
