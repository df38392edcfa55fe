"""Service settings, read from the environment (prefix `POSTURE_`) in this one place.

| variable | default | meaning |
| --- | --- | --- |
| `POSTURE_DATA_DIR` | `./data` | stored photos, overlays and the default SQLite database |
| `POSTURE_DATABASE_URL` | `<data dir>/posture.db` | SQLAlchemy URL (`postgresql+psycopg://…`) |
| `POSTURE_STORE_PHOTOS` | `true` | keep the (metadata-stripped) photo and its overlay |
| `POSTURE_STORAGE_URL` | `<data dir>/files` | photos and overlays: a directory or `s3://bucket/prefix` |
| `POSTURE_SWEEP_INTERVAL_S` | 3600 | seconds between sweeps of deleted and orphan files (0: start-up only) |
| `POSTURE_SWEEP_GRACE_S` | 3600 | age a file no row references must reach before a sweep removes it |
| `POSTURE_MAX_UPLOAD_BYTES` | 20 MiB | largest request body accepted (413 beyond) |
| `POSTURE_MAX_CLIP_BYTES` | 64 MiB | largest movement clip upload accepted (413 beyond) |
| `POSTURE_BODY_TIMEOUT_S` | 120 | time to send a whole request body after its headers (408 beyond) |
| `POSTURE_HEADER_TIMEOUT_S` | 10 | time to send a request's headers (`posture serve`; closed beyond) |
| `POSTURE_KEEP_ALIVE_TIMEOUT_S` | 5 | idle time a connection is kept between requests (`posture serve`) |
| `POSTURE_MAX_CONNECTIONS` | 200 | open connections (`posture serve`; beyond, 503 `busy`) |
| `POSTURE_MAX_HEADER_BYTES` | 16 KiB | size of a request's headers (431 beyond) |
| `POSTURE_INFERENCE_WORKERS` | CPU count (≤ 8) | photos analysed in parallel, one model per worker |
| `POSTURE_INFERENCE_POOL` | `process` | `process` or `thread` workers (see docs/benchmarks.md) |
| `POSTURE_MAX_QUEUED_ANALYSES` | 32 | analyses waiting for a worker before uploads get 503 `busy` |
| `POSTURE_JOB_STALE_S` | 30 | a movement job whose server stopped beating this long is failed |
| `POSTURE_MODEL_PATH` | bundled model | pose model file (also read by the library) |
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from posture.model import PoseModelOptions, default_model_path
from posture.worker import default_workers

PoolKind = Literal["process", "thread"]
"""Inference workers as processes (the default: they scale to the cores) or threads."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POSTURE_", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite under data_dir.")
    store_photos: bool = True
    storage_url: str = Field("", description="A directory or s3://bucket/prefix; empty means data_dir/files.")
    sweep_interval_s: float = Field(3600, ge=0)
    # Longer than any upload takes between writing its files and committing its row (a second or so).
    sweep_grace_s: float = Field(3600, ge=0)
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    # A 30 s phone clip at 1080p (about 17 Mbit/s) is about 64 MB; 4K clips need more.
    max_clip_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    # 20 MiB in 120 s is 1.4 Mbit/s; a phone photo of 3–5 MB needs a fifth of that.
    body_timeout_s: float = Field(120.0, gt=0)
    header_timeout_s: float = Field(10.0, gt=0)
    keep_alive_timeout_s: float = Field(5.0, gt=0)
    max_connections: int = Field(200, ge=1)
    max_header_bytes: int = Field(16 * 1024, ge=1024)
    inference_workers: int = Field(default_factory=lambda: default_workers(maximum=8), ge=1, le=64)
    inference_pool: PoolKind = "process"
    max_queued_analyses: int = Field(32, ge=0)
    # Movement clips run on workers of their own, so a clip (seconds to a minute of one core) never
    # holds a photo's worker or its queue (docs/api.md). Each is one more process of ~0.6 GB at most.
    clip_workers: int = Field(1, ge=1, le=16)
    max_queued_clips: int = Field(8, ge=0)
    # A movement job whose server has not renewed its heartbeat (every second) for this long was interrupted.
    job_stale_s: float = Field(30.0, ge=5)
    # The library reads the same variable (`posture.model.default_model_path`): one default.
    model_path: Path = Field(default_factory=default_model_path)

    @field_validator("database_url")
    @classmethod
    def _psycopg_driver(cls, url: str) -> str:
        # A bare postgresql:// URL would select psycopg2, which is not a dependency.
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'posture.db').resolve()}"

    @property
    def model_options(self) -> PoseModelOptions:
        return PoseModelOptions(model_path=self.model_path)

    @field_validator("storage_url")
    @classmethod
    def _storage_scheme(cls, url: str) -> str:
        if "://" in url and not url.startswith("s3://"):
            raise ValueError("use a directory path or s3://bucket/prefix")
        if url.startswith("s3://") and not url[len("s3://") :].split("/", 1)[0]:
            raise ValueError("no bucket: use s3://bucket/prefix")
        return url

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def storage_location(self) -> str:
        """`storage_url`, or the default directory under the data dir."""
        return self.storage_url or str(self.files_dir)
