"""History for daily use, at a desktop's and a phone's size: search narrows the list as a
person types, and the chosen run's card says what it was, when, and how it ended."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import open_tab, says

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


def pick(page: Page, box: str, choice: str) -> None:
    """Choose an entry of one of History's filter dropdowns."""
    page.locator(f"{box} input").click()
    page.get_by_role("option", name=choice, exact=True).click()


def test_filter_star_note_delete_undo_and_add_to_compare(
    page: Page, photo: Path, request: pytest.FixtureRequest
):
    size = request.node.callspec.params["sized_page"]
    tag = f"shot-{size}"  # the local app lists every test's runs: this one's carry a tag
    generate(page, photo, f"A heron lifts off the reeds, {tag}.")
    generate(page, photo, f"Rain beads on a window, {tag}.")
    page.get_by_role("tab", name="History").click()
    items = page.locator("#history-gallery .thumbnail-item")
    page.locator("#history-search input, #history-search textarea").first.fill(tag)
    expect(items).to_have_count(2)

    # filter by status: none failed, both completed
    pick(page, "#history-status", "failed")
    expect(items).to_have_count(0)
    expect(page.locator("#spent")).to_contain_text("0 runs")
    pick(page, "#history-status", "completed")
    expect(items).to_have_count(2)

    # star and note the heron run: on its card and in its caption
    page.locator("#history-gallery .thumbnail-item", has_text="heron").click()
    card = page.locator("#history-card")
    expect(card).to_contain_text("A heron lifts off the reeds")
    page.locator("#star-run").click()
    says(page, "Starred run")
    expect(card).to_contain_text("★ starred")
    expect(page.locator("#star-run")).to_have_text("☆ Unstar")
    expect(items.filter(has_text="heron")).to_contain_text("★")
    page.locator("#run-note textarea").fill("The take for the trailer")
    page.locator("#save-note").click()
    says(page, "Note saved")
    expect(card).to_contain_text("The take for the trailer")
    page.locator("#history-starred input").check()
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("heron")
    page.locator("#history-starred input").uncheck()
    expect(items).to_have_count(2)
    page.screenshot(path=f"/tmp/history-{size}-starred.png", full_page=True)

    # delete it, then undo: it comes back whole, star and note too
    page.locator("#delete-run").click()
    says(page, "Undo brings it back")
    expect(page.locator("#undo-row")).to_contain_text("Run deleted")
    expect(page.locator("#undo-delete")).to_be_visible()
    expect(items).to_have_count(1)
    expect(page.locator("#history-gallery")).not_to_contain_text("heron")
    page.screenshot(path=f"/tmp/history-{size}-deleted.png", full_page=True)
    page.locator("#undo-delete").click()
    says(page, "is back in History")
    expect(items).to_have_count(2)
    expect(page.locator("#undo-delete")).to_be_hidden()
    expect(card).to_contain_text("★ starred")
    expect(card).to_contain_text("The take for the trailer")

    # add it to Compare: picked there, its label saying when, seed and prompt
    page.locator("#add-compare").click()
    says(page, "added to Compare")
    open_tab(page, "Compare")
    expect(page.locator("#compare-thumbs .thumbnail-item", has_text="✓")).to_contain_text("heron")
    page.locator("#compare-list").get_by_text("Pick from a list").click()
    picked = page.locator("#compare-picks label", has=page.locator("input:checked"))
    expect(picked).to_have_count(1)
    expect(picked).to_contain_text(re.compile(r"\d{2}-\d{2} \d{2}:\d{2}:\d{2} · seed \d+ · "))
    expect(picked).to_contain_text("A heron lifts off")
    page.screenshot(path=f"/tmp/history-{size}-compare.png", full_page=True)


def test_compare_picks_runs_by_thumbnail_and_plays_them_side_by_side(page: Page, photo: Path):
    width = page.viewport_size["width"]  # the module's runs are all listed: tell these apart
    left, right = f"Boat {width} left: it drifts.", f"Boat {width} right: it drifts."
    generate(page, photo, left)
    generate(page, photo, right)
    open_tab(page, "Compare")
    thumbs = page.locator("#compare-thumbs .thumbnail-item")
    summary = page.locator("#compare-summary")
    expect(summary).to_contain_text(re.compile("Click two to|runs? picked"))
    boat_left, boat_right = (thumbs.filter(has_text=p.split(":")[0]) for p in (left, right))
    for thumb in (boat_left, boat_right):
        expect(thumb).to_have_count(1)
        expect(thumb).not_to_contain_text("✓")

    boat_left.click()
    expect(summary).to_contain_text("1 run picked: pick one more")
    expect(boat_left).to_contain_text("✓")
    boat_right.click()
    expect(summary).to_contain_text("2 runs picked: press Compare")
    expect(boat_right).to_contain_text("✓")
    expect(boat_right).to_have_class(re.compile(r"\bpicked\b"))  # ringed, too
    boat_left.click()  # again: unpicked
    expect(summary).to_contain_text("1 run picked")
    expect(boat_left).not_to_contain_text("✓")
    expect(boat_left).not_to_have_class(re.compile(r"\bpicked\b"))
    boat_left.click()
    expect(summary).to_contain_text("2 runs picked")

    page.locator("#compare-btn").click()
    expect(page.locator("#compare-view video")).to_have_count(2)
    expect(page.locator("#compare-view")).to_contain_text(f"Boat {width} right")
    # the list shows the same two picked
    page.locator("#compare-list").get_by_text("Pick from a list").click()
    picked = page.locator("#compare-picks label", has=page.locator("input:checked"))
    expect(picked).to_have_count(2)
    page.screenshot(path=f"/tmp/compare-{width}.png", full_page=True)
