"""The form follows the model, in a real Chromium (offline mode): switching from Seedance 1.0
to 2.x shows resolution and audio and hides camera fixed and the seed, a retiring model
offers its successor, and a 2.0 run with sound plays and says so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from playground.media import videos

pytestmark = pytest.mark.browser

GENERATION_TIMEOUT_MS = 45_000
TWO_FIVE = "Seedance 2.5"
TWO = "Seedance 2.0"


def pick_model(page: Page, name: str) -> None:
    """Open the model picker and choose the entry whose label names `name`."""
    page.locator("#model input").click()
    page.get_by_role("option", name=re.compile(rf"^{re.escape(name)} ·")).first.click()


def run_card_value(page: Page, term: str):
    return page.locator("#run-card dl.card dt", has_text=re.compile(f"^{term}$")).locator(
        "xpath=following-sibling::dd[1]"
    )


def test_switching_to_a_2x_model_changes_the_form(page: Page):
    expect(page.locator("#camera-fixed")).to_be_visible()
    expect(page.locator("#seed-row")).to_be_visible()
    expect(page.locator("#resolution")).to_be_hidden()
    expect(page.locator("#generate-audio")).to_be_hidden()
    expect(page.locator("#model-note")).to_contain_text("Retiring")
    expect(page.locator("#try-successor")).to_have_text(f"Try this on {TWO}")

    duration = page.locator("#duration input[type=number]")
    duration.fill("2")
    duration.press("Enter")
    page.locator("#camera-fixed input").check()

    pick_model(page, TWO_FIVE)
    expect(page.locator("#resolution")).to_be_visible()
    expect(page.locator("#generate-audio")).to_be_visible()
    expect(page.locator("#generate-audio input")).to_be_checked()
    expect(page.locator("#camera-fixed")).to_be_hidden()
    expect(page.locator("#seed-row")).to_be_visible()  # 2.5 takes a seed
    expect(page.locator("#model-note")).to_contain_text("camera fixed: not offered")
    expect(page.locator("#model-note")).not_to_contain_text("Retiring")
    expect(page.locator("#try-successor")).to_be_hidden()
    # 2 s does not fit 2.5's 4-15: moved to the nearest, and said
    expect(duration).to_have_value("4")
    expect(page.locator("#model-note")).to_contain_text("Duration 2 → 4")
    expect(page.locator("#generate-btn")).to_have_text("Generate · free")  # offline
    expect(page.locator("#price")).to_contain_text("price for this model is unknown")

    pick_model(page, TWO)
    expect(page.locator("#seed-row")).to_be_hidden()
    expect(page.locator("#model-note")).to_contain_text("seed: not supported by this model")
    expect(page.locator("#resolution")).to_be_hidden()
    expect(page.locator("#price")).to_contain_text("$0.960")  # 4 s at $1.20 per 5 s


def test_a_retiring_model_moves_to_its_successor_in_one_click(page: Page):
    page.locator("#prompt textarea").fill("The lamp flickers on; slow push-in.")
    page.locator("#try-successor").click()
    expect(page.locator("#model input")).to_have_value(re.compile(TWO))
    expect(page.locator("#prompt textarea")).to_have_value("The lamp flickers on; slow push-in.")
    expect(page.locator("#camera-fixed")).to_be_hidden()
    expect(page.locator("#generate-audio")).to_be_visible()


def test_show_all_lists_other_families(page: Page):
    page.locator("#model input").click()
    expect(page.get_by_role("option", name=re.compile("Kling"))).to_have_count(0)
    page.keyboard.press("Escape")
    page.locator("#show-all input").check()
    page.locator("#model input").click()
    expect(page.get_by_role("option", name=re.compile("Kling")).first).to_be_visible()
    page.get_by_role("option", name=re.compile("Kling")).first.click()
    expect(page.locator("#extra1-slider")).to_be_visible()  # guidance_scale: 0-1
    expect(page.locator("#extra0-text")).to_be_visible()  # negative_prompt
    expect(page.locator("#end-image")).to_be_hidden()  # Kling takes no end frame


def test_a_2_0_run_with_sound_plays_and_says_so(page: Page, photo: Path, tmp_path: Path):
    page.locator("#start-image input[type=file]").set_input_files(photo)
    expect(page.locator("#start-image img")).to_be_visible()
    pick_model(page, TWO)
    page.locator("#prompt textarea").fill("The red block slides right; a soft chime rings.")
    page.locator("#generate-btn").click()
    status = page.locator("#status .status")
    expect(status).to_contain_text("Done", timeout=GENERATION_TIMEOUT_MS)
    expect(status).to_contain_text("no seed")
    page.wait_for_function(
        "() => { const v = document.querySelector('#result-video video');"
        " return v && v.readyState >= 2 && v.videoWidth > 0; }",
        timeout=GENERATION_TIMEOUT_MS,
    )
    # the file the player plays has a sound track, and the player lets it be heard
    player = page.locator("#result-video video")
    src = player.evaluate("v => v.currentSrc")
    played = tmp_path / "played.mp4"
    played.write_bytes(page.request.get(src).body())
    assert videos.probe_video(played).has_audio
    assert player.evaluate("v => !v.muted || v.controls")
    expect(run_card_value(page, "Sound")).to_have_text("with sound")
    expect(run_card_value(page, "Seed")).to_have_text("not supported by this model")
    expect(run_card_value(page, "Model")).to_have_text("bytedance/seedance-2.0/image-to-video")
