"""The wheel is a working tool: it carries the pinned pose model, and once installed into a fresh venv
`posture analyze` works from any directory with no POSTURE_MODEL_PATH.

Everything stays offline: the wheel is built with the venv's own setuptools (no build isolation, no index)
from a copy of exactly what the Dockerfile's build stage copies, and the fresh venv gets the dependencies by
a `.pth` line naming this venv's site-packages (its own `.pth` files, the editable install's finder among
them, are not run from there, so `posture` and `app` can only come from the wheel).
"""

from __future__ import annotations

import email.parser
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from posture.model import MODEL_DATA_DIR, MODEL_FILENAME, MODEL_SHA256

ROOT = Path(__file__).resolve().parent.parent
# The Dockerfile's build stage copies these and nothing else (.dockerignore keeps the rest out).
BUILD_INPUTS = ("pyproject.toml", "README.md", "posture", "app", "models/LICENSE.mediapipe")
MODEL_MEMBER = f"posture/{MODEL_DATA_DIR}/{MODEL_FILENAME}"
SAMPLE = ROOT / "sample_images" / "walk_side_f0128.jpg"
OFFLINE = ("--no-deps", "--no-index", "--quiet")


def _copy_build_inputs(dest: Path) -> None:
    for name in BUILD_INPUTS:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    out = tmp_path_factory.mktemp("dist")
    _copy_build_inputs(src)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            *OFFLINE,
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (built,) = out.glob("posture_profile-*.whl")
    return built


def test_wheel_carries_the_pinned_model_its_licence_and_the_command(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert MODEL_MEMBER in names
        assert hashlib.sha256(zf.read(MODEL_MEMBER)).hexdigest() == MODEL_SHA256
        assert "posture/rules.toml" in names
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        assert f"{dist_info}/licenses/models/LICENSE.mediapipe" in names
        metadata = email.parser.Parser().parsestr(zf.read(f"{dist_info}/METADATA").decode())
        assert metadata["License-Expression"] == "Apache-2.0"
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
    assert "posture = app.cli:main" in entry_points
    # nothing of the checkout beside the packages: no tests, no copy of the model outside the package
    assert not [n for n in names if n.startswith(("tests/", "models/", "sample_images/"))]


def test_installed_wheel_analyzes_a_photo_from_any_directory(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    fresh_site = Path(
        subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
        .decode()
        .strip()
    )
    (fresh_site / "project_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            *OFFLINE,
            "--no-compile",
            str(wheel),
        ],
        check=True,
        timeout=300,
    )

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("POSTURE_MODEL_PATH", "PYTHONPATH")}
    where = subprocess.run(
        [python, "-c", "import posture.model as m, app.cli; print(m.default_model_path(), app.cli.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(Path(p).is_relative_to(fresh_site) for p in where), where

    done = subprocess.run(
        [env_dir / "bin" / "posture", "analyze", str(SAMPLE), "--json"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["status"] == "ok", result["error"]
    assert result["versions"]["model_sha256"] == MODEL_SHA256
    assert result["measures"]
