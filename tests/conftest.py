"""Shared pytest fixtures."""

from collections.abc import Iterator

import pytest

import emulator as emulator_module


@pytest.fixture
def emulator() -> Iterator[emulator_module.RunningEmulator]:
    """A fresh WaveSpeed emulator on a free loopback port, with fast (0.5 s) tasks."""
    config = emulator_module.EmulatorConfig(inference_seconds=0.5, jitter=0.0)
    with emulator_module.start_in_thread(config) as running:
        yield running
