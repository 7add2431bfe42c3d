"""The Seedance playground below its entry point (`app.py`), one folder per layer.

- `ui`: the Gradio page: layout, events, handlers and views (the only layer that imports
  Gradio);
- `flow`: the run flow: the `Playground` service, sessions and routes (which key), one run
  from upload to record (`generation`), recovery of runs nobody waits for;
- `model`: the model's rules: inputs, validation, seeds, prices, the form, run statuses,
  the prompt builder (pure);
- `store`: persistence: the run history in SQLite and the owner's quotas, behind `RunStore`;
- `media`: pixels: input images, image addresses and their safe fetch, output videos;
- `emulator`: a local WaveSpeed server with its synthetic renderer (offline, tests, benches).

Each layer imports only the ones below it (ui -> flow -> model, store, media ->
`wavespeed_client`); `settings`, `errors` and `logs` are shared by all.
"""

from __future__ import annotations

import importlib
from typing import Any

# What is public, and where it lives; imported on first use, so that importing one layer
# (the emulator, say) does not load them all.
_PUBLIC = {
    "Form": "playground.model.form",
    "Playground": "playground.flow.service",
    "PlaygroundError": "playground.errors",
    "RunStatus": "playground.model.status",
    "Settings": "playground.settings",
    "load_settings": "playground.settings",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'playground' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
