"""The gateway: channel adapters, message store, web chat API and the one Rasa client.

Runs in the app environment. Nothing here is imported by the Rasa engine; what the
runtimes share is in `common/` (standard library only).
"""
