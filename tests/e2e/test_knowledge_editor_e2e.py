"""Correcting a card in the browser, on the real stack (Rasa, action server, gateway):
an editor changes a card's child answer, a second editor approves it, and the web chat
then answers with the new text, within a minute and without a restart; the draft before
is not visible to children; a validation error appears in the form; a counsellor is refused.
Playwright drives Debian's chromium; accounts are made with `python -m bot.users`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actions.knowledge_base.content import read_content
from actions.knowledge_base.settings import DEFAULT_CONTENT_DIR
from devtools.ports import free_port
from devtools.waiting import wait_for
# REPO_ROOT and Stack through the e2e helpers: wherever the stack module lives (scripts/ or devtools/).
from tests.e2e.e2e_support import PASSWORD, REPO_ROOT, Stack, create_staff
from tests.e2e.webchat_support import new_conversation, send

pytestmark = pytest.mark.e2e

NETGUARD_DIR = REPO_ROOT / "tests" / "netguard"
QUESTION = "em hoc lop 6, tre em tui em co nhung quyen gi vay"
NEW_TEXT = "Mây vừa được cô chú biên tập cập nhật: em có quyền được an toàn, được học và được lắng nghe."
UNSOURCED = "Mỗi bạn được 999.000 đồng."
PUBLISHED_WITHIN_SECONDS = 60  # the promise; KB_RELOAD_SECONDS is left at its default


@pytest.fixture(scope="module")
def editor_stack(trained_model: Path, engine_python: str, netguard_log: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("kb-editor-data")
    env = {"NETGUARD_LOG": str(netguard_log), "NETGUARD_MODE": "refuse",
           "APP_DATABASE_URL": f"sqlite:///{data_dir / 'app.db'}", "RASA_REPLY_DEADLINE_SECONDS": "300"}
    with Stack(model=trained_model, engine_python=engine_python, data_dir=data_dir, rasa_port=free_port(),
               actions_port=free_port(), bot_port=free_port(), extra_env=env,
               extra_pythonpath=[NETGUARD_DIR]) as running:
        create_staff(running, (("an", "An", "editor", "1"), ("binh", "Bình", "editor", "1"),
                               ("lan", "Lan", "counsellor", "1")))
        yield running


def signed_in(browser: Any, stack: Stack, username: str) -> Any:
    page = browser.new_context().new_page()
    page.goto(f"{stack.bot_url}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def child_texts(stack: Stack) -> list[str]:
    return [r["text"] for r in send(stack, new_conversation(), text=QUESTION)]


def answered_card_id(texts: list[str]) -> str:
    for card in read_content(DEFAULT_CONTENT_DIR).content.cards:
        if card.child_answer and card.child_answer[0] in texts:
            return card.id
    raise AssertionError(f"no card's child answer in {texts!r}")


def test_an_editor_corrects_a_card_a_second_approves_and_children_read_it(editor_stack: Stack, browser: Any) -> None:
    stack = editor_stack
    card_id = answered_card_id(child_texts(stack))

    # An opens the card from the list and changes the child answer; first with a number without a source.
    an = signed_in(browser, stack, "an")
    an.wait_for_url("**/console/knowledge")
    an.click(f"tr[data-card-id='{card_id}'] a")
    an.wait_for_selector("#card-form")
    original = an.input_value("textarea[name=child_answer]")
    an.fill("textarea[name=child_answer]", f"{NEW_TEXT} {UNSOURCED}\n\n{original}")
    an.click("#save")
    an.wait_for_selector("#problems")
    assert "999.000" in an.inner_text("#problems") and "has no source" in an.inner_text("#problems")
    assert an.input_value("textarea[name=child_answer]").startswith(f"{NEW_TEXT} {UNSOURCED}")  # nothing lost

    an.fill("textarea[name=child_answer]", f"{NEW_TEXT}\n\n{original}")
    an.click("#preview")
    an.wait_for_selector("#preview-child")
    assert NEW_TEXT in an.inner_text("#preview-child")
    assert NEW_TEXT not in an.inner_text("#preview-parent")
    an.click("#save")
    an.wait_for_selector("#version-status:has-text('Bản nháp chờ duyệt')")
    assert an.query_selector("#approve") is None  # not by its own author

    # The draft is not what children read.
    assert NEW_TEXT not in child_texts(stack)

    # Bình approves it.
    binh = signed_in(browser, stack, "binh")
    binh.wait_for_url("**/console/knowledge")
    binh.click("#drafts a")
    binh.click("#approve")
    binh.wait_for_selector("#version-status:has-text('Đang dùng')")

    # The running bot answers with it within a minute, without a restart, in the web chat page.
    wait_for(lambda: NEW_TEXT in child_texts(stack), "the published answer in the web chat",
             timeout=PUBLISHED_WITHIN_SECONDS, interval=2)
    child = browser.new_context().new_page()
    child.goto(f"{stack.bot_url}/")
    child.fill("#text", QUESTION)
    child.click("#send")
    child.wait_for_selector(f"text={NEW_TEXT}", timeout=60_000)

    # A counsellor is refused the knowledge base.
    lan = signed_in(browser, stack, "lan")
    lan.wait_for_url("**/console/queue")
    assert lan.query_selector("a[href='/console/knowledge']") is None
    refused = lan.goto(f"{stack.bot_url}/console/knowledge")
    assert refused.status == 403
    assert "biên tập viên" in lan.inner_text("body")
