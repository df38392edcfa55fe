"""ASGI middleware: limits on a request (headers' size, body's size and time), on the requests in
the app at once, HEAD answered like GET, and the security headers of every answer.

These hold under any ASGI server. The limits on connections (idle ones included), on the time to send
a request's headers, on dropping an unread body and the keep-alive time live below the application, in
the HTTP protocol that `posture serve` gives uvicorn (`app/api/server.py`): an ASGI app is only called
once the headers are in, and never sees a connection between requests (docs/api.md).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import error_response

SECURITY_HEADERS = (
    # Browsers must take every answer as what its Content-Type says (a photo is never run as a page).
    (b"x-content-type-options", b"nosniff"),
    # Links on the page never tell another site which subject or analysis was open.
    (b"referrer-policy", b"no-referrer"),
)


async def busy(scope: Scope, receive: Receive, send: Send) -> None:
    """503 `busy`, then the connection closed: the answer beyond the connection or request limit."""
    headers = {
        "Retry-After": "5",
        "Connection": "close",
        **{k.decode(): v.decode() for k, v in SECURITY_HEADERS},
    }
    response = error_response(
        503, "busy", "The server has too many connections or requests open; retry in a moment.", headers
    )
    await response(scope, receive, send)


class RequestsInFlight:
    """At most `limit` requests in the app at once; beyond, 503 `busy`. Under `posture serve` its
    connection limit (the same setting, `max_connections`) comes first, since a connection carries one
    request at a time; this bounds the work in hand under an ASGI server that bounds no connections."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.active = 0  # one event loop: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            await busy(scope, receive, send)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


class _BodyRefused(Exception):
    pass


class RequestLimits:
    """Answer 431 `headers_too_large` for headers over `max_header_bytes` (h11 only bounds what it
    buffers of headers still arriving); 413 `request_too_large` as soon as a body is known to exceed
    `max_bytes` (at once when Content-Length says so, else when the bytes received pass it: chunked
    uploads); and 408 `request_timeout` when the whole body has not arrived `timeout_s` after the
    request's headers (a client trickling an upload would otherwise hold its connection and a request
    slot for ever).

    Only the body is timed: once it is in, the app's waits for a disconnect are not. `larger` gives the
    paths (full-match patterns) whose bodies may be larger, with their own limit: movement clips."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        timeout_s: float = 120.0,
        max_header_bytes: int = 16 * 1024,
        larger: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.max_header_bytes = max_header_bytes
        self.larger = tuple(larger)

    def limit_for(self, scope: Scope) -> int:
        path = scope.get("path", "")
        return next((limit for pattern, limit in self.larger if pattern.fullmatch(path)), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header_bytes = sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ()))
        if header_bytes > self.max_header_bytes:
            response = error_response(
                431,
                "headers_too_large",
                f"The request's headers are larger than {self.max_header_bytes} bytes.",
                {"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        max_bytes = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > max_bytes:
            await self._too_large(scope, receive, send, max_bytes)
            return

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        received = 0
        body_done = False
        refusal: str | None = None
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, body_done, refusal
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                refusal = "timeout"
                raise _BodyRefused from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    refusal = "size"
                    raise _BodyRefused
                body_done = not message.get("more_body", False)
            else:
                body_done = True  # disconnected: nothing more will come
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if refusal is not None:
                return  # whatever the app makes of the interrupted body, the answer is ours
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if refusal is None:
                raise
        if refusal is not None and not response_started:
            if refusal == "size":
                await self._too_large(scope, receive, send, max_bytes)
            else:
                await self._too_slow(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        limit_mb = max_bytes / (1024 * 1024)
        path = scope.get("path", "")
        what = "clip" if any(pattern.fullmatch(path) for pattern, _ in self.larger) else "photo"
        response = error_response(
            413,
            "request_too_large",
            f"The request body is larger than the limit of {limit_mb:.1f} MiB; send a smaller {what}.",
            {"Connection": "close"},
        )
        await response(scope, receive, send)

    async def _too_slow(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            408,
            "request_timeout",
            f"The request body did not arrive within {self.timeout_s:g} s; retry on a faster connection.",
            {"Connection": "close"},
        )
        await response(scope, receive, send)


HEAD_AS_GET = "posture.head_as_get"
"""The scope key `HeadAsGet` sets on the GET it runs for a HEAD (see `is_head`)."""


def is_head(request: Request) -> bool:
    """Whether this GET answers a HEAD: a route may then skip fetching a body no one will receive (a
    photo in object storage)."""
    return bool(request.scope.get(HEAD_AS_GET))


class HeadAsGet:
    """HEAD runs the GET route and sends its status and headers (Content-Length included) without
    the body, for every GET route: FastAPI registers GET routes for GET only. The route can tell
    (`is_head`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        finished = False

        async def headers_only(message: Message) -> None:
            nonlocal finished
            if message["type"] != "http.response.body":
                await send(message)
            elif not message.get("more_body", False) and not finished:
                finished = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app({**scope, "method": "GET", HEAD_AS_GET: True}, receive, headers_only)


class SecurityHeaders:
    """`SECURITY_HEADERS` on every answer, added where the app did not set them. Wraps the whole
    middleware stack (`app.main`), so that Starlette's own 500 answers carry them too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in SECURITY_HEADERS if header[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
