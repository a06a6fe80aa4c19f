"""What the gateway's worker processes share while they run: shared state that may be lost.

With `REDIS_URL` set, several gateway workers (and machines) share, through Redis:
- the per-person rate limits (`rate_limits.py`): a flood split across workers is limited once;
- the console's live feed (`feed_bus.py`): a console on worker B hears of a case opened on A;
- the per-conversation turn lock (`turn_locks.py`): one turn of a conversation at a time on
  any worker, and a counsellor's "take" waits for the turn in flight.
Without it, the same interfaces work in memory for one process (`build(settings)` chooses).

What must survive stays in the app database, never here: the handoff lock (the case row,
status `active`), deduplication of channel updates (unique rows), the outbox, the Zalo
token refresh (a row lock, bot/channels/zalo_tokens.py). Redis here keeps nothing on disk
and may be restarted or flushed at any time; losing it must not lose a child's message or
un-silence a conversation a counsellor has taken. So everything here fails open: if Redis is
unreachable, limits and locks fall back to what one process can do, and a taken conversation
stays silent because every worker reads the case row before asking Rasa.

`bot.coordination.build.build(settings)` chooses the implementations. This package
file imports nothing, so the relay can import its turn locks without a cycle.
"""

