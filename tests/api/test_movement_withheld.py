"""A movement number outside what the test can give (`[movement.plausible]`, e.g. a lunge's peak shin
below 0°, as on a real three-quarter phone clip) is withheld from scoring: through the API the stored
result names it in `withheld`, the CSV export says so, and the movement trend shows the value but leaves
it out of its line. On SQLite and PostgreSQL.

The implausible clip is a real synthetic clip (tests/synthetic_clip.py) analysed by the real library
with the fake video model, on the path the service gives the worker; the plausible clips beside it are
the fake clip analyzer's (tests/api/movement_fakes.py). Seeds 720–729 are this file's.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from app.storage.models import utcnow
from posture import analyze_clip
from posture import trends as stats
from posture.worker import ClipJob, ClipResult

from ..synthetic_clip import FakeVideoModel, Movement, write_clip
from .conftest import Api
from .movement_fakes import FakeClipAnalyzer, fake_clip, upload, wait_job

# A knee-to-wall lunge whose front shin leans back standing and peaks at about −5°: its dips have the
# test's shape (the shin travels forward by 20°), its peak is outside what the test can give.
# `ankle_x` is this file's own, so no other test stores a clip with the same bytes.
IMPLAUSIBLE_LUNGE = Movement(
    lunge=True,
    shin_start_deg=-25.0,
    shin_peak_deg=-5.0,
    thigh_peak_deg=30.0,
    trunk_peak_deg=5.0,
    reps=3,
    ankle_x=233.0,
)


@dataclass
class SyntheticClipAnalyzer(FakeClipAnalyzer):
    """The fake clip analyzer, except that a clip scripted with `movement=` is analysed by the real
    library (`analyze_clip`) with the fake video model of that movement."""

    movements: dict[str, Movement] = field(default_factory=dict)

    def script_movement(self, clip: bytes, movement: Movement) -> bytes:
        self.movements[hashlib.sha256(clip).hexdigest()] = movement
        return clip

    def _run_clip(self, job: ClipJob, progress: Callable[[int, int], None] | None) -> ClipResult:
        movement = self.movements.get(hashlib.sha256(job.path.read_bytes()).hexdigest())
        if movement is None:
            return super()._run_clip(job, progress)
        analysis = analyze_clip(job.path, job.options, model=FakeVideoModel(movement), progress=progress)
        # As the worker hands it over: the PNG beside the result, not in it.
        return ClipResult(job.key, analysis.model_copy(update={"deepest_png": None}), analysis.deepest_png)


@pytest.fixture
def fake() -> SyntheticClipAnalyzer:
    return SyntheticClipAnalyzer()


def test_an_implausible_headline_is_withheld_in_the_result_the_export_and_the_trend(
    api: Api, fake: SyntheticClipAnalyzer, tmp_path: Path
):
    subject = api.subject()
    start = utcnow() - timedelta(days=40)
    ids = []
    for week, shin in enumerate([30.0, 32.0, 34.0]):
        clip = fake.script_clip(fake_clip(720 + week), measures={"lunge_shin_peak_deg": shin})
        taken = (start + timedelta(days=7 * week)).isoformat()
        job = wait_job(api, upload(api, subject, clip, test="lunge", taken_at=taken).json()["job"]["id"])
        assert job["status"] == "done", job
        ids.append(job["movement_id"])
    clip = fake.script_movement(
        write_clip(tmp_path / "lunge.mp4", IMPLAUSIBLE_LUNGE).read_bytes(), IMPLAUSIBLE_LUNGE
    )
    taken = (start + timedelta(days=21)).isoformat()
    response = upload(api, subject, clip, "lunge.mp4", test="lunge", taken_at=taken, level="off")
    job = wait_job(api, response.json()["job"]["id"], timeout_s=120)
    assert job["status"] == "done", job
    ids.append(job["movement_id"])

    # The stored result: the number is shown, named in `withheld`, not scored.
    movement = api.get(f"/api/v1/movements/{ids[-1]}").json()
    peak = movement["measures"]["lunge_shin_peak_deg"]
    assert peak is not None and -8.0 < peak < 0.0, movement["measures"]
    analysis = movement["analysis"]
    assert "lunge_shin_peak_deg" in analysis["withheld"], analysis["withheld"]
    assert "lunge_shin_peak_deg" not in analysis["scores"]
    assert "measure_implausible" in analysis["warnings"]
    plausible = api.get(f"/api/v1/movements/{ids[0]}").json()["analysis"]
    assert plausible["withheld"] == []

    # The CSV export: its own column, last, so the others keep their place.
    table = api.get(f"/api/v1/subjects/{subject}/movements/export.csv")
    assert table.status_code == 200
    reader = csv.DictReader(io.StringIO(table.text))
    assert reader.fieldnames is not None and reader.fieldnames[-1] == "withheld"
    rows = {row["id"]: row for row in reader}
    assert "lunge_shin_peak_deg" in rows[ids[-1]]["withheld"].split(";")
    assert float(rows[ids[-1]]["lunge_shin_peak_deg"]) == peak
    assert rows[ids[0]]["withheld"] == ""

    # The trend shows the value, flags it, and fits the three scored clips alone.
    trends = api.get(f"/api/v1/subjects/{subject}/movements/trends?test=lunge").json()
    shin = trends["measures"]["lunge_shin_peak_deg"]
    assert shin["values"] == [30.0, 32.0, 34.0, peak]
    assert shin["withheld"] == [False, False, False, True]
    assert shin["n"] == 3 and shin["days"] == 3 and shin["latest"] == 34.0
    assert shin["fit_end_at"] == trends["taken_at"][2] and shin["latest_at"] == trends["taken_at"][2]
    days = np.array([0.0, 7.0, 14.0])
    alone = stats.fit_trend(days, np.array([30.0, 32.0, 34.0]))
    assert alone is not None
    assert shin["fit_start"] == pytest.approx(alone.start, abs=0.01)
    assert shin["fit_end"] == pytest.approx(alone.end, abs=0.01)
    assert shin["change"] == pytest.approx(4.0, abs=0.01) and shin["slope_per_30d"] > 0
    # Had it been fitted, the −5° peak would have turned the line downward.
    fitted_anyway = stats.fit_trend(np.r_[days, 21.0], np.array([30.0, 32.0, 34.0, peak]))
    assert fitted_anyway is not None and fitted_anyway.end < alone.end
