"""Cases through the console: queue, take, reply, the handoff lock, close, transfer,
notes, previous cases, the waiting-time alert, out of hours, restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from tests.console.console_support import (
    child_says,
    login,
    make_settings_for,
    make_staff,
    new_conversation,
    staff_id,
)
from devtools.fake_rasa import FakeRasa
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.cases.models import AuditEntry, Role
from bot.db import Database
from bot.models import utc_now
from bot.settings import Settings


def polled(client: TestClient, conversation: str) -> list[str]:
    return [m["text"] for m in client.get(f"/api/webchat/{conversation}/messages").json()["messages"]]


def take(client: TestClient, csrf: str, case_id: int) -> int:
    return client.post(f"/console/cases/{case_id}/take", data={"csrf_token": csrf}, follow_redirects=False).status_code


def test_the_whole_handoff(client: TestClient, settings: Settings, fake_rasa: FakeRasa) -> None:
    make_staff(settings, "lan", name="Lan")
    conversation = new_conversation()
    said = child_says(client, conversation, "bo em danh em dau lam")
    assert "111" in said[-1]["text"] and said[-1]["sender"] == "system"
    assert all("handoff" not in m["text"] for m in said)

    csrf = login(client, "lan")
    [waiting] = client.get("/console/api/queue").json()["waiting"]
    assert (waiting["risk"], waiting["category"]) == ("high", "Bạo lực thể chất")
    assert "bo em danh em dau lam" in client.get(f"/console/cases/{waiting['id']}").text

    assert take(client, csrf, waiting["id"]) == 303
    assert "Tư vấn viên Lan của Tổng đài 111 đã vào cuộc trò chuyện" in polled(client, conversation)[-1]
    sender = f"web:{conversation}"
    assert fake_rasa.events[sender] == [{"event": "pause"}]

    reply = client.post(f"/console/cases/{waiting['id']}/reply", data={"text": "Chào em, chị là Lan."},
                        headers={"X-CSRF-Token": csrf, "Accept": "application/json"})
    assert reply.status_code == 200
    assert polled(client, conversation)[-1] == "Chào em, chị là Lan."

    calls = len(fake_rasa.webhook_calls)
    assert child_says(client, conversation, "em so lam") == []
    assert len(fake_rasa.webhook_calls) == calls, "the bot must stay silent during a handoff"
    entries = client.get(f"/console/api/cases/{waiting['id']}/entries").json()["entries"]
    assert entries[-1]["text"] == "em so lam" and entries[-1]["sender"] == "user"

    closed = client.post(f"/console/cases/{waiting['id']}/close", data={"csrf_token": csrf, "outcome": "supported"},
                         follow_redirects=False)
    assert closed.status_code == 303
    assert fake_rasa.events[sender][1:] == [{"event": "resume"},
                                            {"event": "slot", "name": "handoff_requested", "value": False},
                                            {"event": "action", "name": "action_listen"}]
    assert fake_rasa.executed == [(sender, "action_handoff_check_in")]
    assert polled(client, conversation)[-3:] == [
        "Tư vấn viên Lan đã kết thúc cuộc trò chuyện. Cảm ơn em đã tin tưởng và chia sẻ.",
        "(action_handoff_check_in)",
        "Cuộc trò chuyện hôm nay có giúp được em không?"]  # optional: tests/reports/test_feedback.py
    assert child_says(client, conversation, "em on roi")[0]["text"] == "Mình nghe em nói: em on roi"

    actions = [(a.actor, a.action) for a in _audit(settings)]
    for expected in [("system", "case_created"), ("lan", "view_case"), ("lan", "case_taken"),
                     ("lan", "reply_sent"), ("lan", "case_closed")]:
        assert expected in actions


def test_imminent_goes_first_and_declining_opens_no_queue_entry(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "lan")
    child_says(client, new_conversation(), "bo em danh em")
    imminent = child_says(client, new_conversation(), "em dang cam dao")
    assert "khoảng 2 phút" in imminent[-1]["text"] and "đang chờ trước" not in imminent[-1]["text"]
    later = child_says(client, new_conversation(), "bo em danh em")
    assert "Hiện có 2 bạn đang chờ trước em." in later[-1]["text"]
    child_says(client, new_conversation(), "em chi can thong tin")
    login(client, "lan")
    risks = [c["risk"] for c in client.get("/console/api/queue").json()["waiting"]]
    assert risks == ["imminent", "high", "high"]


def test_capacity_is_enforced_in_the_console(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "lan", capacity=1)
    child_says(client, new_conversation(), "bo em danh em")
    child_says(client, new_conversation(), "cho em gap nguoi that")
    csrf = login(client, "lan")
    assert take(client, csrf, 1) == 303
    refused = client.post("/console/cases/2/take", data={"csrf_token": csrf})
    assert refused.status_code == 409 and "số ca tối đa" in refused.text


def test_transfer_notes_and_previous_cases(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "lan", name="Lan")
    make_staff(settings, "minh", name="Minh")
    make_staff(settings, "ha", Role.SUPERVISOR, name="Hà")
    conversation = new_conversation()
    child_says(client, conversation, "bo em danh em")
    csrf = login(client, "lan")
    take(client, csrf, 1)
    client.post("/console/cases/1/notes", data={"csrf_token": csrf, "text": "Bà ngoại đón em tối nay."})
    client.post("/console/cases/1/close", data={"csrf_token": csrf, "outcome": "supported"})

    child_says(client, conversation, "bo em danh em")  # the same child, later: case 2
    csrf = login(client, "minh")
    page = client.get("/console/cases/2").text
    assert "Trẻ này đã liên hệ trước đây (1 ca)" in page
    assert "Bà ngoại" not in page and "ghi chú chỉ người phụ trách" in page
    assert client.get("/console/cases/1").status_code == 403  # another counsellor's closed case
    take(client, csrf, 2)
    moved = client.post("/console/cases/2/transfer", data={"csrf_token": csrf, "to_user_id": staff_id(settings, "lan")},
                        follow_redirects=False)
    assert moved.status_code == 303
    assert polled(client, conversation)[-1] == "Tư vấn viên Lan sẽ tiếp tục trò chuyện với em."

    login(client, "ha")
    page = client.get("/console/cases/2").text
    assert "Bà ngoại đón em tối nay." in page
    overview = client.get("/console/api/overview").json()
    assert [c["assignee"] for c in overview["active"]] == ["Lan"]


def test_a_waiting_case_past_its_limit_alerts_again_and_tells_the_child(client: TestClient,
                                                                       settings: Settings) -> None:
    conversation = new_conversation()
    child_says(client, conversation, "em dang cam dao")
    sent: list[tuple[Sequence[str], str]] = []

    class Recorder:
        async def send_alert(self, chat_ids: Sequence[str], text: str) -> None:
            sent.append((chat_ids, text))

    make_staff(settings, "lan")
    database = Database.from_settings(settings)
    with database.session() as session:
        from bot.cases.models import StaffUser

        session.scalars(select(StaffUser)).one().alert_chat_id = "4242"
    database.dispose()
    handoff = client.app.state.handoff  # type: ignore[attr-defined]
    handoff.alerts.register(Recorder())

    late = client.portal.call(handoff.check_waiting, utc_now() + timedelta(minutes=3))  # type: ignore[union-attr]

    assert late == [1]
    assert "chờ lâu" in polled(client, conversation)[-1] and "111" in polled(client, conversation)[-1]
    assert sent == [(["4242"], "Ca mức KHẨN CẤP đã chờ 3 phút — mở bảng điều khiển")]
    assert ("system", "wait_alert") in [(a.actor, a.action) for a in _audit(settings)]


def test_outside_staffed_hours_the_child_is_pointed_to_111(tmp_path: Path, fake_rasa: FakeRasa) -> None:
    settings = make_settings_for(tmp_path, fake_rasa, STAFFED_HOURS="03:00-03:01")
    with TestClient(create_app(settings)) as client:
        said = child_says(client, new_conversation(), "bo em danh em")
    assert "ngoài giờ" in said[-1]["text"] and "111" in said[-1]["text"]


def test_the_lock_survives_a_restart_of_the_gateway(tmp_path: Path, fake_rasa: FakeRasa) -> None:
    settings = make_settings_for(tmp_path, fake_rasa)
    make_staff(settings, "lan")
    conversation = new_conversation()
    with TestClient(create_app(settings)) as client:
        child_says(client, conversation, "bo em danh em")
        take(client, login(client, "lan"), 1)
    calls = len(fake_rasa.webhook_calls)
    with TestClient(create_app(settings)) as restarted:
        assert child_says(restarted, conversation, "chi oi") == []
    assert len(fake_rasa.webhook_calls) == calls


def _audit(settings: Settings) -> list[AuditEntry]:
    database = Database.from_settings(settings)
    try:
        with database.session() as session:
            return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    finally:
        database.dispose()


def test_the_event_stream_is_server_sent_events(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "lan")
    login(client, "lan")
    feed = client.app.state.handoff.feed  # type: ignore[attr-defined]
    with client.stream("GET", "/console/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        assert next(lines) == "event: hello"
        assert feed.subscriber_count == 1
    asyncio.run(asyncio.sleep(0))


def test_a_supervisor_closing_a_waiting_case_points_the_child_to_111(client: TestClient, settings: Settings,
                                                                    fake_rasa: FakeRasa) -> None:
    make_staff(settings, "lan")
    make_staff(settings, "ha", Role.SUPERVISOR)
    conversation = new_conversation()
    child_says(client, conversation, "bo em danh em")
    assert client.post("/console/cases/1/close", data={"csrf_token": login(client, "lan"), "outcome": "child_left"}
                       ).status_code == 409
    csrf = login(client, "ha")
    assert client.post("/console/cases/1/close", data={"csrf_token": csrf, "outcome": "child_left"},
                       follow_redirects=False).status_code == 303
    assert "gọi 111" in polled(client, conversation)[-1]
    assert {"event": "slot", "name": "handoff_requested", "value": False} in fake_rasa.events[f"web:{conversation}"]
