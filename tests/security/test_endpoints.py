"""Bad input against every HTTP endpoint of the gateway, enumerated from the app's routes.

A new endpoint is attacked automatically. For each input: no 5xx, the security
headers are there, nothing internal leaks (tracebacks, paths, secrets), and what
a child typed (SQL, script, any text) is stored and passed on verbatim: nothing lost.
The inputs tried are counted and printed (pytest -s) and asserted on.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.gateway.gateway_support import make_settings
from sqlalchemy import select

from bot.app import MIN_BODY_BYTES, create_app  # noqa: E402
from bot.cases.models import Role  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.models import Message, Sender  # noqa: E402
from common.text_guard import guard_free_text  # noqa: E402

SQL_INJECTION = [
    "' OR '1'='1", "'; DROP TABLE messages; --", "\" OR 1=1 --", "1; DELETE FROM conversations",
    "admin'--", "' UNION SELECT password_hash FROM staff_users --", "%' AND 1=0 UNION SELECT NULL --",
]
SCRIPT_INJECTION = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)",
    "\"><svg/onload=alert(1)>", "{{7*7}}", "${7*7}", "<iframe src=//evil.example>",
]
ODD_TEXT = ["a" * 100_000, "\u0000", "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
            "‮‭", "😀" * 3000, "\r\n" * 500, "../../../../etc/passwd", "%00%2e%2e%2f"]
PATH_VALUES = ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "' OR 1=1 --", "<script>", "a" * 5000, "%00", "-1",
               "99999999999999999999999", "NaN", "%F0%9F%98%80"]
BODIES: list[tuple[str, bytes, str | None]] = [
    ("truncated json", b'{"text": "xin', "application/json"),
    ("json array", b"[]", "application/json"),
    ("json null", b"null", "application/json"),
    ("wrong types", b'{"text": 1, "payload": {"a": []}}', "application/json"),
    ("extra field", b'{"text": "hi", "is_admin": true}', "application/json"),
    ("invalid utf-8", b'{"text": "\xff\xfe\xfa"}', "application/json"),
    ("deep nesting", b"[" * 20_000 + b"]" * 20_000, "application/json"),
    ("oversized", b'{"text": "' + b"a" * (MIN_BODY_BYTES * 4) + b'"}', "application/json"),
    ("text/plain", b"xin chao", "text/plain"),
    ("form", b"text=xin+chao&csrf_token=x", "application/x-www-form-urlencoded"),
    ("multipart junk", b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--", "multipart/form-data; boundary=x"),
    ("xml", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>", "application/xml"),
    ("no content type", b'{"text": "hi"}', None),
    ("empty", b"", "application/json"),
]
LEAK_MARKERS = ["Traceback", "File \"/", "sqlalchemy", "site-packages", "fake-rasa-token"]


def endpoints(app: Any) -> list[tuple[str, str]]:
    """(method, path format) of every route, including those of included routers and mounts."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in (contexts() if callable(contexts) else contexts):
                for method in context.methods or ():
                    found.add((method, context.path_format))
        elif hasattr(route, "methods") and route.methods:
            for method in route.methods:
                found.add((method, route.path))
        elif hasattr(route, "path"):  # a mount: static files
            found.add(("GET", route.path + "/{file}"))
    return sorted(found)


def fill(path: str, value: str | None = None) -> str:
    def one(match: re.Match[str]) -> str:
        if value is not None:
            return value
        return secrets.token_urlsafe(18) if match.group(1) == "conversation_id" else "1"

    return re.sub(r"\{(\w+)(?::\w+)?\}", one, path)


@pytest.fixture
def world(tmp_path: Path, fake_rasa) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, fake_rasa.url, fake_rasa.token, RATE_LIMIT_BURST="10000",
                             RATE_LIMIT_PER_MINUTE="60000", MAX_MESSAGE_CHARS="2000")
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield {"app": app, "client": client, "settings": settings, "rasa": fake_rasa, "tmp": tmp_path}


