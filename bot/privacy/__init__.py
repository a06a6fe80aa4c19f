"""Privacy: log redaction, retention and "forget me" (docs/data-inventory.md).

`redaction` is standard library only: the Rasa engine process imports it too
(scripts/stack.py), so nothing here imports the web framework at package level.
"""
