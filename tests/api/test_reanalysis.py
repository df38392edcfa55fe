"""Re-analysis: stored photos re-run with the current method, each analysis replaced in place (id, time
and visit kept), those without a photo kept and marked; resumable; through the API (fake analyzer and
the real pool) and `posture history reanalyze` (an in-process worker with the real model)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from app.cli import main
from app.storage.files import FileKind
from app.storage.models import AnalysisDocument, AnalysisRecord
from posture import trends as stats
from posture.measures.run import MEASURE_NAMES
from posture.photo_copy import strip_metadata
from posture.rules import rules_version

from .conftest import Api, FakeAnalyzer, make_jpeg, new_account, sample

T0 = datetime(2026, 4, 6, 8, 0, tzinfo=UTC)
OLD_RULES = "2020.1.1"
BASE = {name: 10.0 for name in MEASURE_NAMES}


def _age(api: Api, analysis_id: str, **record) -> None:
    """Make an analysis look made by an older rules file (and change its row as `record` says)."""
    with api.database.session() as session:
        row = session.get(AnalysisRecord, uuid.UUID(analysis_id))
        versions = {**row.result["versions"], "rules": OLD_RULES}
        session.execute(
            update(AnalysisDocument)
            .where(AnalysisDocument.analysis_id == row.id)
            .values(result={**row.result, "versions": versions})
        )
        row.method = stats.method_key(versions)
        for name, value in record.items():
            setattr(row, name, value)
        session.commit()


def _doc(api: Api, analysis_id: str) -> dict:
    return api.get(f"/api/v1/analyses/{analysis_id}").json()


def test_reanalysis_replaces_older_analyses_keeps_ids_and_marks_what_it_cannot_run(
    api: Api, fake: FakeAnalyzer
):
    sid = api.subject("Re-run")
    photos = [fake.script(make_jpeg(700 + i), measures={**BASE, "trunk_lean_deg": 1.0 + i}) for i in range(4)]
    shots = [
        api.upload(sid, photo, taken_at=(T0 + i * timedelta(minutes=5)).isoformat()).json()
        for i, photo in enumerate(photos)
    ]
    current = shots[3]
    kept, missing, redo = shots[0], shots[1], shots[2]
    _age(api, kept["id"], photo_sha256=None)  # a server that kept no photo
    _age(api, missing["id"])
    with api.database.session() as session:
        digest = session.get(AnalysisRecord, uuid.UUID(missing["id"])).photo_sha256
    api.store.delete(FileKind.PHOTO, digest)  # the file is gone from the store
    _age(api, redo["id"])
    old_overlay = _overlay_digest(api, redo["id"])
    trends_url = f"/api/v1/subjects/{sid}/trends"
    assert api.get(trends_url, params={"since": "2020-01-01T00:00:00Z"}).json()["warnings"] == [
        "mixed_versions"
    ]

    response = api.post(f"/api/v1/subjects/{sid}/reanalyze")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["method"] == stats.method_key(current["versions"])
    assert (
        report["candidates"],
        report["reanalysed"],
        report["photo_not_stored"],
        report["photo_missing"],
    ) == (
        3,
        1,
        1,
        1,
    )
    assert report["refused"] == 0 and report["gone"] == 0

    after = _doc(api, redo["id"])
    assert after["versions"]["rules"] == rules_version() and after["reanalysis_skipped"] is None
    assert (after["id"], after["taken_at"], after["visit_id"], after["source"]) == (
        redo["id"],
        redo["taken_at"],
        redo["visit_id"],
        redo["source"],
    )
    # The fake analyzer derives unscripted measures from the bytes: the stored copy gives new ones,
    # which the report counts.
    copy = strip_metadata(photos[2])
    assert fake.calls == 5 and after["measures"]["trunk_lean_deg"] != 3.0
    moved = abs(after["measures"]["trunk_lean_deg"] - 3.0)
    assert report["changed"] == 1 and report["measures"]["trunk_lean_deg"] == {
        "n": 1,
        "mean_abs_change": round(moved, 3),
        "changed": 1,
    }
    # A new overlay replaced the old, which no analysis uses any more.
    assert _overlay_digest(api, redo["id"]) != old_overlay
    assert not api.store.exists(FileKind.OVERLAY, old_overlay)
    assert api.get(f"/api/v1/analyses/{redo['id']}/overlay.png").status_code == 200
    # Those it could not run keep their version, marked.
    for shot, reason in ((kept, "photo_not_stored"), (missing, "photo_missing")):
        body = _doc(api, shot["id"])
        assert body["versions"]["rules"] == OLD_RULES and body["reanalysis_skipped"] == reason
        assert body["measures"] == shot["measures"]
    visit = api.get(f"/api/v1/visits/{kept['visit_id']}").json()
    assert [s["reanalysis_skipped"] for s in visit["shots"]] == [
        "photo_not_stored",
        "photo_missing",
        None,
        None,
    ]
    assert visit["warnings"] == ["mixed_versions"]  # still two methods: it says so

    # Again: only those still on the old method are candidates, and nothing else is re-run.
    again = api.post(f"/api/v1/subjects/{sid}/reanalyze").json()
    assert (again["candidates"], again["reanalysed"], fake.calls) == (2, 0, 5)
    # Forced, every analysis with a photo is re-run; a photo the current method refuses is kept.
    fake.script(copy, error=("not_side_view", "Not side on."))
    forced = api.post(f"/api/v1/subjects/{sid}/reanalyze", params={"force": "true"}).json()
    assert forced["candidates"] == 4 and forced["reanalysed"] == 1 and forced["refused"] == 1
    assert forced["refusals"] == {"not_side_view": 1}
    assert _doc(api, redo["id"])["reanalysis_skipped"] == "refused"


def _overlay_digest(api: Api, analysis_id: str) -> str:
    with api.database.session() as session:
        return session.get(AnalysisRecord, uuid.UUID(analysis_id)).overlay_sha256


def test_reanalysis_needs_the_subject_and_a_key(api: Api, database):
    sid = api.subject()
    assert api.client.post(f"/api/v1/subjects/{sid}/reanalyze").status_code == 401
    other = {"Authorization": f"Bearer {new_account(database)}"}
    assert api.client.post(f"/api/v1/subjects/{sid}/reanalyze", headers=other).status_code == 404
    empty = api.post(f"/api/v1/subjects/{sid}/reanalyze").json()
    assert empty["candidates"] == 0 and empty["reanalysed"] == 0


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"mode": "lunge", "camera_level": {"source": "given", "roll_deg": 3.5}},
            ("lunge", None, 3.5, "auto"),
        ),
        ({"camera_level": {"source": "device", "roll_deg": -0.4}}, ("standing", None, -0.4, "auto")),
        ({"camera_level": {"source": "none"}, "warnings": []}, ("standing", None, None, "off")),
        (
            {"camera_level": {"source": "none"}, "warnings": ["camera_level_unknown"]},
            ("standing", None, None, "auto"),
        ),
        ({"camera_level": {"source": "background", "roll_deg": 2.0}}, ("standing", None, None, "auto")),
        ({"camera_roll_deg": -2.0}, ("standing", None, -2.0, "auto")),  # from before camera_level
        ({"camera_roll_deg": 0.0}, ("standing", None, None, "auto")),
        ({"facing": "right", "warnings": ["facing_override_disagrees"]}, ("standing", "right", None, "auto")),
        ({"facing": "right", "warnings": []}, ("standing", None, None, "auto")),
    ],
)
def test_the_options_of_a_reanalysis_are_read_back_from_the_document(document, expected):
    from app.services.reanalysis import options_for

    options = options_for(document)
    assert (options.mode, options.facing, options.camera_roll_deg, options.level) == expected
    # A roll read by the phone stays the phone's after a re-analysis.
    source = (document.get("camera_level") or {}).get("source")
    assert options.camera_roll_source == ("device" if source == "device" else "given")
    assert options.overlay


def test_the_command_reanalyses_with_the_real_model(real_api: Api, database_url, monkeypatch, capsys):
    api = real_api
    sid = api.subject("Command line")
    shot = api.upload(sid, sample("walk_side_crop_f0128.jpg"), filename="crop.jpg", taken_at=T0.isoformat())
    assert shot.status_code == 201, shot.text
    shot = shot.json()
    _age(api, shot["id"])
    monkeypatch.setenv("POSTURE_DATABASE_URL", database_url)  # the test run's database; files in the data dir
    args = ["history", "reanalyze", "--subject", sid, "--progress", "none", "--data-dir", str(api.data_dir)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "1 analyses not made by the current method" in out and "1 re-analysed" in out
    after = _doc(api, shot["id"])
    assert after["versions"]["rules"] == rules_version() and after["id"] == shot["id"]
    assert after["taken_at"] == shot["taken_at"] and after["source"] == "crop.jpg"
    # The stored copy is the same pixels re-encoded (JPEG 90): the measures barely move.
    changes = [
        abs(after["measures"][name] - shot["measures"][name])
        for name in ("trunk_lean_deg", "body_line_deg", "head_forward_deg", "shank_angle_deg")
        if after["measures"][name] is not None and shot["measures"][name] is not None
    ]
    assert changes and max(changes) < 2.0, changes
    # Resumable: a second run finds nothing to do (and loads no model).
    assert main(args) == 0
    assert "0 analyses not made by the current method" in capsys.readouterr().out
    # Unknown subjects are refused.
    assert (
        main(["history", "reanalyze", "--subject", str(uuid.uuid4()), "--data-dir", str(api.data_dir)]) == 2
    )
