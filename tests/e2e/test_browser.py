"""What a person sees in the playground, driven through a real Chromium (offline mode)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

# A generation on the offline emulator: upload, ~1 s of "inference", render, download.
GENERATION_TIMEOUT_MS = 30_000


def upload_start_image(page: Page, photo: Path) -> None:
    page.locator("#start-image input[type=file]").set_input_files(photo)
    expect(page.locator("#start-image img")).to_be_visible()


def open_image_options(page: Page) -> None:
    page.locator("#image-more").get_by_text("Image URLs & small images").click()


def prompt_box(page: Page):
    return page.locator("#prompt textarea")


def status(page: Page):
    return page.locator("#status .status")


def run_card_value(page: Page, term: str):
    """The <dd> of the run card's row named `term`."""
    return page.locator("#run-card dl.card dt", has_text=re.compile(f"^{term}$")).locator(
        "xpath=following-sibling::dd[1]"
    )


def test_page_loads_offline_with_price(page: Page):
    expect(page).to_have_title("Seedance Playground")
    expect(page.get_by_role("heading", name="Seedance Playground")).to_be_visible()
    banner = page.locator("#banner")
    expect(banner).to_contain_text("synthetic")
    expect(banner).to_contain_text("not Seedance")
    expect(page.locator("#generate-btn")).to_have_text("Generate · free")
    expect(page.locator("#price")).to_contain_text("on WaveSpeed: ≈ $0.160")


