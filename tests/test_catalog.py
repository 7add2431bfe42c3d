"""The catalog as WaveSpeed serves it (GET /api/v3/models), read into model specs.

Fixtures are written in the two documented shapes of `api_schema` (../shared/WAVESPEED_API.md):
`api_schemas[]` with a `model_run` entry (WaveSpeed's MCP server and CLI) and OpenAPI's
`components.schemas.Request` (WaveSpeed Desktop), not copied from the bundled snapshot.
"""

from __future__ import annotations

import copy

import pytest

from playground.errors import InvalidRequest
from playground.model import catalog, seedance
from playground.model.catalog import parse, parse_model, request_schema

SCHEMA = {
    "type": "object",
    "properties": {
        "image": {"type": "string", "x-ui-component": "uploader", "description": "Start."},
        "prompt": {"type": "string", "maxLength": 50},
        "duration": {"type": "integer", "default": 5, "minimum": 4, "maximum": 15},
        "resolution": {"type": "string", "enum": ["720p", "1080p"], "default": "720p"},
        "generate_audio": {"type": "boolean", "default": True},
        "guidance": {"type": "number", "minimum": 0, "maximum": 1},
        "refs": {
            "type": "array",
            "items": {"type": "string"},
            "maxItems": 2,
            "x-ui-component": "uploaders",
        },
        "enable_sync_mode": {"type": "boolean", "x-hidden": True},
    },
    "required": ["image", "prompt"],
    "x-order-properties": ["prompt", "image", "duration", "resolution"],
}


def entry(shape: str = "api_schemas", **overrides):
    schema = copy.deepcopy(SCHEMA)
    if shape == "api_schemas":
        api_schema = {
            "api_schemas": [
                {"type": "model_status", "request_schema": {"properties": {"x": {}}}},
                {"type": "model_run", "method": "POST", "request_schema": schema},
            ]
        }
    else:
        api_schema = {"openapi": "3.0.0", "components": {"schemas": {"Request": schema}}}
    return {
        "model_id": "bytedance/seedance-2.0/image-to-video",
        "name": "Seedance 2.0",
        "description": "Cinematic motion.",
        "type": "image-to-video",
        "base_price": 1.2,
        "formula": '{"total_price": base_price * duration / 5 * (resolution = "1080p" ? 2 : 1)}',
        "sort_order": 3,
        "api_schema": api_schema,
        **overrides,
    }


@pytest.mark.parametrize("shape", ["api_schemas", "openapi"])
def test_both_documented_shapes_read_the_same_fields_in_order(shape: str) -> None:
    spec = parse_model(entry(shape))
    names = [f.name for f in spec.fields]
    # x-order-properties first, then the rest as the schema lists them
    assert names[:4] == ["prompt", "image", "duration", "resolution"]
    assert set(names) == set(SCHEMA["properties"])
    assert spec.field("image").kind == "image" and spec.field("image").required
    assert spec.field("refs").kind == "images" and spec.field("refs").max_items == 2
    assert spec.field("resolution").choices == ("720p", "1080p")
    assert spec.field("enable_sync_mode").hidden
    assert "enable_sync_mode" not in [f.name for f in spec.shown]


def test_an_entry_without_a_run_schema_has_no_fields_but_is_kept() -> None:
    spec = parse_model(entry(api_schema={"api_schemas": [{"type": "model_status"}]}))
    assert spec.fields == () and spec.id == "bytedance/seedance-2.0/image-to-video"
    assert request_schema(None) == {} and request_schema({"components": "x"}) == {}


@pytest.mark.parametrize(
    "model_id", ["../x", "a/../b", "owner", "owner/name/", "", None, 7, "a/b?c", "a/b c"]
)
def test_entries_with_unsafe_or_odd_ids_are_skipped_and_the_rest_kept(model_id) -> None:
    models = parse([entry(model_id=model_id), entry(model_id="kwaivgi/kling-v2"), "junk", None])
    assert list(models.models) == ["kwaivgi/kling-v2"]


def test_odd_field_types_from_the_network_do_not_break_parsing() -> None:
    odd = entry(base_price="1.2", formula=7, sort_order="first", name=None)
    odd["api_schema"]["api_schemas"][1]["request_schema"]["properties"]["x"] = "not a dict"
    odd["api_schema"]["api_schemas"][1]["request_schema"]["required"] = "image"
    spec = parse_model(odd)
    assert spec.base_price is None and spec.formula is None and spec.sort_order == 0
    assert spec.name == spec.id and not spec.has("x")
    assert not spec.field("image").required  # "required" was not a list
    assert parse({"data": []}).models == {}


def test_validation_names_each_field_and_what_it_takes() -> None:
    spec = parse_model(entry())
    clean, problems = spec.problems(
        {
            "image": "a.png",
            "prompt": "x" * 60,
            "duration": 20,
            "resolution": "4k",
            "generate_audio": "yes",
            "guidance": "abc",
            "refs": ["a", "b", "c"],
            "camera_fixed": True,
        }
    )
    text = " | ".join(problems)
    assert "no setting 'camera_fixed'" in text
    assert "Prompt is 60 characters; the limit is 50" in text
    assert "Duration must be a whole number from 4 to 15, not 20." in text
    assert "Resolution must be one of 720p, 1080p, not '4k'." in text
    assert "Generate audio must be true or false" in text
    assert "Guidance must be a number from 0 to 1, not 'abc'." in text
    assert "Refs takes at most 2 images, not 3." in text
    assert clean == {"image": "a.png"}


