"""Path and paging parameters, and the stored-file download, shared by the routers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Path, Query, Request, Response, status
from fastapi.responses import FileResponse, StreamingResponse

from app.api.middleware import is_head
from app.core.errors import ApiError
from app.services.uploads import as_utc
from app.storage.files import FileKind, FileStore

SubjectId = Annotated[uuid.UUID, Path(description="Subject id.")]
AnalysisId = Annotated[uuid.UUID, Path(description="Analysis id.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Items to skip.")]


def utc_or_422(value: datetime | None) -> datetime | None:
    """A `since`/`until` query value in UTC (naive means UTC); 422 outside 1900–2200."""
    if value is None:
        return None
    utc = as_utc(value)
    if utc is None:
        raise ApiError(422, "invalid_request", "Invalid request: since/until must lie between 1900 and 2200.")
    return utc


_IMAGE_CACHE = {"Cache-Control": "private, no-cache"}  # revalidated (ETag): a deleted photo is gone


def etag_matches(if_none_match: str | None, digest: str) -> bool:
    """RFC 9110 If-None-Match: `*`, or a list of (possibly weak) entity tags, one of them ours."""
    if not if_none_match:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in tags or any(tag.removeprefix("W/") == f'"{digest}"' for tag in tags)


def stored_file_response(
    request: Request, store: FileStore, kind: FileKind, digest: str, *, missing: ApiError
) -> Response:
    """GET/HEAD of one content-addressed stored file: 304 on a matching ETag, else the file (`missing`,
    built by the caller so its code stays at the route, when the store has lost it). The caller ends
    its transaction first: none is held while the file streams."""
    # Files are content-addressed: the hash is the version, and a revalidation needs no file.
    cache = {**_IMAGE_CACHE, "ETag": f'"{digest}"'}
    if etag_matches(request.headers.get("if-none-match"), digest):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=cache)
    # A HEAD reads the object's metadata only: nothing is fetched from object storage.
    stored = store.open(kind, digest, body=not is_head(request))
    if stored is None:
        raise missing
    if stored.path is not None:  # a local file: sent by the server itself
        return FileResponse(stored.path, media_type=kind.media_type, headers=cache)
    # From object storage: streamed a chunk at a time, never held whole.
    headers = {**cache, "Content-Length": str(stored.size)}
    return StreamingResponse(stored.chunks, media_type=kind.media_type, headers=headers)
