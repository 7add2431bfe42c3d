"""The local WaveSpeed emulator: a real HTTP server on loopback speaking the API's contract
(`server`), rendering labelled synthetic clips (`synthetic`). For offline use, tests and
benchmarks; `python emulator.py` at the top runs it on its own."""

from playground.emulator.server import (
    EmulatorConfig,
    Faults,
    RunningEmulator,
    create_app,
    main,
    start_in_thread,
)

__all__ = [
    "EmulatorConfig",
    "Faults",
    "RunningEmulator",
    "create_app",
    "main",
    "start_in_thread",
]
