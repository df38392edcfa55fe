"""The whole path with the real pose model: the service's worker pool, real photos, both databases.

Side photos are accepted and measured exactly as the library measures them; a frontal photo and an
empty file are refused with the quality gate's codes and nothing is stored; history, compare, trends
and export work on the stored results; concurrent uploads all succeed.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import signal
import time

import httpx
import pytest
from PIL import Image

import posture
from app.core.settings import Settings
from app.services.inference import InferencePool
from app.services.uploads import make_job
from posture.options import AnalysisOptions
from posture.overlay import CANVAS_H, CANVAS_W

from .conftest import Api, sample

SIDE = "walk_side_f0128.jpg"
# What a stored analysis adds to the library's analysis object.
HISTORY_FIELDS = ("id", "subject_id", "taken_at", "visit_id", "visit", "reanalysis_skipped")
CROP = "walk_side_crop_f0128.jpg"


@pytest.fixture(scope="module")
def expected(model) -> dict[str, posture.Analysis]:
    """The library's own results for the same bytes (the `model` fixture of tests/conftest.py)."""
    return {name: posture.analyze(sample(name), model=model, source_name=name) for name in (SIDE, CROP)}


def test_a_new_user_uploads_two_photos_and_follows_the_history(real_api: Api, expected):
    api = real_api
    sid = api.subject("Walker")
    first = api.upload(sid, sample(SIDE), filename=SIDE, taken_at="2026-01-10T08:00:00Z")
    second = api.upload(sid, sample(CROP), filename=CROP, taken_at="2026-02-07T08:00:00Z")
    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    a, b = first.json(), second.json()

    # The API's analysis object is the library's Analysis.to_dict() plus id, subject_id, taken_at.
    for body, name in ((a, SIDE), (b, CROP)):
        assert body["status"] == "ok"
        assert {k: v for k, v in body.items() if k not in HISTORY_FIELDS} == expected[name].to_dict()

    # Stored files: an upright photo without metadata of the analysed size, and the overlay.
    photo = api.get(f"/api/v1/analyses/{a['id']}/photo")
    with Image.open(io.BytesIO(photo.content)) as image:
        assert image.format == "JPEG" and image.size == (a["image"]["width"], a["image"]["height"])
        assert len(image.getexif()) == 0
    overlay = api.get(f"/api/v1/analyses/{a['id']}/overlay.png")
    with Image.open(io.BytesIO(overlay.content)) as image:
        assert image.format == "PNG" and image.size == (CANVAS_W, CANVAS_H)

    history = api.get(f"/api/v1/subjects/{sid}/analyses").json()
    assert [x["id"] for x in history["items"]] == [a["id"], b["id"]] and history["total"] == 2

    comparison = api.get("/api/v1/compare", params={"a": a["id"], "b": b["id"]}).json()
    assert comparison["days_between"] == 28.0 and comparison["warnings"] == []
    for name, entry in comparison["measures"].items():
        if name != "overall_score" and entry["a"] is not None and entry["b"] is not None:
            assert entry["difference"] == pytest.approx(b["measures"][name] - a["measures"][name])
            assert entry["within_noise"] == (abs(entry["difference"]) < entry["noise"])

    trends = api.get(f"/api/v1/subjects/{sid}/trends").json()
    assert trends["n"] == 2 and trends["visit_ids"] == [a["visit_id"], b["visit_id"]]  # a visit each
    tilt = trends["measures"]["pelvic_tilt_deg"]
    assert tilt["values"] == [a["measures"]["pelvic_tilt_deg"], b["measures"]["pelvic_tilt_deg"]]
    two_point_slope = (tilt["values"][1] - tilt["values"][0]) / 28 * 30
    assert tilt["slope_per_30d"] == pytest.approx(two_point_slope, abs=1e-3)

    rows = list(csv.DictReader(io.StringIO(api.get(f"/api/v1/subjects/{sid}/export.csv").text)))
    assert [r["source"] for r in rows] == [SIDE, CROP]
    assert float(rows[0]["trunk_lean_deg"]) == a["measures"]["trunk_lean_deg"]
    exported = api.get(f"/api/v1/subjects/{sid}/export.json").json()
    assert exported["analyses"] == [a, b]


@pytest.mark.parametrize(
    ("path", "code"), [("frontal_man.jpg", "not_side_view"), ("bad/empty.jpg", "unreadable_image")]
)
def test_refused_photos_answer_422_and_store_nothing(real_api: Api, path, code):
    sid = real_api.subject()
    response = real_api.upload(sid, sample(path), filename=path)
    assert response.status_code == 422
    assert response.json()["code"] == code and response.json()["message"]
    assert real_api.get(f"/api/v1/subjects/{sid}/analyses").json()["total"] == 0
    assert real_api.stored_files() == []


def test_stateless_analyze_with_the_real_model(real_api: Api, expected):
    response = real_api.post("/api/v1/analyze", files={"photo": (CROP, sample(CROP), "image/jpeg")})
    assert response.status_code == 200
    assert response.json() == expected[CROP].to_dict()
    assert real_api.stored_files() == []


def test_concurrent_uploads_all_succeed_and_health_stays_responsive(real_api: Api):
    """Six uploads at once on a two-worker pool; health is answered while they are in flight."""
    sid = real_api.subject("Busy")
    app = real_api.client.app  # lifespan already running under the TestClient

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=120) as client:
            uploads = [
                asyncio.ensure_future(
                    client.post(
                        f"/api/v1/subjects/{sid}/analyses",
                        files={"photo": (name, sample(name), "image/jpeg")},
                        headers=real_api.auth,
                    )
                )
                for name in (SIDE, CROP) * 3
            ]
            await asyncio.sleep(0.2)
            health = await client.get("/api/v1/health")
            in_flight = sum(not u.done() for u in uploads)
            return await asyncio.gather(*uploads), health, in_flight

    responses, health, in_flight = asyncio.run(scenario())
    assert health.status_code == 200 and in_flight > 0
    assert [r.status_code for r in responses] == [201] * 6
    assert real_api.get(f"/api/v1/subjects/{sid}").json()["analysis_count"] == 6
    # Same photo, same result, whichever worker analysed it.
    by_source = {}
    for r in responses:
        by_source.setdefault(r.json()["source"], set()).add(r.json()["measures"]["pelvic_tilt_deg"])
    assert all(len(values) == 1 for values in by_source.values())


def test_a_killed_worker_is_replaced(tmp_path):
    """A worker that dies while idle (OOM killer, native crash) costs no job: the next photo goes to a
    fresh worker (tests/api/test_worker_isolation.py kills one mid-job)."""
    pool = InferencePool(1, kind="process")
    pool.start()
    try:
        deadline = time.monotonic() + 120
        while not pool.worker_pids and time.monotonic() < deadline:
            time.sleep(0.05)
        (pid,) = pool.worker_pids
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        job = make_job(Settings(), sample(CROP), "crop.jpg", AnalysisOptions(), keep_files=True)
        outcome = asyncio.run(pool.run(job))
        assert outcome.analysis.ok and outcome.photo_jpeg and outcome.overlay_png
        assert pid not in pool.worker_pids
    finally:
        pool.close()
