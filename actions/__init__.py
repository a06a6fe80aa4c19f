"""Custom actions for the Rasa action server (app environment).

rasa-sdk imports every module of this package and registers each Action
subclass it finds, so one module per concern needs no central registry.
"""

from common.redaction import install as _redact_logs

_redact_logs()  # no phone numbers, e-mails, ids, addresses or names in the action server's logs
