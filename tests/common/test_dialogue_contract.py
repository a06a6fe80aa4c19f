"""The dialogue contract (common/dialogue.py) is what the runtimes really use: the names are
in domain.yml, nlu writes the same risk levels, and the handoff instruction the action server
writes is the one the gateway reads."""

from __future__ import annotations

from pathlib import Path

import yaml

from common import dialogue
from common.dialogue import HandoffInstruction, is_handoff_instruction

REPO = Path(__file__).resolve().parents[2]


def test_nlu_writes_the_contracts_risk_levels() -> None:
    # nlu imports nothing from the project, so it spells the levels itself (nlu/risk_field.py).
    from nlu import risk_field

    assert risk_field.LEVELS == dialogue.RISK_LEVELS
    assert risk_field.LEVEL_RANK == dialogue.RISK_RANK


def test_the_action_and_slot_names_are_the_domains() -> None:
    domain = yaml.safe_load((REPO / "domain.yml").read_text(encoding="utf-8"))
    assert dialogue.ACTION_HANDOFF_CHECK_IN in domain["actions"]
    assert dialogue.SLOT_HANDOFF_REQUESTED in domain["slots"]


def test_the_handoff_instruction_reads_back_as_written() -> None:
    written = HandoffInstruction(dialogue.HIGH, "physical_violence", dialogue.CONSENT_GIVEN).as_custom()
    assert written == {"handoff": {"risk": "high", "category": "physical_violence", "consent": "given"}}
    assert is_handoff_instruction(written)
    assert HandoffInstruction.from_custom(written) == HandoffInstruction("high", "physical_violence", "given")


def test_a_custom_message_without_the_instruction_is_none() -> None:
    assert HandoffInstruction.from_custom({"image": "x"}) is None
    assert HandoffInstruction.from_custom({"handoff": "high"}) is None
    assert not is_handoff_instruction({"handoff": ["high"]})
    assert HandoffInstruction.from_custom({"handoff": {}}) == HandoffInstruction("", "", "")
