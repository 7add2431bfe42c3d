"""One run's request: validation against the model's schema, seed choice, payload, price.

The models are the bundled catalog's, whose fields follow WaveSpeed's pages
(../shared/WAVESPEED_API.md): Seedance 1.0 lite takes image, prompt, last_image, duration
2-12, six aspect ratios, camera_fixed and seed.
"""

from __future__ import annotations

import random

import pytest

from playground.model import seedance
from playground.model.seedance import (
    ASPECT_RATIOS,
    DEFAULT_MODEL,
    SEED_MAX,
    InvalidRequest,
    SeedanceRequest,
    choose_seed,
    format_price,
    format_usd,
)

IMAGE = "https://img.test/start.png"
LITE_480P = "bytedance/seedance-v1-lite-i2v-480p"
PRO_720P = "bytedance/seedance-v1-pro-i2v-720p"
TWO = "bytedance/seedance-2.0/image-to-video"
TURBO = "bytedance/seedance-2.0-fast/image-to-video-turbo"


def problems(model: str = DEFAULT_MODEL, **fields: object) -> list[str]:
    spec = seedance.catalog.snapshot().get(model)
    return seedance._checked(spec, {"image": IMAGE, **fields})[1]


def request(model: str = DEFAULT_MODEL, **fields: object) -> SeedanceRequest:
    return seedance.request(model, **{"image": IMAGE, **fields})


# --------------------------------------------------------------------------- validation


def test_a_minimal_request_is_valid() -> None:
    assert request().problems() == []


def test_a_start_image_is_required() -> None:
    assert problems(image="") == ["Image is required by Seedance 1.0 lite · 720p: set it."]


def test_prompt_of_2000_characters_is_accepted() -> None:
    assert problems(prompt="x" * 2000) == []


def test_prompt_of_2001_characters_is_refused_saying_by_how_much() -> None:
    assert problems(prompt="x" * 2001) == [
        "Prompt is 2001 characters; the limit is 2000. Shorten it by 1."
    ]


@pytest.mark.parametrize("duration", [2, 5, 12, 5.0, "5"])
def test_duration_within_two_to_twelve_seconds_is_accepted(duration: object) -> None:
    assert problems(duration=duration) == []


@pytest.mark.parametrize("duration", [1, 13, 0, -5])
def test_duration_outside_the_range_is_refused(duration: int) -> None:
    assert problems(duration=duration) == [
        f"Duration must be a whole number from 2 to 12, not {duration}."
    ]


@pytest.mark.parametrize(("duration", "shown"), [(5.5, "5.5"), (True, "True"), ("five", "'five'")])
def test_duration_must_be_a_whole_number(duration: object, shown: str) -> None:
    assert problems(duration=duration) == [
        f"Duration must be a whole number from 2 to 12, not {shown}."
    ]


def test_the_range_is_the_model_s_own() -> None:
    assert problems(TWO, prompt="go", duration=15) == []
    assert problems(TWO, prompt="go", duration=2) == [
        "Duration must be a whole number from 4 to 15, not 2."
    ]


@pytest.mark.parametrize("ratio", ASPECT_RATIOS)
def test_each_offered_aspect_ratio_is_accepted(ratio: str) -> None:
    assert problems(aspect_ratio=ratio) == []


def test_the_six_aspect_ratios_are_exactly_the_offered_ones() -> None:
    assert set(ASPECT_RATIOS) == {"21:9", "16:9", "4:3", "1:1", "3:4", "9:16"}


def test_no_aspect_ratio_means_match_the_image() -> None:
    assert problems(aspect_ratio=None) == []


def test_an_unknown_aspect_ratio_is_refused_listing_the_choices() -> None:
    assert problems(aspect_ratio="5:4") == [
        "Aspect ratio must be one of 21:9, 16:9, 4:3, 1:1, 3:4, 9:16, not '5:4'."
    ]


@pytest.mark.parametrize("seed", [-1, 0, 1, SEED_MAX])
def test_seed_random_or_in_range_is_accepted(seed: int) -> None:
    assert problems(seed=seed) == []


