"""Staff commands: import, export, search, due-for-review, feedback (`python -m actions.knowledge_base`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from actions.knowledge_base.cli import main
from actions.knowledge_base.content import read_content
from tests.kb.kb_paths import FIXTURE_CONTENT, FIXTURES, REPO_ROOT


def test_import_then_unchanged_then_export(database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = ["--database", database_url, "--content", str(FIXTURE_CONTENT)]
    assert main([*base, "import"]) == 0
    assert capsys.readouterr().out.startswith("loaded 7 cards")
    assert main([*base, "import"]) == 0
    assert capsys.readouterr().out.startswith("unchanged 7 cards")
    assert main([*base, "export", "--out", str(tmp_path / "out")]) == 0
    exported = read_content(tmp_path / "out")
    assert exported.problems == []
    assert exported.content.cards == read_content(FIXTURE_CONTENT).content.cards


def test_search_shows_scores_and_the_decision(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    assert main(["--database", url, "--content", str(FIXTURE_CONTENT), "search", "dam o tre em bi phat the nao",
                 "--intent", "ask_law"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["#", "score", "quest", "card", "bonus"]
    assert "penalty-sexual-abuse" in lines[1]
    assert lines[-1].startswith("decision: answer ['penalty-sexual-abuse'] confidence")


def test_due_for_review_names_file_card_and_reason(capsys: pytest.CaptureFixture) -> None:
    assert main(["--content", str(FIXTURE_CONTENT), "due-for-review", "--as-of", "2026-11-28"]) == 0
    out = capsys.readouterr().out
    assert "rights.yml: card 'rights-child-age': last reviewed 2024-01-15" in out


def test_feedback_summary_when_empty(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--database", f"sqlite:///{tmp_path / 'kb.db'}", "feedback"]) == 0
    assert "no feedback yet" in capsys.readouterr().err


def test_the_module_runs_as_a_command() -> None:
    result = subprocess.run([sys.executable, "-m", "actions.knowledge_base", "--help"], cwd=REPO_ROOT,
                            capture_output=True, text=True, env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin",
                                                                  "RASA_TELEMETRY_ENABLED": "false"})
    assert result.returncode == 0, result.stderr
    for command in ("validate", "import", "export", "due-for-review", "search"):
        assert command in result.stdout


def test_evaluate_reports_rates_per_group(capsys: pytest.CaptureFixture) -> None:
    assert main(["--content", str(FIXTURE_CONTENT), "evaluate", str(FIXTURES / "paraphrases.yml")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split() == ["all", "12", "100.0%", "100.0%", "100.0%"]
    assert "variant=teencode" in out
