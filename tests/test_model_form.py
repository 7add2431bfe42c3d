"""The form follows the model's schema: which widgets show, their ranges, what carries over.

Specs are built here from schema fragments in WaveSpeed's documented shape, so each test
says which schema property drives which widget.
"""

from __future__ import annotations

import pytest

from playground.errors import InvalidRequest
from playground.model import catalog
from playground.model.form import Form
from playground.ui import modelform

LITE = "bytedance/seedance-v1-lite-i2v-720p"
TWO = "bytedance/seedance-2.0/image-to-video"
TURBO = "bytedance/seedance-2.0-fast/image-to-video-turbo"
KLING = "kwaivgi/kling-v2.1-i2v-standard"
HAILUO = "minimax/hailuo-02/standard"


@pytest.fixture
def models() -> catalog.Catalog:
    return catalog.snapshot()


def spec_of(properties: dict, required: tuple[str, ...] = ()) -> catalog.ModelSpec:
    return catalog.parse_model(
        {
            "model_id": "acme/video/i2v",
            "name": "Acme",
            "type": "image-to-video",
            "api_schema": {
                "api_schemas": [
                    {
                        "type": "model_run",
                        "request_schema": {"properties": properties, "required": list(required)},
                    }
                ]
            },
        }
    )


def test_each_type_gets_its_widget_in_schema_order() -> None:
    spec = spec_of(
        {
            "image": {"type": "string", "x-ui-component": "uploader"},
            "style": {"type": "string", "enum": ["anime", "film"], "description": "Look."},
            "loop": {"type": "boolean"},
            "cfg": {"type": "number", "minimum": 0, "maximum": 10},
            "steps": {"type": "integer"},
            "negative_prompt": {"type": "string"},
            "secret_knob": {"type": "string", "x-hidden": True},
            "extra": {"type": "string"},
        }
    )
    placed = modelform.extra_fields(spec)
    assert [f.name for f in placed] == ["style", "loop", "cfg", "steps"]  # 4 slots
    assert [modelform.slot_kind(f) for f in placed] == ["choice", "flag", "slider", "number"]
    # The fifth field has no slot: the note says how to set it; hidden ones are never named.
    assert [f.name for f in modelform.unplaced(spec)] == ["negative_prompt", "extra"]
    note = modelform.model_note(spec, None, [])
    assert "negative_prompt" in note and "secret_knob" not in note


def test_slot_updates_show_one_widget_per_field_with_its_range_and_help() -> None:
    spec = spec_of(
        {
            "style": {"type": "string", "enum": ["anime", "film"], "description": "Look."},
            "cfg": {"type": "number", "minimum": 0, "maximum": 10, "step": 0.5},
        }
    )
    updates = modelform.slot_updates(spec, {"style": "film"})
    by_name = dict(zip(modelform.EXTRA_FIELDS, updates, strict=True))
    choice, slider = by_name["extra0_choice"], by_name["extra1_slider"]
    assert choice.visible and choice.value == "film" and choice.info == "Look."
    assert [c[1] for c in choice.choices] == ["anime", "film"]
    assert slider.visible and (slider.minimum, slider.maximum, slider.step) == (0, 10, 0.5)
    visible = [name for name, u in by_name.items() if u.visible]
    assert visible == ["extra0_choice", "extra1_slider"]


def test_switching_to_2_0_keeps_what_fits_and_names_what_changed(models) -> None:
    lite, two = models.get(LITE), models.get(TWO)
    values = {
        "prompt": "She smiles",
        "duration": 2,
        "aspect_ratio": "16:9",
        "camera_fixed": True,
        "seed": 42,
    }
    kept, changed = modelform.carried(two, values, lite)
    assert kept["prompt"] == "She smiles" and kept["aspect_ratio"] == "16:9"
    assert kept["duration"] == 4  # clamped into 2.0's 4-15
    assert kept["generate_audio"] is True  # new to this model: its default
    said = "; ".join(changed)
    assert "Duration 2 → 4 (Seedance 2.0 takes a whole number from 4 to 15)" in said
    assert "camera fixed, seed: not offered by Seedance 2.0, so not sent" in said


def test_a_value_that_fits_is_not_reported_and_defaults_are_not_dropped_news(models) -> None:
    two, turbo = models.get(TWO), models.get(TURBO)
    kept, changed = modelform.carried(turbo, {"duration": 8, "generate_audio": True}, two)
    assert kept["duration"] == 8 and kept["resolution"] == "720p"
    assert changed == ["generate audio: not offered by Seedance 2.0 fast turbo, so not sent"]
    _, quiet = modelform.carried(turbo, {"duration": 8, "generate_audio": False}, two)
    assert quiet == []  # an unset flag is not news


def test_a_numeric_choice_takes_the_nearest_value(models) -> None:
    kling = models.get(KLING)
    kept, changed = modelform.carried(kling, {"duration": 12}, models.get(LITE))
    assert kept["duration"] == 10 and changed


