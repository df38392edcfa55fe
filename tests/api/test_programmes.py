"""The programme log (issue 24): programmes, exercises and workout ticks through the API; foreign ids
404; the before/after up the chain against the noise, refusing to judge with too few visits; the next
photo due and the calendar feed. Measures chosen by the test (fake analyzer), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar

from app.storage import movements as movement_storage
from posture.measures.run import MEASURE_NAMES
from posture.rules import load_rules

from .conftest import Api, FakeAnalyzer, make_jpeg, new_account

BASE = {name: 10.0 for name in MEASURE_NAMES}
START = date(2026, 3, 16)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
RULES = load_rules()["programme"]


def _programme(api: Api, subject_id: str, **body) -> dict:
    body = {"name": "Calf programme", "start_date": START.isoformat(), **body}
    response = api.post(f"/api/v1/subjects/{subject_id}/programmes", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _photo(api: Api, fake: FakeAnalyzer, subject_id: str, seed: int, when: datetime, **measures) -> None:
    photo = fake.script(make_jpeg(seed), measures={**BASE, **measures})
    response = api.upload(subject_id, photo, taken_at=when.isoformat(), mode="standing")
    assert response.status_code == 201, response.text


def _clip(api: Api, subject_id: str, test: str, when: datetime, **measures) -> None:
    document = {"test": test, "measures": measures, "versions": {"package": "t", "rules": "t", "model": "t"}}
    with api.database.session() as session:
        stored = movement_storage.add_movement(
            session,
            api.store,
            uuid.UUID(subject_id),
            document,
            clip=None,
            deepest_png=None,
            source=None,
            taken_at=when,
        )
    assert stored is not None


def _effect(api: Api, programme_id: str) -> dict[str, dict]:
    response = api.get(f"/api/v1/programmes/{programme_id}/effect")
    assert response.status_code == 200, response.text
    body = response.json()
    return body, {m["measure"]: m for m in body["measures"]}


# --- the log ----------------------------------------------------------------------------------------


def test_a_programme_is_created_read_listed_changed_and_deleted(api: Api):
    sid = api.subject()
    made = _programme(
        api,
        sid,
        notes="Six weeks, three times a week.",
        exercises=[{"name": "Eccentric heel drops", "dose": "3×15"}, {"name": "Knee-to-wall mobilisation"}],
    )
    assert made["subject_id"] == sid and made["start_date"] == "2026-03-16" and made["end_date"] is None
    assert [(e["name"], e["dose"]) for e in made["exercises"]] == [
        ("Eccentric heel drops", "3×15"),
        ("Knee-to-wall mobilisation", None),
    ]
    assert made["workout_days"] == 0 and made["status"] in {"active", "planned"}
    later = _programme(api, sid, name="Hip flexors", start_date="2026-05-01")
    listed = api.get(f"/api/v1/subjects/{sid}/programmes").json()
    assert [p["id"] for p in listed] == [later["id"], made["id"]]  # latest start first
    pid = made["id"]
    changed = api.patch(f"/api/v1/programmes/{pid}", json={"end_date": "2026-04-26", "notes": None}).json()
    assert changed["end_date"] == "2026-04-26" and changed["notes"] is None and changed["status"] == "ended"
    assert changed["name"] == "Calf programme"  # kept
    assert api.get(f"/api/v1/programmes/{pid}").json() == changed
    assert api.delete(f"/api/v1/programmes/{pid}").status_code == 204
    assert api.get(f"/api/v1/programmes/{pid}").json()["code"] == "programme_not_found"
    assert [p["id"] for p in api.get(f"/api/v1/subjects/{sid}/programmes").json()] == [later["id"]]


def test_bad_programmes_are_refused_with_a_clear_code(api: Api):
    sid = api.subject()
    url = f"/api/v1/subjects/{sid}/programmes"
    for body in (
        {"name": "x", "start_date": "2026-03-16", "end_date": "2026-03-01"},
        {"name": " ", "start_date": "2026-03-16"},
        {"name": "x"},
        {"name": "x", "start_date": "1066-10-14"},
        {"name": "x", "start_date": "2026-02-30"},
        {"name": "x", "start_date": "2026-03-16", "colour": "red"},
        {"name": "x", "start_date": "2026-03-16", "exercises": [{"name": "a\x00b"}]},
    ):
        response = api.post(url, json=body)
        assert response.status_code == 422, (body, response.text)
    pid = _programme(api, sid, end_date="2026-04-26")["id"]
    response = api.patch(f"/api/v1/programmes/{pid}", json={"start_date": "2026-05-01"})
    assert response.status_code == 422 and response.json()["code"] == "invalid_programme_dates"
    assert api.patch(f"/api/v1/programmes/{pid}", json={"name": None}).status_code == 422
    assert api.get(f"/api/v1/programmes/{pid}").json()["start_date"] == "2026-03-16"  # nothing changed


def test_workouts_are_ticked_once_a_day_and_unticked(api: Api):
    sid = api.subject()
    made = _programme(api, sid, exercises=[{"name": "Heel drops", "dose": "3×15"}])
    pid, eid = made["id"], made["exercises"][0]["id"]
    tick = f"/api/v1/programmes/{pid}/exercises/{eid}/ticks"
    for day in ("2026-03-16", "2026-03-18", "2026-03-16"):
        assert api.request("PUT", f"{tick}/{day}").status_code == 200
    added = api.post(f"/api/v1/programmes/{pid}/exercises", json={"name": "Soleus stretch"})
    assert added.status_code == 201
    second = added.json()["exercises"][1]["id"]
    body = api.request("PUT", f"/api/v1/programmes/{pid}/exercises/{second}/ticks/2026-03-20").json()
    assert body["exercises"][0]["ticks"] == ["2026-03-16", "2026-03-18"]
    assert body["workout_days"] == 3
    body = api.delete(f"{tick}/2026-03-16").json()
    assert body["exercises"][0]["ticks"] == ["2026-03-18"]
    assert api.delete(f"{tick}/2026-03-16").status_code == 200  # idempotent
    future = (datetime.now(UTC).date() + 3 * DAY).isoformat()
    response = api.request("PUT", f"{tick}/{future}")
    assert response.status_code == 422 and response.json()["code"] == "tick_in_future"
    renamed = api.patch(f"/api/v1/programmes/{pid}/exercises/{eid}", json={"dose": "3×20"}).json()
    assert renamed["exercises"][0]["dose"] == "3×20" and renamed["exercises"][0]["name"] == "Heel drops"
    after = api.delete(f"/api/v1/programmes/{pid}/exercises/{eid}").json()
    assert [e["name"] for e in after["exercises"]] == ["Soleus stretch"] and after["workout_days"] == 1
    # An exercise of another programme is not found under this one.
    other = _programme(api, sid, exercises=[{"name": "x"}])
    response = api.request(
        "PUT", f"/api/v1/programmes/{pid}/exercises/{other['exercises'][0]['id']}/ticks/2026-03-16"
    )
    assert response.status_code == 404 and response.json()["code"] == "exercise_not_found"


def test_another_accounts_programmes_are_not_found(api: Api):
    sid = api.subject()
    made = _programme(api, sid, exercises=[{"name": "Heel drops"}])
    pid, eid = made["id"], made["exercises"][0]["id"]
    stranger = {"Authorization": f"Bearer {new_account(api.database)}"}
    calls = [
        ("GET", f"/api/v1/programmes/{pid}", None),
        ("PATCH", f"/api/v1/programmes/{pid}", {"name": "mine"}),
        ("DELETE", f"/api/v1/programmes/{pid}", None),
        ("GET", f"/api/v1/programmes/{pid}/effect", None),
        ("POST", f"/api/v1/programmes/{pid}/exercises", {"name": "mine"}),
        ("PATCH", f"/api/v1/programmes/{pid}/exercises/{eid}", {"name": "mine"}),
        ("DELETE", f"/api/v1/programmes/{pid}/exercises/{eid}", None),
        ("PUT", f"/api/v1/programmes/{pid}/exercises/{eid}/ticks/2026-03-16", None),
        ("GET", f"/api/v1/subjects/{sid}/programmes", None),
        ("POST", f"/api/v1/subjects/{sid}/programmes", {"name": "x", "start_date": "2026-03-16"}),
        ("POST", f"/api/v1/subjects/{sid}/calendar", None),
    ]
    for method, path, body in calls:
        response = api.client.request(method, path, headers=stranger, json=body)
        assert response.status_code == 404, (method, path, response.text)
    unknown = api.get(f"/api/v1/programmes/{uuid.uuid4()}/effect")
    assert unknown.status_code == 404 and unknown.json()["code"] == "programme_not_found"
    assert api.get(f"/api/v1/programmes/{pid}").json() == made  # untouched


def test_the_export_carries_the_log_and_deleting_the_subject_removes_it(api: Api):
    sid = api.subject()
    made = _programme(api, sid, exercises=[{"name": "Heel drops"}])
    api.request(
        "PUT", f"/api/v1/programmes/{made['id']}/exercises/{made['exercises'][0]['id']}/ticks/2026-03-17"
    )
    exported = api.get(f"/api/v1/subjects/{sid}/export.json").json()
    assert [p["id"] for p in exported["programmes"]] == [made["id"]]
    assert exported["programmes"][0]["exercises"][0]["ticks"] == ["2026-03-17"]
    assert api.delete(f"/api/v1/subjects/{sid}").status_code == 204
    assert api.get(f"/api/v1/programmes/{made['id']}").status_code == 404


# --- before and after -------------------------------------------------------------------------------


def test_too_few_visits_on_a_side_are_said_plainly_and_nothing_is_judged(api: Api, fake: FakeAnalyzer):
    sid = api.subject()
    pid = _programme(api, sid)["id"]
    body, rows = _effect(api, pid)
    assert [m["area"] for m in body["measures"]][:5] == ["ankle"] * 5  # ankle first
    assert [m["measure"] for m in body["measures"]] == [r["measure"] for r in RULES["measures"]]
    assert body["summary"] == RULES["summary_none"] and "not proof" in body["disclaimer"]
    # Two visits before, but on one day; three since, on separate days.
    _photo(api, fake, sid, 1, T0, shank_angle_deg=5.0)
    _photo(api, fake, sid, 2, T0 + timedelta(hours=3), shank_angle_deg=5.0)
    for i in range(3):
        _photo(api, fake, sid, 10 + i, T0 + (14 + 2 * i) * DAY, shank_angle_deg=15.0)
    body, rows = _effect(api, pid)
    shin = rows["shank_angle_deg"]
    assert (shin["before"]["visits"], shin["before"]["days"]) == (2, 1)
    assert (shin["since"]["visits"], shin["since"]["days"]) == (3, 3)
    assert shin["enough"] is False and shin["beyond_noise"] is None
    assert shin["statement"].startswith("Too few visits to compare the standing shin angle")
    assert shin["difference"] == 10.0  # shown, but not judged


def test_a_change_beyond_the_noise_and_one_within_it_read_up_the_chain(api: Api, fake: FakeAnalyzer):
    sid = api.subject()
    pid = _programme(api, sid, end_date="2026-04-26")["id"]
    for i, shin in enumerate((5.0, 6.0, 5.0)):  # before: 2 and 1 week before the start... and 3 weeks
        _photo(
            api, fake, sid, 20 + i, T0 - 7 * DAY + 7 * i * DAY / 2, shank_angle_deg=shin, pelvic_tilt_deg=8.0
        )
    for i, (shin, tilt) in enumerate(((12.0, 7.0), (14.0, 6.5), (13.0, 7.2))):
        _photo(api, fake, sid, 30 + i, T0 + (14 + 7 * i) * DAY, shank_angle_deg=shin, pelvic_tilt_deg=tilt)
    _photo(api, fake, sid, 40, T0 + 120 * DAY, shank_angle_deg=40.0)  # after the end: not "since"
    # Lunge clips: two before, two since.
    for i, peak in enumerate((30.0, 31.0, 37.0, 38.0)):
        when = T0 + (-3 + i * 10) * DAY if i < 2 else T0 + (20 + i) * DAY
        _clip(api, sid, "lunge", when, lunge_shin_peak_deg=peak)
    body, rows = _effect(api, pid)
    shin, tilt, lunge = rows["shank_angle_deg"], rows["pelvic_tilt_deg"], rows["lunge_shin_peak_deg"]
    assert (
        shin["before"]["median"] == 5.0 and shin["since"]["median"] == 13.0 and shin["since"]["visits"] == 3
    )
    assert shin["difference"] == 8.0 and shin["enough"] and shin["beyond_noise"] is True
    assert shin["noise"] == load_rules()["noise"]["shank_angle_deg"] and shin["noise_source"] == "rules"
    assert shin["statement"].startswith(
        "The standing shin angle rose by 8.0° since the programme began, beyond"
    )
    assert tilt["difference"] == -1.0 and tilt["beyond_noise"] is False
    assert (
        "pelvic tilt estimate changed by −1.0°" in tilt["statement"]
        and "within the noise" in tilt["statement"]
    )
    assert lunge["source"] == "lunge" and lunge["difference"] == 7.0 and lunge["beyond_noise"] is True
    assert lunge["noise"] == 4.6
    assert shin["before"]["slope_per_30d"] is not None and shin["since"]["slope_per_30d"] is not None
    assert rows["squat_shin_peak_deg"]["enough"] is False  # no squat clips at all
    for text in (body["summary"], body["disclaimer"], *(m["statement"] for m in body["measures"])):
        assert "caus" not in text.replace("not proof that the programme caused", "")
        assert "diagnos" not in text.replace("not a medical assessment or diagnosis", "")


# --- the next photo due and the calendar ------------------------------------------------------------


def test_the_next_photo_due_follows_the_latest_photo_and_the_interval(api: Api, fake: FakeAnalyzer):
    response = api.post("/api/v1/subjects", json={"name": "Due", "photo_interval_days": 7})
    sid = response.json()["id"]
    today = datetime.now(UTC).date()
    fresh = response.json()
    assert (
        fresh["photo_interval_days"] == 7
        and fresh["due_in_days"] == 0
        and fresh["next_photo_due"] == str(today)
    )
    _photo(api, fake, sid, 50, datetime.now(UTC) - 3 * DAY)
    got = api.get(f"/api/v1/subjects/{sid}").json()
    assert got["due_in_days"] == 4 and got["next_photo_due"] == str(today + 4 * DAY)
    got = api.patch(f"/api/v1/subjects/{sid}", json={"photo_interval_days": 2}).json()
    assert got["due_in_days"] == -1
    listed = {s["id"]: s for s in api.get("/api/v1/subjects").json()["items"]}
    assert listed[sid]["due_in_days"] == -1
    for bad in (0, 366, None, "x"):
        assert api.patch(f"/api/v1/subjects/{sid}", json={"photo_interval_days": bad}).status_code == 422
    assert api.post("/api/v1/subjects", json={"name": "x"}).json()["photo_interval_days"] == 14


def test_the_calendar_feed_opens_with_its_own_token_only(api: Api, fake: FakeAnalyzer):
    sid = api.subject("Calendar Person")
    _photo(api, fake, sid, 60, datetime.now(UTC) - 2 * DAY)
    _programme(api, sid, exercises=[{"name": "Heel drops"}])
    feed = f"/api/v1/subjects/{sid}/calendar.ics"
    assert api.client.get(feed).status_code == 422  # no token
    assert api.client.get(feed, params={"token": "guess"}).json()["code"] == "calendar_not_found"
    link = api.post(f"/api/v1/subjects/{sid}/calendar")
    assert link.status_code == 201
    url, token = link.json()["url"], link.json()["token"]
    assert url.endswith(f"/api/v1/subjects/{sid}/calendar.ics?token={token}")
    response = api.client.get(feed, params={"token": token})  # no API key: a calendar app
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = {str(e["uid"]).split("-")[0]: e for e in calendar.walk("VEVENT")}
    due = events["photo"]
    assert due.decoded("dtstart") == datetime.now(UTC).date() + 12 * DAY
    assert "Calendar Person" in str(due["summary"]) and due.walk("VALARM")
    assert events["programme"].decoded("dtstart") == START
    assert api.client.get(feed, params={"token": token + "x"}).status_code == 404
    new_token = api.post(f"/api/v1/subjects/{sid}/calendar").json()["token"]
    assert api.client.get(feed, params={"token": token}).status_code == 404  # replaced
    assert api.client.get(feed, params={"token": new_token}).status_code == 200
    assert api.delete(f"/api/v1/subjects/{sid}/calendar").status_code == 204
    assert api.client.get(feed, params={"token": new_token}).status_code == 404
    # Another subject's token does not open this one's feed.
    other = api.subject("Other")
    other_token = api.post(f"/api/v1/subjects/{other}/calendar").json()["token"]
    assert api.client.get(feed, params={"token": other_token}).status_code == 404


@pytest.mark.parametrize("interval", [1, 14, 365])
def test_a_subject_created_with_an_interval_keeps_it(api: Api, interval: int):
    made = api.post("/api/v1/subjects", json={"name": "I", "photo_interval_days": interval}).json()
    assert api.get(f"/api/v1/subjects/{made['id']}").json()["photo_interval_days"] == interval


def test_the_personal_band_judges_when_the_person_retakes_noisily(api: Api, fake: FakeAnalyzer):
    """Visits of two shots that differ by 6° in pelvic tilt: the person's own band (wider than the
    rules' 4°) is the one a difference is judged against, and the row says so."""
    sid = api.subject()
    pid = _programme(api, sid)["id"]
    seed = 100
    for week, tilt in ((-4, 8.0), (-3, 9.0), (-2, 8.5), (0, 13.0), (1, 12.5), (2, 13.5)):
        for shot, offset in enumerate((-3.0, 3.0)):
            when = T0 + (14 + 7 * week) * DAY + shot * timedelta(minutes=2)
            _photo(api, fake, sid, seed, when, pelvic_tilt_deg=tilt + offset)
            seed += 1
    _, rows = _effect(api, pid)
    tilt = rows["pelvic_tilt_deg"]
    assert tilt["enough"] and tilt["noise_source"] == "personal" and tilt["noise_visits"] == 6
    assert tilt["noise"] > load_rules()["noise"]["pelvic_tilt_deg"]
    assert tilt["difference"] == 4.5
    assert tilt["beyond_noise"] is (tilt["noise"] <= tilt["difference"])
    assert "this person's own retake noise" in tilt["statement"]
