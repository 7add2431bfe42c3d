"""The floor under bench_load.py: a bare Gradio app with the playground's /generate.

Same inputs (two file images and six values), same outputs (a video, a JSON record and
an HTML status), same queue and thread settings as `playground.ui.app.launch`; the handler
only sleeps for the simulated inference and returns a copy of one clip. What bench_load measures
against it is what Gradio itself costs per run on this machine, with nothing of ours.

    python bench/floor_app.py CLIP.mp4 PORT [INFERENCE_S]
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import gradio as gr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from playground.ui.wiring import GENERATE_CONCURRENCY


def main() -> None:
    clip, port = Path(sys.argv[1]), int(sys.argv[2])
    inference_s = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    out = Path(tempfile.mkdtemp(prefix="floor-"))

    async def generate(
        image, prompt, last_image, duration, aspect_ratio, camera_fixed, seed, model
    ):
        await asyncio.sleep(inference_s)
        dest = out / f"{uuid.uuid4().hex}.mp4"
        shutil.copyfile(clip, dest)
        return str(dest), {"id": dest.stem, "seed": seed}, "<div class='status ok'>Done</div>"

    with gr.Blocks() as demo:
        inputs = [
            gr.Image(type="filepath"),
            gr.Textbox(),
            gr.Image(type="filepath"),
            gr.Number(),
            gr.Textbox(),
            gr.Checkbox(),
            gr.Number(),
            gr.Textbox(),
        ]
        outputs = [gr.Video(), gr.JSON(), gr.HTML()]
        gr.Button().click(
            generate,
            inputs,
            outputs,
            api_name="generate",
            concurrency_limit=GENERATE_CONCURRENCY,
        )
    demo.queue(default_concurrency_limit=GENERATE_CONCURRENCY).launch(
        server_name="127.0.0.1",
        server_port=port,
        allowed_paths=[str(out)],
        max_threads=2 * GENERATE_CONCURRENCY,
        quiet=True,
    )


if __name__ == "__main__":
    main()
