"""Presets are data: one `presets/*.json` file each, with a public-domain sample photo
(`presets/SOURCES.md`). The name is the file's stem; the order is the file names'."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from playground.model import seedance

PRESETS_DIR = Path(__file__).resolve().parents[2] / "presets"


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    prompt: str
    image: Path
    duration: int = seedance.DURATION_DEFAULT_S
    aspect_ratio: str | None = None
    camera_fixed: bool = False
    seed: int = seedance.RANDOM_SEED
    last_image: Path | None = None
    notes: str = ""


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
                prompt=data["prompt"],
                image=folder / data["image"],
                duration=int(data.get("duration", seedance.DURATION_DEFAULT_S)),
                aspect_ratio=data.get("aspect_ratio"),
                camera_fixed=bool(data.get("camera_fixed", False)),
                seed=int(data.get("seed", seedance.RANDOM_SEED)),
                last_image=folder / last if last else None,
                notes=data.get("notes", ""),
            )
        )
    return presets
