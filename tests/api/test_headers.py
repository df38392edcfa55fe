"""What every answer says about itself: the security headers, stored images revalidated by their
content hash (so a deleted photo is gone from a browser's cache), HEAD wherever GET answers, and names
and file names without the invisible characters that make text look like other text."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest
from fastapi.testclient import TestClient

from app.storage import repository

from .conftest import Api, FakeAnalyzer, make_jpeg, running_api

SECURITY = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def _secured(response) -> bool:
    return all(response.headers.get(name) == value for name, value in SECURITY.items())


def test_every_answer_carries_the_security_headers(api: Api, monkeypatch):
    sid = api.subject()
    client = api.client
    answers = [
        client.get("/api/v1/health"),
        client.head("/api/v1/health"),
        client.get("/api/v1/subjects"),  # 401
        api.get("/api/v1/subjects"),
        api.get(f"/api/v1/subjects/{uuid.uuid4()}"),  # 404
        api.get("/api/v1/no-such-route"),
        client.put("/api/v1/subjects", headers=api.auth),  # 405
        api.post("/api/v1/subjects", json={"name": ""}),  # 422
        api.post("/api/v1/subjects", content=b"name", headers={"Content-Type": "text/plain"}),  # 415
        api.upload(sid, make_jpeg(1)),
        client.get("/"),
        client.get("/static/js/labels.js"),
        client.get("/docs"),
        client.get("/openapi.json"),
    ]
    for response in answers:
        assert _secured(response), (response.request.method, response.request.url, response.status_code)
    assert {r.status_code for r in answers} >= {200, 201, 401, 404, 405, 415, 422}

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(repository, "list_subjects", broken)
    failing = TestClient(client.app, raise_server_exceptions=False).get("/api/v1/subjects", headers=api.auth)
    assert failing.status_code == 500 and _secured(failing)  # Starlette's own error answer too


def test_an_oversized_body_answer_carries_them_too(database, tmp_path, fake):
    with running_api(database, tmp_path / "data", fake, max_upload_bytes=50_000) as api:
        response = api.upload(api.subject(), make_jpeg(2, size=(600, 600)))
        assert response.status_code == 413 and _secured(response)


@pytest.mark.both_storages
@pytest.mark.parametrize("path", ["photo", "overlay.png"])
def test_stored_images_are_revalidated_by_their_content_hash(api: Api, path):
    sid = api.subject()
    aid = api.upload(sid, make_jpeg(3)).json()["id"]
    url = f"/api/v1/analyses/{aid}/{path}"
    first = api.get(url)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag == f'"{hashlib.sha256(first.content).hexdigest()}"'
    assert first.headers["cache-control"] == "private, no-cache"

    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = api.get(url, headers={"If-None-Match": sent})
        assert again.status_code == 304 and again.content == b"", sent
        assert again.headers["etag"] == etag and again.headers["cache-control"] == "private, no-cache"
        assert _secured(again)
    assert api.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200

    head = api.request("HEAD", url)
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag
    assert head.headers["content-length"] == str(len(first.content))

    # Deleted: the browser's revalidation finds it gone (nothing is served from its cache unasked).
    assert api.delete(f"/api/v1/analyses/{aid}").status_code == 204
    gone = api.get(url, headers={"If-None-Match": etag})
    assert gone.status_code == 404 and gone.json()["code"] == "analysis_not_found"


def test_head_answers_wherever_get_does(api: Api):
    sid = api.subject("Walker")
    first = api.upload(sid, make_jpeg(4)).json()["id"]
    second = api.upload(sid, make_jpeg(5)).json()["id"]
    ids = {"subject_id": sid, "analysis_id": first}
    paths = ["/", "/docs", "/openapi.json", "/static/js/labels.js"]
    for path, operations in api.client.get("/openapi.json").json()["paths"].items():
        if "get" in operations:
            # Known ids where there are; any other path parameter gets an unknown id (404 both ways).
            paths.append(re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), str(uuid.uuid4())), path))
    paths.append(f"/api/v1/compare?a={first}&b={second}")
    assert len(paths) > 12
    for path in paths:
        get, head = api.get(path), api.request("HEAD", path)
        assert head.status_code == get.status_code, path
        assert head.content == b"", path
        assert head.headers.get("content-type") == get.headers.get("content-type"), path
        if "content-length" in get.headers:
            assert head.headers["content-length"] == get.headers["content-length"], path
    # A POST-only route does not become a GET one: HEAD answers as GET would, 405.
    assert api.request("HEAD", "/api/v1/analyze").status_code == 405


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("\u202eAlice", "Alice"),  # right-to-left override
        ("Bob\u2066\u2069 ", "Bob"),  # an isolate pair, then the usual trimming
        ("Ca\u200erol\u200f", "Carol"),  # direction marks
        ("Dan\u061c", "Dan"),  # Arabic letter mark
    ],
)
def test_names_lose_bidirectional_controls(api: Api, sent, kept):
    created = api.post("/api/v1/subjects", json={"name": sent})
    assert created.status_code == 201 and created.json()["name"] == kept
    renamed = api.patch(f"/api/v1/subjects/{created.json()['id']}", json={"name": "x" + sent})
    assert renamed.status_code == 200 and renamed.json()["name"] == "x" + kept


@pytest.mark.parametrize("name", ["a\u0085b", "\u009b1m", "\u202e\u202c", "tab\there"])
def test_names_of_only_invisible_or_control_characters_are_refused(api: Api, name):
    response = api.post("/api/v1/subjects", json={"name": name})
    assert response.status_code == 422 and response.json()["code"] == "invalid_request"


def test_file_names_lose_control_and_bidirectional_characters(database, tmp_path):
    with running_api(database, tmp_path / "data", FakeAnalyzer()) as api:
        sid = api.subject()
        body = api.upload(sid, make_jpeg(6), filename="dir/holiday\u202egpj.exe\u0085\u2067.jpg").json()
        assert body["source"] == "holidaygpj.exe.jpg"
