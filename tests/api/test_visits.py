"""Visits: shots of one session grouped by time or by label, kept grouped through every change, shown by
their medians; trends per visit; compare two visits; the personal noise band. Measures chosen by the
test (fake analyzer), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import statistics
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.storage.models import AnalysisDocument, AnalysisRecord, Visit
from posture import trends as stats
from posture.measures.run import MEASURE_NAMES

from .conftest import Api, FakeAnalyzer, make_jpeg, new_account

BASE = {name: 10.0 for name in MEASURE_NAMES}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
DAY = timedelta(days=1)


def _subject(api: Api) -> str:
    if not hasattr(api, "_sid"):
        api._sid = api.subject("Visits")  # type: ignore[attr-defined]
    return api._sid  # type: ignore[attr-defined]


def _add(
    api: Api, fake: FakeAnalyzer, seed: int, when: datetime, mode: str = "standing", visit=None, **measures
):
    photo = fake.script(make_jpeg(seed), measures={**BASE, **measures})
    form = {"taken_at": when.isoformat(), "mode": mode}
    if visit is not None:
        form["visit"] = visit
    response = api.upload(_subject(api), photo, **form)
    assert response.status_code == 201, response.text
    return response.json()


def _visits(api: Api, **params) -> list[dict]:
    response = api.get(f"/api/v1/subjects/{_subject(api)}/visits", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _grouping(api: Api, **params) -> list[list[str]]:
    return [v["analysis_ids"] for v in _visits(api, **params)]


def test_shots_within_30_minutes_form_one_visit_shown_by_its_medians(api: Api, fake: FakeAnalyzer):
    a = _add(api, fake, 1, T0, pelvic_tilt_deg=8.0, trunk_lean_deg=1.0, knee_angle_deg=None)
    b = _add(api, fake, 2, T0 + 4 * MIN, pelvic_tilt_deg=9.5, trunk_lean_deg=2.0, knee_angle_deg=None)
    c = _add(api, fake, 3, T0 + 9 * MIN, pelvic_tilt_deg=12.0, trunk_lean_deg=6.0, knee_angle_deg=3.0)
    later = _add(api, fake, 4, T0 + 2 * timedelta(hours=1))  # the same day, another session
    visits = _visits(api)
    assert [v["analysis_ids"] for v in visits] == [[a["id"], b["id"], c["id"]], [later["id"]]]
    assert a["visit_id"] == b["visit_id"] == c["visit_id"] == visits[0]["id"] != later["visit_id"]
    v = visits[0]
    assert v["n"] == 3 and v["mode"] == "standing" and v["label"] is None
    assert v["taken_at"] == a["taken_at"]  # the first shot's
    assert v["measures"]["pelvic_tilt_deg"] == 9.5 and v["spread"]["pelvic_tilt_deg"] == 4.0
    assert v["measures"]["trunk_lean_deg"] == 2.0 and v["spread"]["trunk_lean_deg"] == 5.0
    # Measured by one shot only: its value, and no spread.
    assert v["measures"]["knee_angle_deg"] == 3.0 and v["spread"]["knee_angle_deg"] is None
    overall = [s["scores"]["overall"] for s in (a, b, c)]
    assert v["scores"]["overall"] == statistics.median(overall)
    assert set(v["scores"]) == set(a["scores"])
    assert [s["id"] for s in v["shots"]] == v["analysis_ids"]
    assert [s["overall_score"] for s in v["shots"]] == overall
    assert v["shots"][0]["overall_band"] == a["bands"]["overall"]
    # b holds the medians of both measures that differ: the shot to show.
    assert v["central_analysis_id"] == b["id"]
    assert v["warnings"] == []
    one = api.get(f"/api/v1/visits/{v['id']}")
    assert one.status_code == 200 and one.json() == v
    assert api.get(f"/api/v1/analyses/{a['id']}").json()["visit_id"] == v["id"]


def test_the_30_minute_rule_is_inclusive_and_modes_never_share_a_visit(api: Api, fake: FakeAnalyzer):
    a = _add(api, fake, 10, T0)
    b = _add(api, fake, 11, T0 + 30 * MIN)  # exactly 30 minutes: the same visit
    c = _add(api, fake, 12, T0 + 61 * MIN)  # 31 minutes after b: a new one
    lunge = _add(api, fake, 13, T0 + 31 * MIN, mode="lunge")
    assert _grouping(api, mode="standing") == [[a["id"], b["id"]], [c["id"]]]
    assert _grouping(api, mode="lunge") == [[lunge["id"]]]
    assert len(_visits(api)) == 3


def test_adding_deleting_and_redating_regroup_the_neighbours(api: Api, fake: FakeAnalyzer):
    first = [_add(api, fake, 20 + i, T0 + i * 10 * MIN)["id"] for i in range(2)]  # 0, 10 min
    second = [_add(api, fake, 30 + i, T0 + (50 + i * 10) * MIN)["id"] for i in range(2)]  # 50, 60 min
    visits = _visits(api)
    assert [v["analysis_ids"] for v in visits] == [first, second]
    # A shot at 30 min bridges the two (20 minutes from each side): one visit of five.
    bridge = _add(api, fake, 40, T0 + 30 * MIN)["id"]
    merged = _visits(api)
    assert [v["analysis_ids"] for v in merged] == [[*first, bridge, *second]]
    before = {visits[0]["id"], visits[1]["id"]}
    assert merged[0]["id"] in before  # a surviving visit keeps its id; the other is gone
    assert api.get(f"/api/v1/visits/{(before - {merged[0]['id']}).pop()}").status_code == 404
    # Deleting the bridge splits them again.
    assert api.delete(f"/api/v1/analyses/{bridge}").status_code == 204
    assert _grouping(api) == [first, second]
    # Re-dating a shot of the second visit to the next day: it leaves that visit for one of its own.
    moved = api.patch(f"/api/v1/analyses/{second[0]}", json={"taken_at": (T0 + DAY).isoformat()})
    assert moved.status_code == 200, moved.text
    assert moved.json()["taken_at"].startswith("2026-03-03T09:00")
    assert _grouping(api) == [first, [second[1]], [second[0]]]
    assert moved.json()["visit_id"] == _visits(api)[2]["id"]
    # ... and back: it rejoins.
    api.patch(f"/api/v1/analyses/{second[0]}", json={"taken_at": (T0 + 55 * MIN).isoformat()})
    assert _grouping(api) == [first, [second[0], second[1]]]
    # Deleting the only shot of a visit removes the visit.
    lone = _add(api, fake, 41, T0 + 3 * DAY)
    assert api.delete(f"/api/v1/analyses/{lone['id']}").status_code == 204
    assert api.get(f"/api/v1/visits/{lone['visit_id']}").json()["code"] == "visit_not_found"
    assert len(_visits(api)) == 2


def test_a_label_overrides_the_grouping_by_time(api: Api, fake: FakeAnalyzer):
    day1 = _add(api, fake, 50, T0, visit="baseline")
    near = _add(api, fake, 51, T0 + 5 * MIN)  # unlabelled, 5 minutes later: not in "baseline"
    day2 = _add(api, fake, 52, T0 + DAY, visit="baseline")  # a day later, same label: same visit
    other = _add(api, fake, 53, T0 + 6 * MIN, visit="  after lunch ")
    visits = {tuple(v["analysis_ids"]): v for v in _visits(api)}
    assert set(visits) == {(day1["id"], day2["id"]), (near["id"],), (other["id"],)}
    assert visits[(day1["id"], day2["id"])]["label"] == "baseline"
    assert day1["visit"] == "baseline" and other["visit"] == "after lunch"  # stripped
    # Clearing the label returns a shot to the grouping by time; setting one moves it.
    cleared = api.patch(f"/api/v1/analyses/{day1['id']}", json={"visit": None})
    assert cleared.status_code == 200 and cleared.json()["visit"] is None
    assert sorted(map(tuple, _grouping(api))) == sorted(
        [(day1["id"], near["id"]), (day2["id"],), (other["id"],)]
    )
    assert api.patch(f"/api/v1/analyses/{near['id']}", json={"visit": "after lunch"}).status_code == 200
    assert sorted(map(tuple, _grouping(api))) == sorted(
        [(day1["id"],), (day2["id"],), (near["id"], other["id"])]
    )
    labelled = [v for v in _visits(api) if v["label"] == "baseline"]
    assert len(labelled) == 1 and labelled[0]["analysis_ids"] == [day2["id"]]


@pytest.mark.parametrize("label", ["   ", "x" * 65, "two\nlines", "tab\there", "nul\x00"])
def test_a_visit_label_is_1_to_64_printable_characters(api: Api, fake: FakeAnalyzer, label):
    photo = fake.script(make_jpeg(60), measures=BASE)
    response = api.upload(_subject(api), photo, visit=label)
    assert response.status_code == 422 and response.json()["code"] == "invalid_visit_label"
    assert api.get(f"/api/v1/subjects/{_subject(api)}").json()["analysis_count"] == 0
    ok = _add(api, fake, 61, T0, visit="é" * 64)
    assert ok["visit"] == "é" * 64
    response = api.patch(f"/api/v1/analyses/{ok['id']}", json={"visit": label})
    assert response.status_code == 422 and response.json()["code"] == "invalid_visit_label"


def test_an_empty_visit_field_means_no_label(api: Api, fake: FakeAnalyzer):
    """A form's empty field is a field left blank (as browsers send it); in JSON, "" is no label."""
    shot = _add(api, fake, 62, T0, visit="")
    assert shot["visit"] is None
    response = api.patch(f"/api/v1/analyses/{shot['id']}", json={"visit": ""})
    assert response.status_code == 422 and response.json()["code"] == "invalid_visit_label"


