"""Uploads, stored files, deletion and the error contract, with the fake analyzer (fast)."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from app.storage import repository
from app.storage.files import sha256_hex
from app.storage.models import AnalysisRecord, Subject
from posture.result import Analysis

from .conftest import Api, FakeAnalyzer, make_jpeg, running_api


def _count_analyses(api: Api, subject_id: str) -> int:
    with api.database.session() as session:
        return session.scalar(
            select(func.count())
            .select_from(AnalysisRecord)
            .where(AnalysisRecord.subject_id == uuid.UUID(subject_id))
        )


def _exif(when: str | None = None, gps: bool = False, orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    if when:
        exif.get_ifd(0x8769)[0x9003] = when  # DateTimeOriginal
    if gps:
        exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 22.0, 0.0), 3: "E", 4: (4.0, 53.0, 0.0)})
    if orientation:
        exif[0x0112] = orientation
    exif[0x010F] = "ACME PhoneCam"  # Make
    return exif


def test_upload_answers_201_with_the_analysis_object(api: Api, fake: FakeAnalyzer):
    sid = api.subject()
    photo = make_jpeg(1)
    response = api.upload(sid, photo, filename="dir/side view.jpg", taken_at="2026-02-03T04:05:06+01:00")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["subject_id"] == sid and body["status"] == "ok"
    assert body["taken_at"] == "2026-02-03T03:05:06Z"
    assert body["source"] == "side view.jpg"
    # The same serialisation as Analysis.to_dict(), plus where it lives in the history.
    history = {"id", "subject_id", "taken_at", "visit_id", "visit", "reanalysis_skipped"}
    assert set(body) == set(Analysis.model_fields) - {"overlay_png"} | history
    assert body["visit_id"] and body["visit"] is None and body["reanalysis_skipped"] is None
    assert api.get(f"/api/v1/analyses/{body['id']}").json() == body
    assert fake.calls == 1


def test_upload_options_reach_the_analysis(api: Api):
    sid = api.subject()
    body = api.upload(sid, make_jpeg(2), facing="right", mode="lunge", camera_roll_deg="-2.5").json()
    assert body["facing"] == "right" and body["mode"] == "lunge" and body["camera_roll_deg"] == -2.5


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"facing": "up"}, "facing"),
        ({"mode": "sitting"}, "mode"),
        ({"camera_roll_deg": "90"}, "camera_roll_deg"),
        ({"camera_roll_deg": "nan"}, "camera_roll_deg"),
        ({"taken_at": "yesterday"}, "taken_at"),
        ({"taken_at": "0001-01-01T00:00:00+05:00"}, "taken_at"),
        ({"taken_at": "9999-12-31T23:59:59-05:00"}, "taken_at"),
    ],
)
def test_invalid_options_answer_422_and_store_nothing(api: Api, fake: FakeAnalyzer, form, field):
    sid = api.subject()
    response = api.upload(sid, make_jpeg(3), **form)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert field in response.json()["message"]
    assert fake.calls == 0 and _count_analyses(api, sid) == 0


def test_taken_at_falls_back_to_exif_then_upload_time(api: Api):
    sid = api.subject()
    with_exif = make_jpeg(4, exif=_exif("2025:12:24 18:30:00"))
    assert api.upload(sid, with_exif).json()["taken_at"] == "2025-12-24T18:30:00Z"
    # An explicit value wins over EXIF.
    exif = _exif("2025:12:24 18:30:00")
    explicit = api.upload(sid, make_jpeg(5, exif=exif), taken_at="2026-01-01T00:00:00")
    assert explicit.json()["taken_at"] == "2026-01-01T00:00:00Z"
    before = datetime.now(UTC)
    plain = api.upload(sid, make_jpeg(6)).json()["taken_at"]
    assert before - timedelta(seconds=1) <= datetime.fromisoformat(plain) <= datetime.now(UTC)
    # An absurd EXIF clock is ignored rather than trusted.
    absurd = api.upload(sid, make_jpeg(7, exif=_exif("1850:01:01 00:00:00"))).json()["taken_at"]
    assert datetime.fromisoformat(absurd) >= before


def test_rejected_photo_answers_422_with_its_code_and_stores_nothing(api: Api, fake: FakeAnalyzer):
    sid = api.subject()
    photo = fake.script(make_jpeg(8), error=("not_side_view", "Turn 90° so the camera sees one side."))
    response = api.upload(sid, photo)
    assert response.status_code == 422
    assert response.json() == {"code": "not_side_view", "message": "Turn 90° so the camera sees one side."}
    assert _count_analyses(api, sid) == 0
    assert api.stored_files() == []


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "unreadable_image"),
        (b"definitely not an image", "unsupported_format"),
        (make_jpeg(9)[:300], "unreadable_image"),
    ],
)
def test_bad_files_get_the_intake_codes(api: Api, content, code):
    sid = api.subject()
    response = api.upload(sid, content)
    assert response.status_code == 422
    assert response.json()["code"] == code
    assert _count_analyses(api, sid) == 0 and api.stored_files() == []


def test_upload_to_unknown_subject_is_404_before_any_analysis(api: Api, fake: FakeAnalyzer):
    response = api.upload("00000000-0000-4000-8000-000000000000", make_jpeg(10))
    assert response.status_code == 404 and response.json()["code"] == "subject_not_found"
    assert fake.calls == 0


def test_missing_photo_field_is_422(api: Api):
    sid = api.subject()
    response = api.post(f"/api/v1/subjects/{sid}/analyses", files={"picture": ("p.jpg", make_jpeg(11))})
    assert response.status_code == 422
    assert "photo" in response.json()["message"]


def test_wrong_content_types_are_415(api: Api):
    sid = api.subject()
    as_json = api.post(f"/api/v1/subjects/{sid}/analyses", json={"photo": "base64..."})
    assert as_json.status_code == 415 and as_json.json()["code"] == "unsupported_media_type"
    as_text = api.post(f"/api/v1/subjects/{sid}/analyses", files={"photo": ("p.txt", b"hello", "text/plain")})
    assert as_text.status_code == 415
    # The declared type of the part is only a hint: an image sent as octet-stream is fine.
    octet = api.post(
        f"/api/v1/subjects/{sid}/analyses", files={"photo": ("p", make_jpeg(12), "application/octet-stream")}
    )
    assert octet.status_code == 201


def test_declared_oversize_body_is_413_before_reading(database, tmp_path, fake):
    with running_api(database, tmp_path / "data", fake, max_upload_bytes=50_000) as api:
        sid = api.subject()
        big = make_jpeg(13, size=(600, 600))
        assert len(big) > 50_000
        response = api.upload(sid, big)
        assert response.status_code == 413
        assert response.json()["code"] == "request_too_large"
        assert fake.calls == 0 and _count_analyses(api, sid) == 0
        assert api.upload(sid, make_jpeg(14)).status_code == 201  # the server carries on


def test_streamed_oversize_body_is_413_while_streaming(database, tmp_path, fake):
    """No Content-Length (chunked): the limit trips on the bytes received, before the rest is read.
    (httpx's ASGI transport streams the body; Starlette's TestClient would buffer it first.)"""
    with running_api(database, tmp_path / "data", fake, max_upload_bytes=50_000) as api:
        sid = api.subject()
        sent = []

        async def body():
            yield (
                b'--b\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n'
                b"Content-Type: image/jpeg\r\n\r\n"
            )
            for _ in range(100):  # 100 × 16 KiB = 1.6 MB offered
                sent.append(1)
                yield b"\xff" * 16384
            yield b"\r\n--b--\r\n"

        async def post() -> httpx.Response:
            transport = httpx.ASGITransport(app=api.client.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.post(
                    f"/api/v1/subjects/{sid}/analyses",
                    content=body(),
                    headers={**api.auth, "Content-Type": "multipart/form-data; boundary=b"},
                )

        response = asyncio.run(post())
        assert response.status_code == 413
        assert response.json()["code"] == "request_too_large"
        assert len(sent) < 10  # stopped after ~50 kB, not after reading 1.6 MB
        assert _count_analyses(api, sid) == 0 and fake.calls == 0


@pytest.mark.both_storages
def test_photo_is_stored_upright_without_any_metadata(api: Api):
    sid = api.subject()
    # Stored 80×48 landscape with "rotate 90° CW" orientation: upright it is 48×80 portrait.
    original = make_jpeg(15, size=(80, 48), exif=_exif("2025:01:01 10:00:00", gps=True, orientation=6))
    assert b"ACME" in original
    body = api.upload(sid, original).json()
    response = api.get(f"/api/v1/analyses/{body['id']}/photo")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    stored = response.content
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (48, 80) == (body["image"]["width"], body["image"]["height"])
        assert len(image.getexif()) == 0
        assert not {"exif", "icc_profile", "xmp", "comment"} & set(image.info)
    assert b"ACME" not in stored and b"Exif" not in stored


@pytest.mark.both_storages
def test_overlay_is_served_as_png(api: Api):
    sid = api.subject()
    body = api.upload(sid, make_jpeg(16)).json()
    response = api.get(f"/api/v1/analyses/{body['id']}/overlay.png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")


def test_files_are_content_addressed_under_the_data_dir(api: Api):
    sid = api.subject()
    body = api.upload(sid, make_jpeg(17)).json()
    photo = api.get(f"/api/v1/analyses/{body['id']}/photo").content
    digest = sha256_hex(photo)
    assert api.data_dir / "files" / "photo" / digest[:2] / f"{digest}.jpg" in api.stored_files()
    assert len(api.stored_files()) == 2  # photo and overlay, no temporary files left


def test_store_photos_off_keeps_only_the_analysis(database, tmp_path, fake):
    with running_api(database, tmp_path / "data", fake, store_photos=False) as api:
        sid = api.subject()
        body = api.upload(sid, make_jpeg(18)).json()
        assert api.get(f"/api/v1/analyses/{body['id']}").status_code == 200
        for path, code in (("photo", "photo_not_stored"), ("overlay.png", "overlay_not_stored")):
            response = api.get(f"/api/v1/analyses/{body['id']}/{path}")
            assert response.status_code == 404 and response.json()["code"] == code
        assert api.stored_files() == []


@pytest.mark.both_storages
def test_deleting_an_analysis_removes_its_files(api: Api):
    sid = api.subject()
    body = api.upload(sid, make_jpeg(19)).json()
    assert len(api.stored_files()) == 2
    assert api.delete(f"/api/v1/analyses/{body['id']}").status_code == 204
    assert api.get(f"/api/v1/analyses/{body['id']}").status_code == 404
    assert api.stored_files() == []
    assert api.delete(f"/api/v1/analyses/{body['id']}").status_code == 404


@pytest.mark.both_storages
def test_a_file_shared_by_two_analyses_stays_until_the_last_goes(api: Api):
    photo = make_jpeg(20)
    first_subject, second_subject = api.subject("A"), api.subject("B")
    first = api.upload(first_subject, photo).json()
    second = api.upload(second_subject, photo).json()
    assert len(api.stored_files()) == 2  # one photo, one overlay: the same content is stored once
    assert api.delete(f"/api/v1/subjects/{first_subject}").status_code == 204
    assert len(api.stored_files()) == 2
    assert api.get(f"/api/v1/analyses/{second['id']}/photo").status_code == 200
    assert api.get(f"/api/v1/analyses/{first['id']}").status_code == 404
    assert api.delete(f"/api/v1/subjects/{second_subject}").status_code == 204
    assert api.stored_files() == []


@pytest.mark.both_storages
def test_deleting_a_subject_deletes_its_analyses_and_files(api: Api):
    sid, keep = api.subject("Gone"), api.subject("Kept")
    ids = [api.upload(sid, make_jpeg(21 + i)).json()["id"] for i in range(3)]
    kept = api.upload(keep, make_jpeg(30)).json()["id"]
    assert len(api.stored_files()) == 8
    assert api.delete(f"/api/v1/subjects/{sid}").status_code == 204
    assert _count_analyses(api, sid) == 0
    assert all(api.get(f"/api/v1/analyses/{i}").status_code == 404 for i in ids)
    assert len(api.stored_files()) == 2
    assert api.get(f"/api/v1/analyses/{kept}/photo").status_code == 200


@pytest.mark.both_storages
def test_a_storage_failure_mid_upload_leaves_no_record(database, tmp_path, fake, monkeypatch, storage):
    """The photo is written, then writing the overlay fails (disk full): the row is never committed,
    the photo written is removed again, the client gets a JSON 500 without internals, and the next
    upload works."""
    with running_api(database, tmp_path / "data", fake, storage_url=storage) as api:
        sid = api.subject()
        store_type = type(api.store)
        real_put = store_type.put

        def failing_put(self, kind, data):
            if kind.value == "overlay":
                raise OSError(28, "No space left on device")
            return real_put(self, kind, data)

        monkeypatch.setattr(store_type, "put", failing_put)
        client = TestClient(api.client.app, raise_server_exceptions=False)
        response = client.post(
            f"/api/v1/subjects/{sid}/analyses", files={"photo": ("p.jpg", make_jpeg(31))}, headers=api.auth
        )
        assert response.status_code == 500
        assert response.json() == {
            "code": "internal_error",
            "message": "An unexpected error occurred; it has been logged.",
        }
        assert _count_analyses(api, sid) == 0 and api.stored_files() == []
        monkeypatch.setattr(store_type, "put", real_put)
        assert api.upload(sid, make_jpeg(32)).status_code == 201
        assert _count_analyses(api, sid) == 1


@pytest.mark.both_storages
def test_upload_racing_a_subject_delete_stores_nothing(api: Api, fake: FakeAnalyzer):
    """The subject disappears while its photo is being analysed: 404, and no orphan row or file."""
    sid = api.subject()
    original_run = fake.run

    async def run_then_delete(job):
        outcome = await original_run(job)
        with api.database.session() as session:
            session.delete(session.get(Subject, uuid.UUID(sid)))
            session.commit()
        return outcome

    fake.run = run_then_delete  # type: ignore[method-assign]
    response = api.upload(sid, make_jpeg(33))
    assert response.status_code == 404 and response.json()["code"] == "subject_not_found"
    assert _count_analyses(api, sid) == 0 and api.stored_files() == []


def test_stateless_analyze_returns_the_analysis_and_stores_nothing(api: Api, fake: FakeAnalyzer):
    response = api.post("/api/v1/analyze", files={"photo": ("one.jpg", make_jpeg(34), "image/jpeg")})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["source"] == "one.jpg" and "id" not in body
    assert api.stored_files() == [] and fake.calls == 1
    refused = api.post("/api/v1/analyze", files={"photo": ("x.jpg", b"nope", "image/jpeg")})
    assert refused.status_code == 422 and refused.json()["code"] == "unsupported_format"


def test_repository_is_scoped_to_the_account(api: Api):
    sid = api.subject()
    with api.database.session() as session:
        owner = repository.authenticate(session, api.key)
        assert owner is not None and repository.get_subject(session, owner, uuid.UUID(sid))
