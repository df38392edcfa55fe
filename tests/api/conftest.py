"""Fixtures of the API tests: both databases, a fake and the real analyzer, apps and accounts.

Every test runs on SQLite and on PostgreSQL (`database_url` is parametrized). PostgreSQL is reached at
`POSTURE_TEST_POSTGRES_URL` (default: the development and CI server on 127.0.0.1:5432); each test run
creates its own uniquely named database there and drops it at the end, so parallel runs never meet.
Set `POSTURE_TEST_POSTGRES=0` to skip the PostgreSQL half explicitly.

Each test gets its own account (accounts cannot see each other) and its own data dir.

Photos and overlays are stored on the filesystem; tests marked `both_storages` run once more against
S3-compatible object storage: a real moto server process (`tests/api/s3_server.py`), a new bucket each.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.core.db import Database
from app.core.settings import Settings
from app.main import create_app
from app.services.inference import InferencePool
from app.storage import repository
from app.storage.files import FileStore, LocalFileStore
from posture.analysis import package_version
from posture.errors import PostureError
from posture.intake import IntakeLimits, load_photo
from posture.measures import Measurement
from posture.measures.run import MEASURE_NAMES
from posture.model import MODEL_SHA256
from posture.photo_copy import strip_metadata
from posture.result import Analysis, ErrorInfo, ImageInfo, Versions
from posture.rules import rules_version
from posture.scoring import score_all
from posture.worker import Job, JobResult

from .s3_server import bucket_keys, free_port, moto_server, new_bucket, s3_environment

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_images"
PG_ADMIN_URL = os.environ.get(
    "POSTURE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_storages: run on the filesystem and on S3 object storage")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "storage" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_storages"):
        metafunc.parametrize("storage", ["files", "s3"], indirect=True)


# --- databases ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    if os.environ.get("POSTURE_TEST_POSTGRES", "1") == "0":
        pytest.skip("PostgreSQL tests turned off (POSTURE_TEST_POSTGRES=0)")
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"posture_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({type(exc).__name__}). Start one (docs/api.md), "
            "point POSTURE_TEST_POSTGRES_URL at it, or set POSTURE_TEST_POSTGRES=0 to skip those tests."
        )
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """An empty PostgreSQL database of the test's own, dropped after it: for tests that look at every
    row (the session's database holds other tests' analyses, which may share a photo's content)."""
    name = f"posture_fresh_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'posture.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def databases() -> Iterator[dict[str, Database]]:
    """One `Database` per URL for direct access from tests (accounts, row counts)."""
    opened: dict[str, Database] = {}
    yield opened
    for db in opened.values():
        db.dispose()


@pytest.fixture
def database(database_url: str, databases: dict[str, Database]) -> Database:
    if database_url not in databases:
        db = Database(database_url)
        db.migrate()
        databases[database_url] = db
    return databases[database_url]


# --- file storage ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server process for the session, and boto3's variables pointing at it (restored after)."""
    with moto_server(tmp_path_factory.mktemp("moto")) as endpoint:
        saved = {name: os.environ.get(name) for name in s3_environment(endpoint)}
        os.environ.update(s3_environment(endpoint))
        try:
            yield endpoint
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@pytest.fixture
def bucket_url(s3_endpoint: str) -> str:
    """`s3://bucket/prefix` of a new, empty bucket."""
    return new_bucket()


@pytest.fixture
def storage(request: pytest.FixtureRequest) -> str:
    """The app's `storage_url`: "" (files under the data dir), or a new bucket's URL for the `s3` run."""
    if getattr(request, "param", "files") == "s3":
        return request.getfixturevalue("bucket_url")
    return ""


# --- photos ---------------------------------------------------------------------------------------


def make_jpeg(seed: int, size: tuple[int, int] = (48, 80), exif: Image.Exif | None = None) -> bytes:
    """A small JPEG of random pixels: unique content (so unique stored files) for each seed."""
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, exif=exif if exif is not None else Image.Exif())
    return out.getvalue()


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


# --- analyzers ------------------------------------------------------------------------------------


