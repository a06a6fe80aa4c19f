"""Paths of the knowledge-base test data (a module of its own: every test
directory has a conftest.py, so `from conftest import ...` would be ambiguous)."""

from __future__ import annotations

from pathlib import Path

KB_TESTS = Path(__file__).resolve().parent
REPO_ROOT = KB_TESTS.parent.parent
FIXTURES = KB_TESTS / "fixtures"
FIXTURE_CONTENT = FIXTURES / "content"
BROKEN = FIXTURES / "broken"
REAL_CONTENT = REPO_ROOT / "actions" / "knowledge_base" / "content"
