"""The legal knowledge base: answers that cite Vietnamese law, for children and for parents.

Modules, one concern each:
  content     the reviewed YAML as Python objects (read and write)
  validation  rules the content must follow before it is loaded
  provenance  which numbers need a source, and sources amended since they were checked
  models      database tables (SQLAlchemy 2), migrated by Alembic (migrations/)
  database    engine, sessions, `migrate()`
  loader      YAML <-> database, `ensure_loaded()` at start
  text        the NLU's canonical form, so both read a message alike
  retrieval   the in-memory ranking of cards (concepts.yml: words that mean the same)
  audience    child or parent, from the wording
  citations   the "Căn cứ: ..." basis line (with the card's check date), written and parsed
  phrases     the fixed sentences around answers
  replies     messages and buttons built from a card
  service     `KnowledgeBase.respond()`: the one answering path (action and `make ask`)
  editing     card versions: drafts, four-eyes approval, publication, restore; the YAML and the console
  unanswered  questions the bot could not answer confidently, redacted, grouped, kept for a while
  feedback    "was this helpful?" storage
  review      cards due for review
  evaluation  accuracy on paraphrase sets (tests/kb)
  cli         staff commands (`python -m actions.knowledge_base --help`)
"""
