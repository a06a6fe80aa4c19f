"""The chaos run's invariants, as pure functions over what the children sent and what the stores hold.

bench/chaos.py collects the data (the app database, Rasa's trackers, the fake platform's
record of sends) and calls these; tests/bench/test_chaos_checks.py shows what each one
accepts and refuses. Every function returns a list of problems, empty when the invariant holds.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

USER, BOT, COUNSELLOR, SYSTEM = "user", "bot", "counsellor", "system"
HOTLINE = "111"


@dataclass(frozen=True)
class Sent:
    """One message a simulated child sent.

    `acknowledged`: the platform took it (Telegram: always; the web chat: the POST answered
    200). A web chat request that failed after it may have reached a gateway (the worker
    was killed mid-request, or answered 5xx) is not acknowledged: the chat page shows its
    own apology with 111 (bot/static/chat.js FALLBACK), and the message may or may not have
    been stored, but never twice.
    """

    text: str
    acknowledged: bool = True


@dataclass(frozen=True)
class Stored:
    """One message of the transcript (app database), in id order."""

    id: int
    sender: str
    text: str
    at: float  # created_at, seconds since the epoch
    forwarded: str | None = None  # what went to Rasa: a button's payload, else None (the text)


def same_text(a: str, b: str) -> bool:
    return _norm(a) == _norm(b)


def _norm(text: str) -> str:
    # The gateway stores the cleaned text and sends Rasa the text without leading slashes.
    return " ".join(unicodedata.normalize("NFC", text).split()).lstrip("/")


def align(sent: Sequence[Sent], stored_user: Sequence[Stored]) -> tuple[list[int | None], list[str]]:
    """Match the stored user messages to the sent ones, in order.

    Returns, for each stored user message, the index of the sent message it is (None for
    one nobody sent, or a second copy), and the problems: an acknowledged message not
    stored, a message stored twice or out of order, one nobody sent.
    """
    problems: list[str] = []
    matched: list[int | None] = []
    position = 0
    for message in stored_user:
        found = next((i for i in range(position, len(sent)) if same_text(sent[i].text, message.text)), None)
        if found is None:
            earlier = any(same_text(s.text, message.text) for s in sent[:position])
            problems.append(f"message {message.id} {message.text[:40]!r} stored "
                            f"{'twice or out of order' if earlier else 'but never sent'}")
            matched.append(None)
            continue
        for skipped in range(position, found):
            if sent[skipped].acknowledged:
                problems.append(f"acknowledged message {sent[skipped].text[:40]!r} not stored "
                                f"(or stored out of order)")
        matched.append(found)
        position = found + 1
    for missing in sent[position:]:
        if missing.acknowledged:
            problems.append(f"acknowledged message {missing.text[:40]!r} not stored")
    return matched, problems


@dataclass
class Answers:
    answered_by: Counter[str]  # bot / counsellor / apology (111) / page fallback (111)
    problems: list[str]


def answers(messages: Sequence[Stored], sent: Sequence[Sent], matched: Sequence[int | None]) -> Answers:
    """Every stored user message is followed, before the child's next message, by an answer:
    the bot's, a counsellor's, or a system message naming 111. A message whose request failed
    was answered by the page's own apology (with 111) if nothing else answered it."""
    by_kind: Counter[str] = Counter()
    problems: list[str] = []
    user_positions = [i for i, m in enumerate(messages) if m.sender == USER]
    for number, position in enumerate(user_positions):
        end = user_positions[number + 1] if number + 1 < len(user_positions) else len(messages)
        replies = messages[position + 1:end]
        kind = _answer_kind(replies)
        if kind is None:
            index = matched[number] if number < len(matched) else None
            if index is not None and not sent[index].acknowledged:
                kind = "page fallback (111)"
        if kind is None:
            problems.append(f"message {messages[position].id} {messages[position].text[:40]!r} never answered")
        else:
            by_kind[kind] += 1
    return Answers(by_kind, problems)


def _answer_kind(replies: Sequence[Stored]) -> str | None:
    senders = {r.sender for r in replies}
    if BOT in senders:
        return "bot"
    if COUNSELLOR in senders:
        return "counsellor"
    if any(r.sender == SYSTEM and HOTLINE in r.text for r in replies):
        return "apology (111)"
    return None


def sent_to_rasa_twice(stored_user: Sequence[Stored], tracker_user_texts: Sequence[str]) -> list[str]:
    """Rasa saw each stored message at most once, in order: its user events are a subsequence
    of what was stored (a message held for a counsellor, or answered with the apology when Rasa
    was down, never reaches it). A message handled twice appears twice in the tracker."""
    forwarded = [m.forwarded or m.text for m in stored_user]
    have = Counter(_norm(t) for t in forwarded)
    seen = Counter(_norm(t) for t in tracker_user_texts)
    problems = [f"{text[:40]!r} reached Rasa {count} times, stored {have[text]} times"
                for text, count in seen.items() if count > have[text]]
    if problems:
        return problems
    position = 0
    for text in tracker_user_texts:
        found = next((i for i in range(position, len(forwarded)) if same_text(forwarded[i], text)), None)
        if found is None:
            return [f"Rasa saw {text[:40]!r} out of order"]
        position = found + 1
    return []


@dataclass(frozen=True)
class Hold:
    """A counsellor held the conversation from `taken` to `released` (its case closed), or to the end."""

    case_id: int
    taken: float
    released: float | None


def answered_by_bot_while_held(messages: Sequence[Stored], holds: Sequence[Hold],
                               gateway_replies: Sequence[str] = ()) -> list[str]:
    """No bot reply (nor the gateway's busy or Rasa-unavailable reply in the bot's place) was
    stored while a counsellor held the conversation."""
    problems = []
    for hold in holds:
        for message in messages:
            inside = hold.taken < message.at and (hold.released is None or message.at < hold.released)
            if inside and (message.sender == BOT or (message.sender == SYSTEM and message.text in gateway_replies)):
                problems.append(f"case {hold.case_id}: {message.sender} message {message.id} "
                                f"{message.text[:40]!r} while a counsellor held it")
    return problems


def sends(outbox_sent: Sequence[str], platform_received: Sequence[str]) -> list[str]:
    """The platform received exactly what the outbox marked sent, each once, in order."""
    if list(outbox_sent) == list(platform_received):
        return []
    extra = Counter(platform_received) - Counter(outbox_sent)
    missing = Counter(outbox_sent) - Counter(platform_received)
    problems = [f"sent {count} time(s) more than the outbox says: {text[:40]!r}" for text, count in extra.items()]
    problems += [f"marked sent but never received: {text[:40]!r}" for text in missing]
    return problems or ["received in another order than the outbox sent"]
