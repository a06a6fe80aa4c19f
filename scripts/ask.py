"""Answer questions from the knowledge base exactly as the bot would; print JSON.

    python scripts/ask.py --model MODEL "Em có quyền gì?" [--audience child|parent]
    python scripts/ask.py --model MODEL --batch questions.yml --out answers.jsonl

Run with the app environment's python. The intent and entities come from the
trained Rasa model (engine environment): either a running Rasa server
(`--rasa-url`, token from bot.settings) or, by default, one
`scripts/rasa_parse.py` subprocess for all questions (one model load). Then
`KnowledgeBase.respond()` builds the reply: the same call `action_answer_question`
makes. Output, one object per question:
    {"answer": str, "citations": [{"document": "102/2016/QH13", "article": "25"}],
     "card": id or null, "confidence": float}
A batch file is YAML with a list `questions` of {q, audience} (other keys ignored);
output lines follow input order.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


from scripts.yaml_items import read_items  # noqa: E402
from actions.knowledge_base.service import (  # noqa: E402
    AUDIENCES,
    ConversationState,
    KnowledgeBase,
    Reply,
    UserMessage,
    default_knowledge_base,
)


def read_questions(path: Path) -> list[dict[str, Any]]:
    return read_items(path, "questions", "q")  # items {q, audience}; other keys ignored


# ----------------------------------------------------------------------------- intent and entities


def parse_with_engine(texts: list[str], model: Path, engine_python: str) -> list[dict[str, Any]]:
    """One engine-environment subprocess parses every text with one model load."""
    command = [engine_python, str(ROOT / "scripts" / "rasa_parse.py"), "--model", str(model)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    stdin = "".join(json.dumps(text, ensure_ascii=False) + "\n" for text in texts)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        result = subprocess.run(command, input=stdin, stdout=subprocess.PIPE, stderr=log, text=True,
                                encoding="utf-8", cwd=ROOT, env=env)
        if result.returncode != 0:
            log.seek(0)
            sys.stderr.write(log.read()[-4000:])
            raise SystemExit(f"parsing with the Rasa model failed (exit {result.returncode})")
    parses = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    if len(parses) != len(texts):
        raise SystemExit(f"expected {len(texts)} parse results, got {len(parses)}")
    return parses


def parse_with_server(texts: list[str], rasa_url: str) -> list[dict[str, Any]]:
    import httpx

    from bot.settings import get_settings

    token = get_settings().rasa_token
    with httpx.Client(base_url=rasa_url.rstrip("/"), timeout=30) as client:
        parses = []
        for text in texts:
            response = client.post("/model/parse", params={"token": token}, json={"text": text})
            response.raise_for_status()
            parses.append(response.json())
        return parses


def text_only(texts: list[str]) -> list[dict[str, Any]]:
    """No NLU (--no-nlu): retrieval from the words alone, for content work without a model."""
    return [{"text": text, "intent": None, "entities": []} for text in texts]


# ----------------------------------------------------------------------------- answering


def answer(knowledge_base: KnowledgeBase, parse: dict[str, Any], audience: str | None) -> Reply:
    """What the bot would reply, for a person whose audience we know (or asked about already)."""
    state = ConversationState(audience=audience if audience in AUDIENCES else None, audience_asked=True)
    return knowledge_base.respond(UserMessage.from_parse(parse), state)


def as_json(reply: Reply, parse: dict[str, Any], verbose: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "answer": reply.answer_text,
        "citations": [{"document": c.document, "article": c.article} for c in reply.citations],
        "card": reply.card_id,
        "confidence": round(float(reply.confidence), 4),
    }
    if verbose:
        intent = parse.get("intent") or {}
        result.update({"kind": reply.kind, "register": reply.register, "intent": intent.get("name"),
                       "intent_confidence": intent.get("confidence")})
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("question", nargs="?")
    parser.add_argument("--audience", choices=("child", "parent"), default=None)
    parser.add_argument("--batch", type=Path, help="YAML with a list `questions` of {q, audience}")
    parser.add_argument("--out", type=Path, help="with --batch: where to write the JSON lines (default stdout)")
    parser.add_argument("--model", type=Path, default=os.environ.get("MODEL") or None, help="trained model (.tar.gz)")
    parser.add_argument("--engine-python", default=os.environ.get("ENGINE_PYTHON") or None)
    parser.add_argument("--rasa-url", help="parse through a running Rasa server instead of loading the model")
    parser.add_argument("--no-nlu", action="store_true", help="skip intent classification (retrieval by words only)")
    parser.add_argument("--verbose", action="store_true", help="add kind, register and intent to each object")
    args = parser.parse_args()
    if (args.question is None) == (args.batch is None):
        parser.error("give one question, or --batch FILE")

    items = read_questions(args.batch) if args.batch else [{"q": args.question, "audience": args.audience}]
    texts = [item["q"] for item in items]
    if args.no_nlu:
        parses = text_only(texts)
    elif args.rasa_url:
        parses = parse_with_server(texts, args.rasa_url)
    else:
        if args.model is None:
            parser.error("--model (or MODEL=...) is needed to classify the intent; or use --rasa-url / --no-nlu")
        engine_python = args.engine_python or subprocess.run(
            [str(ROOT / "scripts" / "setup_env.sh"), "--path", "engine"], capture_output=True, text=True,
            check=True).stdout.strip()
        parses = parse_with_engine(texts, args.model, engine_python)

    knowledge_base = default_knowledge_base()
    out = args.out.open("w", encoding="utf-8") if args.out else sys.stdout
    try:
        for item, parse in zip(items, parses, strict=True):
            audience = item.get("audience") if args.batch else args.audience
            reply = answer(knowledge_base, parse, audience)
            out.write(json.dumps(as_json(reply, parse, args.verbose), ensure_ascii=False) + "\n")
    finally:
        if args.out:
            out.close()
    if args.out:
        print(f"{len(items)} answers written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
