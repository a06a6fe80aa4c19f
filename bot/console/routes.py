"""The counsellor console, served by the gateway under /console: `install` adds every area's router
(bot/console/pages.py lists them), the static files and the error pages.

Server-rendered pages (Jinja2, autoescaped) and one script file; live parts
(queue, transcript) listen to server-sent events and fetch JSON. Every page
that shows a transcript and every action is written to the audit log.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from bot.cases import service
from bot.console import csrf
from bot.console.pages import STATIC_DIR, LoginRequired, templates

def install(app: Any) -> None:
    """Add the console's routes, static files and error pages to the gateway."""
    from fastapi.staticfiles import StaticFiles

    from bot.console import cases, knowledge, records, reports, signin, supervision

    app.include_router(signin.router)
    app.include_router(cases.router)
    app.include_router(supervision.router)
    app.include_router(records.router)
    app.include_router(reports.router)
    app.include_router(knowledge.router)  # /console/knowledge: editors (bot/console/knowledge.py)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, _error: LoginRequired) -> Response:
        if _wants_html(request):
            return RedirectResponse("/console/login", status_code=303)
        return JSONResponse({"error": "login_required"}, status_code=401)

    @app.exception_handler(csrf.CsrfRejected)
    async def _csrf(request: Request, _error: csrf.CsrfRejected) -> Response:
        return _error_page(request, 403, "Yêu cầu không hợp lệ (phiên làm việc đã hết hạn hoặc "
                                         "biểu mẫu đã cũ). Hãy tải lại trang rồi thử lại.")

    @app.exception_handler(service.CaseError)
    async def _case_error(request: Request, error: service.CaseError) -> Response:
        status = {"not_allowed": 403, "not_found": 404}.get(error.code, 409)
        if not _wants_html(request):
            return JSONResponse({"error": error.code, "message": error.message}, status_code=status)
        return _error_page(request, status, error.message)


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") or request.method == "POST" and \
        not request.headers.get("accept", "").startswith("application/json")


def _error_page(request: Request, status: int, message: str) -> Response:
    response = templates.TemplateResponse(request, "error.html", {"staff": None, "message": message,
                                                                  "flash": None}, status_code=status)
    return response
