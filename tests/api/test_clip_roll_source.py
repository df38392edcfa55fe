"""A clip recorded on the capture page is sent with the roll the phone's sensor read
(`camera_roll_source=device`, issue 24): the job carries it to the library's `ClipOptions`, and a
`device` source without a roll is refused, as for photos. SQLite and PostgreSQL, fake clip analyzer."""

from __future__ import annotations

import pytest

from .conftest import Api
from .movement_fakes import FakeClipAnalyzer, fake_clip, upload, wait_job


@pytest.fixture
def fake() -> FakeClipAnalyzer:
    return FakeClipAnalyzer()


def test_the_phones_roll_reaches_the_clip_analysis_as_device(api: Api, fake: FakeClipAnalyzer):
    subject = api.subject()
    response = upload(api, subject, fake_clip(41), "capture-lunge.webm", test="lunge", camera_roll_deg="0.6",
                      camera_roll_source="device")  # fmt: skip
    assert response.status_code == 202, response.text
    assert wait_job(api, response.json()["job"]["id"])["status"] == "done"
    options = fake.clip_options[-1]
    assert options.camera_roll_source == "device" and options.camera_roll_deg == pytest.approx(0.6)
    typed = upload(api, subject, fake_clip(42), test="squat", camera_roll_deg="1.5")
    assert wait_job(api, typed.json()["job"]["id"])["status"] == "done"
    assert fake.clip_options[-1].camera_roll_source == "given"


def test_device_without_a_roll_is_refused_and_nothing_is_stored(api: Api, fake: FakeClipAnalyzer):
    subject = api.subject()
    response = upload(api, subject, fake_clip(43), test="squat", camera_roll_source="device")
    assert response.status_code == 422 and response.json()["code"] == "invalid_request"
    assert "camera_roll_deg" in response.json()["message"]
    assert api.get(f"/api/v1/subjects/{subject}/movements").json()["total"] == 0
    assert fake.clip_calls == 0
