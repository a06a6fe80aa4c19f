"""The web chat API against a fake Rasa speaking real HTTP on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest
from devtools.fake_rasa import FakeRasa, unused_port
from tests.gateway.gateway_support import make_settings
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot import transcript
from bot.app import create_app
from bot.db import Database
from bot.messages import BotReply
from bot.models import Message, Sender
from bot.settings import Settings


def url(conversation_id: str) -> str:
    return f"/api/webchat/{conversation_id}/messages"


def post_text(client: TestClient, conversation_id: str, text: str) -> Any:
    response = client.post(url(conversation_id), json={"text": text})
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def stored(settings: Settings) -> list[tuple[str, str, str | None]]:
    database = Database.from_settings(settings)
    try:
        with database.session() as session:
            rows = session.scalars(select(Message).order_by(Message.id)).all()
            return [(m.sender.value, m.text, m.payload) for m in rows]
    finally:
        database.dispose()


def add_counsellor_message(settings: Settings, conversation_id: str, text: str) -> int:
    database = Database.from_settings(settings)
    try:
        with database.session() as session:
            conversation = transcript.get_or_create_conversation(session, "web", conversation_id)
            [message] = transcript.add_replies(
                session, conversation, [BotReply(text)], Sender.COUNSELLOR
            )
            return message.id
    finally:
        database.dispose()


# ---- the happy path ------------------------------------------------------------------


def test_greeting_returns_the_bots_replies_with_ids_and_buttons(
    client: TestClient, fake_rasa: FakeRasa, conversation_id: str
) -> None:
    messages = post_text(client, conversation_id, "Xin chào")

    assert [m["text"] for m in messages] == [
        "Chào em! Hôm nay em thế nào?",
        "Em muốn nói chuyện về điều gì?",
    ]
    assert all(m["sender"] == "bot" for m in messages)
    assert messages[0]["id"] < messages[1]["id"]
    assert messages[0]["buttons"] == []
    assert messages[1]["buttons"][0] == {"title": "Em đang buồn", "payload": "/mental_health"}
    assert [(c["sender"], c["message"]) for c in fake_rasa.webhook_calls] == [(f"web:{conversation_id}", "Xin chào")]


def test_transcript_keeps_user_and_bot_messages_in_order(
    client: TestClient, settings: Settings, conversation_id: str
) -> None:
    post_text(client, conversation_id, "Xin chào")
    post_text(client, conversation_id, "em buồn")

    assert stored(settings) == [
        ("user", "Xin chào", None),
        ("bot", "Chào em! Hôm nay em thế nào?", None),
        ("bot", "Em muốn nói chuyện về điều gì?", None),
        ("user", "em buồn", None),
        ("bot", "Mình nghe em nói: em buồn", None),
    ]


def test_conversations_are_separate(client: TestClient, fake_rasa: FakeRasa) -> None:
    first, second = "a" * 16, "b" * 16
    post_text(client, first, "một")
    post_text(client, second, "hai")

    assert [c["sender"] for c in fake_rasa.webhook_calls] == [f"web:{first}", f"web:{second}"]
    assert [m["text"] for m in client.get(url(first)).json()["messages"]] == ["Mình nghe em nói: một"]


# ---- conversation ids ---------------------------------------------------------------


@pytest.mark.parametrize(
    "conversation_id",
    ["a" * 15, "a" * 65, "abc.defghijklmnopq", "abcdefghijklmnop%20", "abcdefghijklmnopé",
     "abcdefghijklmnop%0A", "abcdefghijklmnop:x"],
)
def test_malformed_conversation_ids_are_refused(client: TestClient, fake_rasa: FakeRasa,
                                                conversation_id: str) -> None:
    for response in (client.post(url(conversation_id), json={"text": "hi"}), client.get(url(conversation_id))):
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_conversation_id"
    assert fake_rasa.webhook_calls == []


@pytest.mark.parametrize("conversation_id", ["a" * 16, "Z9_-" * 16, "AbCdEfGh-_012345"])
def test_well_formed_conversation_ids_are_accepted(client: TestClient, conversation_id: str) -> None:
    assert post_text(client, conversation_id, "hi")


# ---- button payloads ----------------------------------------------------------------


def test_an_offered_payload_reaches_rasa_verbatim(
    client: TestClient, fake_rasa: FakeRasa, settings: Settings, conversation_id: str
) -> None:
    post_text(client, conversation_id, "Xin chào")
    payload = '/ask_rights{"topic":"rights"}'

    response = client.post(url(conversation_id), json={"payload": payload})

    assert response.status_code == 200
    assert fake_rasa.texts_received()[-1] == payload
    # The transcript shows what the child pressed, and which payload it was.
    assert ("user", "Hỏi về quyền trẻ em", payload) in stored(settings)


@pytest.mark.parametrize("payload", ["/restart", "/disclose_abuse", "/mental_health{}", "mental_health"])
def test_a_payload_the_bot_did_not_offer_is_refused(
    client: TestClient, fake_rasa: FakeRasa, settings: Settings, conversation_id: str, payload: str
) -> None:
    post_text(client, conversation_id, "Xin chào")
    calls_before = len(fake_rasa.webhook_calls)

    response = client.post(url(conversation_id), json={"payload": payload})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "payload_not_offered"
    assert len(fake_rasa.webhook_calls) == calls_before
    assert all(p != payload for _, _, p in stored(settings))


def test_a_payload_offered_in_another_conversation_is_refused(
    client: TestClient, fake_rasa: FakeRasa
) -> None:
    post_text(client, "x" * 16, "Xin chào")

    response = client.post(url("y" * 16), json={"payload": "/mental_health"})

    assert response.status_code == 400
    assert fake_rasa.texts_received() == ["Xin chào"]


@pytest.mark.parametrize(
    "body",
    [{}, {"text": "hi", "payload": "/affirm"}, {"text": None}, {"payload": ""}, {"text": 5},
     {"text": "hi", "sender": "someone"}, {"text": "   \n\t "}],
)
def test_a_body_needs_exactly_one_of_text_or_payload(
    client: TestClient, fake_rasa: FakeRasa, conversation_id: str, body: dict[str, Any]
) -> None:
    response = client.post(url(conversation_id), json=body)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert fake_rasa.webhook_calls == []


# ---- free text: leading slashes, control characters, length -----------------------


@pytest.mark.parametrize(
    ("typed", "forwarded"),
    [
        ("/restart", "restart"),
        ("  /restart", "restart"),
        ("/ /restart", "restart"),
        ("//affirm{\"x\": 1}", "affirm{\"x\": 1}"),
        ("\uff0frestart", "restart"),  # fullwidth solidus
        ("\u200b/restart", "restart"),  # zero-width space in front
        ("em thích a/b", "em thích a/b"),  # a slash inside a sentence is just text
    ],
)
def test_typed_text_never_reaches_rasa_with_a_leading_slash(
    client: TestClient, fake_rasa: FakeRasa, settings: Settings, conversation_id: str,
    typed: str, forwarded: str,
) -> None:
    post_text(client, conversation_id, typed)

    assert fake_rasa.texts_received() == [forwarded]
    assert stored(settings)[0] == ("user", typed.strip(), None)


def test_text_of_only_slashes_gets_a_gentle_reply_and_is_not_forwarded(
    client: TestClient, fake_rasa: FakeRasa, conversation_id: str
) -> None:
    [reply] = post_text(client, conversation_id, " // ")

    assert reply["sender"] == "system" and "nhắn lại" in reply["text"]
    assert fake_rasa.webhook_calls == []


def test_control_characters_are_dropped(client: TestClient, fake_rasa: FakeRasa, conversation_id: str) -> None:
    post_text(client, conversation_id, "em\x00 ổn\x07")
    assert fake_rasa.texts_received() == ["em ổn"]

    response = client.post(url(conversation_id), json={"text": "\x00\x01"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "empty_text"


def test_over_long_text_gets_a_polite_reply_and_is_not_forwarded(
    client: TestClient, fake_rasa: FakeRasa, settings: Settings, conversation_id: str
) -> None:
    too_long = "ă" * (settings.max_message_chars + 1)

    [reply] = post_text(client, conversation_id, too_long)

    assert reply["sender"] == "system"
    assert "dài quá" in reply["text"] and "111" in reply["text"]
    assert str(settings.max_message_chars) in reply["text"]
    assert fake_rasa.webhook_calls == []
    # Kept for the transcript: it may be a disclosure a counsellor should read.
    assert stored(settings)[0] == ("user", too_long, None)


def test_text_at_the_limit_is_forwarded(
    client: TestClient, fake_rasa: FakeRasa, settings: Settings, conversation_id: str
) -> None:
    at_limit = "ư" * settings.max_message_chars
    post_text(client, conversation_id, at_limit)
    assert fake_rasa.texts_received() == [at_limit]


def test_even_escaped_text_far_over_the_limit_gets_the_polite_reply(
    tmp_path: Any, fake_rasa: FakeRasa, conversation_id: str
) -> None:
    settings = make_settings(tmp_path, fake_rasa.url, fake_rasa.token)  # default limit 2000
    # json.dumps escapes every non-ASCII character: the body is ~6x the text length.
    with TestClient(create_app(settings)) as client:
        [reply] = post_text(client, conversation_id, "🙂" * (settings.max_message_chars + 10))
    assert "dài quá" in reply["text"]


# ---- polling --------------------------------------------------------------------------


def test_polling_returns_replies_after_the_given_id_but_not_the_users_own(
    client: TestClient, settings: Settings, conversation_id: str
) -> None:
    first = post_text(client, conversation_id, "Xin chào")
    counsellor_id = add_counsellor_message(settings, conversation_id, "Chào em, chị là tư vấn viên.")

    everything = client.get(url(conversation_id)).json()["messages"]
    newer = client.get(url(conversation_id), params={"after": first[-1]["id"]}).json()["messages"]

    assert [m["text"] for m in everything] == [
        "Chào em! Hôm nay em thế nào?",
        "Em muốn nói chuyện về điều gì?",
        "Chào em, chị là tư vấn viên.",
    ]
    assert "Xin chào" not in [m["text"] for m in everything]
    assert newer == [{"id": counsellor_id, "sender": "counsellor", "text": "Chào em, chị là tư vấn viên.", "buttons": []}]
    assert everything[1]["buttons"] == first[1]["buttons"]


def test_polling_an_unknown_conversation_returns_nothing(client: TestClient) -> None:
    response = client.get(url("n" * 20), params={"after": 0})
    assert response.status_code == 200
    assert response.json() == {"messages": []}


def test_polling_returns_at_most_one_page(client: TestClient, settings: Settings, conversation_id: str) -> None:
    from bot.webchat import POLL_LIMIT

    for i in range(POLL_LIMIT + 5):
        add_counsellor_message(settings, conversation_id, f"tin {i}")

    page = client.get(url(conversation_id)).json()["messages"]
    rest = client.get(url(conversation_id), params={"after": page[-1]["id"]}).json()["messages"]

    assert len(page) == POLL_LIMIT and len(rest) == 5
    assert rest[-1]["text"] == f"tin {POLL_LIMIT + 4}"


@pytest.mark.parametrize("after", ["-1", "abc", "1.5", str(2**63)])
def test_polling_with_a_malformed_after_is_refused(client: TestClient, conversation_id: str, after: str) -> None:
    response = client.get(url(conversation_id), params={"after": after})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


# ---- malformed requests: 4xx with the JSON error shape, never 500 ------------------


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"{bad json", {"content-type": "application/json"}, 400, "invalid_json"),
        (b"\xff\xfe\x00", {"content-type": "application/json"}, 400, "invalid_body"),
        (b"[" * 50_000, {"content-type": "application/json"}, 400, "invalid_body"),
        (b"[1, 2]", {"content-type": "application/json"}, 422, "invalid_request"),
        (b"null", {"content-type": "application/json"}, 422, "invalid_request"),
        (b'{"text": "hi"}', {}, 422, "invalid_request"),  # no Content-Type
        (b'{"text": "hi"}', {"content-type": "text/plain"}, 422, "invalid_request"),
        (b"x" * 200_000, {"content-type": "application/json"}, 413, "body_too_large"),
    ],
)
def test_malformed_requests_get_a_json_4xx(
    client: TestClient, fake_rasa: FakeRasa, conversation_id: str,
    body: bytes, headers: dict[str, str], status: int, code: str,
) -> None:
    response = client.post(url(conversation_id), content=body, headers=headers)

    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == code
    assert fake_rasa.webhook_calls == []


def test_a_streamed_body_over_the_limit_is_refused(client: TestClient, conversation_id: str) -> None:
    chunks = (b" " * 10_000 for _ in range(30))  # no Content-Length: chunked
    response = client.post(url(conversation_id), content=chunks, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_unknown_routes_and_methods_use_the_error_shape(client: TestClient, conversation_id: str) -> None:
    assert client.get("/api/nothing").json()["error"]["code"] == "not_found"
    response = client.delete(url(conversation_id))
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


# ---- Rasa unavailable -----------------------------------------------------------------


@pytest.fixture
def client_without_rasa(tmp_path: Any) -> Any:
    settings = make_settings(tmp_path, f"http://127.0.0.1:{unused_port()}", "token")
    with TestClient(create_app(settings)) as test_client:
        yield test_client, settings


def test_rasa_down_gives_the_child_a_kind_message_with_111(client_without_rasa: Any, conversation_id: str) -> None:
    client, settings = client_without_rasa

    response = client.post(url(conversation_id), json={"text": "bo em danh em"})

    assert response.status_code == 200
    [reply] = response.json()["messages"]
    assert reply["sender"] == "system"
    assert "111" in reply["text"] and "Xin lỗi" in reply["text"]
    assert "Traceback" not in response.text and "Error" not in response.text
    assert [s for s, _, _ in stored(settings)] == ["user", "system"]
    # The fallback is in the transcript, so a poll after a reload shows it too.
    assert client.get(url(conversation_id)).json()["messages"] == [reply]


def test_rasa_failing_with_500_gives_the_same_kind_message(
    client: TestClient, fake_rasa: FakeRasa, conversation_id: str
) -> None:
    def broken(_sender: str, _text: str) -> list[dict[str, Any]]:
        raise RuntimeError("boom")  # http.server answers 500 without a body we could use

    fake_rasa.reply = broken
    [reply] = post_text(client, conversation_id, "xin chào")
    assert "111" in reply["text"]


def test_readiness_follows_rasa(client: TestClient, fake_rasa: FakeRasa, client_without_rasa: Any) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200

    fake_rasa.model_loaded = False
    assert client.get("/readyz").status_code == 503

    down_client, _ = client_without_rasa
    assert down_client.get("/healthz").status_code == 200
    assert down_client.get("/readyz").status_code == 503


def test_readiness_needs_the_right_token(tmp_path: Any, fake_rasa: FakeRasa) -> None:
    settings = make_settings(tmp_path, fake_rasa.url, "wrong-token")
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 503
