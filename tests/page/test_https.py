"""`posture serve --ssl-certfile/--ssl-keyfile`: the page over HTTPS, as a phone on the network needs it to
open the camera. The certificate is made by the openssl one-liner of docs/page.md (run from the doc's
own text), and the client checks it: the subjectAltName names the address the page is opened at."""

from __future__ import annotations

import re
import shlex
import socket
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from .conftest import ROOT, _free_port, _posture_command

PAGE_DOC = ROOT / "docs" / "page.md"
START_S = 60


def _doc_certificate_command(ip: str) -> list[str]:
    """The `openssl req …` line of docs/page.md, with the documented LAN address replaced by `ip`."""
    text = PAGE_DOC.read_text(encoding="utf-8")
    found = re.search(r"^(openssl req .*)$", text, flags=re.MULTILINE)
    assert found, "docs/page.md has no `openssl req` one-liner"
    line = found.group(1)
    assert "IP:192.168.1.20" in line, "the one-liner's example LAN address changed: update this test"
    return shlex.split(line.replace("192.168.1.20", ip))


def test_serve_over_https_with_the_documented_certificate(tmp_path: Path):
    if subprocess.run(["openssl", "version"], capture_output=True, check=False).returncode != 0:
        pytest.fail("openssl is needed for this test (Debian package openssl)")
    made = subprocess.run(
        _doc_certificate_command("127.0.0.1"), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert made.returncode == 0, made.stderr
    cert, key = tmp_path / "posture-cert.pem", tmp_path / "posture-key.pem"
    assert cert.is_file() and key.is_file()

    trust = ssl.create_default_context(cafile=str(cert))
    port = _free_port()
    log = tmp_path / "server.log"
    command = [*_posture_command(), "serve", "--port", str(port), "--data-dir", str(tmp_path / "data")]
    command += ["--workers", "1", "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_S
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                # Verified against the certificate itself: its subjectAltName must name 127.0.0.1.
                health = httpx.get(f"https://127.0.0.1:{port}/api/v1/health", verify=trust, timeout=5)
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline:
                    pytest.fail(f"no HTTPS answer after {START_S} s:\n{log.read_text()[-3000:]}")
                time.sleep(0.25)
        assert health.status_code in (200, 503) and health.json()["status"] in ("ok", "starting")
        page = httpx.get(f"https://127.0.0.1:{port}/", verify=trust, timeout=5)
        assert page.status_code == 200 and "posture-profile" in page.text
        # Plain HTTP on the same port is not served.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = sock.recv(200)
        assert not answer.startswith(b"HTTP/1.1 200")
        assert f"https://127.0.0.1:{port}/" in log.read_text()
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ssl-certfile", "{cert}"], "--ssl-certfile and --ssl-keyfile go together"),
        (["--ssl-certfile", "{dir}/none.pem", "--ssl-keyfile", "{key}"], "does not exist"),
        (["--ssl-certfile", "{key}", "--ssl-keyfile", "{cert}"], "cannot be used together"),
    ],
)
def test_serve_refuses_a_broken_certificate_pair_in_one_line(tmp_path: Path, args, message):
    made = subprocess.run(
        _doc_certificate_command("127.0.0.1"), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert made.returncode == 0, made.stderr
    names = {"cert": tmp_path / "posture-cert.pem", "key": tmp_path / "posture-key.pem", "dir": tmp_path}
    filled = [a.format(**names) for a in args]
    done = subprocess.run(
        [*_posture_command(), "serve", "--port", str(_free_port()), "--data-dir", str(tmp_path), *filled],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_serve_refuses_a_key_with_a_passphrase_without_prompting(tmp_path: Path):
    made = subprocess.run(
        _doc_certificate_command("127.0.0.1"), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert made.returncode == 0, made.stderr
    locked = tmp_path / "locked-key.pem"
    subprocess.run(
        [
            "openssl",
            "pkey",
            "-in",
            "posture-key.pem",
            "-aes256",
            "-passout",
            "pass:secret",
            "-out",
            locked.name,
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=60,
    )
    tls = ["--ssl-certfile", str(tmp_path / "posture-cert.pem"), "--ssl-keyfile", str(locked)]
    done = subprocess.run(
        [*_posture_command(), "serve", "--port", str(_free_port()), "--data-dir", str(tmp_path), *tls],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2, done.stderr
    assert "cannot be used together" in done.stderr and "Traceback" not in done.stderr
