"""Repeatability evaluation: how much the measures move when the photo is only re-encoded.

Used by `benchmarks/repeatability.py` (figures in docs/accuracy.md) and by the test suite, which
enforces the bounds on the committed repeatability photos (`sample_images/repeatability/`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps

from .analysis import analyze
from .model import PoseModel
from .options import AnalysisOptions
from .result import Analysis


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


# The copies a photo must survive: each maps an RGB image to the bytes of its copy.
VARIANTS: dict[str, Callable[[Image.Image], bytes]] = {
    "mirrored": lambda im: _png(ImageOps.mirror(im)),
    "half_resolution": lambda im: _png(im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)),
    "jpeg_q70": lambda im: _jpeg(im, 70),
}


def angle_differences(a: Analysis, b: Analysis) -> dict[str, float]:
    """|a − b| for every angle measure (`*_deg`) that both analyses have."""
    return {
        k: abs(v - b.measures[k])
        for k, v in a.measures.items()
        if k.endswith("_deg") and v is not None and b.measures.get(k) is not None
    }


@dataclass
class VariantReport:
    differences: list[float] = field(default_factory=list)
    per_measure: dict[str, list[float]] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)

    @property
    def median_deg(self) -> float:
        return float(np.median(self.differences)) if self.differences else float("nan")

    @property
    def p90_deg(self) -> float:
        return float(np.percentile(self.differences, 90)) if self.differences else float("nan")


def evaluate(
    photos: Iterable[tuple[str, Image.Image]], model: PoseModel, options: AnalysisOptions | None = None
) -> dict[str, VariantReport]:
    """Analyse each (name, image) and its variants with the same `options` (default: the library's);
    collect the angle differences per variant. A photo whose original is refused is skipped."""
    reports = {name: VariantReport() for name in VARIANTS}
    for label, image in photos:
        image = image.convert("RGB")
        base = analyze(_png(image), options, model=model)
        if not base.ok:
            continue
        for name, make in VARIANTS.items():
            other = analyze(make(image), options, model=model)
            report = reports[name]
            if not other.ok:
                report.rejected.append(f"{label}: {other.error.code if other.error else '?'}")
                continue
            for k, d in angle_differences(base, other).items():
                report.differences.append(d)
                report.per_measure.setdefault(k, []).append(d)
    return reports
