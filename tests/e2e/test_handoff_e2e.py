"""Escalation and counsellor handoff against the real stack (Rasa, action server, gateway).

A child writes in the web chat page (a real browser), a counsellor works in
the console (another browser context): Playwright drives Debian's chromium.
Accounts are made with the CLI (`python -m bot.users`), as the README says.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.ports import free_port
from devtools.stack import REPO_ROOT, Stack
from tests.e2e.e2e_support import PASSWORD, Console, bot_events, cases, create_staff, tracker
from devtools.waiting import wait_for


pytestmark = pytest.mark.e2e

NETGUARD_DIR = REPO_ROOT / "tests" / "netguard"
IMMINENT_WAIT_LIMIT = 4  # seconds: the waiting-time alert fires within the test
ASK_FOR_A_PERSON = "cho em noi chuyen voi nguoi that duoc ko"


@pytest.fixture(scope="module")
def handoff_stack(trained_model: Path, engine_python: str, netguard_log: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("handoff-data")
    env = {"NETGUARD_LOG": str(netguard_log), "NETGUARD_MODE": "refuse", "APP_DATABASE_URL": f"sqlite:///{data_dir / 'app.db'}",
           "STAFFED_HOURS": "always", "QUEUE_CHECK_SECONDS": "1",
           "WAIT_LIMIT_IMMINENT_SECONDS": str(IMMINENT_WAIT_LIMIT),
           "RASA_REPLY_DEADLINE_SECONDS": "300"}  # the bot's own replies are checked (busy: tests/gateway)
    with Stack(model=trained_model, engine_python=engine_python, data_dir=data_dir, rasa_port=free_port(),
               actions_port=free_port(), bot_port=free_port(), extra_env=env,
               extra_pythonpath=[NETGUARD_DIR]) as running:
        create_staff(running, (("lan", "Lan", "counsellor", "1"), ("minh", "Minh", "counsellor", "2"),
                               ("ha", "Hà", "supervisor", "3")))
        yield running


# ---- helpers --------------------------------------------------------------------------------


def chat(stack: Stack, conversation: str, **body: str) -> list[dict[str, Any]]:
    response = httpx.post(f"{stack.bot_url}/api/webchat/{conversation}/messages", json=body, timeout=60,
                          trust_env=False)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def polled(stack: Stack, conversation: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{stack.bot_url}/api/webchat/{conversation}/messages", timeout=30, trust_env=False)
    return response.json()["messages"]


def new_conversation() -> str:
    import secrets

    return secrets.token_urlsafe(24)


# ---- the whole story, in two browsers ------------------------------------------------------------


def test_a_counsellor_takes_over_in_the_console_and_hands_back(handoff_stack: Stack, browser: Any) -> None:
    stack = handoff_stack
    counsellor = browser.new_context().new_page()
    counsellor.on("dialog", lambda dialog: dialog.accept())
    counsellor.goto(f"{stack.bot_url}/console/login")
    counsellor.fill("input[name=username]", "lan")
    counsellor.fill("input[name=password]", PASSWORD)
    counsellor.click("button[type=submit]")
    counsellor.wait_for_url("**/console/queue")
    counsellor.wait_for_selector("text=Không có ca nào đang chờ.")

    # The child, in the web chat page, without diacritics.
    child = browser.new_context().new_page()
    child.goto(f"{stack.bot_url}/")
    child.fill("#text", "bo em danh em dau lam, em so lam")
    child.click("#send")
    child.wait_for_selector("text=111", timeout=60_000)
    child.click("button.choice:has-text('Nói chuyện với tư vấn viên ngay')", timeout=30_000)
    child.wait_for_selector("text=đang mời một tư vấn viên", timeout=60_000)

    # The case appears in the open queue by itself (server-sent events, no reload).
    row = counsellor.wait_for_selector("#queue-body tr[data-case-id]", timeout=15_000)
    assert "Cao" in row.inner_text()
    [case] = cases(stack)
    assert (case["risk"], case["consent"], case["status"]) == ("high", "given", "waiting")
    counsellor.click("#queue-body a:has-text('Mở ca')")
    counsellor.wait_for_selector("text=bo em danh em dau lam")
    counsellor.click("#take")
    counsellor.wait_for_selector("#reply-text")

    child.wait_for_selector("text=Tư vấn viên Lan của Tổng đài 111 đã vào", timeout=30_000)
    counsellor.fill("#reply-text", "Chào em, chị là Lan. Em đang ở đâu, có an toàn không?")
    counsellor.click("#send-reply")
    child.wait_for_selector("text=chị là Lan", timeout=30_000)

    sender_id = "web:" + wait_for(lambda: child.evaluate("sessionStorage.getItem('chat.conversationId')"), "the conversation id")
    bot_events_before = bot_events(tracker(stack, sender_id))
    child.fill("#text", "em dang o nha mot minh, em so lam")
    child.click("#send")
    counsellor.wait_for_selector("#transcript >> text=em dang o nha mot minh", timeout=15_000)
    time.sleep(1.0)
    state = tracker(stack, sender_id)
    assert state.get("paused") is True
    assert bot_events(state) == bot_events_before, "Rasa answered during the handoff"
    assert "em dang o nha mot minh, em so lam" not in [e.get("text") for e in state["events"]]

    counsellor.select_option("#close-form select[name=outcome]", "supported")
    counsellor.click("#close-case")
    counsellor.wait_for_url("**/console/queue**")
    child.wait_for_selector("text=đã kết thúc cuộc trò chuyện", timeout=30_000)
    child.wait_for_selector("text=Mình là Mây đây", timeout=30_000)
    assert tracker(stack, sender_id).get("paused") is False

    replies = chat(stack, sender_id.removeprefix("web:"), text="cam on, em on roi")
    assert any(r["sender"] == "bot" for r in replies), replies
    assert cases(stack)[0]["status"] == "closed" and cases(stack)[0]["outcome"] == "supported"


# ---- imminent danger: no consent question, and the waiting-time alert -----------------------------


def test_imminent_danger_asks_for_a_counsellor_at_once_and_the_wait_is_watched(handoff_stack: Stack) -> None:
    stack = handoff_stack
    conversation = new_conversation()
    before = {c["id"] for c in cases(stack)}

    replies = chat(stack, conversation, text="em muon chet ngay bay gio, em dang cam dao")

    texts = " ".join(r["text"] for r in replies)
    assert "đang mời một tư vấn viên" in texts and "115" in texts
    assert not any(b["title"] == "Nói chuyện với tư vấn viên ngay" for r in replies for b in r["buttons"])
    [case] = [c for c in cases(stack) if c["id"] not in before]
    assert (case["risk"], case["consent"], case["status"]) == ("imminent", "not_required", "waiting")

    # Nobody takes it: after the limit the child is told honestly, with 111, and staff are alerted.
    notice = wait_for(lambda: [m for m in polled(stack, conversation) if "chờ lâu" in m["text"]],
                      timeout=IMMINENT_WAIT_LIMIT + 15, what="the waiting-time message")
    assert "111" in notice[0]["text"]
    assert next(c for c in cases(stack) if c["id"] == case["id"])["alerts_sent"] >= 1
    supervisor = Console(stack, "ha")
    assert supervisor.post(f"/console/cases/{case['id']}/close", outcome="child_left").status_code == 303


# ---- someone reporting another child ------------------------------------------------------------


def test_an_adult_reporting_a_child_hears_what_to_do_and_the_next_question_is_answered(
        handoff_stack: Stack) -> None:
    stack = handoff_stack
    conversation = new_conversation()
    said = chat(stack, conversation, text="thằng bé nhà bên cạnh ngày nào cũng bị bố nó đánh, người bầm tím hết")
    texts = " ".join(m["text"] for m in said)
    assert "anh/chị" in texts and "113" in texts and "111" in texts
    assert "Điều 51 Luật Trẻ em" in texts and "bí mật" in texts
    info = next(b["payload"] for m in said for b in m["buttons"] if b["title"] == "Chỉ cần thông tin thôi")
    chat(stack, conversation, payload=info)

    # No questionnaire in between: the adult's own question is answered, as an adult.
    answer = " ".join(m["text"] for m in chat(stack, conversation, text="tôi nên báo cho ai"))
    assert "Căn cứ:" in answer and "bạn đang hỏi cho chính mình" not in answer


# ---- capacity, and a restart in the middle of a handoff -------------------------------------------


def test_taking_more_cases_than_the_capacity_is_refused(handoff_stack: Stack) -> None:
    stack = handoff_stack
    first, second = new_conversation(), new_conversation()
    chat(stack, first, text=ASK_FOR_A_PERSON)
    chat(stack, second, text=ASK_FOR_A_PERSON)
    waiting = [c for c in cases(stack) if c["status"] == "waiting"]
    assert len(waiting) == 2, cases(stack)
    lan = Console(stack, "lan")  # capacity 1

    assert lan.post(f"/console/cases/{waiting[0]['id']}/take").status_code == 303
    refused = lan.post(f"/console/cases/{waiting[1]['id']}/take")

    assert refused.status_code == 409 and "số ca tối đa" in refused.text
    assert next(c for c in cases(stack) if c["id"] == waiting[1]["id"])["status"] == "waiting"
    for case in waiting:
        Console(stack, "ha").post(f"/console/cases/{case['id']}/close", outcome="other")


def test_a_restarted_gateway_keeps_the_bot_silent_during_a_handoff(handoff_stack: Stack) -> None:
    stack = handoff_stack
    conversation = new_conversation()
    chat(stack, conversation, text=ASK_FOR_A_PERSON)
    case = next(c for c in cases(stack) if c["status"] == "waiting")
    minh = Console(stack, "minh")
    assert minh.post(f"/console/cases/{case['id']}/take").status_code == 303

    stack.restart("gateway")

    replies = chat(stack, conversation, text="em van o day, chi oi")
    assert replies == []
    events = tracker(stack, f"web:{conversation}")["events"]
    assert "em van o day, chi oi" not in [e.get("text") for e in events]
    # The console session is in the database too: the counsellor is still signed in.
    assert "em van o day, chi oi" in minh.entries(case["id"])
    assert minh.post(f"/console/cases/{case['id']}/close", outcome="supported").status_code == 303


def test_nothing_left_the_machine_during_the_handoff_tests(handoff_stack: Stack, netguard_log: Path) -> None:
    assert not netguard_log.exists() or netguard_log.read_text() == ""
