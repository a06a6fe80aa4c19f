"""The gateway: channel adapters, message store, web chat API and the one Rasa client.

Runs in the app environment. Nothing here is imported by the Rasa engine's graph;
`text_guard` is standard library only, so `scripts/predict.py` (engine) reuses it.
"""
