"""Fixtures of the page tests: a real `posture serve` on 127.0.0.1 (temp data dir, SQLite, the real
pose model), an API key made by `posture users create`, and Debian's headless Chromium driven by
Playwright (the system browser: `playwright install` is never used).

Chromium is installed by `scripts/test-deps.sh` (run by `make test`). Without it the tests fail with
that hint; set `POSTURE_TEST_PAGE=0` to skip them explicitly.

Screenshots land in `test-artifacts/page/` (gitignored).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from posture.movement.result import MovementAnalysis

from ..synthetic_clip import Movement

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_images"
ARTIFACTS = ROOT / "test-artifacts" / "page"
CHROMIUM = Path(os.environ.get("POSTURE_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KEY_STORAGE = "posture-profile.api-key"  # app/static/js/api.js
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
START_TIMEOUT_S = 180


def _posture_command() -> list[str]:
    script = Path(sys.executable).with_name("posture")
    if script.exists():
        return [str(script)]
    found = shutil.which("posture")
    return [found] if found else [sys.executable, "-m", "app.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    base: str
    key: str
    data_dir: Path
    log: Path
    client: httpx.Client = field(repr=False)

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = self.client.request(method, f"/api/v1{path}", **kwargs)
        response.raise_for_status()
        return response

    def subject(self, name: str) -> str:
        return self.api("POST", "/subjects", json={"name": name}).json()["id"]

    def upload(self, subject_id: str, photo: str, taken_at: str) -> dict:
        files = {"photo": (photo, (SAMPLES / photo).read_bytes(), "image/jpeg")}
        return self.api(
            "POST", f"/subjects/{subject_id}/analyses", files=files, data={"taken_at": taken_at}
        ).json()


@pytest.fixture(scope="session", autouse=True)
def _browser_available() -> None:
    """Checked before anything starts (autouse fixtures come first)."""
    if os.environ.get("POSTURE_TEST_PAGE", "1") == "0":
        pytest.skip("page tests turned off (POSTURE_TEST_PAGE=0)")
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `bash scripts/test-deps.sh` (installs Debian's chromium), "
            "or set POSTURE_TEST_PAGE=0 to skip the page tests."
        )


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`posture serve` in a subprocess, ready (health `ok`: the model is loaded)."""
    data_dir = tmp_path_factory.mktemp("page-data")
    env = {**os.environ, "GLOG_minloglevel": "2", "POSTURE_DATABASE_URL": ""}
    created = subprocess.run(
        [*_posture_command(), "users", "create", "page-tester", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    port = _free_port()
    log = data_dir / "server.log"
    with log.open("w") as out:
        command = [*_posture_command(), "serve", "--port", str(port), "--data-dir", str(data_dir)]
        process = subprocess.Popen(
            [*command, "--workers", "1"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"posture serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).json().get("status") == "ok":
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"posture serve not ready after {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
            yield Server(base=base, key=key, data_dir=data_dir, log=log, client=client)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def playwright_driver():
    """One Playwright driver for the session: its sync API allows only one at a time, and the page
    tests open more than one browser (the camera tests need their own switches)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser_context(server: Server, playwright_driver):
    """One headless Chromium (a fresh profile); every test opens its own tabs, and sessionStorage,
    where the page keeps the key, is per tab. Requests to any other origin are blocked and recorded:
    the page must work offline."""
    profile = tempfile.mkdtemp(prefix="posture-page-chromium-")
    try:
        context = launch_browser(playwright_driver, server, profile)
        yield context
        context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def launch_browser(playwright, server: Server, profile: str, extra_args: Sequence[str] = ()):
    """Headless Chromium on a fresh profile with the page's CSP and every other origin blocked (their
    requests recorded in `outside_requests`); `extra_args` add Chromium switches (a fake camera)."""
    context = playwright.chromium.launch_persistent_context(
        profile,
        executable_path=str(CHROMIUM),
        headless=True,
        args=[*CHROMIUM_ARGS, *extra_args],
        viewport={"width": 1280, "height": 900},
        locale="en-GB",
        timezone_id="UTC",
    )
    context.set_default_timeout(20_000)
    context.outside_requests = []  # type: ignore[attr-defined]

    def only_local(route, request):
        if request.url.split("#")[0] == f"{server.base}/":
            # The page must run under a strict Content-Security-Policy (no inline script or
            # style, nothing from elsewhere): any violation shows as a console error.
            response = route.fetch()
            route.fulfill(response=response, headers={**response.headers, "content-security-policy": CSP})
        elif request.url.startswith(server.base):
            route.continue_()
        else:
            context.outside_requests.append(request.url)  # type: ignore[attr-defined]
            route.abort()

    context.route("**/*", only_local)
    return context


@dataclass
class Tab:
    """A browser tab plus what went wrong in it (uncaught errors, console errors)."""

    page: object
    errors: list[str]


@pytest.fixture
def tab(browser_context) -> Iterator[Tab]:
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))

    def on_console(message) -> None:
        # A rejected upload or a 401 shows in the console as a failed resource load: that is expected.
        if message.type == "error" and "Failed to load resource" not in message.text:
            errors.append(f"console: {message.text}")

    page.on("console", on_console)
    yield Tab(page=page, errors=errors)
    page.close()


def sign_in(page, server: Server, path: str = "/") -> None:
    """Sign in through the form, then go to `path` (a hash route such as `/#/subjects/ID`)."""
    page.goto(server.base + "/")
    page.get_by_label("API key").fill(server.key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", level=1, name="Subjects").wait_for()
    if path != "/":
        page.goto(server.base + path)


def sign_in_fast(page, server: Server, path: str) -> None:
    """Put the key into this tab's sessionStorage (as the form does) and open `path`."""
    page.goto(server.base + "/")
    page.evaluate("([k, v]) => sessionStorage.setItem(k, v)", [KEY_STORAGE, server.key])
    page.goto(server.base + path)
    page.reload()  # a change of the hash alone would not reload the page


# A synthetic knee-to-wall lunge: no licensed lunge clip exists (docs/accuracy.md), and a walk is refused
# as not the test, so the pages that show an accepted movement store this one.
KNEE_TO_WALL_REPS = 3
KNEE_TO_WALL_SHIN_DEG = 40.0


def store_knee_to_wall(
    server: Server, subject: str, clip_path: Path, taken_at: datetime, movement: Movement | None = None
) -> MovementAnalysis:
    """The library's analysis of a synthetic knee-to-wall lunge (tests/synthetic_clip.py: a fake pose
    model on real decoded frames), stored in the server's history as `posture batch --store` stores one;
    returned."""
    from app.core.db import Database
    from app.core.settings import Settings
    from app.storage.files import open_store
    from app.storage.movements import add_movement
    from posture import ClipOptions, analyze_clip

    from ..synthetic_clip import FakeVideoModel, write_clip

    if movement is None:
        movement = Movement(
            lunge=True,
            shin_peak_deg=KNEE_TO_WALL_SHIN_DEG,
            thigh_peak_deg=30.0,
            trunk_peak_deg=5.0,
            reps=KNEE_TO_WALL_REPS,
        )
    path = write_clip(clip_path, movement)
    options = ClipOptions(test="lunge", overlay=True, level="off")
    result = analyze_clip(path, options, model=FakeVideoModel(movement))
    assert result.ok, result.error
    settings = Settings(data_dir=server.data_dir)
    database = Database(settings.sqlalchemy_url)
    try:
        with database.session() as session:
            stored = add_movement(
                session,
                open_store(settings.storage_location),
                uuid.UUID(subject),
                result.to_dict(),
                clip=None,
                deepest_png=result.deepest_png,
                source=clip_path.name,
                taken_at=taken_at,
            )
            assert stored is not None
    finally:
        database.dispose()
    return result
