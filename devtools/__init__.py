"""Local stand-ins for outside platforms (fake Telegram Bot API, fake Zalo OA) and the
one `wait_for` of tests and fakes (waiting.py),
for tests and the demo mode (`DEMO_CHANNELS=1 make run`). Loopback only."""
