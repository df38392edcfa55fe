"""The product's promise: a mirrored, half-resolution or JPEG-70 copy of a standing photo gives nearly the
same angles (median ≤ 0.5°, 90th percentile ≤ 1.5° over all angle measures).

Checked on the 26 double-support frames of `sample_images/repeatability/` (156 differences per copy), not
on the six side samples: the 90th percentile of those six photos' 42 differences moved by 0.44° between
two OpenCV builds (the issue blamed the CPU), that of these 156 by at most 0.12°. The measured figures and
the margins this test keeps are in docs/accuracy.md ("Copies of a photo"). The set covers the six landmark
angles: in all its frames the back is reported not visible (the arm swings behind it), so the lumbar and
pelvic estimates are not measured there (the benchmark reports them on the side samples and dev photos).

The camera level is off here: this checks the measurement chain with the camera's roll known. On these
park frames the level read from the photo sits near its confidence threshold, so a copy can get it
applied while the original does not, which moves five measures by the whole roll (1–2°); its figures are
in the same section.
"""

from __future__ import annotations

import pytest
from PIL import Image

from posture import AnalysisOptions
from posture.evaluation import VARIANTS, evaluate

from .conftest import REPEATABILITY_SAMPLES

MEDIAN_BOUND_DEG = 0.5
P90_BOUND_DEG = 1.5
LEVEL_OFF = AnalysisOptions(level="off")


@pytest.fixture(scope="module")
def reports(model):
    assert len(REPEATABILITY_SAMPLES) == 26, "sample_images/extract_samples.py makes 26 frames"
    return evaluate(((p.name, Image.open(p)) for p in REPEATABILITY_SAMPLES), model, LEVEL_OFF)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_copies_give_the_same_angles(reports, variant):
    report = reports[variant]
    # Printed so that a run with -s shows how far each figure sits from its bound on this machine.
    print(
        f"\n{variant}: {len(report.differences)} differences, median {report.median_deg:.2f}° "
        f"(bound {MEDIAN_BOUND_DEG}°), p90 {report.p90_deg:.2f}° (bound {P90_BOUND_DEG}°)"
    )
    assert not report.rejected, report.rejected
    assert len(report.differences) >= 6 * len(REPEATABILITY_SAMPLES)  # every photo, every angle measure
    assert report.median_deg <= MEDIAN_BOUND_DEG, report.median_deg
    assert report.p90_deg <= P90_BOUND_DEG, report.p90_deg


# With the level read from each photo and copy (the default), the level's own noise adds to the chain's:
# on these small park crops its confidence is low and varies between copies (docs/accuracy.md measured
# 0.37 / 1.09 / 0.84° p90 with the 7-pass default, OpenCV 5.1). This bound is the one stated for that case.
AUTO_LEVEL_P90_BOUND_DEG = 2.0


@pytest.fixture(scope="module")
def auto_reports(model):
    return evaluate(((p.name, Image.open(p)) for p in REPEATABILITY_SAMPLES), model, AnalysisOptions())


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_copies_stay_close_with_the_level_read_from_the_photo(auto_reports, variant):
    report = auto_reports[variant]
    print(f"\n{variant}, level auto: median {report.median_deg:.2f}°, p90 {report.p90_deg:.2f}°")
    assert not report.rejected, report.rejected
    assert report.median_deg <= MEDIAN_BOUND_DEG, report.median_deg
    assert report.p90_deg <= AUTO_LEVEL_P90_BOUND_DEG, report.p90_deg
