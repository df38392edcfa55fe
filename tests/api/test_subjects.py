"""Subjects: create, list (paged), read, rename, delete; input validation."""

from __future__ import annotations

import pytest

from .conftest import Api, make_jpeg


def test_create_list_get_patch_delete(api: Api):
    created = api.post("/api/v1/subjects", json={"name": "  Ada  ", "notes": "left knee op 2024"})
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "Ada" and body["notes"] == "left knee op 2024"
    assert body["analysis_count"] == 0 and body["last_taken_at"] is None
    sid = body["id"]

    assert api.get(f"/api/v1/subjects/{sid}").json() == body
    listing = api.get("/api/v1/subjects").json()
    assert listing["total"] == 1 and listing["items"] == [body]

    renamed = api.patch(f"/api/v1/subjects/{sid}", json={"name": "Ada L."}).json()
    assert renamed["name"] == "Ada L." and renamed["notes"] == "left knee op 2024"
    assert renamed["updated_at"] >= body["updated_at"]
    cleared = api.patch(f"/api/v1/subjects/{sid}", json={"notes": None}).json()
    assert cleared["notes"] is None and cleared["name"] == "Ada L."

    assert api.delete(f"/api/v1/subjects/{sid}").status_code == 204
    gone = api.get(f"/api/v1/subjects/{sid}")
    assert gone.status_code == 404 and gone.json()["code"] == "subject_not_found"
    assert api.delete(f"/api/v1/subjects/{sid}").status_code == 404


def test_list_is_paged_in_creation_order(api: Api):
    ids = [api.subject(f"S{i}") for i in range(5)]
    page = api.get("/api/v1/subjects", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 1
    assert [s["id"] for s in page["items"]] == ids[1:3]
    assert api.get("/api/v1/subjects", params={"offset": 10}).json()["items"] == []


def test_counts_and_last_photo_time(api: Api):
    sid = api.subject()
    api.upload(sid, make_jpeg(10), taken_at="2026-03-01T08:00:00Z")
    api.upload(sid, make_jpeg(11), taken_at="2026-01-01T08:00:00Z")
    subject = api.get(f"/api/v1/subjects/{sid}").json()
    assert subject["analysis_count"] == 2
    assert subject["last_taken_at"] == "2026-03-01T08:00:00Z"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 201},
        {"name": "nul\x00byte"},
        {"name": "new\nline"},
        {"name": "ok", "notes": "nul\x00"},
        {"name": "ok", "notes": "n" * 10_001},
        {"name": 42},
        {"name": "ok", "colour": "blue"},
    ],
)
def test_invalid_subjects_answer_422(api: Api, body):
    response = api.post("/api/v1/subjects", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert api.get("/api/v1/subjects").json()["total"] == 0


def test_lone_surrogate_in_json_is_refused_not_stored(api: Api):
    # Valid JSON, but not storable text: PostgreSQL would fail on it, so the API refuses it first.
    raw = b'{"name": "a\\ud800b"}'
    response = api.post("/api/v1/subjects", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


def test_patch_cannot_null_the_name(api: Api):
    sid = api.subject("Keep")
    response = api.patch(f"/api/v1/subjects/{sid}", json={"name": None})
    assert response.status_code == 422
    assert api.get(f"/api/v1/subjects/{sid}").json()["name"] == "Keep"


def test_non_json_body_is_415(api: Api):
    response = api.post("/api/v1/subjects", data={"name": "Form"})
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_malformed_json_is_422(api: Api):
    response = api.post(
        "/api/v1/subjects", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


@pytest.mark.parametrize("bad", ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g"])
def test_malformed_ids_answer_422(api: Api, bad):
    response = api.get(f"/api/v1/subjects/{bad}")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