@pytest.mark.parametrize("seed", [SEED_MAX + 1, -2, -100])
def test_seed_out_of_range_is_refused(seed: int) -> None:
    (problem,) = problems(seed=seed)
    assert problem == f"Seed must be a whole number from -1 to 2147483647, not {seed}."


@pytest.mark.parametrize(("seed", "shown"), [(1.5, "1.5"), (True, "True"), ("x7", "'x7'")])
def test_seed_must_be_a_whole_number(seed: object, shown: str) -> None:
    assert problems(seed=seed) == [
        f"Seed must be a whole number from -1 to 2147483647, not {shown}."
    ]


def test_camera_fixed_must_be_a_boolean() -> None:
    assert problems(camera_fixed="yes") == ["Camera fixed must be true or false, not 'yes'."]


def test_a_field_the_model_lacks_is_refused_by_name() -> None:
    (problem,) = problems(TWO, prompt="go", camera_fixed=True)
    assert "Seedance 2.0 has no setting 'camera_fixed'" in problem
    assert "prompt, image, last_image, duration, aspect_ratio, generate_audio" in problem


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\ud800"])
def test_text_json_cannot_send_is_refused_where_it_is(char: str) -> None:
    (problem,) = problems(prompt=f"turn{char}")
    assert problem.startswith(f"Prompt contains a character that cannot be sent (U+{ord(char):04X}")
    assert "at position 5" in problem


def test_several_problems_are_reported_at_once() -> None:
    with pytest.raises(InvalidRequest) as info:
        request(prompt="x" * 2001, duration=13, aspect_ratio="2:1", seed=-2)
    found = info.value.problems
    assert len(found) == 4
    assert all(p in str(info.value) for p in found)


def test_invalid_request_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Duration must be a whole number from 2 to 12"):
        request(duration=1)


def test_validated_returns_a_valid_request_unchanged() -> None:
    good = request(prompt="slow push in", duration=8, aspect_ratio="16:9", seed=3)
    assert good.validated() is good


# --------------------------------------------------------------------------- seed


def test_with_seed_replaces_random_with_a_concrete_seed() -> None:
    chosen = request(seed=-1).with_seed(random.Random(5))
    assert 0 <= chosen.seed <= SEED_MAX
    assert chosen.seed == random.Random(5).randint(0, SEED_MAX)


def test_with_seed_keeps_every_other_field() -> None:
    original = request(prompt="orbit", duration=7, aspect_ratio="1:1", camera_fixed=True)
    chosen = original.with_seed(random.Random(1))
    assert {**chosen.inputs, "seed": -1} == {**original.inputs, "seed": -1}


@pytest.mark.parametrize("seed", [0, 42, SEED_MAX])
def test_with_seed_keeps_a_concrete_seed(seed: int) -> None:
    assert request(seed=seed).with_seed(random.Random(1)).seed == seed


def test_with_seed_without_rng_picks_varied_seeds_in_range() -> None:
    seeds = {request().with_seed().seed for _ in range(50)}
    assert all(0 <= s <= SEED_MAX for s in seeds)
    assert len(seeds) > 45


def test_a_model_without_a_seed_gets_none_invented() -> None:
    two = request(TWO, prompt="go")
    assert two.seed is None and two.with_seed() is two
    assert "seed" not in two.payload()


def test_choose_seed_covers_both_ends_of_the_range() -> None:
    class Edge:
        def __init__(self, pick_high: bool) -> None:
            self.pick_high = pick_high

        def randint(self, a: int, b: int) -> int:
            return b if self.pick_high else a

    assert choose_seed(Edge(False)) == 0  # type: ignore[arg-type]
    assert choose_seed(Edge(True)) == SEED_MAX  # type: ignore[arg-type]


# --------------------------------------------------------------------------- payload


