"""History, compare, trends and export, with measures chosen by the test (fake analyzer)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.services.history import CSV_COLUMNS
from app.storage.models import AnalysisRecord
from posture.batch import CSV_COLUMNS as ROW_COLUMNS
from posture.measures.run import MEASURE_NAMES
from posture.trends import noise_levels

from .conftest import Api, FakeAnalyzer, make_jpeg

BASE = {name: 10.0 for name in MEASURE_NAMES}
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _add(api: Api, fake: FakeAnalyzer, seed: int, when: datetime, mode: str = "standing", **measures):
    photo = fake.script(make_jpeg(seed), measures={**BASE, **measures})
    response = api.upload(api_subject(api), photo, taken_at=when.isoformat(), mode=mode)
    assert response.status_code == 201, response.text
    return response.json()


def api_subject(api: Api) -> str:
    if not hasattr(api, "_sid"):
        api._sid = api.subject("History")  # type: ignore[attr-defined]
    return api._sid  # type: ignore[attr-defined]


def test_history_is_in_taken_at_order_and_paged(api: Api, fake: FakeAnalyzer):
    # Uploaded out of order; listed by when the photos were taken.
    offsets = [3, 0, 4, 1, 2]
    ids = {d: _add(api, fake, 100 + d, T0 + timedelta(days=7 * d))["id"] for d in offsets}
    sid = api_subject(api)
    page = api.get(f"/api/v1/subjects/{sid}/analyses", params={"limit": 2, "offset": 0}).json()
    assert page["total"] == 5 and [a["id"] for a in page["items"]] == [ids[0], ids[1]]
    rest = api.get(f"/api/v1/subjects/{sid}/analyses", params={"limit": 10, "offset": 2}).json()
    assert [a["id"] for a in rest["items"]] == [ids[2], ids[3], ids[4]]
    taken = [a["taken_at"] for a in page["items"] + rest["items"]]
    assert taken == sorted(taken)


def test_history_can_be_filtered_by_mode(api: Api, fake: FakeAnalyzer):
    _add(api, fake, 110, T0)
    lunge = _add(api, fake, 111, T0 + timedelta(days=1), mode="lunge")
    sid = api_subject(api)
    listing = api.get(f"/api/v1/subjects/{sid}/analyses", params={"mode": "lunge"}).json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == lunge["id"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"offset": -1}, {"mode": "sitting"}])
def test_history_rejects_bad_paging(api: Api, params):
    response = api.get(f"/api/v1/subjects/{api_subject(api)}/analyses", params=params)
    assert response.status_code == 422 and response.json()["code"] == "invalid_request"


def test_compare_flags_differences_against_the_noise_levels(api: Api, fake: FakeAnalyzer):
    noise = noise_levels()
    a = _add(api, fake, 120, T0, pelvic_tilt_deg=10.0, trunk_lean_deg=2.0, knee_angle_deg=None)
    b = _add(
        api,
        fake,
        121,
        T0 + timedelta(days=14),
        pelvic_tilt_deg=10.0 + noise["pelvic_tilt_deg"] * 0.5,  # within noise
        trunk_lean_deg=2.0 + noise["trunk_lean_deg"] * 3,  # a real change
        knee_angle_deg=5.0,  # not measured in a
    )
    response = api.get("/api/v1/compare", params={"a": a["id"], "b": b["id"]})
    assert response.status_code == 200
    body = response.json()
    assert body["days_between"] == 14.0 and body["warnings"] == []
    assert body["a"]["id"] == a["id"] and body["b"]["taken_at"] == b["taken_at"]
    pelvis = body["measures"]["pelvic_tilt_deg"]
    assert pelvis == {
        "a": 10.0,
        "b": 12.0,
        "difference": 2.0,
        "noise": noise["pelvic_tilt_deg"],
        "noise_source": "rules",  # no multi-shot visits: the rules' floor
        "noise_visits": 0,
        "n_a": 1,
        "n_b": 1,
        "within_noise": True,
        # the like-for-like fields belong to the overall score only
        "areas": None,
        "areas_only_a": [],
        "areas_only_b": [],
        "a_as_scored": None,
        "b_as_scored": None,
    }
    trunk = body["measures"]["trunk_lean_deg"]
    assert trunk["difference"] == pytest.approx(6.0) and trunk["within_noise"] is False
    assert body["measures"]["knee_angle_deg"]["difference"] is None
    assert body["measures"]["knee_angle_deg"]["within_noise"] is None
    overall = body["measures"]["overall_score"]
    assert overall["a"] == a["scores"]["overall"] and overall["noise"] == noise["overall_score"]
    assert set(body["measures"]) == {*MEASURE_NAMES, "overall_score"}


def test_compare_warns_when_results_were_made_differently(api: Api, fake: FakeAnalyzer):
    a = _add(api, fake, 130, T0)
    b = _add(api, fake, 131, T0 + timedelta(days=1), mode="lunge")
    body = api.get("/api/v1/compare", params={"a": a["id"], "b": b["id"]}).json()
    assert "mode_differs" in body["warnings"]


def test_compare_needs_one_subject(api: Api, fake: FakeAnalyzer):
    a = _add(api, fake, 140, T0)
    other = api.subject("Other")
    b = api.upload(other, make_jpeg(141)).json()
    response = api.get("/api/v1/compare", params={"a": a["id"], "b": b["id"]})
    assert response.status_code == 422 and response.json()["code"] == "different_subjects"
    missing = api.get("/api/v1/compare", params={"a": a["id"]})
    assert missing.status_code == 422 and missing.json()["code"] == "invalid_request"


def test_trends_fit_a_robust_slope_per_30_days(api: Api, fake: FakeAnalyzer):
    # Trunk lean rises 1° per 30 days; one photo is off by 20° and must not move the slope.
    days = [0, 10, 20, 30, 45, 60, 75, 90]
    for i, d in enumerate(days):
        lean = 2.0 + d / 30.0 + (20.0 if d == 45 else 0.0)
        _add(api, fake, 150 + i, T0 + timedelta(days=d), trunk_lean_deg=round(lean, 2), head_forward_deg=8.0)
    _add(api, fake, 170, T0 + timedelta(days=50), mode="lunge", trunk_lean_deg=-30.0)  # other series
    sid = api_subject(api)
    body = api.get(f"/api/v1/subjects/{sid}/trends").json()
    assert body["n"] == len(days) and body["mode"] == "standing"
    # Photos on different days: one visit each, so one point per photo.
    assert len(body["visit_ids"]) == len(body["taken_at"]) == len(days) and body["shots"] == [1] * len(days)
    photos = api.get(f"/api/v1/subjects/{sid}/trends", params={"by": "photo"}).json()
    assert len(photos["analysis_ids"]) == len(photos["taken_at"]) == len(days)
    assert photos["measures"]["trunk_lean_deg"]["values"] == body["measures"]["trunk_lean_deg"]["values"]
    assert body["taken_at"] == sorted(body["taken_at"])
    trunk = body["measures"]["trunk_lean_deg"]
    assert trunk["n"] == len(days) and len(trunk["values"]) == len(days)
    assert trunk["slope_per_30d"] == pytest.approx(1.0, abs=0.01)
    assert trunk["change"] == pytest.approx(3.0, abs=0.05)  # 90 days
    assert trunk["fit_start"] == pytest.approx(2.0, abs=0.05)
    assert trunk["noise"] == noise_levels()["trunk_lean_deg"] and trunk["beyond_noise"] is True
    flat = body["measures"]["head_forward_deg"]
    assert flat["slope_per_30d"] == 0.0 and flat["beyond_noise"] is False
    # since/until restrict the window; the lunge photo is its own series.
    since, until = (T0 + timedelta(days=15)).isoformat(), (T0 + timedelta(days=40)).isoformat()
    window = api.get(f"/api/v1/subjects/{sid}/trends", params={"since": since, "until": until}).json()
    assert window["n"] == 2
    lunge = api.get(f"/api/v1/subjects/{sid}/trends", params={"mode": "lunge"}).json()
    assert lunge["n"] == 1 and lunge["measures"]["trunk_lean_deg"]["values"] == [-30.0]
    assert lunge["measures"]["trunk_lean_deg"]["slope_per_30d"] is None


def test_trends_of_an_empty_history(api: Api):
    body = api.get(f"/api/v1/subjects/{api_subject(api)}/trends").json()
    assert body["n"] == 0 and body["measures"]["pelvic_tilt_deg"]["values"] == []


def test_export_csv_has_the_analysis_object_names(api: Api, fake: FakeAnalyzer):
    first = _add(api, fake, 180, T0 + timedelta(days=3), pelvic_tilt_deg=12.5, knee_angle_deg=None)
    second = _add(api, fake, 181, T0, pelvic_tilt_deg=7.25)
    sid = api_subject(api)
    response = api.get(f"/api/v1/subjects/{sid}/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f"subject-{sid}.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert CSV_COLUMNS[:4] == ("id", "subject_id", "visit_id", "visit")
    assert CSV_COLUMNS[4:] == ROW_COLUMNS  # the layout of `posture batch`, after the ids and the visit
    assert set(MEASURE_NAMES) <= set(CSV_COLUMNS)
    assert [r["id"] for r in rows] == [second["id"], first["id"]]  # taken_at order
    assert [r["taken_at"] for r in rows] == [second["taken_at"], first["taken_at"]]  # as in the API
    assert rows[0]["subject_id"] == sid and rows[0]["subject"] == "History"
    assert rows[0]["visit_id"] == second["visit_id"] and rows[0]["visit"] == ""
    assert rows[0]["sha256"] == ""  # the service keeps no hash of the original file
    assert float(rows[1]["pelvic_tilt_deg"]) == 12.5 and rows[1]["knee_angle_deg"] == ""
    assert rows[0]["score_overall"] == str(second["scores"]["overall"])
    assert rows[0]["rules"] == second["versions"]["rules"]
    assert rows[0]["image_width"] == str(second["image"]["width"])


def test_export_csv_defuses_spreadsheet_formulas(api: Api):
    sid = api.subject()
    api.upload(sid, make_jpeg(190), filename="=HYPERLINK(evil).jpg")
    rows = list(csv.DictReader(io.StringIO(api.get(f"/api/v1/subjects/{sid}/export.csv").text)))
    assert rows[0]["source"] == "'=HYPERLINK(evil).jpg"


def test_export_json_holds_every_analysis_in_full(api: Api, fake: FakeAnalyzer):
    ids = [_add(api, fake, 200 + i, T0 + timedelta(days=i))["id"] for i in range(3)]
    sid = api_subject(api)
    body = api.get(f"/api/v1/subjects/{sid}/export.json").json()
    assert body["subject"]["id"] == sid and body["subject"]["analysis_count"] == 3
    assert [a["id"] for a in body["analyses"]] == ids
    assert body["analyses"][0] == api.get(f"/api/v1/analyses/{ids[0]}").json()


def test_trends_read_rows_packed_with_an_older_measure_list_from_their_documents(
    api: Api, fake: FakeAnalyzer
):
    """The packed series is a cache of the document: rows packed under another layout (written before a
    measure was added) are read from their documents, so trends stay right without a data migration."""
    first = _add(api, fake, 210, T0, pelvic_tilt_deg=5.0, knee_angle_deg=None)
    second = _add(api, fake, 211, T0 + timedelta(days=30), pelvic_tilt_deg=8.0)
    with api.database.session() as session:
        record = session.get(AnalysisRecord, uuid.UUID(first["id"]))
        record.series_layout, record.series = "older-layout", b"\x00" * 8
        session.commit()
    body = api.get(f"/api/v1/subjects/{api_subject(api)}/trends", params={"by": "photo"}).json()
    assert body["analysis_ids"] == [first["id"], second["id"]]
    assert body["measures"]["pelvic_tilt_deg"]["values"] == [5.0, 8.0]
    assert body["measures"]["pelvic_tilt_deg"]["slope_per_30d"] == pytest.approx(3.0)
    assert body["measures"]["knee_angle_deg"]["values"] == [None, 10.0]  # missing is null
    assert body["measures"]["knee_angle_deg"]["n"] == 1


def test_trends_follow_every_change_to_the_history(api: Api, fake: FakeAnalyzer):
    """Trends are cached per history version: an upload or a deletion is seen by the next request."""
    first = _add(api, fake, 220, T0, pelvic_tilt_deg=5.0)
    url = f"/api/v1/subjects/{api_subject(api)}/trends"
    assert api.get(url).json()["n"] == 1
    assert api.get(url).json()["n"] == 1  # served again (from the cache)
    second = _add(api, fake, 221, T0 + timedelta(days=30), pelvic_tilt_deg=8.0)
    body = api.get(url).json()
    assert body["n"] == 2 and body["measures"]["pelvic_tilt_deg"]["values"] == [5.0, 8.0]
    assert api.delete(f"/api/v1/analyses/{first['id']}").status_code == 204
    body = api.get(url).json()
    assert body["visit_ids"] == [second["visit_id"]]
