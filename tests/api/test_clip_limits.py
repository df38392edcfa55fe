"""Clip intake through the API (issue 23): multipart bodies cut before their closing boundary, the clip
route's own words, every option applied or refused, file names cleaned, no server path in any answer,
and the library's clip limits as job errors. The fake clip analyzer records the options it was given;
the last test runs the real worker pool on clips made at test time."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from .conftest import Api, new_account
from .movement_fakes import FakeClipAnalyzer, fake_clip, upload, wait_job

# Clips of a seed range of their own (500+): the history database is shared by the session's tests, and
# a clip stored here with the same bytes as test_movements.py's would keep that test's deleted files.


@pytest.fixture
def fake() -> FakeClipAnalyzer:
    return FakeClipAnalyzer()


def _multipart(
    boundary: str, fields: dict[str, str], file_field: str, data: bytes, filename: str = "c.mp4"
) -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
        f"Content-Type: video/mp4\r\n\r\n".encode()
        + data
        + b"\r\n"
    ]
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


@pytest.mark.parametrize("route", ["movements", "analyses"])
def test_a_body_without_its_closing_boundary_is_malformed(api: Api, fake: FakeClipAnalyzer, route: str):
    subject = api.subject()
    field = "clip" if route == "movements" else "photo"
    body = _multipart("XyZ", {"test": "lunge"}, field, fake_clip(501))
    headers = {"Content-Type": "multipart/form-data; boundary=XyZ"}
    cut = body[: body.rindex(b"--XyZ--")]  # the last field is whole; only the closing boundary is missing
    response = api.post(f"/api/v1/subjects/{subject}/{route}", content=cut, headers=headers)
    assert response.status_code == 400 and response.json()["code"] == "malformed_request", response.text
    assert fake.clip_calls == 0
    if route == "movements":  # the whole body is accepted, and its last field applied
        whole = api.post(f"/api/v1/subjects/{subject}/movements", content=body, headers=headers)
        assert whole.status_code == 202, whole.text
        assert whole.json()["job"]["test"] == "lunge"


def test_the_clip_route_speaks_of_clips(api: Api, fake: FakeClipAnalyzer):
    subject = api.subject()
    response = api.post(
        f"/api/v1/subjects/{subject}/movements", content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 415
    message = response.json()["message"]
    assert "clip" in message and "photo" not in message


def test_every_clip_option_is_applied(api: Api, fake: FakeClipAnalyzer):
    subject = api.subject()
    response = upload(
        api,
        subject,
        fake_clip(502),
        sample_fps=30,
        level="off",
        camera_roll_deg=2.5,
        camera_roll_source="device",
        mirror_pass="true",
        facing="left",
    )
    assert response.status_code == 202, response.text
    assert wait_job(api, response.json()["job"]["id"], timeout_s=120)["status"] == "done"
    (options,) = fake.clip_options
    assert (options.sample_fps, options.level, options.camera_roll_source) == (30.0, "off", "device")
    assert (options.camera_roll_deg, options.mirror_pass, options.facing) == (2.5, True, "left")
    default = upload(api, subject, fake_clip(503))
    wait_job(api, default.json()["job"]["id"], timeout_s=120)
    assert (fake.clip_options[-1].sample_fps, fake.clip_options[-1].level) == (15.0, "auto")


@pytest.mark.parametrize(
    "form",
    [
        {"sample_fps": "1000"},
        {"sample_fps": "0"},
        {"level": "sideways"},
        {"camera_roll_source": "device"},  # without the roll the device read
        {"colour": "blue"},  # not an option of the route: refused, not dropped
        {"mode": "lunge"},  # the photo route's option
    ],
)
def test_an_option_the_route_cannot_apply_is_refused(api: Api, fake: FakeClipAnalyzer, form: dict[str, str]):
    response = upload(api, api.subject(), fake_clip(504), **form)
    assert response.status_code == 422, response.text
    assert fake.clip_calls == 0 and not [f for f in api.stored_files() if "/clip/" in f"/{f}"]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("squat\u200b.mp4", "squat.mp4"),
        ("\u200e\ufeffleft\u200d.mov", "left.mov"),
        ("\u00adclip\u2060.mp4", "clip.mp4"),
        ("C:\\Users\\me\\clip.mp4", "clip.mp4"),
    ],
)
def test_clip_file_names_are_cleaned(api: Api, fake: FakeClipAnalyzer, sent: str, kept: str):
    response = upload(api, api.subject(), fake_clip(505), filename=sent)
    assert response.status_code == 202, response.text
    assert response.json()["job"]["source"] == kept


def test_photo_file_names_lose_zero_width_characters(api: Api, fake: FakeClipAnalyzer):
    from .conftest import sample

    response = api.post(
        f"/api/v1/subjects/{api.subject()}/analyses",
        files={"photo": ("side\u200b\u2060.jpg", sample("walk_side_crop_f0128.jpg"), "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    assert response.json()["source"] == "side.jpg"


def _clip(path: Path, frames: int, width: int = 320, height: int = 240, fps: float = 30.0) -> bytes:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    rng = np.random.default_rng(frames)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
    writer.release()
    return path.read_bytes()


WALK = Path(__file__).resolve().parents[2] / "sample_images" / "clips" / "walk_side.mp4"


def test_real_clips_no_path_leaks_and_limits_are_job_errors(real_api: Api, tmp_path: Path):
    """Through the real worker pool: a clip part without a file name is kept with no source (it was the
    absolute path of the stored clip), and no answer holds the data directory; a clip larger than the
    frame limit, a one-frame clip and a 1000 fps clip fail with codes that say what is wrong. The real
    clip is the sample walk, which is refused as a lunge (`not_the_test`, issue 22)."""
    subject = real_api.subject()
    body = _multipart("b0und", {"test": "lunge", "sample_fps": "30"}, "clip", WALK.read_bytes(), filename="")
    response = real_api.post(
        f"/api/v1/subjects/{subject}/movements",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=b0und"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["job"]["source"] is None
    job = wait_job(real_api, response.json()["job"]["id"], timeout_s=120)
    assert job["status"] == "failed" and job["error"]["code"] == "not_the_test", job
    assert job["source"] is None
    listing = real_api.get(f"/api/v1/subjects/{subject}/movements")
    for text in (response.text, json.dumps(job), listing.text):
        assert str(real_api.data_dir) not in text and str(real_api.data_dir.resolve()) not in text

    cases = {
        "wide.mp4": (_clip(tmp_path / "wide.mp4", 40, width=4160, height=64), "clip_frame_too_large"),
        "one.mp4": (_clip(tmp_path / "one.mp4", 1), "clip_too_short"),
        "fast.mp4": (_clip(tmp_path / "fast.mp4", 30, fps=1000), "clip_too_short"),
    }
    for name, (data, code) in cases.items():
        failed = wait_job(
            real_api, upload(real_api, subject, data, filename=name).json()["job"]["id"], timeout_s=120
        )
        assert failed["status"] == "failed" and failed["error"]["code"] == code, (name, failed)


def test_the_subject_export_holds_its_movements(api: Api, fake: FakeClipAnalyzer):
    subject = api.subject()
    sent = upload(api, subject, fake_clip(506), filename="lunge.mp4", test="lunge")
    job = wait_job(api, sent.json()["job"]["id"], timeout_s=120)
    assert job["status"] == "done", job
    exported = api.get(f"/api/v1/subjects/{subject}/export.json").json()
    (movement,) = exported["movements"]
    assert movement["id"] == job["movement_id"] and movement["test"] == "lunge"
    assert movement["measures"] == api.get(f"/api/v1/movements/{job['movement_id']}").json()["measures"]
    table = api.get(f"/api/v1/subjects/{subject}/movements/export.csv")
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    header, row = csv.reader(io.StringIO(table.text))
    record = dict(zip(header, row, strict=True))
    assert record["id"] == job["movement_id"] and record["source"] == "lunge.mp4"
    assert record["test"] == "lunge" and record["status"] == "ok"
    assert any(record[name] for name in movement["measures"] if movement["measures"][name] is not None)
    stranger = {"Authorization": f"Bearer {new_account(api.database)}"}
    refused = api.client.get(f"/api/v1/subjects/{subject}/movements/export.csv", headers=stranger)
    assert refused.status_code == 404
