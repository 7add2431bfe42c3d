"""Save the README's screenshots of the playground: a finished run, desktop and phone.

Starts the app offline exactly as the browser tests do (tests/e2e/conftest.py), loads a
preset, generates, and saves docs/screenshot-desktop.png (1280 px wide) and
docs/screenshot-phone.png (390 px wide), both full page. Needs Chromium (/usr/bin/chromium).

    python docs/make_screenshots.py
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from tests.e2e.conftest import chromium_path, launch_chromium, offline_app  # noqa: E402

PRESET = "The cat hears something (with sound)"  # Seedance 2.0: sound, no seed or camera
SHOTS = {
    # name: (viewport, device pixel ratio)
    "screenshot-desktop.png": ({"width": 1280, "height": 1100}, 1),
    "screenshot-phone.png": ({"width": 390, "height": 844}, 2),
}
EMULATOR_INFERENCE_S = 3.0  # the emulator's default: timings on the card look like a run
GENERATION_TIMEOUT_MS = 60_000
# Toasts ("Loaded preset …") would cover the form; the caret would blink into the shot.
HIDE_TRANSIENTS = ".toast-wrap {display: none !important;} * {caret-color: transparent !important;}"


def finished_run(page: Page, url: str) -> None:
    """Load the preset, generate, and wait until the result video shows a frame."""
    page.goto(url)
    page.locator("#banner .banner").wait_for()
    page.add_style_tag(content=HIDE_TRANSIENTS)
    page.locator("#presets .thumbnail-item", has_text=PRESET).click()
    expect(page.locator("#prompt textarea")).not_to_have_value("")
    expect(page.locator("#start-image img")).to_be_visible()
    page.locator("#generate-btn").click()
    expect(page.locator("#status")).to_contain_text("Done", timeout=GENERATION_TIMEOUT_MS)
    page.wait_for_function(
        "() => { const v = document.querySelector('#result-video video');"
        " return v && v.readyState >= 2 && v.videoWidth > 0; }",
        timeout=GENERATION_TIMEOUT_MS,
    )
    expect(page.locator("#run-card dl.card")).to_be_visible()
    # A frame from the middle of the clip, paused, so the shot is the same every time.
    page.evaluate(
        "() => { const v = document.querySelector('#result-video video');"
        " v.pause(); v.currentTime = v.duration / 2; }"
    )
    page.wait_for_function(
        "() => { const v = document.querySelector('#result-video video');"
        " return !v.seeking && v.readyState >= 2; }"
    )
    page.mouse.move(0, 0)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(500)  # let images and the layout settle


def save_png(page: Page, path: Path) -> None:
    """A full-page shot, recompressed losslessly (Playwright's PNGs are lightly packed)."""
    Image.open(io.BytesIO(page.screenshot(full_page=True))).save(path, optimize=True)


def main() -> None:
    if chromium_path() is None:
        sys.exit("Chromium not found: apt-get install chromium")
    # Served from the repo root, as `python app.py` is, so the presets' images load.
    with (
        offline_app(EMULATOR_INFERENCE_S, serve_from=ROOT) as url,
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        try:
            for name, (viewport, scale) in SHOTS.items():
                context = browser.new_context(viewport=viewport, device_scale_factor=scale)
                page = context.new_page()
                finished_run(page, url)
                path = ROOT / "docs" / name
                save_png(page, path)
                context.close()
                print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1e6:.2f} MB")
        finally:
            browser.close()


if __name__ == "__main__":
    main()
