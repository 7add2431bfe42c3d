"""Every action answers in words, at a desktop's and a phone's size: on success what
happened, on failure what is wrong and what to do, never a bare "Error" badge or an
HTTP 500; the status line tells the truth after a refusal and after Cancel."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import app_with_runs_of, open_tab, says

DONE_TIMEOUT_MS = 40_000


app_url = app_with_runs_of(3.0)


@pytest.fixture
def page(sized_page: Page) -> Page:
    return sized_page


def toast(page: Page):
    return page.get_by_test_id("toast-text").last


def status(page: Page):
    return page.locator("#status .status")


def test_actions_with_nothing_to_act_on_say_what_to_do(page: Page):
    page.locator("#reuse-seed").click()
    # a heading of its own (Gradio heads a toast only with its kind), then the sentence
    expect(toast(page).locator("strong")).to_have_text("Nothing to show")
    says(page, "Nothing to reuse yet: generate a video first")
    page.locator("#continue").click()
    says(page, "Generate a video first")
    page.locator("#add-shot").click()
    says(page, "Generate a video first")
    page.locator("#last-seed").click()
    says(page, "No seed yet")
    page.locator("#cancel-btn").click()
    says(page, "Nothing was running on this page")
    page.locator("#backend").get_by_text("Backend & API key").click()
    page.locator("#save-key").click()
    says(page, "Paste a WaveSpeed API key first")

    open_tab(page, "History")
    page.get_by_role("button", name=re.compile("Load")).first.click()
    says(page, "Choose a run in History first")

    open_tab(page, "Storyboard")
    page.get_by_role("button", name="Clear storyboard").click()
    says(page, "already empty")

    open_tab(page, "Compare")
    page.locator("#compare-btn").click()
    expect(toast(page)).to_contain_text(re.compile(r"\w+ \w+ \w+"))  # a sentence, not "Error"
    expect(page.locator("body")).not_to_contain_text("Traceback")


def test_a_refused_run_says_not_started_and_why(page: Page):
    page.locator("#prompt textarea").fill("The camera pushes in slowly.")
    page.locator("#generate-btn").click()
    says(page, "Add a start image first")
    expect(status(page)).to_contain_text("Not started · Add a start image first")
    expect(status(page)).to_have_class(re.compile(r"\berror\b"))


def test_after_a_run_each_action_says_what_it_did(page: Page, photo: Path):
    page.locator("#start-image input[type=file]").set_input_files(photo)
    page.locator("#prompt textarea").fill("The red block slides right.")
    page.locator("#generate-btn").click()
    expect(status(page)).to_contain_text("Done in", timeout=DONE_TIMEOUT_MS)
    seed = page.locator("#run-card dd code").first.inner_text()

    page.locator("#reuse-seed").click()
    says(page, f"Seed {seed} is in the form")
    expect(page.locator("#seed input")).to_have_value(seed)
    page.locator("#add-shot").click()
    says(page, "Added as shot 1")
    page.locator("#reuse-all").click()
    says(page, "model and settings are in the form")


def test_cancel_during_a_run_says_it_goes_on_in_the_background(page: Page, photo: Path):
    page.locator("#start-image input[type=file]").set_input_files(photo)
    page.locator("#prompt textarea").fill("Steam rises from the cup.")
    page.locator("#generate-btn").click()
    expect(status(page)).to_contain_text("Processing", timeout=DONE_TIMEOUT_MS)
    page.locator("#cancel-btn").click()
    says(page, "Stopped waiting for task", "in History when it finishes")
    expect(status(page)).to_have_class(re.compile(r"\bwarn\b"))
    expect(status(page)).to_contain_text("Stopped waiting")
