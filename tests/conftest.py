"""Setup shared by every test folder (loaded in both environments: nothing here needs
more than the standard library, pytest and devtools/).

Run from the repository root with PYTHONPATH set to it (the Makefile does): tests import
the project, devtools/ and each other's helpers as packages (`tests.gateway.gateway_support`).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.fake_rasa import FakeRasa

# Starlette 1.x suggests "httpx2" for its test client; httpx works and is what we ship.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
with contextlib.suppress(ImportError):  # the app environment: imported once, while the filter holds
    import fastapi.testclient  # noqa: F401


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    """A fake Rasa speaking real HTTP on 127.0.0.1 (devtools/fake_rasa.py)."""
    with FakeRasa() as fake:
        yield fake


# Debian's Chromium, driven by Playwright (the console's and the web chat's browser tests).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for the module's tests (the app environment has Playwright)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/install_system_packages.sh app installs it")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()
