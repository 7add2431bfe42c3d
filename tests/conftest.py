"""Shared pytest fixtures, and the helpers several test files use (`from conftest import ...`).

The app and Gradio are imported where they are used, so tests that never touch them do not
pay for importing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from PIL import Image, ImageDraw

from playground import emulator as emulator_module
from playground import settings
from playground.model import seedance

if TYPE_CHECKING:
    import gradio as gr
    import httpx
    from gradio_client import Client

    from playground.flow.service import Playground
    from playground.ui.handlers import Handlers

PROMPT = "the lamp flickers on; slow push-in; dust drifts in the light"
# `/generate`'s parameters, in order: the WaveSpeed API's names (the keys of `form()`)
API_PARAMETERS = [
    "image",
    "prompt",
    "last_image",
    "duration",
    "aspect_ratio",
    "camera_fixed",
    "seed",
    "model",
    "resolution",
    "generate_audio",
    "options",
]
POLL_S = 0.05


@pytest.fixture
def emulator() -> Iterator[emulator_module.RunningEmulator]:
    """A fresh WaveSpeed emulator on a free loopback port, with fast (0.5 s) tasks."""
    config = emulator_module.EmulatorConfig(inference_seconds=0.5, jitter=0.0)
    with emulator_module.start_in_thread(config) as running:
        yield running


# ---------------------------------------------------------------- helpers


def form(image: Any = None, /, **overrides: Any) -> dict[str, Any]:
    """The Playground form's values, as the generate handlers and `/generate` receive them:
    a 2 s 16:9 clip of PROMPT on the default model, random seed. `image` is a path (sent as
    a string), or a file for gradio_client (`handle_file`); `overrides` replace any value."""
    values: dict[str, Any] = {
        "image": str(image) if isinstance(image, Path) else image,
        "prompt": PROMPT,
        "last_image": None,
        "duration": 2,
        "aspect_ratio": "16:9",
        "camera_fixed": False,
        "seed": -1,
        "model": seedance.DEFAULT_MODEL,
    }
    values.update(overrides)
    return values


def price_of(model: str, duration: int) -> float | None:
    """What the bundled catalog's formula says a run costs (the emulator quotes the same)."""
    return seedance.request(model, image="start.png", duration=duration).cost_usd


PAGE_EXTRAS = {"image_url": "", "last_image_url": "", "upscale": False}


def page_values(values: dict[str, Any], **extras: Any) -> tuple[Any, ...]:
    """A `form()` (and the page's extras: image_url, last_image_url, upscale) as the page's
    twins receive it: the values in `handlers.PAGE_FIELDS` order, after the session."""
    from playground.ui.handlers import PAGE_FIELDS

    everything = PAGE_EXTRAS | values | extras
    # Widgets the form() does not name (resolution, audio, the generic slots) as the page
    # holds them when the model does not use them.
    return tuple(everything.get(name) for name in PAGE_FIELDS)


def form_set(outputs: tuple[Any, ...]) -> dict[str, Any]:
    """What a handler that sets the form (a model switch, reuse, load, a preset) put in
    each widget, by name: the value of each update (a container's update is itself)."""
    from playground.ui.handlers import FORM_SET
    from playground.ui.modelform import EXTRA_FIELDS

    names = (*FORM_SET, *EXTRA_FIELDS)
    return {n: getattr(o, "value", o) for n, o in zip(names, outputs, strict=True)}


