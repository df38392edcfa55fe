"""Bounded resources: workers that end with their server, a broken pool replaced without leftovers,
bounded time for a request's headers and body, bounded connections, the key checked before an upload's
body is read, one `photo` per upload, and photos whose decoding stays bounded in memory.

The points about processes and connections run against real `posture serve` processes (uvicorn, the
real pose model) over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.core.db import Database
from app.core.settings import Settings
from app.main import create_app
from app.services.inference import InferencePool
from app.storage import repository
from posture.errors import ErrorCode, PostureError
from posture.intake import IntakeLimits, load_photo, to_rgb
from posture.photo_copy import STORED_LONG_SIDE_PX, strip_metadata
from posture.worker import Job

from .conftest import (
    Api,
    FakeAnalyzer,
    ServerProcess,
    make_jpeg,
    new_account,
    running_api,
    sample,
    serve_process,
)

# --- real server processes ------------------------------------------------------------------------


def _key(server: ServerProcess) -> str:
    """A new account's key, in the server's own SQLite database."""
    db = Database(f"sqlite:///{(server.data_dir / 'posture.db').resolve()}")
    try:
        return new_account(db)
    finally:
        db.dispose()


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process from /proc, None if it does not exist."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command, in parentheses, may hold spaces
    return fields[0], int(fields[1]), int(fields[19])


def _children(pid: int) -> dict[int, int]:
    """The live child processes of `pid`: pid → start time (to tell a reused pid apart)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            state, parent, started = stat
            if parent == pid and state != "Z":
                found[int(entry.name)] = started
    return found


def _running(pid: int, started: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z" and stat[2] == started


def _workers_of(pid: int) -> set[int]:
    """The live multiprocessing workers among the children of `pid`."""
    return {child for child in _children(pid) if "spawn_main" in _command(child)}


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads processes from /proc")
def test_workers_and_the_resource_tracker_end_when_the_server_is_killed(tmp_path):
    with serve_process([tmp_path / "data"], workers=2) as (server,):
        # Both photo workers, the clip worker (a pool of its own) and multiprocessing's resource tracker.
        deadline = time.monotonic() + 60
        while len(children := _children(server.process.pid)) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        commands = {pid: _command(pid) for pid in children}
        assert sum("spawn_main" in c for c in commands.values()) == 3, commands
        assert sum("resource_tracker" in c for c in commands.values()) == 1, commands

        server.process.kill()  # SIGKILL: no clean-up of any kind in the server
        server.process.wait()
        deadline = time.monotonic() + 10
        while any(_running(pid, started) for pid, started in children.items()):
            assert time.monotonic() < deadline, {
                pid: commands[pid] for pid, started in children.items() if _running(pid, started)
            }
            time.sleep(0.1)


def test_a_dead_worker_is_replaced_alone_without_leaving_its_process(tmp_path):
    """One worker killed (as the out-of-memory killer would): the next photo goes to a live worker, the
    dead one is replaced by a fresh one, and the other worker is left running (issue 23: one death, not
    the whole pool's)."""
    pool = InferencePool(2, kind="process")
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'posture.db'}")
    app = create_app(settings, analyzer=pool)
    before = _workers_of(os.getpid())  # other pools of this test session
    try:
        pool.start()
        # Its processes, from /proc: a fast worker may take both warm-ups, so `worker_pids` may not
        # know the other one yet.
        deadline = time.monotonic() + 120
        while (len(found := _workers_of(os.getpid()) - before) < 2 or pool.state != "ok") and (
            time.monotonic() < deadline
        ):
            time.sleep(0.1)
        old = {pid: _stat(pid)[2] for pid in found}  # type: ignore[index]
        assert len(old) == 2 and pool.state == "ok", (old, pool.state)

        killed, other = min(old), max(old)
        os.kill(killed, signal.SIGKILL)
        time.sleep(0.5)  # the dead worker's executor sees its end
        outcome = asyncio.run(pool.run(Job(sample("walk_side_crop_f0128.jpg"))))
        assert outcome.analysis.ok
        with TestClient(app) as client:
            # The fresh worker loads; the other one was never stopped.
            deadline = time.monotonic() + 120
            while _running(killed, old[killed]) or len(_workers_of(os.getpid()) - before) < 2:
                assert time.monotonic() < deadline, (old, pool.worker_pids, pool.state)
                time.sleep(0.1)
            assert client.get("/api/v1/health").json() == {"status": "ok"}
            assert _running(other, old[other])
        outcome = asyncio.run(pool.run(Job(sample("walk_side_crop_f0128.jpg"))))
        assert outcome.analysis.ok
    finally:
        pool.close()


