"""Escalation cases: records, the queue, the encrypted transcript, audit and alerts.

The dialogue decides that a person needs a counsellor (a custom `handoff`
message from the action server); `bot.handoff` turns that into a case here.
"""
