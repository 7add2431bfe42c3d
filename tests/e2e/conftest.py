"""Browser fixtures: the real app, launched in-process in offline mode, and Debian's Chromium.

`offline_app()` and `launch_chromium()` are plain helpers too, so `docs/make_screenshots.py`
starts the app exactly the way these tests do.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from playground import settings

# Playwright drives the system's Chromium; it must never download its own (`playwright install`).
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", shutil.which("chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Settings the app reads from the environment: cleared so a developer's own cannot leak in.
APP_ENV = settings.ENV_VARS
# Fast enough for a quick suite, slow enough that the "Processing" state can be seen.
EMULATOR_INFERENCE_S = 1.0


def chromium_path() -> str | None:
    return next((p for p in CHROMIUM_CANDIDATES if p and Path(p).is_file()), None)


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def offline_app(
    inference_seconds: float = EMULATOR_INFERENCE_S, serve_from: Path | None = None
) -> Iterator[str]:
    """Launch the app as `app.main()` does, in offline mode; yield its URL.

    Settings are read from a temp working directory, so a developer's `.env` (and key) stays
    out. The app then serves from that temp directory, or from `serve_from` if given (the
    repo root, as `python app.py` runs). Environment and working directory are restored.
    """
    from playground.flow.service import Playground
    from playground.ui.app import build_demo, launch

    saved_env = {name: os.environ.get(name) for name in APP_ENV}
    saved_cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="playground-e2e-") as tmp:
        for name in APP_ENV:
            os.environ.pop(name, None)
        os.environ["PLAYGROUND_OFFLINE"] = "1"
        os.environ["PLAYGROUND_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["PLAYGROUND_OFFLINE_SECONDS"] = str(inference_seconds)
        os.chdir(tmp)
        service = demo = None
        try:
            service = Playground(settings.load_settings())  # read now, from the temp directory
            service.settings.data_dir.mkdir(parents=True, exist_ok=True)
            service.resume()
            if serve_from is not None:
                os.chdir(serve_from)
            demo = launch(
                build_demo(service),
                service.settings,
                prevent_thread_lock=True,
                server_name="127.0.0.1",
                server_port=_free_port(),
                quiet=True,
                webhooks=service.webhooks,
            )
            yield demo.local_url.rstrip("/")
        finally:
            if demo is not None:
                demo.close()
            if service is not None:
                service.close()
            os.chdir(saved_cwd)
            for name, value in saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 640×480 JPEG with some structure, as a person might upload."""
    path = tmp_path_factory.mktemp("images") / "street.jpg"
    image = Image.linear_gradient("L").resize((640, 480)).convert("RGB")
    image.paste((200, 60, 40), (220, 140, 420, 340))
    image.save(path, quality=90)
    return path


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium not found, but CI installs it: the CI setup is broken")
        pytest.skip("Chromium not found: apt-get install chromium to run browser tests")
    return path


@pytest.fixture(scope="module")
def app_url(chromium: str) -> Iterator[str]:
    # Module scope: the working directory and environment are back before other tests run.
    with offline_app() as url:
        yield url


def app_with_runs_of(seconds: float):
    """A module's own `app_url` fixture, whose offline runs take `seconds`: long enough
    for its tests to act while a run goes on. Use as `app_url = app_with_runs_of(6.0)`."""

    @pytest.fixture(scope="module")
    def app_url(chromium: str) -> Iterator[str]:
        with offline_app(inference_seconds=seconds) as url:
            yield url

    return app_url


@pytest.fixture(scope="module")
def browser(chromium: str):
    # Module scope: sync Playwright runs an event loop in this thread while it is open, which
    # would break the pytest-asyncio tests of other modules.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


FRESH_SESSION = """
if (!sessionStorage.getItem("test-page")) {
  localStorage.clear();
  sessionStorage.setItem("test-page", "1");
}
"""


@pytest.fixture(scope="module")
def context(browser):
    """One browser context, so Gradio's scripts load from its cache after the first page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context
    context.close()


def open_page(context, url: str):
    """A new page on the app, its session live: each page load is a fresh app session."""
    page = context.new_page()
    # The context's pages share localStorage, where the app keeps its session's id: each
    # test's page starts without one, and keeps its own across its reloads.
    page.add_init_script(FRESH_SESSION)
    page.goto(url)
    # The banner is filled by the page's load event: once it shows, the session is live.
    page.locator("#banner .banner").wait_for()
    return page


@pytest.fixture
def page(context, app_url: str):
    """A new page on the app, 1280 px wide."""
    page = open_page(context, app_url)
    yield page
    page.close()


SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.fixture(params=list(SIZES))
def sized_page(request: pytest.FixtureRequest, browser, app_url: str):
    """A fresh page (no session, nothing kept) at a desktop's and at a phone's size. An
    expected condition is answered in words, never HTTP 5xx: the test fails on one."""
    width, height = SIZES[request.param]
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(15_000)
    failures: list[str] = []
    page = open_page(context, app_url)
    page.on("response", lambda r: r.status >= 500 and failures.append(r.url))
    yield page
    context.close()
    assert not failures, f"the server answered HTTP 5xx: {failures}"


def says(page, *words: str) -> None:
    """The newest toast holds these words; then it is closed, so the next is the newest."""
    from playwright.sync_api import expect

    for text in words:
        expect(page.get_by_test_id("toast-text").last).to_contain_text(text)
    page.get_by_test_id("toast-close").last.click()


def open_tab(page, name: str) -> None:
    """A tab by name; on a phone Gradio folds the last tabs into its "More tabs" menu."""
    tab = page.get_by_role("tab", name=name)
    if tab.count() == 0:
        page.get_by_label("More tabs").click()
        tab = page.locator("#tabs .overflow-dropdown button", has_text=name)
    tab.click()
