# Shared by start.sh and test.sh: create .venv and keep it in step with a
# requirements file. Source it from the repository root, then call
# ensure_venv REQUIREMENTS_FILE.

MIN_PYTHON="3.11"

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3 python; do
        if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
                2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "error: Python $MIN_PYTHON or newer not found (tried \$PYTHON, python3," \
        "python). Install it, or set PYTHON=/path/to/python3.11 and run again." >&2
    return 1
}

# The stamp stores the sha256 of the requirements files, so packages are
# installed again only when a requirements file changed.
requirements_hash() {
    cat requirements.txt "$1" | .venv/bin/python -c \
        'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'
}

ensure_venv() {
    local requirements="$1" python stamp wanted
    if [ ! -x .venv/bin/python ]; then
        python="$(find_python)" || return 1
        echo "Creating .venv with $("$python" --version 2>&1)"
        if ! "$python" -m venv .venv; then
            echo "error: '$python -m venv' failed. On Debian or Ubuntu install" \
                "the venv module (apt-get install python3-venv) and run again." >&2
            return 1
        fi
    fi

    stamp=".venv/.$(basename "$requirements").sha256"
    wanted="$(requirements_hash "$requirements")"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
        return 0
    fi
    echo "Installing $requirements into .venv (quiet; this can take a few minutes)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
        -r "$requirements"
    echo "$wanted" >"$stamp"
}
