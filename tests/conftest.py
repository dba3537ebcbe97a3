"""Shared fixtures. Tests write only under pytest's tmp_path, never into data/generated."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class FakeClock:
    """A clock that only moves when told to: ``clock.advance(1.5)``."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
