"""Presets are data: one `presets/*.json` file each, with a public-domain sample photo
(`presets/SOURCES.md`). The name is the file's stem; the order is the file names'.

Each names the model it was written for (`model`, default Seedance 1.0 lite 720p); every
other key but the title, images and notes is an input of that model, by its own name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.model import seedance

PRESETS_DIR = Path(__file__).resolve().parents[2] / "presets"
NOT_INPUTS = ("title", "image", "last_image", "notes", "model")


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    image: Path
    model: str = seedance.DEFAULT_MODEL
    inputs: dict[str, Any] = field(default_factory=dict)
    last_image: Path | None = None
    notes: str = ""

    @property
    def prompt(self) -> str:
        return str(self.inputs.get("prompt", ""))

    @property
    def duration(self) -> int:
        return int(self.inputs.get("duration", seedance.DURATION_DEFAULT_S))

    @property
    def seed(self) -> int:
        return int(self.inputs.get("seed", seedance.RANDOM_SEED))


def load_presets(folder: Path = PRESETS_DIR) -> list[Preset]:
    """Every `presets/*.json`, sorted by file name; the name is the file's stem."""
    presets = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        last = data.get("last_image")
        presets.append(
            Preset(
                name=path.stem,
                title=data["title"],
                image=folder / data["image"],
                model=data.get("model", seedance.DEFAULT_MODEL),
                inputs={k: v for k, v in data.items() if k not in NOT_INPUTS},
                last_image=folder / last if last else None,
                notes=data.get("notes", ""),
            )
        )
    return presets
