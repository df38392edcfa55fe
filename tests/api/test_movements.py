"""Movement tests through the API (issue 17): clip upload → 202 and a job, progress, the movement, its
deepest frame, history, trends, comparison and deletion, bad clips as coded job errors, and jobs that a
stopped server left unfinished. On SQLite and PostgreSQL (the `database` fixture), with the fake clip
analyzer (tests/api/movement_fakes.py); the real library's path is in test_movements_e2e."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.core.db import Database
from app.storage import movements as movement_storage
from app.storage import sweep
from app.storage.files import FileKind
from app.storage.models import Movement, MovementJob, utcnow

from .conftest import Api, new_account, running_api, wait_until_healthy
from .movement_fakes import FakeClipAnalyzer, fake_clip, upload, wait_job
from .s3_server import free_port


@pytest.fixture
def fake() -> FakeClipAnalyzer:
    return FakeClipAnalyzer()


def clip_files(api: Api) -> list[Any]:
    return [f for f in api.stored_files() if "/clip/" in f"/{f}"]


def clip_files_after_failure(api: Api, expected: int = 0) -> list[Any]:
    """The clip files once a failed job's clip is gone: it is removed right after the commit that fails
    the job (through the outbox), so a poll can see the job failed a moment before its clip is gone."""
    deadline = time.monotonic() + 10
    while len(found := clip_files(api)) > expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


@pytest.mark.both_storages
def test_a_clip_becomes_a_movement_through_a_job(api: Api, fake: FakeClipAnalyzer):
    subject = api.subject()
    measures = {"squat_shin_peak_deg": 31.4, "squat_depth_pct": 38.0, "squat_heel_lift_pct": 4.0}
    clip = fake.script_clip(fake_clip(1), measures=measures, reps=3)
    response = upload(api, subject, clip, test="squat", facing="left", camera_roll_deg="1.5")
    assert response.status_code == 202, response.text
    accepted = response.json()["job"]
    assert accepted["status"] in ("queued", "running") and accepted["movement_id"] is None
    assert response.headers["location"] == f"/api/v1/jobs/{accepted['id']}"
    job = wait_job(api, accepted["id"])
    assert job["status"] == "done" and job["progress"] == 1.0 and job["error"] is None, job
    movement = api.get(f"/api/v1/movements/{job['movement_id']}").json()
    assert movement["test"] == "squat" and movement["subject_id"] == subject
    assert movement["measures"] == measures and movement["reps"] == 3
    assert movement["source"] == "squat.mp4" and movement["has_deepest_frame"]
    assert movement["analysis"]["facing"] == "left" and len(movement["analysis"]["reps"]) == 3
    png = api.get(f"/api/v1/movements/{job['movement_id']}/deepest.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert png.headers["content-type"] == "image/png"
    again = api.get(
        f"/api/v1/movements/{job['movement_id']}/deepest.png", headers={"If-None-Match": png.headers["etag"]}
    )
    assert again.status_code == 304
    listed = api.get(f"/api/v1/subjects/{subject}/movements").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == job["movement_id"]
    assert api.get(f"/api/v1/subjects/{subject}/movements?test=lunge").json()["total"] == 0
    assert len(clip_files(api)) == 1  # the clip is kept with its movement
    # The options reached the library.
    assert fake.clip_calls == 1
    options = fake.clip_options[0]
    assert (options.test, options.facing, options.camera_roll_deg) == ("squat", "left", 1.5)
    assert options.overlay is True and options.mirror_pass is False
    second = upload(api, subject, fake_clip(19), test="lunge", mirror_pass="true").json()["job"]["id"]
    assert wait_job(api, second)["status"] == "done" and fake.clip_options[1].mirror_pass is True


def test_progress_is_reported_while_the_clip_is_analysed(api: Api, fake: FakeClipAnalyzer):
    subject = api.subject()
    hold = threading.Event()
    clip = fake.script_clip(fake_clip(2), steps=10, hold=hold)
    job_id = upload(api, subject, clip).json()["job"]["id"]
    try:
        deadline = time.monotonic() + 10
        while True:  # the heartbeat writes progress every second
            job = api.get(f"/api/v1/jobs/{job_id}").json()
            if job["status"] == "running" and 0 < job["progress"] < 1:
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        assert job["movement_id"] is None
        assert api.get(f"/api/v1/subjects/{subject}/movements").json()["total"] == 0
    finally:
        hold.set()
    assert wait_job(api, job_id)["status"] == "done"


# Each with a clip of its own: a clip another test stored in the same database would be shared, so kept.
@pytest.mark.parametrize(
    ("code", "seed"),
    [
        ("clip_unreadable", 21),
        ("clip_too_long", 22),
        ("no_movement", 23),
        ("person_left_frame", 24),
        ("not_side_on", 25),
    ],
)
def test_a_clip_the_library_refuses_fails_its_job_with_the_code_and_keeps_nothing(
    api: Api, fake: FakeClipAnalyzer, code: str, seed: int
):
    subject = api.subject()
    clip = fake.script_clip(fake_clip(seed), error=(code, f"The clip says {code}."))
    response = upload(api, subject, clip)
    assert response.status_code == 202
    job = wait_job(api, response.json()["job"]["id"])
    assert job["status"] == "failed" and job["movement_id"] is None
    assert job["error"] == {"code": code, "message": f"The clip says {code}."}
    assert api.get(f"/api/v1/subjects/{subject}/movements").json()["total"] == 0
    assert clip_files_after_failure(api) == []  # the refused clip is not kept
    with api.database.session() as session:
        assert not sweep.unreferenced(session, api.store)


def test_the_upload_is_checked_before_anything_is_stored(api: Api, fake: FakeClipAnalyzer):
    subject = api.subject()
    url = f"/api/v1/subjects/{subject}/movements"
    clip = fake_clip(3)
    anonymous = api.client.post(url, files={"clip": ("a.mp4", clip, "video/mp4")})
    assert anonymous.status_code == 401
    assert api.post(url, content=b"{}", headers={"Content-Type": "application/json"}).status_code == 415
    text = api.post(url, files={"clip": ("a.txt", clip, "text/plain")})
    assert text.status_code == 415 and text.json()["code"] == "unsupported_media_type"
    missing = api.post(url, files={"other": ("a.mp4", clip, "video/mp4")})
    assert missing.status_code == 422 and missing.json()["code"] == "invalid_request"
    assert upload(api, subject, clip, test="plank").status_code == 422
    assert upload(api, subject, clip, camera_roll_deg="90").status_code == 422
    assert upload(api, subject, clip, facing="up").status_code == 422
    empty = upload(api, subject, b"")
    assert empty.status_code == 422 and empty.json()["code"] == "clip_unreadable"
    unknown = upload(api, str(uuid.uuid4()), clip)
    assert unknown.status_code == 404 and unknown.json()["code"] == "subject_not_found"
    assert api.get(f"/api/v1/jobs/{uuid.uuid4()}").json()["code"] == "job_not_found"
    assert fake.clip_calls == 0 and clip_files(api) == []


def test_clips_have_their_own_size_limit(database: Database, tmp_path: Path):
    analyzer = FakeClipAnalyzer()
    limits = {"max_upload_bytes": 32 * 1024, "max_clip_bytes": 96 * 1024}
    with running_api(database, tmp_path / "data", analyzer, **limits) as api:
        subject = api.subject()
        response = upload(api, subject, fake_clip(4, size=128 * 1024))
        assert response.status_code == 413 and response.json()["code"] == "request_too_large"
        assert "clip" in response.json()["message"]
        assert analyzer.clip_calls == 0 and clip_files(api) == []
        # Larger than a photo may be, within the clip's limit: accepted. A photo that size is not.
        accepted = upload(api, subject, fake_clip(14, size=64 * 1024))
        assert accepted.status_code == 202 and wait_job(api, accepted.json()["job"]["id"])["status"] == "done"
        photo = api.upload(subject, fake_clip(15, size=64 * 1024))
        assert photo.status_code == 413


def test_other_accounts_see_no_job_and_no_movement(api: Api, fake: FakeClipAnalyzer):
    subject = api.subject()
    job = wait_job(api, upload(api, subject, fake_clip(5)).json()["job"]["id"])
    other = {"Authorization": f"Bearer {_new_key(api)}"}
    assert api.client.get(f"/api/v1/jobs/{job['id']}", headers=other).status_code == 404
    assert api.client.get(f"/api/v1/movements/{job['movement_id']}", headers=other).status_code == 404
    assert api.client.delete(f"/api/v1/movements/{job['movement_id']}", headers=other).status_code == 404
    deepest = api.client.get(f"/api/v1/movements/{job['movement_id']}/deepest.png", headers=other)
    assert deepest.status_code == 404


def _new_key(api: Api) -> str:
    return new_account(api.database)


@pytest.mark.both_storages
def test_deleting_a_movement_removes_its_clip_and_deepest_frame(api: Api, fake: FakeClipAnalyzer):
    subject = api.subject()
    job = wait_job(api, upload(api, subject, fake_clip(6)).json()["job"]["id"])
    before = api.stored_files()
    assert len(before) == 2  # the clip and the deepest frame
    assert api.delete(f"/api/v1/movements/{job['movement_id']}").status_code == 204
    assert api.get(f"/api/v1/movements/{job['movement_id']}").status_code == 404
    assert api.stored_files() == []
    # The finished job still says what it made, and the movement is gone.
    assert api.get(f"/api/v1/jobs/{job['id']}").json()["movement_id"] is None


def test_deleting_the_subject_removes_its_movements_jobs_and_files(api: Api, fake: FakeClipAnalyzer):
    subject = api.subject()
    wait_job(api, upload(api, subject, fake_clip(7)).json()["job"]["id"])
    hold = threading.Event()
    running = upload(api, subject, fake.script_clip(fake_clip(8), hold=hold)).json()["job"]["id"]
    try:
        assert api.delete(f"/api/v1/subjects/{subject}").status_code == 204
        assert api.get(f"/api/v1/jobs/{running}").status_code == 404
    finally:
        hold.set()
    api.client.app.state.movements  # noqa: B018 - the running job's end finds its job gone
    deadline = time.monotonic() + 10
    while api.client.app.state.movements.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.stored_files() == []
    with api.database.session() as session:
        assert not sweep.unreferenced(session, api.store)


def test_trends_and_comparison_of_a_test(api: Api, fake: FakeClipAnalyzer):
    subject = api.subject()
    ids = []
    start = utcnow() - timedelta(days=60)
    for week, shin in enumerate([30.0, 32.0, 33.5, 36.0]):
        clip = fake.script_clip(fake_clip(100 + week), measures={"lunge_shin_peak_deg": shin})
        taken = (start + timedelta(days=7 * week)).isoformat()
        job = wait_job(api, upload(api, subject, clip, test="lunge", taken_at=taken).json()["job"]["id"])
        ids.append(job["movement_id"])
    wait_job(api, upload(api, subject, fake_clip(200), test="squat").json()["job"]["id"])
    for shot, tilt in enumerate([8.0, 9.0]):
        photo = fake.script(_photo(shot), measures={"pelvic_tilt_deg": tilt})
        taken = (start + timedelta(days=10 * shot)).isoformat()
        assert api.upload(subject, photo, taken_at=taken).status_code == 201
    trends = api.get(f"/api/v1/subjects/{subject}/movements/trends?test=lunge").json()
    assert trends["n"] == 4 and trends["movement_ids"] == ids
    shin = trends["measures"]["lunge_shin_peak_deg"]
    assert shin["values"] == [30.0, 32.0, 33.5, 36.0] and shin["n"] == 4
    # 6° over 3 weeks: Theil–Sen through these points is 1.75–2.5°/week.
    assert 7.0 < shin["slope_per_30d"] < 11.0 and shin["beyond_noise"] is True and shin["noise"] == 1.5
    standing = {s["measure"]: s for s in trends["standing"]}
    assert standing["pelvic_tilt_deg"]["values"] == [8.0, 9.0]
    compared = api.get(f"/api/v1/movements/compare?a={ids[0]}&b={ids[-1]}").json()
    assert compared["measures"]["lunge_shin_peak_deg"]["difference"] == 6.0
    assert compared["measures"]["lunge_shin_peak_deg"]["within_noise"] is False
    assert compared["days_between"] == 21.0
    squat_id = api.get(f"/api/v1/subjects/{subject}/movements?test=squat").json()["items"][0]["id"]
    mixed = api.get(f"/api/v1/movements/compare?a={ids[0]}&b={squat_id}")
    assert mixed.status_code == 422 and mixed.json()["code"] == "different_tests"


def _photo(seed: int) -> bytes:
    from .conftest import make_jpeg

    # A seed range of its own: the database (and its outbox) is shared by the tests of a run, and a
    # photo whose bytes another test also stores would rightly be kept by that test's sweep.
    return make_jpeg(60_000 + seed)


def test_a_job_left_unfinished_by_a_stopped_server_is_failed_at_start_up(database: Database, tmp_path: Path):
    data_dir = tmp_path / "data"
    with running_api(database, data_dir, FakeClipAnalyzer()) as api:
        subject = uuid.UUID(api.subject())
        store = api.store
        with database.session() as session:  # as a server that died after storing the clip
            job = movement_storage.create_job(
                session,
                store,
                subject,
                fake_clip(9),
                test="squat",
                options={},
                source="x.mp4",
                taken_at=utcnow(),
                owner="gone:1:dead",
            )
            assert job is not None
            movement_storage.claim(session, job.id, "gone:1:dead")
            session.execute(
                update(MovementJob)
                .where(MovementJob.id == job.id)
                .values(status="running", progress=0.4, heartbeat_at=utcnow() - timedelta(minutes=5))
            )
            session.commit()
        key = api.key
    with running_api(database, data_dir, FakeClipAnalyzer()) as api:
        response = api.client.get(f"/api/v1/jobs/{job.id}", headers={"Authorization": f"Bearer {key}"})
        failed = response.json()
        assert failed["status"] == "failed" and failed["error"]["code"] == "job_interrupted", failed
        assert clip_files(api) == []
        with database.session() as session:
            assert session.scalar(select(Movement).where(Movement.subject_id == subject)) is None


def test_at_start_up_a_job_of_a_gone_server_of_this_machine_fails_at_once(database: Database, tmp_path: Path):
    """Within the staleness window (30 s): a job whose owner ran here and whose process has ended is
    failed at start-up; one whose owner's process still runs is left to its heartbeat."""
    import socket

    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    host = socket.gethostname()
    data_dir = tmp_path / "data"
    owners = {"gone": f"{host}:{int(ended.stdout)}:aaaa1111", "alive": f"{host}:{os.getppid()}:bbbb2222"}
    jobs = {}
    with running_api(database, data_dir, FakeClipAnalyzer()) as api:
        subject = uuid.UUID(api.subject())
        key = api.key
        with database.session() as session:
            for seed, (name, owner) in enumerate(owners.items()):
                job = movement_storage.create_job(
                    session,
                    api.store,
                    subject,
                    fake_clip(30 + seed),
                    test="squat",
                    options={},
                    source=f"{name}.mp4",
                    taken_at=utcnow(),
                    owner=owner,
                )
                assert job is not None
                jobs[name] = job.id
                session.execute(
                    update(MovementJob)
                    .where(MovementJob.id == job.id)
                    .values(heartbeat_at=utcnow() - timedelta(seconds=10))
                )
            session.commit()
    with running_api(database, data_dir, FakeClipAnalyzer()) as api:
        auth = {"Authorization": f"Bearer {key}"}
        gone = api.client.get(f"/api/v1/jobs/{jobs['gone']}", headers=auth).json()
        alive = api.client.get(f"/api/v1/jobs/{jobs['alive']}", headers=auth).json()
        assert gone["status"] == "failed" and gone["error"]["code"] == "job_interrupted", gone
        assert alive["status"] == "queued", alive


