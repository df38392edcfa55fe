"""Storage benchmark: uploads and downloads on filesystem vs S3 storage in one run; the fault test's counts.

Two real server processes (uvicorn) run side by side, each on a temporary SQLite data dir: one stores
photos under its data dir, the other in a bucket of a moto S3 server process on 127.0.0.1 (over HTTP,
like MinIO or AWS). Both use the fake analyzer of the tests (`tests/api/fault_server.py`): no model
runs, so what differs between the two is the storage (the server still decodes each photo, makes its
metadata-free copy and an overlay, as for a real upload). Each upload is a distinct 1768×994 photo
(≈440 kB; one pixel changed, so every stored file is new). The two backends alternate in `--blocks`
blocks at concurrency 4, so a change in the machine's load affects both alike; then every stored
photo is downloaded (streamed from the bucket, sent from disk) at concurrency 4.

Then the fault test (tests/api/test_faults.py) runs once and its counts are printed: kills, restarts,
referenced files checked, and the orphans found after the sweeps (0).

    python benchmarks/storage_load.py                  # about 3 minutes on 2 cores
    python benchmarks/storage_load.py --uploads 120 --no-faults
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import boto3
import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core.db import Database  # noqa: E402 - after the path is set
from app.storage import repository  # noqa: E402

PHOTO = ROOT / "sample_images" / "walk_side_f0128.jpg"
CONCURRENCY = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{what} did not start")


@dataclass
class Backend:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    key: str
    subject: str
    upload_s: list[float] = field(default_factory=list)
    download_s: list[float] = field(default_factory=list)
    upload_wall_s: float = 0.0
    download_wall_s: float = 0.0
    errors: int = 0
    analyses: list[str] = field(default_factory=list)


def start_backend(name: str, work: Path, env: dict[str, str], storage_url: str) -> Backend:
    data_dir = work / name
    data_dir.mkdir()
    port = free_port()
    env = {
        **env,
        "POSTURE_DATA_DIR": str(data_dir),
        "POSTURE_STORAGE_URL": storage_url,
        "POSTURE_DATABASE_URL": "",
    }
    log = open(work / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.api.fault_server", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200, f"the {name} server")
    db = Database(f"sqlite:///{data_dir / 'posture.db'}")
    with db.session() as session:
        user, key = repository.create_user(session, "bench")
        subject = str(repository.create_subject(session, user, "bench", None).id)
    db.dispose()
    return Backend(name, url, process, key, subject)


def photos(count: int) -> list[bytes]:
    """`count` distinct JPEGs of the sample's size and weight (one pixel differs)."""
    with Image.open(PHOTO) as image:
        base = image.convert("RGB")
    out = []
    for i in range(count):
        copy = base.copy()
        copy.putpixel((i % base.width, i // base.width), (i % 256, 255 - i % 256, 7))
        buffer = io.BytesIO()
        copy.save(buffer, format="JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def upload_block(backend: Backend, block: list[bytes]) -> None:
    auth = {"Authorization": f"Bearer {backend.key}"}

    def one(photo: bytes) -> None:
        started = time.perf_counter()
        response = client.post(
            f"/api/v1/subjects/{backend.subject}/analyses",
            files={"photo": ("p.jpg", photo, "image/jpeg")},
            headers=auth,
        )
        backend.upload_s.append(time.perf_counter() - started)
        if response.status_code == 201:
            backend.analyses.append(response.json()["id"])
        else:
            backend.errors += 1

    with httpx.Client(base_url=backend.url, timeout=60) as client, ThreadPoolExecutor(CONCURRENCY) as pool:
        started = time.perf_counter()
        list(pool.map(one, block))
        backend.upload_wall_s += time.perf_counter() - started


def download_all(backend: Backend) -> None:
    auth = {"Authorization": f"Bearer {backend.key}"}

    def one(analysis: str) -> None:
        started = time.perf_counter()
        response = client.get(f"/api/v1/analyses/{analysis}/photo", headers=auth)
        backend.download_s.append(time.perf_counter() - started)
        if response.status_code != 200 or len(response.content) < 1000:
            backend.errors += 1

    with httpx.Client(base_url=backend.url, timeout=60) as client, ThreadPoolExecutor(CONCURRENCY) as pool:
        started = time.perf_counter()
        list(pool.map(one, backend.analyses))
        backend.download_wall_s = time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def cpu_name() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def fault_counts(env: dict[str, str], work: Path) -> list[dict[str, object]]:
    report = work / "faults.jsonl"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/api/test_faults.py"]
    done = subprocess.run(command, cwd=ROOT, env={**env, "POSTURE_FAULT_REPORT": str(report)})
    if done.returncode != 0:
        raise SystemExit("the fault test failed")
    return [json.loads(line) for line in report.read_text().splitlines()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=240, help="uploads per backend (default 240)")
    parser.add_argument("--blocks", type=int, default=4, help="alternating blocks (default 4)")
    parser.add_argument("--no-faults", action="store_true", help="skip the fault test")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="posture-storage-bench-") as tmp:
        work = Path(tmp)
        moto_port = free_port()
        moto_log = open(work / "moto.log", "wb")  # noqa: SIM115 - lives as long as the server
        moto = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
            stdout=moto_log,
            stderr=moto_log,
        )
        endpoint = f"http://127.0.0.1:{moto_port}"
        s3_env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
        env = {**os.environ, **s3_env, "GLOG_minloglevel": "2"}
        os.environ.update(s3_env)
        backends: list[Backend] = []
        try:
            wait_until(lambda: httpx.get(f"{endpoint}/moto-api/", timeout=1).status_code < 500, "moto")
            boto3.client("s3").create_bucket(Bucket="bench")
            backends = [
                start_backend("filesystem", work, env, ""),
                start_backend("s3", work, env, "s3://bench/photos"),
            ]
            print(f"preparing {args.uploads * 2} photos …", file=sys.stderr)
            payloads = photos(args.uploads * 2 + CONCURRENCY * 2)
            warm = payloads[-CONCURRENCY * 2 :]
            for i, backend in enumerate(backends):  # connections, first writes, caches
                upload_block(backend, warm[i * CONCURRENCY : (i + 1) * CONCURRENCY])
                backend.upload_s.clear()
                backend.upload_wall_s = 0.0
                backend.analyses.clear()
            size = args.uploads // args.blocks
            for block in range(args.blocks):
                for i, backend in enumerate(backends):
                    start = (i * args.uploads) + block * size
                    upload_block(backend, payloads[start : start + size])
                    print(f"block {block + 1}/{args.blocks} {backend.name} done", file=sys.stderr)
            for backend in backends:
                download_all(backend)
        finally:
            for backend in backends:
                backend.process.send_signal(signal.SIGINT)
                backend.process.wait(timeout=30)
            moto.terminate()
            moto.wait(timeout=30)

        counts = [] if args.no_faults else fault_counts(env, work)

    print(f"\n{datetime.now(UTC):%Y-%m-%d}, {cpu_name()}, {os.cpu_count()} CPUs, concurrency {CONCURRENCY}\n")
    print("| storage | uploads | uploads/s | p50 ms | p99 ms | downloads/s | p50 ms | p99 ms | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for b in backends:
        print(
            f"| {b.name} | {len(b.upload_s)} | {len(b.upload_s) / b.upload_wall_s:.1f} | "
            f"{percentile(b.upload_s, 50) * 1000:.0f} | {percentile(b.upload_s, 99) * 1000:.0f} | "
            f"{len(b.download_s) / b.download_wall_s:.1f} | {percentile(b.download_s, 50) * 1000:.0f} | "
            f"{percentile(b.download_s, 99) * 1000:.0f} | {b.errors} |"
        )
    if counts:
        print(
            "\n| fault test | kills | restarts | uploads | deletions (analyses, subjects, accounts) |"
            " outbox entries left by kills | orphans left by kills | files checked | orphans found |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for c in counts:
            print(
                f"| {c['backend']} | {c['kills']} | {c['restarts']} | {c['uploads']} | "
                f"{c['analyses_deleted']}, {c['subjects_deleted']}, {c['accounts_deleted']} | "
                f"{c['outbox_left_by_kills']} | {c['orphans_left_by_kills']} | {c['files_checked']} | "
                f"{c['orphans_found']} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
