"""Batch scoring of folders of photos (placeholder until the batch tool lands)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `batch` command to the `posture` CLI."""
