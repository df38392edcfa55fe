"""A fake clip analyzer for the fast movement tests (tests/api/test_movements.py) and the movement server
process (tests/api/movement_server.py): the photo side is `FakeAnalyzer`'s; a clip is read from the
path the service gives the worker, progress is reported in steps, and the result is a real
`MovementAnalysis` with measures chosen by the test (or derived from the clip's hash)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from posture.analysis import package_version
from posture.model import MODEL_SHA256
from posture.movement.result import ClipInfoOut, DeepestFrame, MovementAnalysis, Rep
from posture.result import ErrorInfo, Versions
from posture.rules import rules_version
from posture.worker import ClipJob, ClipResult

from .conftest import Api, FakeAnalyzer

SQUAT_MEASURES = ("squat_depth_pct", "squat_shin_peak_deg", "squat_heel_lift_pct", "squat_trunk_lean_deg")
LUNGE_MEASURES = ("lunge_shin_peak_deg", "lunge_heel_lift_pct")
NOISE = {"squat_shin_peak_deg": 1.5, "squat_depth_pct": 3.0, "lunge_shin_peak_deg": 1.5}


def fake_clip(seed: int, size: int = 2048) -> bytes:
    """Bytes standing for a clip (the fake never decodes them): unique per seed."""
    block = hashlib.sha256(str(seed).encode()).digest()
    return (b"\x00\x00\x00\x18ftypmp42" + block * (size // len(block) + 1))[:size]


@dataclass
class FakeClipAnalyzer(FakeAnalyzer):
    """`script_clip(clip, measures=..., error=(code, message), steps=, step_s=, hold=Event)`."""

    clip_calls: int = 0
    clip_options: list[Any] = field(default_factory=list)
    """The `ClipOptions` of every clip analysed, in order."""
    clip_scripts: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: int = 4
    step_s: float = 0.01

    def script_clip(self, clip: bytes, **plan: Any) -> bytes:
        self.clip_scripts[hashlib.sha256(clip).hexdigest()] = plan
        return clip

    async def run_clip(self, job: ClipJob, progress: Callable[[int, int], None] | None = None) -> ClipResult:
        self.clip_calls += 1
        self.clip_options.append(job.options)
        return await asyncio.to_thread(self._run_clip, job, progress)

    def _run_clip(self, job: ClipJob, progress: Callable[[int, int], None] | None) -> ClipResult:
        data = job.path.read_bytes()  # as the worker: the clip is read from where the service put it
        plan = self.clip_scripts.get(hashlib.sha256(data).hexdigest(), {})
        steps, step_s = plan.get("steps", self.steps), plan.get("step_s", self.step_s)
        hold: threading.Event | None = plan.get("hold")
        test = job.options.test if job.options is not None else "squat"
        base: dict[str, Any] = {
            "source": job.source,
            "test": test,
            "versions": Versions(package=package_version(), model_sha256=MODEL_SHA256, rules=rules_version()),
        }
        for done in range(steps + 1):
            if progress is not None:
                progress(done, steps)
            if hold is not None and done == steps // 2:
                hold.wait(30)
            time.sleep(step_s)
        if "error" in plan:
            code, message = plan["error"]
            analysis = MovementAnalysis(
                **base, status="rejected", error=ErrorInfo(code=code, message=message)
            )
            return ClipResult(job.key, analysis)
        measures = plan.get("measures") or _measures_from_hash(data, test)
        reps = [
            Rep(
                index=i,
                start_s=2.0 * i,
                bottom_s=2.0 * i + 1,
                end_s=2.0 * i + 2,
                peak_s=2.0 * i + 0.8,
                measures=measures,
            )
            for i in range(plan.get("reps", 3))
        ]
        series = {"time_s": [0.0, 0.5, 1.0, 1.5, 2.0]}
        shin = next((v for k, v in measures.items() if k.endswith("shin_peak_deg")), 30.0) or 30.0
        series[f"{test}_shin_deg"] = [5.0, shin / 2, shin, shin / 2, 5.0]
        analysis = MovementAnalysis(
            **base,
            status="ok",
            facing=(job.options.facing if job.options is not None else None) or "left",
            side="left",
            clip=ClipInfoOut(
                width=720, height=1280, fps=30.0, duration_s=6.0, frames_sampled=90, sample_fps=15
            ),
            reps=reps,
            measures=measures,
            withheld=list(plan.get("withheld", [])),
            noise={k: v for k, v in NOISE.items() if k in measures},
            series=series,
            deepest_frame=DeepestFrame(index=15, time_s=1.0),
        )
        return ClipResult(job.key, analysis, deepest_png=_png(data))


def _measures_from_hash(data: bytes, test: str) -> dict[str, float | None]:
    digest = hashlib.sha256(data).digest()
    names = SQUAT_MEASURES if test == "squat" else LUNGE_MEASURES
    return {name: round(20 + digest[i] / 255 * 20, 2) for i, name in enumerate(names)}


def _png(data: bytes) -> bytes:
    """A small PNG unique to the clip (so two clips never share a deepest-frame file)."""
    digest = hashlib.sha256(data).digest()
    image = Image.new("RGB", (36, 64), (digest[0], 120, 60))
    for x in range(32):
        image.putpixel((x, 0), (digest[x], digest[x], digest[x]))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def upload(api: Api, subject_id: str, clip: bytes, filename: str = "squat.mp4", **form: Any) -> Any:
    """POST a clip to the subject's movements, the form's other fields as strings."""
    return api.post(
        f"/api/v1/subjects/{subject_id}/movements",
        files={"clip": (filename, clip, "video/mp4")},
        data={k: str(v) for k, v in form.items()},
    )


def wait_job(api: Api, job_id: str, timeout_s: float = 20.0) -> dict[str, Any]:
    """The job once it is done or failed (polled)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = api.get(f"/api/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        if job["status"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} after {timeout_s} s"
        time.sleep(0.05)
