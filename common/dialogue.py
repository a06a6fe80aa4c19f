"""The dialogue contract: the names and messages the runtimes exchange.

The Rasa engine (nlu/) writes a `risk` field into every parse result; the action
server (actions/) reads it, answers and, when a counsellor is needed, sends the
gateway a custom message it never shows to the person,

    {"handoff": {"risk": "imminent|high|concern", "category": "...",
                 "consent": "given|not_required|declined"}}

which the gateway (bot/rasa_client.py, bot/cases/service.py) reads to open or
update a case. When a counsellor closes the case, the gateway resumes the Rasa
conversation, clears `handoff_requested` and runs `action_handoff_check_in`.

Standard library only (see common/__init__.py). The action and slot names are
declared in domain.yml; tests/common checks that they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# ---- risk levels, lowest first (nlu/risk_field.py writes the same ones) -------------------

NONE = "none"
CONCERN = "concern"
HIGH = "high"
IMMINENT = "imminent"
RISK_LEVELS = (NONE, CONCERN, HIGH, IMMINENT)
RISK_RANK = {level: rank for rank, level in enumerate(RISK_LEVELS)}
# The levels a case can have: every level but "none".
CASE_RISK_LEVELS = (CONCERN, HIGH, IMMINENT)

# ---- what the person said to the offer of a counsellor ------------------------------------

CONSENT_GIVEN = "given"
CONSENT_NOT_REQUIRED = "not_required"  # imminent danger: a counsellor is asked at once
CONSENT_DECLINED = "declined"  # "information only": a record, no transcript

# ---- action and slot names the gateway uses (declared in domain.yml) ----------------------

ACTION_LISTEN = "action_listen"
# Run by the gateway when a counsellor closes a case: the bot is back, briefly.
ACTION_HANDOFF_CHECK_IN = "action_handoff_check_in"
# True once a counsellor was asked for; the gateway clears it when the case closes.
SLOT_HANDOFF_REQUESTED = "handoff_requested"

# ---- the handoff instruction (action server -> gateway) -----------------------------------

HANDOFF_KEY = "handoff"


@dataclass(frozen=True)
class HandoffInstruction:
    """`{"handoff": {"risk", "category", "consent"}}`, as written; the gateway validates it."""

    risk: str
    category: str
    consent: str

    def as_custom(self) -> dict[str, dict[str, str]]:
        """The custom message the action server sends (`json_message`)."""
        return {HANDOFF_KEY: {"risk": self.risk, "category": self.category, "consent": self.consent}}

    @classmethod
    def from_custom(cls, custom: Any) -> HandoffInstruction | None:
        """The instruction in a custom message, None if it carries none; missing fields are ""."""
        data = custom.get(HANDOFF_KEY) if isinstance(custom, Mapping) else None
        if not isinstance(data, Mapping):
            return None
        return cls(*(str(data.get(name) or "") for name in ("risk", "category", "consent")))


def is_handoff_instruction(custom: Any) -> bool:
    """A custom message addressed to the gateway (never shown to the person)."""
    return isinstance(custom, Mapping) and isinstance(custom.get(HANDOFF_KEY), Mapping)
