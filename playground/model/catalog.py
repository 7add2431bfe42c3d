"""WaveSpeed's model catalog: each model's request schema, price formula and family, pure.

`GET /api/v3/models` lists every model with its request JSON schema in one of two shapes
(`api_schema.api_schemas[]` with a `model_run` entry, as WaveSpeed's MCP server and CLI read
it, or OpenAPI's `api_schema.components.schemas.Request`, as WaveSpeed Desktop types it);
`parse` reads both into `ModelSpec`s. A spec validates inputs field by field (naming the
field and what it accepts), fills defaults, and estimates the price from the catalog's
JSONata formula. The bundled `catalog_snapshot.json` is the catalog when the live one cannot
be read. Nothing here does HTTP: `flow.catalogs` fetches, caches and refreshes.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

SNAPSHOT = Path(__file__).with_name("catalog_snapshot.json")
IMAGE_TO_VIDEO = "image-to-video"
# A WaveSpeed model id, owner/name[/variant]: plain segments only, so that no "." or ".."
# can steer a request elsewhere (the client checks the same before sending).
MODEL_ID = re.compile(r"[A-Za-z0-9][\w.-]*(?:/[A-Za-z0-9][\w.-]*){1,3}", re.ASCII)
# Options for the API, not for a person (WaveSpeed Desktop hides the same two).
API_ONLY = frozenset({"enable_sync_mode", "enable_base64_output"})
# Words on a model's page that say it is going away.
RETIRING = re.compile(r"being retired|already been retired|deprecated|end of life", re.I)
# Formulas are evaluated with a bound: a catalog is data from the network.
FORMULA_TIMEOUT_MS, FORMULA_DEPTH = 200, 60

Kind = Literal["image", "images", "text", "choice", "flag", "integer", "number", "other"]
Source = Literal["live", "cache", "snapshot"]


@dataclass(frozen=True)
class FieldSpec:
    """One input of a model, from its request schema."""

    name: str
    kind: Kind
    required: bool = False
    default: Any = None
    has_default: bool = False
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] = ()
    max_length: int | None = None
    max_items: int | None = None
    description: str = ""
    hidden: bool = False

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()

    def accepts(self) -> str:
        """What this field takes, in words: "4 to 15", "one of 720p, 1080p", "true or false"."""
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        if self.kind == "flag":
            return "true or false"
        if self.kind in ("integer", "number"):
            whole = "a whole number" if self.kind == "integer" else "a number"
            if self.minimum is not None and self.maximum is not None:
                return f"{whole} from {_num(self.minimum)} to {_num(self.maximum)}"
            if self.minimum is not None:
                return f"{whole} of at least {_num(self.minimum)}"
            if self.maximum is not None:
                return f"{whole} of at most {_num(self.maximum)}"
            return whole
        if self.kind == "images":
            return f"up to {self.max_items} image addresses" if self.max_items else "images"
        if self.kind == "image":
            return "an image"
        if self.max_length:
            return f"text of up to {self.max_length} characters"
        return "text"

    def coerce(self, value: Any) -> tuple[Any, str | None]:
        """The value as the API takes it (5.0 -> 5 for an integer), or a problem in words."""
        wrong = f"{self.label} must be {self.accepts()}, not {_shown(value)}."
        if self.kind == "integer":
            number = _number(value)
            if number is None or not number.is_integer():
                return value, wrong
            value = int(number)
        elif self.kind == "number":
            number = _number(value)
            if number is None:
                return value, wrong
            value = number
        elif self.kind == "flag":
            if not isinstance(value, bool):
                return value, wrong
        elif self.kind == "images":
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                return value, f"{self.label} must be a list of image addresses."
            value = [v for v in value if v]
            if self.max_items is not None and len(value) > self.max_items:
                return (
                    value,
                    f"{self.label} takes at most {self.max_items} images, not {len(value)}.",
                )
            return value, None
        elif self.kind in ("text", "image") and not isinstance(value, str):
            return value, f"{self.label} must be text, not {type(value).__name__}."
        if self.choices:
            # Choices are compared as the schema spells them: 5 matches 5 and "5".
            for choice in self.choices:
                if value == choice or str(value) == str(choice):
                    return choice, None
            return value, wrong
        if isinstance(value, int | float) and not isinstance(value, bool):
            low = self.minimum is not None and value < self.minimum
            high = self.maximum is not None and value > self.maximum
            if low or high:
                return value, wrong
        if isinstance(value, str) and self.max_length is not None and len(value) > self.max_length:
            return value, (
                f"{self.label} is {len(value)} characters; the limit is {self.max_length}. "
                f"Shorten it by {len(value) - self.max_length}."
            )
        return value, None


@dataclass(frozen=True)
class ModelSpec:
    """One model of the catalog: what it is, what it takes, what it costs."""

    id: str
    name: str
    type: str = IMAGE_TO_VIDEO
    description: str = ""
    base_price: float | None = None
    formula: str | None = None
    sort_order: int = 0
    fields: tuple[FieldSpec, ...] = ()

    @cached_property
    def _by_name(self) -> dict[str, FieldSpec]:
        return {f.name: f for f in self.fields}

    def field(self, name: str) -> FieldSpec | None:
        return self._by_name.get(name)

    def has(self, name: str) -> bool:
        return name in self._by_name

    @property
    def shown(self) -> tuple[FieldSpec, ...]:
        """The fields a person sets, in the schema's order (x-hidden ones left out)."""
        return tuple(f for f in self.fields if not f.hidden)

    @property
    def is_seedance(self) -> bool:
        return "seedance" in self.id.lower()

    @property
    def family(self) -> str:
        """The group the picker shows it in."""
        if not self.is_seedance:
            return "Other models"
        version = re.search(r"seedance-v?(\d+)(?:\.(\d+))?", self.id.lower())
        major = int(version.group(1)) if version else 0
        if major >= 2:
            return "Seedance 2.x"
        if version and version.group(2) == "5":
            return "Seedance 1.5"
        return "Seedance 1.0 · retiring" if self.retiring else "Seedance 1.0"

    @property
    def retiring(self) -> bool:
        return bool(RETIRING.search(self.description))

    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in self.fields if f.has_default}

    def problems(self, inputs: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The inputs as the API takes them, and what is wrong, each problem naming the field.

        Fields the model lacks are problems too: a caller's value would never be sent.
        """
        clean: dict[str, Any] = {}
        found: list[str] = []
        for name in inputs:
            if not self.has(name):
                found.append(
                    f"{self.name} has no setting {str(name)[:60]!r}; it takes "
                    f"{', '.join(f.name for f in self.shown)}."
                )
        for spec in self.fields:
            value = inputs.get(spec.name)
            if value is None or value == "" or value == []:
                if spec.required:
                    found.append(f"{spec.label} is required by {self.name}: set it.")
                continue
            value, problem = spec.coerce(value)
            if problem:
                found.append(problem)
            else:
                clean[spec.name] = value
        return clean, found

    @cached_property
    def price_drivers(self) -> tuple[str, ...]:
        """The inputs the formula reads (as WaveSpeed's CLI finds them): a quote is cached
        by these, and a change to any other input keeps the price."""
        if not self.formula:
            return ()
        stripped = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', self.formula)
        names = re.findall(r"(\$?)([A-Za-z_]\w*)\s*(\()?", stripped)
        reserved = {"base_price", "total_price", "true", "false", "null", "and", "or", "in"}
        seen = dict.fromkeys(
            name for dollar, name, call in names if not dollar and not call and name not in reserved
        )
        return tuple(seen)

    def estimate(self, inputs: Mapping[str, Any]) -> float | None:
        """The price from the catalog's formula (or its base price) for these inputs, or None
        when it cannot be known here."""
        if self.base_price is None:
            return None
        if not self.formula:
            return round(float(self.base_price), 4)
        values = {**self.defaults(), **{k: v for k, v in inputs.items() if v is not None}}
        return _evaluate(self.formula, float(self.base_price), _priced(values, self.price_drivers))


@dataclass(frozen=True)
class Catalog:
    """The models the app offers, and where that list came from."""

    models: Mapping[str, ModelSpec]
    source: Source = "snapshot"
    fetched_at: float | None = None
    note: str = ""

    def get(self, model_id: str) -> ModelSpec | None:
        return self.models.get(model_id) if isinstance(model_id, str) else None

    def __contains__(self, model_id: object) -> bool:
        return isinstance(model_id, str) and model_id in self.models

    def image_to_video(self, everything: bool = False) -> list[ModelSpec]:
        """Image-to-video models: Seedance by family (2.x, 1.5, 1.0), then, with
        `everything`, the catalog's other families; by popularity within each."""
        order = ["Seedance 2.x", "Seedance 1.5", "Seedance 1.0", "Seedance 1.0 · retiring"]
        chosen = [
            m
            for m in self.models.values()
            if m.type == IMAGE_TO_VIDEO and (everything or m.is_seedance)
        ]

        def rank(m: ModelSpec) -> tuple[int, int, str]:
            group = order.index(m.family) if m.family in order else len(order)
            return group, m.sort_order, m.id

        return sorted(chosen, key=rank)

    def successor(self, spec: ModelSpec) -> ModelSpec | None:
        """What a retiring model's page recommends instead (a model id in its description
        that the catalog has), else the newest Seedance 2.x image-to-video model."""
        if not spec.retiring:
            return None
        for candidate in re.findall(MODEL_ID.pattern, spec.description):
            candidate = candidate.rstrip(".")
            if candidate != spec.id and (found := self.get(candidate)):
                return found
        newer = [m for m in self.image_to_video() if m.family == "Seedance 2.x"]
        return newer[0] if newer else None


def parse(entries: Any, *, source: Source = "live", fetched_at: float | None = None) -> Catalog:
    """A catalog from `GET /api/v3/models`'s `data` list; entries it cannot read are skipped
    (logged), so one odd model does not hide the others."""
    models: dict[str, ModelSpec] = {}
    for entry in entries if isinstance(entries, list) else []:
        try:
            spec = parse_model(entry)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            model_id = entry.get("model_id") if isinstance(entry, dict) else None
            log.warning("catalog entry %.80r skipped: %s", model_id, exc)
            continue
        models[spec.id] = spec
    return Catalog(models, source=source, fetched_at=fetched_at)


def parse_model(entry: Mapping[str, Any]) -> ModelSpec:
    """One catalog entry as a ModelSpec; ValueError when it is not one."""
    model_id = entry["model_id"]
    if not isinstance(model_id, str) or not MODEL_ID.fullmatch(model_id):
        raise ValueError(f"not a model id: {model_id!r}")
    schema = request_schema(entry.get("api_schema"))
    properties = schema.get("properties") or {}
    if not isinstance(properties, dict):
        raise ValueError("properties is not an object")
    required = set(_strings(schema.get("required")))
    order = _strings(schema.get("x-order-properties"))
    names = [n for n in order if n in properties] + [n for n in properties if n not in order]
    fields = tuple(
        _field(name, properties[name], name in required)
        for name in names
        if isinstance(properties[name], dict)
    )
    base_price = entry.get("base_price")
    formula = entry.get("formula")
    return ModelSpec(
        id=model_id,
        name=str(entry.get("name") or model_id)[:120],
        type=str(entry.get("type") or ""),
        description=str(entry.get("description") or "")[:2000],
        base_price=float(base_price) if is_number(base_price) and base_price >= 0 else None,
        formula=formula if isinstance(formula, str) and formula.strip() else None,
        sort_order=int(entry["sort_order"]) if is_number(entry.get("sort_order")) else 0,
        fields=fields,
    )


def request_schema(api_schema: Any) -> dict[str, Any]:
    """The model's request schema from either documented shape of `api_schema`."""
    if not isinstance(api_schema, dict):
        return {}
    runs = api_schema.get("api_schemas")
    if isinstance(runs, list):
        for run in runs:
            if isinstance(run, dict) and run.get("type") == "model_run":
                found = run.get("request_schema")
                return found if isinstance(found, dict) else {}
    components = api_schema.get("components")
    if isinstance(components, dict):
        found = (components.get("schemas") or {}).get("Request")
        return found if isinstance(found, dict) else {}
    return {}


@lru_cache(maxsize=1)
def snapshot() -> Catalog:
    """The catalog bundled with the app: the Seedance family as its pages documented it."""
    document = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    bundled = parse(document["models"], source="snapshot")
    return Catalog(bundled.models, source="snapshot", note=f"as of {document.get('as_of', '?')}")


def _field(name: str, prop: Mapping[str, Any], required: bool) -> FieldSpec:
    hidden = bool(prop.get("x-hidden")) or name in API_ONLY
    choices = prop.get("enum")
    return FieldSpec(
        name=name,
        kind=_kind(name, prop),
        required=required and not hidden,
        default=prop.get("default"),
        has_default="default" in prop,
        minimum=_bound(prop.get("minimum")),
        maximum=_bound(prop.get("maximum")),
        step=_bound(prop.get("step")),
        choices=tuple(c for c in choices if _scalar(c)) if isinstance(choices, list) else (),
        max_length=int(prop["maxLength"]) if is_number(prop.get("maxLength")) else None,
        max_items=int(prop["maxItems"]) if is_number(prop.get("maxItems")) else None,
        description=str(prop.get("description") or "")[:500],
        hidden=hidden,
    )


def _kind(name: str, prop: Mapping[str, Any]) -> Kind:
    kind = prop.get("type")
    component = prop.get("x-ui-component")
    lowered = name.lower()
    if kind == "array":
        items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
        if component == "uploaders" or (
            "image" in lowered and items.get("type", "string") == "string"
        ):
            return "images"
        return "other"
    if kind == "string" and (component == "uploader" or lowered.endswith(("image", "image_url"))):
        accept = str(prop.get("x-accept") or "image/")
        return "image" if "image" in accept or lowered.endswith("image") else "other"
    if isinstance(prop.get("enum"), list) and prop["enum"]:
        return "choice"
    return {"string": "text", "boolean": "flag", "integer": "integer", "number": "number"}.get(
        kind if isinstance(kind, str) else "", "other"
    )


def _evaluate(formula: str, base_price: float, values: dict[str, Any]) -> float | None:
    import jsonata

    try:
        expression = jsonata.Jsonata(formula)
        frame = expression.create_frame()
        frame.set_runtime_bounds(FORMULA_TIMEOUT_MS, FORMULA_DEPTH)
        result = expression.evaluate({**values, "base_price": base_price}, frame)
    except Exception as exc:
        log.info("price formula not evaluated: %s", exc)
        return None
    price = result.get("total_price") if isinstance(result, dict) else result
    if not is_number(price) or not math.isfinite(price) or price < 0:
        return None
    return round(float(price), 4)


def _priced(values: dict[str, Any], drivers: Iterable[str]) -> dict[str, Any]:
    """Only what the formula reads, and only plain values (no image data in the evaluator)."""
    return {k: values[k] for k in drivers if k in values and _scalar(values[k])}


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool): what a JSON number must be to be used."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _bound(value: Any) -> float | None:
    return float(value) if is_number(value) else None


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
