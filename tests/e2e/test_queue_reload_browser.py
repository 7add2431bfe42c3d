"""A waiting job can be removed, and jobs still waiting when the page reloads pause and run
when asked, in a real Chromium at both sizes. Each run here takes long enough that the first
is surely still going when the page reloads, however slow the machine: with 3 s runs a busy
CI drained the queue before the reload, and nothing was left to pause."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import app_with_runs_of
from tests.e2e.test_queue_browser import DONE_TIMEOUT_MS, jobs, press_with_seed, ready, status

INFERENCE_S = 12.0  # the presses, the removal and the reload take ~2 s; under load, 4 or more


app_url = app_with_runs_of(INFERENCE_S)


@pytest.fixture
def page(sized_page: Page) -> Page:
    return sized_page


def test_a_waiting_job_can_be_removed_and_a_reload_pauses_the_rest(page: Page, photo: Path):
    ready(page, photo, "Steam rises from the cup.")
    for seed in (44, 55, 66):
        press_with_seed(page, seed)
        expect(page.locator("#queue-view")).to_contain_text(f"seed {seed}")
    jobs(page).filter(has_text="seed 55").get_by_role("button", name="Remove").click()
    expect(jobs(page).filter(has_text="seed 55")).to_contain_text("Removed before it started")
    expect(page.get_by_test_id("toast-text").last).to_contain_text("Nothing was spent on it")

    page.reload()
    page.locator("#banner .banner").wait_for()
    paused = page.locator("#queue-view .queue-paused")
    expect(paused).to_contain_text("1 queued run paused when the page went away")
    expect(jobs(page).filter(has_text="seed 66")).to_contain_text("Paused")
    paused.get_by_role("button", name="Run them now").click()
    expect(jobs(page).filter(has_text="seed 66")).to_contain_text("Done", timeout=DONE_TIMEOUT_MS)
    expect(status(page)).to_contain_text("seed 66")
