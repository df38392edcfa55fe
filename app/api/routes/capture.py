"""What the page's capture view needs from the rules: the level within which its shutter opens."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentUser
from app.core.errors import responses
from app.schemas import CaptureSettings
from posture.rules import load_rules, rules_version

router = APIRouter(tags=["capture"], responses=responses(401))


@router.get("/capture")
def capture_settings(user: CurrentUser) -> CaptureSettings:
    """The capture view's settings from `posture/rules.toml` `[capture]`: the shutter opens only while
    the phone's level reads within `level_tolerance_deg` of level."""
    rules = load_rules()["capture"]
    return CaptureSettings(
        level_tolerance_deg=float(rules["level_tolerance_deg"]), rules_version=rules_version()
    )
