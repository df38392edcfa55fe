"""The product's promise on the sample photos: a mirrored, half-resolution or JPEG-70 copy of a photo
gives nearly the same angles (median ≤ 0.5°, 90th percentile ≤ 1.5° over all angle measures)."""

from __future__ import annotations

import pytest
from PIL import Image

from posture.evaluation import VARIANTS, evaluate

from .conftest import SIDE_SAMPLES

MEDIAN_BOUND_DEG = 0.5
P90_BOUND_DEG = 1.5


@pytest.fixture(scope="module")
def reports(model):
    return evaluate(((p.name, Image.open(p)) for p in SIDE_SAMPLES), model)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_copies_give_the_same_angles(reports, variant):
    report = reports[variant]
    assert not report.rejected, report.rejected
    assert len(report.differences) >= 6 * len(SIDE_SAMPLES)  # every photo, every angle measure
    assert report.median_deg <= MEDIAN_BOUND_DEG, report.median_deg
    assert report.p90_deg <= P90_BOUND_DEG, report.p90_deg
