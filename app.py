"""Seedance playground: a Gradio app for image-to-video with ByteDance Seedance on WaveSpeed.

UI only: layout, event wiring and launch. The work is done by `generation` (one run),
`seedance` (the model), `media` (pixels), `wavespeed_client` (HTTP) and `emulator` (offline).
Nothing runs at import; `python app.py` builds and launches.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import gradio as gr

import generation
import media
import seedance
from settings import Settings, load_settings
from wavespeed_client import (
    SubmissionOutcomeUnknown,
    TaskFailed,
    TaskTimeout,
    WaveSpeedClient,
    WaveSpeedError,
)

log = logging.getLogger("playground")

PRESETS_DIR = Path(__file__).parent / "presets"
# Generating is a remote wait, not local compute: many sessions may wait side by side.
GENERATE_CONCURRENCY = 64
AUTO_RATIO = "auto"
OFFLINE_LABEL = "Offline · synthetic motion, not Seedance"


# --------------------------------------------------------------------------- backends


class Backends:
    """Process-wide clients: the owner's key from settings and the offline emulator.

    Built on first use, never at import. A visitor's own key gets its own client, held in
    that visitor's session only.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stats = generation.DurationStats()
        self._server: tuple[WaveSpeedClient, generation.UploadCache] | None = None
        self._offline: tuple[WaveSpeedClient, generation.UploadCache] | None = None
        self._emulator: Any = None

    def server(self) -> tuple[WaveSpeedClient, generation.UploadCache] | None:
        if self.settings.api_key and self._server is None:
            client = WaveSpeedClient(self.settings.api_key, base_url=self.settings.base_url)
            self._server = (client, generation.UploadCache())
        return self._server

    def offline(self) -> tuple[WaveSpeedClient, generation.UploadCache]:
        if self._offline is None:
            import emulator  # only offline mode needs the server and its renderer

            self._emulator = emulator.start_in_thread(data_dir=self.settings.data_dir / ".emulator")
            client = WaveSpeedClient("offline-emulator", base_url=self._emulator.base_url)
            self._offline = (client, generation.UploadCache())
        return self._offline


@cache
def backends() -> Backends:
    return Backends(load_settings())


@dataclass
class Session:
    """One browser session's private state, kept server-side in gr.State."""

    offline: bool = False
    api_key: str | None = field(default=None, repr=False)
    client: WaveSpeedClient | None = field(default=None, repr=False)
    uploads: generation.UploadCache = field(default_factory=generation.UploadCache)
    task_id: str | None = None
    last_seed: int | None = None
    last_record: dict[str, Any] | None = None


def new_session() -> Session:
    settings = backends().settings
    return Session(offline=settings.offline or not settings.api_key)


def client_for(session: Session) -> tuple[WaveSpeedClient, generation.UploadCache, str]:
    """The client this session generates with, and a label for the run card."""
    b = backends()
    if session.offline:
        client, uploads = b.offline()
        return client, uploads, "offline emulator"
    if session.api_key:
        if session.client is None:
            session.client = WaveSpeedClient(session.api_key, base_url=b.settings.base_url)
        return session.client, session.uploads, "WaveSpeed (your key)"
    if server := b.server():
        return server[0], server[1], "WaveSpeed"
    raise gr.Error(
        "No WaveSpeed API key is set. Paste your key under “API key”, or choose "
        "Offline mode to try the playground with synthetic motion.",
        title="No API key",
    )


# --------------------------------------------------------------------------- handlers


async def generate(
    image: str | None,
    prompt: str,
    last_image: str | None,
    duration: int,
    aspect_ratio: str,
    camera_fixed: bool,
    seed: int,
    model: str,
    session: Session,
):
    """Generate a video from a start image (and optional end image) with Seedance.

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
    if not image:
        raise gr.Error("Add a start image first: drop a photo in “Start image”.")
    request = seedance.SeedanceRequest(
        image=Path(image).name,
        prompt=prompt or "",
        duration=_as_int(duration, "Duration"),
        aspect_ratio=None if aspect_ratio in (AUTO_RATIO, "", None) else aspect_ratio,  # type: ignore[arg-type]
        camera_fixed=bool(camera_fixed),
        seed=_as_int(seed, "Seed"),
        model=(model or backends().settings.default_model).strip(),
    )
    if problems := request.problems():
        raise gr.Error(" ".join(problems), title="Check the settings")
    start = _prepare(image, "start image")
    end = _prepare(last_image, "end image") if last_image else None
    client, uploads, backend = client_for(session)
    settings = backends().settings

    yield gr.skip(), gr.skip(), _status_html("Starting…", "busy")
    try:
        async for item in generation.run(
            client,
            request,
            start,
            end,
            output_dir=settings.data_dir,
            stats=backends().stats,
            uploads=uploads,
            backend=backend,
            on_accepted=lambda record: _remember_task(session, record),
        ):
            if isinstance(item, generation.Progress):
                yield gr.skip(), gr.skip(), _status_html(item.describe(), "busy")
            else:
                session.task_id = None
                session.last_seed = item.seed
                session.last_record = item.to_json()
                done = f"Done in {item.timings.total_s:.1f} s · seed {item.seed}"
                yield item.video_path, item.to_json(), _status_html(done, "ok")
    except (WaveSpeedError, media.ImageError) as exc:
        session.task_id = None
        log.warning("generation failed: %s", exc)
        raise gr.Error(user_message(exc), title=_error_title(exc)) from None


def _remember_task(session: Session, record: generation.RunRecord) -> None:
    session.task_id = record.id
    session.last_seed = record.seed
    log.info("task %s accepted (model %s, seed %d)", record.id, record.model, record.seed)


def _prepare(path: str, what: str) -> generation.ImageInput:
    try:
        prepared = media.prepare_image(path)
    except media.ImageError as exc:
        raise gr.Error(f"The {what}: {exc}", title="Image not usable") from None
    return generation.ImageInput(data=prepared.data, filename=prepared.filename)


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
            "finish and be billed; its id is in the log to look it up later."
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
    """Stop waiting; the task keeps running on the server and may be billed."""
    task = session.task_id
    session.task_id = None
    if task:
        message = (
            f"Stopped waiting for task {task}. It may still finish on the server and be billed."
        )
    else:
        message = "Stopped."
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
        ("Seed", f"<code>{record['seed']}</code>"),
        ("Model", html.escape(record["model"])),
        ("Duration", f"{inputs.get('duration', '?')} s"),
        ("Aspect ratio", inputs.get("aspect_ratio") or "match image"),
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


def backend_banner(session: Session) -> str:
    """Which backend this session generates with, said plainly wherever it matters."""
    settings = backends().settings
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
    elif settings.api_key:
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
    gr.Info("Key saved for this session only. It is not stored anywhere else.")
    return "", backend_banner(session), "WaveSpeed"


def init_session(session: Session):
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


# --------------------------------------------------------------------------- layout

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
.hint {font-size: .8rem; opacity: .7; margin-top: -.3rem;}
#seed-row {align-items: flex-end;}
#seed-row button {min-height: 2.6rem; margin-bottom: var(--spacing-sm);}
@media (max-width: 720px) {
  /* Phones: one column, form first, result below it. */
  #main-row {flex-direction: column;}
  #main-row > .column {width: 100%; min-width: 0 !important;}
  #title h1 {font-size: 1.45rem;}
  #title p {font-size: .85rem;}
}
"""

