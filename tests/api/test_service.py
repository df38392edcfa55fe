"""The service around the routes: error contract, health, docs, the page hook, the worker pool."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import exc as sa_exc

from app.core.errors import ServiceUnavailable
from app.services.inference import InferencePool
from app.storage import repository
from posture import worker
from posture.model import PoseModelOptions
from posture.worker import Job

from .conftest import Api, FakeAnalyzer, make_jpeg, running_api


def test_unknown_routes_and_methods_answer_json(api: Api):
    missing = api.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong = api.client.put("/api/v1/subjects", headers=api.auth)
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"


def test_malformed_multipart_is_a_client_error(api: Api):
    sid = api.subject()
    response = api.post(
        f"/api/v1/subjects/{sid}/analyses",
        content=b"--x\r\nbroken",
        headers={"Content-Type": "multipart/form-data"},  # no boundary
    )
    assert 400 <= response.status_code < 500
    assert set(response.json()) == {"code", "message"}


def test_an_unexpected_error_is_a_json_500_without_internals(api: Api, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(repository, "list_subjects", broken)
    client = TestClient(api.client.app, raise_server_exceptions=False)
    response = client.get("/api/v1/subjects", headers=api.auth)
    assert response.status_code == 500
    assert response.json() == {
        "code": "internal_error",
        "message": "An unexpected error occurred; it has been logged.",
    }
    assert "secret" not in response.text and "Traceback" not in response.text


def test_health_reports_a_loading_or_broken_model(database, tmp_path):
    loading = FakeAnalyzer(state="starting")
    with running_api(database, tmp_path / "a", loading) as api:
        response = api.client.get("/api/v1/health")
        assert response.status_code == 503 and response.json()["status"] == "starting"
    broken = FakeAnalyzer(state="unavailable", detail="Pose model not found at /nowhere.")
    with running_api(database, tmp_path / "b", broken) as api:
        response = api.client.get("/api/v1/health")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "detail": "Pose model not found at /nowhere."}


def test_docs_and_schema_are_served(api: Api):
    assert api.client.get("/docs").status_code == 200
    schema = api.client.get("/openapi.json").json()
    assert "/api/v1/subjects/{subject_id}/analyses" in schema["paths"]
    assert schema["components"]["schemas"]["ErrorInfo"]["required"] == ["code", "message"]


def test_the_page_is_served_at_the_root(api: Api):
    page = api.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert api.client.get("/static/index.html").status_code == 200


def test_uploads_do_not_block_the_event_loop(api: Api, fake: FakeAnalyzer):
    """While an analysis is running, other requests are answered."""
    sid = api.subject()
    started, release = threading.Event(), threading.Event()
    original_run = fake.run

    async def slow_run(job):
        started.set()
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
        return await original_run(job)

    fake.run = slow_run  # type: ignore[method-assign]
    result = {}
    uploader = threading.Thread(target=lambda: result.setdefault("r", api.upload(sid, make_jpeg(1))))
    uploader.start()
    assert started.wait(10)
    assert api.get("/api/v1/subjects").status_code == 200  # answered while the upload waits
    assert uploader.is_alive()
    release.set()
    uploader.join(10)
    assert result["r"].status_code == 201


# --- the worker pool (thread kind, with the job replaced, so no model is needed) -----------------


def test_pool_refuses_work_beyond_its_queue(monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(worker, "warm_up", lambda: 0)
    monkeypatch.setattr(worker, "run", lambda job: (release.wait(10), job)[1])
    pool = InferencePool(1, kind="thread", max_queued=1)
    pool.start()

    async def scenario():
        first = asyncio.ensure_future(pool.run(Job(b"1")))
        second = asyncio.ensure_future(pool.run(Job(b"2")))
        await asyncio.sleep(0.05)
        with pytest.raises(ServiceUnavailable) as refused:
            await pool.run(Job(b"3"))
        release.set()
        done = await asyncio.gather(first, second)
        return refused.value, done

    try:
        refused, done = asyncio.run(scenario())
    finally:
        release.set()
        pool.close()
    assert refused.code == "busy"
    assert [job.data for job in done] == [b"1", b"2"]
    assert pool.state == "ok"


def test_pool_reports_a_missing_model(tmp_path):
    pool = InferencePool(
        1, kind="thread", model_options=PoseModelOptions(model_path=tmp_path / "missing.task")
    )
    pool.start()
    deadline = time.monotonic() + 10
    while pool.state == "starting" and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert pool.state == "unavailable" and "not found" in (pool.detail or "")
        with pytest.raises(ServiceUnavailable) as err:
            asyncio.run(pool.run(Job(b"x")))
        assert err.value.code == "model_unavailable"
    finally:
        pool.close()


def test_busy_and_unavailable_answer_503_with_retry_after(database, tmp_path):
    class Busy(FakeAnalyzer):
        async def run(self, job):
            raise ServiceUnavailable("busy", "Too many photos are being analysed; retry in a moment.")

    with running_api(database, tmp_path / "d", Busy()) as api:
        response = api.post("/api/v1/analyze", files={"photo": ("p.jpg", make_jpeg(2), "image/jpeg")})
        assert response.status_code == 503 and response.json()["code"] == "busy"
        assert response.headers["retry-after"] == "5"


def test_a_database_outage_is_a_503_to_retry(api: Api, monkeypatch):
    def down(*args, **kwargs):
        raise sa_exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(repository, "list_subjects", down)
    response = api.get("/api/v1/subjects")
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["retry-after"] == "5"