def test_stopping_the_server_fails_its_running_jobs(database: Database, tmp_path: Path):
    analyzer = FakeClipAnalyzer()
    hold = threading.Event()
    with running_api(database, tmp_path / "data", analyzer) as api:
        subject = api.subject()
        job_id = upload(api, subject, analyzer.script_clip(fake_clip(10), hold=hold)).json()["job"]["id"]
        deadline = time.monotonic() + 10
        while api.get(f"/api/v1/jobs/{job_id}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        key = api.key
        # Let the held analysis end once the server has stopped (its thread would delay the loop's end).
        threading.Timer(1.0, hold.set).start()
    with running_api(database, tmp_path / "data", FakeClipAnalyzer()) as api:
        job = api.client.get(f"/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"}).json()
        assert job["status"] == "failed" and job["error"]["code"] == "job_interrupted"
        assert clip_files(api) == []


def test_an_unavailable_model_is_a_503_before_the_clip_is_read(database: Database, tmp_path: Path):
    analyzer = FakeClipAnalyzer(state="unavailable", detail="no model file")
    with running_api(database, tmp_path / "data", analyzer) as api:
        response = upload(api, api.subject(), fake_clip(11))
        assert response.status_code == 503 and response.json()["code"] == "model_unavailable"
        assert clip_files(api) == []