def test_patch_checks_its_body(api: Api, fake: FakeAnalyzer):
    shot = _add(api, fake, 70, T0)
    url = f"/api/v1/analyses/{shot['id']}"
    assert api.patch(url, json={"taken_at": None}).json()["code"] == "invalid_request"
    assert api.patch(url, json={"taken_at": "1800-01-01T00:00:00Z"}).json()["code"] == "invalid_request"
    assert api.patch(url, json={"mode": "lunge"}).json()["code"] == "invalid_request"  # not changeable
    assert api.patch(url, content=b"taken_at=x").status_code == 415
    assert api.patch(f"/api/v1/analyses/{uuid.uuid4()}", json={"visit": "x"}).status_code == 404
    unchanged = api.patch(url, json={})
    assert unchanged.status_code == 200 and unchanged.json()["taken_at"] == shot["taken_at"]


def test_visits_are_paged_and_private(api: Api, fake: FakeAnalyzer, database):
    ids = [_add(api, fake, 80 + i, T0 + i * DAY)["visit_id"] for i in range(5)]
    sid = _subject(api)
    page = api.get(f"/api/v1/subjects/{sid}/visits", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == 5 and page["limit"] == 2 and [v["id"] for v in page["items"]] == ids[1:3]
    assert api.get(f"/api/v1/subjects/{sid}/visits", params={"limit": 501}).status_code == 422
    other = {"Authorization": f"Bearer {new_account(database)}"}
    assert api.client.get(f"/api/v1/visits/{ids[0]}", headers=other).status_code == 404
    assert api.client.get(f"/api/v1/subjects/{sid}/visits", headers=other).status_code == 404


def test_concurrent_uploads_to_one_subject_make_one_visit(api: Api, fake: FakeAnalyzer):
    sid = _subject(api)
    photos = [fake.script(make_jpeg(90 + i), measures=BASE) for i in range(6)]

    def upload(i: int) -> str:
        response = api.upload(sid, photos[i], taken_at=(T0 + i * 2 * MIN).isoformat())
        assert response.status_code == 201, response.text
        return response.json()["id"]

    with ThreadPoolExecutor(6) as pool:
        ids = list(pool.map(upload, range(6)))
    assert _grouping(api) == [ids]
    with api.database.session() as session:  # no stray visit rows left behind
        assert session.scalar(select(Visit.id).where(Visit.subject_id == uuid.UUID(sid)).limit(2)) is not None
        assert len(session.scalars(select(Visit.id).where(Visit.subject_id == uuid.UUID(sid))).all()) == 1


def test_trends_have_one_point_per_visit_with_its_median_and_spread(api: Api, fake: FakeAnalyzer):
    days = [0, 14, 28, 42]
    shots = []
    for d, day in enumerate(days):
        for k, offset in enumerate((-1.0, 0.0, 2.0)):  # three shots: median = the middle, spread 3
            lean = 2.0 + day / 14 + offset
            shots.append(_add(api, fake, 100 + 3 * d + k, T0 + day * DAY + 3 * k * MIN, trunk_lean_deg=lean))
    sid = _subject(api)
    body = api.get(f"/api/v1/subjects/{sid}/trends").json()
    assert body["by"] == "visit" and body["n"] == 4 and body["n_analyses"] == 12
    assert body["shots"] == [3, 3, 3, 3] and len(body["visit_ids"]) == 4
    assert body["visit_ids"] == [v["id"] for v in _visits(api)]
    assert body["taken_at"] == [shots[3 * d]["taken_at"] for d in range(4)]
    assert body["analysis_ids"] == []  # one per point in by=photo; a visit's shots are in its own object
    trunk = body["measures"]["trunk_lean_deg"]
    assert trunk["values"] == [2.0, 3.0, 4.0, 5.0] and trunk["spread"] == [3.0] * 4
    assert trunk["slope_per_30d"] == pytest.approx(30 / 14, abs=1e-3)
    # Four visits of three shots with a within-visit SD of about 1.53°: a personal band.
    sd = statistics.stdev([-1.0, 0.0, 2.0])
    assert trunk["noise_source"] == "personal" and trunk["noise_visits"] == 4
    assert trunk["noise"] == pytest.approx(round(stats.mdc95(sd, 3, 3), 2))
    flat = body["measures"]["pelvic_tilt_deg"]  # no retake variation: the rules' floor applies
    assert flat["noise_source"] == "rules" and flat["noise"] == stats.noise_levels()["pelvic_tilt_deg"]
    assert flat["noise_visits"] == 4 and flat["spread"] == [0.0] * 4
    # by=photo: today's behaviour, one point per photo, the single-shot band.
    photos = api.get(f"/api/v1/subjects/{sid}/trends", params={"by": "photo"}).json()
    assert photos["by"] == "photo" and photos["n"] == 12 and photos["visit_ids"] is None
    assert photos["analysis_ids"] == [s["id"] for s in shots]
    lean = photos["measures"]["trunk_lean_deg"]
    assert lean["spread"] is None and lean["noise"] == pytest.approx(round(stats.mdc95(sd), 2))
    assert lean["noise"] > trunk["noise"]  # a median of three is steadier than one shot
    assert api.get(f"/api/v1/subjects/{sid}/trends", params={"by": "week"}).status_code == 422


def test_compare_two_visits_against_the_band_of_their_medians(api: Api, fake: FakeAnalyzer):
    for d in range(3):  # three earlier visits: retake SD of the trunk lean 2°, so a personal band
        for k, lean in enumerate((0.0, 2.0, 4.0)):
            _add(
                api, fake, 200 + 3 * d + k, T0 + d * DAY + k * MIN, trunk_lean_deg=lean, head_forward_deg=5.0
            )
    a = [_add(api, fake, 220 + k, T0 + 7 * DAY + k * MIN, trunk_lean_deg=v) for k, v in enumerate((1, 3, 5))]
    b = [_add(api, fake, 230 + k, T0 + 14 * DAY + k * MIN, trunk_lean_deg=v) for k, v in enumerate((5, 7, 9))]
    va, vb = a[0]["visit_id"], b[0]["visit_id"]
    body = api.get("/api/v1/compare", params={"a": va, "b": vb}).json()
    assert body["a"]["kind"] == body["b"]["kind"] == "visit" and body["a"]["n"] == 3
    assert body["a"]["analysis_ids"] == [s["id"] for s in a]
    assert body["a"]["central_analysis_id"] == a[1]["id"] and body["days_between"] == 7.0
    trunk = body["measures"]["trunk_lean_deg"]
    band = round(stats.mdc95(2.0, 3, 3), 2)  # pooled SD 2 from five visits of three
    assert trunk == {
        "a": 3.0,
        "b": 7.0,
        "difference": 4.0,
        "noise": band,
        "noise_source": "personal",
        "noise_visits": 5,
        "n_a": 3,
        "n_b": 3,
        "within_noise": False,  # 4° against a band of 3.7°: a change
        "areas": None,  # the like-for-like fields belong to the overall score only
        "areas_only_a": [],
        "areas_only_b": [],
        "a_as_scored": None,
        "b_as_scored": None,
    }
    # The same two as single shots: the single-shot band is wider.
    single = api.get("/api/v1/compare", params={"a": a[1]["id"], "b": b[1]["id"]}).json()
    assert single["a"]["kind"] == "analysis" and single["measures"]["trunk_lean_deg"]["noise"] > band
    # A shot against a visit works too.
    mixed = api.get("/api/v1/compare", params={"a": a[0]["id"], "b": vb}).json()
    assert mixed["measures"]["trunk_lean_deg"]["n_a"] == 1 and mixed["measures"]["trunk_lean_deg"]["n_b"] == 3
    missing = api.get("/api/v1/compare", params={"a": va, "b": str(uuid.uuid4())})
    assert missing.status_code == 404


def test_too_few_multi_shot_visits_give_no_personal_band(api: Api, fake: FakeAnalyzer):
    for d in range(2):  # two visits of two shots: below personal_min_visits (3)
        for k, lean in enumerate((0.0, 9.0)):
            _add(api, fake, 300 + 2 * d + k, T0 + d * DAY + k * MIN, trunk_lean_deg=lean)
    trunk = api.get(f"/api/v1/subjects/{_subject(api)}/trends").json()["measures"]["trunk_lean_deg"]
    assert trunk["noise_source"] == "rules" and trunk["noise_visits"] == 2
    assert trunk["noise"] == stats.noise_levels()["trunk_lean_deg"]


def test_mixed_versions_are_flagged_on_visits_trends_and_compare(api: Api, fake: FakeAnalyzer):
    old = _add(api, fake, 400, T0)
    new = _add(api, fake, 401, T0 + 5 * MIN)
    sid = _subject(api)
    assert api.get(f"/api/v1/subjects/{sid}/trends").json()["warnings"] == []
    with api.database.session() as session:  # as if `old` had been made with an earlier rules file
        record = session.get(AnalysisRecord, uuid.UUID(old["id"]))
        versions = {**record.result["versions"], "rules": "2020.1.1"}
        session.execute(
            update(AnalysisDocument)
            .where(AnalysisDocument.analysis_id == record.id)
            .values(result={**record.result, "versions": versions})
        )
        record.method = stats.method_key(versions)
        session.commit()
    # The cache is keyed by the history version, which a direct edit does not bump: ask for a window.
    trends = api.get(f"/api/v1/subjects/{sid}/trends", params={"since": "2020-01-01T00:00:00Z"}).json()
    assert trends["warnings"] == ["mixed_versions"]
    assert api.get(f"/api/v1/visits/{old['visit_id']}").json()["warnings"] == ["mixed_versions"]
    body = api.get("/api/v1/compare", params={"a": old["id"], "b": new["id"]}).json()
    assert body["warnings"] == ["rules_version_differs", "mixed_versions"]


def test_exports_carry_the_visit(api: Api, fake: FakeAnalyzer):
    a = _add(api, fake, 500, T0, visit="first")
    _add(api, fake, 501, T0 + 3 * DAY)
    body = api.get(f"/api/v1/subjects/{_subject(api)}/export.json").json()
    assert [x["visit_id"] for x in body["analyses"]] == [v["id"] for v in body["visits"]]
    assert body["analyses"][0]["visit"] == "first" and body["visits"][0]["label"] == "first"
    text = api.get(f"/api/v1/subjects/{_subject(api)}/export.csv").text
    assert f"{a['id']},{a['subject_id']},{a['visit_id']},first," in text


@pytest.mark.parametrize("by", ["visit", "photo"])
def test_the_fast_trends_json_is_the_validated_model(api: Api, fake: FakeAnalyzer, by):
    """The endpoint writes its JSON without validating (app.services.history.trends_json): it must be
    exactly what the validated model (`trends()`, which the report uses) serialises to."""
    from app.services import history

    shots = [
        _add(api, fake, 600, T0, knee_angle_deg=None),
        _add(api, fake, 601, T0 + timedelta(minutes=3, microseconds=250_000), trunk_lean_deg=4.0),
        _add(api, fake, 602, T0 + 2 * DAY, visit="later"),
    ]
    sid = _subject(api)
    body = api.get(f"/api/v1/subjects/{sid}/trends", params={"by": by}).json()
    with api.database.session() as session:
        model = history.trends(session, uuid.UUID(sid), "standing", by=by)
    assert body == json.loads(model.model_dump_json())
    assert body["taken_at"][0] == "2026-03-02T09:00:00Z"
    if by == "photo":  # times to the microsecond, written as the analysis objects write them
        assert body["taken_at"] == [s["taken_at"] for s in shots]
        assert body["taken_at"][1] == "2026-03-02T09:03:00.250000Z"


def test_batch_store_groups_photos_into_visits_the_same_way(database, tmp_path, fake, monkeypatch):
    """`posture batch --store`: a manifest's `visit` column labels a visit; other photos group by time."""
    import asyncio

    from app.services.batch_store import store_results
    from app.storage import repository
    from posture.batch import BatchInputError, BatchResult
    from posture.batch.inputs import read_manifest
    from posture.worker import Job

    monkeypatch.setenv("POSTURE_DATABASE_URL", database.url)
    with database.session() as session:
        user, _ = repository.create_user(session, f"batch-{uuid.uuid4().hex[:8]}")
    folder = tmp_path / "photos"
    folder.mkdir()
    rows = [
        ("a.jpg", "2026-03-02T09:00:00+00:00", "baseline"),
        ("b.jpg", "2026-03-09T09:00:00+00:00", "baseline"),  # a week later, the same label
        ("c.jpg", "2026-03-02T09:05:00+00:00", ""),  # unlabelled: its own visit by time
        ("d.jpg", "2026-03-02T09:20:00+00:00", ""),  # 15 minutes after c: c's visit
    ]
    for seed, (name, _, _) in enumerate(rows):
        (folder / name).write_bytes(make_jpeg(700 + seed))
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,subject,taken_at,visit\n" + "".join(f"photos/{n},Bea,{t},{v}\n" for n, t, v in rows)
    )
    items = list(read_manifest(manifest))
    assert [i.visit for i in items] == ["baseline", "baseline", None, None]
    results = []
    for item in items:
        outcome = asyncio.run(fake.run(Job(item.path.read_bytes(), item.source)))
        results.append(BatchResult(item, None, outcome.analysis))
    assert store_results(results, tmp_path / "data", user=user.name) == 4
    with database.session() as session:
        subject = repository.subject_id_by_name(session, user, "Bea")
        records = repository.all_analyses(session, subject)
        by_name = {r.result["source"]: r for r in records}
        assert by_name["a.jpg"].visit_id == by_name["b.jpg"].visit_id != by_name["c.jpg"].visit_id
        assert by_name["c.jpg"].visit_id == by_name["d.jpg"].visit_id
        assert by_name["a.jpg"].visit_label == "baseline" and by_name["c.jpg"].visit_label is None

    bad = tmp_path / "bad.csv"
    bad.write_text("path,visit\nphotos/a.jpg," + "x" * 65 + "\n")
    with pytest.raises(BatchInputError, match="visit"):
        list(read_manifest(bad))
