"""Authentication and account isolation."""

from __future__ import annotations

import pytest

from app.core.security import hash_key, key_lookup, new_api_key

from .conftest import Api, make_jpeg, new_account


def test_api_keys_are_random_and_only_their_hash_is_stored(api: Api):
    key, lookup, digest = new_api_key()
    assert key_lookup(key) == lookup and digest == hash_key(key) and len(key) > 60
    assert new_api_key()[0] != key
    with api.database.engine.connect() as conn:
        stored = [row[0] for row in conn.exec_driver_sql("SELECT key_sha256 FROM api_keys")]
    assert hash_key(api.key) in stored
    assert api.key not in stored


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_api_key"),
        ({"Authorization": "Bearer not-a-key"}, "invalid_api_key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_api_key"),
        ({"Authorization": "Bearer pp_0123456789abcdef_" + "A" * 43}, "invalid_api_key"),
    ],
)
def test_missing_or_bad_key_answers_401(api: Api, headers, code):
    response = api.client.get("/api/v1/subjects", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert response.headers["www-authenticate"] == "Bearer"


def test_right_lookup_with_wrong_secret_is_refused(api: Api):
    lookup = key_lookup(api.key)
    forged = f"pp_{lookup}_{'B' * 43}"
    response = api.client.get("/api/v1/subjects", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def test_health_needs_no_key(api: Api):
    response = api.client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# A calendar app cannot send a key: the feed is read with its own secret token in the URL instead
# (docs/programmes.md), and answers 404 without it (tests/api/test_programmes.py).
NO_KEY = {"/api/v1/health", "/api/v1/subjects/{subject_id}/calendar.ics"}


def test_every_route_but_health_needs_a_key(api: Api):
    schema = api.client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if path in NO_KEY:
                assert not operation.get("security"), (method, path)
            else:
                assert operation["security"] == [{"HTTPBearer": []}], (method, path)


def test_another_accounts_ids_answer_404_everywhere(api: Api):
    subject = api.subject("Mine")
    first = api.upload(subject, make_jpeg(1)).json()["id"]
    second = api.upload(subject, make_jpeg(2)).json()["id"]
    other = {"Authorization": f"Bearer {new_account(api.database)}"}
    client = api.client

    calls = [
        client.get(f"/api/v1/subjects/{subject}", headers=other),
        client.patch(f"/api/v1/subjects/{subject}", json={"name": "Stolen"}, headers=other),
        client.delete(f"/api/v1/subjects/{subject}", headers=other),
        client.get(f"/api/v1/subjects/{subject}/analyses", headers=other),
        client.post(
            f"/api/v1/subjects/{subject}/analyses", files={"photo": ("p.jpg", make_jpeg(3))}, headers=other
        ),
        client.get(f"/api/v1/subjects/{subject}/trends", headers=other),
        client.get(f"/api/v1/subjects/{subject}/export.csv", headers=other),
        client.get(f"/api/v1/subjects/{subject}/export.json", headers=other),
        client.get(f"/api/v1/analyses/{first}", headers=other),
        client.get(f"/api/v1/analyses/{first}/photo", headers=other),
        client.get(f"/api/v1/analyses/{first}/overlay.png", headers=other),
        client.delete(f"/api/v1/analyses/{first}", headers=other),
        client.get("/api/v1/compare", params={"a": first, "b": second}, headers=other),
    ]
    for response in calls:
        assert response.status_code == 404, (response.request.method, response.request.url, response.text)
        assert response.json()["code"] in ("subject_not_found", "analysis_not_found")
    assert client.get("/api/v1/subjects", headers=other).json()["total"] == 0
    # ...and nothing of the owner's changed.
    mine = api.get(f"/api/v1/subjects/{subject}").json()
    assert mine["name"] == "Mine" and mine["analysis_count"] == 2
    assert api.get(f"/api/v1/analyses/{first}/photo").status_code == 200
