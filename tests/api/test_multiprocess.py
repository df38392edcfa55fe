"""Several server processes sharing one database and data dir see each other's writes: how a
deployment grows beyond one process. Two real `posture serve` processes (uvicorn, the real model) on
PostgreSQL; and two app instances with their own engines on each database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from app.core.db import Database

from .conftest import ROOT, FakeAnalyzer, make_jpeg, new_account, running_api, sample, wait_until_healthy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def servers(count: int, data_dir: Path, database_url: str | None) -> Iterator[list[str]]:
    env = {**os.environ, "GLOG_minloglevel": "2", "POSTURE_INFERENCE_WORKERS": "1"}
    env.pop("POSTURE_DATABASE_URL", None)
    if database_url:
        env["POSTURE_DATABASE_URL"] = database_url
    procs, urls = [], []
    try:
        for _ in range(count):
            port = _free_port()
            command = [
                sys.executable,
                "-c",
                "import sys; from app.cli import main; sys.exit(main())",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                "--log-level",
                "warning",
            ]
            log = open(data_dir.parent / f"server-{port}.log", "wb")  # noqa: SIM115 - closed with the process
            procs.append((subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log), log))
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 120
        for url, (proc, log) in zip(urls, procs, strict=True):
            wait_until_healthy(url, proc, Path(log.name), deadline)
        yield urls
    finally:
        for proc, _log in procs:
            proc.send_signal(signal.SIGINT)
        for proc, log in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def test_two_app_instances_share_one_database(database, tmp_path):
    data_dir = tmp_path / "data"
    with (
        running_api(database, data_dir, FakeAnalyzer()) as first,
        running_api(database, data_dir, FakeAnalyzer()) as second,
    ):
        assert first.client.app.state.db.engine is not second.client.app.state.db.engine
        second.key = first.key
        sid = first.subject("Shared")
        assert first.get(f"/api/v1/subjects/{sid}/trends").json()["n"] == 0  # cached by the first app
        aid = second.upload(sid, make_jpeg(1)).json()["id"]
        assert [a["id"] for a in first.get(f"/api/v1/subjects/{sid}/analyses").json()["items"]] == [aid]
        photos = first.get(f"/api/v1/subjects/{sid}/trends", params={"by": "photo"}).json()
        assert photos["analysis_ids"] == [aid]
        assert first.get(f"/api/v1/analyses/{aid}/photo").status_code == 200
        assert second.delete(f"/api/v1/subjects/{sid}").status_code == 204
        assert first.get(f"/api/v1/analyses/{aid}").status_code == 404


def test_two_server_processes_share_one_postgresql_database(postgres_url, tmp_path):
    url = postgres_url
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with servers(2, data_dir, url) as (first, second):
        db = Database(url)
        auth = {"Authorization": f"Bearer {new_account(db)}"}
        db.dispose()
        with httpx.Client(headers=auth, timeout=60) as client:
            sid = client.post(f"{first}/api/v1/subjects", json={"name": "Shared"}).json()["id"]
            upload = client.post(
                f"{second}/api/v1/subjects/{sid}/analyses",
                files={"photo": ("side.jpg", sample("walk_side_crop_f0128.jpg"), "image/jpeg")},
            )
            assert upload.status_code == 201, upload.text
            aid = upload.json()["id"]

            history = client.get(f"{first}/api/v1/subjects/{sid}/analyses").json()
            assert [a["id"] for a in history["items"]] == [aid]
            assert client.get(f"{first}/api/v1/analyses/{aid}/photo").status_code == 200
            assert client.get(f"{first}/api/v1/subjects/{sid}/trends").json()["n"] == 1

            assert client.delete(f"{second}/api/v1/subjects/{sid}").status_code == 204
            assert client.get(f"{first}/api/v1/analyses/{aid}").status_code == 404
            assert client.get(f"{first}/api/v1/subjects").json()["total"] == 0