def test_values_are_coerced_as_the_api_takes_them() -> None:
    spec = parse_model(entry())
    clean, problems = spec.problems({"image": "a.png", "prompt": "go", "duration": "6.0"})
    assert problems == [] and clean["duration"] == 6 and isinstance(clean["duration"], int)
    _, missing = spec.problems({"image": "a.png"})
    assert missing == ["Prompt is required by Seedance 2.0: set it."]


def test_an_enum_of_numbers_accepts_them_as_numbers_or_text() -> None:
    spec = parse_model(entry())
    durations = catalog.FieldSpec("duration", "choice", choices=(5, 10))
    assert durations.coerce("10") == (10, None)
    assert durations.coerce(7)[1] == "Duration must be one of 5, 10, not 7."
    assert spec.field("resolution").coerce("1080p") == ("1080p", None)


def test_the_formula_estimates_with_defaults_filled_and_reads_its_drivers() -> None:
    spec = parse_model(entry())
    assert spec.price_drivers == ("duration", "resolution")
    assert spec.estimate({}) == pytest.approx(1.2)  # 5 s at 720p: the defaults
    assert spec.estimate({"duration": 10, "resolution": "1080p"}) == pytest.approx(4.8)
    assert spec.estimate({"duration": 10, "prompt": "any words"}) == pytest.approx(2.4)


@pytest.mark.parametrize(
    "formula",
    [
        '{"total_price": get_duration_v3(audio) * base_price}',
        "{",
        '"cheap"',
        '{"total_price": -1}',
        '{"total_price": 1/0}',
    ],
)
def test_a_formula_that_cannot_be_evaluated_here_means_unknown(formula: str) -> None:
    assert parse_model(entry(formula=formula)).estimate({"duration": 5}) is None


def test_no_formula_is_the_base_price_and_no_base_price_is_unknown() -> None:
    assert parse_model(entry(formula=None)).estimate({"duration": 10}) == pytest.approx(1.2)
    assert parse_model(entry(base_price=None)).estimate({"duration": 10}) is None


def test_a_runaway_formula_is_stopped() -> None:
    loop = '{"total_price": ($f := function($n){ $f($n + 1) }; $f(0))}'
    assert parse_model(entry(formula=loop)).estimate({}) is None


def test_families_order_the_picker_seedance_first() -> None:
    models = catalog.snapshot()
    listed = models.image_to_video()
    families = [m.family for m in listed]
    assert families == sorted(
        families, key=["Seedance 2.x", "Seedance 1.5", "Seedance 1.0 · retiring"].index
    )
    assert all(m.is_seedance and m.type == "image-to-video" for m in listed)
    everything = models.image_to_video(everything=True)
    assert everything[: len(listed)] == listed
    others = everything[len(listed) :]
    assert others and all(m.family == "Other models" for m in others)
    assert "bytedance/seedance-v1-lite-t2v-720p" not in {m.id for m in everything}


def test_a_retiring_model_names_the_successor_its_page_recommends() -> None:
    models = catalog.snapshot()
    old = models.get("bytedance/seedance-v1-lite-i2v-720p")
    assert old.retiring and old.family == "Seedance 1.0 · retiring"
    assert models.successor(old).id == "bytedance/seedance-2.0/image-to-video"
    assert models.successor(models.get("bytedance/seedance-2.0/image-to-video")) is None


def test_the_snapshot_documents_the_family_with_its_prices() -> None:
    models = catalog.snapshot()
    assert models.source == "snapshot" and "as of" in models.note
    ids = {m.id for m in models.image_to_video()}
    for expected in (
        "bytedance/seedance-v1-lite-i2v-480p",
        "bytedance/seedance-v1-pro-i2v-1080p",
        "bytedance/seedance-v1-pro-fast/image-to-video",
        "bytedance/seedance-v1.5-pro/image-to-video",
        "bytedance/seedance-2.0/image-to-video",
        "bytedance/seedance-2.0-fast/image-to-video",
        "bytedance/seedance-2.0-fast/image-to-video-turbo",
        "bytedance/seedance-2.0-mini/image-to-video",
        "bytedance/seedance-2.5/image-to-video",
    ):
        assert expected in ids
    lite = models.get(seedance.DEFAULT_MODEL)
    assert lite.estimate({"duration": 5}) == pytest.approx(0.16)  # the contract's price
    assert models.get("bytedance/seedance-v1-lite-i2v-480p").estimate({}) == pytest.approx(0.08)
    assert models.get("bytedance/seedance-2.0/image-to-video").estimate({}) == pytest.approx(1.2)
    assert models.get("bytedance/seedance-2.5/image-to-video").estimate({}) is None
    two = models.get("bytedance/seedance-2.0/image-to-video")
    assert not two.has("camera_fixed") and not two.has("seed") and two.has("generate_audio")


def test_requests_for_a_model_send_only_its_fields_with_a_concrete_seed() -> None:
    lite = seedance.request(image="a.png", prompt="go", duration=3).with_seed()
    assert set(lite.payload()) == {"image", "prompt", "duration", "seed"}
    two = seedance.request("bytedance/seedance-2.0/image-to-video", image="a.png", prompt="go")
    assert two.seed is None and two.with_seed() is two and "seed" not in two.payload()
    with pytest.raises(InvalidRequest, match="takes no seed"):
        seedance.variations(two, 3)
