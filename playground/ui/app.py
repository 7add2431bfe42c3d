"""The page as a whole: the tabs laid out, the events wired, and how it is launched."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder
from starlette.middleware import Middleware

from playground.flow import sessions
from playground.flow.service import Playground
from playground.flow.webhooks import WebhookHub
from playground.settings import Settings
from playground.store import history
from playground.ui import compat, deliveries, layout, memory, uploads
from playground.ui.handlers import Handlers
from playground.ui.presets import PRESETS_DIR, load_presets
from playground.ui.state import keep_valued_sessions, lean_sessions
from playground.ui.wiring import GENERATE_CONCURRENCY, Memory, wire

STATIC = Path(__file__).parent / "static"
# Gradio keeps each browser session's own copy of the page's config until the session is
# evicted past this many; its default of 10,000 costs gigabytes on a busy Space
# (docs/ARCHITECTURE.md). Sessions with nothing to lose go first (ui.state); an evicted
# visitor's browser gets its session's id back at its next page load (flow.sessions).
MAX_SESSIONS = 1000
BROWSER_SESSION_KEY = "seedance-playground-session"  # localStorage: the signed session id
# Gradio's upload cache, cleaned by age ((every, older than) in seconds): on a public server
# strangers' uploads must not fill the disk for everyone; kept inputs live beside the
# outputs, so nothing of a run is lost with them. Locally, a day.
UPLOAD_CACHE_SHARED = (600, 3600)
UPLOAD_CACHE_LOCAL = (86400, 86400)


def build_demo(service: Playground) -> gr.Blocks:
    """The Blocks app over `service`; nothing here looks process state up by itself."""
    handlers = Handlers(service)
    _secret = service.sessions.browser_secret
    cache = UPLOAD_CACHE_SHARED if service.settings.shared else UPLOAD_CACHE_LOCAL
    with gr.Blocks(title="Seedance Playground", delete_cache=cache) as demo:
        # A value, not a callable: a callable State would add a public API endpoint.
        session = gr.State(service.new_session())
        gr.HTML(layout.TITLE)
        banner = gr.HTML(elem_id="banner")
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab("Playground", id="play"):
                play = layout.playground_tab(
                    service.settings,
                    load_presets(),
                    service.catalog(),
                    offline=service.new_session().offline,
                )
            history_tab = layout.history_tab()
            board = layout.storyboard_tab()
            compare = layout.compare_tab()
        # The browser keeps its session's signed id, to come back to it after a reload;
        # and the form, and the visitor's key if they ask (ui.memory).
        kept = gr.BrowserState(None, storage_key=BROWSER_SESSION_KEY)
        remembered = Memory(
            form=gr.BrowserState(None, storage_key=memory.FORM_KEY, secret=_secret("form")),
            key=gr.BrowserState(None, storage_key=memory.KEY_KEY, secret=_secret("key")),
        )
        loaded = demo.load(
            handlers.init_session,
            [session, kept],
            [session, kept, banner, play.backend_choice],
            api_visibility="private",
        )
        wire(handlers, session, tabs, banner, play, history_tab, board, compare, remembered, loaded)
    _hide_login_check(demo)
    return demo


def _hide_login_check(demo: gr.Blocks) -> None:
    """gr.LoginButton checks the sign-in on each page load through a public API endpoint
    (/_check_login_status); make it private so that /generate stays the only public one."""
    for fn in demo.fns.values():
        if isinstance(getattr(fn.fn, "__self__", None), gr.LoginButton):
            fn.api_visibility = "private"


def settle_heap() -> None:
    """Leave what was built at start out of every later garbage collection.

    Gradio, the page's blocks and their configs, the catalog and the modules are millions
    of objects that live as long as the process. A full collection walks them all with the
    interpreter lock held: up to 146 ms each, ten of them under a crowd of 50, while every
    session waited. Frozen, a collection walks only what sessions and runs made since.
    Cycles left from start are collected first; frozen objects are still freed when no
    longer referenced, only never scanned for cycles.
    """
    gc.collect()
    gc.freeze()


def launch(
    demo: gr.Blocks,
    settings: Settings,
    *,
    prevent_thread_lock: bool = False,
    webhooks: WebhookHub | None = None,
    **kwargs: Any,
) -> gr.Blocks:
    """Queue and launch with the page's theme, style and script (tests launch the same way);
    with `webhooks` (the service's), WaveSpeed's deliveries are received too."""
    data_dir = Path(settings.data_dir).resolve()
    demo.queue(default_concurrency_limit=GENERATE_CONCURRENCY).launch(
        theme=gr.themes.Soft(primary_hue="violet", neutral_hue="slate"),
        css=(STATIC / "style.css").read_text(encoding="utf-8"),
        js=(STATIC / "page.js").read_text(encoding="utf-8"),
        # Outputs, and the preset images whatever the working directory; never the history
        # database beside the outputs, which holds every visitor's records, nor the secret
        # that signs browsers' session ids.
        allowed_paths=[str(data_dir), str(PRESETS_DIR)],
        blocked_paths=[
            *(str(p) for p in history.database_files(data_dir)),
            str(sessions.secret_file(data_dir)),
        ],
        # Uploads beyond this are refused before they reach a handler (the API takes 10 MB;
        # bigger photos are accepted here and scaled down).
        max_file_size=f"{uploads.MAX_UPLOAD_MB}mb",
        # Gradio's queue runs at most max_threads events at once (default 40), whatever each
        # event's concurrency_limit: room for every generate and its .then() follow-ups.
        max_threads=2 * GENERATE_CONCURRENCY,
        state_session_capacity=MAX_SESSIONS,
        app_kwargs={"middleware": _middleware(settings, webhooks)},
        prevent_thread_lock=True,  # to set who is forgotten first before blocking
        **kwargs,
    )
    keep_valued_sessions(demo)
    lean_sessions(demo)
    if not prevent_thread_lock:  # this process serves the page from here on
        settle_heap()
        demo.block_thread()
    return demo


def _middleware(settings: Settings, webhooks: WebhookHub | None) -> list[Middleware]:
    """Webhook deliveries (ui.deliveries); eight-value calls of /generate padded
    (ui.compat); on a public server, each visitor's uploads within a fair share
    (ui.uploads)."""
    stack = [Middleware(compat.OldGenerateCalls)]
    if webhooks is not None:
        stack.insert(0, Middleware(deliveries.WebhookDeliveries, hub=webhooks))
    if not settings.shared:
        return stack
    guard = uploads.Uploads(Path(get_upload_folder()))
    return [
        *stack,
        Middleware(uploads.UploadGuard, uploads=guard, trust_forwarded=settings.space),
    ]
