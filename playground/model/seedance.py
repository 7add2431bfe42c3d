"""One run's request for a model of the catalog: inputs, validation, seeds, prices, sizes.

Pure. The model's fields, limits and price formula come from its catalog entry
(`catalog.ModelSpec`); this module holds what every run needs on top: the seed is chosen
here and sent (the API's result does not echo it, and a video whose seed is unknown cannot
be repeated), text JSON cannot send is refused, variations are built, prices are worded.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

from playground.errors import InvalidRequest
from playground.model import catalog

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


def _scaled(sizes: dict[str, tuple[int, int]], factor: float) -> dict[str, tuple[int, int]]:
    """Bigger frames of the same shapes, both sides multiples of 16 (for 2k and 4k)."""
    return {
        r: (round(w * factor / 16) * 16, round(h * factor / 16) * 16) for r, (w, h) in sizes.items()
    }


OUTPUT_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "480p": OUTPUT_SIZES_480P,
    "720p": OUTPUT_SIZES_720P,
    "1080p": OUTPUT_SIZES_1080P,
    "2k": _scaled(OUTPUT_SIZES_1080P, 4 / 3),
    "4k": _scaled(OUTPUT_SIZES_1080P, 2),
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
MODEL_ID = catalog.MODEL_ID
RESOLUTION_IN_ID = re.compile(r"(480p|720p|1080p)$")


@dataclass(frozen=True)
class SeedanceRequest:
    """One run's model and its inputs by the model's own field names, checked against the
    model's request schema (`spec`, from the catalog). Images are addresses by then: URLs
    or data URIs, or until upload just the start image's name.

    Only fields the model has are ever here (and so ever sent). `quoted_usd` is the price
    WaveSpeed quoted for these inputs, when it was asked.
    """

    model: str
    inputs: Mapping[str, Any]
    spec: catalog.ModelSpec = field(compare=False, repr=False)
    quoted_usd: float | None = field(default=None, compare=False)

    @classmethod
    def build(cls, spec: catalog.ModelSpec, inputs: Mapping[str, Any]) -> SeedanceRequest:
        """A request for `spec` from unchecked inputs, or InvalidRequest naming each problem."""
        clean, problems = _checked(spec, inputs)
        if problems:
            raise InvalidRequest(problems)
        return cls(spec.id, MappingProxyType(clean), spec)

    @classmethod
    def for_price(cls, spec: catalog.ModelSpec, inputs: Mapping[str, Any]) -> SeedanceRequest:
        """A request good enough to price (a label follows a form being filled in): values
        that do not fit are left out, unless they move the price (InvalidRequest)."""
        clean: dict[str, Any] = {}
        for name, value in inputs.items():
            field_spec = spec.field(name)
            if value == "" and name in spec.price_drivers:
                raise InvalidRequest([f"{name} is being typed"])  # half-typed: no price yet
            if field_spec is None or value is None or value == "" or value == []:
                continue
            fitted, problem = field_spec.coerce(value)
            if problem is None:
                clean[name] = fitted
            elif name in spec.price_drivers:
                raise InvalidRequest([problem])
        return cls(spec.id, MappingProxyType(clean), spec)

    def get(self, name: str, default: Any = None) -> Any:
        return self.inputs.get(name, default)

    @property
    def image(self) -> str:
        return self.inputs.get("image") or ""

    @property
    def last_image(self) -> str | None:
        return self.inputs.get("last_image")

    @property
    def prompt(self) -> str:
        return self.inputs.get("prompt") or ""

    @property
    def duration(self) -> int:
        """Seconds of video: as set, else the model's default."""
        value = self.inputs.get("duration", self._default("duration", DURATION_DEFAULT_S))
        return int(value) if isinstance(value, int | float) else DURATION_DEFAULT_S

    @property
    def seed(self) -> int | None:
        """The seed sent, -1 until chosen; None for a model that takes no seed."""
        if not self.spec.has("seed"):
            return None
        return int(self.inputs.get("seed", RANDOM_SEED))

    @property
    def resolution(self) -> str:
        """The output resolution: as set, else the model's default, else its id's suffix."""
        value = self.inputs.get("resolution") or self._default("resolution", None)
        if isinstance(value, str) and value:
            return value
        found = RESOLUTION_IN_ID.search(self.model)
        return found.group(1) if found else "720p"

    @property
    def has_audio(self) -> bool:
        return bool(self.inputs.get("generate_audio", self._default("generate_audio", False)))

    def _default(self, name: str, fallback: Any) -> Any:
        spec = self.spec.field(name)
        return spec.default if spec is not None and spec.has_default else fallback

    def problems(self) -> list[str]:
        """What is wrong with this request, each as a sentence saying how to fix it."""
        return _checked(self.spec, self.inputs)[1]

    def validated(self) -> SeedanceRequest:
        """This request, or InvalidRequest listing everything wrong at once."""
        if problems := self.problems():
            raise InvalidRequest(problems)
        return self

    def with_inputs(self, **changes: Any) -> SeedanceRequest:
        """A copy with some inputs changed (None removes one); the quote stays only when
        nothing it depends on moved."""
        inputs = {k: v for k, v in {**self.inputs, **changes}.items() if v is not None}
        moved = any(name in self.spec.price_drivers for name in changes)
        quoted = None if moved else self.quoted_usd
        return replace(self, inputs=MappingProxyType(inputs), quoted_usd=quoted)

    def with_seed(self, rng: random.Random | None = None) -> SeedanceRequest:
        """A copy whose seed is concrete: -1 becomes a random seed chosen here."""
        if self.seed != RANDOM_SEED:
            return self
        return self.with_inputs(seed=choose_seed(rng))

    def payload(self) -> dict[str, Any]:
        """The JSON body for the API: concrete seed, nothing null, unset or unknown to the
        model."""
        if self.seed == RANDOM_SEED:
            raise ValueError("choose the seed first (with_seed) so the video can be repeated")
        return {
            k: v
            for k, v in self.inputs.items()
            if self.spec.has(k) and v is not None and v != "" and v != []
        }

    @property
    def estimate_usd(self) -> float | None:
        return self.spec.estimate(self.inputs)

    @property
    def cost_usd(self) -> float | None:
        """The quoted price, else the catalog's estimate, else None (unknown)."""
        return self.quoted_usd if self.quoted_usd is not None else self.estimate_usd


