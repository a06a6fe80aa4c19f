"""One JSON error shape for every 4xx/5xx of the HTTP API:

    {"error": {"code": "invalid_conversation_id", "message": "..."}}

`code` is stable (clients may branch on it); `message` is English for the
integrator. Nothing here ever returns a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.relay import RejectedMessage

logger = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": {"code": code, "message": message}},
        headers={"Cache-Control": "no-store"},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RejectedMessage, _rejected_message)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)


async def _validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
    problems = error.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return error_response(400, "invalid_json", "the request body is not valid JSON")
    first = problems[0] if problems else {}
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    if not location and first.get("type") in ("model_attributes_type", "dict_type"):
        return error_response(
            422, "invalid_request", "the body must be a JSON object (Content-Type: application/json)"
        )
    if location[:2] == ["path", "conversation_id"]:
        return error_response(
            422,
            "invalid_conversation_id",
            "conversation_id must be 16-64 characters from A-Z, a-z, 0-9, '_' and '-'",
        )
    return error_response(422, "invalid_request", _describe(location, first))


async def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
    codes = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}
    code = codes.get(error.status_code, f"http_{error.status_code}")
    message = error.detail if isinstance(error.detail, str) else code.replace("_", " ")
    return error_response(error.status_code, code, message)


async def _rejected_message(_request: Request, error: RejectedMessage) -> JSONResponse:
    return error_response(400, error.code, error.message)


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return error_response(500, "internal_error", "something went wrong on our side")


def _describe(location: list[str], problem: dict[str, Any]) -> str:
    where = ".".join(location[1:] if location[:1] in (["query"], ["path"]) else location)
    message = str(problem.get("msg") or "invalid value")
    return f"{where}: {message}" if where else message
