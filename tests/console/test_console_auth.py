"""Console login, sessions, CSRF and roles."""

from __future__ import annotations

from datetime import timedelta

from tests.console.console_support import PASSWORD, child_says, login, make_staff, new_conversation
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from bot.cases.models import AuditEntry, ConsoleSession, Role
from bot.db import Database
from bot.models import utc_now
from bot.settings import Settings


def audit_actions(settings: Settings) -> list[tuple[str, str, int | None]]:
    database = Database.from_settings(settings)
    try:
        with database.session() as session:
            return [(a.actor, a.action, a.case_id) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    finally:
        database.dispose()


def test_pages_need_a_login(client: TestClient) -> None:
    page = client.get("/console/queue", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/console/login"
    assert client.get("/console/api/queue").status_code == 401
    assert client.get("/console/events").status_code == 401


def test_login_sets_a_strict_httponly_expiring_cookie_and_is_audited(client: TestClient,
                                                                   settings: Settings) -> None:
    make_staff(settings, "lan")
    login(client, "lan")
    cookie = next(c for c in client.cookies.jar if c.name == "console_session")
    assert cookie.path == "/console" and cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.expires is not None
    raw = client.get("/console/login").headers.get("set-cookie", "")
    assert "samesite=strict" in raw.lower() and "httponly" in raw.lower()
    assert ("lan", "login", None) in audit_actions(settings)


def test_a_wrong_password_is_refused_and_repeated_failures_lock_the_name(client: TestClient,
                                                                       settings: Settings) -> None:
    make_staff(settings, "lan")
    page = client.get("/console/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    for _ in range(5):
        wrong = client.post("/console/login", data={"username": "lan", "password": "sai-mat-khau-roi",
                                                    "csrf_token": token}, follow_redirects=False)
        assert wrong.status_code == 200 and "không đúng" in wrong.text
    locked = client.post("/console/login", data={"username": "lan", "password": PASSWORD, "csrf_token": token},
                         follow_redirects=False)
    assert locked.status_code == 200 and "quá nhiều lần" in locked.text
    assert audit_actions(settings).count(("system", "login_failed", None)) == 5


def test_a_login_form_without_its_csrf_token_is_refused(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "lan")
    client.get("/console/login")
    response = client.post("/console/login", data={"username": "lan", "password": PASSWORD, "csrf_token": "x"})
    assert response.status_code == 403


def test_every_form_needs_the_sessions_csrf_token_and_our_origin(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "lan")
    csrf = login(client, "lan")
    child_says(client, new_conversation(), "bo em danh em")

    assert client.post("/console/cases/1/take", data={}).status_code == 403
    assert client.post("/console/cases/1/take", data={"csrf_token": "forged"}).status_code == 403
    foreign = client.post("/console/cases/1/take", data={"csrf_token": csrf},
                          headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    cross_site = client.post("/console/cases/1/take", data={"csrf_token": csrf},
                             headers={"Sec-Fetch-Site": "cross-site", "Origin": "null"})
    assert cross_site.status_code == 403
    assert client.post("/console/cases/1/take", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303


def test_an_expired_or_idle_session_ends(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "lan")
    login(client, "lan")
    database = Database.from_settings(settings)
    with database.session() as session:
        session.execute(update(ConsoleSession).values(
            last_seen_at=utc_now() - timedelta(minutes=settings.console_idle_minutes + 1)))
    database.dispose()
    assert client.get("/console/api/queue").status_code == 401


def test_logout_ends_the_session(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "lan")
    csrf = login(client, "lan")
    assert client.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/console/api/queue").status_code == 401


def test_supervisor_pages_are_for_supervisors(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "lan")
    make_staff(settings, "ha", Role.SUPERVISOR)
    csrf = login(client, "lan")
    for path in ("/console/supervisor", "/console/api/overview", "/console/canned", "/console/audit"):
        assert client.get(path).status_code == 403, path
    assert client.post("/console/canned", data={"csrf_token": csrf, "title": "x", "text": "y"}).status_code == 403

    csrf = login(client, "ha")
    assert client.get("/console/supervisor").status_code == 200
    saved = client.post("/console/canned", data={"csrf_token": csrf, "title": "Mới", "text": "Chào em"},
                        follow_redirects=False)
    assert saved.status_code == 303 and "Chào em" in client.get("/console/canned").text


def test_console_pages_send_the_strict_csp_and_are_not_cached(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "lan")
    login(client, "lan")
    page = client.get("/console/queue")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text and " style=" not in page.text
