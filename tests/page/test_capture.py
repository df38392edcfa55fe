"""The capture view ("Take photos") in a real headless Chromium against a real server and pose model.

Chromium's fake camera plays a real side photo (a `.y4m` made here from a committed sample frame), and
the phone's attitude is set through the DevTools protocol (`DeviceOrientation.setDeviceOrientationOverride`)
from a physical pose: the phone upright, pitched, turned by the screen's angle and rolled about its lens.
The Euler angles are built from that pose with rotation matrices here, independently of the page's
formula (app/static/js/level.js), so the tests check the page's maths, not a copy of it.

Screenshots are written to test-artifacts/page/.
"""

from __future__ import annotations

import base64
import json
import math
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from playwright.sync_api import expect

from tests.conftest import node_executable

from .conftest import ROOT, SAMPLES, Server, Tab, launch_browser, sign_in_fast
from .test_page import CONTRAST_FAILURES, UNLABELLED_CONTROLS

# The portrait crop of the real side photo walk_side_f0128.jpg (one person, head to feet), scaled 2×
# to 680 × 1048: what a phone held upright frames.
FRAME = "walk_side_crop_f0128.jpg"
LEVEL_JS = ROOT / "app" / "static" / "js" / "level.js"
TOLERANCE_DEG = 1.0  # rules.toml [capture] level_tolerance_deg (checked against the API below)
NO_HORIZONTAL_SCROLL = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


# --- the phone's attitude -------------------------------------------------------------------------


def _rx(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


# The screen's axes (x right, y up, z towards the viewer) of a phone held upright in front of the viewer,
# lens level and pointing north: x east, y up, z south (Earth frame: x east, y north, z up).
_UPRIGHT = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]])


def device_orientation(
    roll_deg: float, pitch_deg: float = -4.0, angle_deg: int = 0, heading_deg: float = 25.0
) -> dict[str, float]:
    """The DeviceOrientationEvent angles of a phone turned by `angle_deg` counterclockwise from its
    natural orientation (the screen's angle), its lens pitched by `pitch_deg` (+ up) and rolled by
    `roll_deg` (+ counterclockwise as seen by the viewer, the API's sign) about the lens axis.

    Device to Earth: R = Rz(heading) · UPRIGHT · Rx(pitch) · Rz(roll) · Rz(angle) (screen frame = device
    frame turned by the angle). The event's angles are the spec's intrinsic Z-X'-Y'' decomposition
    R = Rz(alpha) · Rx(beta) · Ry(gamma), with beta in [-180, 180) and gamma in [-90, 90)."""
    r = _rz(heading_deg) @ _UPRIGHT @ _rx(pitch_deg) @ _rz(roll_deg) @ _rz(angle_deg)
    beta = math.degrees(math.asin(max(-1.0, min(1.0, r[2, 1]))))
    gamma = math.degrees(math.atan2(-r[2, 0], r[2, 2]))
    alpha = math.degrees(math.atan2(-r[0, 1], r[1, 1]))
    if math.hypot(r[2, 0], r[2, 2]) < 1e-9:  # upright with a level lens: only alpha + gamma is defined
        gamma, alpha = 0.0, math.degrees(math.atan2(r[1, 0], r[0, 0]))
    elif not -90 <= gamma < 90:  # the other solution of the same rotation
        beta, gamma, alpha = 180 - beta, gamma - math.copysign(180, gamma), alpha + 180
        beta = (beta + 180) % 360 - 180
    np.testing.assert_allclose(_rz(alpha) @ _rx(beta) @ _ry(gamma), r, atol=1e-9)
    return {"alpha": alpha % 360, "beta": beta, "gamma": gamma}


