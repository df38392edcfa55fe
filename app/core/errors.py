"""Every error is JSON `{"code", "message"}`: a stable machine code and a sentence for people.

Photo problems reuse the library's quality-gate codes (`not_side_view`, `unreadable_image`, ...).
No traceback ever reaches a client: unexpected exceptions are logged and answered as 500 `internal_error`.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from posture.result import ErrorInfo

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: ("malformed_request", "The request body could not be parsed."),
    401: ("missing_api_key", "Send an API key: `Authorization: Bearer KEY`."),
    404: ("not_found", "No such resource."),
    405: ("method_not_allowed", "This method is not allowed on this resource."),
    413: ("request_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Unsupported content type."),
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


class ServiceUnavailable(Exception):
    """No analysis can run now (model not loadable, pool broken, too many queued): answered as 503."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        ErrorInfo(code=code, message=message).model_dump(), status_code=status, headers=headers
    )


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries declaring the error body for `statuses`."""
    descriptions = {
        401: "Missing or invalid API key.",
        404: "Unknown id, or one that belongs to another account.",
        413: "Request body larger than the configured limit.",
        415: "Wrong content type.",
        422: "Invalid request, or a photo refused by the quality gate (its code).",
        503: "No analysis possible right now (model loading or unavailable, or too busy); retry.",
    }
    return {s: {"model": ErrorInfo, "description": descriptions.get(s, "Error.")} for s in statuses}


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(ServiceUnavailable, _unavailable)
    app.add_exception_handler(sa_exc.OperationalError, _database_unavailable)
    app.add_exception_handler(sa_exc.TimeoutError, _database_unavailable)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _unavailable(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceUnavailable)
    return error_response(503, exc.code, exc.message, {"Retry-After": "5"})


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # The database is down, restarting or locked for too long: a condition to retry, not a bug.
    log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        503,
        "database_unavailable",
        "The database is not reachable right now; retry shortly.",
        {"Retry-After": "5"},
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, default = _HTTP_CODES.get(exc.status_code, (f"http_{exc.status_code}", "Request failed."))
    message = exc.detail if isinstance(exc.detail, str) and exc.status_code != 404 else default
    return error_response(exc.status_code, code, message, getattr(exc, "headers", None))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "invalid_request", validation_message(exc.errors()))


def validation_message(errors: Any) -> str:
    """`where: what` for each problem; the offending input is never echoed (it may be large or private)."""
    parts = []
    for error in list(errors)[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body",)) or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    more = len(list(errors)) - 5
    return "Invalid request: " + "; ".join(parts) + (f" (and {more} more)" if more > 0 else "") + "."


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "An unexpected error occurred; it has been logged.")