def _check(response: Any, what: str, tmp: Path) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    headers = response.headers
    assert headers.get("x-frame-options") == "DENY", what
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp, what
    assert headers.get("x-content-type-options") == "nosniff", what
    body = response.text if "text/event-stream" not in headers.get("content-type", "") else ""
    for marker in [*LEAK_MARKERS, str(tmp)]:
        assert marker not in body, f"{what}: leaks {marker!r}"


def test_every_endpoint_survives_bad_input(world: dict[str, Any]) -> None:
    client, tmp = world["client"], world["tmp"]
    routes = endpoints(world["app"])
    tried = 0
    covered = set()
    for method, path in routes:
        if path.endswith("/events"):  # server-sent events: covered below without a session (no stream)
            response = client.request(method, fill(path), follow_redirects=False)
            _check(response, f"{method} {path}", tmp)
            tried += 1
            covered.add((method, path))
            continue
        for value in [None, *PATH_VALUES] if "{" in path else [None]:
            url = fill(path, value)
            for query in ("", "?after=-1", "?after=99999999999999999999999", "?after=abc&error=<script>",
                          "?" + "a=" + "b" * 10_000):
                response = client.request(method, url + query, follow_redirects=False)
                _check(response, f"{method} {url}{query[:40]}", tmp)
                tried += 1
            if method in ("POST", "PUT", "PATCH", "DELETE"):
                for name, body, content_type in BODIES:
                    headers = {"content-type": content_type} if content_type else {}
                    response = client.request(method, url, content=body, headers=headers, follow_redirects=False)
                    _check(response, f"{method} {url} {name}", tmp)
                    tried += 1
                for text in SQL_INJECTION + SCRIPT_INJECTION + ODD_TEXT:
                    for body_json in ({"text": text}, {"payload": text}, {"username": text, "password": text}):
                        response = client.request(method, url, json=body_json, follow_redirects=False)
                        _check(response, f"{method} {url} json {text[:30]!r}", tmp)
                        tried += 1
                    response = client.request(method, url, data={"username": text, "password": text,
                                                                 "csrf_token": text, "text": text, "outcome": text},
                                              follow_redirects=False)
                    _check(response, f"{method} {url} form {text[:30]!r}", tmp)
                    tried += 1
        covered.add((method, path))
    print(f"\nsecurity: {tried} inputs tried against {len(covered)} endpoints: {sorted(covered)}")
    assert covered == set(routes)
    assert len(routes) >= 20 and tried >= 2000


def test_what_children_type_is_stored_and_passed_on_verbatim(world: dict[str, Any]) -> None:
    client = world["client"]
    conversation = secrets.token_urlsafe(18)
    texts = SQL_INJECTION + SCRIPT_INJECTION + ["em bị đánh 😢", "\u202eabc", "a" * 2000]
    for text in texts:
        response = client.post(f"/api/webchat/{conversation}/messages", json={"text": text})
        assert response.status_code == 200
    database = Database.from_settings(world["settings"])
    with database.session() as session:
        stored = list(session.scalars(select(Message.text).where(Message.sender == Sender.USER)
                                      .order_by(Message.id)))
    database.dispose()
    assert stored == texts  # nothing lost, nothing altered, no table dropped
    # Rasa gets the NLU's cleaned form (common/text_guard.py strips e.g. bidi controls), nothing else changed.
    assert world["rasa"].texts_received() == [guard_free_text(t, 2000).text for t in texts]


def test_static_files_do_not_escape_their_folder(world: dict[str, Any]) -> None:
    client = world["client"]
    for path in ["/static/../settings.py", "/static/%2e%2e/settings.py", "/static/..%2fsettings.py",
                 "/static/%2e%2e%2f%2e%2e%2fREADME.md", "/console/static/../../settings.py",
                 "/static/....//....//settings.py", "/static/%252e%252e/settings.py"]:
        response = client.get(path)
        assert response.status_code in (404, 400, 403, 405), path
        assert "SettingsError" not in response.text and "def load_settings" not in response.text


