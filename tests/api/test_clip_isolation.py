"""A clip cannot take the service down (issue 23), with real processes and the real model: a worker
killed (`kill -9`) mid-clip fails that clip's job only; photos answer while clips run (the clips have
workers of their own); SIGTERM with a clip running ends the server within seconds and fails the job as
`job_interrupted`. The clips are made at test time from the repository's licensed walking clip, looped
to make a long job."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import cv2
import httpx
import pytest

from app.core.db import Database
from app.core.errors import ServiceUnavailable
from app.services.inference import InferencePool
from posture.movement.options import ClipOptions
from posture.worker import ClipJob, ClipResult

from .conftest import new_account, sample, serve_process

WALK = Path(__file__).resolve().parents[2] / "sample_images" / "clips" / "walk_side.mp4"


def long_clip(path: Path, loops: int) -> Path:
    """The walking clip played `loops` times over (forward, then backward, so the motion is continuous):
    a real person, long enough that its analysis runs for many seconds."""
    cap = cv2.VideoCapture(str(WALK))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (width, height))
    for k in range(loops):
        for frame in frames if k % 2 == 0 else frames[::-1]:
            writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def slow_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return long_clip(tmp_path_factory.mktemp("clips") / "long_walk.mp4", loops=12)  # 780 frames, 26 s


@pytest.fixture(scope="module")
def medium_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return long_clip(tmp_path_factory.mktemp("clips") / "walk.mp4", loops=4)  # 260 frames, 8.7 s


def test_a_worker_killed_mid_clip_fails_only_that_clip(medium_clip: Path) -> None:
    """Two workers, three clips: the worker running the first is killed with SIGKILL (as the kernel's
    out-of-memory killer would). That clip fails `analysis_unavailable`; the second (on the other
    worker) and the third (queued, then given a worker) end with an analysis."""
    pool = InferencePool(2, kind="process", name="clip")
    pool.start()
    try:
        deadline = time.monotonic() + 120
        while len(pool.worker_pids) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(pool.worker_pids) == 2, (pool.state, pool.detail)
        options = ClipOptions(test="lunge", sample_fps=15)
        seen: dict[str, int] = {}

        async def scenario() -> list[Any]:
            jobs = [ClipJob(medium_clip, options, f"clip-{k}.mp4", key=f"k{k}") for k in range(3)]
            tasks = [
                asyncio.ensure_future(pool.run_clip(job, lambda d, t, k=job.key: seen.__setitem__(k, d)))
                for job in jobs
            ]
            while seen.get("k0", 0) < 3:  # the first clip is running on a worker
                await asyncio.sleep(0.05)
            victim = pool.worker_of("k0")
            assert victim is not None
            os.kill(victim, signal.SIGKILL)
            return await asyncio.gather(*tasks, return_exceptions=True)

        first, second, third = asyncio.run(asyncio.wait_for(scenario(), 600))
        assert isinstance(first, ServiceUnavailable) and first.code == "analysis_unavailable", first
        for other in (second, third):
            assert isinstance(other, ClipResult), other
            assert other.analysis is not None and other.error is None, other
        # The dead worker was replaced; the pool is whole again.
        deadline = time.monotonic() + 120
        while len(pool.worker_pids) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(pool.worker_pids) == 2
    finally:
        pool.close()


def _job(url: str, auth: dict[str, str], job_id: str) -> dict[str, Any]:
    return httpx.get(f"{url}/api/v1/jobs/{job_id}", headers=auth, timeout=30).json()


def _wait_running(url: str, auth: dict[str, str], job_id: str, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        job = _job(url, auth, job_id)
        if job["status"] == "running" and job["progress"] > 0:
            return
        assert job["status"] in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.2)


def test_photos_answer_while_clips_run_and_sigterm_ends_a_running_clip_promptly(
    tmp_path: Path, slow_clip: Path
) -> None:
    """A real `posture serve` with one clip worker: while a long clip runs (and another waits), a photo
    upload is answered with its analysis, the clip still running. Then SIGTERM: the server exits
    within seconds, not at the end of the clip, and both clip jobs are failed `job_interrupted`."""
    data_dir = tmp_path / "data"
    with serve_process([data_dir], workers=1, clip_workers="1") as (server,):
        db = Database(f"sqlite:///{data_dir / 'posture.db'}")
        auth = {"Authorization": f"Bearer {new_account(db)}"}
        db.dispose()
        url = server.url
        subject = httpx.post(f"{url}/api/v1/subjects", json={"name": "Clip"}, headers=auth).json()["id"]
        clip = slow_clip.read_bytes()
        jobs = []
        for name in ("a.mp4", "b.mp4"):
            response = httpx.post(
                f"{url}/api/v1/subjects/{subject}/movements",
                files={"clip": (name, clip, "video/mp4")},
                data={"test": "lunge", "sample_fps": "30", "mirror_pass": "true"},
                headers=auth,
                timeout=60,
            )
            assert response.status_code == 202, response.text
            jobs.append(response.json()["job"]["id"])
        _wait_running(url, auth, jobs[0])

        photo_started = time.monotonic()
        photo = httpx.post(
            f"{url}/api/v1/subjects/{subject}/analyses",
            files={"photo": ("side.jpg", sample("walk_side_crop_f0128.jpg"), "image/jpeg")},
            headers=auth,
            timeout=120,
        )
        assert photo.status_code == 201, photo.text
        print(f"photo answered in {time.monotonic() - photo_started:.1f} s with two clips in the server")
        states = [_job(url, auth, j)["status"] for j in jobs]
        assert states == ["running", "queued"], states  # the photo did not wait for the clips

        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=60)
        stopped_s = time.monotonic() - started
        print(f"SIGTERM to exit with a clip running: {stopped_s:.1f} s")
        assert stopped_s < 15, f"the server took {stopped_s:.1f} s to stop with a clip running"

    with sqlite3.connect(data_dir / "posture.db") as conn:
        rows = conn.execute(
            "SELECT status, error_code FROM movement_jobs WHERE id IN (?, ?)",
            [j.replace("-", "") for j in jobs],
        ).fetchall()
    assert sorted(rows) == [("failed", "job_interrupted")] * 2, rows


def test_jobs_cancelled_while_waiting_leave_every_worker_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two thread workers, twelve jobs, every third after the first two cancelled while queued (a client
    that hung up): the others all finish, in turn, and both workers are free again at the end. A stub stands
    in for the model: what is tested is the pool's queue."""
    from posture import worker

    monkeypatch.setattr(worker, "_build_model", lambda config: None)

    def run(self: Any, job: Any) -> Any:
        time.sleep(0.05)
        return job.index

    monkeypatch.setattr(worker.Worker, "run", run)
    pool = InferencePool(2, kind="thread", max_queued=20)
    pool.start()
    try:

        async def scenario() -> list[Any]:
            from posture.worker import Job

            tasks = [asyncio.ensure_future(pool.run(Job(b"", index=k))) for k in range(12)]
            await asyncio.sleep(0.07)
            for task in tasks[3::3]:  # queued (the first two ran at once and are done by now)
                task.cancel()
            done = await asyncio.gather(*tasks, return_exceptions=True)
            late = await asyncio.gather(*(pool.run(Job(b"", index=100 + k)) for k in range(4)))
            return [*done, *late]

        results = asyncio.run(asyncio.wait_for(scenario(), 60))
        kept = [r for k, r in enumerate(results[:12]) if k % 3 or k == 0]
        assert kept == [k for k in range(12) if k % 3 or k == 0]
        assert all(isinstance(r, asyncio.CancelledError) for r in results[3:12:3])
        assert results[12:] == [100, 101, 102, 103]
        deadline = time.monotonic() + 5
        while len(pool._free) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(pool._free) == 2 and not pool._waiters
    finally:
        pool.close()
