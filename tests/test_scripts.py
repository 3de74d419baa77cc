"""Tests for the start, test and CI shell scripts, run against stub tools."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ["scripts/start.sh", "scripts/test.sh", "scripts/venv.sh", ".ci/run"]

STUB_PYTHON = """#!/usr/bin/env bash
if [ "$1" = "-m" ] && [ "$2" = "pytest" ]; then exit "$STUB_PYTEST_STATUS"; fi
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo "pip called" >&2; exit 99; fi
exec "$REAL_PYTHON" "$@"
"""
STUB_RUFF = """#!/usr/bin/env bash
exit "$STUB_RUFF_STATUS"
"""


@pytest.fixture()
def stub_repo(tmp_path: Path) -> Path:
    # A copy of the scripts over a fake .venv whose stamp is current, so the
    # script neither creates a venv nor installs anything.
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("/usr/bin/chromium is missing, so test.sh would install it")
    (tmp_path / "scripts").mkdir()
    for name in ("test.sh", "venv.sh"):
        shutil.copy(REPO_ROOT / "scripts" / name, tmp_path / "scripts" / name)
    for name in ("requirements.txt", "requirements-dev.txt"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)

    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("python", STUB_PYTHON), ("ruff", STUB_RUFF)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)

    requirements = b"".join(
        (tmp_path / name).read_bytes()
        for name in ("requirements.txt", "requirements-dev.txt")
    )
    stamp = tmp_path / ".venv" / ".requirements-dev.txt.sha256"
    stamp.write_text(hashlib.sha256(requirements).hexdigest() + "\n")
    return tmp_path


def run_test_script(repo: Path, pytest_status: int, ruff_status: int):
    env = {
        **os.environ,
        "REAL_PYTHON": sys.executable,
        "STUB_PYTEST_STATUS": str(pytest_status),
        "STUB_RUFF_STATUS": str(ruff_status),
    }
    return subprocess.run(
        ["bash", str(repo / "scripts" / "test.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_syntax(script):
    """Each script parses as bash."""
    completed = subprocess.run(["bash", "-n", str(REPO_ROOT / script)], check=False)
    assert completed.returncode == 0


@pytest.mark.parametrize("script", ["scripts/start.sh", "scripts/test.sh", ".ci/run"])
def test_script_executable(script):
    """Entry-point scripts carry the executable bit."""
    assert os.access(REPO_ROOT / script, os.X_OK)


@pytest.mark.parametrize(
    ("pytest_status", "ruff_status", "expected"),
    [(0, 0, 0), (1, 0, 1), (2, 0, 2), (5, 0, 1), (0, 1, 1), (1, 1, 1)],
)
def test_test_script_exit_status(stub_repo, pytest_status, ruff_status, expected):
    """test.sh fails when ruff or pytest fails, and when pytest collects nothing."""
    completed = run_test_script(stub_repo, pytest_status, ruff_status)
    assert completed.returncode == expected, completed.stderr


def test_no_tests_collected_message(stub_repo):
    """Pytest's exit code 5 is reported as no tests collected, not as success."""
    completed = run_test_script(stub_repo, pytest_status=5, ruff_status=0)
    assert "collected no tests" in completed.stderr


def test_current_stamp_skips_install(stub_repo):
    """With an up-to-date stamp the script does not call pip."""
    completed = run_test_script(stub_repo, pytest_status=0, ruff_status=0)
    assert "pip called" not in completed.stderr


def test_changed_requirements_reinstall(stub_repo):
    """A changed requirements file makes the script call pip again."""
    with (stub_repo / "requirements-dev.txt").open("a") as handle:
        handle.write("# changed\n")
    completed = run_test_script(stub_repo, pytest_status=0, ruff_status=0)
    assert "pip called" in completed.stderr
