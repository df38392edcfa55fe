"""The roll a phone's orientation sensor read, sent with the upload (`camera_roll_source=device`): it
reaches the stored analysis as `camera_level = {source: "device", roll_deg: ...}`, with the real model."""

from __future__ import annotations

import pytest

from .conftest import Api, FakeAnalyzer, make_jpeg, sample

SIDE = "walk_side_f0128.jpg"


def test_a_device_roll_is_stored_as_device(real_api: Api):
    sid = real_api.subject("Captured")
    response = real_api.upload(
        sid, sample(SIDE), filename=SIDE, camera_roll_deg="0.7", camera_roll_source="device"
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["camera_level"] == {
        "roll_deg": 0.7,
        "source": "device",
        "confidence": 1.0,
        "applied_roll_deg": 0.7,
        "applied_share": 1.0,
    }
    assert body["camera_roll_deg"] == 0.7
    # Read back from the history: the same document.
    stored = real_api.get(f"/api/v1/analyses/{body['id']}").json()
    assert stored["camera_level"] == body["camera_level"] and stored["camera_roll_deg"] == 0.7
    # Without a source, a roll is `given`, as before.
    given = real_api.upload(sid, sample(SIDE), filename=SIDE, camera_roll_deg="0.7").json()
    assert given["camera_level"]["source"] == "given"


@pytest.mark.parametrize(
    "form",
    [
        {"camera_roll_deg": "1.0", "camera_roll_source": "sensor"},
        {"camera_roll_source": "device"},  # a device source without the roll it read
    ],
)
def test_an_invalid_roll_source_answers_422_and_stores_nothing(api: Api, fake: FakeAnalyzer, form):
    sid = api.subject()
    response = api.upload(sid, make_jpeg(7), **form)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert "camera_roll_source" in response.json()["message"]
    assert fake.calls == 0
    assert api.get(f"/api/v1/subjects/{sid}/analyses").json()["total"] == 0
