"""Batch folders with clips: real worker processes, the real model on the real walking clip (a walk is
neither test: refused as `not_the_test`, its row saying so), a photo beside it and a broken clip; CSV
(photos and `.clips.csv`) and JSONL outputs, and resuming."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from posture.batch import discover
from posture.batch.output import clips_path
from posture.cli import main
from posture.movement.rows import CLIP_CSV_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "sample_images" / "clips" / "walk_side.mp4"
PHOTO = ROOT / "sample_images" / "walk_side_crop_f0128.jpg"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    (d / "anna").mkdir(parents=True)
    shutil.copy(CLIP, d / "anna" / "walk.mp4")
    shutil.copy(PHOTO, d / "anna" / "standing.jpg")
    (d / "anna" / "broken.webm").write_bytes(b"\x1a\x45\xdf\xa3" + bytes(100))
    return d


def test_discover_lists_clips_beside_photos(folder: Path) -> None:
    items = discover([folder])
    assert [(i.path.name, i.is_clip) for i in items] == [
        ("broken.webm", True),
        ("standing.jpg", False),
        ("walk.mp4", True),
    ]


def test_a_folder_with_clips_is_scored_and_resumed(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "results.csv"
    overlays = tmp_path / "png"
    argv = [
        "batch",
        str(folder),
        "--out",
        str(out),
        "--workers",
        "1",
        "--progress",
        "none",
        "--test",
        "lunge",
    ]
    argv += ["--subject-from", "folder", "--overlay", str(overlays)]
    assert main(argv) == 1  # the broken clip is refused
    with out.open(newline="") as f:
        photos = list(csv.DictReader(f))
    with clips_path(out).open(newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == CLIP_CSV_COLUMNS
        clips = {Path(r["source"]).name: r for r in reader}
    assert [Path(r["source"]).name for r in photos] == ["standing.jpg"] and photos[0]["status"] == "ok"
    assert (
        clips["broken.webm"]["status"] == "rejected"
        and clips["broken.webm"]["error_code"] == "clip_unreadable"
    )
    walk = clips["walk.mp4"]
    assert walk["status"] == "rejected" and walk["test"] == "lunge" and walk["error_code"] == "not_the_test"
    assert walk["subject"] == "anna" and len(walk["sha256"]) == 64
    assert walk["lunge_shin_peak_deg"] == ""  # no number for a movement that is not the test
    assert not any(p.name.endswith(".deepest.png") for p in overlays.iterdir())
    assert any(p.name.endswith(".overlay.png") for p in overlays.iterdir())
    # Again: everything is already in the two files, nothing is scored.
    assert main(argv) == 0
    with clips_path(out).open(newline="") as f:
        assert len(list(csv.DictReader(f))) == 2


def test_jsonl_holds_clips_and_photos(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    (folder / "anna" / "broken.webm").unlink()
    argv = [
        "batch",
        str(folder),
        "--out",
        str(out),
        "--workers",
        "1",
        "--progress",
        "none",
        "--test",
        "squat",
    ]
    assert main(argv) == 1  # walking is no squat: not_the_test
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    by_name = {Path(d["source"]).name: d for d in lines}
    assert by_name["walk.mp4"]["error"]["code"] == "not_the_test" and by_name["walk.mp4"]["test"] == "squat"
    assert "walks across" in by_name["walk.mp4"]["error"]["message"]
    assert by_name["standing.jpg"]["status"] == "ok" and "clip" not in by_name["standing.jpg"]
    assert not clips_path(out).exists()
