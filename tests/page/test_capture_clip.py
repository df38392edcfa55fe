"""Movement clips recorded in the capture view (issue 24), in headless Chromium with its fake camera
(a real side photo looped) and the phone's attitude set through DevTools, against a real server and
pose model: the record buttons follow the level gate, a countdown and the test's framing guide come
first, `MediaRecorder` films until Stop, and the clip goes up as a movement job with the roll read
while filming as `camera_roll_source=device`; the job's end (a movement, or the library's refusal of a
clip without movement) is shown as for an uploaded clip."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import Server, Tab
from .test_capture import camera_context, camera_tab, open_capture, screenshot, set_level, start_camera  # noqa: F401

EBML_MAGIC = bytes.fromhex("1a45dfa3")  # a WebM (Matroska) file's first bytes
MP4_BOX = b"ftyp"


def _field(body: bytes, name: str) -> str | None:
    match = re.search(rb'name="' + name.encode() + rb'"\r\n\r\n([^\r]*)\r\n', body)
    return match.group(1).decode() if match else None


def test_a_lunge_clip_is_recorded_level_and_sent_as_a_movement_job(
    server: Server,
    camera_context,  # noqa: F811
    camera_tab: Tab,  # noqa: F811
    artifacts,
):
    page = camera_tab.page
    page.set_viewport_size({"width": 390, "height": 844})
    cdp = camera_context.new_cdp_session(page)
    set_level(cdp, 3.0)
    subject = open_capture(page, server, "Clip Recorder")
    start_camera(page, camera_context)
    lunge = page.locator("#clip-record-lunge")
    squat = page.locator("#clip-record-squat")
    expect(lunge).to_have_text("Record knee-to-wall lunge")
    expect(lunge).to_be_disabled()  # the level gate
    expect(squat).to_be_disabled()
    set_level(cdp, 0.3)
    expect(lunge).to_be_enabled()
    expect(squat).to_be_enabled()

    uploads: list[bytes] = []
    page.on(
        "request",
        lambda r: (
            uploads.append(r.post_data_buffer or b"")
            if r.method == "POST" and r.url.endswith(f"/subjects/{subject}/movements")
            else None
        ),
    )
    page.locator("#capture-delay").select_option("3")
    lunge.click()
    guide = page.locator(".clip-guide[data-test=lunge]")
    expect(guide).to_be_attached()
    expect(page.locator(".capture-countdown")).to_be_visible()
    expect(page.locator("#clip-cancel")).to_be_visible()
    expect(page.locator("#capture-shutter")).to_be_disabled()  # no photos while a clip is on
    assert page.locator(".capture-guide").evaluate("(el) => getComputedStyle(el).display") == "none"
    screenshot(page, artifacts / "26-capture-clip-guide.png")
    stop = page.locator("#clip-stop")
    expect(stop).to_be_visible(timeout=10_000)
    expect(page.locator("#clip-status")).to_contain_text("Recording…")
    set_level(cdp, -0.4)  # the phone moves a little while filming
    page.wait_for_timeout(2500)
    stop.click()
    expect(guide).not_to_be_attached()

    status = page.locator("#clip-status")
    expect(status).to_have_text(re.compile(r"^(Done\.|The clip could not be used\.)$"), timeout=180_000)
    assert len(uploads) == 1
    body = uploads[0]
    assert _field(body, "test") == "lunge"
    assert _field(body, "camera_roll_source") == "device"
    roll = float(_field(body, "camera_roll_deg"))
    assert -0.41 <= roll <= 0.31
    assert _field(body, "taken_at")
    filename = re.search(rb'name="clip"; filename="([^"]+)"', body).group(1).decode()
    assert filename in {"capture-lunge.webm", "capture-lunge.mp4"}
    clip_start = body.index(b"\r\n\r\n", body.index(b'name="clip"')) + 4
    magic = body[clip_start : clip_start + 12]
    assert magic.startswith(EBML_MAGIC) or MP4_BOX in magic, magic
    # The job ended as an uploaded clip's does: a movement, or the library's code for a clip it cannot use
    # (the fake camera loops one still photo: no movement in it).
    result = page.locator("#clip-result")
    if status.inner_text() == "Done.":
        expect(result.locator(".clip-summary")).to_be_visible()
        movements = server.api("GET", f"/subjects/{subject}/movements").json()["items"]
        assert len(movements) == 1 and movements[0]["test"] == "lunge"
        assert movements[0]["analysis"]["camera_level"]["source"] == "device"
    else:
        expect(result.locator("[role=alert], .alert").first).to_be_visible()
        assert server.api("GET", f"/subjects/{subject}/movements").json()["total"] == 0
    screenshot(page, artifacts / "27-capture-clip-result.png", "#clip-recorder")
    expect(lunge).to_be_enabled()
    assert camera_tab.errors == [] and camera_context.outside_requests == []


def test_a_clip_countdown_can_be_cancelled_and_nothing_is_sent(
    server: Server,
    camera_context,  # noqa: F811
    camera_tab: Tab,  # noqa: F811
):
    page = camera_tab.page
    cdp = camera_context.new_cdp_session(page)
    set_level(cdp, 0.0)
    subject = open_capture(page, server, "Clip Cancel")
    start_camera(page, camera_context)
    page.locator("#capture-delay").select_option("10")
    page.locator("#clip-record-squat").click()
    expect(page.locator(".clip-guide[data-test=squat]")).to_be_attached()
    page.locator("#clip-cancel").click()
    expect(page.locator("#clip-status")).to_have_text("Stopped: no clip was recorded.")
    expect(page.locator(".clip-guide")).to_have_count(0)
    expect(page.locator("#clip-record-squat")).to_be_enabled()
    assert server.api("GET", f"/subjects/{subject}/movements").json()["total"] == 0
    assert camera_tab.errors == []
