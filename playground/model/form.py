"""What a person asked for, as one value: the model, its inputs, and the page's extras.

A `Form` is a mapping from the model's own parameter names (its request schema's fields) to
the values the widgets or an API caller gave, unchecked: anything may arrive from a
stranger. `request()` is where those values meet the model's schema (from the catalog) and
become a `SeedanceRequest`, or an `InvalidRequest` naming each problem. The public
`/generate` builds one from its named parameters and `options`, the page from its widgets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.errors import InvalidRequest
from playground.model import catalog, seedance

# The fields the page and `/generate` have crafted widgets and parameters for, in the API's
# names (the images are file paths or addresses until they are prepared and uploaded).
FIELDS = (
    "image",
    "prompt",
    "last_image",
    "duration",
    "aspect_ratio",
    "camera_fixed",
    "seed",
    "resolution",
    "generate_audio",
)
IMAGE_FIELDS = ("image", "last_image")
# "auto" (or nothing) sends no aspect_ratio: the model follows the start image.
AUTO_RATIO = "auto"
# A crafted field's "not set" values: such a value for a field the model lacks is simply not
# sent; anything else is a caller asking for a setting the model does not have.
UNSET: dict[str, tuple[Any, ...]] = {
    "aspect_ratio": (AUTO_RATIO,),
    "camera_fixed": (False,),
    "seed": (seedance.RANDOM_SEED,),
    "generate_audio": (False,),
}


@dataclass(frozen=True)
class Form:
    """The model id, its inputs by field name, and what only the page offers: image
    addresses typed instead of uploads (sent as they are) and enlarging small images."""

    model: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    image_url: str = ""
    last_image_url: str = ""
    upscale: bool = False
    # Lists of images uploaded on the page, by field (a model's reference images): files
    # Gradio received, prepared like the start image. Never from an API caller's text.
    image_lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, model: str | None = "", **inputs: Any) -> Form:
        """A form from keyword inputs; page extras go by their own names."""
        extras = {
            k: inputs.pop(k)
            for k in ("image_url", "last_image_url", "upscale", "image_lists")
            if k in inputs
        }
        return cls(model=model or "", inputs=inputs, **extras)

    def get(self, name: str, default: Any = None) -> Any:
        return self.inputs.get(name, default)

    def image_source(self, name: str) -> str | None:
        """What the form sends for one image: the typed address, else the upload."""
        typed = self.image_url if name == "image" else self.last_image_url
        typed = (typed or "").strip() if isinstance(typed, str) else ""
        upload = self.get(name)
        return typed or (upload if isinstance(upload, str) and upload else None)

    def spec(self, models: catalog.Catalog, default_model: str) -> catalog.ModelSpec:
        """The model asked for, exactly as spelled, if the catalog has it. Anything else
        could neither be checked nor priced, yet could still reach a paid model."""
        model = self.model if isinstance(self.model, str) and self.model else default_model
        found = models.get(model)
        if found is not None and found.type != catalog.IMAGE_TO_VIDEO:
            raise InvalidRequest(
                [
                    f"{found.name} makes video from text, not from an image; choose an "
                    "image-to-video model."
                ]
            )
        if found is None:
            offered = ", ".join(m.id for m in models.image_to_video()[:3])
            raise InvalidRequest(
                [
                    f"Model {model[:120]!r} is not offered here: it is not in WaveSpeed's "
                    f"catalog as spelled. Choose one from the model picker or /list_models "
                    f"(such as {offered})."
                ]
            )
        return found

    def request(self, models: catalog.Catalog, default_model: str) -> seedance.SeedanceRequest:
        """The inputs as the model's request (images still named, not prepared), or
        InvalidRequest listing everything wrong at once."""
        spec = self.spec(models, default_model)
        inputs: dict[str, Any] = {}
        problems: list[str] = []
        for name, value in self.inputs.items():
            if name in IMAGE_FIELDS or value is None or value == "" or value == []:
                continue
            if spec.has(name):
                if not (name == "aspect_ratio" and value == AUTO_RATIO):
                    inputs[name] = value
            elif not _unset(name, value):
                problems.append(_lacking(spec, name, value))
        for name in IMAGE_FIELDS:
            if source := self.image_source(name):
                if spec.has(name):
                    inputs[name] = Path(source).name
                else:
                    problems.append(_lacking(spec, name, source))
        for name, paths in self.image_lists.items():
            if paths and spec.has(name) and name not in inputs:
                inputs[name] = [Path(p).name for p in paths]  # named until uploaded
        clean, found = seedance._checked(spec, inputs)
        if problems or found:
            raise InvalidRequest(problems + found)
        return seedance.SeedanceRequest.build(spec, clean)


def _unset(name: str, value: Any) -> bool:
    return any(value == v and type(value) is type(v) for v in UNSET.get(name, ()))


def _lacking(spec: catalog.ModelSpec, name: str, value: Any) -> str:
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    hint = {
        "camera_fixed": "leave it false",
        "seed": "leave it -1",
        "aspect_ratio": 'leave it "auto"',
    }.get(name, "leave it out")
    return (
        f"{spec.name} has no {str(name)[:60]!r} setting, so {shown} would not be sent: "
        f"{hint}, or choose a model that takes it."
    )


def whole_number(value: Any, what: str, problems: list[str]) -> int:
    """A whole number from a widget or a caller (5, 5.0, "5"), else a problem named."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        problems.append(f"{what} must be a whole number.")
        return 0
    if not math.isfinite(number) or not number.is_integer():
        problems.append(f"{what} must be a whole number, not {value}.")
        return 0
    return int(number)
