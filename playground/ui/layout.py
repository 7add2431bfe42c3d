"""The page's layout, one builder per tab; each returns its components for `wiring`.

Builders only place widgets (no events, no service calls) so that the layout reads top to
bottom like the page. Element ids are the names the browser tests and the stylesheet use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.model import prompting, seedance
from playground.model.form import AUTO_RATIO
from playground.settings import Settings
from playground.ui import views
from playground.ui.errors import MORE_IMAGE_OPTIONS, UPSCALE_LABEL
from playground.ui.handlers import BACKENDS, PAGE_FIELDS
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
    model: gr.Dropdown
    image_url: gr.Textbox
    last_image_url: gr.Textbox
    upscale: gr.Checkbox

    @property
    def page(self) -> list[gr.components.Component]:
        """The page's form, in PAGE_FIELDS order (what `page_form` reads)."""
        return [getattr(self, name) for name in PAGE_FIELDS]

    @property
    def api(self) -> list[gr.components.Component]:
        """The public /generate's eight inputs: the model's fields and the model."""
        return self.page[: PAGE_FIELDS.index("model") + 1]


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
    batch_view: gr.HTML
    code: list[gr.Code]
    record: gr.JSON


@dataclass
class PlayTab:
    form: FormWidgets
    result: ResultPanel
    presets: gr.Gallery | None
    end_note: gr.HTML
    framing: gr.Image
    count: gr.HTML
    moves: list[gr.Button]
    beats: list[gr.Textbox]
    compose: gr.Button
    dice: gr.Button
    reuse_last: gr.Button
    go: gr.Button
    stop: gr.Button
    price: gr.HTML
    var_count: gr.Slider
    variants: gr.Textbox
    batch_go: gr.Button
    backend_choice: gr.Radio
    key: gr.Textbox
    save_key: gr.Button


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


@dataclass
class StoryboardTab:
    shots: gr.Gallery
    stitch: gr.Button
    clear: gr.Button
    stitched: gr.Video
    note: gr.HTML


@dataclass
class CompareTab:
    tab: gr.Tab
    picks: gr.CheckboxGroup
    compare: gr.Button
    view: gr.HTML


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
        image = _image("Start image", "start-image")
        last_image = _image("End image (optional)", "end-image")
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
        last_image=last_image,
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


def _settings(default_model: str) -> tuple[dict[str, Any], gr.Button, gr.Button]:
    """Duration, ratio, seed (with its buttons), camera and model; fields by name."""
    ratios = [("Auto · match start image", AUTO_RATIO), *[(r, r) for r in seedance.ASPECT_RATIOS]]
    with gr.Row():
        duration = checked_number(
            gr.Slider(
                seedance.DURATION_MIN_S,
                seedance.DURATION_MAX_S,
                value=seedance.DURATION_DEFAULT_S,
                step=1,
                label="Duration (s)",
                elem_id="duration",
            )
        )
        aspect_ratio = gr.Dropdown(ratios, value=AUTO_RATIO, label="Aspect ratio", elem_id="ratio")
    with gr.Row(elem_id="seed-row"):
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
    with gr.Row(equal_height=True):
        camera_fixed = gr.Checkbox(
            label="Camera fixed", elem_id="camera-fixed", scale=1, min_width=140
        )
        model = gr.Dropdown(
            [(m.label, m.id) for m in seedance.MODELS.values()],
            value=default_model,
            allow_custom_value=True,
            label="Model",
            scale=2,
            min_width=200,
        )
    fields = dict(
        duration=duration,
        aspect_ratio=aspect_ratio,
        seed=seed,
        camera_fixed=camera_fixed,
        model=model,
    )
    return fields, dice, reuse_last


def _variations(default_model: str) -> tuple[gr.Slider, gr.Textbox, gr.Button]:
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
        runs = 4
        label = views.batch_text(default_model, seedance.DURATION_DEFAULT_S, runs)
        batch_go = gr.Button(label, elem_id="batch-btn")
    return var_count, variants, batch_go


