"""History for daily use, at a desktop's and a phone's size: search narrows the list as a
person types, and the chosen run's card says what it was, when, and how it ended."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

DONE_TIMEOUT_MS = 40_000


@pytest.fixture
def page(sized_page: Page) -> Page:
    return sized_page


def generate(page: Page, photo: Path, prompt: str) -> None:
    page.locator("#start-image input[type=file]").set_input_files(photo)
    page.locator("#prompt textarea").fill(prompt)
    page.locator("#generate-btn").click()
    # this run's card (a "Done" line could still be the last run's)
    expect(page.locator("#run-card")).to_contain_text(prompt, timeout=DONE_TIMEOUT_MS)
    expect(page.locator("#status .status")).to_contain_text("Done in")


def test_search_narrows_as_you_type_and_the_card_says_what_and_when(page: Page, photo: Path):
    generate(page, photo, "A lighthouse beam sweeps the fog.")
    generate(page, photo, "Waves roll onto the pebbles.")
    page.get_by_role("tab", name="History").click()
    items = page.locator("#history-gallery .thumbnail-item")
    expect(items.first).to_contain_text("Waves roll")

    page.locator("#history-search input, #history-search textarea").first.press_sequentially(
        "lighthouse", delay=20
    )  # no Enter
    expect(items.first).to_contain_text("lighthouse beam")
    expect(page.locator("#history-gallery")).not_to_contain_text("Waves roll")

    items.first.click()
    card = page.locator("#history-card")
    expect(card).to_contain_text("A lighthouse beam sweeps the fog.")
    expect(card).to_contain_text(re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC"))
    expect(card).to_contain_text("completed")
