"""What a person asked for, as one value: the model, its inputs, and the page's extras.

A `Form` is a mapping from the model's own parameter names (its request schema's fields) to
the values the widgets or an API caller gave, unchecked: anything may arrive from a
stranger. `request()` is where those values become a `SeedanceRequest` or an
`InvalidRequest` naming each problem. The public `/generate` builds one from its named
parameters, the page from its widgets by `FIELDS`; nothing else lists the fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.errors import InvalidRequest
from playground.model import seedance

# The model's inputs that the form carries, in the API's names and order (the images are
# file paths or addresses until they are prepared and uploaded).
FIELDS = ("image", "prompt", "last_image", "duration", "aspect_ratio", "camera_fixed", "seed")
IMAGE_FIELDS = ("image", "last_image")
# "auto" (or nothing) sends no aspect_ratio: the model follows the start image.
AUTO_RATIO = "auto"


@dataclass(frozen=True)
class Form:
    """The model id, its inputs by field name, and what only the page offers: image
    addresses typed instead of uploads (sent as they are) and enlarging small images."""

    model: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    image_url: str = ""
    last_image_url: str = ""
    upscale: bool = False

    @classmethod
    def of(cls, model: str | None = "", **inputs: Any) -> Form:
        """A form from keyword inputs; page extras go by their own names."""
        extras = {
            k: inputs.pop(k) for k in ("image_url", "last_image_url", "upscale") if k in inputs
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

    def request(self, default_model: str) -> seedance.SeedanceRequest:
        """The inputs as the model's request (images still named, not prepared), or
        InvalidRequest listing everything wrong at once."""
        problems: list[str] = []
        duration = whole_number(
            self.get("duration", seedance.DURATION_DEFAULT_S), "Duration", problems
        )
        seed = whole_number(self.get("seed", seedance.RANDOM_SEED), "Seed", problems)
        if problems:
            raise InvalidRequest(problems)
        ratio = self.get("aspect_ratio")
        image = self.image_source("image") or ""
        request = seedance.SeedanceRequest(
            image=Path(image).name if image else "",
            prompt=self.get("prompt") or "",
            duration=duration,
            aspect_ratio=None if ratio in (AUTO_RATIO, "", None) else ratio,
            camera_fixed=bool(self.get("camera_fixed", False)),
            seed=seed,
            model=self._model(default_model),
        )
        return request.validated()

    def _model(self, default_model: str) -> str:
        """The model asked for, exactly as spelled, if the app offers it: one of the known
        models, or the one the owner set. Anything else would be priced as unknown (and so
        held at $0 against the owner's cap) yet could still reach a paid model."""
        model = self.model if isinstance(self.model, str) and self.model else default_model
        if model in seedance.MODELS or model == default_model:
            return model
        offered = ", ".join(dict.fromkeys([*seedance.MODELS, default_model]))
        raise InvalidRequest(
            [f"Model {model[:120]!r} is not offered here; choose one of: {offered}."]
        )


def whole_number(value: Any, what: str, problems: list[str]) -> int:
    """A whole number from a widget or a caller (5, 5.0, "5"), else a problem named."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        problems.append(f"{what} must be a whole number.")
        return 0
    if not number.is_integer():
        problems.append(f"{what} must be a whole number, not {value}.")
        return 0
    return int(number)