def make_image(path: Path, size: tuple[int, int] = (640, 360)) -> Path:
    image = Image.new("RGB", size, (40, 110, 170))
    ImageDraw.Draw(image).rectangle((size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    image.save(path)
    return path


def video_tags(path: Path | str) -> dict[str, str]:
    """The MP4's own metadata (title, comment), as a player reads it."""
    import av

    with av.open(str(path)) as container:
        return dict(container.metadata)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def select(index: int) -> gr.SelectData:
    import gradio as gr

    return gr.SelectData(None, {"index": index, "value": None, "selected": True})


async def quick_sleep(seconds: float) -> None:
    """The client's own sleeps (polling, 429 backoff), shortened so tests take task time."""
    await asyncio.sleep(min(seconds, POLL_S))


GOOD_KEY = "good"  # the owner's key in `live`: the only one the emulator accepts there


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean environment and cwd (no `.env`), data in tmp_path; returns the data dir."""
    monkeypatch.chdir(tmp_path)
    for name in settings.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(data_dir))
    monkeypatch.setenv("WAVESPEED_TIER", "gold")  # no minute-long pacing between test runs
    return data_dir


@pytest.fixture
def live(
    env: Path, emulator: emulator_module.RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The owner's key in the environment, pointing at the emulator, which knows only it."""
    emulator.config.api_keys = frozenset({GOOD_KEY})
    monkeypatch.setenv("WAVESPEED_BASE_URL", emulator.base_url)
    monkeypatch.setenv("WAVESPEED_API_KEY", GOOD_KEY)
    return env


def public_server(
    monkeypatch: pytest.MonkeyPatch,
    emulator: emulator_module.RunningEmulator,
    owner_key: str,
    **settings: str,
) -> None:
    """A shared server (as a Space is) spending `owner_key` on the emulator within the
    PLAYGROUND_* `settings` given (names without the prefix: DAILY_USD="1")."""
    monkeypatch.setenv("PLAYGROUND_SHARED", "1")
    monkeypatch.setenv("WAVESPEED_API_KEY", owner_key)
    monkeypatch.setenv("WAVESPEED_BASE_URL", emulator.base_url)
    for name, value in settings.items():
        monkeypatch.setenv(f"PLAYGROUND_{name}", value)


def build_ui() -> Handlers:
    """The page's handlers over a service built from the environment as it is now (as
    `main()` builds them); close it with `ui.service.close()`."""
    from playground.flow.service import Playground
    from playground.ui.handlers import Handlers

    return Handlers(Playground(settings.load_settings()))


class UIs:
    """Builds the handlers (and their service) on first use, after the test has set the
    environment; `fresh()` closes the one built and builds anew (the environment changed);
    everything built is closed at the end of the test."""

    def __init__(self) -> None:
        self._built: list[Handlers] = []

    def __call__(self) -> Handlers:
        return self._built[-1] if self._built else self.fresh()

    def fresh(self) -> Handlers:
        self.close()
        self._built.append(build_ui())
        return self._built[-1]

    def close(self) -> None:
        while self._built:
            self._built.pop().service.close()


@pytest.fixture
def uis(env: Path) -> Iterator[UIs]:
    built = UIs()
    yield built
    built.close()


@pytest.fixture
def ui(uis: UIs) -> Handlers:
    """The handlers over a service from the environment the test's fixtures set up."""
    return uis()


# ---------------------------------------------------------------- the launched app


@dataclass
class LaunchedApp:
    """The app as `launch_app` serves it, with its own emulator."""

    demo: gr.Blocks
    url: str
    emulator: emulator_module.RunningEmulator
    root: Path  # the working directory
    data_dir: Path
    image: Path  # the start image `generate` sends
    model: str  # the model `generate` asks for
    service: Playground  # what `main()` would have built: its store, recovery, routes

    def client(self, **kwargs: Any) -> Client:
        from gradio_client import Client

        kwargs.setdefault("download_files", str(self.root / "dl"))
        return Client(self.url, verbose=False, **kwargs)

    def generate(self, client: Client, **overrides: Any) -> tuple[Any, dict[str, Any], str]:
        """One `/generate` call: `form()` with the start image uploaded and `model`."""
        from gradio_client import handle_file

        inputs = form(handle_file(str(self.image)), model=self.model) | overrides
        return client.predict(**inputs, api_name="/generate")

    def get(self, path: str) -> httpx.Response:
        import httpx

        return httpx.get(self.url + path, timeout=10)


def patient_url_ok(url: str, deadline_s: float = 30.0) -> bool:
    """Gradio's launch check that its own server answers, with patience: Gradio gives up on
    the first HEAD slower than 3 s, which a busy 2-core machine (an MCP server starting, the
    emulator rendering) can take; the launch then fails as if localhost were unreachable."""
    import time

    import httpx

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if httpx.head(url, timeout=10).status_code in (200, 401, 301, 302, 303, 307, 308):
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


@contextlib.contextmanager
def launch_app(
    root: Path,
    image: Path,
    env: dict[str, str],
    *,
    emulator_config: emulator_module.EmulatorConfig | None = None,
    model: str = seedance.DEFAULT_MODEL,
    unset: Iterable[str] = settings.ENV_VARS,
    prepare: Callable[[pytest.MonkeyPatch], object] | None = None,
    mcp: bool = False,
    webhooks: bool = False,
) -> Iterator[LaunchedApp]:
    """Launch the app by `playground.ui.app.launch` (as `python app.py` does) on a free
    loopback port, against its own emulator (0.3 s tasks unless `emulator_config` says otherwise).

    The working directory is `root` (no stray `.env`), data in `root/data`; the `unset`
    variables are cleared, then `env` set over these defaults: the emulator's URL, the data
    directory, no analytics, the gold tier (bronze paces a key to 2 submits a minute).
    `prepare`, if given, runs next with the MonkeyPatch in use (to patch more, undone with
    the rest), just before the demo is built. `mcp` serves Gradio's MCP server too, as
    PLAYGROUND_MCP=1 does. `webhooks` makes the app's own address its public one
    (PLAYGROUND_PUBLIC_URL), so the emulator delivers each run's result by webhook. The
    service is closed, environment and working directory restored after.
    """
    from playground.flow.service import Playground
    from playground.ui.app import build_demo, launch

    data_dir = root / "data"
    config = emulator_config or emulator_module.EmulatorConfig(inference_seconds=0.3, jitter=0.0)
    with (
        pytest.MonkeyPatch.context() as mp,
        emulator_module.start_in_thread(config) as running,
    ):
        mp.chdir(root)
        for name in unset:
            mp.delenv(name, raising=False)
        defaults = {
            "WAVESPEED_BASE_URL": running.base_url,
            "PLAYGROUND_DATA_DIR": str(data_dir),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "WAVESPEED_TIER": "gold",
        }
        port = free_port()
        if webhooks:
            defaults["PLAYGROUND_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
        for name, value in (defaults | env).items():
            mp.setenv(name, value)
        mp.setattr("gradio.networking.url_ok", patient_url_ok)
        data_dir.mkdir(parents=True, exist_ok=True)
        if prepare is not None:
            prepare(mp)
        service = Playground(settings.load_settings())
        demo = launch(
            build_demo(service),
            service.settings,
            prevent_thread_lock=True,
            server_name="127.0.0.1",
            server_port=port,
            quiet=True,
            mcp_server=mcp,
            webhooks=service.webhooks,
        )
        url = demo.local_url.rstrip("/")
        try:
            yield LaunchedApp(demo, url, running, root, data_dir, image, model, service)
        finally:
            demo.close()
            service.close()
