#!/usr/bin/env bash
# Run the linter and the whole test suite: create .venv if missing, install
# requirements-dev.txt when it changed, install Debian's chromium for the
# browser tests when it is missing and this runs as root, then run
# `ruff check` and `python -m pytest`. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh

ensure_venv requirements-dev.txt

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "Installing Debian's chromium for the browser tests"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q chromium
    else
        echo "Browser tests will be skipped: /usr/bin/chromium is missing, and" \
            "installing it needs root and apt-get (apt-get install chromium)."
    fi
fi

lint_status=0
echo "Running ruff check"
.venv/bin/ruff check . || lint_status=$?

test_status=0
echo "Running pytest"
.venv/bin/python -m pytest "$@" || test_status=$?

if [ "$test_status" -eq 5 ]; then
    echo "error: pytest collected no tests (exit code 5). Check the test" \
        "paths and any -k or -m filter passed to scripts/test.sh." >&2
    exit 1
fi
if [ "$lint_status" -ne 0 ]; then
    echo "error: ruff check failed (exit code $lint_status). See the list above." >&2
    exit 1
fi
exit "$test_status"