def _backend(oauth: bool) -> tuple[gr.Radio, gr.Textbox, gr.Button]:
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
            placeholder="Kept only in this session's server memory",
            info="Never written to disk. Runs in flight finish even if you close the tab; "
            "if the app restarts during one, paste the same key again within 7 days to "
            "collect it.",
            elem_id="api-key",
        )
        save_key = gr.Button("Use this key", elem_id="save-key")
    return backend_choice, key, save_key


def _result() -> ResultPanel:
    status = gr.HTML(views.status_html(views.READY), label="Status", elem_id="status")
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
    batch_view = gr.HTML(elem_id="variations-view")
    with gr.Accordion("Copy as code", open=False, elem_id="copy-code"):
        code = [
            gr.Code(label="curl (WaveSpeed API)", language="shell"),
            gr.Code(label="Python (httpx)", language="python"),
            gr.Code(label="gradio_client (this app)", language="python"),
        ]
    with gr.Accordion("Run record (JSON)", open=False):
        record = gr.JSON(label="Run record")
    return ResultPanel(
        status, video, card, use_seed, use_all, chain, add_shot, batch_view, code, record
    )


def playground_tab(settings: Settings, presets: list[Preset]) -> PlayTab:
    """Presets, then the form on the left and the result on the right (one column on a
    phone: form first)."""
    gallery = None
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
            fields = _images()
            end_note = gr.HTML(elem_id="end-note")
            framing = gr.Image(
                label="Framing preview",
                visible=False,
                interactive=False,
                height=200,
                elem_id="framing-preview",
            )
            fields["prompt"], count, moves, beats, compose = _prompt()
            settings_fields, dice, reuse_last = _settings(settings.default_model)
            fields |= settings_fields
            with gr.Row():
                go = gr.Button(
                    views.generate_text(settings.default_model, seedance.DURATION_DEFAULT_S),
                    variant="primary",
                    elem_id="generate-btn",
                    scale=3,
                )
                stop = gr.Button("Cancel", variant="secondary", elem_id="cancel-btn", scale=1)
            price = gr.HTML(
                views.price_text(settings.default_model, seedance.DURATION_DEFAULT_S),
                elem_id="price",
            )
            var_count, variants, batch_go = _variations(settings.default_model)
            backend_choice, key, save_key = _backend(settings.oauth)
        with gr.Column(scale=6, min_width=320):
            result = _result()
    form = FormWidgets(**fields)  # the form's widgets by field name, as they were placed
    return PlayTab(
        form=form,
        result=result,
        presets=gallery,
        end_note=end_note,
        framing=framing,
        count=count,
        moves=moves,
        beats=beats,
        compose=compose,
        dice=dice,
        reuse_last=reuse_last,
        go=go,
        stop=stop,
        price=price,
        var_count=var_count,
        variants=variants,
        batch_go=batch_go,
        backend_choice=backend_choice,
        key=key,
        save_key=save_key,
    )


def history_tab() -> HistoryTab:
    with gr.Tab("History", id="history") as tab:
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
                load = gr.Button(
                    "Load its settings and images", variant="primary", elem_id="load-run"
                )
                delete = gr.Button(
                    "Delete this run", variant="stop", size="sm", elem_id="delete-run"
                )
    return HistoryTab(tab, search, refresh, spent, listed, runs, video, card, record, load, delete)


def storyboard_tab() -> StoryboardTab:
    with gr.Tab("Storyboard", id="storyboard"):
        gr.HTML(
            views.hint(
                "Chain shots with “Continue from last frame” under a result: each shot starts "
                "where the last one ended. Stitch them into one video here."
            )
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
            clear = gr.Button("Clear storyboard", size="sm")
        stitched = gr.Video(label="Storyboard", interactive=False, height=420, elem_id="stitched")
        note = gr.HTML()
    return StoryboardTab(shots, stitch, clear, stitched, note)


def compare_tab() -> CompareTab:
    with gr.Tab("Compare", id="compare") as tab:
        gr.HTML(
            views.hint(
                "Pick two or more finished runs; they play side by side in sync, and the "
                "settings that differ are highlighted."
            )
        )
        picks = gr.CheckboxGroup(label="Runs to compare", elem_id="compare-picks")
        compare = gr.Button("Compare", variant="primary", elem_id="compare-btn")
        view = gr.HTML(elem_id="compare-view")
    return CompareTab(tab, picks, compare, view)
