"""A reload, after a run and in the middle of one, in Chromium at a desktop's and a phone's
size: the form comes back as it was left, the result and its card come back from the
server's record, a run still going is followed to its end; a key is kept on the device
only when asked, and forgotten on request.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import app_with_runs_of, open_tab

# Long enough to reload while the run goes on, short enough for a quick suite.
INFERENCE_S = 6.0  # long enough to reload, or open History, while a run goes on, under load too
DONE_TIMEOUT_MS = 40_000


app_url = app_with_runs_of(INFERENCE_S)


@pytest.fixture
def page(sized_page: Page) -> Page:
    return sized_page


def status(page: Page):
    return page.locator("#status .status")


def reload(page: Page) -> None:
    page.reload()
    page.locator("#banner .banner").wait_for()


def start_run(page: Page, photo: Path, prompt: str) -> None:
    page.locator("#start-image input[type=file]").set_input_files(photo)
    expect(page.locator("#start-image img")).to_be_visible()
    page.locator("#prompt textarea").fill(prompt)
    duration = page.locator("#duration input[type=number]")
    duration.fill("3")
    duration.press("Enter")
    expect(page.locator("#price")).to_contain_text("$0.096")  # 3 s priced before the click
    page.locator("#generate-btn").click()


def test_after_a_run_a_reload_brings_back_the_form_and_the_result(page: Page, photo: Path):
    prompt = "The red block slides right; slow push-in."
    start_run(page, photo, prompt)
    expect(status(page)).to_contain_text("Done in", timeout=DONE_TIMEOUT_MS)
    seed = page.locator("#run-card dd code").first.inner_text()

    reload(page)
    expect(page.locator("#prompt textarea")).to_have_value(prompt)
    expect(page.locator("#duration input[type=number]")).to_have_value("3")
    expect(status(page)).to_contain_text("Your last run · Done in")
    expect(status(page)).to_contain_text(f"seed {seed}")
    expect(page.locator("#result-video video")).to_have_count(1)
    expect(page.locator("#run-card dd code").first).to_have_text(seed)
    expect(page.locator("body")).not_to_contain_text("Traceback")


def test_a_reload_mid_run_follows_the_run_to_its_end(page: Page, photo: Path):
    start_run(page, photo, "Steam rises from the cup.")
    expect(status(page)).to_contain_text("Processing", timeout=DONE_TIMEOUT_MS)

    reload(page)
    expect(status(page)).to_contain_text("Your last run is still going")
    expect(status(page)).to_have_class(re.compile(r"\bbusy\b"))
    expect(status(page)).to_contain_text("Your last run · Done in", timeout=DONE_TIMEOUT_MS)
    expect(page.locator("#result-video video")).to_have_count(1)
    expect(page.locator("#run-card dd code").first).to_have_text(re.compile(r"^\d+$"))

    page.get_by_role("tab", name="History").click()
    # The local app lists every run, newest first: this one on top, done.
    newest = page.locator("#history-gallery .thumbnail-item").first
    expect(newest).to_contain_text("Steam rises")
    expect(newest).not_to_contain_text("[processing]")


def test_a_key_is_kept_on_this_device_only_when_asked(page: Page):
    page.locator("#backend").get_by_text("Backend & API key").click()
    remember = page.locator("#remember-key input")
    expect(remember).to_be_checked()  # a local app: on by default
    page.locator("#api-key input").fill("sk-test-kept-here")
    page.locator("#save-key").click()
    expect(page.locator("#key-line")).to_contain_text("kept on this device")
    kept = page.evaluate("localStorage.getItem('seedance-playground-key')")
    assert kept and "sk-test-kept-here" not in kept  # encrypted, not in the clear

    reload(page)
    page.locator("#backend").get_by_text("Backend & API key").click()
    expect(page.locator("#key-line")).to_contain_text("kept on this device")
    expect(page.locator("#banner")).to_contain_text("Using the key you entered")
    expect(page.locator("body")).not_to_contain_text("sk-test-kept-here")

    page.locator("#forget-key").click()
    expect(page.get_by_test_id("toast-text")).to_contain_text("Your key is forgotten")
    expect(page.locator("#forget-key")).to_be_hidden()
    reload(page)
    page.locator("#backend").get_by_text("Backend & API key").click()
    expect(page.locator("#key-line")).not_to_contain_text("Your key is")
    expect(page.locator("#forget-key")).to_be_hidden()


def test_a_run_still_going_updates_itself_in_history(page: Page, photo: Path):
    start_run(page, photo, "A kettle starts to whistle.")
    expect(status(page)).to_contain_text("Processing", timeout=DONE_TIMEOUT_MS)
    open_tab(page, "History")
    newest = page.locator("#history-gallery .thumbnail-item").first
    expect(newest).to_contain_text("[processing]")
    newest.click()
    expect(page.locator("#history-card")).to_contain_text("processing")
    # No Refresh: the list and the selected card change by themselves when it ends.
    expect(newest).not_to_contain_text("[processing]", timeout=DONE_TIMEOUT_MS)
    expect(newest).to_contain_text("A kettle starts")
    expect(page.locator("#history-card")).to_contain_text("completed")
    expect(page.locator("#history-video video")).to_have_count(1)
