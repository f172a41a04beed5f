#!/usr/bin/env bash
# Install what the browser tests (tests/browser/) need, when it is missing: Debian's
# `chromium` package and the `playwright` Python package (into the given venv).
# Idempotent: does nothing when both are there. Never runs `playwright install` and never
# downloads a browser build: Playwright drives the system chromium (/usr/bin/chromium).
#
#   scripts/install_browser_deps.sh [PYTHON]     PYTHON defaults to .venv/bin/python
#
# Exit status 0 when both are usable afterwards; non-zero, with a LOUD message, otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON="${1:-${PYTHON:-.venv/bin/python}}"
CHROMIUM="${CONTRASTKIT_CHROMIUM:-/usr/bin/chromium}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1  # belt and braces: the pip package must not fetch a browser

loud() {
    echo "" >&2
    echo "########################################################################" >&2
    echo "## BROWSER TEST DEPENDENCIES MISSING: $*" >&2
    echo "## The browser tests (tests/browser, marker 'browser') will be SKIPPED." >&2
    echo "## Fix: run scripts/install_browser_deps.sh as root (apt-get install chromium;" >&2
    echo "##      $PYTHON -m pip install playwright). Never 'playwright install'." >&2
    echo "########################################################################" >&2
    echo "" >&2
}

status=0

# --- chromium (Debian package) -------------------------------------------------------------
if [ -x "$CHROMIUM" ]; then
    echo "install_browser_deps: chromium present ($CHROMIUM)"
else
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            SUDO="sudo -n"
        fi
    fi
    if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
        if command -v apt-get >/dev/null 2>&1; then
            echo "install_browser_deps: installing Debian's chromium with apt-get"
            export DEBIAN_FRONTEND=noninteractive
            $SUDO apt-get update -qq >/dev/null || true
            $SUDO apt-get install -y -qq chromium >/dev/null || true
        fi
    fi
    if [ -x "$CHROMIUM" ]; then
        echo "install_browser_deps: chromium installed ($CHROMIUM)"
    else
        loud "no chromium at $CHROMIUM (need root and apt-get to install Debian's 'chromium')"
        status=1
    fi
fi

# --- playwright (PyPI package, Python side only) -------------------------------------------
if [ ! -x "$PYTHON" ]; then
    loud "no Python at $PYTHON (create the venv first: make venv)"
    exit 1
fi
if "$PYTHON" -c "import playwright.sync_api" 2>/dev/null; then
    echo "install_browser_deps: playwright present"
else
    echo "install_browser_deps: installing the playwright Python package"
    "$PYTHON" -m pip install -q "playwright>=1.40" || true
    if "$PYTHON" -c "import playwright.sync_api" 2>/dev/null; then
        echo "install_browser_deps: playwright installed"
    else
        loud "the playwright Python package could not be installed into $PYTHON"
        status=1
    fi
fi

exit $status
