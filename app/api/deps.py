"""Request dependencies: settings, database session, file store, analyzer and the current user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.core.errors import ApiError
from app.core.settings import Settings
from app.services.cache import VersionedCache
from app.services.inference import Analyzer
from app.storage import repository
from app.storage.files import FileStore
from app.storage.models import User

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `posture users create NAME`, sent as `Authorization: Bearer KEY`.",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.db.session() as session:
        yield session


def get_store(request: Request) -> FileStore:
    return request.app.state.store


def get_analyzer(request: Request) -> Analyzer:
    return request.app.state.analyzer


def get_trends_cache(request: Request) -> VersionedCache:
    return request.app.state.trends_cache


DbSession = Annotated[Session, Depends(get_db)]
Store = Annotated[FileStore, Depends(get_store)]
AnalyzerDep = Annotated[Analyzer, Depends(get_analyzer)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TrendsCache = Annotated[VersionedCache, Depends(get_trends_cache)]


def get_current_user(
    request: Request,
    db: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        if "authorization" in request.headers:
            raise ApiError(401, "invalid_api_key", "Send the key as `Authorization: Bearer KEY`.", _CHALLENGE)
        raise ApiError(401, "missing_api_key", "Send an API key: `Authorization: Bearer KEY`.", _CHALLENGE)
    try:
        user = repository.authenticate(db, credentials.credentials)
    except repository.KeyRevoked as revoked:
        raise ApiError(
            401,
            "revoked_api_key",
            f"This API key was revoked on {revoked.revoked_at:%Y-%m-%d %H:%M} UTC; use another key "
            "(`posture users key NAME` issues one).",
            _CHALLENGE,
        ) from None
    if user is None:
        raise ApiError(401, "invalid_api_key", "The API key is not valid.", _CHALLENGE)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_json(request: Request, _user: CurrentUser) -> None:
    """415 for a body that is not JSON (after authentication, so anonymous callers only learn 401)."""
    media_type = _media_type(request)
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ApiError(
            415, "unsupported_media_type", "Send the body as JSON (`Content-Type: application/json`)."
        )


def require_multipart(request: Request, _user: CurrentUser) -> None:
    if _media_type(request) != "multipart/form-data":
        raise ApiError(
            415,
            "unsupported_media_type",
            "Upload the photo as multipart/form-data with a file field named `photo`.",
        )


def require_clip_multipart(request: Request, _user: CurrentUser) -> None:
    if _media_type(request) != "multipart/form-data":
        raise ApiError(
            415,
            "unsupported_media_type",
            "Upload the clip as multipart/form-data with a file field named `clip`.",
        )
