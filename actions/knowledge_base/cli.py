"""Staff commands: `python -m actions.knowledge_base <command>` (app environment, repo root).

    validate        check the YAML content (exit 1 on errors)
    import          migrate the database and load the YAML into it (validated first)
    export          write the database's content back to YAML
    due-for-review  cards reviewed over 12 months ago or citing amended/replaced texts
    search          show how a question ranks, with scores (for debugging answers)
    evaluate        accuracy on paraphrase files, with every miss unless --summary (words only, no NLU)
    feedback        helpful / not helpful counts per card
    migrate         only bring the schema up to date
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from actions.knowledge_base.content import Content, read_content
from actions.knowledge_base.settings import REPO_ROOT, kb_content_dir, kb_database_url
from actions.knowledge_base.validation import errors_only, validate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m actions.knowledge_base", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="database URL (default: KB_DATABASE_URL, else var/kb.db)")
    parser.add_argument("--content", type=Path, help="content directory (default: actions/knowledge_base/content)")
    commands = parser.add_subparsers(dest="command", required=True)

    validate_cmd = commands.add_parser("validate", help="check the YAML content")
    validate_cmd.add_argument("--domain", type=Path, default=REPO_ROOT / "domain.yml",
                              help="domain.yml whose intents cards may use")
    validate_cmd.add_argument("--quiet", action="store_true", help="errors only, no warnings")
    import_cmd = commands.add_parser("import", help="load the YAML into the database")
    import_cmd.add_argument("--force", action="store_true", help="reload even if the content did not change")
    export_cmd = commands.add_parser("export", help="write the database's content to YAML files")
    export_cmd.add_argument("--out", type=Path, required=True, help="directory to write into")
    review_cmd = commands.add_parser("due-for-review", help="cards to review again")
    review_cmd.add_argument("--as-of", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)")
    review_cmd.add_argument("--days", type=int, default=365, help="review age limit in days (default 365)")
    search_cmd = commands.add_parser("search", help="rank the cards for a question, with scores")
    search_cmd.add_argument("question")
    search_cmd.add_argument("--intent", help="the NLU intent to assume")
    search_cmd.add_argument("--intent-confidence", type=float, default=1.0)
    search_cmd.add_argument("--audience", choices=("child", "parent"))
    search_cmd.add_argument("--limit", type=int, default=8)
    search_cmd.add_argument("--yaml", action="store_true", help="rank the YAML content directly, without the database")
    evaluate_cmd = commands.add_parser("evaluate", help="accuracy on paraphrase files (YAML content, no NLU)")
    evaluate_cmd.add_argument("files", nargs="+", type=Path, help="YAML with a list `questions` of "
                                                                  "{q, audience, expect_card, variant}")
    evaluate_cmd.add_argument("--summary", action="store_true",
                              help="rates only, no misses (for held-out sets, which must not be read while tuning)")
    commands.add_parser("feedback", help="helpful / not helpful counts per card")
    commands.add_parser("migrate", help="bring the database schema up to date")

    args = parser.parse_args(argv)
    content_dir = (args.content or kb_content_dir()).resolve()
    handler = {
        "validate": _validate, "import": _import, "export": _export, "due-for-review": _due_for_review,
        "search": _search, "evaluate": _evaluate, "feedback": _feedback, "migrate": _migrate,
    }[args.command]
    return handler(args, content_dir)


def _database(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from actions.knowledge_base.database import KnowledgeBaseDatabase

    return KnowledgeBaseDatabase(args.database or kb_database_url())


def _validate(args: argparse.Namespace, content_dir: Path) -> int:
    reading = read_content(content_dir)
    problems = validate(reading.content, reading.problems, known_intents=_domain_intents(args.domain))
    errors = errors_only(problems)
    for problem in problems:
        if problem.severity == "error" or not args.quiet:
            print(problem)
    summary = (f"{len(reading.content.cards)} cards in {len(reading.content.topics)} topics, "
               f"{len(reading.content.documents)} documents: {len(errors)} error(s), "
               f"{len(problems) - len(errors)} warning(s)")
    print(summary, file=sys.stderr)
    return 1 if errors else 0


def _domain_intents(domain: Path) -> set[str] | None:
    if not domain.is_file():
        return None
    import yaml

    data = yaml.safe_load(domain.read_text(encoding="utf-8")) or {}
    intents = set()
    for item in data.get("intents") or []:
        intents.add(next(iter(item)) if isinstance(item, dict) else str(item))
    return intents


def _import(args: argparse.Namespace, content_dir: Path) -> int:
    from actions.knowledge_base.loader import ContentError, ensure_loaded

    database = _database(args)
    try:
        result = ensure_loaded(database, content_dir, force=args.force)
    except ContentError as error:
        print(error, file=sys.stderr)
        return 1
    errors = errors_only(result.problems)
    if errors and not result.loaded:
        print(f"Not loaded: the content has {len(errors)} error(s); run `validate`. "
              "The previous content stays in service.", file=sys.stderr)
        return 1
    print("loaded" if result.loaded else "unchanged", f"{result.card_count} cards", f"hash {result.content_hash[:12]}")
    if result.skipped_cards:
        print(f"left out until fixed (run `validate`): {', '.join(result.skipped_cards)}", file=sys.stderr)
        return 1
    return 0


def _export(args: argparse.Namespace, content_dir: Path) -> int:
    from actions.knowledge_base.content import dump_content
    from actions.knowledge_base.loader import read_content_from_database

    database = _database(args)
    database.migrate()
    with database.session() as session:
        content = read_content_from_database(session)
    for path in dump_content(content, args.out):
        print(path)
    return 0


def _due_for_review(args: argparse.Namespace, content_dir: Path) -> int:
    from actions.knowledge_base.review import due_for_review

    content = read_content(content_dir).content
    due = due_for_review(content, args.as_of or dt.date.today(), args.days)
    for item in due:
        print(f"{item.card.source_file}: card '{item.card.id}': " + "; ".join(item.reasons))
    print(f"{len(due)} of {len(content.cards)} cards due for review", file=sys.stderr)
    return 0


def _search(args: argparse.Namespace, content_dir: Path) -> int:
    from actions.knowledge_base.service import KnowledgeBase, UserMessage

    content = read_content(content_dir).content if args.yaml else _served_content(args, content_dir)
    kb = KnowledgeBase(content)
    message = UserMessage(args.question, args.intent, args.intent_confidence if args.intent else 0.0)
    ranking = kb.rank(message, args.audience, limit=args.limit)
    print(f"{'#':>2} {'score':>6} {'quest':>6} {'card':>6} {'bonus':>6}  card / best matching example question")
    for number, scored in enumerate(ranking, start=1):
        print(f"{number:>2} {scored.score:6.3f} {scored.question_score:6.3f} {scored.card_score:6.3f} "
              f"{scored.bonus:6.3f}  {scored.card_id}\n{'':31}{scored.best_question}")
    decision = kb.index.decide(ranking)
    thresholds = kb.index.thresholds
    print(f"decision: {decision.kind} {list(decision.card_ids)} confidence {decision.confidence:.3f} "
          f"(answer >= {thresholds.answer}, clarify >= {thresholds.clarify})")
    return 0


def _evaluate(args: argparse.Namespace, content_dir: Path) -> int:
    from actions.knowledge_base.evaluation import evaluate, read_paraphrases, report
    from actions.knowledge_base.service import KnowledgeBase

    kb = KnowledgeBase(read_content(content_dir).content)
    print(report(evaluate(kb, read_paraphrases(args.files)), misses=not args.summary))
    return 0


def _served_content(args: argparse.Namespace, content_dir: Path) -> Content:
    from actions.knowledge_base.loader import ensure_loaded, read_content_from_database

    database = _database(args)
    ensure_loaded(database, content_dir)
    with database.session() as session:
        return read_content_from_database(session)


def _feedback(args: argparse.Namespace, content_dir: Path) -> int:
    from actions.knowledge_base.feedback import feedback_summary

    database = _database(args)
    database.migrate()
    rows = feedback_summary(database)
    for row in rows:
        print(f"{row.card_id}: {row.helpful} helpful, {row.not_helpful} not helpful")
    if not rows:
        print("no feedback yet", file=sys.stderr)
    return 0


def _migrate(args: argparse.Namespace, content_dir: Path) -> int:
    _database(args).migrate()
    print("schema up to date")
    return 0
