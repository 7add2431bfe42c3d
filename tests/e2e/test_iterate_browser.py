"""Iterating in a real Chromium (offline mode): a batch of variations, and a two-shot chain
stitched on the Storyboard tab. Launched like tests/e2e/test_browser.py (its fixtures)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

# A batch or a generation on the offline emulator: upload, ~1 s of "inference", render,
# download; three 5 s renders share the emulator's two render workers.
GENERATION_TIMEOUT_MS = 45_000

VIDEOS_PLAY = """(selector) => {
  const videos = [...document.querySelectorAll(selector)];
  return videos.length > 0 && videos.every(
    (v) => v.readyState >= 2 && v.videoWidth > 0 && v.currentTime > 0);
}"""


IN_SYNC = """(selector) => {
  const [lead, ...rest] = [...document.querySelectorAll(selector)];
  return !lead.paused && rest.every((v) => {
    const apart = Math.abs(v.currentTime - lead.currentTime);
    return !v.paused && Math.min(apart, lead.duration - apart) < 0.2;
  });
}"""


def status(page: Page):
    return page.locator("#status .status")


def start_image_src(page: Page) -> str:
    return page.locator("#start-image img").get_attribute("src") or ""


def generate_and_wait(page: Page) -> str:
    """Click Generate; wait until a new run is done and its video plays. Its status line."""
    before = status(page).inner_text()
    page.locator("#generate-btn").click()
    expect(status(page)).not_to_have_text(before)
    expect(status(page)).to_contain_text("Done", timeout=GENERATION_TIMEOUT_MS)
    page.wait_for_function(VIDEOS_PLAY, arg="#result-video video", timeout=GENERATION_TIMEOUT_MS)
    return status(page).inner_text()


def test_a_batch_of_three_variations_plays_with_seeds(page: Page):
    from playground.ui.presets import load_presets

    preset = load_presets()[0]
    page.locator("#presets .thumbnail-item").first.click()
    expect(page.locator("#prompt textarea")).to_have_value(preset.prompt)
    expect(page.locator("#duration input[type=number]")).to_have_value(str(preset.duration))

    page.locator("#variations").get_by_text("Variations").first.click()
    how_many = page.locator("#var-count input[type=number]")
    how_many.fill("3")
    how_many.press("Enter")
    batch = page.locator("#batch-btn")
    expect(batch).to_have_text("Run 3 variations · free")  # offline

    batch.click()
    expect(status(page)).to_contain_text("3 of 3 done", timeout=GENERATION_TIMEOUT_MS)
    view = page.locator("#variations-view")
    expect(view.locator("video")).to_have_count(3)
    page.wait_for_function(VIDEOS_PLAY, arg="#variations-view video", timeout=GENERATION_TIMEOUT_MS)

    # in sync: the page script keeps clips of one length on the first one's clock
    page.wait_for_function(IN_SYNC, arg="#variations-view video", timeout=10_000)

    captions = view.locator("figcaption")
    expect(captions).to_have_count(3)
    seeds = []
    for i, caption in enumerate(captions.all_inner_texts()):
        match = re.match(rf"#{i + 1} · seed (\d+) · (.+)", caption)
        assert match, caption
        seeds.append(int(match.group(1)))
        assert preset.prompt.startswith(match.group(2).rstrip("…").strip()[:40])
    assert len(set(seeds)) == 3
    expect(page.locator("body")).not_to_contain_text("Traceback")


def test_two_shots_chain_and_stitch_into_one_video(page: Page, photo: Path):
    page.locator("#start-image input[type=file]").set_input_files(photo)
    expect(page.locator("#start-image img")).to_be_visible()
    page.locator("#prompt textarea").fill("The red block slides to the right; slow push-in.")
    duration = page.locator("#duration input[type=number]")
    duration.fill("2")
    duration.press("Enter")
    expect(page.locator("#price")).to_contain_text("on WaveSpeed: ≈ $0.064")

    generate_and_wait(page)
    uploaded = start_image_src(page)
    page.locator("#continue").click()
    page.wait_for_function(
        "(old) => { const i = document.querySelector('#start-image img');"
        " return i && i.src !== old && i.complete && i.naturalWidth > 0; }",
        arg=uploaded,
    )
    # the new start image is the video's last frame, at the video's size (4:3 at 720p)
    size = page.evaluate(
        "() => { const i = document.querySelector('#start-image img');"
        " return [i.naturalWidth, i.naturalHeight]; }"
    )
    video_size = page.evaluate(
        "() => { const v = document.querySelector('#result-video video');"
        " return [v.videoWidth, v.videoHeight]; }"
    )
    assert size == video_size == [1120, 832]

    page.locator("#prompt textarea").fill("The red block stops and the camera holds still.")
    generate_and_wait(page)
    page.locator("#add-shot").click()

    page.get_by_role("tab", name="Storyboard").click()
    expect(page.locator("#storyboard-shots .thumbnail-item")).to_have_count(2)
    page.locator("#stitch").click()
    expect(page.get_by_text("2 shots · 4 s · joined without re-encoding")).to_be_visible(
        timeout=GENERATION_TIMEOUT_MS
    )
    page.wait_for_function(
        "() => { const v = document.querySelector('#stitched video');"
        " return v && v.readyState >= 2 && v.videoWidth > 0 && v.duration > 0; }",
        timeout=GENERATION_TIMEOUT_MS,
    )
    duration_s = page.evaluate("() => document.querySelector('#stitched video').duration")
    assert duration_s == pytest.approx(4.0, abs=0.15)
    expect(page.locator("body")).not_to_contain_text("Traceback")


def test_a_slow_answer_for_an_older_value_never_lands_last(
    page: Page, monkeypatch: pytest.MonkeyPatch
):
    """The batch button's price is recomputed on every change of its inputs. An answer
    for an older value that comes back late (a busy server) once overwrote the newer one:
    the button said "Run 4 variations" with 3 set."""
    import time

    from playground.ui import views

    real = views.batch_text

    def slow_for_four(price, runs: int, **kw) -> str:
        if runs == 4:
            time.sleep(1.5)  # the answer computed before the count changed
        return real(price, runs, **kw)

    monkeypatch.setattr(views, "batch_text", slow_for_four)
    page.locator("#variations").get_by_text("Variations").first.click()
    duration = page.locator("#duration input[type=number]")
    duration.fill("3")
    duration.press("Enter")  # the label is asked for with the count still 4 ...
    how_many = page.locator("#var-count input[type=number]")
    how_many.fill("3")
    how_many.press("Enter")  # ... and again with 3, answered at once
    price = "free"  # offline
    page.wait_for_timeout(2500)  # past the slow answer
    expect(page.locator("#batch-btn")).to_have_text(f"Run 3 variations · {price}")


def test_a_failed_answer_for_a_half_typed_value_does_not_swallow_the_next(
    page: Page, monkeypatch: pytest.MonkeyPatch
):
    """Gradio drops the change that waited for a failed one: a label that raised for a
    half-typed number then stayed stale ("Run 4 variations" with 3 set)."""
    import time

    from playground.ui import views

    real = views.batch_text

    def fails_for_four(price, runs: int, **kw) -> str:
        if runs == 4:
            time.sleep(1.5)
            raise ValueError("not a whole number yet")
        return real(price, runs, **kw)

    monkeypatch.setattr(views, "batch_text", fails_for_four)
    page.locator("#variations").get_by_text("Variations").first.click()
    duration = page.locator("#duration input[type=number]")
    duration.fill("3")
    duration.press("Enter")
    how_many = page.locator("#var-count input[type=number]")
    how_many.fill("3")
    how_many.press("Enter")
    price = "free"  # offline
    page.wait_for_timeout(2500)
    expect(page.locator("#batch-btn")).to_have_text(f"Run 3 variations · {price}")
