"""What a test does when a service or artefact it needs is missing.

On a developer's machine it is skipped, saying what is missing and where it
was looked for. In CI (`CI` set, as `.ci/run` does) it fails instead: the CI
machine is meant to have PostgreSQL, Redis, the trained model and both
environments, so a missing one is a broken setup, not a reason to pass.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: required here)", pytrace=False)
    pytest.skip(reason)
