"""`make ask` / `make ask-batch`: scripts/ask.py prints what the bot would answer, as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.kb.kb_paths import FIXTURE_CONTENT, FIXTURES, REPO_ROOT
from tests.unavailable import unavailable

ASK = REPO_ROOT / "scripts" / "ask.py"


def ask(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "RASA_TELEMETRY_ENABLED": "false",
           "KB_CONTENT_DIR": str(FIXTURE_CONTENT), "KB_DATABASE_URL": f"sqlite:///{tmp_path / 'kb.db'}",
           "DATA_DIR": str(tmp_path / "data")}
    return subprocess.run([sys.executable, str(ASK), *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def test_one_question_prints_one_json_object(tmp_path: Path) -> None:
    result = ask(tmp_path, "--no-nlu", "Kẻ hiếp dâm trẻ dưới 16 tuổi bị tội gì?", "--audience", "parent")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    answer = json.loads(lines[0])
    assert set(answer) == {"answer", "citations", "card", "confidence"}
    assert answer["card"] == "penalty-sexual-abuse"
    assert answer["citations"] == [{"document": "100/2015/QH13", "article": "142"},
                                   {"document": "100/2015/QH13", "article": "146"}]
    assert "Căn cứ: Điều 142, 146 Bộ luật Hình sự 2015 (số 100/2015/QH13" in answer["answer"]
    assert 0.0 < answer["confidence"] <= 1.0


def test_an_unclear_question_gets_no_card(tmp_path: Path) -> None:
    answer = json.loads(ask(tmp_path, "--no-nlu", "cách làm bánh flan").stdout)
    assert answer["card"] is None and answer["citations"] == []
    assert "chưa hiểu rõ" in answer["answer"]


def test_batch_keeps_input_order(tmp_path: Path) -> None:
    questions = yaml.safe_load((FIXTURES / "paraphrases.yml").read_text(encoding="utf-8"))["questions"]
    out = tmp_path / "answers.jsonl"
    result = ask(tmp_path, "--no-nlu", "--batch", str(FIXTURES / "paraphrases.yml"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [a["card"] for a in answers] == [q["expect_card"] for q in questions]


def test_through_the_trained_model(tmp_path: Path) -> None:
    model = os.environ.get("MODEL")
    if not model or not Path(model).exists():
        unavailable("no trained model: set MODEL (make test-app does)")
    result = ask(tmp_path, "--model", model, "--verbose", "Mức phạt tù cho tội dâm ô với trẻ em là bao nhiêu?")
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout)
    assert answer["intent"], answer  # the model classified it
    assert answer["card"] == "penalty-sexual-abuse", answer
