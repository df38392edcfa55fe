"""Shared fixtures: the real model (one per test session) and the committed sample photos."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("GLOG_minloglevel", "2")

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"
SIDE_SAMPLES = [*sorted(SAMPLES.glob("walk_side_f*.jpg")), SAMPLES / "walk_side_crop_f0128.jpg"]
# Double-support frames for the repeatability test (sample_images/ATTRIBUTION.md says how they were chosen).
REPEATABILITY_SAMPLES = sorted((SAMPLES / "repeatability").glob("double_support_f*.jpg"))
BAD = SAMPLES / "bad"
SHARED_DEV = ROOT.parent / "shared" / "data" / "dev"


def node_executable() -> str:
    """Node.js for the tests that load the page's modules: the system one, else Playwright's own."""
    found = shutil.which("node")
    if found:
        return found
    playwright = pytest.importorskip("playwright")
    bundled = Path(playwright.__file__).parent / "driver" / "node"
    if not bundled.is_file():
        pytest.skip("no node: neither on PATH nor bundled with playwright")
    return str(bundled)


@pytest.fixture(scope="session")
def model():
    import posture

    return posture.default_model()


@pytest.fixture(scope="session")
def side_results(model):
    """Analyses of every side-view sample (computed once; many tests read them)."""
    import posture

    return {p.name: posture.analyze(p, model=model, overlay=True) for p in SIDE_SAMPLES}