def test_the_job_row_and_clip_are_consistent_in_storage(api: Api, fake: FakeClipAnalyzer):
    """While a job runs its row references the clip; once done, the movement does."""
    subject = api.subject()
    hold = threading.Event()
    clip = fake.script_clip(fake_clip(12), hold=hold)
    job_id = uuid.UUID(upload(api, subject, clip).json()["job"]["id"])
    try:
        with api.database.session() as session:
            job = session.get(MovementJob, job_id)
            assert job is not None and job.clip_sha256 is not None
            assert api.store.exists(FileKind.CLIP, job.clip_sha256)
            assert not sweep.unreferenced(session, api.store)
    finally:
        hold.set()
    done = wait_job(api, str(job_id))
    with api.database.session() as session:
        job = session.get(MovementJob, job_id)
        movement = session.get(Movement, uuid.UUID(done["movement_id"]))
        assert job is not None and movement is not None
        assert job.clip_sha256 is None and movement.clip_sha256 is not None
        assert not sweep.unreferenced(session, api.store)


# --- end to end: the real library on the service's own worker pool ------------------------------------

REAL_CLIP = Path(__file__).resolve().parents[2] / "sample_images" / "clips" / "walk_side.mp4"


def test_a_real_clip_through_the_worker_pool_and_the_api(real_api: Api, real_pool: Any):
    """The sports2d demo's walking woman (no licensed squat or lunge clip exists, docs/accuracy.md): a
    walk is neither test, so through the service's own worker pool and through the API it is refused
    as `not_the_test` with a message that says what was seen, as a lunge and as a squat, with and
    without the mirrored pass. Progress reaches the server from the worker process; a refused upload
    keeps nothing. (An accepted movement through the API: the fake analyser's tests above; the
    knee-to-wall lunge's numbers: tests/test_movement_shape.py.)"""
    from posture.movement.options import ClipOptions
    from posture.worker import ClipJob

    reports: list[tuple[int, int]] = []
    direct = real_api.client.portal.call(
        real_pool.run_clip, ClipJob(REAL_CLIP, ClipOptions(test="lunge")), lambda d, t: reports.append((d, t))
    )
    assert direct.analysis is not None and direct.analysis.status == "rejected", direct
    assert direct.analysis.error.code == "not_the_test"
    assert reports and [d for d, _ in reports] == sorted(d for d, _ in reports)

    subject = real_api.subject()
    clip = REAL_CLIP.read_bytes()
    for options in ({"test": "lunge"}, {"test": "lunge", "mirror_pass": "true"}, {"test": "squat"}):
        response = upload(real_api, subject, clip, filename="walk_side.mp4", **options)
        assert response.status_code == 202, response.text
        job = wait_job(real_api, response.json()["job"]["id"], timeout_s=120)
        assert job["status"] == "failed" and job["error"]["code"] == "not_the_test", (options, job)
        assert "walks across the picture" in job["error"]["message"]
    broken = wait_job(real_api, upload(real_api, subject, clip[: len(clip) // 50]).json()["job"]["id"], 120)
    assert broken["status"] == "failed" and broken["error"]["code"] == "clip_unreadable", broken
    # The refused uploads kept nothing: no clip, no movement.
    assert clip_files_after_failure(real_api, 0) == []
    assert real_api.get(f"/api/v1/subjects/{subject}/movements").json()["total"] == 0
    with real_api.database.session() as session:
        assert not sweep.unreferenced(session, real_api.store)


def test_kill_9_mid_job_leaves_no_half_record_and_the_job_failed_after_restart(
    database: Database, tmp_path: Path
):
    """A real server process killed (SIGKILL) while a clip is analysed: its job stays "running" with
    the clip referenced and no movement; the next server fails it as `job_interrupted` once its
    heartbeat is stale, and the clip goes. No file is left that no row references."""
    data_dir = tmp_path / "data"
    port = free_port()
    env = {
        **os.environ,
        "POSTURE_DATA_DIR": str(data_dir),
        "POSTURE_DATABASE_URL": database.url,
        "POSTURE_JOB_STALE_S": "5",
    }
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.api.movement_server", str(port)],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, server, log_path, time.monotonic() + 60)
        key = new_account(database)
        auth = {"Authorization": f"Bearer {key}"}
        subject = httpx.post(f"{url}/api/v1/subjects", json={"name": "Kill"}, headers=auth).json()["id"]
        response = httpx.post(
            f"{url}/api/v1/subjects/{subject}/movements",
            files={"clip": ("k.mp4", fake_clip(13), "video/mp4")},
            headers=auth,
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["job"]["id"]
        deadline = time.monotonic() + 20
        while True:  # mid-job: running, some progress written
            job = httpx.get(f"{url}/api/v1/jobs/{job_id}", headers=auth).json()
            if job["status"] == "running" and job["progress"] > 0:
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
    with database.session() as session:
        row = session.get(MovementJob, uuid.UUID(job_id))
        assert row is not None and row.status == "running" and row.clip_sha256 is not None
        assert session.scalar(select(Movement).where(Movement.subject_id == uuid.UUID(subject))) is None
    with running_api(database, data_dir, FakeClipAnalyzer(), job_stale_s=5) as api:
        deadline = time.monotonic() + 20
        while True:
            job = api.client.get(f"/api/v1/jobs/{job_id}", headers=auth).json()
            if job["status"] == "failed":
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        assert job["error"]["code"] == "job_interrupted" and job["movement_id"] is None
        assert clip_files_after_failure(api) == []
        with database.session() as session:
            assert not sweep.unreferenced(session, api.store)


# --- the PDF report -------------------------------------------------------------------------------------


def test_the_report_has_a_movement_section_when_the_subject_has_movements(api: Api, fake: FakeClipAnalyzer):
    from .test_report import pdf_text

    subject = api.subject("Report Mover")
    start = utcnow() - timedelta(days=30)
    for shot in range(2):
        taken = (start + timedelta(days=14 * shot)).isoformat()
        assert api.upload(subject, _photo(50 + shot), taken_at=taken).status_code == 201
    without = pdf_text(api.get(f"/api/v1/subjects/{subject}/report.pdf").content)
    assert not any("Movement tests" in page for page in without)
    for week, shin in enumerate([31.0, 36.0]):
        clip = fake.script_clip(fake_clip(300 + week), measures={"lunge_shin_peak_deg": shin}, reps=2)
        taken = (start + timedelta(days=14 * week)).isoformat()
        wait_job(api, upload(api, subject, clip, test="lunge", taken_at=taken).json()["job"]["id"])
    response = api.get(f"/api/v1/subjects/{subject}/report.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    pages = pdf_text(response.content)
    assert len(pages) == len(without) + 1
    movement = next(page for page in pages if "Movement tests" in page)
    assert "Knee-to-wall lunge: peak shin angle over time" in movement
    assert "Change beyond noise: +5.0°" in movement  # 36 − 31, beyond the fake's 1.5° band
    assert "Latest clip" in movement and "2 reps" in movement and "36.0°" in movement
    assert "Squat" not in movement  # no squat clips: no squat part


def test_the_report_marks_a_withheld_number_and_where_each_rep_s_peak_was_taken(
    api: Api, fake: FakeClipAnalyzer
):
    """The PDF says what the page says: a number outside what the test can give is "not scored", and
    each rep's row gives the time its quoted peak was taken beside its bottom."""
    from .test_report import pdf_text

    subject = api.subject("Report Withheld")
    start = utcnow() - timedelta(days=20)
    assert api.upload(subject, _photo(60), taken_at=start.isoformat()).status_code == 201
    for week, shin in enumerate([33.0, -4.5]):
        plan = {"measures": {"lunge_shin_peak_deg": shin}, "reps": 2}
        if shin < 0:
            plan["withheld"] = ["lunge_shin_peak_deg"]
        clip = fake.script_clip(fake_clip(330 + week), **plan)
        taken = (start + timedelta(days=7 * week)).isoformat()
        wait_job(api, upload(api, subject, clip, test="lunge", taken_at=taken).json()["job"]["id"])
    pages = pdf_text(api.get(f"/api/v1/subjects/{subject}/report.pdf").content)
    movement = next(page for page in pages if "Movement tests" in page)
    assert "−4.5° (not scored)" in movement or "-4.5° (not scored)" in movement, movement
    assert "Peak at" in movement and "0.80 s" in movement and "2.80 s" in movement, movement
    assert "1 clip outside what the test can give is not scored and left out." in " ".join(movement.split())


def test_the_report_mirror_holds_the_pages_movement_words():
    from app.services.report import labels as mirror

    from .test_report import _tables

    tables = _tables()
    mirrored = {name: vars(meta) for name, meta in mirror.MOVEMENT_MEASURES.items()}
    page = {n: {"signed": False, "estimate": False, **m} for n, m in tables["MOVEMENT_MEASURES"].items()}
    assert mirrored == page
    assert tables["MOVEMENT_TESTS"] == mirror.MOVEMENT_TESTS


# --- the pool's progress plumbing -----------------------------------------------------------------------


def test_the_pool_routes_each_clips_progress_to_its_own_callback(monkeypatch):
    """Two clips at once on a thread pool (the process pool's path is the end-to-end test's): each
    callback gets its own clip's reports, the last being every frame done. A stub stands in for the
    model and the library: what is tested is the worker module's queue and the pool's listener."""
    import asyncio

    from app.services.inference import InferencePool
    from posture import worker
    from posture.worker import ClipJob, ClipResult

    monkeypatch.setattr(worker, "_build_model", lambda config: None)
    monkeypatch.setattr(worker, "PROGRESS_INTERVAL_S", 0.0)

    def run_clip(self, job, progress=None):  # type: ignore[no-untyped-def]
        total = int(job.source)
        for done in range(total + 1):
            progress(done, total)
            time.sleep(0.002)
        return ClipResult(job.key, None)

    monkeypatch.setattr(worker.Worker, "run_clip", run_clip)
    pool = InferencePool(2, kind="thread")
    pool.start()
    try:
        seen: dict[str, list[tuple[int, int]]] = {"a": [], "b": []}

        async def both() -> list[ClipResult]:
            return await asyncio.gather(
                pool.run_clip(ClipJob(Path("a"), source="20"), lambda d, t: seen["a"].append((d, t))),
                pool.run_clip(ClipJob(Path("b"), source="35"), lambda d, t: seen["b"].append((d, t))),
            )

        results = asyncio.run(both())
        deadline = time.monotonic() + 5  # the listener may still be passing the last reports on
        while (seen["a"][-1:] != [(20, 20)] or seen["b"][-1:] != [(35, 35)]) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [r.key for r in results] and results[0].key != results[1].key
        assert seen["a"] == [(d, 20) for d in range(21)]
        assert seen["b"] == [(d, 35) for d in range(36)]
        assert not pool._listeners  # each callback is dropped with its job
    finally:
        pool.close()


def test_deleting_the_account_removes_its_movements_and_their_files(api: Api, fake: FakeClipAnalyzer):
    from app.storage import repository

    subject = api.subject()
    wait_job(api, upload(api, subject, fake_clip(16)).json()["job"]["id"])
    assert len(api.stored_files()) == 2
    with api.database.session() as session:
        user = repository.authenticate(session, api.key)
        assert user is not None
        deleted = repository.delete_account(session, api.store, user)
        assert deleted is not None and deleted.subjects == 1
        assert session.scalar(select(Movement).where(Movement.subject_id == uuid.UUID(subject))) is None
    assert api.stored_files() == []


def test_a_batch_clip_result_is_stored_as_a_movement(tmp_path: Path):
    """`posture batch --store` hands clip results to the history store: an accepted one becomes a
    movement with its clip and deepest frame, a refused one is not stored (as a refused upload)."""
    from app.services.batch_store import HistoryStore
    from app.storage import repository
    from posture.batch import BatchResult
    from posture.batch.inputs import BatchItem
    from posture.movement.options import ClipOptions
    from posture.worker import ClipJob

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    database = Database(f"sqlite:///{data_dir / 'posture.db'}")
    database.migrate()
    with database.session() as session:
        repository.create_user(session, "batcher")
    fake = FakeClipAnalyzer()
    path = tmp_path / "lunge.mp4"
    path.write_bytes(fake.script_clip(fake_clip(17), measures={"lunge_shin_peak_deg": 33.0}))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(fake.script_clip(fake_clip(18), error=("not_side_on", "Not side on.")))
    results = []
    for clip in (path, bad):
        out = fake._run_clip(ClipJob(clip, ClipOptions(test="lunge")), None)
        analysis = out.analysis.model_copy(update={"deepest_png": out.deepest_png})
        item = BatchItem(path=clip, source=str(clip), subject="Batch Person")
        results.append(BatchResult(item, hashlib.sha256(clip.read_bytes()).hexdigest(), analysis))
    with HistoryStore(data_dir) as store:
        assert store.add(results[0]) is True and store.add(results[1]) is False
    with database.session() as session:
        movements = session.scalars(select(Movement)).all()
        assert len(movements) == 1
        movement = movements[0]
        assert movement.test == "lunge" and movement.measures == {"lunge_shin_peak_deg": 33.0}
        assert movement.source == "lunge.mp4"
        assert movement.clip_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert movement.deepest_sha256 is not None
        files = {p.parent.parent.name for p in (data_dir / "files").rglob("*") if p.is_file()}
        assert files == {"clip", "overlay"}
    database.dispose()
