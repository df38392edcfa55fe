"""How `posture serve` runs uvicorn: bounded connections and bounded time for every phase of a request.

uvicorn bounds the idle time between requests (keep-alive) and the size of a request's headers (h11),
but not the time a client may take to send its headers, nor the number of connections with a JSON
answer, and it reads and drops for as long as a client likes the body of a request that was answered
without reading it (a 401 to an anonymous upload). `BoundedH11Protocol` adds those three bounds to
uvicorn's h11 protocol; the size of the headers and the size and time of a body are bounded by
`app.api.middleware.RequestLimits`, within the app, so they hold under any ASGI server.

`tls_options` checks the certificate and key of `posture serve --ssl-certfile/--ssl-keyfile` (HTTPS, so
that a phone on the network may open its camera on the page) before uvicorn gets them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.api.middleware import busy
from app.core.settings import Settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config` from the settings."""
    protocol = type(
        "BoundedH11Protocol",
        (BoundedH11Protocol,),
        {
            "header_timeout_s": settings.header_timeout_s,
            "drain_timeout_s": settings.body_timeout_s,
            "max_connections": settings.max_connections,
        },
    )
    return {
        "http": protocol,
        "timeout_keep_alive": settings.keep_alive_timeout_s,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
    }


class TlsError(ValueError):
    """The certificate and key for HTTPS are missing one another, unreadable or do not match."""


def tls_options(certfile: Path | None, keyfile: Path | None) -> dict[str, str]:
    """uvicorn's `ssl_certfile` / `ssl_keyfile`, checked here so that a wrong file is one clear line,
    not a traceback from inside uvicorn; `{}` (plain HTTP) when neither is given."""
    if certfile is None and keyfile is None:
        return {}
    if certfile is None or keyfile is None:
        raise TlsError("--ssl-certfile and --ssl-keyfile go together: give both, or neither for plain HTTP")
    for what, path in (("certificate", certfile), ("key", keyfile)):
        if not path.is_file():
            raise TlsError(f"the {what} file {path} does not exist")
    try:
        # An empty passphrase: an encrypted key fails here with the line below instead of OpenSSL
        # prompting on the terminal (and uvicorn prompting again).
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            certfile, keyfile, password=lambda: b""
        )
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise TlsError(
            f"the certificate {certfile} and key {keyfile} cannot be used together "
            f"(PEM files, the key without a passphrase): {exc}"
        ) from None
    return {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)}


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers (from the connection's opening,
    or from the first byte of a next request), a deadline for dropping an unread body after the answer,
    and at most `max_connections` connections (beyond: 503 `busy` as JSON, then close)."""

    header_timeout_s: float = 10.0
    drain_timeout_s: float = 120.0
    max_connections: int | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_kind: str | None = None
        if self.max_connections is not None and len(self.connections) > self.max_connections:
            self.app = busy  # this connection's request is answered 503, then the connection closed
        self._ensure("headers", self.header_timeout_s)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE:
            self._disarm()  # between requests uvicorn's keep-alive timeout holds, until the next byte
        else:
            self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _follow(self) -> None:
        """Set the deadline for where the request stands."""
        state = self.conn.their_state
        if state is h11.IDLE:  # a request's headers are (partly) awaited
            self._ensure("headers", self.header_timeout_s)
        elif state is h11.SEND_BODY and self.cycle is not None and self.cycle.response_complete:
            self._ensure("drain", self.drain_timeout_s)  # answered: the rest of the body is dropped
        else:  # the app reads the body (RequestLimits times it) or the answer is being made
            self._disarm()

    def _ensure(self, kind: str, timeout_s: float) -> None:
        if self._deadline_kind == kind:
            return
        self._disarm()
        self._deadline_kind = kind
        self._deadline = self.loop.call_later(timeout_s, self._expired)

    def _disarm(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            self._deadline.cancel()  # type: ignore[union-attr]
        self._deadline, self._deadline_kind = None, None

    def _expired(self) -> None:
        self._deadline, self._deadline_kind = None, None
        if self.transport.is_closing():
            return
        with contextlib.suppress(h11.LocalProtocolError):  # mid-request: nothing to tell h11
            self.conn.send(h11.ConnectionClosed())
        self.transport.close()
