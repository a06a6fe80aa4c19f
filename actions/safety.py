"""The risk response: what the bot does when triage finds danger.

SafetyNetPolicy (nlu/safety_policy.py) sends every message whose triage says
`escalate` or `check_in` here, and the danger intents come here by rule, so
this one action owns the first reply to any disclosure.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.safety_messages import replies_for

LEVELS = ("none", "concern", "high", "imminent")


def risk_of(tracker: Tracker) -> dict[str, Any]:
    """The triage result of the latest user message (see docs/architecture.md)."""
    risk = (tracker.latest_message or {}).get("risk") or {}
    level = risk.get("level") if risk.get("level") in LEVELS else "none"
    return {**risk, "level": level}


class ActionRespondToRisk(Action):
    def name(self) -> str:
        return "action_respond_to_risk"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        risk = risk_of(tracker)
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name") or ""
        categories = {s.get("category", "") for s in risk.get("signals") or []}
        # A danger intent whose triage came out "none" (for example a negated
        # sentence the classifier still read as a disclosure) gets the gentle
        # check-in question: asking costs little, missing a child costs a lot.
        level = risk["level"] if risk["level"] != "none" else "concern"
        for reply in replies_for(level, intent, categories):
            buttons = [{"title": t, "payload": p} for t, p in reply.buttons]
            dispatcher.utter_message(text=reply.text, buttons=buttons or None)
        return [SlotSet("risk_level", level)]
