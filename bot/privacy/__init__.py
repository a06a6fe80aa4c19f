"""Privacy: retention and "forget me" (docs/data-inventory.md).

Log redaction, which every runtime installs, is common/redaction.py.
"""
