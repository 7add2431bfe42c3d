"""ByteDance Seedance image-to-video as WaveSpeed serves it: schema, validation, price.

Pure stdlib. Knows the model's inputs and limits (../shared/WAVESPEED_API.md) and nothing of
HTTP or pixels. The seed is always chosen here and sent, because the API's result does not
echo it and a video whose seed is unknown cannot be repeated.
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from playground.errors import InvalidRequest

DEFAULT_MODEL = "bytedance/seedance-v1-lite-i2v-720p"

AspectRatio = Literal["21:9", "16:9", "4:3", "1:1", "3:4", "9:16"]
ASPECT_RATIOS: tuple[AspectRatio, ...] = ("21:9", "16:9", "4:3", "1:1", "3:4", "9:16")

# Pixel sizes Seedance 1.0 produces per aspect ratio (both sides multiples of 16).
OUTPUT_SIZES_480P: dict[str, tuple[int, int]] = {
    "21:9": (960, 416),
    "16:9": (864, 480),
    "4:3": (736, 544),
    "1:1": (640, 640),
    "3:4": (544, 736),
    "9:16": (480, 864),
}
OUTPUT_SIZES_720P: dict[str, tuple[int, int]] = {
    "21:9": (1504, 640),
    "16:9": (1248, 704),
    "4:3": (1120, 832),
    "1:1": (960, 960),
    "3:4": (832, 1120),
    "9:16": (704, 1248),
}
OUTPUT_SIZES_1080P: dict[str, tuple[int, int]] = {
    "21:9": (2176, 928),
    "16:9": (1920, 1088),
    "4:3": (1664, 1248),
    "1:1": (1440, 1440),
    "3:4": (1248, 1664),
    "9:16": (1088, 1920),
}
OUTPUT_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "480p": OUTPUT_SIZES_480P,
    "720p": OUTPUT_SIZES_720P,
    "1080p": OUTPUT_SIZES_1080P,
}


def aspect_value(aspect_ratio: str) -> float:
    """ "16:9" -> 1.777…: width over height."""
    w, h = aspect_ratio.split(":")
    return int(w) / int(h)


def output_sizes(resolution: str) -> dict[str, tuple[int, int]]:
    """Clip size per aspect ratio at `resolution` ("480p", "720p", "1080p")."""
    try:
        return OUTPUT_SIZES[resolution]
    except KeyError:
        raise ValueError(
            f"unknown resolution {resolution!r}; expected one of {', '.join(OUTPUT_SIZES)}"
        ) from None


PROMPT_MAX_CHARS = 2000
# Control characters (tabs and line breaks are fine) and lone surrogates, which no JSON
# encoder sends: refused before anything is uploaded, not by the submit after it.
UNSENDABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# The API's limit for an image, uploaded or fetched.
IMAGE_MAX_BYTES = 10 * 1024 * 1024
DURATION_MIN_S, DURATION_MAX_S, DURATION_DEFAULT_S = 2, 12, 5
SEED_MAX = 2_147_483_647
RANDOM_SEED = -1
# A WaveSpeed model id's shape, owner/name[/variant]: each segment plain, so that no
# "." or ".." can steer a request elsewhere (the client checks the same before sending).
MODEL_ID = re.compile(r"[A-Za-z0-9][\w.-]*(?:/[A-Za-z0-9][\w.-]*){1,3}", re.ASCII)


@dataclass(frozen=True)
class ModelInfo:
    id: str
    label: str
    resolution: Literal["480p", "720p", "1080p"]
    usd_per_second: float
    duration_required: bool = False
    price_confirmed: bool = True


# USD per second of video. Lite 720p ($0.032) and 480p (half) are from the contract; the
# others were read off WaveSpeed's public model pages and are shown as estimates ("≈").
def _model(variant: str, resolution: str, usd_per_second: float, confirmed: bool) -> ModelInfo:
    tier = variant.split("-")[0]
    return ModelInfo(
        id=f"bytedance/seedance-v1-{variant}-{resolution}",
        label=f"Seedance v1 {tier} · {resolution}",
        resolution=resolution,  # type: ignore[arg-type]
        usd_per_second=usd_per_second,
        duration_required=tier == "pro",
        price_confirmed=confirmed,
    )


MODELS: dict[str, ModelInfo] = {
    m.id: m
    for m in (
        _model("lite-i2v", "720p", 0.032, confirmed=True),
        _model("lite-i2v", "480p", 0.016, confirmed=True),
        _model("lite-i2v", "1080p", 0.072, confirmed=False),
        _model("pro-i2v", "480p", 0.03, confirmed=False),
        _model("pro-i2v", "720p", 0.06, confirmed=False),
        _model("pro-i2v", "1080p", 0.15, confirmed=False),
    )
}


@dataclass(frozen=True)
class SeedanceRequest:
    """Every input of the model. `image`/`last_image` are URLs or data URIs, already prepared."""

    image: str
    prompt: str = ""
    last_image: str | None = None
    duration: int = DURATION_DEFAULT_S
    aspect_ratio: AspectRatio | None = None
    camera_fixed: bool = False
    seed: int = RANDOM_SEED
    model: str = DEFAULT_MODEL

    def problems(self) -> list[str]:
        """What is wrong with this request, each as a sentence saying how to fix it."""
        found = []
        if not self.image:
            found.append("A start image is required: upload one.")
        if not isinstance(self.prompt, str):
            found.append(f"The prompt must be text, not {type(self.prompt).__name__}.")
        elif len(self.prompt) > PROMPT_MAX_CHARS:
            found.append(
                f"The prompt is {len(self.prompt)} characters; the limit is "
                f"{PROMPT_MAX_CHARS}. Shorten it by {len(self.prompt) - PROMPT_MAX_CHARS}."
            )
        elif bad := UNSENDABLE.search(self.prompt):
            found.append(
                f"The prompt contains a character that cannot be sent (U+{ord(bad.group()):04X}, "
                f"at position {bad.start() + 1}); delete it or type that part again."
            )
        if isinstance(self.duration, bool) or not isinstance(self.duration, int):
            found.append(f"Duration must be a whole number of seconds, not {self.duration!r}.")
        elif not DURATION_MIN_S <= self.duration <= DURATION_MAX_S:
            found.append(
                f"Duration must be {DURATION_MIN_S} to {DURATION_MAX_S} seconds, "
                f"not {self.duration}."
            )
        if self.aspect_ratio is not None and self.aspect_ratio not in ASPECT_RATIOS:
            found.append(
                f"Aspect ratio {self.aspect_ratio!r} is not offered; choose one of "
                f"{', '.join(ASPECT_RATIOS)}, or leave it unset to match the image."
            )
        if not isinstance(self.camera_fixed, bool):
            found.append("camera_fixed must be true or false.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            found.append(f"Seed must be a whole number, not {self.seed!r}.")
        elif self.seed != RANDOM_SEED and not 0 <= self.seed <= SEED_MAX:
            found.append(f"Seed must be -1 (random) or 0 to {SEED_MAX}, not {self.seed}.")
        if not MODEL_ID.fullmatch(self.model or ""):
            found.append(
                f"Model id {self.model!r} is not of the form owner/name; choose one of: "
                f"{', '.join(MODELS)}."
            )
        return found

    def validated(self) -> SeedanceRequest:
        """This request, or InvalidRequest listing everything wrong at once."""
        if problems := self.problems():
            raise InvalidRequest(problems)
        return self

    def with_seed(self, rng: random.Random | None = None) -> SeedanceRequest:
        """A copy whose seed is concrete: -1 becomes a random seed chosen here."""
        if self.seed != RANDOM_SEED:
            return self
        return replace(self, seed=choose_seed(rng))

    def payload(self) -> dict[str, Any]:
        """The JSON body for the API: concrete seed, nothing null or unset."""
        if self.seed == RANDOM_SEED:
            raise ValueError("choose the seed first (with_seed) so the video can be repeated")
        body = asdict(self)
        del body["model"]
        return {k: v for k, v in body.items() if v is not None and v != ""}

    @property
    def cost_usd(self) -> float | None:
        return price_usd(self.model, self.duration)


def choose_seed(rng: random.Random | None = None) -> int:
    """A seed the API accepts, picked here so it is known and shown with the video."""
    return (rng or random.SystemRandom()).randint(0, SEED_MAX)


def price_usd(model: str, duration_s: int) -> float | None:
    """What one run costs in USD, or None for a model whose price is not known here."""
    info = MODELS.get(model)
    return None if info is None else round(info.usd_per_second * duration_s, 4)


def format_price(model: str, duration_s: int, runs: int = 1) -> str:
    """The price as a person reads it: "$0.160", "≈ $0.300" for estimates, or "unknown"."""
    price = price_usd(model, duration_s)
    if price is None:
        return "price unknown"
    approx = "" if MODELS[model].price_confirmed else "≈ "
    return f"{approx}{format_usd(price * runs)}"


def format_usd(amount: float) -> str:
    return f"${amount:.3f}" if amount < 1 else f"${amount:.2f}"


MAX_VARIATIONS = 8
MAX_PROMPT_VARIANTS = 4


def variations(
    base: SeedanceRequest,
    count: int,
    prompts: list[str] | None = None,
    rng: random.Random | None = None,
) -> list[SeedanceRequest]:
    """Requests for a batch: `count` different seeds, or one seed across prompt variants.

    Seeds mode keeps a concrete base seed for the first request, so the batch contains the
    run it started from. Prompt mode shares one seed, so only the prompt differs.
    """
    prompts = [p.strip() for p in prompts or [] if p.strip()]
    if prompts:
        if len(prompts) > MAX_PROMPT_VARIANTS:
            raise InvalidRequest(
                [f"Up to {MAX_PROMPT_VARIANTS} prompt variants at once, not {len(prompts)}."]
            )
        seeded = base.with_seed(rng)
        return [replace(seeded, prompt=p).validated() for p in prompts]
    if not 1 <= count <= MAX_VARIATIONS:
        raise InvalidRequest([f"Variations: choose 1 to {MAX_VARIATIONS}, not {count}."])
    first = [base] if base.seed != RANDOM_SEED else []
    rest = [replace(base, seed=choose_seed(rng)) for _ in range(count - len(first))]
    return [r.validated() for r in first + rest]
