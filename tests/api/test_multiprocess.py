"""Several server processes sharing one database and data dir see each other's writes: how a
deployment grows beyond one process. Two real `posture serve` processes (uvicorn, the real model) on
PostgreSQL; and two app instances with their own engines on each database."""

from __future__ import annotations

import httpx

from app.core.db import Database

from .conftest import FakeAnalyzer, make_jpeg, new_account, running_api, sample, serve_process


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
    with serve_process([data_dir, data_dir], database_url=url) as servers:
        first, second = (server.url for server in servers)
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