# Ctrl/Cmd+Enter anywhere on the page generates.
SHORTCUT_JS = """
() => {
  document.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') {
      const b = document.querySelector('#generate-btn');
      if (b) { e.preventDefault(); b.click(); }
    }
  });
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
                prompt = gr.Textbox(
                    label="Motion prompt",
                    placeholder="The woman turns toward the window and smiles; slow push-in; "
                    "dust drifts in the sunlight; her red scarf stays on.",
                    lines=4,
                    max_lines=12,
                    elem_id="prompt",
                )
                count = gr.HTML(prompt_count(""), elem_id="prompt-count")
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
                        ratio_choices, value=AUTO_RATIO, label="Aspect ratio", elem_id="ratio"
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
                    reuse_last = gr.Button("Last seed", scale=1, min_width=90, elem_id="last-seed")
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
                    stop = gr.Button("Cancel", variant="secondary", elem_id="cancel-btn", scale=1)
                price = gr.HTML(
                    price_text(settings.default_model, seedance.DURATION_DEFAULT_S),
                    elem_id="price",
                )
                with gr.Accordion("Backend & API key", open=False, elem_id="backend"):
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
                    _status_html("Ready · add a start image, describe the motion, press Generate"),
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
                    use_all = gr.Button("Reuse all settings", elem_id="reuse-all", size="sm")
                with gr.Accordion("Run record (JSON)", open=False):
                    record = gr.JSON(label="Run record")
        if presets:
            gallery.select(
                apply_preset,
                None,
                [image, prompt, last_image, duration, aspect_ratio, camera_fixed, seed],
                api_visibility="private",
            )

        # ---- wiring
        form = [image, prompt, last_image, duration, aspect_ratio, camera_fixed, seed, model]
        run = go.click(
            generate,
            [*form, session],
            [video, record, status],
            api_name="generate",
            concurrency_limit=GENERATE_CONCURRENCY,
            show_progress="minimal",
        )
        run.then(run_card, record, card, api_visibility="private", queue=False)
        stop.click(cancel, session, status, cancels=[run], api_visibility="private", queue=False)
        prompt.change(
            prompt_count,
            prompt,
            count,
            api_visibility="private",
            queue=False,
            show_progress="hidden",
        )
        for widget in (model, duration):
            widget.change(
                price_text,
                [model, duration],
                price,
                api_visibility="private",
                queue=False,
                show_progress="hidden",
            )
            widget.change(
                generate_label,
                [model, duration],
                go,
                api_visibility="private",
                queue=False,
                show_progress="hidden",
            )
        dice.click(random_seed, None, seed, api_visibility="private", queue=False)
        reuse_last.click(last_seed, session, seed, api_visibility="private", queue=False)
        use_seed.click(reuse_seed, record, seed, api_visibility="private", queue=False)
        use_all.click(
            reuse_settings,
            record,
            [prompt, duration, aspect_ratio, camera_fixed, seed, model],
            api_visibility="private",
            queue=False,
        )
        backend_choice.input(
            set_backend, [backend_choice, session], banner, api_visibility="private", queue=False
        )
        # The key is an input of private events only: never recorded in run history.
        save_key.click(
            set_key,
            [key, session],
            [key, banner, backend_choice],
            api_visibility="private",
            queue=False,
        )
        key.submit(
            set_key,
            [key, session],
            [key, banner, backend_choice],
            api_visibility="private",
            queue=False,
        )
        demo.load(init_session, session, [banner, backend_choice], api_visibility="private")
    return demo


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = backends().settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    backend = "offline emulator" if settings.offline or not settings.api_key else settings.base_url
    log.info("backend %s · model %s · data %s", backend, settings.default_model, settings.data_dir)
    build_demo().queue(default_concurrency_limit=GENERATE_CONCURRENCY).launch(
        theme=gr.themes.Soft(primary_hue="violet", neutral_hue="slate"),
        css=CSS,
        js=SHORTCUT_JS,
        allowed_paths=[str(settings.data_dir.resolve())],
    )


if __name__ == "__main__":
    main()