def test_payload_holds_the_inputs_with_the_concrete_seed() -> None:
    full = request(
        prompt="dolly in",
        last_image="https://img.test/end.png",
        duration=8,
        aspect_ratio="9:16",
        camera_fixed=True,
        seed=1234,
    )
    assert full.payload() == {
        "image": IMAGE,
        "prompt": "dolly in",
        "last_image": "https://img.test/end.png",
        "duration": 8,
        "aspect_ratio": "9:16",
        "camera_fixed": True,
        "seed": 1234,
    }


def test_payload_leaves_out_unset_and_empty_values() -> None:
    body = request(prompt="", last_image=None, aspect_ratio=None, seed=7).payload()
    assert set(body) == {"image", "seed"}


def test_payload_never_contains_the_model() -> None:
    assert "model" not in request(PRO_720P, duration=5, seed=1).payload()


@pytest.mark.parametrize(("field", "value"), [("seed", 0), ("camera_fixed", False)])
def test_payload_keeps_falsy_but_meaningful_values(field: str, value: object) -> None:
    body = request(**{"seed": 3, field: value}).payload()
    assert body[field] == value and type(body[field]) is type(value)


def test_payload_refuses_a_random_seed() -> None:
    with pytest.raises(ValueError, match="with_seed"):
        request(seed=-1).payload()


def test_with_inputs_drops_the_quote_only_when_the_price_moves() -> None:
    quoted = seedance.replace(request(duration=5), quoted_usd=0.15)
    assert quoted.with_inputs(prompt="new words").quoted_usd == 0.15
    assert quoted.with_inputs(duration=6).quoted_usd is None


# --------------------------------------------------------------------------- price


def test_five_seconds_of_lite_720p_cost_sixteen_cents() -> None:
    assert request(duration=5).cost_usd == pytest.approx(0.16)


@pytest.mark.parametrize("duration", [2, 5, 12])
def test_lite_480p_costs_half_of_720p(duration: int) -> None:
    half = request(LITE_480P, duration=duration).cost_usd
    assert half == pytest.approx(request(duration=duration).cost_usd / 2)


@pytest.mark.parametrize("duration", [2, 5, 12])
def test_price_is_per_second(duration: int) -> None:
    assert request(duration=duration).cost_usd == pytest.approx(0.032 * duration)


def test_an_unset_duration_is_priced_at_the_model_default() -> None:
    assert request().cost_usd == pytest.approx(0.16)


def test_the_price_follows_resolution_where_the_formula_says_so() -> None:
    at_720 = request(TURBO, prompt="go", duration=5).cost_usd
    at_1080 = request(TURBO, prompt="go", duration=5, resolution="1080p").cost_usd
    assert (at_720, at_1080) == (pytest.approx(0.6), pytest.approx(1.2))


def test_a_quote_replaces_the_estimate() -> None:
    assert seedance.replace(request(duration=5), quoted_usd=0.15).cost_usd == 0.15


@pytest.mark.parametrize(
    ("usd", "quoted", "runs", "shown"),
    [
        (0.16, True, 1, "$0.160"),
        (0.16, True, 10, "$1.60"),
        (0.3, False, 1, "≈ $0.300"),
        (None, False, 1, "price unknown"),
        (None, True, 3, "price unknown"),
    ],
)
def test_format_price(usd: float | None, quoted: bool, runs: int, shown: str) -> None:
    assert format_price(usd, quoted=quoted, runs=runs) == shown


@pytest.mark.parametrize(
    ("amount", "shown"), [(0.0, "$0.000"), (0.999, "$0.999"), (12.5, "$12.50")]
)
def test_format_usd(amount: float, shown: str) -> None:
    assert format_usd(amount) == shown


def test_pro_models_require_a_duration() -> None:
    with pytest.raises(InvalidRequest, match="Duration is required"):
        seedance.request(PRO_720P, image=IMAGE)


def test_resolution_comes_from_the_input_the_default_or_the_id() -> None:
    assert request(TURBO, prompt="go", resolution="1080p").resolution == "1080p"
    assert request(TURBO, prompt="go").resolution == "720p"
    assert request(LITE_480P).resolution == "480p"
    assert request(TWO, prompt="go").resolution == "720p"
