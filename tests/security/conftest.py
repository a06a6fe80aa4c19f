"""Fixtures for the security tests: a gateway app on a fake Rasa (real HTTP on loopback)."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gateway"))  # fake_rasa, gateway_support

from fake_rasa import FakeRasa  # noqa: E402

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    with FakeRasa() as fake:
        yield fake
