"""The counsellor console: login, live queue, case view, supervisor view (under /console)."""
