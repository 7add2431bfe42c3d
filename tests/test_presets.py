"""The presets in presets/: valid settings, real images, documented sources, use cases covered."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from playground.model import seedance

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ROOT / "presets"
PRESET_FILES = sorted(PRESETS.glob("*.json"))
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
IMAGE_FILES = sorted(p for p in PRESETS.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)

# Every preset names its model; its other keys are that model's inputs (checked below).
REQUIRED = {"title", "model", "prompt", "image", "duration", "notes"}
OPTIONAL = {"last_image", "aspect_ratio", "camera_fixed", "seed", "resolution", "generate_audio"}
MIN_SIDE = 300  # the API's smallest accepted image side
MAX_BYTES = 600 * 1024


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def all_presets() -> dict[str, dict]:
    return {p.stem: load(p) for p in PRESET_FILES}


def referenced_images(preset: dict) -> list[str]:
    return [preset["image"], *([preset["last_image"]] if preset.get("last_image") else [])]


@pytest.fixture(params=PRESET_FILES, ids=lambda p: p.stem)
def preset(request) -> dict:
    return load(request.param)


def test_there_are_at_least_six_presets_named_to_sort():
    assert len(PRESET_FILES) >= 6
    for path in PRESET_FILES:
        assert re.fullmatch(r"\d\d-[a-z0-9]+(-[a-z0-9]+)*", path.stem), path.name


def test_keys_are_the_documented_ones(preset):
    assert preset.keys() >= REQUIRED, REQUIRED - preset.keys()
    assert preset.keys() <= REQUIRED | OPTIONAL, preset.keys() - REQUIRED - OPTIONAL


def test_texts_are_present_and_short_where_shown(preset):
    for key in ("title", "prompt", "notes"):
        assert isinstance(preset[key], str) and preset[key].strip(), key
    assert len(preset["title"]) <= 40
    assert len(preset["prompt"]) <= seedance.PROMPT_MAX_CHARS


def test_settings_are_a_valid_seedance_request(preset):
    inputs = {k: v for k, v in preset.items() if k not in ("title", "notes", "model", "image")}
    inputs |= {"image": "x", "last_image": "y" if preset.get("last_image") else None}
    request = seedance.request(preset["model"], **inputs)
    assert request.problems() == []
    # The checks above are the model's; these are the preset format's, stated outright.
    assert type(preset["duration"]) is int
    assert preset.get("aspect_ratio") is None or preset["aspect_ratio"] in seedance.ASPECT_RATIOS
    assert type(preset.get("camera_fixed", False)) is bool
    seed = preset.get("seed", seedance.RANDOM_SEED)
    assert type(seed) is int and (seed == seedance.RANDOM_SEED or 0 <= seed <= seedance.SEED_MAX)


def test_presets_cover_the_2x_family_and_sound():
    written_for = {p["model"]: p for p in all_presets().values()}
    two = [m for m in written_for if seedance.catalog.snapshot().get(m).family == "Seedance 2.x"]
    assert len(two) >= 2
    assert any(written_for[m].get("generate_audio") for m in two)


def test_referenced_images_exist_open_and_are_big_enough(preset):
    for name in referenced_images(preset):
        assert Path(name).name == name, f"{name!r} must be a file name in presets/, not a path"
        path = PRESETS / name
        assert path.is_file(), name
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            width, height = image.size
        assert width >= MIN_SIDE and height >= MIN_SIDE, (name, image.size)


def test_start_and_end_frames_share_a_shape():
    for name, preset in all_presets().items():
        if not preset.get("last_image"):
            continue
        with (
            Image.open(PRESETS / preset["image"]) as a,
            Image.open(PRESETS / preset["last_image"]) as b,
        ):
            assert a.size == b.size, name


def test_every_image_is_small_used_and_documented():
    sources = (PRESETS / "SOURCES.md").read_text(encoding="utf-8")
    used = {name for p in all_presets().values() for name in referenced_images(p)}
    assert IMAGE_FILES
    for path in IMAGE_FILES:
        assert f"`{path.name}`" in sources, f"{path.name} is not listed in SOURCES.md"
        assert path.name in used, f"{path.name} is used by no preset"
        assert path.stat().st_size <= MAX_BYTES, (path.name, path.stat().st_size)


def test_the_six_use_cases_are_covered():
    presets = all_presets().values()

    def prompt_has(preset: dict, *words: str) -> bool:
        return any(re.search(rf"\b{w}", preset["prompt"], re.IGNORECASE) for w in words)

    # (1) character animation from one keyframe: a person or animal, start image only
    assert any(
        not p.get("last_image") and prompt_has(p, "astronaut", "man", "woman", "cat", "dog")
        for p in presets
    )
    # (2) a short story beat: several actions in sequence
    assert any(prompt_has(p, "then") for p in presets)
    # (3) a product shot with the camera locked
    assert any(p["camera_fixed"] and prompt_has(p, "product") for p in presets)
    # (4) a start-to-end shot
    assert any(p.get("last_image") for p in presets)
    # (5) environment motion
    assert any(
        prompt_has(p, "snow", "fog", "mist", "rain", "smoke", "steam", "dust", "particle")
        for p in presets
    )
    # (6) a camera move, with the camera free to move
    assert any(
        not p["camera_fixed"]
        and prompt_has(p, "push", "pull", "orbit", "dolly", "track", "follow", "crane", "pan")
        for p in presets
    )
