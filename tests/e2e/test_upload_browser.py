"""An image is checked as it is dropped, at a desktop's and a phone's size: the note under
it says what is wrong and what to do, and a file that is no image leaves the box."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect


@pytest.fixture
def page(sized_page: Page) -> Page:
    return sized_page


def drop(page: Page, path: Path) -> None:
    page.locator("#start-image input[type=file]").set_input_files(path)


def test_a_file_that_is_no_image_is_taken_out_with_a_reason(page: Page, tmp_path: Path):
    fake = tmp_path / "holiday.png"
    fake.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n")
    drop(page, fake)
    note = page.locator("#start-image-note")
    expect(note).to_contain_text("taken out of the start image box")
    expect(note).to_contain_text("PDF")
    expect(page.locator("#start-image img")).to_have_count(0)  # no broken picture stays
    expect(page.locator("body")).not_to_contain_text("Error")


def test_a_small_image_points_to_the_enlarge_option(page: Page, tmp_path: Path):
    small = tmp_path / "small.png"
    Image.new("RGB", (200, 250), (90, 140, 200)).save(small)
    drop(page, small)
    note = page.locator("#start-image-note")
    expect(note).to_contain_text("200×250 px")
    expect(note).to_contain_text("Enlarge images under 300×300 px")
    expect(page.locator("#start-image img")).to_be_visible()  # kept: the box makes it usable

    page.locator("#image-more").get_by_text("Image URLs & small images").click()
    page.locator("#upscale input").check()
    expect(note).to_contain_text("will be enlarged")


def test_a_good_image_has_no_note_and_replaces_a_bad_ones(page: Page, photo: Path, tmp_path: Path):
    fake = tmp_path / "notes.png"
    fake.write_text("just words\n" * 30)
    drop(page, fake)
    expect(page.locator("#start-image-note")).to_contain_text("taken out")
    drop(page, photo)
    expect(page.locator("#start-image img")).to_be_visible()
    expect(page.locator("#start-image-note")).to_have_text("")