@dataclass
class FakeAnalyzer:
    """Stands in for the worker pool in fast tests: real photo intake (so bad files are refused with
    the library's own codes) and real scoring, but measures chosen by the test instead of a model.

    `script(photo, measures=..., error=(code, message))` fixes the result for one photo; other photos
    get measures derived from their hash."""

    state: str = "ok"
    detail: str | None = None
    calls: int = 0
    scripted: dict[str, dict[str, Any]] = field(default_factory=dict)

    def script(self, photo: bytes, **result: Any) -> bytes:
        self.scripted[hashlib.sha256(photo).hexdigest()] = result
        return photo

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    async def run(self, job: Job) -> JobResult:
        self.calls += 1
        base = {
            "source": job.source,
            "versions": Versions(package=package_version(), model_sha256=MODEL_SHA256, rules=rules_version()),
            "mode": job.options.mode,
            "camera_roll_deg": job.options.camera_roll_deg or 0.0,
        }
        try:
            photo = load_photo(job.data, limits=job.limits or IntakeLimits())
        except PostureError as exc:
            return JobResult(
                0, Analysis(**base, status="rejected", error=ErrorInfo(code=exc.code, message=exc.message))
            )
        image = ImageInfo(width=photo.width, height=photo.height, taken_at=photo.taken_at)
        plan = self.scripted.get(hashlib.sha256(job.data).hexdigest(), {})
        if "error" in plan:
            code, message = plan["error"]
            error = ErrorInfo(code=code, message=message)
            return JobResult(0, Analysis(**base, status="rejected", error=error, image=image))
        measures = plan.get("measures") or _measures_from_hash(job.data)
        scored = score_all({k: Measurement(v, 0.9) for k, v in measures.items()}, job.options.mode)
        analysis = Analysis(
            **base,
            status="ok",
            facing=job.options.facing or "left",
            side="left",
            image=image,
            measures={name: measures.get(name) for name in MEASURE_NAMES},
            confidence={name: 0.9 for name in measures},
            scores=scored.scores,
            bands=scored.bands,
            findings=scored.findings,
        )
        # As the worker: the overlay when asked for (uploads that keep files, re-analyses), the copy
        # for photos to keep.
        overlay = _overlay_png(job.data) if job.options.overlay or job.keep_photo else None
        photo = strip_metadata(job.data) if job.keep_photo else None
        return JobResult(0, analysis, photo_jpeg=photo, overlay_png=overlay)


def _measures_from_hash(photo: bytes) -> dict[str, float | None]:
    digest = hashlib.sha256(photo).digest()
    return {name: round(digest[i] / 255 * 20 - 5, 2) for i, name in enumerate(MEASURE_NAMES)}


def _overlay_png(photo: bytes) -> bytes:
    """A small PNG unique to the photo, as a real overlay is: the photo's hash is in its first row
    (so two photos never share an overlay file, which the deletion tests count on)."""
    digest = hashlib.sha256(photo).digest()
    image = Image.new("RGB", (36, 64), (digest[0], 90, 160))
    for x in range(32):
        image.putpixel((x, 0), (digest[x], digest[x], digest[x]))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def fake() -> FakeAnalyzer:
    return FakeAnalyzer()


@pytest.fixture(scope="session")
def real_pool() -> Iterator[InferencePool]:
    """The service's own worker pool (2 processes, real MediaPipe), shared by the end-to-end tests."""
    pool = InferencePool(2, kind="process")
    pool.start()
    deadline = time.monotonic() + 120
    while pool.state == "starting" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pool.state == "ok", pool.detail
    yield pool
    pool.close()


# --- apps and accounts ----------------------------------------------------------------------------