def test_console_needs_a_session_and_the_right_role_and_csrf(world: dict[str, Any]) -> None:
    from tests.console.console_support import login, make_staff

    client, settings = world["client"], world["settings"]
    # Without a session: nothing of the console but the login page.
    for method, path in endpoints(world["app"]):
        if not path.startswith("/console") or path.startswith("/console/static") or path.startswith("/console/login"):
            continue
        response = client.request(method, fill(path), follow_redirects=False)
        assert response.status_code in (303, 307, 401, 403, 404, 405, 422), (method, path, response.status_code)
    # Session fixation: a session cookie chosen by the attacker is not adopted at login.
    make_staff(settings, "lan", Role.COUNSELLOR)
    page = client.get("/console/login")
    login_csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = client.post("/console/login", data={"username": "lan", "password": "mot-mat-khau-dai",
                                                   "csrf_token": login_csrf},
                           headers={"cookie": f"console_session=attacker-chosen-value; "
                                              f"console_login_csrf={client.cookies.get('console_login_csrf')}"},
                           follow_redirects=False)
    assert response.status_code == 303
    issued = response.cookies.get("console_session")
    assert issued and issued != "attacker-chosen-value"  # a fresh session, never the one offered
    client.cookies.clear()
    token = login(client, "lan")
    # A counsellor cannot reach the supervisor's pages.
    assert client.get("/console/supervisor", follow_redirects=False).status_code in (303, 403, 404)
    assert client.get("/console/api/overview", follow_redirects=False).status_code in (303, 403, 404)
    # CSRF: a state-changing request without (or with a wrong) token is refused.
    for data in ({}, {"csrf_token": "forged"}):
        response = client.post("/console/logout", data=data, follow_redirects=False)
        assert response.status_code in (400, 403), response.status_code
    assert client.get("/console/queue").status_code == 200  # still logged in: the forged logout did nothing
    assert token


def test_forged_and_replayed_webhooks_are_refused_when_channels_are_off(world: dict[str, Any]) -> None:
    """Without Telegram / Zalo configured their webhooks accept nothing (tests/channels covers them on)."""
    client = world["client"]
    update = json.dumps({"update_id": 1, "message": {"message_id": 1, "chat": {"id": 5, "type": "private"},
                                                     "date": 0, "text": "hi"}}).encode()
    for path, headers in [("/telegram/webhook", {"X-Telegram-Bot-Api-Secret-Token": "forged"}),
                          ("/zalo/webhook", {"X-ZEvent-Signature": "mac=" + "0" * 64})]:
        for _ in range(2):  # and once more: a replay
            response = client.post(path, content=update, headers={"content-type": "application/json", **headers})
            assert response.status_code in (401, 403, 404), (path, response.status_code)
    assert world["rasa"].texts_received() == []


def test_script_in_a_childs_message_is_shown_as_text_in_the_console(world: dict[str, Any]) -> None:
    from tests.console.console_support import login, make_staff

    from bot import transcript
    from bot.cases import service
    from bot.cases.crypto import load_keyring
    from bot.cases.models import Consent, Risk

    client, settings = world["client"], world["settings"]
    conversation = secrets.token_urlsafe(18)
    for text in SCRIPT_INJECTION:
        assert client.post(f"/api/webchat/{conversation}/messages", json={"text": text}).status_code == 200
    database = Database.from_settings(settings)
    with database.session() as session:
        found = transcript.find_conversation(session, "web", conversation)
        case = service.open_case(session, found, service.HandoffRequest(Risk.HIGH, "abuse", Consent.GIVEN),
                                 "ref", out_of_hours=False).case
        service.sync_transcript(session, case, load_keyring(settings.case_encryption_keys, settings.data_dir))
        case_id = case.id
    database.dispose()
    make_staff(settings, "thu", Role.SUPERVISOR)
    login(client, "thu")
    page = client.get(f"/console/cases/{case_id}")
    assert page.status_code == 200
    for text in SCRIPT_INJECTION:
        if "<" in text:
            assert text not in page.text  # escaped, never markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    entries = client.get(f"/console/api/cases/{case_id}/entries")
    assert entries.headers["content-type"].startswith("application/json")
    assert [e["text"] for e in entries.json()["entries"] if e["sender"] == "user"][:len(SCRIPT_INJECTION)] == SCRIPT_INJECTION
