"""A deployment that outgrows one machine: two real `posture serve` processes (uvicorn, the real
model, one worker each) with separate data dirs, sharing one PostgreSQL database and one S3 bucket (a
real moto server process). A photo uploaded through one is served, compared, exported and deleted
through the other, and neither machine's disk holds a photo."""

from __future__ import annotations

import httpx

from app.core.db import Database

from .conftest import new_account, sample, serve_process
from .s3_server import bucket_keys

PHOTOS = ("walk_side_crop_f0128.jpg", "walk_side_f0128.jpg")


def test_two_servers_on_two_data_dirs_serve_one_history_from_one_bucket(
    fresh_postgres_url, bucket_url, tmp_path
):
    postgres_url = fresh_postgres_url  # of its own: other tests' rows would share the sample photos' files
    machines = [tmp_path / "machine-a", tmp_path / "machine-b"]
    with serve_process(machines, database_url=postgres_url, storage_url=bucket_url) as servers:
        first, second = (server.url for server in servers)
        db = Database(postgres_url)
        auth = {"Authorization": f"Bearer {new_account(db)}"}
        db.dispose()
        with httpx.Client(headers=auth, timeout=120) as client:
            sid = client.post(f"{first}/api/v1/subjects", json={"name": "Shared"}).json()["id"]
            ids = []
            for day, name in enumerate(PHOTOS):
                upload = client.post(
                    f"{first}/api/v1/subjects/{sid}/analyses",
                    files={"photo": (name, sample(name), "image/jpeg")},
                    data={"taken_at": f"2026-03-0{day + 1}T09:00:00Z"},
                )
                assert upload.status_code == 201, upload.text
                ids.append(upload.json()["id"])
            assert len(bucket_keys(bucket_url)) == 4  # two photos, two overlays: in the bucket

            # Served through the other machine, byte for byte.
            for path, media_type in (("photo", "image/jpeg"), ("overlay.png", "image/png")):
                here = client.get(f"{first}/api/v1/analyses/{ids[0]}/{path}")
                there = client.get(f"{second}/api/v1/analyses/{ids[0]}/{path}")
                assert there.status_code == 200 and there.headers["content-type"] == media_type
                assert there.content == here.content and len(there.content) > 1000
            compared = client.get(f"{second}/api/v1/compare", params={"a": ids[0], "b": ids[1]})
            assert compared.status_code == 200, compared.text
            exported = client.get(f"{second}/api/v1/subjects/{sid}/export.json").json()
            assert [a["id"] for a in exported["analyses"]] == ids
            csv = client.get(f"{second}/api/v1/subjects/{sid}/export.csv")
            assert csv.status_code == 200 and all(i in csv.text for i in ids)

            # Deleted through the other machine: gone from the database and the bucket.
            assert client.delete(f"{second}/api/v1/subjects/{sid}").status_code == 204
            assert client.get(f"{first}/api/v1/analyses/{ids[0]}").status_code == 404
            assert bucket_keys(bucket_url) == []
    for machine in machines:  # neither machine kept a photo on its disk
        assert [p for p in machine.rglob("*") if p.is_file() and p.suffix in (".jpg", ".png")] == []
