"""The case page of a Zalo conversation shows Zalo's messaging windows: how long the OA may still
write to the child (7 days after the child's last message, free for the first 48 hours), and that
Zalo refused a message since the child last wrote (bot/channels/zalo_windows.py)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from bot import transcript
from bot.cases import service
from bot.cases.models import Consent, Risk, Role
from bot.channels.zalo_windows import record_window_closed
from bot.db import Database
from bot.models import utc_now
from bot.settings import Settings
from tests.console.console_support import login, make_staff


def zalo_case(settings: Settings, wrote_hours_ago: float, refused: bool = False) -> int:
    database = Database.from_settings(settings)
    try:
        with database.session() as session:
            conversation = transcript.get_or_create_conversation(session, "zalo", "oa-1:user-77")
            message = transcript.add_user_message(session, conversation, "em sợ lắm")
            message.created_at = utc_now() - timedelta(hours=wrote_hours_ago)
            request = service.HandoffRequest(Risk.HIGH, "physical_violence", Consent.GIVEN)
            case = service.open_case(session, conversation, request, "ref-77", out_of_hours=False).case
            session.flush()
            if refused:
                record_window_closed(session, conversation, -230)
            return case.id
    finally:
        database.dispose()


def windows_line(client: TestClient, case_id: int) -> str:
    page = client.get(f"/console/cases/{case_id}")
    assert page.status_code == 200, page.text
    start = page.text.index('id="zalo-windows">') + len('id="zalo-windows">')
    return page.text[start:page.text.index("</dd>", start)]


def test_a_zalo_case_shows_how_long_the_oa_may_still_write(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "ha", Role.SUPERVISOR)
    case_id = zalo_case(settings, wrote_hours_ago=2)
    login(client, "ha")
    assert windows_line(client, case_id) == "còn nhắn được 165 giờ, miễn phí thêm 45 giờ"


def test_after_two_days_the_messages_are_no_longer_free(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "ha", Role.SUPERVISOR)
    case_id = zalo_case(settings, wrote_hours_ago=50)
    login(client, "ha")
    assert windows_line(client, case_id) == "còn nhắn được 117 giờ"


def test_a_refusal_by_zalo_says_the_child_must_write_first(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "ha", Role.SUPERVISOR)
    case_id = zalo_case(settings, wrote_hours_ago=1, refused=True)
    login(client, "ha")
    assert windows_line(client, case_id).startswith("Zalo không cho gửi tin: trẻ cần nhắn trước (bị từ chối lúc ")


def test_a_web_chat_case_has_no_zalo_line(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "ha", Role.SUPERVISOR)
    database = Database.from_settings(settings)
    with database.session() as session:
        conversation = transcript.get_or_create_conversation(session, "web", "tab-1")
        transcript.add_user_message(session, conversation, "em sợ lắm")
        request = service.HandoffRequest(Risk.HIGH, "physical_violence", Consent.GIVEN)
        case_id = service.open_case(session, conversation, request, "ref-1", out_of_hours=False).case.id
    database.dispose()
    login(client, "ha")
    page = client.get(f"/console/cases/{case_id}")
    assert page.status_code == 200 and "zalo-windows" not in page.text
