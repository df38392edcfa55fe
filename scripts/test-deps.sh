#!/usr/bin/env bash
# System packages the test suite needs beyond the Python ones, installed by `make test` before pytest.
#
# - Debian's `chromium` (with a font), driven headless by the page tests in tests/page/ through
#   Playwright with the system browser (never `playwright install`: no browser downloads).
# - Debian's `poppler-utils` (pdftotext, pdftoppm, pdfimages): the PDF report's tests read and render
#   its pages with a PDF reader other than the one that wrote them (tests/api/test_report.py).
#
# Idempotent and quiet: nothing happens when /usr/bin/chromium and /usr/bin/pdftoppm are already there.
# On a machine without them, installing needs root (or sudo) and apt-get; any failure stops `make test`
# with a clear message.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
PDFTOPPM=/usr/bin/pdftoppm
PACKAGES=(chromium fonts-dejavu-core poppler-utils)

if [[ -x "$CHROMIUM" && -x "$PDFTOPPM" ]]; then
    exit 0
fi

fail() {
    echo "scripts/test-deps.sh: $*" >&2
    echo "scripts/test-deps.sh: the page tests need Debian's chromium at $CHROMIUM and the report" \
        "tests poppler's $PDFTOPPM; install them with: apt-get install --no-install-recommends" \
        "${PACKAGES[*]}" >&2
    exit 1
}

if ! command -v apt-get >/dev/null 2>&1; then
    fail "apt-get not found (not a Debian/Ubuntu machine)"
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo -n)
    else
        fail "not root and no sudo: cannot install ${PACKAGES[*]}"
    fi
fi

echo "scripts/test-deps.sh: installing ${PACKAGES[*]} (for the page and report tests)..." >&2
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { "${SUDO[@]}" apt-get update -qq && \
       "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    fail "apt-get failed (output above)"
fi

for tool in "$CHROMIUM" "$PDFTOPPM"; do
    if [[ ! -x "$tool" ]]; then
        fail "apt-get finished but $tool is still missing"
    fi
done
echo "scripts/test-deps.sh: $("$CHROMIUM" --version 2>/dev/null || echo chromium) installed." >&2
