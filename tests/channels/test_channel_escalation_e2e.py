"""The whole escalation path on Telegram and on Zalo, not only in the web chat.

Real Rasa server, action server and gateway (devtools/stack.py), the fake
Telegram Bot API and fake Zalo OA of devtools/, a counsellor in the console
over HTTP (tests/e2e/test_handoff_e2e.py is the web chat version): a child
discloses abuse, says yes to a counsellor, the counsellor takes the case,
they talk while Rasa stays silent, the counsellor closes and the bot is back.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.channels.channel_support import channel_stack

from devtools.fake_telegram import FakeTelegram
from devtools.fake_zalo import FakeZalo
from devtools.stack import Stack
# The end-to-end fixtures (model, engine python, network guard log) of tests/e2e.
from tests.e2e.conftest import engine_python, netguard_log, trained_model  # noqa: F401
from tests.e2e.e2e_support import REPO_ROOT, Console, bot_events, cases, create_staff, stack_env, tracker
from devtools.waiting import wait_for

pytestmark = pytest.mark.e2e

DISCLOSURE = "bo em danh em dau lam, em so lam"
TALK_NOW = "Nói chuyện với tư vấn viên ngay"
COUNSELLOR_SAYS = "Chào em, chị là Lan. Em đang ở đâu, có an toàn không?"
CHILD_SAYS = "em dang o nha mot minh, em so lam"
STAFF_CHAT = 777000  # the counsellor's own Telegram chat with the bot
QUIET_SECONDS = 1.0  # after the gateway routed the child's message to the counsellor


@pytest.fixture(scope="module")
def escalation_stack(platforms: tuple[FakeTelegram, FakeZalo, int], trained_model: Path,  # noqa: F811
                     engine_python: str, netguard_log: Path,  # noqa: F811
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    telegram, zalo, bot_port = platforms
    # Staffed around the clock: the case waits for a counsellor (not the out-of-hours notice).
    with channel_stack(telegram, zalo, bot_port, model=trained_model, engine_python=engine_python,
                       netguard_log=netguard_log, data_dir=tmp_path_factory.mktemp("escalation-stack"),
                       STAFFED_HOURS="always") as stack:
        create_staff(stack, (("lan", "Lan", "counsellor", "1"),))
        # Lan linked her own Telegram chat for discreet alerts, as the README says.
        subprocess.run([sys.executable, "-m", "bot.users", "alerts", "lan", str(STAFF_CHAT)], check=True,
                       cwd=REPO_ROOT, env={**os.environ, **stack_env(stack)}, capture_output=True)
        yield stack


class TelegramChild:
    """A child in a Telegram chat with the bot."""

    def __init__(self, fake: FakeTelegram, chat_id: int) -> None:
        self.fake, self.chat_id = fake, chat_id
        self.rasa_sender_id = f"telegram:{chat_id}"

    def says(self, text: str) -> None:
        self.fake.user_says(self.chat_id, text)

    def received(self) -> list[str]:
        return [m.text for m in self.fake.bot_messages(self.chat_id, include_deleted=True)]

    def offered(self, title: str) -> tuple[int, int] | None:
        """(message id, button index) of the inline keyboard button `title`, latest first."""
        for message in reversed(self.fake.bot_messages(self.chat_id)):
            rows = (message.reply_markup or {}).get("inline_keyboard") or []
            titles = [b["text"] for row in rows for b in row]
            if title in titles:
                return message.message_id, titles.index(title)
        return None

    def chooses(self, title: str) -> None:
        """Press the button: a callback query, which the gateway answers."""
        found = self.offered(title)
        assert found is not None, f"no button {title!r} in {self.received()}"
        answered = len(self.fake.callback_answers)
        self.fake.user_presses(self.chat_id, *found)
        self.fake.wait_for(lambda: len(self.fake.callback_answers) > answered, timeout=30)


class ZaloChild:
    """A child writing to the Official Account; choices arrive as numbered lines."""

    def __init__(self, fake: FakeZalo, user_id: str) -> None:
        self.fake, self.user_id = fake, user_id
        self.rasa_sender_id = f"zalo:{fake.oa_id}:{user_id}"

    def says(self, text: str) -> None:
        self.fake.user_says(self.user_id, text)

    def received(self) -> list[str]:
        return [m.text for m in self.fake.sent_to(self.user_id)]

    def offered(self, title: str) -> str | None:
        """The number of the choice `title` in the latest message that lists it."""
        for text in reversed(self.received()):
            found = re.search(rf"^(\d+)\. {re.escape(title)}$", text, flags=re.MULTILINE)
            if found:
                return found.group(1)
        return None

    def chooses(self, title: str) -> None:
        """Answer with the number of the choice."""
        number = self.offered(title)
        assert number is not None, f"no choice {title!r} in {self.received()}"
        self.says(number)


def wait_for_message(child: TelegramChild | ZaloChild, after: int, contains: str, timeout: float = 60.0) -> str:
    """The first message to the child, from index `after` on, that contains `contains`."""
    return wait_for(lambda: next((t for t in child.received()[after:] if contains in t), None),
                    f"{contains!r} to reach the child, who got {child.received()[after:]}", timeout)


@pytest.mark.parametrize("channel", ["telegram", "zalo"])
def test_a_child_on_a_messaging_channel_reaches_a_counsellor_and_the_bot_comes_back(
        channel: str, escalation_stack: Stack, platforms: tuple[FakeTelegram, FakeZalo, int]) -> None:
    stack = escalation_stack
    telegram, zalo, _ = platforms
    child = TelegramChild(telegram, 424242) if channel == "telegram" else ZaloChild(zalo, "8400000000000000777")
    counsellor = Console(stack, "lan")
    known_cases = {c["id"] for c in cases(stack)}
    alerts_before = len(telegram.bot_messages(STAFF_CHAT))

    # The disclosure, without diacritics: the safety reply with 111 and the consent choice.
    child.says(DISCLOSURE)
    safety = wait_for_message(child, 0, "111", timeout=90)
    wait_for(lambda: child.offered(TALK_NOW), f"the choice {TALK_NOW!r}", timeout=30)
    assert "111" in safety
    seen = len(child.received())
    child.chooses(TALK_NOW)
    wait_for_message(child, seen, "đang mời một tư vấn viên")

    # The case is in the counsellor's queue.
    queued = wait_for(lambda: [c for c in counsellor.http.get("/console/api/queue").json()["waiting"]
                               if c["id"] not in known_cases], "the case in the console queue", timeout=30)
    [case] = queued
    stored = next(c for c in cases(stack) if c["id"] == case["id"])
    assert (stored["risk"], stored["consent"], stored["status"]) == ("high", "given", "waiting")
    assert DISCLOSURE in counsellor.entries(case["id"])
    # Lan's Telegram chat got a discreet alert: the risk level, nothing of what the child wrote.
    alerts = wait_for(lambda: telegram.bot_messages(STAFF_CHAT)[alerts_before:], "the staff alert", timeout=30)
    assert [a.text for a in alerts] == ["Ca mới — mức CAO — mở bảng điều khiển"]

    # The counsellor takes it: the child is told, on the channel.
    seen = len(child.received())
    assert counsellor.post(f"/console/cases/{case['id']}/take").status_code == 303
    wait_for_message(child, seen, "Tư vấn viên Lan của Tổng đài 111 đã vào", timeout=30)
    assert tracker(stack, child.rasa_sender_id).get("paused") is True

    # The counsellor's reply reaches the child through the platform.
    seen = len(child.received())
    assert counsellor.post(f"/console/cases/{case['id']}/reply", text=COUNSELLOR_SAYS).status_code == 303
    wait_for_message(child, seen, COUNSELLOR_SAYS, timeout=30)

    # The child's answer goes to the counsellor; Rasa is not asked and nothing comes back.
    seen = len(child.received())
    bot_events_before = bot_events(tracker(stack, child.rasa_sender_id))
    child.says(CHILD_SAYS)
    wait_for(lambda: CHILD_SAYS in counsellor.entries(case["id"]), "the child's message in the case transcript",
             timeout=30)
    time.sleep(QUIET_SECONDS)  # a reply, if one were coming, would be on its way by now
    assert child.received()[seen:] == [], "the bot answered during the handoff"
    state = tracker(stack, child.rasa_sender_id)
    assert state.get("paused") is True
    assert bot_events(state) == bot_events_before, "Rasa answered during the handoff"
    assert CHILD_SAYS not in [e.get("text") for e in state["events"]]

    # The counsellor closes the case: the child is told and the bot is back.
    seen = len(child.received())
    assert counsellor.post(f"/console/cases/{case['id']}/close", outcome="supported").status_code == 303
    wait_for_message(child, seen, "đã kết thúc cuộc trò chuyện", timeout=30)
    wait_for_message(child, seen, "Mình là Mây đây", timeout=30)
    assert tracker(stack, child.rasa_sender_id).get("paused") is False
    closed = next(c for c in cases(stack) if c["id"] == case["id"])
    assert (closed["status"], closed["outcome"]) == ("closed", "supported")

    seen = len(child.received())
    bot_events_before = bot_events(tracker(stack, child.rasa_sender_id))
    child.says("cam on, em on roi")
    wait_for(lambda: child.received()[seen:], "the bot's reply after the handoff", timeout=60)
    wait_for(lambda: len(bot_events(tracker(stack, child.rasa_sender_id))) > len(bot_events_before),
             "Rasa's answer in its tracker", timeout=30)


def test_nothing_left_the_machine(escalation_stack: Stack, netguard_log: Path) -> None:  # noqa: F811
    assert not netguard_log.exists() or netguard_log.read_text() == ""
