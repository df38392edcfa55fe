"""Multipart upload forms, read by the upload routes themselves once the API key is checked.

FastAPI parses `Form` and `File` parameters before it runs any dependency, so with them an anonymous
caller could make the server parse a whole 20 MiB body before the 401. The upload routes therefore take
the request and call `read_form` after authentication; a Pydantic model declares the fields other than
`photo`, validates them (422 `invalid_request`, as FastAPI would) and gives the body's OpenAPI schema
(`multipart_body`). A field sent twice (two `photo` parts) answers 422 `duplicate_field`, not last-one-wins.
A body cut before its closing boundary (`--boundary--`) is 400 `malformed_request`: the multipart parser
would otherwise keep the parts it finished and silently drop the last, unfinished one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.types import Message, Receive

from app.core.errors import ApiError
from app.services.uploads import read_photo

PHOTO_FIELD = "photo"
PHOTO_DESCRIPTION = "The side-profile photo: JPEG, PNG, WebP or HEIC (EXIF orientation is applied)."
# Enough for every declared field and a stray extra; a second `photo` must still parse to be reported.
_MAX_FILES = 4
_MAX_FIELDS = 32

F = TypeVar("F", bound=BaseModel)


@dataclass(frozen=True)
class PhotoPart:
    data: bytes
    filename: str | None


async def read_form(
    request: Request,
    model: type[F],
    *,
    file_field: str = PHOTO_FIELD,
    read: Callable[[UploadFile], Awaitable[bytes]] = read_photo,
) -> tuple[PhotoPart, F]:
    """The file part (`photo` or `file_field`) read whole and the other fields of a multipart upload,
    validated by `model`; `read` checks the part's declared type and reads it."""
    async with open_form(request, model, file_field=file_field) as (part, fields):
        return PhotoPart(await read(part), part.filename), fields


@asynccontextmanager
async def open_form(
    request: Request, model: type[F], *, file_field: str = PHOTO_FIELD
) -> AsyncIterator[tuple[UploadFile, F]]:
    """The file part (`photo`, or `file_field`: a movement's `clip`), unread, and the other fields of a
    multipart upload, validated by `model`. The part's file (spooled to disk past 1 MB by the parser)
    is open inside the block only: a clip is copied from it into the store there, a chunk at a time."""
    tail = _Tail()
    request = Request(request.scope, tail.wrap(request.receive))
    async with request.form(max_files=_MAX_FILES, max_fields=_MAX_FIELDS) as form:
        if not tail.closes(_boundary(request)):
            raise ApiError(
                400,
                "malformed_request",
                "The multipart body ends before its closing boundary: the upload was cut short. "
                "Send it again.",
            )
        counts = Counter(name for name, _ in form.multi_items())
        for name, count in counts.items():
            if count > 1:
                raise ApiError(
                    422,
                    "duplicate_field",
                    f"The form has {count} `{name[:40]}` fields; send each field once.",
                )
        # As FastAPI's Form(): an empty text field is as good as absent (it gets its default).
        values = {name: value for name, value in form.items() if name != file_field and value != ""}
        errors: list[dict[str, Any]] = []
        try:
            fields = model.model_validate(values)
        except ValidationError as exc:
            errors.extend({**error, "loc": ("body", *error["loc"])} for error in exc.errors())
        part = form.get(file_field)
        if part is None:
            errors.insert(0, {"type": "missing", "loc": ("body", file_field), "msg": "Field required"})
        elif not isinstance(part, UploadFile):
            errors.insert(0, {"type": "file", "loc": ("body", file_field), "msg": "Expected a file part"})
        if errors:
            raise RequestValidationError(errors)
        assert isinstance(part, UploadFile)
        yield part, fields


class _Tail:
    """Keeps the last bytes of a request body as it is read, to check how the body ends."""

    KEEP = 4096  # the closing boundary, and a short epilogue after it (RFC 2046 allows one)

    def __init__(self) -> None:
        self.data = b""

    def wrap(self, receive: Receive) -> Receive:
        async def recording() -> Message:
            message = await receive()
            if message.get("type") == "http.request":
                self.data = (self.data + message.get("body", b""))[-self.KEEP :]
            return message

        return recording

    def closes(self, boundary: bytes | None) -> bool:
        return boundary is None or b"--" + boundary + b"--" in self.data


def _boundary(request: Request) -> bytes | None:
    """The multipart boundary of the request's Content-Type (None: not declared, left to the parser)."""
    for param in request.headers.get("content-type", "").split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1", "replace")
    return None


def multipart_body(
    model: type[BaseModel], file_field: str = PHOTO_FIELD, file_description: str = PHOTO_DESCRIPTION
) -> dict[str, Any]:
    """`openapi_extra` declaring the multipart body: a `photo` (or `file_field`) part and `model`'s fields."""
    schema = model.model_json_schema()
    assert "$defs" not in schema, "form fields must be flat (no nested models) to inline their schema"
    properties = {
        file_field: {
            "type": "string",
            "contentMediaType": "application/octet-stream",
            "title": file_field.capitalize(),
            "description": file_description,
        },
        **schema.get("properties", {}),
    }
    body = {
        "type": "object",
        "title": schema.get("title", model.__name__),
        "properties": properties,
        "required": [file_field, *schema.get("required", [])],
    }
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": body}}}}