def test_preset_fills_the_form(page: Page):
    page.locator("#presets .thumbnail-item").first.click()
    expect(prompt_box(page)).not_to_have_value("")
    expect(page.locator("#start-image img")).to_be_visible()
    page.wait_for_function(
        "() => { const i = document.querySelector('#start-image img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )


def test_generate_plays_video_and_reuses_seed(page: Page, photo: Path):
    upload_start_image(page, photo)
    prompt_box(page).fill("The red block slides slowly to the right; slow push-in.")
    duration = page.locator("#duration input[type=number]")
    duration.fill("2")
    duration.press("Enter")
    expect(page.locator("#price")).to_contain_text("on WaveSpeed: ≈ $0.064")
    page.locator("#generate-btn").click()

    expect(status(page)).to_have_class(re.compile(r"\bbusy\b"))
    expect(status(page)).to_contain_text("Done", timeout=GENERATION_TIMEOUT_MS)
    page.wait_for_function(
        "() => { const v = document.querySelector('#result-video video');"
        " return v && v.readyState >= 2 && v.videoWidth > 0; }",
        timeout=GENERATION_TIMEOUT_MS,
    )

    seed = run_card_value(page, "Seed")
    expect(seed).to_have_text(re.compile(r"^\d+$"))
    seed_text = seed.inner_text()
    assert int(seed_text) != -1
    expect(run_card_value(page, "Cost")).to_contain_text(
        "free (offline) · would cost $0.064 on WaveSpeed"
    )
    expect(run_card_value(page, "Cost")).to_contain_text("$0.064")
    expect(run_card_value(page, "Duration")).to_have_text("2 s")

    page.locator("#reuse-seed").click()
    expect(page.locator("#seed input")).to_have_value(seed_text)


def test_a_reload_comes_back_to_the_same_session(page: Page, photo: Path):
    """The browser keeps its session's signed id: after a reload, its runs are its own."""
    page.locator("#last-seed").click()
    expect(page.locator("#seed input")).to_have_value("-1")  # a new session has no seed yet
    upload_start_image(page, photo)
    prompt_box(page).fill("The red block slides slowly to the right.")
    page.locator("#generate-btn").click()
    expect(status(page)).to_contain_text("Done", timeout=GENERATION_TIMEOUT_MS)
    seed_text = run_card_value(page, "Seed").inner_text()

    page.reload()
    page.locator("#banner .banner").wait_for()
    expect(page.locator("#seed input")).to_have_value("-1")
    page.locator("#last-seed").click()
    expect(page.locator("#seed input")).to_have_value(seed_text)


def test_overlong_prompt_is_flagged_and_refused(page: Page, photo: Path):
    upload_start_image(page, photo)
    prompt_box(page).fill("a" * 2001)
    counter = page.locator("#prompt-count .count")
    expect(counter).to_have_text("2001 / 2000")
    expect(counter).to_have_class(re.compile(r"\bover\b"))
    expect(counter).to_have_css("color", "rgb(185, 28, 28)")

    page.locator("#generate-btn").click()
    toast = page.get_by_test_id("toast-text")
    expect(toast).to_contain_text("the limit is 2000")
    expect(toast).to_contain_text("Shorten it by 1")
    expect(page.locator("body")).not_to_contain_text("Traceback")
    # The line says the run did not start, and why; nothing was sent.
    expect(status(page)).to_contain_text("Not started")
    expect(status(page)).to_contain_text("the limit is 2000")


def test_generate_without_start_image_says_to_add_one(page: Page):
    prompt_box(page).fill("The camera pushes in slowly.")
    page.locator("#generate-btn").click()
    expect(page.get_by_test_id("toast-text")).to_contain_text("Add a start image first")
    expect(status(page)).to_contain_text("Not started · Add a start image first")
    expect(page.locator("body")).not_to_contain_text("Traceback")


def test_ctrl_enter_in_prompt_generates(page: Page, photo: Path):
    upload_start_image(page, photo)
    expect(status(page)).to_contain_text("Ready")
    prompt_box(page).fill("The red block drifts left; static camera.")
    prompt_box(page).press("Control+Enter")
    expect(status(page)).not_to_contain_text("Ready")
    expect(prompt_box(page)).to_have_value("The red block drifts left; static camera.")
    expect(status(page)).to_contain_text("Done", timeout=GENERATION_TIMEOUT_MS)


def test_phone_width_has_no_horizontal_overflow(page: Page, photo: Path):
    page.set_viewport_size({"width": 390, "height": 844})
    upload_start_image(page, photo)
    prompt_box(page).fill("The red block slides to the right as the camera pushes in. " * 8)
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= 390
    for element in ("#generate-btn", "#prompt", "#run-card", "#banner"):
        box = page.locator(element).bounding_box()
        assert box is not None, element
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (element, box)


def test_a_typed_url_and_an_upload_replace_each_other(page: Page, photo: Path, tmp_path: Path):
    upload_start_image(page, photo)
    open_image_options(page)
    url_box = page.locator("#start-url input, #start-url textarea").first
    url_box.fill("https://images.example/cat.jpg")
    url_box.press("Tab")  # leaving the box is enough
    expect(page.locator("#start-image img")).to_have_count(0)
    other = tmp_path / "other.jpg"  # a new file: the same one again may not fire "change"
    other.write_bytes(photo.read_bytes())
    upload_start_image(page, other)
    expect(url_box).to_have_value("")
    expect(page.locator("#upscale input[type=checkbox]")).not_to_be_checked()


def test_an_address_the_server_will_not_fetch_is_said_at_once(page: Page):
    open_image_options(page)
    end_box = page.locator("#end-url input, #end-url textarea").first
    end_box.fill("http://127.0.0.1/end.png")
    end_box.press("Tab")
    expect(page.locator("#end-note")).to_contain_text("The end image URL:")
    expect(page.locator("#end-note")).to_contain_text("loopback")


def test_the_status_line_counts_seconds_between_server_updates(page: Page):
    page.locator("#status").evaluate(
        """(el) => el.insertAdjacentHTML('beforeend', "<div class='status busy' id='clock' "
           + "data-elapsed='3.0' data-stage='Processing' data-eta='10'>Processing</div>")"""
    )
    clock = page.locator("#clock")
    expect(clock).to_have_text(re.compile(r"^Processing · [34] s · about [67] s left$"))
    expect(clock).to_have_text(re.compile(r"^Processing · [56] s · about [45] s left$"))