# --- bounded connections and request times, through a real server ------------------------------


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with serve_process(
        [tmp_path_factory.mktemp("bounded") / "data"],
        header_timeout_s="1.5",
        body_timeout_s="2",
        keep_alive_timeout_s="1",
        max_connections="6",
        max_header_bytes="4096",
    ) as (server,):
        yield server


def _connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _read_all(conn: socket.socket, limit_s: float = 10) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed it."""
    started, data = time.monotonic(), b""
    conn.settimeout(limit_s)
    while chunk := conn.recv(65536):
        data += chunk
    return data, time.monotonic() - started


def _response(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, body


def _read_response(conn: socket.socket, limit_s: float = 10) -> tuple[int, dict[str, str], bytes]:
    """One response (Content-Length framed) without waiting for the connection to close."""
    conn.settimeout(limit_s)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"closed before a response: {data!r}"
        data += chunk
    status, headers, body = _response(data)
    while len(body) < int(headers.get("content-length", 0)):
        body += conn.recv(65536)
    return status, headers, body


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(bounded):
    with _connect(bounded) as conn:
        data, closed_after = _read_all(conn)
    assert data == b"" and 1.0 < closed_after < 6


def test_headers_trickled_in_are_cut_off_at_the_header_timeout(bounded):
    with _connect(bounded) as conn:
        conn.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        with pytest.raises(OSError):  # the server closes while we are still sending
            for _ in range(40):
                conn.sendall(b"X-Slow: 1\r\n")
                time.sleep(0.25)
        assert 1.0 < time.monotonic() - started < 6


def test_a_body_that_does_not_arrive_in_time_answers_408(bounded):
    key = _key(bounded)
    with _connect(bounded) as conn:
        conn.sendall(
            b"POST /api/v1/analyze HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode() + b"\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"
            b'--b\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n\r\n' + b"\xff" * 1000
        )
        started = time.monotonic()
        data, _ = _read_all(conn)
    status, headers, body = _response(data)
    assert status == 408 and json.loads(body)["code"] == "request_timeout"
    assert headers["connection"] == "close" and 1.5 < time.monotonic() - started < 8


def test_the_key_is_checked_before_an_upload_body_is_read(bounded):
    """An anonymous 10 MB upload is answered after its headers: the server reads none of the body
    before the 401, and drops the unsent rest for a bounded time only."""
    with _connect(bounded) as conn:
        conn.sendall(
            b"POST /api/v1/analyze HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 10000000\r\n\r\n"
            b'--b\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n\r\n'
        )
        started = time.monotonic()
        status, headers, body = _read_response(conn, limit_s=5)
        assert time.monotonic() - started < 3  # not waiting for 10 MB that never come
        assert status == 401 and json.loads(body)["code"] == "missing_api_key"
        assert headers["x-content-type-options"] == "nosniff"
        # The rest of the body, trickled in, is read and dropped for the body timeout (2 s) only.
        answered = time.monotonic()
        with pytest.raises(OSError):
            for _ in range(40):
                conn.sendall(b"\xff" * 100)
                time.sleep(0.25)
        assert time.monotonic() - answered < 6


def test_headers_over_the_size_limit_are_refused(bounded):
    # Arriving at once: refused by the app, as JSON.
    with _connect(bounded) as conn:
        conn.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
        status, _, body = _read_response(conn)
    assert status == 431 and json.loads(body)["code"] == "headers_too_large"
    # Still arriving: h11 buffers no more than the limit of an unfinished request.
    with _connect(bounded) as conn:
        conn.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 6000)
        time.sleep(0.2)
        with contextlib.suppress(OSError):
            conn.sendall(b"a" * 2000)
        data, closed_after = _read_all(conn)
    assert (data == b"" or _response(data)[0] == 400) and closed_after < 1


def test_connections_beyond_the_limit_answer_503_busy(bounded):
    idle = [_connect(bounded) for _ in range(6)]
    try:
        time.sleep(0.2)  # accepted by the server
        with _connect(bounded) as conn:
            conn.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = _read_response(conn)
        assert status == 503 and json.loads(body)["code"] == "busy"
        assert headers["retry-after"] == "5" and headers["x-content-type-options"] == "nosniff"
    finally:
        for conn in idle:
            conn.close()
    deadline = time.monotonic() + 10
    while httpx.get(f"{bounded.url}/api/v1/health", timeout=5).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_an_idle_keep_alive_connection_is_closed(bounded):
    with _connect(bounded) as conn:
        conn.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, _ = _read_response(conn)
        assert status == 200
        data, closed_after = _read_all(conn)
    assert data == b"" and closed_after < 5


def test_a_revoked_key_is_refused_by_a_running_server_at_once(bounded):
    key = _key(bounded)
    auth = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{bounded.url}/api/v1/subjects", headers=auth).status_code == 200
    db = Database(f"sqlite:///{(bounded.data_dir / 'posture.db').resolve()}")
    try:
        with db.session() as session:
            assert repository.revoke_key(session, key) is not None
    finally:
        db.dispose()
    refused = httpx.get(f"{bounded.url}/api/v1/subjects", headers=auth)
    assert refused.status_code == 401 and refused.json()["code"] == "revoked_api_key"


# --- the upload form, in-process ------------------------------------------------------------------


def test_an_anonymous_upload_is_refused_before_its_body_is_read(api: Api, fake: FakeAnalyzer):
    """Through httpx's ASGI transport, which streams the body: only what arrived before the 401 is read."""
    sid = api.subject()
    sent = []

    async def body():
        yield b'--b\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n\r\n'
        for _ in range(100):  # 1.6 MB offered
            sent.append(1)
            yield b"\xff" * 16384
        yield b"\r\n--b--\r\n"

    async def post(headers: dict[str, str]) -> httpx.Response:
        transport = httpx.ASGITransport(app=api.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(
                f"/api/v1/subjects/{sid}/analyses",
                content=body(),
                headers={"Content-Type": "multipart/form-data; boundary=b", **headers},
            )

    for headers, code in (({}, "missing_api_key"), ({"Authorization": "Bearer pp_nope"}, "invalid_api_key")):
        sent.clear()
        response = asyncio.run(post(headers))
        assert response.status_code == 401 and response.json()["code"] == code
        assert len(sent) <= 1, len(sent)  # httpx sends a chunk ahead at most
    assert fake.calls == 0


def test_requests_beyond_the_limit_answer_503_busy_under_any_asgi_server(database, tmp_path, fake):
    """The app bounds the requests in it by `max_connections` itself, so that an ASGI server without
    `posture serve`'s connection limit (plain uvicorn) still sheds load: here httpx's ASGI transport,
    no HTTP server at all. Two uploads whose bodies hang hold the two places."""
    with running_api(database, tmp_path / "data", fake, max_connections=2) as api:
        sid = api.subject()

        async def scenario() -> tuple[httpx.Response, list[httpx.Response], httpx.Response]:
            release, inside = asyncio.Event(), []

            async def hanging_body():
                yield b'--b\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n\r\n'
                inside.append(1)  # the app asks for more: this upload is in it
                await release.wait()
                yield b"\r\n--b--\r\n"

            transport = httpx.ASGITransport(app=api.client.app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t", headers=api.auth
            ) as client:
                upload = f"/api/v1/subjects/{sid}/analyses"
                form = {"Content-Type": "multipart/form-data; boundary=b"}
                held = [
                    asyncio.create_task(client.post(upload, content=hanging_body(), headers=form))
                    for _ in "ab"
                ]
                for _ in range(500):
                    if len(inside) == 2:
                        break
                    await asyncio.sleep(0.01)
                refused = await client.get("/api/v1/subjects")
                release.set()
                return refused, await asyncio.gather(*held), await client.get("/api/v1/subjects")

        refused, uploads, after = asyncio.run(scenario())
    assert refused.status_code == 503 and refused.json()["code"] == "busy", refused.text
    assert refused.headers["retry-after"] == "5" and refused.headers["x-content-type-options"] == "nosniff"
    assert [u.json()["code"] for u in uploads] == ["unreadable_image"] * 2  # answered once their bodies came
    assert after.status_code == 200


@pytest.mark.parametrize("twice", ["photo", "mode"])
def test_a_field_sent_twice_answers_422(api: Api, fake: FakeAnalyzer, twice):
    sid = api.subject()
    files = [("photo", ("a.jpg", make_jpeg(1), "image/jpeg"))]
    data = {"mode": ["standing"]}
    if twice == "photo":
        files.append(("photo", ("b.jpg", make_jpeg(2), "image/jpeg")))
    else:
        data["mode"].append("lunge")
    for path in (f"/api/v1/subjects/{sid}/analyses", "/api/v1/analyze"):
        response = api.post(path, files=files, data=data)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "duplicate_field" and f"`{twice}`" in response.json()["message"]
    assert fake.calls == 0 and api.stored_files() == []


def test_form_fields_are_validated_as_before(api: Api, fake: FakeAnalyzer):
    sid = api.subject()
    photo = {"photo": ("p.jpg", make_jpeg(3), "image/jpeg")}
    bad = api.post(f"/api/v1/subjects/{sid}/analyses", files=photo, data={"camera_roll_deg": "60"})
    assert bad.status_code == 422 and "camera_roll_deg" in bad.json()["message"]
    as_text = api.post(
        f"/api/v1/subjects/{sid}/analyses",
        files={"note": ("n.txt", b"x", "text/plain")},
        data={"photo": "not a file", "mode": "lunge"},
    )
    assert as_text.status_code == 422 and "photo" in as_text.json()["message"]
    # Empty fields are absent fields (browsers send them for empty inputs).
    empty = {"taken_at": "", "facing": "", "camera_roll_deg": "", "mode": "lunge"}
    ok = api.post(f"/api/v1/subjects/{sid}/analyses", files=photo, data=empty)
    assert ok.status_code == 201, ok.text
    assert ok.json()["mode"] == "lunge" and fake.calls == 1


# --- photos whose decoding stays bounded ----------------------------------------------------------


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _smooth(width: int, height: int) -> Image.Image:
    """Red rising left to right, green top to bottom: any wrong rotation shows."""
    red = np.broadcast_to((np.arange(width) * 255 // width).astype(np.uint8), (height, width))
    green = np.broadcast_to((np.arange(height) * 255 // height).astype(np.uint8)[:, None], (height, width))
    return Image.fromarray(np.dstack([red, green, np.full((height, width), 90, np.uint8)]))


def test_the_stored_copy_is_bounded_and_upright(api: Api):
    """A photo larger than the stored size is kept at STORED_LONG_SIDE_PX on its long side, upright,
    with its proportions; a phone's 12 MP photo (4032 px) would be kept as it is."""
    sid = api.subject()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, upright portrait
    big = _encoded(_smooth(6000, 4000), "JPEG", quality=85, exif=exif)
    body = api.upload(sid, big).json()
    assert (body["image"]["width"], body["image"]["height"]) == (4000, 6000)
    with Image.open(io.BytesIO(api.get(f"/api/v1/analyses/{body['id']}/photo").content)) as stored:
        assert stored.size == (round(4000 * STORED_LONG_SIDE_PX / 6000), STORED_LONG_SIDE_PX)
        # Upright: the gradient that ran along the stored rows now runs down the columns.
        pixels = np.asarray(stored, dtype=float)
        assert pixels[-1, :, 0].mean() > pixels[0, :, 0].mean() + 150


@pytest.mark.parametrize("mode", ["RGBA", "P", "I;16", "LA"])
def test_other_modes_are_reduced_band_by_band_with_the_same_result(mode):
    """`to_rgb` converts in bands of rows: the result equals converting the whole image, then averaging."""
    rng = np.random.default_rng(5)
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65536, (701, 333), dtype=np.uint16))
    else:
        image = Image.fromarray(rng.integers(0, 256, (701, 333, 4), dtype=np.uint8), "RGBA")
        image = image.convert("P") if mode == "P" else image.convert(mode)
    whole = _converted_at_once(image)
    for factor in (1, 3):
        banded = to_rgb(image, factor)
        assert banded.mode == "RGB" and banded.size == (-(-333 // factor), -(-701 // factor))
        assert np.array_equal(np.asarray(banded), np.asarray(whole.reduce(factor) if factor > 1 else whole))


def _converted_at_once(image: Image.Image) -> Image.Image:
    """The whole image to 8-bit RGB in one go: alpha over white, 16-bit scaled (the reference)."""
    if image.mode == "I;16":
        grey = np.clip(np.rint(np.asarray(image, dtype=np.float64) * (255 / 65535)), 0, 255)
        return Image.fromarray(grey.astype(np.uint8)).convert("RGB")
    rgba = image.convert("RGBA") if image.mode != "P" or "transparency" in image.info else None
    if rgba is None:
        return image.convert("RGB")
    flat = Image.new("RGB", image.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def test_formats_decoded_at_full_size_have_their_own_pixel_limit():
    limits = IntakeLimits(max_pixels_by_format={"PNG": 5000, "WEBP": 5000})
    small = _smooth(100, 80)
    for fmt in ("PNG", "WEBP"):
        with pytest.raises(PostureError) as refused:
            load_photo(_encoded(small, fmt), limits=limits)
        assert (
            refused.value.code == ErrorCode.IMAGE_TOO_LARGE
            and "decoded at full size" in refused.value.message
        )
    assert load_photo(_encoded(small, "JPEG"), limits=limits).width == 100  # JPEG: only max_pixels
    assert IntakeLimits().max_pixels_by_format["HEIF"] < IntakeLimits().max_pixels


def test_the_stored_copy_of_a_large_transparent_png_is_flattened_and_bounded():
    image = Image.new("RGBA", (5000, 2000), (0, 0, 255, 0))
    image.paste((200, 0, 0, 255), (0, 0, 2500, 2000))
    with Image.open(io.BytesIO(strip_metadata(_encoded(image, "PNG")))) as stored:
        assert max(stored.size) <= STORED_LONG_SIDE_PX and stored.size == (2500, 1000)
        left, right = stored.getpixel((100, 500)), stored.getpixel((2400, 500))
    assert left[0] > 180 and left[2] < 40  # the opaque red half
    assert min(right) > 235  # transparent over white, not black