@dataclass
class Api:
    """A running app (TestClient) and one account's key, with shortcuts for the common calls."""

    client: TestClient
    key: str
    data_dir: Path
    database: Database

    @property
    def store(self) -> FileStore:
        return self.client.app.state.store

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def request(self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return self.client.request(method, path, headers={**self.auth, **(headers or {})}, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def subject(self, name: str = "Test Person", notes: str | None = None) -> str:
        response = self.post("/api/v1/subjects", json={"name": name, "notes": notes})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def upload(self, subject_id: str, photo: bytes, filename: str = "photo.jpg", **form: Any) -> Any:
        return self.post(
            f"/api/v1/subjects/{subject_id}/analyses",
            files={"photo": (filename, photo, "image/jpeg")},
            data={k: str(v) for k, v in form.items()},
        )

    def stored_files(self) -> list[Any]:
        """Everything in the store: paths under the data dir's files, or the bucket's keys."""
        if isinstance(self.store, LocalFileStore):
            return sorted(p for p in (self.data_dir / "files").rglob("*") if p.is_file())
        return bucket_keys(self.store.url)


def new_account(database: Database) -> str:
    with database.session() as session:
        _, key = repository.create_user(session, f"user-{uuid.uuid4().hex[:12]}")
    return key


def wait_until_healthy(url: str, process: Any, log_path: Path, deadline: float) -> None:
    """Poll a server process's /health until it answers 200; fail with its log if it dies first or
    `deadline` (a `time.monotonic()` value) passes."""
    while True:
        assert process.poll() is None, log_path.read_text()
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not become healthy"
        time.sleep(0.2)


@dataclass
class ServerProcess:
    """A real `posture serve` process started by `serve_process`."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    data_dir: Path
    log: Path


@contextmanager
def serve_process(
    data_dirs: Sequence[Path],
    *,
    workers: int = 1,
    database_url: str | None = None,
    timeout_s: float = 180,
    **settings: str,
) -> Iterator[list[ServerProcess]]:
    """One `posture serve` (uvicorn, the real model) per data dir, each on a free port, all healthy when
    yielded; a data dir given twice is shared by two processes. `settings` are POSTURE_* settings by
    their lower-case names (`storage_url=...`, `max_connections="6"`). The database is the data dir's
    SQLite one unless `database_url` names another. Stopped with SIGINT, as a supervisor would."""
    env = {
        **os.environ,
        "GLOG_minloglevel": "2",
        "POSTURE_INFERENCE_WORKERS": str(workers),
        **{f"POSTURE_{name.upper()}": value for name, value in settings.items()},
    }
    env.pop("POSTURE_DATABASE_URL", None)
    if database_url:
        env["POSTURE_DATABASE_URL"] = database_url
    command = [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())", "serve"]
    servers: list[ServerProcess] = []
    try:
        for data_dir in data_dirs:
            data_dir.mkdir(parents=True, exist_ok=True)
            port = free_port()
            log = data_dir.parent / f"server-{port}.log"
            options = ["--port", str(port), "--data-dir", str(data_dir), "--log-level", "warning"]
            with open(log, "wb") as out:
                process = subprocess.Popen([*command, *options], cwd=ROOT, env=env, stdout=out, stderr=out)
            servers.append(ServerProcess(f"http://127.0.0.1:{port}", port, process, data_dir, log))
        deadline = time.monotonic() + timeout_s
        for server in servers:
            wait_until_healthy(server.url, server.process, server.log, deadline)
        yield servers
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGINT)
        for server in servers:
            try:
                server.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


@contextmanager
def running_api(database: Database, data_dir: Path, analyzer: Any, **settings: Any) -> Iterator[Api]:
    config = Settings(data_dir=data_dir, database_url=database.url, **settings)
    app = create_app(config, analyzer=analyzer)
    with TestClient(app) as client:
        # The start-up sweep runs in the background: let it end, so it cannot race the test's checks.
        assert app.state.sweeper.first_done.wait(30), "the start-up sweep did not end"
        yield Api(client, new_account(database), data_dir, database)


@pytest.fixture
def api(database: Database, tmp_path: Path, fake: FakeAnalyzer, storage: str) -> Iterator[Api]:
    with running_api(database, tmp_path / "data", fake, storage_url=storage) as running:
        yield running


@pytest.fixture
def real_api(database: Database, tmp_path: Path, real_pool: InferencePool) -> Iterator[Api]:
    with running_api(database, tmp_path / "data", real_pool) as running:
        yield running
