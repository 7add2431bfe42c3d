"""The Gradio page over the `Playground` service: layout, wiring, handlers, views."""
