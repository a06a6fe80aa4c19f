"""Fixtures for the case record and report tests: the console's (a real gateway app over the
fake Rasa, tests/console/conftest.py)."""

from tests.console.conftest import client, settings  # noqa: F401
