#!/usr/bin/env bash
# System packages the test suite needs beyond Python ones (none yet).
set -euo pipefail