def test_the_prompt_is_never_replaced_even_when_too_long(models) -> None:
    long = "x" * 2500
    kept, _ = modelform.carried(models.get(TWO), {"prompt": long}, models.get(LITE))
    assert kept["prompt"] == long


def test_crafted_widgets_follow_the_schema(models) -> None:
    two = modelform.crafted_updates(models.get(TWO), {"duration": 6})
    assert not two["camera_fixed"].visible and not two["seed_row"].visible
    assert two["generate_audio"].visible and not two["resolution"].visible
    assert (two["duration"].minimum, two["duration"].maximum) == (4, 15)
    assert two["prompt"].label == "Motion prompt (required)"
    lite = modelform.crafted_updates(models.get(LITE), {})
    assert lite["camera_fixed"].visible and lite["seed_row"].visible
    assert not lite["generate_audio"].visible and lite["end_box"].visible
    turbo = modelform.crafted_updates(models.get(TURBO), {})
    assert turbo["resolution"].visible and turbo["resolution"].value == "720p"
    kling = modelform.crafted_updates(models.get(KLING), {"duration": 5})
    assert (kling["duration"].minimum, kling["duration"].maximum, kling["duration"].step) == (
        5,
        10,
        5,
    )
    assert not kling["end_box"].visible  # Kling takes no last_image


def test_the_note_says_retiring_and_no_seed(models) -> None:
    lite = models.get(LITE)
    note = modelform.model_note(lite, models.successor(lite), [])
    assert "Retiring" in note and "Seedance 2.0" in note
    assert "seed: not supported by this model" in modelform.model_note(models.get(TWO), None, [])


def test_the_picker_groups_by_family_with_a_price_per_second(models) -> None:
    choices = modelform.picker_choices(models, everything=False)
    labels = [label for label, _ in choices]
    assert labels[0].startswith("Seedance 2.5 ·")  # 2.x first
    retiring = [label.endswith("· retiring") for label in labels]
    assert retiring == sorted(retiring) and any(retiring)  # the retiring ones last
    lite = next(label for label, value in choices if value == LITE)
    assert lite == "Seedance 1.0 lite · 720p · ≈ $0.032/s · retiring"
    assert next(label for label, v in choices if v.endswith("2.5/image-to-video")).endswith(
        "price unknown"
    )
    assert KLING in {v for _, v in modelform.picker_choices(models, everything=True)}
    assert KLING not in {v for _, v in choices}


def test_the_api_may_not_set_what_a_model_lacks(models) -> None:
    form = Form.of(TWO, image="a.png", prompt="go", camera_fixed=True, seed=7)
    with pytest.raises(InvalidRequest) as refused:
        form.request(models, LITE)
    text = str(refused.value)
    assert "has no 'camera_fixed' setting" in text and "leave it false" in text
    assert "has no 'seed' setting" in text
    # Left at their defaults they are simply not sent.
    ok = Form.of(TWO, image="a.png", prompt="go", camera_fixed=False, seed=-1).request(models, LITE)
    assert "camera_fixed" not in ok.payload() and "seed" not in ok.payload()


def test_an_unknown_or_text_model_is_refused_by_name(models) -> None:
    with pytest.raises(InvalidRequest, match="is not offered here"):
        Form.of("bytedance/seedance-v9", image="a.png").request(models, LITE)
    with pytest.raises(InvalidRequest, match="makes video from text"):
        Form.of("bytedance/seedance-v1-lite-t2v-720p", image="a.png").request(models, LITE)


def test_a_list_of_images_gets_the_multi_image_upload(models) -> None:
    hailuo = models.get(HAILUO)
    assert modelform.images_field(hailuo).name == "reference_images"
    shown = modelform.images_update(hailuo)
    assert shown.visible and shown.label == "Reference images, up to 3"
    assert not modelform.images_update(models.get(TWO)).visible
    # an extra single image (Hailuo's end_image) goes through the API's options
    assert [f.name for f in modelform.unplaced(hailuo)] == ["end_image"]


def test_the_page_s_unset_values_are_kept_silently(models) -> None:
    kept, changed = modelform.carried(
        models.get(LITE), {"aspect_ratio": "auto", "seed": -1}, models.get(TWO)
    )
    assert kept["aspect_ratio"] == "auto" and kept["seed"] == -1 and changed == []


def test_a_slider_s_float_is_said_as_the_whole_number_it_is(models) -> None:
    _, changed = modelform.carried(models.get(TWO), {"duration": 2.0}, models.get(LITE))
    assert changed[0].startswith("Duration 2 → 4 ")


def test_the_note_says_which_catalog_is_in_use(models) -> None:
    note = modelform.model_note(models.get(TWO), None, [], "bundled snapshot (as of 2026-11)")
    assert "Models: bundled snapshot (as of 2026-11)." in note
