"""The terminal shows only what was asked for: MediaPipe's native logs (LiteRT, TFLite, absl) are muted
by default in `posture analyze` and `posture serve` (the real commands, in subprocesses, with the real
model on the real walking clip and a real photo), and `--verbose` shows them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "sample_images" / "clips" / "walk_side.mp4"
PHOTO = ROOT / "sample_images" / "walk_side_f0128.jpg"
# Lines the landmarker's native side prints when a model is made and at its first frame.
NATIVE = ("Sparsity tensors", "XNNPACK", "LiteRT", "InitGoogle", "W0000", "I0000", "TensorFlow Lite")


def _posture() -> list[str]:
    script = Path(sys.executable).with_name("posture")
    if script.exists():
        return [str(script)]
    found = shutil.which("posture")
    return [found] if found else [sys.executable, "-m", "app.cli"]


def _env() -> dict[str, str]:
    """The user's environment, without anything that would quieten the model beforehand."""
    env = {**os.environ, "POSTURE_DATABASE_URL": ""}
    for name in ("GLOG_minloglevel", "TF_CPP_MIN_LOG_LEVEL", "POSTURE_NATIVE_LOGS"):
        env.pop(name, None)
    return env


def _native(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(mark in line for mark in NATIVE)]


def test_analyze_prints_only_the_table_and_verbose_shows_the_model_s_logs() -> None:
    argv = [*_posture(), "analyze", str(CLIP), str(PHOTO), "--test", "squat", "--sample-fps", "5"]
    quiet = subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=300)
    assert quiet.returncode == 1, quiet.stderr  # the walk is refused: not the test
    assert quiet.stderr == "", quiet.stderr[:2000]
    assert "not_the_test" in quiet.stdout and "walk_side_f0128.jpg" in quiet.stdout
    loud = subprocess.run([*argv, "--verbose"], capture_output=True, text=True, env=_env(), timeout=300)
    assert loud.returncode == 1 and len(_native(loud.stderr)) >= 3, loud.stderr[:2000]
    assert loud.stdout.splitlines()[0] == quiet.stdout.splitlines()[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("verbose", [False, True])
def test_serve_keeps_the_model_s_logs_out_of_its_output(tmp_path: Path, verbose: bool) -> None:
    """A photo and a clip analysed by the server's worker (its image and video models made): the
    server's output holds its own log lines, not the model's, unless `--verbose`."""
    env = _env()
    created = subprocess.run(
        [*_posture(), "users", "create", "logs", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    port = _free_port()
    log = tmp_path / "serve.log"
    command = [*_posture(), "serve", "--port", str(port), "--data-dir", str(tmp_path), "--workers", "1"]
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, *(["--verbose"] if verbose else [])], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/health", timeout=2).json().get("status") == "ok":
                    break
            except (httpx.HTTPError, ValueError):
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.25)
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            subject = client.post("/subjects", json={"name": "Lo Gs"}).json()["id"]
            photo = client.post(
                f"/subjects/{subject}/analyses",
                files={"photo": ("side.jpg", PHOTO.read_bytes(), "image/jpeg")},
            )
            assert photo.status_code == 201, photo.text
            job = client.post(
                f"/subjects/{subject}/movements",
                files={"clip": ("walk.mp4", CLIP.read_bytes(), "video/mp4")},
                data={"test": "lunge", "sample_fps": "5"},
            ).json()["job"]["id"]
            while (state := client.get(f"/jobs/{job}").json())["status"] not in ("done", "failed"):
                assert time.monotonic() < deadline + 120, state
                time.sleep(0.2)
            assert state["error"]["code"] == "not_the_test", state
    finally:
        process.terminate()
        process.wait(timeout=30)
    text = log.read_text()
    assert "Uvicorn running" in text or "Application startup complete" in text, text[-2000:]
    if verbose:
        assert len(_native(text)) >= 3, text[-3000:]
    else:
        assert _native(text) == [], _native(text)[:10]
