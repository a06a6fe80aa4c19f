"""The chat page and the API description: self-hosted, strict-CSP friendly."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from bot.app import STATIC_DIR


def test_the_chat_page_is_served_with_a_strict_csp(client: TestClient) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "Thoát nhanh" in response.text
    assert "111" in response.text


def test_static_files_are_served(client: TestClient) -> None:
    for name in ("chat.js", "chat.css"):
        assert client.get(f"/static/{name}").status_code == 200


def test_the_page_has_no_inline_code_and_loads_nothing_from_elsewhere() -> None:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")

    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    assert not re.search(r"\sstyle=|\son[a-z]+=", html), "inline styles or handlers break the CSP"
    assert "<style" not in html
    for path in STATIC_DIR.iterdir():
        external = re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", path.read_text(encoding="utf-8"))
        # The only address outside: where "Thoát nhanh" sends the child.
        assert set(external) <= {"https://www.google.com"}, (path.name, external)


def test_the_script_keeps_the_conversation_id_in_session_storage_from_a_secure_random_source() -> None:
    script = (STATIC_DIR / "chat.js").read_text(encoding="utf-8")

    assert "crypto.getRandomValues" in script
    assert "sessionStorage" in script and "localStorage" not in script
    assert "innerHTML" not in script, "messages must be inserted as text, never as HTML"
    assert "location.replace" in script


def test_openapi_describes_the_web_chat_contract(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    operations = spec["paths"]["/api/webchat/{conversation_id}/messages"]
    assert set(operations) == {"get", "post"}
    message = spec["components"]["schemas"]["MessageOut"]["properties"]
    assert {"id", "text", "buttons"} <= set(message)


def test_docs_are_self_hosted(client: TestClient) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    assert "/api/webchat/{conversation_id}/messages" in response.text
    assert "cdn" not in response.text.lower() and "<script" not in response.text
    assert client.get("/redoc").status_code == 404


def test_api_responses_are_not_cached(client: TestClient, conversation_id: str) -> None:
    response = client.get(f"/api/webchat/{conversation_id}/messages")
    assert response.headers["cache-control"] == "no-store"

