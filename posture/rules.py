"""Load the versioned rules file (`rules.toml`): thresholds, score bands and noise levels with sources."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any


@cache
def load_rules() -> dict[str, Any]:
    """The packaged rules, parsed once per process (read-only by convention)."""
    text = resources.files("posture").joinpath("rules.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def rules_version() -> str:
    return str(load_rules()["version"])
