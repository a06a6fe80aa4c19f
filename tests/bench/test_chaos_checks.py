"""The chaos run's invariants (bench/chaos_checks.py) on made-up transcripts: each accepts
what it must and refuses what it must. (The run itself is `make chaos`, not part of `make test`.)"""

from __future__ import annotations

from bench.chaos_checks import (
    Hold, Sent, Stored, align, answered_by_bot_while_held, answers, sends, sent_to_rasa_twice)


def user(i: int, text: str, at: float = 0.0, forwarded: str | None = None) -> Stored:
    return Stored(i, "user", text, at or float(i), forwarded)


def said(i: int, sender: str, text: str = "ok", at: float = 0.0) -> Stored:
    return Stored(i, sender, text, at or float(i))


def test_stored_once_in_order_holds_and_a_double_or_a_loss_does_not() -> None:
    sent = [Sent("a"), Sent("b"), Sent("c")]
    assert align(sent, [user(1, "a"), user(3, "b"), user(5, "c")]) == ([0, 1, 2], [])
    _, doubled = align(sent, [user(1, "a"), user(2, "a"), user(3, "b"), user(5, "c")])
    assert doubled and "twice" in doubled[0]
    _, lost = align(sent, [user(1, "a"), user(5, "c")])
    assert lost and "'b' not stored" in lost[0]
    _, swapped = align(sent, [user(1, "b"), user(2, "a"), user(3, "c")])
    assert swapped


def test_a_failed_request_may_be_stored_once_or_not_at_all() -> None:
    sent = [Sent("a"), Sent("b", acknowledged=False), Sent("c")]
    assert align(sent, [user(1, "a"), user(2, "c")])[1] == []
    assert align(sent, [user(1, "a"), user(2, "b"), user(3, "c")])[1] == []
    assert align(sent, [user(1, "a"), user(2, "b"), user(3, "b"), user(4, "c")])[1]


def test_text_compared_as_the_gateway_cleans_it() -> None:
    assert align([Sent("  xin   chào ")], [user(1, "xin chào")])[1] == []


def test_answers_by_bot_counsellor_or_111_and_an_unanswered_message_is_found() -> None:
    messages = [user(1, "a"), said(2, "bot"), user(3, "b"), said(4, "system", "Gọi 111 nhé"),
                user(5, "c"), said(6, "counsellor"), user(7, "d")]
    sent = [Sent("a"), Sent("b"), Sent("c"), Sent("d")]
    matched, _ = align(sent, [m for m in messages if m.sender == "user"])
    result = answers(messages, sent, matched)
    assert result.answered_by == {"bot": 1, "apology (111)": 1, "counsellor": 1}
    assert len(result.problems) == 1 and "'d'" in result.problems[0]
    # a system message without 111 is no answer; a failed request had the page's own apology
    sent[3] = Sent("d", acknowledged=False)
    messages[3] = said(4, "system", "đợi chút")
    result = answers(messages, sent, matched)
    assert result.answered_by["page fallback (111)"] == 1 and len(result.problems) == 1


def test_rasa_sees_each_message_at_most_once() -> None:
    stored = [user(1, "/start", forwarded="/greet"), user(2, "a"), user(3, "b")]
    assert sent_to_rasa_twice(stored, ["/greet", "a", "b"]) == []
    assert sent_to_rasa_twice(stored, ["/greet", "b"]) == []  # "a" held for a counsellor
    assert sent_to_rasa_twice(stored, ["/greet", "a", "a", "b"])
    assert sent_to_rasa_twice(stored, ["b", "a"])


def test_the_bot_stays_silent_while_a_counsellor_holds_the_conversation() -> None:
    busy = "Lúc này mình trả lời chậm hơn"
    messages = [said(1, "bot", at=5), said(2, "system", "đã vào", at=11), said(3, "counsellor", at=12),
                said(4, "bot", at=30)]
    assert answered_by_bot_while_held(messages, [Hold(1, 10, 20)], (busy,)) == []
    assert answered_by_bot_while_held(messages, [Hold(1, 10, None)], (busy,))
    late = messages + [said(5, "system", busy, at=15)]
    assert answered_by_bot_while_held(late, [Hold(1, 10, 20)], (busy,))


def test_every_send_received_once() -> None:
    assert sends(["a", "b"], ["a", "b"]) == []
    assert "more than" in sends(["a", "b"], ["a", "a", "b"])[0]
    assert "never received" in sends(["a", "b"], ["a"])[0]
    assert sends(["a", "b"], ["b", "a"])