def test_the_pages_roll_is_the_lens_roll_of_physical_poses():
    """level.js (run by node) recovers the roll and pitch of phones held upright, pitched, in portrait
    and in both landscapes and upside down; a phone lying flat has no roll."""
    poses = [
        (roll, pitch, angle)
        for roll in (-30.0, -3.0, -0.3, 0.0, 0.3, 3.0, 12.5)
        for pitch in (-25.0, -4.0, 0.0, 15.0)
        for angle in (0, 90, 180, 270)
    ]
    events = [device_orientation(roll, pitch, angle) for roll, pitch, angle in poses]
    flat = {"alpha": 0.0, "beta": 2.0, "gamma": -1.0}  # on a table, screen up
    script = (
        "const m = await import(process.argv[1]);"
        "const cases = JSON.parse(process.argv[2]);"
        "const out = cases.map(([e, a]) => m.rollFromOrientation(e.beta, e.gamma, a));"
        "process.stdout.write(JSON.stringify(out));"
    )
    cases = [[e, angle] for e, (_, _, angle) in zip(events, poses, strict=True)] + [[flat, 0]]
    done = subprocess.run(
        [node_executable(), "--input-type=module", "-e", script, LEVEL_JS.as_uri(), json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    got = json.loads(done.stdout)
    for (roll, pitch, angle), reading in zip(poses, got[:-1], strict=True):
        assert reading is not None, (roll, pitch, angle)
        assert reading["roll"] == pytest.approx(roll, abs=1e-6), (roll, pitch, angle)
        assert reading["pitch"] == pytest.approx(pitch, abs=1e-6), (roll, pitch, angle)
    assert got[-1] is None


# --- the browser with a fake camera -----------------------------------------------------------------


def write_y4m(photo: Path, target: Path, scale: int = 2) -> tuple[int, int]:
    """A two-frame 4:2:0 YUV4MPEG2 clip of `photo`, for Chromium's fake camera (it loops the file)."""
    image = cv2.imread(str(photo))
    assert image is not None, photo
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    height, width = image.shape[:2]
    assert width % 2 == 0 and height % 2 == 0
    planes = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420).tobytes()
    with target.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(2):
            out.write(b"FRAME\n" + planes)
    return width, height


@pytest.fixture(scope="module")
def camera_context(server: Server, playwright_driver, tmp_path_factory: pytest.TempPathFactory):
    clip = tmp_path_factory.mktemp("fake-camera") / "side.y4m"
    size = write_y4m(SAMPLES / FRAME, clip)
    profile = tempfile.mkdtemp(prefix="posture-capture-chromium-")
    switches = [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",  # the camera prompt answered yes
        f"--use-file-for-fake-video-capture={clip}",
    ]
    try:
        context = launch_browser(playwright_driver, server, profile, switches)
        context.frame_size = size  # type: ignore[attr-defined]
        yield context
        context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def camera_tab(camera_context) -> Iterator[Tab]:
    page = camera_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on(
        "console",
        lambda m: (
            errors.append(f"console: {m.text}")
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    yield Tab(page=page, errors=errors)
    page.close()


# Records the capture view's progress line as it changes.
WATCH_PROGRESS = """() => {
  window.__captureProgress = [];
  const line = document.getElementById('capture-progress');
  new MutationObserver(() => window.__captureProgress.push(line.textContent))
    .observe(line, {childList: true, characterData: true, subtree: true});
}"""


def set_level_pitched(cdp, roll_deg: float, pitch_deg: float) -> None:
    cdp.send(
        "DeviceOrientation.setDeviceOrientationOverride",
        device_orientation(roll_deg, pitch_deg=pitch_deg),
    )


def set_level(cdp, roll_deg: float, angle_deg: int = 0) -> None:
    cdp.send(
        "DeviceOrientation.setDeviceOrientationOverride", device_orientation(roll_deg, angle_deg=angle_deg)
    )


def open_capture(page, server: Server, name: str) -> str:
    subject = server.subject(name)
    sign_in_fast(page, server, f"/#/subjects/{subject}")
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
    page.get_by_role("button", name="Take photos").click()
    expect(page.locator("#capture-panel")).to_be_visible()
    expect(page.locator("#upload-part")).to_be_hidden()
    return subject


def start_camera(page, context) -> None:
    page.get_by_role("button", name="Start the camera").click()
    page.wait_for_function(
        "([w, h]) => { const v = document.querySelector('.capture-video');"
        " return v && v.videoWidth === w && v.videoHeight === h && !v.paused; }",
        arg=list(context.frame_size),
    )


def screenshot(page, path: Path, target: str = ".capture-stage") -> None:
    """What the screen shows with `target` at its top, through the DevTools protocol: Playwright's own
    screenshot re-applies its viewport, which would reset an emulated screen orientation."""
    page.evaluate("() => document.getElementById('toast').replaceChildren()")
    # As the view does when the camera starts: the picture at the top, the shutter under it.
    page.wait_for_timeout(800)  # the view's own smooth scroll ends
    page.locator(target).evaluate("(el) => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(200)  # the bubble's transition
    shot = page.context.new_cdp_session(page).send("Page.captureScreenshot", {"format": "png"})
    path.write_bytes(base64.b64decode(shot["data"]))


def test_capture_settings_come_from_the_rules(server: Server):
    from posture.rules import load_rules, rules_version

    body = server.api("GET", "/capture").json()
    assert body == {
        "level_tolerance_deg": load_rules()["capture"]["level_tolerance_deg"],
        "rules_version": rules_version(),
    }
    assert body["level_tolerance_deg"] == TOLERANCE_DEG


def test_the_shutter_follows_the_level_and_three_shots_make_one_visit(
    server: Server, camera_context, camera_tab: Tab, artifacts
):
    """On a phone-sized screen: the shutter is disabled at a 3° roll (saying which way to turn) and
    enabled at 0.3°; three shots on the timer are one visit of three analyses, each stored with the roll
    read at its own instant as `camera_level.source = "device"`; the visit's median is shown."""
    page = camera_tab.page
    page.set_viewport_size({"width": 390, "height": 844})
    cdp = camera_context.new_cdp_session(page)
    set_level(cdp, 3.0)
    subject = open_capture(page, server, "Cam Portrait")
    start_camera(page, camera_context)
    shutter = page.locator("#capture-shutter")
    why = page.locator("#capture-why")
    number = page.locator("#level-number")

    expect(number).to_have_text("+3.0°")
    expect(shutter).to_be_disabled()
    expect(why).to_contain_text("turn it clockwise by 3.0°")
    expect(why).to_contain_text("within ±1.0°")
    screenshot(page, artifacts / "20-capture-phone-off-level.png")
    # As the view scrolled it on start: the reason and the shutter on the screen with the picture.
    page.locator(".capture-stage").evaluate("(el) => el.scrollIntoView({block: 'start'})")
    for target in (why, shutter):
        box = target.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 844, box
    shutter_y = shutter.bounding_box()["y"]
    # The lens pitched up: the hint shows on the picture and the shutter does not move.
    set_level_pitched(cdp, 3.0, 20.0)
    expect(page.locator(".capture-pitch")).to_contain_text("The lens points up by 20°")
    assert shutter.bounding_box()["y"] == pytest.approx(shutter_y, abs=0.5)
    screenshot(page, artifacts / "26-capture-phone-pitched.png")
    set_level(cdp, -3.0)
    expect(number).to_have_text("−3.0°")
    expect(why).to_contain_text("turn it counterclockwise by 3.0°")
    expect(shutter).to_be_disabled()
    set_level(cdp, 0.3)
    expect(number).to_have_text("+0.3°")
    expect(shutter).to_be_enabled()
    expect(page.locator("#capture-level")).to_have_class("level is-level")
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    assert page.evaluate(CONTRAST_FAILURES) == [] and page.evaluate(UNLABELLED_CONTROLS) == []
    # The picture fills the card's width and the guide lies exactly on it.
    video_box = page.locator(".capture-video").bounding_box()
    guide_box = page.locator(".capture-guide").bounding_box()
    assert video_box == pytest.approx(guide_box, abs=0.5)
    assert video_box["x"] >= 0 and video_box["x"] + video_box["width"] <= 390 and video_box["width"] >= 340
    assert page.locator(".capture-guide").get_attribute("viewBox") == "0 0 {} {}".format(
        *camera_context.frame_size
    )
    # She faces left: so does the outline once the facing is chosen.
    figure = page.locator(".capture-guide > g")
    assert re.search(r"\) scale\([0-9.]+ [0-9.]+\)$", figure.get_attribute("transform"))
    page.locator("#capture-facing").select_option("left")
    assert re.search(r"\) scale\(-[0-9.]+ [0-9.]+\)$", figure.get_attribute("transform"))
    screenshot(page, artifacts / "21-capture-phone-level.png")

    # Three shots: the roll changes between them (within the tolerance); each carries its own.
    page.locator("#capture-delay").select_option("3")
    page.locator("#capture-between").select_option("5")
    page.evaluate(WATCH_PROGRESS)
    shutter.click()
    expect(page.locator("#capture-cancel")).to_be_visible()
    expect(page.locator(".capture-countdown")).to_be_visible()
    screenshot(page, artifacts / "25-capture-phone-countdown.png")
    taken = page.locator("#capture-shots li:not([data-status=waiting])")
    expect(taken).to_have_count(1, timeout=15_000)
    set_level(cdp, -0.5)
    expect(taken).to_have_count(2, timeout=15_000)
    # Off level when the third countdown ends: the shot waits for the level, then is taken.
    set_level(cdp, 3.0)
    expect(page.locator("#capture-progress")).to_have_text(
        "Waiting for the phone to be level again: turn it clockwise by 3.0°.", timeout=15_000
    )
    expect(why).to_have_text("Waiting for the phone to be level again: turn it clockwise by 3.0°.")
    page.wait_for_timeout(1000)
    expect(taken).to_have_count(2)
    set_level(cdp, 0.8)
    summary = page.locator(".visit-summary")
    expect(summary).to_be_visible(timeout=120_000)
    expect(page.locator("#capture-shots li[data-status=done]")).to_have_count(3)

    visits = server.api("GET", f"/subjects/{subject}/visits").json()["items"]
    assert len(visits) == 1
    visit = visits[0]
    # The label is the time of the first shot (not of the page load).
    assert visit["n"] == 3 and re.fullmatch(r"Camera \d{1,2} \w{3} \d{4} \d{2}:\d{2}", visit["label"])
    first_shot = datetime.fromisoformat(visit["taken_at"].replace("Z", "+00:00"))
    labelled = datetime.strptime(visit["label"][7:], "%d %b %Y %H:%M").replace(tzinfo=UTC)
    assert timedelta(0) <= first_shot - labelled < timedelta(minutes=2), (first_shot, labelled)
    # "Shot 1 of 3 taken: step off…" stays on the line through the next countdown.
    progress = page.evaluate("window.__captureProgress")
    assert any("Shot 1 of 3 taken: step off" in p and "Shot 2 of 3 in" in p for p in progress), progress
    analyses = [server.api("GET", f"/analyses/{a}").json() for a in visit["analysis_ids"]]
    assert [a["source"] for a in analyses] == ["capture-1.jpg", "capture-2.jpg", "capture-3.jpg"]
    for analysis, roll in zip(analyses, (0.3, -0.5, 0.8), strict=True):
        level = analysis["camera_level"]
        assert level["source"] == "device" and level["confidence"] == 1.0, level
        assert level["roll_deg"] == pytest.approx(roll, abs=0.01), level
        assert analysis["image"]["width"] == camera_context.frame_size[0]
    expect(summary).to_contain_text("Median of 3 shots")
    expect(summary.locator("[data-test=visit-overall]")).to_have_text(
        f"{round(visit['scores']['overall'])} / 100"
    )
    expect(summary).to_contain_text("+0.3°, −0.5°, +0.8°")
    # The page below shows the visit: the history has its three shots.
    expect(page.locator(".visit .tl-item")).to_have_count(3)
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    screenshot(page, artifacts / "22-capture-phone-visit.png", ".visit-summary")
    # On a phone the analysis is another tab: the link to the central shot (already the page's photo,
    # so the hash does not change) opens it.
    page.get_by_role("link", name="Open the shot nearest the median").click()
    expect(page.locator("#tab-analysis")).to_have_attribute("aria-current", "true")
    expect(page.locator("#analysis-title")).to_be_in_viewport()
    assert camera_tab.errors == [] and camera_context.outside_requests == []


def test_landscape_screen_angle_is_taken_into_account(
    server: Server, camera_context, camera_tab: Tab, artifacts
):
    """The phone turned to landscape (screen angle 90°): the same physical roll reads the same."""
    page = camera_tab.page
    page.set_viewport_size({"width": 1280, "height": 800})
    cdp = camera_context.new_cdp_session(page)
    cdp.send(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": 1280,
            "height": 800,
            "deviceScaleFactor": 1,
            "mobile": False,
            "screenOrientation": {"type": "landscapePrimary", "angle": 90},
        },
    )
    set_level(cdp, 3.0, angle_deg=90)
    open_capture(page, server, "Cam Landscape")
    assert page.evaluate("() => screen.orientation.angle") == 90
    start_camera(page, camera_context)
    expect(page.locator("#level-number")).to_have_text("+3.0°")
    expect(page.locator("#capture-shutter")).to_be_disabled()
    set_level(cdp, -0.3, angle_deg=90)
    expect(page.locator("#level-number")).to_have_text("−0.3°")
    expect(page.locator("#capture-shutter")).to_be_enabled()
    # Read as if the screen were in portrait, this pose would be a roll of about 90°: far off.
    cdp.send(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": 1280,
            "height": 800,
            "deviceScaleFactor": 1,
            "mobile": False,
            "screenOrientation": {"type": "portraitPrimary", "angle": 0},
        },
    )
    expect(page.locator("#level-number")).to_have_text("+89.7°")
    expect(page.locator("#capture-shutter")).to_be_disabled()
    cdp.send(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": 1280,
            "height": 800,
            "deviceScaleFactor": 1,
            "mobile": False,
            "screenOrientation": {"type": "landscapePrimary", "angle": 90},
        },
    )
    expect(page.locator("#level-number")).to_have_text("−0.3°")
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    screenshot(page, artifacts / "23-capture-desktop-level.png")
    assert camera_tab.errors == [] and camera_context.outside_requests == []


def test_without_orientation_events_the_level_is_left_to_the_photo(
    server: Server, camera_context, camera_tab: Tab, artifacts
):
    """No sensor (no orientation values): the view says the level will be read from the photo, the
    shutter works, and the photo goes without a roll."""
    page = camera_tab.page
    page.set_viewport_size({"width": 390, "height": 844})
    subject = open_capture(page, server, "Cam No Sensor")
    start_camera(page, camera_context)
    why = page.locator("#capture-why")
    expect(why).to_have_attribute("data-state", "fallback", timeout=5_000)
    expect(why).to_contain_text("the level will be read from the photo instead")
    expect(page.locator("#level-number")).to_have_text("from the photo")
    shutter = page.locator("#capture-shutter")
    expect(shutter).to_be_enabled()
    screenshot(page, artifacts / "24-capture-phone-no-sensor.png")

    bodies: list[bytes] = []
    page.on("request", lambda r: bodies.append(r.post_data_buffer or b"") if r.method == "POST" else None)
    page.locator("#capture-delay").select_option("3")
    page.locator("#capture-between").select_option("15")
    shutter.click()
    expect(page.locator("#capture-shots li:not([data-status=waiting])")).to_have_count(1, timeout=15_000)
    page.locator("#capture-cancel").click()
    expect(page.locator("#capture-progress")).to_contain_text("1 of 3 photos stored", timeout=30_000)
    assert len(bodies) == 1
    assert b'name="camera_roll_deg"' not in bodies[0] and b'name="camera_roll_source"' not in bodies[0]
    assert b'name="visit"' in bodies[0]
    stored = server.api("GET", f"/subjects/{subject}/analyses").json()["items"]
    assert len(stored) == 1
    assert stored[0]["camera_level"]["source"] in ("background", "floor", "none")
    # The missing shots can be taken into the same visit.
    expect(shutter).to_contain_text("Take the missing 2 photos")
    # The advice on the shot's level is not the upload form's ("enter its roll when you upload").
    expect(page.locator("#analysis-title")).to_be_attached()
    assert "when you upload" not in page.locator("#analysis").inner_text()
    if "camera_level_unknown" in stored[0]["warnings"]:
        expect(page.locator("#analysis .warnings")).to_contain_text("the device gave no level reading")
    assert camera_tab.errors == [] and camera_context.outside_requests == []


def _one_shot_run(page) -> None:
    """Start the camera, take one shot on a 3 s timer, then cancel: one photo stored."""
    page.locator("#capture-delay").select_option("3")
    page.locator("#capture-between").select_option("15")
    page.locator("#capture-shutter").click()
    expect(page.locator("#capture-cancel")).to_be_visible()  # this run's, not the last one's, lines below
    expect(page.locator("#capture-shots li:not([data-status=waiting])")).to_have_count(1, timeout=15_000)
    page.locator("#capture-cancel").click()
    expect(page.locator("#capture-progress")).to_contain_text("1 of 3 photos stored", timeout=60_000)


def test_two_runs_in_one_minute_are_two_visits_unless_one_is_picked(
    server: Server, camera_context, camera_tab: Tab, artifacts
):
    """Two page loads whose first shots fall in the same minute (the page's clock fixed at one instant):
    two visits, each labelled by its first shot's time, never merged; a third run that picks the first
    visit joins it."""
    page = camera_tab.page
    page.set_viewport_size({"width": 390, "height": 844})
    cdp = camera_context.new_cdp_session(page)
    set_level(cdp, 0.2)
    page.clock.set_fixed_time("2026-12-06T10:15:00Z")
    subject = open_capture(page, server, "Cam Two Runs")
    start_camera(page, camera_context)
    _one_shot_run(page)
    page.reload()  # a second page load, the same minute
    expect(page.get_by_role("heading", level=1, name="Cam Two Runs")).to_be_visible()
    page.locator("#tab-add").click()
    page.get_by_role("button", name="Take photos").click()
    start_camera(page, camera_context)
    _one_shot_run(page)
    visits = server.api("GET", f"/subjects/{subject}/visits").json()["items"]
    assert len(visits) == 2, visits
    labels = sorted(v["label"] for v in visits)
    assert labels == ["Camera 6 Dec 2026 10:15", "Camera 6 Dec 2026 10:15:00"], labels
    assert [v["n"] for v in visits] == [1, 1]

    # A run that picks the first visit joins it.
    first = next(v for v in visits if v["label"] == "Camera 6 Dec 2026 10:15")
    pick = page.locator("#capture-visit-pick")
    expect(pick.locator(f"option[value='{first['id']}']")).to_have_count(1)
    pick.select_option(first["id"])
    expect(page.locator("#capture-visit-hint")).to_contain_text("join this visit")
    expect(page.locator("#capture-visit")).to_be_hidden()
    screenshot(page, artifacts / "27-capture-phone-pick-visit.png", ".capture-fields")
    _one_shot_run(page)
    visits = server.api("GET", f"/subjects/{subject}/visits").json()["items"]
    assert sorted(v["n"] for v in visits) == [1, 2]
    assert next(v for v in visits if v["id"] == first["id"])["n"] == 2
    # A label typed for a new visit that a visit already has is refused before any shot.
    page.locator("#capture-visit").fill("Camera 6 Dec 2026 10:15")
    page.locator("#capture-shutter").click()
    expect(page.locator("#capture-result")).to_contain_text(
        'A visit is already labelled "Camera 6 Dec 2026 10:15"'
    )
    expect(page.locator("#capture-cancel")).to_be_hidden()
    assert camera_tab.errors == [] and camera_context.outside_requests == []
