"""Put every event of Rasa's tracker store under the newest tracker key.

    <engine python> -m engine.rekey <database url>
    e.g. sqlite:////srv/tre-em/data/rasa_tracker.db
         postgresql://postgres@127.0.0.1:5432/rasa_tracker

Keys come from the environment as for Rasa (TRACKER_ENCRYPTION_KEYS, newest first, or the
development key file under $DATA_DIR). Rows under an older key are re-encrypted under the
newest one, and rows written before encryption (plain JSON) are encrypted: run it once
after switching an existing deployment to the encrypted store, and after adding a new key;
then the old keys can be removed. Safe while Rasa runs (it only rewrites `data` of existing
rows, by id) and safe to repeat. Prints counts only.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import sqlalchemy as sa

from engine.tracker_store import EventCipher, TrackerKeyError, keys_from_environment

BATCH = 500


@dataclass
class RekeyReport:
    rows: int = 0
    rewritten: int = 0

    def summary(self) -> str:
        return f"events={self.rows} re-encrypted={self.rewritten} already-current={self.rows - self.rewritten}"


def rekey(engine: sa.engine.Engine, cipher: EventCipher, batch: int = BATCH) -> RekeyReport:
    report = RekeyReport()
    last_id = 0
    while True:
        with engine.begin() as connection:
            rows = connection.execute(
                sa.text("SELECT id, data FROM events WHERE id > :last ORDER BY id LIMIT :batch"),
                {"last": last_id, "batch": batch},
            ).fetchall()
            if not rows:
                return report
            for row_id, data in rows:
                report.rows += 1
                if data is None or cipher.is_current(data):
                    continue
                # `AND data = :old`: a row changed meanwhile is left for the next run.
                connection.execute(
                    sa.text("UPDATE events SET data = :new WHERE id = :id AND data = :old"),
                    {"new": cipher.rekey(data), "id": row_id, "old": data},
                )
                report.rewritten += 1
            last_id = rows[-1][0]


def engine_url(url: str) -> str:
    """The gateway's form (postgresql+psycopg://) uses a driver the engine environment lacks."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="SQLAlchemy URL of Rasa's tracker database")
    args = parser.parse_args(argv)
    try:
        cipher = EventCipher(keys_from_environment())
    except TrackerKeyError as error:
        print(f"rekey: {error}", file=sys.stderr)
        return 2
    engine = sa.create_engine(engine_url(args.url))
    try:
        report = rekey(engine, cipher)
    finally:
        engine.dispose()
    print(f"rekey: {report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
