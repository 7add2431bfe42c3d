"""The Seedance model: validation messages, seed choice, payload and price."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from playground.model.seedance import (
    ASPECT_RATIOS,
    DEFAULT_MODEL,
    MODEL_ID,
    MODELS,
    SEED_MAX,
    InvalidRequest,
    SeedanceRequest,
    choose_seed,
    format_price,
    format_usd,
    price_usd,
)

IMAGE = "https://img.test/start.png"
LITE_480P = "bytedance/seedance-v1-lite-i2v-480p"
PRO_720P = "bytedance/seedance-v1-pro-i2v-720p"


def request(**fields: object) -> SeedanceRequest:
    return replace(SeedanceRequest(image=IMAGE), **fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- validation


def test_a_minimal_request_is_valid() -> None:
    assert SeedanceRequest(image=IMAGE).problems() == []


def test_a_start_image_is_required() -> None:
    assert request(image="").problems() == ["A start image is required: upload one."]


def test_prompt_of_2000_characters_is_accepted() -> None:
    assert request(prompt="x" * 2000).problems() == []


def test_prompt_of_2001_characters_is_refused_saying_by_how_much() -> None:
    assert request(prompt="x" * 2001).problems() == [
        "The prompt is 2001 characters; the limit is 2000. Shorten it by 1."
    ]


@pytest.mark.parametrize("duration", [2, 5, 12])
def test_duration_within_two_to_twelve_seconds_is_accepted(duration: int) -> None:
    assert request(duration=duration).problems() == []


@pytest.mark.parametrize("duration", [1, 13, 0, -5])
def test_duration_outside_the_range_is_refused(duration: int) -> None:
    assert request(duration=duration).problems() == [
        f"Duration must be 2 to 12 seconds, not {duration}."
    ]


@pytest.mark.parametrize(("duration", "shown"), [(5.0, "5.0"), (True, "True"), ("5", "'5'")])
def test_duration_must_be_a_whole_number(duration: object, shown: str) -> None:
    assert request(duration=duration).problems() == [
        f"Duration must be a whole number of seconds, not {shown}."
    ]


@pytest.mark.parametrize("ratio", ["21:9", "16:9", "4:3", "1:1", "3:4", "9:16"])
def test_each_offered_aspect_ratio_is_accepted(ratio: str) -> None:
    assert request(aspect_ratio=ratio).problems() == []


def test_the_six_aspect_ratios_are_exactly_the_offered_ones() -> None:
    assert set(ASPECT_RATIOS) == {"21:9", "16:9", "4:3", "1:1", "3:4", "9:16"}


def test_no_aspect_ratio_means_match_the_image() -> None:
    assert request(aspect_ratio=None).problems() == []


def test_an_unknown_aspect_ratio_is_refused_listing_the_choices() -> None:
    assert request(aspect_ratio="5:4").problems() == [
        "Aspect ratio '5:4' is not offered; choose one of 21:9, 16:9, 4:3, 1:1, 3:4, 9:16, "
        "or leave it unset to match the image."
    ]


@pytest.mark.parametrize("seed", [-1, 0, 1, SEED_MAX])
def test_seed_random_or_in_range_is_accepted(seed: int) -> None:
    assert request(seed=seed).problems() == []


@pytest.mark.parametrize("seed", [SEED_MAX + 1, -2, -100])
def test_seed_out_of_range_is_refused(seed: int) -> None:
    assert request(seed=seed).problems() == [
        f"Seed must be -1 (random) or 0 to 2147483647, not {seed}."
    ]


@pytest.mark.parametrize(("seed", "shown"), [(1.5, "1.5"), (True, "True"), ("7", "'7'")])
def test_seed_must_be_a_whole_number(seed: object, shown: str) -> None:
    assert request(seed=seed).problems() == [f"Seed must be a whole number, not {shown}."]


def test_camera_fixed_must_be_a_boolean() -> None:
    assert request(camera_fixed="yes").problems() == ["camera_fixed must be true or false."]


@pytest.mark.parametrize(
    "model",
    [
        DEFAULT_MODEL,
        LITE_480P,
        PRO_720P,
        "bytedance/seedance-v1.5-pro-i2v",
        "wavespeed-ai/wan-2.1/i2v-720p",
    ],
)
def test_model_ids_of_the_form_owner_name_are_accepted(model: str) -> None:
    assert request(model=model).problems() == []


@pytest.mark.parametrize("model", ["", "seedance", "/seedance", "bytedance/", "byte dance/x"])
def test_malformed_model_ids_are_refused(model: str) -> None:
    (problem,) = request(model=model).problems()
    assert problem.startswith(f"Model id {model!r} is not of the form owner/name")
    assert DEFAULT_MODEL in problem


def test_every_known_model_id_is_well_formed() -> None:
    assert all(MODEL_ID.fullmatch(model_id) for model_id in MODELS)


def test_several_problems_are_reported_at_once() -> None:
    bad = request(image="", prompt="x" * 2001, duration=13, aspect_ratio="2:1", seed=-2)
    with pytest.raises(InvalidRequest) as info:
        bad.validated()
    problems = info.value.problems
    assert len(problems) == 5
    assert all(p in str(info.value) for p in problems)


def test_invalid_request_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Duration must be 2 to 12 seconds"):
        request(duration=1).validated()


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
    assert replace(chosen, seed=-1) == original


@pytest.mark.parametrize("seed", [0, 42, SEED_MAX])
def test_with_seed_keeps_a_concrete_seed(seed: int) -> None:
    assert request(seed=seed).with_seed(random.Random(1)).seed == seed


def test_with_seed_without_rng_picks_varied_seeds_in_range() -> None:
    seeds = {request().with_seed().seed for _ in range(50)}
    assert all(0 <= s <= SEED_MAX for s in seeds)
    assert len(seeds) > 45


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
    assert set(body) == {"image", "duration", "camera_fixed", "seed"}
    assert None not in body.values() and "" not in body.values()


def test_payload_never_contains_the_model() -> None:
    assert "model" not in request(model=PRO_720P, seed=1).payload()


@pytest.mark.parametrize(("field", "value"), [("seed", 0), ("camera_fixed", False)])
def test_payload_keeps_falsy_but_meaningful_values(field: str, value: object) -> None:
    body = request(**{"seed": 3, field: value}).payload()
    assert body[field] == value and type(body[field]) is type(value)


def test_payload_refuses_a_random_seed() -> None:
    with pytest.raises(ValueError, match="with_seed"):
        request(seed=-1).payload()


# --------------------------------------------------------------------------- price


def test_five_seconds_of_lite_720p_cost_sixteen_cents() -> None:
    assert price_usd(DEFAULT_MODEL, 5) == pytest.approx(0.16)


@pytest.mark.parametrize("duration", [2, 5, 12])
def test_lite_480p_costs_half_of_720p(duration: int) -> None:
    assert price_usd(LITE_480P, duration) == pytest.approx(price_usd(DEFAULT_MODEL, duration) / 2)


@pytest.mark.parametrize("duration", [2, 5, 12])
def test_price_is_per_second(duration: int) -> None:
    assert price_usd(DEFAULT_MODEL, duration) == pytest.approx(0.032 * duration)


def test_unknown_model_has_no_price() -> None:
    assert price_usd("someone/new-model", 5) is None


def test_request_cost_follows_its_model_and_duration() -> None:
    assert request(duration=10).cost_usd == pytest.approx(0.32)
    assert request(model="someone/new-model").cost_usd is None


@pytest.mark.parametrize(
    ("model", "duration", "runs", "shown"),
    [
        (DEFAULT_MODEL, 5, 1, "$0.160"),
        (LITE_480P, 5, 1, "$0.080"),
        (DEFAULT_MODEL, 5, 10, "$1.60"),
        (DEFAULT_MODEL, 12, 1, "$0.384"),
        (PRO_720P, 5, 1, "≈ $0.300"),
        ("someone/new-model", 5, 1, "price unknown"),
    ],
)
def test_format_price(model: str, duration: int, runs: int, shown: str) -> None:
    assert format_price(model, duration, runs) == shown


@pytest.mark.parametrize(
    ("amount", "shown"), [(0.0, "$0.000"), (0.999, "$0.999"), (12.5, "$12.50")]
)
def test_format_usd(amount: float, shown: str) -> None:
    assert format_usd(amount) == shown


def test_only_the_contract_prices_are_marked_confirmed() -> None:
    confirmed = {m for m, info in MODELS.items() if info.price_confirmed}
    assert confirmed == {DEFAULT_MODEL, LITE_480P}


def test_pro_models_require_a_duration() -> None:
    assert {m for m, info in MODELS.items() if info.duration_required} == {
        f"bytedance/seedance-v1-pro-i2v-{r}" for r in ("480p", "720p", "1080p")
    }
