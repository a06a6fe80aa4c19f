"""The whole story of issue #15 in a real browser (Playwright with Debian's chromium).

A counsellor fills the case record and closes the case; the child's web chat shows the
feedback question and the child answers; a supervisor sees the case and the answer on the
reports page, with charts, and downloads the CSV: no text and no count below 5; a
counsellor is refused the reports. The gateway runs for real (uvicorn on loopback) over the
fake Rasa (devtools/), which answers the disclosure with a handoff as the action server would.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cases.models import Role
from devtools.fake_rasa import FakeRasa
from devtools.ports import free_port
from tests.channels.channel_support import GatewayThread, channel_settings
from tests.console.console_support import PASSWORD, make_staff, scripted_reply

DISCLOSURE = "bo em danh em dau lam, em so lam"


@pytest.fixture
def gateway(tmp_path: Path, fake_rasa: FakeRasa) -> Iterator[GatewayThread]:
    fake_rasa.reply = scripted_reply
    settings = channel_settings(tmp_path, fake_rasa, free_port(), STAFFED_HOURS="always", QUEUE_CHECK_SECONDS="3600")
    make_staff(settings, "lan", name="Lan")
    make_staff(settings, "ha", Role.SUPERVISOR, name="Hà")
    with GatewayThread(settings) as running:
        yield running


def sign_in(browser: Any, url: str, username: str) -> Any:
    page = browser.new_context(accept_downloads=True).new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{url}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/queue")
    return page


def test_record_close_feedback_and_reports_in_a_browser(gateway: GatewayThread, browser: Any,
                                                        tmp_path: Path) -> None:
    url = gateway.url
    counsellor = sign_in(browser, url, "lan")

    child = browser.new_context().new_page()
    child.goto(f"{url}/")
    child.fill("#text", DISCLOSURE)
    child.click("#send")
    child.wait_for_selector("text=111", timeout=30_000)

    # The counsellor takes the case and fills the record: the triage's category is pre-filled.
    counsellor.wait_for_selector("#queue-body tr[data-case-id]", timeout=15_000)
    counsellor.click("#queue-body a:has-text('Mở ca')")
    counsellor.click("#take")
    counsellor.wait_for_selector("#record-form")
    assert counsellor.is_checked("#record-form input[value=violence]")
    counsellor.check("#record-form input[value=school_violence]")
    counsellor.select_option("#record-form select[name=age_band]", "11_14")
    counsellor.select_option("#record-form select[name=gender]", "female")
    counsellor.select_option("#record-form select[name=contact]", "child")
    # A child from Bình Dương: the counsellor finds it under TP. Hồ Chí Minh.
    counsellor.select_option("#record-province", label="TP. Hồ Chí Minh — gồm cả Bình Dương, Bà Rịa - Vũng Tàu cũ")
    counsellor.fill("#record-form input[name=commune]", "Phường Dĩ An")
    counsellor.check("#record-form input[value=school]")
    counsellor.select_option("#record-form select[name=counsellor_risk]", "high")
    counsellor.click("#save-record")
    counsellor.wait_for_selector("text=Đã lưu hồ sơ ca.")
    counsellor.select_option("#close-form select[name=outcome]", "referred")
    counsellor.click("#close-case")
    counsellor.wait_for_url("**/console/queue**")

    # The child is asked, and answers with a button.
    child.wait_for_selector("text=Cuộc trò chuyện hôm nay có giúp được em không?", timeout=30_000)
    child.click("button.choice:has-text('Có')")
    child.wait_for_selector("text=Cảm ơn em đã trả lời", timeout=30_000)

    # The supervisor sees the case and the answer, with charts, and exports the CSV.
    supervisor = sign_in(browser, url, "ha")
    supervisor.click("nav a:has-text('Báo cáo')")
    supervisor.wait_for_selector("#chart-conversations svg")
    assert supervisor.inner_text("#total-cases") == "1"
    assert supervisor.locator("svg.chart").count() >= 8
    assert "TP. Hồ Chí Minh" in supervisor.inner_text("#chart-province")
    assert "Bạo lực học đường, bắt nạt" in supervisor.inner_text("#chart-category")
    assert "Có" in supervisor.inner_text("#chart-feedback") and "Lan" in supervisor.inner_text("#feedback-by-counsellor")
    assert supervisor.inner_text("#feedback-yes").startswith("1")
    supervisor.screenshot(path=str(tmp_path / "reports.png"), full_page=True)

    with supervisor.expect_download() as download_info:
        supervisor.click("#export-csv")
    exported = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == ["bảng", "nhãn", "số lượng"]
    for _section, _label, value in rows[1:]:
        assert value in ("", "<5", "x") or (value.isdigit() and not 1 <= int(value) <= 4), value
    for said in (DISCLOSURE, "Dĩ An", "Lan", "em so lam"):
        assert said not in exported

    # A counsellor is refused.
    refused = counsellor.goto(f"{url}/console/reports")
    assert refused is not None and refused.status == 403
    assert counsellor.request.get(f"{url}/console/reports/export.csv").status == 403
    assert counsellor.request.get(f"{url}/console/api/reports/summary").status == 403
