"""The Rasa engine's own code (engine environment): what Rasa loads and how it starts.

  tracker_store   EncryptedSQLTrackerStore: Rasa's SQL tracker store, each event encrypted
  lock_store      TicketSafeRedisLockStore: Rasa's Redis lock store without the endless wait
  rekey           `python -m engine.rekey <url>`: every tracker event under the newest key
  launch          the engine container's entry point (`python -m engine.launch run ...`)

Modules here import only rasa, cryptography, SQLAlchemy and the standard library (and the
standard-library-only log redaction): the Rasa server imports them, and the app
environment's packages are not installed there.
"""
