"""The queue in a real Chromium, at a desktop's and a phone's size: Generate pressed three
times runs three jobs in order, each listed with its own price and state; a variation's
tile opens its run in the result area. Removing a waiting job and a reload pausing the
rest: test_queue_reload_browser.py. Unit tests: tests/test_queue.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import app_with_runs_of

INFERENCE_S = 5.0  # long enough to press Generate twice more while the first goes on
DONE_TIMEOUT_MS = 60_000


app_url = app_with_runs_of(INFERENCE_S)


@pytest.fixture
def page(sized_page: Page) -> Page:
    return sized_page


def status(page: Page):
    return page.locator("#status .status")


def jobs(page: Page):
    return page.locator("#queue-view li.job")


def ready(page: Page, photo: Path, prompt: str) -> None:
    page.locator("#start-image input[type=file]").set_input_files(photo)
    expect(page.locator("#start-image img")).to_be_visible()
    page.locator("#prompt textarea").fill(prompt)


def press_with_seed(page: Page, seed: int) -> None:
    box = page.locator("#seed input[type=number]")
    box.fill(str(seed))
    box.press("Enter")
    page.locator("#generate-btn").click()


def test_three_presses_queue_and_run_in_order(page: Page, photo: Path):
    ready(page, photo, "The red block slides right; slow push-in.")
    for seed in (11, 22, 33):
        press_with_seed(page, seed)
        expect(page.locator("#queue-view")).to_contain_text(f"seed {seed}")
    # Newest first: the third waits behind two, the second behind one, the first runs.
    expect(jobs(page).nth(0)).to_contain_text("Queued · 2 ahead")
    expect(jobs(page).nth(1)).to_contain_text("Queued · 1 ahead")
    expect(jobs(page).nth(2)).to_contain_text("Running")
    expect(jobs(page).nth(0)).to_contain_text("free · would cost")  # offline: its own price
    page.screenshot(path=f"/tmp/queue-{page.viewport_size['width']}.png", full_page=False)
    expect(jobs(page).filter(has_text="Done")).to_have_count(3, timeout=DONE_TIMEOUT_MS)
    expect(status(page)).to_contain_text("seed 33")  # the last pressed is on show, last
    # A finished job opens again in the result area.
    jobs(page).nth(2).get_by_role("button", name="Open").click()
    expect(status(page)).to_contain_text("seed 11")
    expect(page.locator("#run-card")).to_contain_text("11")
    expect(page.locator("body")).not_to_contain_text("Traceback")


def test_a_variation_tile_opens_its_run(page: Page, photo: Path):
    ready(page, photo, "A paper boat drifts left.")
    page.locator("#variations").get_by_text("Variations").first.click()
    how_many = page.locator("#var-count input[type=number]")
    how_many.fill("2")
    how_many.press("Enter")
    page.locator("#batch-btn").click()
    view = page.locator("#variations-view")
    expect(view.locator("video")).to_have_count(2, timeout=DONE_TIMEOUT_MS)
    second = view.locator("figure").nth(1)
    seed = re.search(r"seed (\d+)", second.locator("figcaption").inner_text()).group(1)
    second.get_by_role("button", name="Open").click()
    expect(status(page)).to_contain_text(f"seed {seed}")
    expect(page.locator("#result-video video")).to_have_count(1)
    expect(page.locator("#run-card")).to_contain_text(seed)
    expect(view.locator("figure")).to_have_count(2)  # the grid stays for the next tile