def _checked(spec: catalog.ModelSpec, inputs: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """The schema's checks, and the ones every text needs: no character JSON cannot send."""
    clean, problems = spec.problems(inputs)
    for name, value in clean.items():
        if isinstance(value, str) and (bad := UNSENDABLE.search(value)):
            field_spec = spec.field(name)
            label = field_spec.label if field_spec else name
            problems.append(
                f"{label} contains a character that cannot be sent (U+{ord(bad.group()):04X}, "
                f"at position {bad.start() + 1}); delete it or type that part again."
            )
    seed = clean.get("seed")
    if spec.has("seed") and isinstance(seed, int) and seed < RANDOM_SEED:
        problems.append(f"Seed must be -1 (random) or 0 to {SEED_MAX}, not {seed}.")
    return clean, problems


def request(model: str = DEFAULT_MODEL, **inputs: Any) -> SeedanceRequest:
    """A request for a model of the bundled catalog (scripts, tests, benchmarks)."""
    spec = catalog.snapshot().get(model)
    if spec is None:
        raise InvalidRequest([f"Model {model!r} is not in the catalog."])
    return SeedanceRequest.build(spec, inputs)


def choose_seed(rng: random.Random | None = None) -> int:
    """A seed the API accepts, picked here so it is known and shown with the video."""
    return (rng or random.SystemRandom()).randint(0, SEED_MAX)


def format_price(usd: float | None, *, quoted: bool = False, runs: int = 1) -> str:
    """The price as a person reads it: "$0.160" quoted, "≈ $0.300" estimated, or "price
    unknown"."""
    if usd is None:
        return "price unknown"
    return f"{'' if quoted else '≈ '}{format_usd(usd * runs)}"


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
        return [seeded.with_inputs(prompt=p).validated() for p in prompts]
    if not 1 <= count <= MAX_VARIATIONS:
        raise InvalidRequest([f"Variations: choose 1 to {MAX_VARIATIONS}, not {count}."])
    if base.seed is None:
        raise InvalidRequest(
            [
                f"{base.spec.name} takes no seed, so its variations cannot differ by seed: "
                "write prompt variants instead (one per line)."
            ]
        )
    first = [base] if base.seed != RANDOM_SEED else []
    rest = [base.with_inputs(seed=choose_seed(rng)) for _ in range(count - len(first))]
    return [r.validated() for r in first + rest]
