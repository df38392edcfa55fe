"""The bundled offline model: pinned, checked at load, and producing landmarks on the person."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from posture import ModelIntegrityError, PoseModel, PoseModelOptions
from posture.intake import load_photo
from posture.landmarks import INDEX
from posture.model import MODEL_SHA256, default_model_path
from posture.pose import find_subject

from .conftest import SIDE_SAMPLES


def test_bundled_model_matches_pinned_hash():
    data = default_model_path().read_bytes()
    assert hashlib.sha256(data).hexdigest() == MODEL_SHA256


def test_tampered_model_is_refused_with_clear_error(tmp_path):
    bad = tmp_path / "pose.task"
    data = bytearray(default_model_path().read_bytes())
    data[-100] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        PoseModel(PoseModelOptions(model_path=bad))


def test_missing_model_is_refused_with_clear_error(tmp_path):
    with pytest.raises(ModelIntegrityError, match="not found"):
        PoseModel(PoseModelOptions(model_path=tmp_path / "nope.task"))


@pytest.mark.parametrize("path", SIDE_SAMPLES, ids=lambda p: p.name)
def test_landmarks_lie_on_the_person(model, path):
    """Real inference: hips above knees above ankles, all inside the person's silhouette box."""
    photo = load_photo(path)
    subject = find_subject(model, photo)
    assert subject is not None
    lm = subject.landmarks[:, :2]
    for side in ("left", "right"):
        hip, knee, ankle = (lm[INDEX[f"{side}_{p}"]] for p in ("hip", "knee", "ankle"))
        assert hip[1] < knee[1] < ankle[1]
    ys, xs = np.nonzero(subject.mask > 0.5)
    (ox, oy), s = subject.mask_origin, subject.mask_scale
    x0, x1, y0, y1 = ox + xs.min() / s, ox + (xs.max() + 1) / s, oy + ys.min() / s, oy + (ys.max() + 1) / s
    assert 150 < y1 - y0 < photo.height
    pad = 0.05 * (y1 - y0)
    for name in ("nose", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"):
        x, y = lm[INDEX[name]]
        assert x0 - pad <= x <= x1 + pad and y0 - pad <= y <= y1 + pad, name
