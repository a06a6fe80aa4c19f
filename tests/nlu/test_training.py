"""One small end-to-end check: train a tiny model, parse, see the risk field and the
policy's action. Marked ``slow`` (about a minute); deselect with -m "not slow"."""

import asyncio
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from rasa.model_training import train

    out = tmp_path_factory.mktemp("models")
    result = train(
        domain=str(FIXTURES / "domain.yml"),
        config=str(FIXTURES / "config_tiny.yml"),
        training_files=[str(FIXTURES / "nlu.yml"), str(FIXTURES / "stories.yml")],
        output=str(out),
        fixed_model_name="tiny",
    )
    assert result.code == 0, "training failed"
    return result.model


@pytest.mark.slow
def test_risk_field_in_parse_result_and_tracker(model_path):
    from rasa.core.agent import load_agent

    async def run():
        agent = await load_agent(model_path=model_path)
        parsed = await agent.parse_message("em muốn chết, bố em đang cầm dao")
        safe = await agent.parse_message("xin chào")
        await agent.handle_text("bo e dang cam dao duoi danh e", sender_id="child")
        tracker = await agent.tracker_store.retrieve("child")
        return parsed, safe, tracker

    parsed, safe, tracker = asyncio.run(run())
    risk = parsed["risk"]
    assert set(risk) == {"level", "escalate", "check_in", "signals", "source", "danger_probability"}
    assert 0.0 <= risk["danger_probability"] <= 1.0  # the danger head of the linear classifier ran
    assert risk["escalate"] and risk["level"] == "imminent"
    assert safe["risk"]["level"] == "none" and not safe["risk"]["escalate"]
    # The tracker keeps the field and the safety net answered the disclosure.
    assert tracker.latest_message.parse_data["risk"]["escalate"]
    actions = [e.action_name for e in tracker.events if getattr(e, "action_name", None)]
    assert "action_respond_to_risk" in actions
    assert actions[-1] == "action_listen"
