"""Editing the storyboard in Chromium, at a desktop's and a phone's size: three shots are
made, one is picked and moved earlier (the captions' order changes, it stays picked), it is
removed, and Clear asks first; every button answers in words, never an HTTP 500."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import open_tab, says

pytestmark = pytest.mark.browser

DONE_TIMEOUT_MS = 40_000
BEATS = ("Beat one: the block slides.", "Beat two: it stops.", "Beat three: it spins.")


@pytest.fixture
def page(sized_page: Page) -> Page:
    return sized_page


def make_shot(page: Page, photo: Path, prompt: str, number: int) -> None:
    page.locator("#start-image input[type=file]").set_input_files(photo)
    page.locator("#prompt textarea").fill(prompt)
    page.locator("#generate-btn").click()
    # this run's card (a "Done" line could still be the last run's)
    expect(page.locator("#run-card")).to_contain_text(prompt, timeout=DONE_TIMEOUT_MS)
    page.locator("#add-shot").click()
    says(page, f"Added as shot {number}")


def beats_in_order(page: Page) -> list[str]:
    """Each thumbnail's place and beat, as the gallery shows them ("2 two")."""
    texts = page.locator("#storyboard-shots .thumbnail-item").all_inner_texts()
    found = [re.search(r"Shot (\d+) · .*Beat (\w+)", t) for t in texts]
    assert all(found), texts
    return [f"{m.group(1)} {m.group(2)}" for m in found if m]


def test_shots_are_reordered_removed_and_cleared_after_asking(
    page: Page, photo: Path, request: pytest.FixtureRequest
):
    for number, beat in enumerate(BEATS, start=1):
        make_shot(page, photo, beat, number)
    open_tab(page, "Storyboard")
    thumbs = page.locator("#storyboard-shots .thumbnail-item")
    expect(thumbs).to_have_count(3)
    assert beats_in_order(page) == ["1 one", "2 two", "3 three"]

    page.locator("#shot-earlier").click()
    says(page, "Pick a shot first: click its picture")

    thumbs.nth(2).click()
    expect(page.locator("#picked-shot")).to_contain_text("Picked: shot 3")
    page.locator("#shot-earlier").click()
    says(page, "Shot 3 is now shot 2.")
    expect(thumbs.nth(1)).to_contain_text("Beat three")
    assert beats_in_order(page) == ["1 one", "2 three", "3 two"]
    # the moved shot stays picked: in the note, and highlighted in the gallery
    expect(page.locator("#picked-shot")).to_contain_text("Picked: shot 2")
    expect(page.locator("#picked-shot")).to_contain_text("Beat three")
    expect(thumbs.nth(1)).to_have_class(re.compile(r"\bselected\b"))
    expect(thumbs.nth(2)).not_to_have_class(re.compile(r"\bselected\b"))
    page.screenshot(path=f"/tmp/board-{request.node.callspec.id}.png", full_page=True)

    page.locator("#shot-remove").click()
    says(page, "Shot 2 removed; the run stays in History.")
    expect(thumbs).to_have_count(2)
    assert beats_in_order(page) == ["1 one", "2 two"]
    expect(page.locator("#picked-shot")).not_to_contain_text("Picked")
    page.locator("#shot-later").click()
    says(page, "Pick a shot first")

    confirm = page.locator("#confirm-clear")
    expect(confirm).to_be_hidden()
    page.locator("#clear-board").click()
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("Clear all 2 shots? The runs stay in History.")
    page.screenshot(path=f"/tmp/board-{request.node.callspec.id}-confirm.png", full_page=True)
    page.locator("#keep-shots").click()
    says(page, "Nothing cleared: the storyboard keeps its 2 shots.")
    expect(confirm).to_be_hidden()
    expect(thumbs).to_have_count(2)

    page.locator("#clear-board").click()
    page.locator("#yes-clear").click()
    says(page, "Storyboard cleared (2 shots); the runs stay in History.")
    expect(thumbs).to_have_count(0)
    expect(confirm).to_be_hidden()
    expect(page.locator("body")).not_to_contain_text("Traceback")
